/**
 * Backup and restore benchmark: how long `npm run backup -- create / verify / restore` take for N
 * stored readings (default 1,000,000), through the library the CLI runs (@ioc/backup), on
 *
 * - `embedded`: the SQLite registry (seeded) and the embedded time-series file;
 * - `influxdb`: PostgreSQL (seeded) and InfluxDB 1.x with managed rollups (each started on free
 *   ports for the run; skipped with a message when not installed).
 *
 * The readings: 100 devices, one every 10 s each, two numeric metrics, stamped in the past and
 * rolled up (compact) before the backup. Times are wall clock on this machine; the figures feed
 * the recovery time statement in the README ("Backup and restore").
 *
 *   node -r ./scripts/register.js bench/backup-restore.ts [--readings 1000000] [--variants embedded,influxdb]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createBackup, type PlatformStores, restoreBackup, verifyBackup } from '@ioc/backup';
import type { Reading } from '@ioc/contracts';
import { type DatabaseConfig, openDatabase, prepareDatabase } from '@ioc/database';
import { loadSeeds, RegistryRepository } from '@ioc/registry';
import {
  type InfluxdHandle,
  influxdAvailable,
  type PostgresHandle,
  postgresAvailable,
  startInfluxd,
  startPostgres,
} from '@ioc/testing';
import {
  DEFAULT_RETENTION,
  EmbeddedTimeSeriesStore,
  InfluxTimeSeriesStore,
  type StorageConfig,
  type TimeSeriesStore,
} from '@ioc/timeseries';
import { machineInfo, onInterrupt, round, table } from './lib/common';

const { values: args } = parseArgs({
  options: {
    readings: { type: 'string', default: '1000000' },
    variants: { type: 'string', default: 'embedded,influxdb' },
  },
});
const READINGS = Number(args.readings);
const DEVICES = 100;
const STEP_MS = 10_000;
const BATCH = 5_000;
type Variant = 'embedded' | 'influxdb';
const requested = (args.variants as string)
  .split(',')
  .filter((v): v is Variant => v === 'embedded' || v === 'influxdb');
const seeds = loadSeeds();

/** Readings `from`…`to` (indexes) of the generated feed. */
function batch(start: number, end: number, t0: number): Reading[] {
  const out: Reading[] = [];
  for (let i = start; i < end; i++) {
    const device = i % DEVICES;
    const seed = seeds.devices[device % seeds.devices.length]!;
    out.push({
      deviceId: `bench-${String(device).padStart(3, '0')}`,
      deviceType: seed.type,
      domain: 'env',
      kind: 'telemetry',
      areaId: seed.areaId,
      areaPath: [seed.areaId],
      location: seed.location,
      ts: t0 + Math.floor(i / DEVICES) * STEP_MS,
      metrics: { pm25: 10 + (i % 97) / 3, temperature: 25 + (i % 13) / 10 },
    });
  }
  return out;
}

async function fill(store: TimeSeriesStore): Promise<number> {
  const started = performance.now();
  const t0 = Math.floor((Date.now() - (READINGS / DEVICES) * STEP_MS - 3_600_000) / 3_600_000) * 3_600_000;
  for (let i = 0; i < READINGS; i += BATCH) await store.write(batch(i, Math.min(READINGS, i + BATCH), t0));
  await store.compact();
  return performance.now() - started;
}

async function seedRegistry(config: DatabaseConfig): Promise<void> {
  const database = openDatabase(config);
  await prepareDatabase(database, {
    afterMigrate: async (db) => {
      await new RegistryRepository(db).importSeeds(seeds);
    },
  });
  await database.close();
}

interface Result {
  variant: Variant;
  fillMs: number;
  createMs: number;
  verifyMs: number;
  restoreMs: number;
  bytes: number;
}

async function run(
  variant: Variant,
  dir: string,
  postgres?: PostgresHandle,
  influxd?: InfluxdHandle,
): Promise<Result> {
  const sourceDir = join(dir, `${variant}-source`);
  const targetDir = join(dir, `${variant}-target`);
  let source: PlatformStores;
  let target: PlatformStores;
  let store: TimeSeriesStore;
  if (variant === 'embedded') {
    const storage = (dataDir: string): StorageConfig => ({
      storage: 'embedded',
      thread: 'caller',
      dataDir,
      retention: DEFAULT_RETENTION,
    });
    source = {
      dataDir: sourceDir,
      database: { kind: 'sqlite', path: join(sourceDir, 'registry.sqlite') },
      storage: storage(sourceDir),
    };
    target = {
      dataDir: targetDir,
      database: { kind: 'sqlite', path: join(targetDir, 'registry.sqlite') },
      storage: storage(targetDir),
    };
    store = new EmbeddedTimeSeriesStore({ dataDir: sourceDir, maintenanceIntervalMs: 0 });
  } else {
    const storage = (database: string): StorageConfig => ({
      storage: 'influxdb',
      thread: 'caller',
      url: (influxd as InfluxdHandle).url,
      database,
      createDatabase: true,
      rollups: 'managed',
      retention: DEFAULT_RETENTION,
    });
    const pg = postgres as PostgresHandle;
    source = {
      dataDir: sourceDir,
      database: { kind: 'postgres', url: await pg.createDatabase('bench_source') },
      storage: storage('bench_source'),
    };
    target = {
      dataDir: targetDir,
      database: { kind: 'postgres', url: await pg.createDatabase('bench_target') },
      storage: storage('bench_target'),
    };
    store = new InfluxTimeSeriesStore({
      url: (influxd as InfluxdHandle).url,
      database: 'bench_source',
      maintenanceIntervalMs: 0,
      timeoutMs: 600_000,
    });
  }
  await seedRegistry(source.database);
  await store.init();
  const fillMs = await fill(store);
  await store.close();
  const backupDir = join(dir, `${variant}-backup`);
  let started = performance.now();
  const manifest = await createBackup({ stores: source, dir: backupDir, platform: { version: 'bench' } });
  const createMs = performance.now() - started;
  started = performance.now();
  const verified = await verifyBackup(backupDir);
  const verifyMs = performance.now() - started;
  if (!verified.ok) throw new Error(`the backup does not verify: ${verified.problems.join('; ')}`);
  started = performance.now();
  await restoreBackup({ stores: target, dir: backupDir });
  const restoreMs = performance.now() - started;
  const bytes = manifest.files.reduce((sum, file) => sum + file.bytes, 0);
  return { variant, fillMs, createMs, verifyMs, restoreMs, bytes };
}

async function main(): Promise<void> {
  const variants = requested.filter((variant) => {
    if (variant === 'influxdb' && (!postgresAvailable() || !influxdAvailable())) {
      console.log('NOTE: PostgreSQL or influxd is not installed: the influxdb variant is skipped');
      return false;
    }
    return true;
  });
  const dir = mkdtempSync(join(tmpdir(), 'bench-backup-'));
  let postgres: PostgresHandle | undefined;
  let influxd: InfluxdHandle | undefined;
  const cleanup = async (): Promise<void> => {
    await Promise.all([postgres?.stop(), influxd?.stop()]);
    rmSync(dir, { recursive: true, force: true });
  };
  const unregister = onInterrupt(cleanup);
  try {
    if (variants.includes('influxdb'))
      [postgres, influxd] = await Promise.all([startPostgres(), startInfluxd()]);
    console.log(
      `backup and restore: ${READINGS} readings (${DEVICES} devices, 2 metrics each), seeded registry`,
    );
    console.log(JSON.stringify(machineInfo()));
    const results: Result[] = [];
    for (const variant of variants) {
      const result = await run(variant, dir, postgres, influxd);
      console.log(
        `${variant}: stored in ${round(result.fillMs)} ms; create ${round(result.createMs)} ms, verify ${round(result.verifyMs)} ms, restore ${round(result.restoreMs)} ms, ${round(result.bytes / 1e6, 1)} MB`,
      );
      results.push(result);
    }
    console.log(
      '\n' +
        table(
          [
            'variant',
            'create s',
            'verify s',
            'restore s',
            'backup MB',
            'readings/s backed up',
            'readings/s restored',
          ],
          results.map((r) => [
            r.variant,
            round(r.createMs / 1000, 1),
            round(r.verifyMs / 1000, 1),
            round(r.restoreMs / 1000, 1),
            round(r.bytes / 1e6, 1),
            round(READINGS / (r.createMs / 1000)),
            round(READINGS / (r.restoreMs / 1000)),
          ]),
        ),
    );
    console.log(JSON.stringify({ bench: 'backup-restore', readings: READINGS, results }));
  } finally {
    unregister();
    await cleanup();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
