import type { AlertChange } from './directory';
import { MIN, T0, TestDirectory, reading, rule, testEngine } from './spec-support';

const dir = new TestDirectory();
const kinds = (changes: readonly AlertChange[]) =>
  changes.map((c) => `${c.alert.subjectId}:${c.transition.kind}:${c.alert.state}`);

describe('areaAggregate rules', () => {
  const areaRule = rule({
    id: 'pm25-area-1h',
    kind: 'areaAggregate',
    metric: 'pm25',
    window: { seconds: 3600, aggregate: 'mean', minCoverage: 0 },
    condition: { op: 'above', value: 55 },
    minDevices: 2,
    scope: { areaIds: ['hn-hk'] },
    message: {
      vi: 'PM2.5 trung bình {window} tại {area}: {value} {unit}',
      en: 'Mean PM2.5 over {window} in {area}: {value} {unit}',
    },
  });

  it('aggregates the mean of each covered device’s mean per area, once minDevices have data', () => {
    const engine = testEngine(dir);
    engine.setRules([areaRule], T0);
    // aq-1 alone: one device with data < minDevices 2
    for (let k = 0; k < 3; k++)
      expect(engine.evaluate(reading(dir, 'aq-1', T0 + k * MIN, { pm25: 80 }))).toHaveLength(0);
    // aq-3 is in Ba Đình: not in the area
    expect(engine.evaluate(reading(dir, 'aq-3', T0 + 3 * MIN, { pm25: 500 }))).toHaveLength(0);
    // aq-2 (Hàng Bạc, inside Hoàn Kiếm) at 20: pooled mean (80·3+20)/4 = 65, mean of means 50 → no alert
    expect(engine.evaluate(reading(dir, 'aq-2', T0 + 4 * MIN, { pm25: 20 }))).toHaveLength(0);
    const fired = engine.evaluate(reading(dir, 'aq-2', T0 + 5 * MIN, { pm25: 60 })); // aq-2 mean 40 → (80+40)/2 = 60
    expect(kinds(fired)).toEqual(['hn-hk:fired:firing']);
    expect(fired[0].alert).toMatchObject({
      subjectKind: 'area',
      deviceId: null,
      deviceType: null,
      areaId: 'hn-hk',
      areaPath: ['hn', 'hn-hk'],
      value: 60,
      message: {
        vi: 'PM2.5 trung bình 1 giờ tại Hoàn Kiếm: 60 µg/m³',
        en: 'Mean PM2.5 over 1 h in Hoàn Kiếm: 60 µg/m³',
      },
    });
    // one alert per area, whichever device reports
    expect(engine.evaluate(reading(dir, 'aq-1', T0 + 6 * MIN, { pm25: 90 }))).toHaveLength(0);
  });
});

describe('event rules', () => {
  it('fire on a matching occurrence and resolve keepFiringForSeconds (default 900) after the last one', () => {
    const engine = testEngine(dir);
    engine.setRules(
      [
        rule({
          kind: 'event',
          event: 'accident',
          metric: 'confidence',
          condition: { op: 'above', value: 0.7, inclusive: true },
          severity: 'critical',
        }),
      ],
      T0,
    );
    const ev = (ts: number, confidence: number) =>
      engine.evaluate(reading(dir, 'cam-1', ts, { confidence }, { kind: 'event', event: 'accident' }));
    expect(ev(T0, 0.5)).toHaveLength(0);
    expect(
      engine.evaluate(reading(dir, 'cam-1', T0, { confidence: 0.9 }, { kind: 'event', event: 'wrongWay' })),
    ).toHaveLength(0);
    const fired = ev(T0 + MIN, 0.9);
    expect(kinds(fired)).toEqual(['cam-1:fired:firing']);
    expect(fired[0].alert).toMatchObject({
      event: 'accident',
      metric: 'confidence',
      value: 0.9,
      severity: 'critical',
    });
    expect(ev(T0 + 5 * MIN, 0.8)).toHaveLength(0);
    expect(engine.tick(T0 + 5 * MIN + 899_000)).toHaveLength(0);
    const resolved = engine.tick(T0 + 30 * MIN);
    expect(kinds(resolved)).toEqual(['cam-1:resolved:resolved']);
    expect(resolved[0].transition).toMatchObject({ at: T0 + 20 * MIN, resolution: 'cleared' });
  });

  it('forSeconds counts repeated occurrences; a later occurrence past the expiry opens a new alert', () => {
    const engine = testEngine(dir);
    engine.setRules(
      [rule({ kind: 'event', event: 'wrongWay', forSeconds: 60, keepFiringForSeconds: 300 })],
      T0,
    );
    const ev = (ts: number) =>
      engine.evaluate(reading(dir, 'cam-1', ts, { confidence: 0.9 }, { kind: 'event', event: 'wrongWay' }));
    expect(kinds(ev(T0))).toEqual(['cam-1:opened:pending']);
    expect(ev(T0 + 30_000)).toHaveLength(0);
    expect(kinds(ev(T0 + 70_000))).toEqual(['cam-1:fired:firing']);
    const later = ev(T0 + 70_000 + 10 * MIN);
    expect(kinds(later)).toEqual(['cam-1:resolved:resolved', 'cam-1:opened:pending']);
    expect(later[0].transition.at).toBe(T0 + 70_000 + 5 * MIN);
    // a lone pending occurrence expires as not-fired
    const expired = engine.tick(T0 + 70_000 + 16 * MIN);
    expect(expired[0].transition).toMatchObject({ resolution: 'not-fired', from: 'pending' });
  });
});

describe('status rules', () => {
  const offline = rule({
    kind: 'status',
    status: 'offline',
    scope: { deviceTypes: ['camera'] },
    forSeconds: 300,
  });

  it('offline opens pending, fires after forSeconds (tick or a later report), online resolves', () => {
    const engine = testEngine(dir);
    engine.setRules([offline], T0);
    expect(kinds(engine.deviceStatus('cam-1', false, T0))).toEqual(['cam-1:opened:pending']);
    expect(engine.deviceStatus('aq-1', false, T0)).toHaveLength(0); // not covered
    expect(engine.tick(T0 + 299_000)).toHaveLength(0);
    const fired = engine.tick(T0 + 400_000);
    expect(kinds(fired)).toEqual(['cam-1:fired:firing']);
    expect(fired[0].transition.at).toBe(T0 + 300_000);
    const back = engine.deviceStatus('cam-1', true, T0 + 10 * MIN);
    expect(back[0].transition).toMatchObject({ kind: 'resolved', resolution: 'cleared', seq: 3 });
    // a short outage never fires
    engine.deviceStatus('cam-1', false, T0 + 20 * MIN);
    expect(engine.deviceStatus('cam-1', true, T0 + 21 * MIN)[0].transition.resolution).toBe('not-fired');
  });
});

describe('noData rules', () => {
  it('fire for covered devices silent longer than their silence timeout; the next reading resolves', () => {
    const engine = testEngine(dir);
    engine.setRules(
      [
        rule({
          kind: 'noData',
          scope: { deviceTypes: ['air-quality-station'] },
          message: { vi: '{device} im lặng {silentFor}', en: '{device} silent for {silentFor}' },
        }),
      ],
      T0,
    );
    engine.evaluate(reading(dir, 'aq-1', T0 + MIN, { pm25: 10 }));
    expect(engine.tick(T0 + 899_000)).toHaveLength(0);
    // never-seen devices count from the rule's loading (T0); timeout 900 s
    const first = engine.tick(T0 + 900_000);
    expect(kinds(first)).toEqual(['aq-2:fired:firing', 'aq-3:fired:firing']);
    expect(first[0].alert.message).toEqual({
      vi: 'Trạm aq-2 im lặng 15 phút',
      en: 'Trạm aq-2 silent for 15 min',
    });
    const second = engine.tick(T0 + 1000_000);
    expect(kinds(second)).toEqual(['aq-1:fired:firing']);
    expect(second[0].transition.at).toBe(T0 + MIN + 900_000);
    expect(engine.tick(T0 + 2000_000)).toHaveLength(0); // already open
    const back = engine.evaluate(reading(dir, 'aq-1', T0 + 2000_000, { pm25: 10 }));
    expect(back[0].transition).toMatchObject({ kind: 'resolved', resolution: 'cleared', at: T0 + 2000_000 });
  });

  it('silentSeconds overrides the device timeout', () => {
    const engine = testEngine(dir);
    engine.setRules([rule({ kind: 'noData', silentSeconds: 60, scope: { deviceIds: ['tc-1'] } })], T0);
    expect(kinds(engine.tick(T0 + 60_000))).toEqual(['tc-1:fired:firing']);
  });
});

describe('edges', () => {
  it('a device the directory does not know is described by its reading (no attributes)', () => {
    const dir = new TestDirectory();
    const engine = testEngine(dir);
    engine.setRules(
      [
        rule({
          kind: 'threshold',
          metric: 'pm25',
          condition: { op: 'above', value: 50 },
          scope: { areaIds: ['hn-bd'] },
        }),
      ],
      T0,
    );
    const stranger = { ...reading(dir, 'aq-3', T0, { pm25: 70 }), deviceId: 'aq-new' };
    const [c] = engine.evaluate(stranger);
    expect(c.alert).toMatchObject({
      deviceId: 'aq-new',
      areaId: 'hn-bd',
      message: { vi: 'aq-new: PM2.5 70 µg/m³' },
    });
  });

  it('event escalations read the event’s metric', () => {
    const dir = new TestDirectory();
    const engine = testEngine(dir);
    engine.setRules(
      [
        rule({
          kind: 'event',
          event: 'crowd',
          metric: 'peopleCount',
          condition: { op: 'above', value: 100 },
          severity: 'info',
          escalations: [{ severity: 'critical', condition: { op: 'above', value: 1000 } }],
        }),
      ],
      T0,
    );
    const ev = (ts: number, peopleCount: number) =>
      engine.evaluate(reading(dir, 'cam-1', ts, { peopleCount }, { kind: 'event', event: 'crowd' }));
    expect(ev(T0, 50)).toHaveLength(0);
    expect(ev(T0 + MIN, 300)[0].alert.severity).toBe('info');
    expect(kinds(ev(T0 + 2 * MIN, 1500))).toEqual(['cam-1:escalated:firing']);
  });

  it('an area alert resolves out-of-schedule when its hours end (tick)', () => {
    const dir = new TestDirectory();
    const engine = testEngine(dir);
    engine.setRules(
      [
        rule({
          kind: 'areaAggregate',
          metric: 'laeq',
          window: { seconds: 600, aggregate: 'max', minCoverage: 0 },
          condition: { op: 'above', value: 55 },
          scope: { areaIds: ['hn'] },
          schedule: { fromHour: 21, toHour: 6 },
        }),
      ],
      T0,
    );
    const night = Date.UTC(2026, 5, 1, 22 - 7);
    expect(kinds(engine.evaluate(reading(dir, 'noise-2', night, { laeq: 60 })))).toEqual(['hn:fired:firing']);
    expect(engine.tick(Date.UTC(2026, 5, 1, 5 - 7 + 24, 59))).toHaveLength(0);
    const ended = engine.tick(Date.UTC(2026, 5, 1, 6 - 7 + 24));
    expect(ended.map((c) => [c.alert.subjectId, c.transition.resolution])).toEqual([
      ['hn', 'out-of-schedule'],
    ]);
  });
});
