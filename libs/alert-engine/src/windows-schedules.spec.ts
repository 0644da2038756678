import type { AlertChange } from './directory';
import { RollingWindow, windowBuckets } from './rolling-window';
import { MIN, T0, TestDirectory, reading, rule, testEngine } from './spec-support';

const dir = new TestDirectory();
const kinds = (changes: readonly AlertChange[]) =>
  changes.map((c) => `${c.alert.ruleId}:${c.transition.kind}`);

describe('RollingWindow', () => {
  it('aggregates over the buckets of the window and reports coverage', () => {
    const w = new RollingWindow(5 * MIN, 12);
    for (let k = 0; k < 12; k++) w.add(T0 + k * 5 * MIN + 1000, k);
    w.evaluateAt(T0 + 55 * MIN);
    expect([w.mean, w.min, w.max, w.coverage, w.values]).toEqual([5.5, 0, 11, 1, 12]);
    w.evaluateAt(T0 + 60 * MIN); // the bucket of k = 0 left the window
    expect([w.mean, w.min, w.coverage]).toEqual([6, 1, 11 / 12]);
    w.add(T0 + 60 * MIN + 1000, 12);
    w.add(T0 + 2 * MIN, 100); // older than the window of the newest value: dropped
    w.add(T0 + 56 * MIN, 11); // late but inside: added to its bucket
    w.evaluateAt(T0 + 60 * MIN);
    expect([w.max, w.min, w.values]).toEqual([12, 1, 13]);
    const copy = RollingWindow.fromJSON(JSON.parse(JSON.stringify(w.toJSON())));
    copy.evaluateAt(T0 + 60 * MIN);
    expect([copy.mean, copy.min, copy.max, copy.coverage]).toEqual([w.mean, w.min, w.max, w.coverage]);
    expect(() => RollingWindow.fromJSON([1, 2, [[1, 2]]])).toThrow(/malformed/);
  });

  it('sizes buckets to the reporting interval, at most 60 per window', () => {
    expect(windowBuckets(86_400, 300)).toEqual({ buckets: 60, bucketMs: 24 * MIN });
    expect(windowBuckets(3600, 300)).toEqual({ buckets: 12, bucketMs: 5 * MIN });
    expect(windowBuckets(3600, 60)).toEqual({ buckets: 60, bucketMs: MIN });
    expect(windowBuckets(600, 1800)).toEqual({ buckets: 1, bucketMs: 10 * MIN });
  });
});

describe('window rules', () => {
  it('evaluate the rolling mean once minCoverage of the window holds data', () => {
    const engine = testEngine(dir);
    engine.setRules(
      [
        rule({
          kind: 'threshold',
          metric: 'pm25',
          window: { seconds: 3600, aggregate: 'mean' },
          condition: { op: 'above', value: 50 },
        }),
      ],
      T0,
    );
    const changes: AlertChange[] = [];
    for (let k = 0; k < 9; k++)
      changes.push(...engine.evaluate(reading(dir, 'aq-1', T0 + k * 5 * MIN, { pm25: 60 })));
    // 12 buckets of 5 min; the 9th reading brings coverage to 9/12 = 0.75
    expect(changes).toHaveLength(1);
    expect(changes[0].transition.at).toBe(T0 + 40 * MIN);
    expect(changes[0].alert.value).toBe(60);
  });

  it('max and min aggregates', () => {
    const engine = testEngine(dir);
    engine.setRules(
      [
        rule({
          id: 'max',
          kind: 'threshold',
          metric: 'laeq',
          window: { seconds: 600, aggregate: 'max', minCoverage: 0 },
          condition: { op: 'above', value: 80 },
        }),
        rule({
          id: 'min',
          kind: 'threshold',
          metric: 'laeq',
          window: { seconds: 600, aggregate: 'min', minCoverage: 0 },
          condition: { op: 'below', value: 40 },
        }),
      ],
      T0,
    );
    expect(engine.evaluate(reading(dir, 'noise-1', T0, { laeq: 85 })).map((c) => c.alert.ruleId)).toEqual([
      'max',
    ]);
    expect(
      engine.evaluate(reading(dir, 'noise-1', T0 + MIN, { laeq: 35 })).map((c) => c.alert.ruleId),
    ).toEqual(['min']);
    // the max of the window is still 85 with a quiet reading: nothing resolves
    expect(engine.evaluate(reading(dir, 'noise-1', T0 + 2 * MIN, { laeq: 50 }))).toHaveLength(0);
    // 85 leaves the 10-min window
    expect(kinds(engine.evaluate(reading(dir, 'noise-1', T0 + 10 * MIN, { laeq: 50 })))).toEqual([
      'max:resolved',
    ]);
  });

  it('PM2.5 24-h 50 → 45 on 2026-01-01T00:00+07:00: the same data fires under the new limit only', () => {
    const switchAt = '2026-01-01T00:00:00+07:00';
    const common = {
      kind: 'threshold',
      metric: 'pm25',
      window: { seconds: 86_400, aggregate: 'mean' },
      source: { standard: 'QCVN 05:2023/BTNMT' },
    } as const;
    const old = rule({
      ...common,
      id: 'pm25-24h-2023',
      condition: { op: 'above', value: 50 },
      validUntil: switchAt,
    });
    const next = rule({
      ...common,
      id: 'pm25-24h-2026',
      condition: { op: 'above', value: 45 },
      validFrom: switchAt,
    });
    const engine = testEngine(dir);
    engine.setRules([old, next], Date.parse('2025-12-30T00:00:00+07:00'));
    const start = Date.parse('2025-12-30T00:00:00+07:00');
    const changes: AlertChange[] = [];
    for (let t = start; t < Date.parse('2026-01-01T06:00:00+07:00'); t += 5 * MIN) {
      changes.push(...engine.evaluate(reading(dir, 'aq-1', t, { pm25: 48 })));
    }
    expect(kinds(changes)).toEqual(['pm25-24h-2026:fired']);
    expect(changes[0].transition.at).toBe(Date.parse(switchAt));
    expect(changes[0].alert.limit).toBe(45);
  });

  it('an open alert of a limit that stops applying resolves out-of-schedule at the switch', () => {
    const old = rule({
      id: 'old',
      kind: 'threshold',
      metric: 'pm25',
      condition: { op: 'above', value: 50 },
      validUntil: '2026-01-01T00:00:00+07:00',
    });
    const engine = testEngine(dir);
    engine.setRules([old], T0);
    const before = Date.parse('2025-12-31T23:55:00+07:00');
    expect(kinds(engine.evaluate(reading(dir, 'aq-1', before, { pm25: 60 })))).toEqual(['old:fired']);
    const after = engine.evaluate(reading(dir, 'aq-1', before + 5 * MIN, { pm25: 60 }));
    expect(after[0].transition).toMatchObject({ kind: 'resolved', resolution: 'out-of-schedule' });
  });
});

describe('schedules (Vietnam local hours, UTC+7)', () => {
  // 21:00 local is 14:00 UTC
  const at = (hh: number, mm: number) => Date.UTC(2026, 5, 1, hh - 7, mm);
  const day = rule({
    id: 'noise-day',
    kind: 'threshold',
    metric: 'laeq',
    condition: { op: 'above', value: 70 },
    schedule: { fromHour: 6, toHour: 21 },
  });
  const night = rule({
    id: 'noise-night',
    kind: 'threshold',
    metric: 'laeq',
    condition: { op: 'above', value: 55 },
    schedule: { fromHour: 21, toHour: 6 },
  });

  it('the day limit applies until 21:00, the night limit from 21:00 (wrapping midnight)', () => {
    const engine = testEngine(dir);
    engine.setRules([day, night], at(12, 0));
    const r = (hh: number, mm: number, v: number) =>
      kinds(engine.evaluate(reading(dir, 'noise-1', at(hh, mm), { laeq: v })));
    expect(r(20, 58, 60)).toEqual([]);
    expect(r(20, 59, 75)).toEqual(['noise-day:fired']);
    expect(r(21, 0, 60)).toEqual(['noise-day:resolved', 'noise-night:fired']);
    expect(r(23, 59, 60)).toEqual([]);
    expect(r(24 + 5, 59, 60)).toEqual([]); // 05:59 the next day: still night
    expect(r(24 + 6, 0, 60)).toEqual(['noise-night:resolved']);
  });

  it('tick resolves an open alert once its hours end, with no reading', () => {
    const engine = testEngine(dir);
    engine.setRules([day], at(12, 0));
    engine.evaluate(reading(dir, 'noise-1', at(20, 30), { laeq: 75 }));
    expect(engine.tick(at(20, 59))).toHaveLength(0);
    const closed = engine.tick(at(21, 0));
    expect(closed.map((c) => c.transition.resolution)).toEqual(['out-of-schedule']);
  });
});
