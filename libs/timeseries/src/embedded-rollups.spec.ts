import { TempDirs } from '@ioc/testing';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { MetricValue, Reading } from '@ioc/contracts';
import { EMBEDDED_DB_FILE, EmbeddedTimeSeriesStore } from './embedded-time-series.store';
import type { RetentionPolicy } from './time-series-store';

const MINUTE = 60_000;
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
/** A fixed "now" for the stores under test: retention and settling are measured against it. */
const NOW = Date.UTC(2026, 5, 15, 12, 0, 0);

const tempDirs = new TempDirs('ioc-embedded-rollups-');
const tempDir = (): Promise<string> => tempDirs.make();
const stores: EmbeddedTimeSeriesStore[] = [];
afterAll(async () => {
  await Promise.all(stores.map((s) => s.close()));
  await tempDirs.removeAll();
});

async function openStore(
  dataDir: string,
  options: { now?: () => number; retention?: Partial<RetentionPolicy>; maintenanceIntervalMs?: number } = {},
): Promise<EmbeddedTimeSeriesStore> {
  const store = new EmbeddedTimeSeriesStore({
    dataDir,
    now: () => NOW,
    maintenanceIntervalMs: 0,
    ...options,
  });
  stores.push(store);
  await store.init();
  return store;
}

function reading(deviceId: string, ts: number, metrics: Record<string, MetricValue>): Reading {
  return {
    deviceId,
    deviceType: 'air-quality-station',
    domain: 'env',
    kind: 'telemetry',
    areaId: 'ward-1',
    areaPath: ['ward-1'],
    location: { lat: 21, lon: 105 },
    ts,
    metrics,
  };
}

interface RollupRow {
  device_id: string;
  metric: string;
  bucket_start: number;
  sum: number;
  count: number;
  min: number;
  max: number;
}

/** Reads a table of the store's file through a connection of its own. */
function readTable<T>(dataDir: string, sql: string): T[] {
  const db = new Database(join(dataDir, EMBEDDED_DB_FILE), { readonly: true });
  try {
    return db.prepare(sql).all() as T[];
  } finally {
    db.close();
  }
}

/** The rollup rows the points kept must give: numbers only, one row per non-empty bucket. */
function expectedRollup(
  points: Map<string, { deviceId: string; metric: string; ts: number; value: MetricValue }>,
  step: number,
) {
  const buckets = new Map<string, RollupRow>();
  for (const p of points.values()) {
    if (typeof p.value !== 'number') continue;
    const bucket = p.ts - (p.ts % step);
    const key = JSON.stringify([p.deviceId, p.metric, bucket]);
    const row = buckets.get(key) ?? {
      device_id: p.deviceId,
      metric: p.metric,
      bucket_start: bucket,
      sum: 0,
      count: 0,
      min: Number.POSITIVE_INFINITY,
      max: Number.NEGATIVE_INFINITY,
    };
    row.sum += p.value;
    row.count += 1;
    row.min = Math.min(row.min, p.value);
    row.max = Math.max(row.max, p.value);
    buckets.set(key, row);
  }
  return [...buckets.values()].sort(
    (a, b) =>
      (a.device_id < b.device_id ? -1 : a.device_id > b.device_id ? 1 : 0) ||
      (a.metric < b.metric ? -1 : a.metric > b.metric ? 1 : 0) ||
      a.bucket_start - b.bucket_start,
  );
}

function expectRowsClose(actual: RollupRow[], expected: RollupRow[]): void {
  expect(actual.map(({ sum: _s, ...key }) => key)).toEqual(expected.map(({ sum: _s, ...key }) => key));
  actual.forEach((row, i) => expect(row.sum).toBeCloseTo(expected[i]?.sum ?? Number.NaN, 9));
}

/** Points as the store keeps them: the last write of each (device, metric, ts) wins. */
class Kept {
  readonly points = new Map<string, { deviceId: string; metric: string; ts: number; value: MetricValue }>();
  add(readings: readonly Reading[]): readonly Reading[] {
    for (const r of readings) {
      for (const [metric, value] of Object.entries(r.metrics)) {
        this.points.set(JSON.stringify([r.deviceId, metric, r.ts]), {
          deviceId: r.deviceId,
          metric,
          ts: r.ts,
          value,
        });
      }
    }
    return readings;
  }
}

const ORDER = 'ORDER BY device_id, metric, bucket_start';

describe('EmbeddedTimeSeriesStore rollups', () => {
  it('hold sum, count, min and max of exactly the numeric points kept, through duplicates and rewrites', async () => {
    const dataDir = await tempDir();
    const store = await openStore(dataDir);
    const kept = new Kept();
    const start = NOW - 3 * HOUR;
    const batch = Array.from({ length: 400 }, (_, i) =>
      reading(`dev-${i % 4}`, start + i * 23_456, {
        pm25: ((i * 37) % 101) / 4,
        on: i % 2 === 0,
        mode: 'auto',
      }),
    );
    await store.write(kept.add(batch));
    await store.compact();
    await store.write(kept.add(batch.slice(50, 150))); // duplicates, after a first roll-up
    await store.write(kept.add([batch[3]!, batch[3]!]));
    await store.write(kept.add([reading('dev-1', batch[9]!.ts, { pm25: 1e6 })])); // rewrite: new value
    await store.write(kept.add([reading('dev-2', batch[10]!.ts, { pm25: 'sensor fault' })])); // number -> text
    await store.write(kept.add([reading('dev-3', start + 7 * 23_456 + 1, { pm25: -3.5 })])); // a new point
    await store.compact();

    expectRowsClose(
      readTable<RollupRow>(dataDir, `SELECT * FROM rollup_1m ${ORDER}`),
      expectedRollup(kept.points, MINUTE),
    );
    expectRowsClose(
      readTable<RollupRow>(dataDir, `SELECT * FROM rollup_1h ${ORDER}`),
      expectedRollup(kept.points, HOUR),
    );
    // Booleans and text are not rolled up, and nothing is left to do.
    expect(readTable(dataDir, `SELECT * FROM rollup_1m WHERE metric <> 'pm25'`)).toEqual([]);
    expect(readTable(dataDir, 'SELECT * FROM dirty_buckets')).toEqual([]);
  });

  it('marks dirty buckets in the write transaction: closing before rolling up loses nothing', async () => {
    const dataDir = await tempDir();
    const first = await openStore(dataDir);
    const kept = new Kept();
    await first.write(
      kept.add(Array.from({ length: 30 }, (_, i) => reading('lamp', NOW - HOUR + i * 7_000, { power: i }))),
    );
    await first.close(); // no compact(): only the marks know the rollups are behind
    const marks = readTable<{ bucket_start: number }>(
      dataDir,
      'SELECT bucket_start FROM dirty_buckets ORDER BY 1',
    );
    expect(marks.map((m) => m.bucket_start)).toEqual(
      [...new Set([...kept.points.values()].map((p) => p.ts - (p.ts % MINUTE)))].sort((a, b) => a - b),
    );
    expect(readTable(dataDir, 'SELECT * FROM rollup_1m')).toEqual([]);

    const second = await openStore(dataDir);
    await second.compact();
    expectRowsClose(
      readTable<RollupRow>(dataDir, `SELECT * FROM rollup_1m ${ORDER}`),
      expectedRollup(kept.points, MINUTE),
    );
  });

  it('rolls up the history of a file written before rollups existed', async () => {
    const dataDir = await tempDir();
    const old = await openStore(dataDir);
    const kept = new Kept();
    await old.write(
      kept.add(
        Array.from({ length: 50 }, (_, i) => reading(`d${i % 3}`, NOW - DAY + i * 61_000, { no2: i / 3 })),
      ),
    );
    await old.close();
    // What a file of the previous version looks like: points, no rollup tables, user_version 0.
    const db = new Database(join(dataDir, EMBEDDED_DB_FILE));
    db.exec('DROP TABLE rollup_1m; DROP TABLE rollup_1h; DROP TABLE dirty_buckets; DROP TABLE rollup_state');
    db.pragma('user_version = 0');
    db.close();

    const upgraded = await openStore(dataDir);
    await upgraded.compact();
    expectRowsClose(
      readTable<RollupRow>(dataDir, `SELECT * FROM rollup_1h ${ORDER}`),
      expectedRollup(kept.points, HOUR),
    );
  });

  it('stays exact when another process (broker and API on one file) rolls up what this one wrote', async () => {
    const dataDir = await tempDir();
    const broker = await openStore(dataDir);
    const api = await openStore(dataDir);
    const kept = new Kept();
    const minute = NOW - 2 * HOUR;
    const query = {
      deviceIds: ['sensor'],
      metric: 'laeq',
      from: minute,
      to: minute + MINUTE,
      everyMs: MINUTE,
      fn: 'mean' as const,
      resolution: '1m' as const,
    };
    const mean = () => {
      const values = [...kept.points.values()].map((p) => p.value as number);
      return [{ ts: minute, value: values.reduce((a, b) => a + b, 0) / values.length, count: values.length }];
    };
    await broker.write(kept.add([reading('sensor', minute + 1000, { laeq: 50 })]));
    // The API rolls up the broker's dirty minute itself before answering...
    await expect(api.series(query)).resolves.toEqual({ resolution: '1m', points: mean() });
    // ...so the broker, which had marked that minute, must mark it again for the next point.
    await broker.write(kept.add([reading('sensor', minute + 2000, { laeq: 70 })]));
    await expect(api.series(query)).resolves.toEqual({ resolution: '1m', points: mean() });
    await broker.write(kept.add([reading('sensor', minute + 1000, { laeq: 10 })]));
    await broker.compact();
    await expect(api.series(query)).resolves.toEqual({ resolution: '1m', points: mean() });
  });

  it('rolls up finished minutes in the background, leaving the current one until it is over', async () => {
    const dataDir = await tempDir();
    let now = NOW;
    const store = await openStore(dataDir, { now: () => now, maintenanceIntervalMs: 10 });
    const kept = new Kept();
    await store.write(
      kept.add([
        reading('bg', NOW - 10 * MINUTE, { power: 1 }),
        reading('bg', NOW - 10 * MINUTE + 5, { power: 3 }),
      ]),
    );
    await store.write(kept.add([reading('bg', NOW - 1000, { power: 100 })])); // the current minute
    const dirty = () =>
      readTable<{ bucket_start: number }>(dataDir, 'SELECT bucket_start FROM dirty_buckets');
    const deadline = Date.now() + 5000;
    while (dirty().length > 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(dirty()).toEqual([{ bucket_start: NOW - MINUTE }]);
    expect(readTable<RollupRow>(dataDir, 'SELECT * FROM rollup_1m')).toEqual([
      { device_id: 'bg', metric: 'power', bucket_start: NOW - 10 * MINUTE, sum: 4, count: 2, min: 1, max: 3 },
    ]);
    now = NOW + 2 * MINUTE; // the minute is over
    while (dirty().length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(dirty()).toEqual([]);
    expectRowsClose(
      readTable<RollupRow>(dataDir, `SELECT * FROM rollup_1h ${ORDER}`),
      expectedRollup(kept.points, HOUR),
    );
  });

  it('applies retention on compact(): raw points, then minute, then hour rollups age out', async () => {
    const dataDir = await tempDir();
    let now = NOW;
    const retention = { rawMs: 2 * HOUR, oneMinuteMs: DAY, oneHourMs: 7 * DAY };
    const store = await openStore(dataDir, { now: () => now, retention });
    const kept = new Kept();
    const hour = NOW - HOUR;
    await store.write(
      kept.add(Array.from({ length: 40 }, (_, i) => reading('old', hour + i * 90_000, { temp: 20 + i / 8 }))),
    );
    await store.compact();
    const query = {
      deviceIds: ['old'],
      metric: 'temp',
      from: hour,
      to: hour + HOUR,
      everyMs: HOUR,
      fn: 'mean' as const,
    };
    const expected = expectedRollup(kept.points, HOUR).map((r) => ({
      ts: r.bucket_start,
      value: r.sum / r.count,
      count: r.count,
    }));
    const counts = () =>
      ['points', 'rollup_1m', 'rollup_1h'].map(
        (table) => readTable<{ n: number }>(dataDir, `SELECT count(*) AS n FROM ${table}`)[0]?.n,
      );
    expect(counts()).toEqual([40, expectedRollup(kept.points, MINUTE).length, 1]);

    now = NOW + 3 * HOUR; // raw retention (2 h) is over for that hour
    await store.compact();
    expect(counts()).toEqual([0, expectedRollup(kept.points, MINUTE).length, 1]);
    await expect(
      store.history({ deviceId: 'old', metric: 'temp', from: hour, to: hour + HOUR }),
    ).resolves.toEqual([]);
    // Aggregates are still answered, from the rollups that hold the period.
    const fromRollups = await store.series(query);
    expect(fromRollups.resolution).toBe('1h');
    expect(fromRollups.points).toHaveLength(1);
    expect(fromRollups.points[0]?.value).toBeCloseTo(expected[0]?.value as number, 9);
    expect(fromRollups.points[0]?.count).toBe(expected[0]?.count);
    await expect(store.series({ ...query, resolution: '1m' })).resolves.toMatchObject({
      points: [{ count: 40 }],
    });

    now = NOW + 2 * DAY; // minute rollups (1 day) gone too
    await store.compact();
    expect(counts()).toEqual([0, 0, 1]);
    await expect(store.series({ ...query, resolution: '1m' })).resolves.toEqual({
      resolution: '1m',
      points: [],
    });
    await expect(store.series(query)).resolves.toMatchObject({ resolution: '1h', points: [{ count: 40 }] });

    now = NOW + 8 * DAY; // and at last the hour rollups
    await store.compact();
    expect(counts()).toEqual([0, 0, 0]);
    await expect(store.series(query)).resolves.toMatchObject({ points: [] });
  });

  it('never rolls up a minute from raw points retention has partly deleted', async () => {
    const dataDir = await tempDir();
    let now = NOW;
    const store = await openStore(dataDir, { now: () => now, retention: { rawMs: HOUR } });
    const minute = NOW - 30 * MINUTE;
    await store.write([reading('late', minute, { v: 1 }), reading('late', minute + 1000, { v: 2 })]);
    await store.compact();
    now = NOW + 3 * HOUR;
    await store.compact(); // raw points of that minute are gone; the rollup keeps them
    // A point written into that minute now (a very late replay) is kept raw until retention, but
    // must not turn the rollup into the rollup of itself alone.
    await store.write([reading('late', minute + 2000, { v: 100 })]);
    await store.compact();
    expect(readTable<RollupRow>(dataDir, 'SELECT * FROM rollup_1m')).toEqual([
      { device_id: 'late', metric: 'v', bucket_start: minute, sum: 3, count: 2, min: 1, max: 2 },
    ]);
  });
});
