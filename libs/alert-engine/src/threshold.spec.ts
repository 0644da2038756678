import type { AlertChange } from './directory';
import { MIN, T0, TestDirectory, reading, rule, testEngine } from './spec-support';

const dir = new TestDirectory();
const kinds = (changes: readonly AlertChange[]) =>
  changes.map((c) => `${c.transition.kind}:${c.alert.state}`);

describe('threshold rules', () => {
  it('a value oscillating inside the hysteresis band opens one alert, not many', () => {
    const engine = testEngine(dir);
    engine.setRules(
      [
        rule({
          kind: 'threshold',
          metric: 'pm25',
          condition: { op: 'above', value: 55 },
          clear: { op: 'below', value: 52 },
        }),
      ],
      T0,
    );
    const values = [50, 56, 53, 56, 54, 57, 53, 56, 51];
    const changes = values.flatMap((v, i) =>
      engine.evaluate(reading(dir, 'aq-1', T0 + i * MIN, { pm25: v })),
    );
    expect(kinds(changes)).toEqual(['fired:firing', 'resolved:resolved']);
    expect(changes[0].transition).toMatchObject({
      from: null,
      to: 'firing',
      seq: 1,
      value: 56,
      at: T0 + MIN,
    });
    expect(changes[1].transition).toMatchObject({
      seq: 2,
      value: 51,
      resolution: 'cleared',
      at: T0 + 8 * MIN,
    });
    expect(changes[1].alert.id).toBe(changes[0].alert.id);
  });

  it('ignores and counts readings older than the newest evaluated (a scenario behind a live feed); repeats are not counted', () => {
    const engine = testEngine(dir);
    engine.setRules([rule({ kind: 'threshold', metric: 'pm25', condition: { op: 'above', value: 55 } })], T0);
    // The live feed is at T0 + 60 min; a scenario replays the hour before it, loud.
    expect(engine.evaluate(reading(dir, 'aq-1', T0 + 60 * MIN, { pm25: 50 }))).toEqual([]);
    const older = [0, 1, 2].flatMap((i) => engine.evaluate(reading(dir, 'aq-1', T0 + i * MIN, { pm25: 70 })));
    expect(older).toEqual([]);
    expect(engine.outOfOrder).toBe(3);
    // A QoS 1 redelivery of the newest reading is a repeat, not out of order.
    engine.evaluate(reading(dir, 'aq-1', T0 + 60 * MIN, { pm25: 50 }));
    expect(engine.outOfOrder).toBe(3);
    // Warm-up replays after a restart are not counted either.
    engine.evaluate(reading(dir, 'aq-1', T0 + 3 * MIN, { pm25: 70 }), { warmUp: true });
    expect(engine.outOfOrder).toBe(3);
    // Metrics no rule reads are not tracked, so not counted.
    engine.evaluate(reading(dir, 'aq-1', T0 + 4 * MIN, { pm10: 70 }));
    expect(engine.outOfOrder).toBe(3);
  });

  it('without a clear condition, resolves as soon as the condition stops', () => {
    const engine = testEngine(dir);
    engine.setRules([rule({ kind: 'threshold', metric: 'pm25', condition: { op: 'above', value: 55 } })], T0);
    const changes = [56, 55, 60].flatMap((v, i) =>
      engine.evaluate(reading(dir, 'aq-1', T0 + i * MIN, { pm25: v })),
    );
    expect(kinds(changes)).toEqual(['fired:firing', 'resolved:resolved', 'fired:firing']);
    expect(changes[2].alert.id).not.toBe(changes[0].alert.id);
  });

  it('above is strict unless inclusive; outside keeps its bounds inside; equals is strict', () => {
    const engine = testEngine(dir);
    engine.setRules(
      [
        rule({
          id: 'aqi-poor',
          kind: 'threshold',
          metric: 'aqi',
          condition: { op: 'above', value: 101, inclusive: true },
        }),
        rule({ id: 'pm-strict', kind: 'threshold', metric: 'pm25', condition: { op: 'above', value: 50 } }),
      ],
      T0,
    );
    expect(
      engine.evaluate(reading(dir, 'aq-1', T0, { aqi: 101, pm25: 50 })).map((c) => c.alert.ruleId),
    ).toEqual(['aqi-poor']);
    const water = testEngine(dir);
    water.setRules(
      [
        rule({ id: 'ph', kind: 'threshold', metric: 'ph', condition: { op: 'outside', min: 6.5, max: 8.5 } }),
        rule({ id: 'door', kind: 'threshold', metric: 'doorOpen', condition: { op: 'equals', value: true } }),
      ],
      T0,
    );
    expect(water.evaluate(reading(dir, 'aq-2', T0, { ph: 6.5, doorOpen: 1 }))).toHaveLength(0);
    expect(
      water.evaluate(reading(dir, 'aq-2', T0 + MIN, { ph: 8.6, doorOpen: true })).map((c) => c.alert.ruleId),
    ).toEqual(['ph', 'door']);
  });

  it('forSeconds: pending at the first reading, firing at the first ≥ forSeconds later; not-fired when it stops', () => {
    const engine = testEngine(dir);
    engine.setRules(
      [
        rule({
          kind: 'threshold',
          metric: 'averageVehicleSpeed',
          condition: { op: 'below', value: 15 },
          forSeconds: 600,
        }),
      ],
      T0,
    );
    const at = (m: number, v: number) =>
      engine.evaluate(reading(dir, 'tc-1', T0 + m * MIN, { averageVehicleSpeed: v }));
    expect(kinds(at(0, 10))).toEqual(['opened:pending']);
    expect(at(5, 9)).toHaveLength(0);
    expect(at(9.99, 9)).toHaveLength(0);
    const fired = at(10, 8);
    expect(kinds(fired)).toEqual(['fired:firing']);
    expect(fired[0].alert).toMatchObject({ pendingAt: T0, firingAt: T0 + 10 * MIN, value: 8 });
    expect(fired[0].transition).toMatchObject({ from: 'pending', seq: 2 });
    // the other side: a pending alert whose condition stops before forSeconds
    expect(kinds(at(20, 30))).toEqual(['resolved:resolved']);
    expect(kinds(at(21, 10))).toEqual(['opened:pending']);
    const stopped = at(25, 20);
    expect(stopped[0].transition).toMatchObject({ resolution: 'not-fired', from: 'pending', seq: 2 });
  });

  it('keepFiringForSeconds: resolves only once clear has held that long (readings or tick)', () => {
    const engine = testEngine(dir);
    engine.setRules(
      [
        rule({
          kind: 'threshold',
          metric: 'pm25',
          condition: { op: 'above', value: 55 },
          keepFiringForSeconds: 600,
        }),
      ],
      T0,
    );
    const at = (m: number, v: number) => engine.evaluate(reading(dir, 'aq-1', T0 + m * MIN, { pm25: v }));
    expect(kinds(at(0, 60))).toEqual(['fired:firing']);
    expect(at(1, 40)).toHaveLength(0); // clear since minute 1
    expect(at(5, 60)).toHaveLength(0); // holds again: the clock restarts
    expect(at(6, 40)).toHaveLength(0); // clear since minute 6
    expect(at(15, 40)).toHaveLength(0);
    expect(kinds(at(16, 40))).toEqual(['resolved:resolved']);
    // the same through tick: resolved at the moment it became due, not at the tick's time
    expect(kinds(at(30, 60))).toEqual(['fired:firing']);
    expect(at(31, 40)).toHaveLength(0);
    expect(engine.tick(T0 + 40 * MIN)).toHaveLength(0);
    const ticked = engine.tick(T0 + 45 * MIN);
    expect(kinds(ticked)).toEqual(['resolved:resolved']);
    expect(ticked[0].transition.at).toBe(T0 + 41 * MIN);
  });

  it('escalations raise the severity of an open alert and never lower it', () => {
    const engine = testEngine(dir);
    engine.setRules(
      [
        rule({
          kind: 'threshold',
          metric: 'pm25',
          severity: 'info',
          condition: { op: 'above', value: 50 },
          escalations: [
            { severity: 'warning', condition: { op: 'above', value: 100 } },
            { severity: 'critical', condition: { op: 'above', value: 150 } },
          ],
        }),
      ],
      T0,
    );
    const at = (m: number, v: number) => engine.evaluate(reading(dir, 'aq-1', T0 + m * MIN, { pm25: v }));
    expect(at(0, 60)[0].alert.severity).toBe('info');
    const esc = at(1, 120);
    expect(esc.map((c) => [c.transition.kind, c.transition.from, c.transition.to, c.alert.severity])).toEqual(
      [['escalated', 'firing', 'firing', 'warning']],
    );
    expect(at(2, 60)).toHaveLength(0); // never lowers
    expect(at(3, 200)[0].alert.severity).toBe('critical');
    expect(at(4, 120)).toHaveLength(0);
    // opened straight at the severity that holds
    const other = testEngine(dir);
    other.setRules(
      [
        rule({
          kind: 'threshold',
          metric: 'pm25',
          severity: 'info',
          condition: { op: 'above', value: 50 },
          escalations: [{ severity: 'critical', condition: { op: 'above', value: 150 } }],
        }),
      ],
      T0,
    );
    expect(other.evaluate(reading(dir, 'aq-1', T0, { pm25: 170 }))[0].alert.severity).toBe('critical');
  });

  it('rateOfChange compares with the subject’s previous value, per minute', () => {
    const engine2 = testEngine(dir);
    engine2.setRules(
      [
        rule({
          kind: 'threshold',
          metric: 'laeq',
          condition: { op: 'rateOfChange', perMinute: 10, direction: 'rise' },
        }),
      ],
      T0,
    );
    const at2 = (s: number, v: number, id = 'noise-1') =>
      engine2.evaluate(reading(dir, id, T0 + s * 1000, { laeq: v }));
    expect(at2(0, 50)).toHaveLength(0);
    expect(at2(60, 55)).toHaveLength(0);
    expect(kinds(at2(90, 61))).toEqual(['fired:firing']);
    expect(at2(0, 70, 'noise-2')).toHaveLength(0); // each subject has its own previous value
    expect(at2(90, 61, 'noise-2')).toHaveLength(0);
    expect(kinds(at2(150, 60))).toEqual(['resolved:resolved']); // −1/min
    expect(at2(180, 40)).toHaveLength(0); // a fall does not count for `rise`
    expect(at2(180, 80)).toHaveLength(0); // same ts as the previous: no rate
  });
});
