import { join } from 'node:path';
import pino from 'pino';
import type { Alert, Reading, RuleDefinitionInput } from '@ioc/contracts';
import { type IocDatabase, openDatabase, prepareDatabase } from '@ioc/database';
import { DeviceRegistry } from '@ioc/registry';
import { createLogger } from '@ioc/runtime';
import { DurableReadingSink } from '@ioc/spool';
import { describeEachDatabase, TempDirs } from '@ioc/testing';
import { EmbeddedTimeSeriesStore } from '@ioc/timeseries';
import { type AlertChange, AlertRepository } from '../alert-repository';
import { RuleRepository } from '../rule-repository';
import { ALERT_ENGINE_CURSOR, AlertEngineHost } from './alert-engine-host';
import { registryEngineDirectory } from './registry-directory';

/*
 * The engine host over a real DurableReadingSink (spool files in a temp dir, an embedded store)
 * and a real registry database (SQLite, and PostgreSQL when available). A "crash" drops the host
 * without close(): only what it committed survives.
 */

const logger = createLogger('engine-host-spec', { level: 'silent' });
const tempDirs = new TempDirs('ioc-engine-host-');
afterAll(() => tempDirs.removeAll());

const STATION = 'aq-tn-001';
const MIN = 60_000;
const HOUR = 3_600_000;
/** Two hours before a whole hour well in the past (the store takes any time). */
const T0 = Math.floor(Date.UTC(2026, 10, 30, 3) / HOUR) * HOUR;
const NEVER = 2 ** 31 - 1;

const registry = DeviceRegistry.fromSeeds();

const PM25_SPIKE: RuleDefinitionInput = {
  id: 'pm25-spike',
  kind: 'threshold',
  name: { vi: 'PM2.5 cao', en: 'PM2.5 high' },
  severity: 'warning',
  scope: { deviceIds: [STATION] },
  metric: 'pm25',
  condition: { op: 'above', value: 100 },
  clear: { op: 'below', value: 80 },
  message: { vi: '{device}: {metric} {value} {unit}', en: '{device}: {metric} {value} {unit}' },
};

const PM25_HOURLY_MEAN: RuleDefinitionInput = {
  id: 'pm25-1h-mean',
  kind: 'threshold',
  name: { vi: 'PM2.5 trung bình 1 giờ', en: 'PM2.5 1-hour mean' },
  severity: 'warning',
  scope: { deviceIds: [STATION] },
  metric: 'pm25',
  window: { seconds: 3600, aggregate: 'mean', minCoverage: 0 },
  condition: { op: 'above', value: 70 },
  clear: { op: 'below', value: 60 },
  message: { vi: '{device}: {metric} {window} {value}', en: '{device}: {metric} {window} {value}' },
};

const AQI_BAD: RuleDefinitionInput = {
  id: 'aqi-bad',
  kind: 'threshold',
  name: { vi: 'VN_AQI xấu', en: 'VN_AQI bad' },
  severity: 'critical',
  scope: { deviceTypes: ['air-quality-station'] },
  metric: 'aqi',
  condition: { op: 'above', value: 150 },
  message: { vi: '{device}: VN_AQI {value}', en: '{device}: VN_AQI {value}' },
};

function pm25(ts: number, value: number): Reading {
  const device = registry.getDevice(STATION);
  if (!device) throw new Error(`no ${STATION} in the seeds`);
  return {
    deviceId: STATION,
    deviceType: device.type,
    domain: device.domain,
    kind: 'telemetry',
    areaId: device.areaId,
    areaPath: registry.areaPath(device.areaId),
    location: device.location,
    ts,
    metrics: { pm25: value },
  };
}

async function until<T>(probe: () => Promise<T | undefined>, what: string, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

interface Platform {
  host: AlertEngineHost;
  sink: DurableReadingSink;
  store: EmbeddedTimeSeriesStore;
  published: AlertChange[];
  clock: { now: number };
}

describeEachDatabase('AlertEngineHost', (context) => {
  const opened: IocDatabase[] = [];
  afterAll(async () => {
    await Promise.all(opened.map((database) => database.close()));
  });
  const freshDatabase = async (rules: RuleDefinitionInput[]): Promise<IocDatabase> => {
    const database = openDatabase(await context.freshConfig());
    opened.push(database);
    await prepareDatabase(database);
    const repository = new RuleRepository(database.db);
    for (const rule of rules) await repository.create(rule, 'spec');
    return database;
  };

  /** A host started on `database`, then a sink on `dir` with the host as its consumer. */
  const start = async (
    database: IocDatabase,
    dir: string,
    options: {
      snapshotIntervalMs?: number;
      tickMs?: number;
      clock?: { now: number };
      logger?: typeof logger;
    } = {},
  ): Promise<Platform> => {
    const clock = options.clock ?? { now: Date.UTC(2026, 10, 30, 8) };
    const published: AlertChange[] = [];
    const directory = registryEngineDirectory(registry);
    const host = new AlertEngineHost({
      alerts: new AlertRepository(database.db),
      rules: new RuleRepository(database.db),
      directory,
      readingBase: (id) => directory.readingBase(id),
      publish: (events) => published.push(...events),
      logger: options.logger ?? logger,
      snapshotIntervalMs: options.snapshotIntervalMs ?? NEVER,
      tickMs: options.tickMs ?? NEVER,
      clock: () => clock.now,
    });
    await host.start();
    const store = new EmbeddedTimeSeriesStore({ dataDir: join(dir, 'store'), maintenanceIntervalMs: 0 });
    await store.init();
    const sink = await DurableReadingSink.open({
      store,
      spoolDir: join(dir, 'spool'),
      spoolMaxBytes: 1 << 22,
      fullWaitMs: 0,
      writeBatchSize: 100,
      writeBatchDelayMs: 1,
      onDurable: () => undefined,
      consumers: [host],
      logger,
    });
    return { host, sink, store, published, clock };
  };

  const feed = async (platform: Platform, readings: readonly Reading[]): Promise<void> => {
    for (const r of readings) await platform.sink.accept(r);
    await platform.host.whenIdle();
  };

  /** Every alert and its transitions, in a comparable form (ids differ between runs). */
  const history = async (database: IocDatabase) => {
    const alerts = new AlertRepository(database.db);
    const page = await alerts.list({ limit: 1000 }, null);
    const out: Array<Partial<Alert> & { steps: string[] }> = [];
    for (const { alert } of page.items) {
      const steps = (await alerts.transitions(alert.id)).map((t) => `${t.seq}:${t.kind}@${t.at - T0}`);
      out.push({ ruleId: alert.ruleId, subjectId: alert.subjectId, state: alert.state, steps });
    }
    return out.sort((a, b) => `${a.ruleId}${a.steps[0]}`.localeCompare(`${b.ruleId}${b.steps[0]}`));
  };

  /** The windows and AQI tracker of the host's last snapshot (the devices' lags depend on the clock). */
  const finalState = async (database: IocDatabase) => {
    const cursor = await new AlertRepository(database.db).loadCursor(ALERT_ENGINE_CURSOR);
    const snapshot = cursor?.snapshot as { engine: { devices: unknown[][] }; aqi: unknown } | undefined;
    return {
      position: cursor?.snapshotPosition,
      windows: snapshot?.engine.devices.map((d) => [d[0], d[1], d[2], d[3]]),
      aqi: snapshot?.aqi,
    };
  };

  it('a value crossing the threshold opens exactly one alert; one oscillating inside the hysteresis band opens no other', async () => {
    const database = await freshDatabase([PM25_SPIKE]);
    const dir = await tempDirs.make();
    const platform = await start(database, dir);
    try {
      // 120 fires; 90 … 105 stay inside the band (clear is below 80): the same alert; 70 resolves
      const values = [50, 120, 90, 110, 85, 105, 95, 101, 81, 70];
      await feed(
        platform,
        values.map((v, k) => pm25(T0 + k * 5 * MIN, v)),
      );
      const alerts = await history(database);
      expect(alerts).toEqual([
        {
          ruleId: 'pm25-spike',
          subjectId: STATION,
          state: 'resolved',
          steps: [`1:fired@${5 * MIN}`, `2:resolved@${45 * MIN}`],
        },
      ]);
      expect(platform.published.map((e) => e.transition.kind)).toEqual(['fired', 'resolved']);
      expect(platform.host.stats()).toMatchObject({ evaluated: values.length, warmUp: 0, changes: 2 });
      const cursor = await new AlertRepository(database.db).loadCursor(ALERT_ENGINE_CURSOR);
      expect(cursor?.position).toBe(values.length - 1);
    } finally {
      await platform.host.close();
      await platform.sink.close();
      await platform.store.close();
    }
  });

  it('counts readings older than the device’s newest (a scenario behind a live feed) and AQI readings of closed hours, naming the device once a minute', async () => {
    const database = await freshDatabase([PM25_SPIKE]);
    const dir = await tempDirs.make();
    const warnings: Array<{ msg: string; deviceId?: string; since?: number }> = [];
    const capture = pino({ level: 'warn' }, { write: (line: string) => warnings.push(JSON.parse(line)) });
    const clock = { now: T0 + 3 * HOUR };
    const platform = await start(database, dir, { logger: capture, clock });
    try {
      // The live feed: the station reports "now" (T0 + 3 h) …
      await feed(platform, [pm25(T0 + 2 * HOUR + 55 * MIN, 20), pm25(T0 + 3 * HOUR, 20)]);
      // … then a scenario replays the two hours before, far above the limit: nothing fires.
      const scenario = Array.from({ length: 12 }, (_, k) => pm25(T0 + k * 10 * MIN, 300));
      await feed(platform, scenario);
      expect(await history(database)).toEqual([]);
      expect(platform.host.stats()).toMatchObject({
        evaluated: 14,
        outOfOrder: 12,
        // Hour T0 + 2 h was closed by the feed's reading of T0 + 3 h: the scenario's readings of it
        // (and of the hours before) never reach its AQI.
        aqiClosedHourReadings: 12,
        aqiHoursEmitted: 0,
      });
      const named = warnings.filter((w) => w.deviceId === STATION);
      expect(named.map((w) => w.msg)).toEqual([
        expect.stringContaining('older than the newest one evaluated for this device is ignored'),
        expect.stringContaining('already closed is ignored'),
      ]);
      // A minute later the device is named again, with the count since.
      clock.now += 61_000;
      await feed(platform, [pm25(T0 + 5 * MIN, 300)]);
      expect(platform.host.stats().outOfOrder).toBe(13);
      expect(warnings.filter((w) => w.deviceId === STATION).at(-2)).toMatchObject({ since: 12 });
    } finally {
      await platform.host.close();
      await platform.sink.close();
      await platform.store.close();
    }
  });

  it('closed hours become derived aqi readings: appended to the spool, stored, and evaluated by an aqi rule', async () => {
    const database = await freshDatabase([AQI_BAD]);
    const dir = await tempDirs.make();
    const platform = await start(database, dir);
    try {
      // 3 hours of PM2.5 200 µg/m³ every 10 min, then one reading of the 4th hour
      const readings: Reading[] = [];
      for (let k = 0; k <= 18; k++) readings.push(pm25(T0 + k * 10 * MIN, 200));
      await feed(platform, readings);
      // hour 0 alone has no NowCast (2 of the 3 latest hours needed); hours 1 and 2 have one
      expect(platform.host.stats().aqiHoursEmitted).toBe(2);
      // the store writer drains the spool on its own: wait for both points
      const stored = await until(async () => {
        const points = await platform.store.history({
          deviceId: STATION,
          metric: 'aqi',
          from: T0,
          to: T0 + 4 * HOUR,
        });
        return points.length >= 2 ? points : undefined;
      }, 'two aqi points in the store');
      expect(stored.map((p) => p.ts)).toEqual([T0 + 2 * HOUR, T0 + 3 * HOUR]);
      for (const p of stored) expect(p.value).toBeGreaterThan(150);
      // evaluated when they came back as records: one alert (the second hour keeps it firing)
      const alerts = await history(database);
      expect(alerts).toEqual([
        { ruleId: 'aqi-bad', subjectId: STATION, state: 'firing', steps: [`1:fired@${2 * HOUR}`] },
      ]);
      const open = await new AlertRepository(database.db).openAlerts();
      expect(open[0]).toMatchObject({
        deviceType: 'air-quality-station',
        areaPath: registry.areaPath(registry.getDevice(STATION)!.areaId),
      });
      // 19 readings + 2 derived, each evaluated once
      expect(platform.host.stats().evaluated).toBe(21);
    } finally {
      await platform.host.close();
      await platform.sink.close();
      await platform.store.close();
    }
  });

  it('a crash (no close) then a restart: no alert twice, no reading skipped, warm-up covers (S, C]', async () => {
    // pm25 over 35 readings every 5 min: spikes (instant rule) and a rising then falling mean (1-h window)
    const values = [
      40, 45, 50, 60, 70, 80, 90, 105, 110, 95, 85, 75, 70, 65, 60, 55, 50, 45, 40, 35, 82, 84, 86, 88, 90,
      95, 110, 120, 100, 90, 60, 40, 30, 20, 10,
    ];
    const readings = values.map((v, k) => pm25(T0 + k * 5 * MIN, v));

    // The reference: one uninterrupted run.
    const reference = await freshDatabase([PM25_SPIKE, PM25_HOURLY_MEAN]);
    const refDir = await tempDirs.make();
    const ref = await start(reference, refDir);
    await feed(ref, readings);
    await ref.host.close();
    await ref.sink.close();
    await ref.store.close();
    const expected = await history(reference);
    const expectedState = await finalState(reference);
    expect(expected.length).toBeGreaterThanOrEqual(3);

    const database = await freshDatabase([PM25_SPIKE, PM25_HOURLY_MEAN]);
    const dir = await tempDirs.make();
    const clock = { now: Date.UTC(2026, 10, 30, 8) };
    const first = await start(database, dir, { snapshotIntervalMs: 10_000, clock });
    // Phase A (0–9): the last batch is 10 s later, so its commit carries a snapshot (S)
    await feed(first, readings.slice(0, 9));
    clock.now += 10_000;
    await feed(first, readings.slice(9, 10));
    // Phase B (10–19): changes (the cursor C moves), no snapshot; then 20–24 inside the bands:
    // evaluated, nothing changes, nothing committed
    await feed(first, readings.slice(10, 25));
    const s = first.host.stats();
    const committed = await new AlertRepository(database.db).loadCursor(ALERT_ENGINE_CURSOR);
    expect(committed?.snapshotPosition).toBe(s.snapshotPosition);
    const S = s.snapshotPosition;
    const C = committed!.position;
    expect(S).toBeGreaterThanOrEqual(9);
    expect(C).toBeGreaterThan(S);
    expect(s.position).toBeGreaterThan(C);
    const beforeCrash = await history(database);
    // The crash: the host is dropped without close (no final snapshot); the spool closes as is.
    await first.sink.close();
    await first.store.close();

    const second = await start(database, dir, { snapshotIntervalMs: 10_000, clock });
    await second.host.whenIdle();
    // The replay: (S, C] warmed up, the rest (readings up to 24 and the hourly AQI of hour 1,
    // derived at reading 24) evaluated again from the state at C
    expect(second.host.stats()).toMatchObject({ warmUp: C - S, evaluated: s.position - C });
    expect(await history(database)).toEqual(beforeCrash);
    await feed(second, readings.slice(25));
    try {
      // Every record evaluated exactly once after the cursor, across the two runs: the 35
      // readings and the derived hourly AQI of hour 1 (hour 0 has no NowCast, hour 2 is not closed)
      expect(second.host.stats().position).toBe(readings.length);
      expect(C + 1 + second.host.stats().evaluated).toBe(readings.length + 1);
      // Identical to the uninterrupted run: nothing lost, nothing twice
      expect(await history(database)).toEqual(expected);
      const rows = await database.db
        .selectFrom('alert_transitions')
        .select(['alert_id', 'seq', 'kind'])
        .execute();
      const keys = rows.map((r) => `${r.alert_id}/${r.seq}`);
      expect(new Set(keys).size).toBe(keys.length);
      const fired = rows.filter((r) => r.kind === 'fired').map((r) => r.alert_id);
      expect(new Set(fired).size).toBe(fired.length);
    } finally {
      await second.host.close();
      await second.sink.close();
      await second.store.close();
    }
    // The state the host ends with (its final snapshot): windows and AQI hours as in the
    // uninterrupted run, which only a warm-up over (S, C] gives
    expect(await finalState(database)).toEqual(expectedState);
  });
  it('timers, statuses, rule edits and people: the tick closes a silent station’s hour; a new status rule and an acknowledgement are applied live', async () => {
    const database = await freshDatabase([AQI_BAD]);
    const dir = await tempDirs.make();
    const clock = { now: T0 + 90 * MIN };
    const platform = await start(database, dir, { tickMs: 20, clock });
    const alerts = new AlertRepository(database.db);
    try {
      // hours 0 and 1 of PM2.5 200, then the station falls silent: hour 1 is never closed by a reading
      const readings: Reading[] = [];
      for (let k = 0; k < 12; k++) readings.push(pm25(T0 + k * 10 * MIN, 200));
      await feed(platform, readings);
      expect(platform.host.stats().aqiHoursEmitted).toBe(0);
      // IOC_AQI_HOUR_GRACE_MS (10 min) after hour 1 ended, the tick closes it
      clock.now = T0 + 2 * HOUR + 10 * MIN;
      const open = await until(async () => {
        const list = await alerts.openAlerts();
        return list.length > 0 ? list : undefined;
      }, 'the aqi alert from the tick-closed hour');
      expect(open.map((a) => [a.ruleId, a.firingAt])).toEqual([['aqi-bad', T0 + 2 * HOUR]]);
      expect(platform.host.stats().aqiHoursEmitted).toBe(1);

      // A person acknowledges it (the API's path): the registry change reaches the engine, which
      // republishes the person's step for every API node
      const acked = await alerts.acknowledge(open[0]!.id, { id: 'acc-1', name: 'operator' }, 'đang xử lý');
      platform.host.registryChanged([{ entity: 'alert', entityId: open[0]!.id }]);
      await until(
        async () => (platform.published.some((e) => e.transition.kind === 'acknowledged') ? true : undefined),
        'the acknowledgement republished',
      );
      expect(platform.published.at(-1)).toMatchObject({
        alert: { id: acked.alert.id, state: 'acknowledged' },
        transition: { kind: 'acknowledged', seq: 2 },
      });

      // A status rule written through the repository (as REST does) and the change log notice
      await new RuleRepository(database.db).create(
        {
          id: 'camera-offline-spec',
          kind: 'status',
          name: { vi: 'Camera mất kết nối', en: 'Camera offline' },
          severity: 'warning',
          scope: { deviceIds: ['cam-tn-001'] },
          status: 'offline',
          message: { vi: '{device} mất kết nối', en: '{device} offline' },
        },
        'spec',
      );
      platform.host.registryChanged([{ entity: 'rule', entityId: 'camera-offline-spec' }]);
      await platform.host.whenIdle();
      platform.host.deviceStatuses([
        {
          deviceId: 'cam-tn-001',
          status: 'offline',
          reason: 'connection-lost',
          since: new Date(clock.now).toISOString(),
          clockSuspect: false,
        },
      ]);
      const offline = await until(async () => {
        const list = await alerts.openAlerts();
        return list.find((a) => a.ruleId === 'camera-offline-spec');
      }, 'the camera offline alert');
      expect(offline).toMatchObject({ subjectId: 'cam-tn-001', state: 'firing', firingAt: clock.now });
    } finally {
      await platform.host.close();
      await platform.sink.close();
      await platform.store.close();
    }
  });
});
