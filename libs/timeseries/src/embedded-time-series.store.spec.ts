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
import { EMBEDDED_DB_FILE, EmbeddedTimeSeriesStore } from './embedded-time-series.store';

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
      expect(table.sql).toMatch(/PRIMARY KEY \(device_id, metric, ts\)/);
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
        { kind: older.kind, event: null, seq: null },
        { kind: moved.kind, event: null, seq: null },
      ]);
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
