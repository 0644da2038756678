import { existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AuditLog } from '@ioc/audit';
import type { Reading } from '@ioc/contracts';
import { type DatabaseConfig, openDatabase, prepareDatabase } from '@ioc/database';
import { loadSeeds, RegistryRepository } from '@ioc/registry';
import {
  influxdAvailable,
  type InfluxdHandle,
  describeWithPostgres,
  type PostgresHandle,
  startInfluxd,
  startPostgres,
  TempDirs,
} from '@ioc/testing';
import { DEFAULT_RETENTION, InfluxTimeSeriesStore, type StorageConfig } from '@ioc/timeseries';
import { createBackup, type PlatformStores, restoreBackup, verifyBackup } from './backup';
import { InfluxV1Client } from './influx-export';
import { BackupError } from './manifest';

/*
 * The library against real servers: a registry on PostgreSQL (pg_dump / pg_restore) and time
 * series on InfluxDB 1.x with managed rollups (the v1 /query export and /write restore), restored
 * into a new database on each server; the restored stores answer what the source stores did.
 */

jest.setTimeout(180_000);

const MINUTE = 60_000;
const HOUR = 3_600_000;
const seeds = loadSeeds();

function influxStorage(url: string, database: string): InfluxStorage {
  return {
    storage: 'influxdb',
    thread: 'caller',
    url,
    database,
    createDatabase: true,
    rollups: 'managed',
    retention: DEFAULT_RETENTION,
  };
}

type InfluxStorage = Extract<StorageConfig, { storage: 'influxdb' }>;

function influxStore(storage: InfluxStorage): InfluxTimeSeriesStore {
  return new InfluxTimeSeriesStore({
    url: storage.url,
    database: storage.database,
    rollups: 'managed',
    maintenanceIntervalMs: 0,
  });
}

/** Readings of three devices every 30 s over three past hours: numbers, booleans and strings. */
function readings(from: number): Reading[] {
  const devices = seeds.devices.slice(0, 3);
  const out: Reading[] = [];
  for (let k = 0; k < 360; k++) {
    for (const [i, device] of devices.entries()) {
      out.push({
        deviceId: device.id,
        deviceType: device.type,
        domain: 'env',
        kind: 'telemetry',
        areaId: device.areaId,
        areaPath: [device.areaId],
        location: device.location,
        ts: from + k * 30_000 + i,
        seq: k,
        metrics: {
          pm25: 10 + ((k * 7 + i) % 53) / 4,
          on: k % 3 === 0,
          note: k % 60 === 0 ? `n "${k}" a,b=c` : 'ok',
        },
      });
    }
  }
  return out;
}

describeWithPostgres('backup and restore on PostgreSQL and InfluxDB 1.x', () => {
  const dirs = new TempDirs('ioc-backup-spec-');
  let postgres: PostgresHandle;
  let influxd: InfluxdHandle;
  let source: PlatformStores;
  let from: number;

  beforeAll(async () => {
    if (!influxdAvailable()) throw new Error('influxd is not installed (Debian package influxdb)');
    [postgres, influxd] = await Promise.all([startPostgres(), startInfluxd()]);
    const url = await postgres.createDatabase('ioc_source');
    const database = openDatabase({ kind: 'postgres', url });
    await prepareDatabase(database, {
      afterMigrate: async (db) => {
        await new RegistryRepository(db).importSeeds(seeds);
      },
    });
    const audit = new AuditLog(database.db);
    for (let i = 0; i < 5; i++) {
      await audit.record({
        actor: { kind: 'system', id: 'backup-spec' },
        action: 'device.update',
        entity: { type: 'device', id: seeds.devices[i]?.id ?? 'x' },
        after: { name: `n${i}` },
      });
    }
    await database.close();
    const storage = influxStorage(influxd.url, 'ioc_source');
    const store = influxStore(storage);
    await store.init();
    from = Math.floor(Date.now() / HOUR) * HOUR - 4 * HOUR;
    const all = readings(from);
    for (let i = 0; i < all.length; i += 500) await store.write(all.slice(i, i + 500));
    await store.compact();
    await store.close();
    source = { dataDir: await dirs.make(), database: { kind: 'postgres', url }, storage };
  });
  afterAll(async () => {
    await Promise.all([postgres?.stop(), influxd?.stop()]);
    await dirs.removeAll();
  });

  /** What a store answers for the readings' window: raw history, and series at each resolution. */
  async function answers(storage: InfluxStorage): Promise<unknown> {
    const store = influxStore(storage);
    await store.init();
    try {
      const devices = seeds.devices.slice(0, 3).map((d) => d.id);
      const to = from + 3 * HOUR;
      const out: Record<string, unknown> = {};
      for (const deviceId of devices) {
        for (const metric of ['pm25', 'on', 'note']) {
          out[`${deviceId} ${metric}`] = await store.history({ deviceId, metric, from, to });
        }
      }
      for (const resolution of ['raw', '1m', '1h'] as const) {
        for (const [everyMs, fn] of [
          [MINUTE, 'mean'],
          [HOUR, 'max'],
          [HOUR, 'min'],
        ] as const) {
          if (resolution === '1h' && everyMs === MINUTE) continue;
          out[`series ${resolution} ${everyMs} ${fn}`] = await store.series({
            deviceIds: devices,
            metric: 'pm25',
            from,
            to,
            everyMs,
            fn,
            resolution,
          });
        }
      }
      return out;
    } finally {
      await store.close();
    }
  }

  /** A fresh PostgreSQL database and InfluxDB database (`name` for both). */
  async function emptyTarget(name: string): Promise<PlatformStores> {
    return {
      dataDir: await dirs.make(),
      database: { kind: 'postgres', url: await postgres.createDatabase(name) },
      storage: influxStorage(influxd.url, name),
    };
  }

  /** Points per measurement of an InfluxDB database, counted by InfluxDB. */
  async function pointCounts(database: string): Promise<Record<string, number>> {
    const client = new InfluxV1Client({ url: influxd.url, database, rollups: 'managed' });
    const out: Record<string, number> = {};
    for (const from of ['"autogen"."readings"', '"rp_1m"."readings_1m"', '"rp_1h"."readings_1h"']) {
      const [series] = await client.query(`SELECT count(*) FROM ${from}`);
      out[from] = Math.max(0, ...(series?.values?.[0]?.slice(1) ?? []).map(Number));
    }
    return out;
  }

  it('backs up, verifies and restores into empty databases; the restored stores answer the same', async () => {
    const dir = join(await dirs.make(), 'backup');
    // Chunks of 20 minutes: the export pages through the raw points in 12+ queries.
    const manifest = await createBackup({
      stores: source,
      dir,
      platform: { version: '0.0.0-test' },
      influxChunkMs: { raw: 20 * MINUTE, '1m': HOUR },
    });
    expect(manifest.source).toEqual({
      registry: 'postgres',
      timeseries: 'influxdb',
      influx: { database: 'ioc_source', rollups: 'managed' },
    });
    expect(manifest.counts).toMatchObject({
      devices: seeds.devices.length,
      auditEntries: 5,
      points: { 'autogen.readings': 1080, 'rp_1m.readings_1m': 3 * 180, 'rp_1h.readings_1h': 3 * 3 },
    });
    expect(manifest.counts.auditHead?.seq).toBe(5);
    expect(manifest.files.map((f) => f.path).sort()).toEqual([
      'influx/autogen.readings.lp',
      'influx/rp_1h.readings_1h.lp',
      'influx/rp_1m.readings_1m.lp',
      'registry.pgdump',
    ]);
    for (const file of manifest.files) expect(statSync(join(dir, file.path)).mode & 0o777).toBe(0o600);
    expect(await verifyBackup(dir)).toMatchObject({ ok: true, problems: [] });

    const target: PlatformStores = {
      dataDir: await dirs.make(),
      database: { kind: 'postgres', url: await postgres.createDatabase('ioc_target') },
      storage: influxStorage(influxd.url, 'ioc_target'),
    };
    const restored = await restoreBackup({ stores: target, dir });
    expect(restored.counts).toEqual({
      devices: seeds.devices.length,
      rules: manifest.counts.rules,
      alerts: 0,
      auditEntries: 5,
    });
    expect(restored.audit).toEqual({ entries: 5, head: manifest.counts.auditHead });
    expect(restored.points).toEqual(manifest.counts.points);

    // The registry: the same devices, and an audit chain that verifies with the same head.
    const database = openDatabase(target.database);
    try {
      const ids = (await database.db.selectFrom('devices').select('id').orderBy('id').execute()).map(
        (r) => r.id,
      );
      expect(ids).toEqual(seeds.devices.map((d) => d.id).sort());
      expect(await new AuditLog(database.db).verify()).toMatchObject({ ok: true, entries: 5 });
    } finally {
      await database.close();
    }
    // The time series: what the source answers, raw and from both rollups; the rollups hold as
    // many points as the source's (exported and written back, then recomputed from the raw points).
    expect(await answers(target.storage as InfluxStorage)).toEqual(
      await answers(source.storage as InfluxStorage),
    );
    expect(await pointCounts('ioc_target')).toEqual(await pointCounts('ioc_source'));

    // Again into the same target: refused, naming what is there; --force replaces it.
    const again = restoreBackup({ stores: target, dir });
    await expect(again).rejects.toThrow(BackupError);
    await expect(again).rejects.toThrow(
      /the target is not empty: postgres .* has \d+ tables \(\d+ devices.*InfluxDB ioc_target holds/,
    );
    await expect(restoreBackup({ stores: target, dir, force: true })).resolves.toMatchObject({
      audit: { entries: 5 },
    });
  });

  it('rollups only exported, or only recomputed from the restored raw points, answer the same', async () => {
    const dir = join(await dirs.make(), 'backup');
    const manifest = await createBackup({ stores: source, dir, platform: { version: '0.0.0-test' } });
    const expected = (await answers(source.storage as InfluxStorage)) as Record<
      string,
      { resolution?: string; points?: unknown[] } & unknown[]
    >;
    const expectedCounts = await pointCounts('ioc_source');
    // What is compared is there: every raw point, and each resolution answering from itself.
    expect(expected[`${seeds.devices[0]?.id} note`]).toHaveLength(360);
    expect(expected[`series 1m ${MINUTE} mean`]).toMatchObject({ resolution: '1m' });
    expect(expected[`series 1m ${MINUTE} mean`]?.points).toHaveLength(180);
    expect(expected[`series 1h ${HOUR} max`]).toMatchObject({ resolution: '1h' });
    expect(expected[`series 1h ${HOUR} max`]?.points).toHaveLength(3);

    // Exported only: the rollup files written back, nothing recomputed.
    const exported = await emptyTarget('ioc_exported');
    await restoreBackup({ stores: exported, dir, recomputeRollups: false });
    expect(await pointCounts('ioc_exported')).toEqual(expectedCounts);
    expect(await answers(exported.storage as InfluxStorage)).toEqual(expected);

    // Recomputed only: the same backup without its rollup files (as if they were not exported).
    for (const file of manifest.files.filter((f) => f.path.includes('_1'))) rmSync(join(dir, file.path));
    const trimmed = {
      ...manifest,
      files: manifest.files.filter((f) => !f.path.includes('_1')),
      counts: {
        ...manifest.counts,
        points: { 'autogen.readings': manifest.counts.points['autogen.readings'] ?? 0 },
      },
    };
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify(trimmed));
    const recomputed = await emptyTarget('ioc_recomputed');
    await restoreBackup({ stores: recomputed, dir });
    expect(await pointCounts('ioc_recomputed')).toEqual(expectedCounts);
    expect(await answers(recomputed.storage as InfluxStorage)).toEqual(expected);
  });

  it('refuses a backup of another kind than the target, before touching it', async () => {
    const dir = join(await dirs.make(), 'backup');
    await createBackup({ stores: source, dir, platform: { version: '0.0.0-test' } });
    const dataDir = await dirs.make();
    const sqlite: DatabaseConfig = { kind: 'sqlite', path: join(dataDir, 'registry.sqlite') };
    await expect(
      restoreBackup({ stores: { dataDir, database: sqlite, storage: source.storage }, dir }),
    ).rejects.toThrow("the backup's registry is postgres, the target's is sqlite");
    expect(existsSync(sqlite.path)).toBe(false);
    expect(readFileSync(join(dir, 'manifest.json'), 'utf8')).toContain('"registry": "postgres"');
  });
});
