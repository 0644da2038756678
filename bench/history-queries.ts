/**
 * History query benchmark: loads a day of raw readings, 30 days at one reading a minute and a
 * year of readings for one area's devices into each store (embedded SQLite and a real influxd),
 * builds the rollups (compact), then times the three queries the targets name, side by side,
 * alternating stores per round, and prints medians.
 *
 * Then the same queries and a device's latest values through the REST API (the module as the app
 * composes it: authentication, rate limits, edge, in this process on a loopback port) over each
 * store, authenticated with an admin's access token and with an agency's API key (scope: the env
 * domain), side by side with the store called directly, alternating per round; and the cost of
 * authenticating one request (Authenticator.authenticate: JWT verification plus the session and
 * account lookups; or the key's lookup) on its own, as a median of many calls.
 *
 *   node -r ./scripts/register.js bench/history-queries.ts [--rounds 7] [--area-devices 10] [--area-every 15m] [--auth-calls 2000]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DEVICE_TYPE_CONTRACTS, type Reading } from '@ioc/contracts';
import { DeviceRegistry, loadSeeds } from '@ioc/registry';
import { parseDurationMs } from '@ioc/runtime';
import {
  EmbeddedTimeSeriesStore,
  InfluxTimeSeriesStore,
  type SeriesQuery,
  type TimeSeriesStore,
} from '@ioc/timeseries';
import { openDatabase, prepareDatabase } from '@ioc/database';
import { Authenticator } from '@ioc/ops-api';
import { createLogger } from '@ioc/runtime';
import { startInfluxd } from '@ioc/testing';
import { type ApiInProcess, startApiInProcess } from './lib/api-in-process';
import { machineInfo, median, round, table } from './lib/common';
import { childPidsNamed, processCpuSeconds } from './lib/proc-cpu';

const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string', default: '7' },
    'area-devices': { type: 'string', default: '10' },
    'area-every': { type: 'string', default: '15m' },
    'auth-calls': { type: 'string', default: '2000' },
  },
});
const ROUNDS = Number(args.rounds);
const AREA_DEVICES = Number(args['area-devices']);
const AREA_EVERY = parseDurationMs(args['area-every'] as string) as number;
const AUTH_CALLS = Number(args['auth-calls']);
const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;

const registry = new DeviceRegistry(loadSeeds());
const stations = registry.listDevices({ type: 'air-quality-station' });
const noise = registry.listDevices({ type: 'noise-meter' });
const end = Math.floor(Date.now() / HOUR) * HOUR - HOUR;

function reading(deviceId: string, ts: number, value: number): Reading {
  const device = registry.getDevice(deviceId)!;
  return {
    deviceId,
    deviceType: device.type,
    domain: device.domain,
    kind: 'telemetry',
    areaId: device.areaId,
    areaPath: registry.areaPath(device.areaId),
    location: device.location,
    ts,
    metrics: device.type === 'noise-meter' ? { laeq: value } : { pm25: value, pm10: value * 1.6 },
  };
}
const wave = (ts: number, phase: number): number => 30 + 20 * Math.sin(ts / (6 * HOUR) + phase);

/** The data sets, generated lazily in batches so a year does not sit in memory at once. */
function* dataSets(): Generator<Reading[]> {
  const rawDevice = stations[0]!.id;
  for (let ts = end - DAY; ts < end; ts += 10_000 * 200) {
    yield Array.from({ length: 200 }, (_, i) =>
      reading(rawDevice, ts + i * 10_000, wave(ts + i * 10_000, 0)),
    ).filter((r) => r.ts < end);
  }
  const minuteDevice = noise[0]!.id;
  for (let ts = end - 30 * DAY; ts < end; ts += MIN * 1000) {
    yield Array.from({ length: 1000 }, (_, i) =>
      reading(minuteDevice, ts + i * MIN, 50 + wave(ts + i * MIN, 1) / 2),
    ).filter((r) => r.ts < end);
  }
  for (let ts = end - 365 * DAY; ts < end; ts += AREA_EVERY * 100) {
    const batch: Reading[] = [];
    for (let i = 0; i < 100; i++) {
      const t = ts + i * AREA_EVERY;
      if (t >= end) break;
      for (const device of areaDevices) batch.push(reading(device.id, t, wave(t, device.id.length)));
    }
    yield batch;
  }
}

const district = registry.areaPath(stations[0]!.areaId)[1]!;
const areaDevices = registry
  .listDevices({ type: 'air-quality-station' })
  .sort(
    (a, b) =>
      Number(registry.areaPath(b.areaId)[1] === district) -
      Number(registry.areaPath(a.areaId)[1] === district),
  )
  .slice(0, AREA_DEVICES);

const QUERIES: Array<{ name: string; query: SeriesQuery; target?: number; path: string }> = [
  {
    name: 'one device, 24 h raw',
    query: { deviceIds: [stations[0]!.id], metric: 'pm25', from: end - DAY, to: end, limit: 100_000 },
    path: `/api/v1/devices/${stations[0]!.id}/history?metric=pm25&from=${end - DAY}&to=${end}&resolution=raw`,
  },
  {
    name: 'one device, 30 d at 1-minute mean',
    query: {
      deviceIds: [noise[0]!.id],
      metric: 'laeq',
      from: end - 30 * DAY,
      to: end,
      everyMs: MIN,
      fn: 'mean',
      limit: 100_000,
    },
    target: 100,
    path: `/api/v1/devices/${noise[0]!.id}/history?metric=laeq&from=${end - 30 * DAY}&to=${end}&every=1m&fn=mean`,
  },
  {
    name: `area (${areaDevices.length} devices), 1 y hourly means`,
    query: {
      deviceIds: areaDevices.map((d) => d.id),
      metric: 'pm25',
      from: end - 365 * DAY,
      to: end,
      everyMs: HOUR,
      fn: 'mean',
      offsetMs: 7 * HOUR,
      limit: 100_000,
    },
    path: `/api/v1/history?devices=${areaDevices.map((d) => d.id).join(',')}&metrics=pm25&groupBy=none&every=1h&fn=mean&from=${end - 365 * DAY}&to=${end}`,
  },
];

async function load(store: TimeSeriesStore): Promise<{ readings: number; seconds: number }> {
  const started = performance.now();
  let readings = 0;
  for (const batch of dataSets()) {
    await store.write(batch);
    readings += batch.length;
  }
  await store.compact();
  return { readings, seconds: (performance.now() - started) / 1000 };
}

/** Waits (up to 120 s) for a second in which influxd uses less than 5 % of a core. */
async function influxdSettled(): Promise<{ idle: boolean; waitedSeconds: number; lastCpuPercent: number }> {
  const pid = childPidsNamed(process.pid, 'influxd')[0];
  const started = performance.now();
  let lastCpuPercent = Number.NaN;
  if (pid === undefined) return { idle: false, waitedSeconds: 0, lastCpuPercent };
  while (performance.now() - started < 120_000) {
    const before = processCpuSeconds(pid) ?? 0;
    await new Promise((resolve) => setTimeout(resolve, 1000));
    lastCpuPercent = ((processCpuSeconds(pid) ?? 0) - before) * 100;
    if (lastCpuPercent < 5)
      return { idle: true, waitedSeconds: (performance.now() - started) / 1000, lastCpuPercent };
  }
  return { idle: false, waitedSeconds: (performance.now() - started) / 1000, lastCpuPercent };
}

/** GET `path` and read the whole answer; fails unless 200. */
async function timedGet(api: ApiInProcess, path: string, headers: Record<string, string>): Promise<number> {
  const t0 = performance.now();
  const response = await fetch(`${api.url}${path}`, { headers });
  const body = await response.text();
  const ms = performance.now() - t0;
  if (response.status !== 200) throw new Error(`${path} answered ${response.status}: ${body.slice(0, 300)}`);
  return ms;
}

/**
 * The queries through the REST API over each store, as an admin (access token) and as an agency
 * (API key), side by side with the store called directly; then authentication alone.
 */
async function throughTheApi(stores: Array<[string, TimeSeriesStore]>, dir: string): Promise<void> {
  const latestDevice = stations[0]!;
  const { required, optional } = DEVICE_TYPE_CONTRACTS[latestDevice.type].telemetry;
  const latestMetrics = [...required, ...optional];
  const cases = [
    ...QUERIES.map(({ name, query, path }) => ({
      name,
      direct: (s: TimeSeriesStore) => s.series(query),
      path,
    })),
    {
      name: 'latest values of one device',
      direct: (s: TimeSeriesStore) => s.latest(latestDevice.id, latestMetrics),
      path: `/api/v1/devices/${latestDevice.id}/latest`,
    },
  ];
  const database = openDatabase({ kind: 'sqlite', path: join(dir, 'people.sqlite') });
  await prepareDatabase(database);
  const apis: Array<[string, TimeSeriesStore, ApiInProcess]> = [];
  try {
    for (const [name, store] of stores) {
      apis.push([
        name,
        store,
        await startApiInProcess(database, {
          registry,
          store,
          logger: createLogger('bench', { level: 'silent' }),
          settings: {
            brokerUrl: 'mqtt://127.0.0.1:1',
            nodeId: `bench-${name}`,
            internalSecret: 'bench-internal-secret-0123456789',
            historyMaxPoints: 100_000,
          },
          agencyScope: { domains: ['env'] },
        }),
      ]);
    }
    const ways = ['store directly', 'REST, access token', 'REST, agency API key'] as const;
    const timings = new Map<string, number[]>();
    for (let r = 0; r < ROUNDS; r++) {
      const order = r % 2 === 0 ? apis : [...apis].reverse();
      for (const [name, store, api] of order) {
        for (const c of cases) {
          const wayOrder = r % 2 === 0 ? ways : [...ways].reverse();
          for (const way of wayOrder) {
            let ms: number;
            if (way === 'store directly') {
              const t0 = performance.now();
              await c.direct(store);
              ms = performance.now() - t0;
            } else {
              ms = await timedGet(
                api,
                c.path,
                way === 'REST, access token' ? api.adminHeaders : api.agencyHeaders,
              );
            }
            const key = `${name}|${c.name}|${way}`;
            timings.set(key, [...(timings.get(key) ?? []), ms]);
          }
        }
      }
    }
    const rows = cases.flatMap((c) =>
      apis.map(([name]) => [
        c.name,
        name,
        ...ways.map((way) => round(median(timings.get(`${name}|${c.name}|${way}`) ?? []), 2)),
      ]),
    );
    console.log(`\nthrough the REST API: median ms of ${ROUNDS} rounds, ways alternating\n`);
    console.log(table(['query', 'store', ...ways], rows));

    // Authentication alone: what every request pays before its route runs.
    const [, , api] = apis[0]!;
    const authenticator = api.app.get(Authenticator, { strict: false });
    const bearer = api.adminHeaders['authorization']!.replace(/^Bearer /, '');
    const apiKey = api.agencyHeaders['x-api-key']!;
    const authRows: Array<[string, number]> = [];
    for (const [what, credentials] of [
      ['access token (JWT + session + account)', { bearer }],
      ['agency API key (key + agency)', { apiKey }],
    ] as const) {
      const samples: number[] = [];
      for (let i = 0; i < AUTH_CALLS; i++) {
        const t0 = performance.now();
        const outcome = await authenticator.authenticate(credentials);
        samples.push((performance.now() - t0) * 1000);
        if (!outcome.ok) throw new Error(`${what} refused: ${outcome.reason}`);
      }
      authRows.push([what, round(median(samples), 1)]);
    }
    console.log(`\nauthenticating one request (median of ${AUTH_CALLS} calls, SQLite registry database)\n`);
    console.log(table(['credentials', 'median µs'], authRows));
    console.log(JSON.stringify({ benchmark: 'history-queries-api', rounds: ROUNDS, rows, auth: authRows }));
  } finally {
    for (const [, , api] of apis) await api.close();
    await database.close();
  }
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-history-'));
  const influxd = await startInfluxd();
  const stores: Array<[string, TimeSeriesStore]> = [
    ['embedded', new EmbeddedTimeSeriesStore({ dataDir: dir, retention: { rawMs: 400 * DAY } })],
    [
      'influxdb',
      new InfluxTimeSeriesStore({ url: influxd.url, database: 'bench', retention: { rawMs: 400 * DAY } }),
    ],
  ];
  try {
    for (const [name, store] of stores) {
      await store.init();
      const loaded = await load(store);
      console.log(
        `${name}: loaded ${loaded.readings} readings and built rollups in ${round(loaded.seconds, 1)} s`,
      );
    }
    // influxd may go on compacting freshly written shards (TSM level compactions) after a bulk
    // load, and queries would compete with it for the CPU: time them on a settled server, and
    // say how long that took.
    const settled = await influxdSettled();
    console.log(
      `influxd ${settled.idle ? 'settled' : 'still busy'} after ${round(settled.waitedSeconds, 1)} s ` +
        `(last second: ${round(settled.lastCpuPercent, 1)} % of a core)`,
    );
    const timings = new Map<string, number[]>();
    const answers = new Map<string, string>();
    for (let r = 0; r < ROUNDS; r++) {
      const order = r % 2 === 0 ? stores : [...stores].reverse();
      for (const [name, store] of order) {
        for (const { name: q, query } of QUERIES) {
          const t0 = performance.now();
          const result = await store.series(query);
          const ms = performance.now() - t0;
          const key = `${name}|${q}`;
          timings.set(key, [...(timings.get(key) ?? []), ms]);
          answers.set(key, `${result.points.length} points from ${result.resolution}`);
        }
      }
    }
    const rows = QUERIES.flatMap(({ name: q, target }) =>
      stores.map(([name]) => {
        const ms = median(timings.get(`${name}|${q}`) ?? []);
        return [
          q,
          name,
          answers.get(`${name}|${q}`) ?? '',
          round(ms, 1),
          target ? (ms < target ? `PASS (< ${target} ms)` : `MISS (≥ ${target} ms)`) : '',
        ];
      }),
    );
    console.log(
      `\nmedian of ${ROUNDS} rounds, stores alternating; machine: ${JSON.stringify(machineInfo())}\n`,
    );
    console.log(table(['query', 'store', 'answer', 'median ms', 'target'], rows));
    console.log(JSON.stringify({ benchmark: 'history-queries', rounds: ROUNDS, rows }));
    await throughTheApi(stores, dir);
  } finally {
    for (const [, store] of stores) await store.close();
    await influxd.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

void main();
