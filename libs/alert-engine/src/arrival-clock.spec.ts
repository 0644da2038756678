import type { AlertChange } from './directory';
import { HOUR, MIN, T0, TestDirectory, reading, rule, testEngine } from './spec-support';

/*
 * Readings that arrive hours after their timestamps (a store-and-forward backlog, a simulator
 * scenario placed in the past): the host passes `arrivedAt`, and tick(now) — driven by the host's
 * wall clock — judges each device's timers by when its readings arrived / on its own clock.
 */
const dir = new TestDirectory();
const kinds = (changes: readonly AlertChange[]) =>
  changes.map((c) => `${c.alert.subjectId}:${c.transition.kind}:${c.alert.state}`);

describe('timers of a device whose readings arrive late (arrivedAt)', () => {
  it('no data: a device replaying a backlog stamped hours ago is not silent; silence counts from arrival', () => {
    const engine = testEngine(dir);
    const now = T0 + 5 * HOUR;
    engine.setRules([rule({ kind: 'noData', scope: { deviceIds: ['aq-1'] } })], now);
    // a backlog: one reading every 5 min from T0, all arriving around `now`
    for (let k = 0; k < 12; k++) {
      engine.evaluate(reading(dir, 'aq-1', T0 + k * 5 * MIN, { pm25: 10 }), { arrivedAt: now + k * 100 });
    }
    // the device's newest ts is ~4 h old, yet it reported a moment ago: nothing fires
    expect(engine.tick(now + 2000)).toHaveLength(0);
    // its silence timeout (900 s) after the last ARRIVAL, it is silent
    const lastArrival = now + 11 * 100;
    expect(engine.tick(lastArrival + 899_000)).toHaveLength(0);
    const fired = engine.tick(lastArrival + 900_000);
    expect(kinds(fired)).toEqual(['aq-1:fired:firing']);
    expect(fired[0].transition.at).toBe(lastArrival + 900_000);
  });

  it('without arrivedAt the silence is still measured by reading ts (dry runs, specs)', () => {
    const engine = testEngine(dir);
    engine.setRules([rule({ kind: 'noData', scope: { deviceIds: ['aq-1'] } })], T0);
    engine.evaluate(reading(dir, 'aq-1', T0 + MIN, { pm25: 10 }));
    expect(kinds(engine.tick(T0 + MIN + 900_000))).toEqual(['aq-1:fired:firing']);
  });

  it('keep firing for: a backlog alert is not expired by the wall clock while the device catches up', () => {
    const engine = testEngine(dir);
    const now = T0 + 6 * HOUR;
    engine.setRules(
      [
        rule({
          kind: 'threshold',
          metric: 'pm25',
          condition: { op: 'above', value: 50 },
          clear: { op: 'below', value: 40 },
          keepFiringForSeconds: 1800,
          scope: { deviceIds: ['aq-1'] },
        }),
      ],
      now,
    );
    const at = (k: number) => ({ arrivedAt: now + k * 50 });
    const ev = (k: number, pm25: number) =>
      engine.evaluate(reading(dir, 'aq-1', T0 + k * 5 * MIN, { pm25 }), at(k));
    expect(kinds(ev(0, 60))).toEqual(['aq-1:fired:firing']);
    expect(ev(1, 30)).toHaveLength(0); // clear holds from T0 + 5 min
    // a wall-clock tick while the backlog is still arriving: the device's own time is T0 + 5 min
    expect(engine.tick(now + 60)).toHaveLength(0);
    expect(ev(2, 35)).toHaveLength(0);
    expect(ev(3, 55)).toHaveLength(0); // back above clear before keep-firing ran out: same alert
    expect(engine.tick(now + 160)).toHaveLength(0);
    expect(ev(4, 20)).toHaveLength(0); // clear again from T0 + 20 min
    // 30 min of the device's time later (no further readings), the tick resolves it, dated then
    const resolved = engine.tick(now + 200 + 1800_000);
    expect(kinds(resolved)).toEqual(['aq-1:resolved:resolved']);
    expect(resolved[0].transition.at).toBe(T0 + 20 * MIN + 1800_000);
  });

  it('the lag survives a snapshot and restore', () => {
    const engine = testEngine(dir);
    const now = T0 + 5 * HOUR;
    engine.setRules([rule({ kind: 'noData', scope: { deviceIds: ['aq-1'] } })], now);
    engine.evaluate(reading(dir, 'aq-1', T0, { pm25: 10 }), { arrivedAt: now });
    const copy = testEngine(dir);
    copy.restore(JSON.parse(JSON.stringify(engine.snapshot())));
    copy.setRules([rule({ kind: 'noData', scope: { deviceIds: ['aq-1'] } })], now);
    expect(copy.tick(now + 899_000)).toHaveLength(0);
    expect(kinds(copy.tick(now + 900_000))).toEqual(['aq-1:fired:firing']);
  });
});

describe('resume(now) after a restart', () => {
  it('the downtime does not count as silence: no data fires a silence timeout after the restart', () => {
    const engine = testEngine(dir);
    const noData = rule({ kind: 'noData', scope: { deviceIds: ['aq-1'] } });
    engine.setRules([noData], T0);
    engine.evaluate(reading(dir, 'aq-1', T0 + MIN, { pm25: 10 }), { arrivedAt: T0 + MIN });
    const restarted = testEngine(dir);
    restarted.restore(JSON.parse(JSON.stringify(engine.snapshot())));
    restarted.setRules([noData], T0 + 2 * HOUR);
    restarted.resume(T0 + 2 * HOUR); // the platform was down for ~2 h
    expect(restarted.tick(T0 + 2 * HOUR + 1000)).toHaveLength(0);
    expect(kinds(restarted.tick(T0 + 2 * HOUR + 900_000))).toEqual(['aq-1:fired:firing']);
    // without resume the first tick would have fired at once
    const careless = testEngine(dir);
    careless.restore(JSON.parse(JSON.stringify(engine.snapshot())));
    careless.setRules([noData], T0 + 2 * HOUR);
    expect(kinds(careless.tick(T0 + 2 * HOUR + 1000))).toEqual(['aq-1:fired:firing']);
  });
});

describe('repeated and stale readings (QoS 1 redelivery after a broker restart)', () => {
  const spike = rule({
    kind: 'threshold',
    metric: 'pm25',
    condition: { op: 'above', value: 100 },
    clear: { op: 'below', value: 80 },
    scope: { deviceIds: ['aq-1'] },
  });
  const mean = rule({
    id: 'r-mean',
    kind: 'threshold',
    metric: 'pm25',
    window: { seconds: 3600, aggregate: 'mean', minCoverage: 0 },
    condition: { op: 'above', value: 100 },
    clear: { op: 'below', value: 65 },
    scope: { deviceIds: ['aq-1'] },
  });

  it('a reading of a metric at or before its newest evaluated ts changes nothing, windows included', () => {
    const engine = testEngine(dir);
    engine.setRules([spike, mean], T0);
    const at = (k: number, pm25: number) => reading(dir, 'aq-1', T0 + k * MIN, { pm25 });
    expect(kinds(engine.evaluate(at(0, 120)))).toEqual(['aq-1:fired:firing', 'aq-1:fired:firing']);
    // the spike clears; the mean (90) stays firing until below 65
    expect(kinds(engine.evaluate(at(1, 60)))).toEqual(['aq-1:resolved:resolved']);
    // the device resends both (it never got their PUBACKs): the spike alert is not opened again
    expect(engine.evaluate(at(0, 120))).toHaveLength(0);
    expect(engine.evaluate(at(1, 60))).toHaveLength(0);
    expect(engine.evaluate(at(1, 60))).toHaveLength(0);
    // the same after a snapshot and restore
    const copy = testEngine(dir);
    copy.restore(JSON.parse(JSON.stringify(engine.snapshot())));
    copy.loadOpenAlerts(engine.openAlerts());
    copy.setRules([spike, mean], T0);
    expect(copy.evaluate(at(0, 120))).toHaveLength(0);
    // the window counted each reading once: (120 + 60 + 10) / 3 = 63.3 < 65 clears the mean
    // (counting the repeats, (120 + 60 + 120 + 60 + 60 + 120 + 10) / 7 = 78.6 would not)
    expect(kinds(copy.evaluate(at(2, 10)))).toEqual(['aq-1:resolved:resolved']);
    expect(kinds(copy.evaluate(at(3, 130)))).toEqual(['aq-1:fired:firing']);
  });
});
