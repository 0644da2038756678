import type { Reading, StoredRule } from '@ioc/contracts';
import { alertEventsSchema } from '@ioc/contracts';
import type { AlertChange, EngineDirectory } from './directory';
import { AlertEngine } from './engine';
import { HOUR, MIN, T0, TestDirectory, reading, rule, testEngine } from './spec-support';

const kinds = (changes: readonly AlertChange[]) =>
  changes.map(
    (c) =>
      `${c.alert.ruleId}/${c.alert.subjectId}:${c.transition.kind}${c.transition.resolution ? `(${c.transition.resolution})` : ''}`,
  );

const pm = (id = 'pm25-high', over: Record<string, unknown> = {}, version = 1) =>
  rule(
    {
      id,
      kind: 'threshold',
      metric: 'pm25',
      condition: { op: 'above', value: 55 },
      clear: { op: 'below', value: 52 },
      ...over,
    },
    version,
  );

describe('life cycle bookkeeping', () => {
  it('numbers transitions per alert and emits copies that satisfy the bus schema', () => {
    const dir = new TestDirectory();
    const engine = testEngine(dir);
    engine.setRules(
      [
        pm('pm25-high', {
          forSeconds: 60,
          escalations: [{ severity: 'critical', condition: { op: 'above', value: 150 } }],
        }),
      ],
      T0,
    );
    const all = [
      ...engine.evaluate(reading(dir, 'aq-1', T0, { pm25: 60 })),
      ...engine.evaluate(reading(dir, 'aq-1', T0 + MIN, { pm25: 60 })),
      ...engine.evaluate(reading(dir, 'aq-1', T0 + 2 * MIN, { pm25: 160 })),
      ...engine.evaluate(reading(dir, 'aq-1', T0 + 3 * MIN, { pm25: 10 })),
    ];
    expect(all.map((c) => [c.transition.seq, c.transition.kind, c.transition.from, c.transition.to])).toEqual(
      [
        [1, 'opened', null, 'pending'],
        [2, 'fired', 'pending', 'firing'],
        [3, 'escalated', 'firing', 'firing'],
        [4, 'resolved', 'firing', 'resolved'],
      ],
    );
    expect(all[0].alert.state).toBe('pending'); // a copy: not changed by later steps
    expect(() => alertEventsSchema.parse(all)).not.toThrow();
    expect(all[3].alert).toMatchObject({
      resolvedAt: T0 + 3 * MIN,
      resolution: 'cleared',
      resolvedBy: null,
      firingAt: T0 + MIN,
    });
    expect(engine.openAlerts()).toEqual([]);
  });

  it('an acknowledged alert still escalates and resolves; a resolution by hand lets the next reading open a new alert', () => {
    const dir = new TestDirectory();
    const engine = testEngine(dir);
    engine.setRules(
      [pm('pm25-high', { escalations: [{ severity: 'critical', condition: { op: 'above', value: 150 } }] })],
      T0,
    );
    const [opened] = engine.evaluate(reading(dir, 'aq-1', T0, { pm25: 60 }));
    engine.applyExternal(
      {
        ...opened.alert,
        state: 'acknowledged',
        acknowledgedAt: T0 + 1,
        acknowledgedBy: 'u1',
        acknowledgementNote: 'on it',
        updatedAt: T0 + 1,
      },
      2,
    );
    const esc = engine.evaluate(reading(dir, 'aq-1', T0 + MIN, { pm25: 200 }));
    expect(esc[0].transition).toMatchObject({
      kind: 'escalated',
      from: 'acknowledged',
      to: 'acknowledged',
      seq: 3,
      severity: 'critical',
    });
    expect(esc[0].alert).toMatchObject({ acknowledgedBy: 'u1', acknowledgementNote: 'on it' });
    const res = engine.evaluate(reading(dir, 'aq-1', T0 + 2 * MIN, { pm25: 40 }));
    expect(res[0].transition).toMatchObject({ kind: 'resolved', from: 'acknowledged', seq: 4 });

    const [again] = engine.evaluate(reading(dir, 'aq-1', T0 + 3 * MIN, { pm25: 60 }));
    engine.applyExternal(
      {
        ...again.alert,
        state: 'resolved',
        resolvedAt: T0 + 3 * MIN + 1,
        resolvedBy: 'u1',
        resolution: 'manual',
      },
      2,
    );
    expect(
      engine
        .evaluate(reading(dir, 'aq-1', T0 + 4 * MIN, { pm25: 61 }))
        .map((c) => [c.transition.kind, c.alert.id !== again.alert.id]),
    ).toEqual([['fired', true]]);
  });

  it('a late acknowledgement notice never undoes an escalation, and a stale one never reopens a resolved alert', () => {
    const dir = new TestDirectory();
    const engine = testEngine(dir);
    engine.setRules(
      [pm('pm25-high', { escalations: [{ severity: 'critical', condition: { op: 'above', value: 150 } }] })],
      T0,
    );
    const [opened] = engine.evaluate(reading(dir, 'aq-1', T0, { pm25: 60 }));
    // the person acknowledges (seq 2 in the database) while the engine escalates (its seq 2, rebased to 3)
    const acked = {
      ...opened.alert,
      state: 'acknowledged' as const,
      acknowledgedAt: T0 + 1,
      acknowledgedBy: 'u1',
      acknowledgementNote: 'seen',
      updatedAt: T0 + 1,
    };
    const [esc] = engine.evaluate(reading(dir, 'aq-1', T0 + MIN, { pm25: 200 }));
    expect(esc.alert.severity).toBe('critical');
    engine.applyExternal(acked, 3);
    expect(engine.evaluate(reading(dir, 'aq-1', T0 + 2 * MIN, { pm25: 210 }))).toEqual([]); // no second escalation
    const [resolved] = engine.evaluate(reading(dir, 'aq-1', T0 + 3 * MIN, { pm25: 10 }));
    expect(resolved.transition).toMatchObject({ seq: 4, from: 'acknowledged', severity: 'critical' });
    expect(resolved.alert).toMatchObject({ acknowledgedBy: 'u1', acknowledgementNote: 'seen' });
    engine.applyExternal(acked, 3); // stale
    expect(engine.openAlerts()).toEqual([]);
    expect(kinds(engine.evaluate(reading(dir, 'aq-1', T0 + 4 * MIN, { pm25: 60 })))).toEqual([
      'pm25-high/aq-1:fired',
    ]);
  });

  it('setRules: an edited rule keeps alerts of subjects still covered, resolves the others; disabled and deleted rules resolve all', () => {
    const dir = new TestDirectory();
    const engine = testEngine(dir);
    engine.setRules([pm('ra'), pm('rb'), pm('rc')], T0);
    for (const id of ['aq-1', 'aq-3']) engine.evaluate(reading(dir, id, T0, { pm25: 60 }));
    const now = T0 + HOUR;
    const changes = engine.setRules(
      [
        pm('ra', { scope: { areaIds: ['hn-hk'] }, condition: { op: 'above', value: 58 } }, 2), // aq-3 (Ba Đình) no longer covered
        { ...pm('rb'), definition: { ...pm('rb').definition, enabled: false } },
      ],
      now,
    );
    expect(kinds(changes)).toEqual([
      'ra/aq-3:resolved(rule-changed)',
      'rb/aq-1:resolved(rule-changed)',
      'rb/aq-3:resolved(rule-changed)',
      'rc/aq-1:resolved(rule-deleted)',
      'rc/aq-3:resolved(rule-deleted)',
    ]);
    expect(changes.every((c) => c.transition.at === now)).toBe(true);
    // the kept alert records the new version on its next transition
    const next = engine.evaluate(reading(dir, 'aq-1', now + MIN, { pm25: 40 }));
    expect(next[0].alert).toMatchObject({ ruleId: 'ra', ruleVersion: 2, limit: 58, state: 'resolved' });
  });

  it('deviceChanged drops cached coverage and resolves alerts of rules that no longer cover the device', () => {
    const dir = new TestDirectory();
    const engine = testEngine(dir);
    engine.setRules([pm('hk', { scope: { areaIds: ['hn-hk'] } })], T0);
    expect(engine.evaluate(reading(dir, 'aq-3', T0, { pm25: 60 }))).toHaveLength(0); // Ba Đình
    engine.evaluate(reading(dir, 'aq-1', T0, { pm25: 60 }));
    // aq-3 moves to Hoàn Kiếm, aq-1 to Ba Đình
    dir.byId.set('aq-3', { ...dir.byId.get('aq-3')!, areaId: 'hn-hk', areaPath: ['hn', 'hn-hk'] });
    dir.byId.set('aq-1', { ...dir.byId.get('aq-1')!, areaId: 'hn-bd', areaPath: ['hn', 'hn-bd'] });
    expect(engine.deviceChanged('aq-3', T0 + MIN)).toHaveLength(0);
    expect(kinds(engine.deviceChanged('aq-1', T0 + MIN))).toEqual(['hk/aq-1:resolved(rule-changed)']);
    expect(kinds(engine.evaluate(reading(dir, 'aq-3', T0 + 2 * MIN, { pm25: 60 })))).toEqual([
      'hk/aq-3:fired',
    ]);
  });

  it('refuses rules it cannot evaluate, naming them, and evaluates the others', () => {
    const dir = new TestDirectory();
    const engine = testEngine(dir);
    const bad = pm('bad', { message: { vi: '{device} {nhietdo}', en: '{device}' } });
    const area = rule({
      id: 'area-no-areas',
      kind: 'areaAggregate',
      metric: 'pm25',
      window: { seconds: 3600, aggregate: 'mean' },
      condition: { op: 'above', value: 1 },
    });
    engine.setRules([bad, area, pm('good')], T0);
    expect(engine.ruleErrors).toEqual([
      { ruleId: 'bad', error: 'rule bad: unknown message placeholders: {nhietdo}' },
      { ruleId: 'area-no-areas', error: 'rule area-no-areas: an areaAggregate rule needs scope.areaIds' },
    ]);
    expect(kinds(engine.evaluate(reading(dir, 'aq-1', T0, { pm25: 60 })))).toEqual(['good/aq-1:fired']);
  });

  it('scope: device ids, types, domains, area subtrees and attributes all must hold', () => {
    const dir = new TestDirectory();
    const engine = testEngine(dir);
    engine.setRules(
      [
        rule({
          id: 'special',
          kind: 'threshold',
          metric: 'laeq',
          condition: { op: 'above', value: 50 },
          scope: { domains: ['env'], areaIds: ['hn'], attributes: { noiseZone: 'special' } },
        }),
      ],
      T0,
    );
    expect(engine.evaluate(reading(dir, 'noise-2', T0, { laeq: 90 }))).toHaveLength(0);
    expect(kinds(engine.evaluate(reading(dir, 'noise-1', T0, { laeq: 90 })))).toEqual([
      'special/noise-1:fired',
    ]);
  });
});

describe('messages', () => {
  it('render values with units, area names, limits, windows and the standard, in Vietnamese and English', () => {
    const dir = new TestDirectory();
    const engine = testEngine(dir);
    engine.setRules(
      [
        rule({
          id: 'qcvn05-pm25-24h',
          kind: 'threshold',
          metric: 'pm25',
          window: { seconds: 86_400, aggregate: 'mean', minCoverage: 0 },
          condition: { op: 'above', value: 50 },
          severity: 'critical',
          source: { standard: 'QCVN 05:2023/BTNMT' },
          message: {
            vi: '{device} ({area}): {metric} trung bình {window} {value} {unit} vượt {limit} {unit} ({standard}, {severity})',
            en: '{device} ({area}): {window} mean {metric} {value} {unit} above {limit} {unit} ({standard}, {severity})',
          },
        }),
      ],
      T0,
    );
    engine.evaluate(reading(dir, 'aq-1', T0, { pm25: 50 }));
    const [c] = engine.evaluate(reading(dir, 'aq-1', T0 + MIN, { pm25: 54.6 }));
    expect(c.alert.message).toEqual({
      vi: 'Trạm aq-1 (Hoàn Kiếm): PM2.5 trung bình 24 giờ 52,3 µg/m³ vượt 50 µg/m³ (QCVN 05:2023/BTNMT, nghiêm trọng)',
      en: 'Trạm aq-1 (Hoàn Kiếm): 24 h mean PM2.5 52.3 µg/m³ above 50 µg/m³ (QCVN 05:2023/BTNMT, critical)',
    });
    expect(c.alert).toMatchObject({ unit: 'µg/m³', limit: 50, value: 52.3 });
  });

  it('a resolution keeps the message of the last firing step (not the firing text with the clearing value)', () => {
    const dir = new TestDirectory();
    const engine = testEngine(dir);
    engine.setRules(
      [
        pm('pm25-high', {
          escalations: [{ severity: 'critical', condition: { op: 'above', value: 100 } }],
          message: {
            vi: '{device}: PM2.5 {value} {unit} vượt {limit}',
            en: '{device}: PM2.5 {value} {unit} above {limit}',
          },
        }),
      ],
      T0,
    );
    const [fired] = engine.evaluate(reading(dir, 'aq-1', T0, { pm25: 60 }));
    expect(fired?.alert.message.en).toBe('Trạm aq-1: PM2.5 60 µg/m³ above 55');
    const [escalated] = engine.evaluate(reading(dir, 'aq-1', T0 + MIN, { pm25: 120 }));
    expect(escalated?.transition.kind).toBe('escalated');
    expect(escalated?.alert.message.en).toBe('Trạm aq-1: PM2.5 120 µg/m³ above 55');
    const [resolved] = engine.evaluate(reading(dir, 'aq-1', T0 + 2 * MIN, { pm25: 30 }));
    expect(resolved?.transition).toMatchObject({ kind: 'resolved', value: 30 });
    expect(resolved?.alert.value).toBe(30);
    expect(resolved?.alert.message).toEqual(escalated?.alert.message);
  });
});

/** Seeded PRNG (mulberry32) so the random test is reproducible. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Step = { reading: Reading } | { tick: number };

const mixedRules = (): StoredRule[] => [
  pm('pm25-band', {
    forSeconds: 120,
    keepFiringForSeconds: 180,
    escalations: [{ severity: 'critical', condition: { op: 'above', value: 90 } }],
  }),
  rule({
    id: 'pm25-1h',
    kind: 'threshold',
    metric: 'pm25',
    window: { seconds: 3600, aggregate: 'mean', minCoverage: 0.5 },
    condition: { op: 'above', value: 50 },
    clear: { op: 'below', value: 45 },
  }),
  rule({
    id: 'pm25-rise',
    kind: 'threshold',
    metric: 'pm25',
    condition: { op: 'rateOfChange', perMinute: 8, direction: 'rise' },
    keepFiringForSeconds: 120,
  }),
  rule({
    id: 'pm25-area',
    kind: 'areaAggregate',
    metric: 'pm25',
    window: { seconds: 1800, aggregate: 'max', minCoverage: 0 },
    condition: { op: 'above', value: 70 },
    minDevices: 2,
    scope: { areaIds: ['hn-hk', 'hn'] },
  }),
  rule({
    id: 'laeq-night',
    kind: 'threshold',
    metric: 'laeq',
    condition: { op: 'above', value: 60 },
    schedule: { fromHour: 21, toHour: 6 },
  }),
  rule({
    id: 'accident',
    kind: 'event',
    event: 'accident',
    metric: 'confidence',
    condition: { op: 'above', value: 0.5 },
    keepFiringForSeconds: 300,
  }),
  rule({ id: 'silent', kind: 'noData', silentSeconds: 600 }),
];

function randomSteps(dir: EngineDirectory, seed: number, n: number): Step[] {
  const rnd = mulberry32(seed);
  const steps: Step[] = [];
  let t = Date.UTC(2026, 5, 1, 12); // 19:00 local: crosses 21:00
  const level: Record<string, number> = { 'aq-1': 40, 'aq-2': 40, 'aq-3': 40, 'noise-1': 55, 'noise-2': 55 };
  for (let i = 0; i < n; i++) {
    t += Math.floor(rnd() * 90_000);
    const roll = rnd();
    if (roll < 0.1) {
      steps.push({ tick: t });
      continue;
    }
    if (roll < 0.2) {
      steps.push({
        reading: reading(
          dir,
          'cam-1',
          t,
          { confidence: Math.round(rnd() * 100) / 100 },
          { kind: 'event', event: 'accident' },
        ),
      });
      continue;
    }
    const ids = Object.keys(level);
    const id = ids[Math.floor(rnd() * ids.length)];
    level[id] = Math.max(0, level[id] + (rnd() - 0.45) * 20);
    const metric = id.startsWith('aq') ? 'pm25' : 'laeq';
    steps.push({ reading: reading(dir, id, t, { [metric]: Math.round(level[id] * 10) / 10 }) });
  }
  return steps;
}

function run(engine: AlertEngine, steps: Step[], warmUp = false): AlertChange[] {
  const out: AlertChange[] = [];
  for (const s of steps) {
    if ('tick' in s) {
      if (!warmUp) out.push(...engine.tick(s.tick));
    } else out.push(...engine.evaluate(s.reading, { warmUp }));
  }
  return out;
}

/** Engines under test aggregate areas incrementally; references (`full`) recompute every device. */
function engineWithCounter(
  dir: EngineDirectory,
  counter: { n: number },
  areaAggregates: 'incremental' | 'full' = 'incremental',
): AlertEngine {
  return new AlertEngine({ directory: dir, newAlertId: () => `id-${++counter.n}`, areaAggregates });
}

describe('determinism, snapshot/restore and warm-up', () => {
  it('the same inputs give the same changes', () => {
    const dir = new TestDirectory();
    const steps = randomSteps(dir, 7, 400);
    const once = () => {
      const e = engineWithCounter(dir, { n: 0 });
      e.setRules(mixedRules(), T0);
      return run(e, steps);
    };
    const a = once();
    expect(a.length).toBeGreaterThan(20);
    expect(once()).toEqual(a);
  });

  it('evaluate N = evaluate k, snapshot, restore into a new engine with the open alerts, evaluate the rest', () => {
    const dir = new TestDirectory();
    const steps = randomSteps(dir, 11, 400);
    const reference = engineWithCounter(dir, { n: 0 }, 'full');
    reference.setRules(mixedRules(), T0);
    const all = run(reference, steps);
    const k = 200;
    const counter = { n: 0 };
    const first = engineWithCounter(dir, counter);
    first.setRules(mixedRules(), T0);
    const before = run(first, steps.slice(0, k));
    const snapshot = JSON.parse(JSON.stringify(first.snapshot()));
    const second = engineWithCounter(dir, counter);
    second.restore(snapshot);
    second.loadOpenAlerts(first.openAlerts());
    expect(second.setRules(mixedRules(), T0 + 24 * HOUR)).toEqual([]);
    const after = run(second, steps.slice(k));
    expect([...before, ...after]).toEqual(all);
  });

  it('property: snapshot at a random cut S, open alerts at a later cut C, warm-up over (S, C], then evaluate — identical changes', () => {
    const rnd = mulberry32(2026);
    for (let trial = 0; trial < 25; trial++) {
      const dir = new TestDirectory();
      const steps = randomSteps(dir, 1000 + trial, 300);
      const reference = engineWithCounter(dir, { n: 0 }, 'full');
      reference.setRules(mixedRules(), T0);
      const all = run(reference, steps);

      const s = Math.floor(rnd() * steps.length);
      const c = s + Math.floor(rnd() * (steps.length - s));
      const counter = { n: 0 };
      const crashed = engineWithCounter(dir, counter);
      crashed.setRules(mixedRules(), T0);
      const head = run(crashed, steps.slice(0, s));
      const snapshot = JSON.stringify(crashed.snapshot());
      const middle = run(crashed, steps.slice(s, c)); // committed, then the process dies
      const restarted = engineWithCounter(dir, counter);
      restarted.restore(JSON.parse(snapshot));
      restarted.loadOpenAlerts(crashed.openAlerts());
      restarted.setRules(mixedRules(), T0 + 48 * HOUR);
      expect(run(restarted, steps.slice(s, c), true)).toEqual([]);
      const tail = run(restarted, steps.slice(c));
      expect({ trial, s, c, changes: [...head, ...middle, ...tail] }).toEqual({ trial, s, c, changes: all });
    }
  });

  it('warm-up updates windows but emits nothing and touches no alert', () => {
    const dir = new TestDirectory();
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
    for (let k = 0; k < 9; k++)
      expect(
        engine.evaluate(reading(dir, 'aq-1', T0 + k * 5 * MIN, { pm25: 80 }), { warmUp: true }),
      ).toHaveLength(0);
    expect(engine.openAlerts()).toEqual([]);
    // the window is warm: the first normal reading evaluates a full-coverage mean
    const [fired] = engine.evaluate(reading(dir, 'aq-1', T0 + 45 * MIN, { pm25: 20 }));
    expect(fired.alert.value).toBe(74);
  });

  it('refuses a snapshot of another version, or a malformed one, leaving the engine as it was', () => {
    expect(() => testEngine().restore({ version: 99 })).toThrow(/version 1/);
    const dir = new TestDirectory();
    const engine = testEngine(dir);
    engine.setRules([pm('rate', { condition: { op: 'rateOfChange', perMinute: 5 }, clear: undefined })], T0);
    engine.evaluate(reading(dir, 'aq-1', T0, { pm25: 10 }));
    const good = engine.snapshot();
    const broken = JSON.parse(JSON.stringify(good));
    broken.devices.push(['aq-2', T0, [['pm25', 'ten', T0]], []]);
    expect(() => engine.restore(broken)).toThrow('malformed alert engine snapshot: previous value');
    expect(engine.snapshot()).toEqual(good);
    // the previous value survived: a rise of 10/min fires
    expect(kinds(engine.evaluate(reading(dir, 'aq-1', T0 + MIN, { pm25: 20 })))).toEqual(['rate/aq-1:fired']);
  });

  it('a non-finite value changes nothing (no alert opened or resolved, no window or rate poisoned)', () => {
    const dir = new TestDirectory();
    const engine = testEngine(dir);
    engine.setRules(
      [
        pm('high'),
        pm('rise', { condition: { op: 'rateOfChange', perMinute: 5 }, clear: undefined }),
        pm('mean', { window: { seconds: 3600, aggregate: 'mean', minCoverage: 0 }, clear: undefined }),
      ],
      T0,
    );
    expect(kinds(engine.evaluate(reading(dir, 'aq-1', T0, { pm25: 60 })))).toEqual([
      'high/aq-1:fired',
      'mean/aq-1:fired',
    ]);
    expect(engine.evaluate(reading(dir, 'aq-1', T0 + MIN, { pm25: Number.NaN }))).toEqual([]);
    expect(engine.evaluate(reading(dir, 'aq-1', T0 + 2 * MIN, { pm25: Number.POSITIVE_INFINITY }))).toEqual(
      [],
    );
    // the previous value is still 60 at T0: +6 over 3 min is 2/min, no rise; the mean is still 60
    expect(engine.evaluate(reading(dir, 'aq-1', T0 + 3 * MIN, { pm25: 66 }))).toEqual([]);
  });
});

describe('dryRun', () => {
  it('answers the covered devices and what the rule would have done, without touching the engine', () => {
    const dir = new TestDirectory();
    const engine = testEngine(dir);
    engine.setRules([pm('live')], T0);
    const candidate = pm('candidate', { scope: { areaIds: ['hn-hk'] } }).definition;
    const readings = [
      reading(dir, 'aq-1', T0, { pm25: 60 }),
      reading(dir, 'aq-3', T0, { pm25: 60 }),
      reading(dir, 'aq-1', T0 + MIN, { pm25: 40 }),
    ];
    const result = engine.dryRun(candidate, readings);
    // noise-1 is in Hoàn Kiếm too, but a noise meter never reports pm25
    expect(result.covered).toEqual(['aq-1', 'aq-2']);
    expect(kinds(result.changes)).toEqual(['candidate/aq-1:fired', 'candidate/aq-1:resolved(cleared)']);
    expect(result.changes[0].alert.id).toBe('dry-run-1');
    expect(engine.openAlerts()).toEqual([]);
    expect(engine.snapshot().devices).toEqual([]);
  });

  it('covers the stations a derived metric (aqi) is derived for, and evaluates their aqi readings', () => {
    const dir = new TestDirectory();
    const engine = testEngine(dir);
    const aqi = pm('aqi-poor', {
      scope: { areaIds: ['hn-hk'] },
      metric: 'aqi',
      condition: { op: 'above', value: 101, inclusive: true },
      clear: { op: 'below', value: 96 },
    }).definition;
    const result = engine.dryRun(aqi, [
      reading(dir, 'aq-1', T0, { aqi: 120, aqiDominant: 'pm25' }),
      reading(dir, 'aq-1', T0 + 60 * MIN, { aqi: 90, aqiDominant: 'pm25' }),
    ]);
    // Air-quality stations only: a noise meter of the area has no aqi.
    expect(result.covered).toEqual(['aq-1', 'aq-2']);
    expect(kinds(result.changes)).toEqual(['aqi-poor/aq-1:fired', 'aqi-poor/aq-1:resolved(cleared)']);
  });
});
