import { TempDirs } from '@ioc/testing';
import { rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { Reading } from '@ioc/contracts';
import {
  describeTimeSeriesStoreConformance,
  KEEP_EVERYTHING,
} from './conformance/time-series-store.conformance';
import { ROLLUP_SCHEMA, ROLLUP_SCHEMA_VERSION } from './embedded-rollups';
import {
  EMBEDDED_DB_FILE,
  EmbeddedTimeSeriesStore,
  POINTS_IDENTITY_SCHEMA_VERSION,
} from './embedded-time-series.store';

const tempDirs = new TempDirs('ioc-embedded-ts-');
const tempDir = (): Promise<string> => tempDirs.make();
afterAll(async () => {
  await tempDirs.removeAll();
});

describeTimeSeriesStoreConformance('embedded (SQLite)', async () => {
  const dir = await tempDir();
  // A data directory that does not exist yet: init() must create it.
  const store = new EmbeddedTimeSeriesStore({
    dataDir: join(dir, 'nested', 'data'),
    retention: KEEP_EVERYTHING,
  });
  return {
    store,
    teardown: async () => {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});

const T0 = Date.UTC(2026, 10, 27, 8, 0, 0);
function reading(
  deviceId: string,
  ts: number,
  metrics: Reading['metrics'],
  extra: Partial<Reading> = {},
): Reading {
  return {
    deviceId,
    deviceType: 'street-light',
    domain: 'lighting',
    kind: 'telemetry',
    areaId: 'ward-1',
    areaPath: ['province', 'ward-1'],
    location: { lat: 21, lon: 105 },
    ts,
    metrics,
    ...extra,
  };
}

describe('EmbeddedTimeSeriesStore', () => {
  it('keeps one file <dataDir>/timeseries.sqlite in WAL mode with a WITHOUT ROWID point table', async () => {
    const dataDir = join(await tempDir(), 'ts');
    const store = new EmbeddedTimeSeriesStore({ dataDir });
    await store.init();
    await store.write([reading('lamp-1', T0, { on: true })]);
    await store.close();

    const file = join(dataDir, EMBEDDED_DB_FILE);
    expect(store.path).toBe(file);
    expect(existsSync(file)).toBe(true);
    const db = new Database(file, { readonly: true });
    try {
      expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
      const table = db
        .prepare("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'points'")
        .get() as {
        sql: string;
      };
      expect(table.sql).toMatch(/PRIMARY KEY \(device_id, metric, ts, kind, event\)/);
      expect(table.sql).toMatch(/WITHOUT ROWID/);
    } finally {
      db.close();
    }
  });

  it('keeps acknowledged readings across close and reopen', async () => {
    const dataDir = await tempDir();
    const written = Array.from({ length: 50 }, (_, i) =>
      reading('lamp-2', T0 + i * 1000, { activePower: i * 1.5, on: i % 2 === 0 }),
    );
    const first = new EmbeddedTimeSeriesStore({ dataDir });
    await first.init();
    await first.write(written);
    await first.close();

    const second = new EmbeddedTimeSeriesStore({ dataDir });
    await second.init();
    try {
      await expect(
        second.history({ deviceId: 'lamp-2', metric: 'activePower', from: T0, to: T0 + 60_000 }),
      ).resolves.toStrictEqual(written.map((r) => ({ ts: r.ts, value: r.metrics['activePower'] })));
    } finally {
      await second.close();
    }
  });

  it("records each device's type, domain and area once, keeping the newest description", async () => {
    const dataDir = await tempDir();
    const store = new EmbeddedTimeSeriesStore({ dataDir });
    await store.init();
    const moved = reading(
      'lamp-3',
      T0 + 2000,
      { on: true },
      { areaId: 'ward-2', areaPath: ['province', 'ward-2'] },
    );
    const older = reading('lamp-3', T0 + 1000, { on: false });
    await store.write([moved]);
    await store.write([older]); // arrives late: must not undo the move
    await store.close();

    const db = new Database(join(dataDir, EMBEDDED_DB_FILE), { readonly: true });
    try {
      expect(db.prepare('SELECT * FROM devices').all()).toStrictEqual([
        {
          device_id: moved.deviceId,
          device_type: moved.deviceType,
          domain: moved.domain,
          area_id: moved.areaId,
          area_path: JSON.stringify(moved.areaPath),
          last_ts: moved.ts,
        },
      ]);
      const kinds = db.prepare('SELECT kind, event, seq FROM points ORDER BY ts').all();
      expect(kinds).toStrictEqual([
        // No event: '' (a primary-key column of a WITHOUT ROWID table cannot be NULL).
        { kind: older.kind, event: '', seq: null },
        { kind: moved.kind, event: '', seq: null },
      ]);
    } finally {
      db.close();
    }
  });

  it('migrates a version-1 file (points keyed by device, metric, ts) to the record identity, keeping every row', async () => {
    const dataDir = await tempDir();
    // The layout of version 1, as a store of that version created it (rollup tables included).
    const old = new Database(join(dataDir, EMBEDDED_DB_FILE));
    old.exec(`
      CREATE TABLE points (
        device_id TEXT NOT NULL, metric TEXT NOT NULL, ts INTEGER NOT NULL,
        num REAL, bool INTEGER, str TEXT, kind TEXT NOT NULL, event TEXT, seq INTEGER,
        PRIMARY KEY (device_id, metric, ts),
        CHECK ((num IS NOT NULL) + (bool IS NOT NULL) + (str IS NOT NULL) = 1)
      ) WITHOUT ROWID;
      ${ROLLUP_SCHEMA}
    `);
    const insert = old.prepare(
      'INSERT INTO points (device_id, metric, ts, num, bool, str, kind, event, seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
    );
    const rows = [
      ['cam-1', 'online', T0, null, 1, null, 'telemetry', null, 4],
      ['cam-1', 'confidence', T0 + 1000, 0.75, null, null, 'event', 'accident', 5],
      ['cam-1', 'fps', T0, 25, null, null, 'telemetry', null, null],
    ] as const;
    for (const row of rows) insert.run(...row);
    old.pragma(`user_version = ${ROLLUP_SCHEMA_VERSION}`);
    old.close();

    const store = new EmbeddedTimeSeriesStore({ dataDir });
    await store.init();
    try {
      await expect(store.latest('cam-1', ['online', 'confidence', 'fps'])).resolves.toStrictEqual({
        online: { ts: T0, value: true },
        confidence: { ts: T0 + 1000, value: 0.75, event: 'accident' },
        fps: { ts: T0, value: 25 },
      });
      // The new identity applies to the migrated table: a status `online` in the same ms is kept
      // beside the migrated telemetry one.
      await store.write([reading('cam-1', T0, { online: false }, { kind: 'status' })]);
      await expect(
        store.history({ deviceId: 'cam-1', metric: 'online', from: T0, to: T0 + 1 }),
      ).resolves.toStrictEqual([
        { ts: T0, value: false },
        { ts: T0, value: true },
      ]);
    } finally {
      await store.close();
    }
    const db = new Database(join(dataDir, EMBEDDED_DB_FILE), { readonly: true });
    try {
      expect(db.pragma('user_version', { simple: true })).toBe(POINTS_IDENTITY_SCHEMA_VERSION);
      expect(
        db.prepare('SELECT seq FROM points WHERE metric = ? AND kind = ?').get('online', 'telemetry'),
      ).toEqual({
        seq: 4,
      });
    } finally {
      db.close();
    }
  });

  it('writes tens of thousands of points in one call, in one transaction', async () => {
    const store = new EmbeddedTimeSeriesStore({ dataDir: await tempDir() });
    await store.init();
    try {
      const devices = 20;
      const readings = Array.from({ length: 20_000 }, (_, i) =>
        reading(`lamp-bulk-${i % devices}`, T0 + Math.floor(i / devices) * 1000, {
          activePower: i,
          on: i % 3 === 0,
          lampFault: 'none',
        }),
      );
      const started = performance.now();
      await store.write(readings);
      const elapsed = performance.now() - started;
      // 60 000 points: a prepared statement in one transaction does this in well under a second.
      expect(elapsed).toBeLessThan(5000);
      const one = await store.history({
        deviceId: 'lamp-bulk-7',
        metric: 'activePower',
        from: T0,
        to: T0 + 10_000_000,
      });
      expect(one).toHaveLength(readings.length / devices);
      expect(one.at(-1)).toStrictEqual({
        ts: readings.at(-13)!.ts,
        value: readings.at(-13)!.metrics['activePower'],
      });
    } finally {
      await store.close();
    }
  });

  it('says clearly when used before init() or after close()', async () => {
    const store = new EmbeddedTimeSeriesStore({ dataDir: await tempDir() });
    await expect(store.latest('x', ['on'])).rejects.toThrow(/init\(\)/);
    await expect(store.ping()).resolves.toBe(false);
    await store.init();
    await expect(store.ping()).resolves.toBe(true);
    await store.close();
    await expect(store.write([reading('x', T0, { on: true })])).rejects.toThrow(/closed/);
    await expect(store.ping()).resolves.toBe(false);
    await store.close(); // idempotent
  });
});
