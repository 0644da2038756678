import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AuditLog } from '@ioc/audit';
import { openDatabase, prepareDatabase } from '@ioc/database';
import { loadSeeds, RegistryRepository } from '@ioc/registry';
import { TempDirs } from '@ioc/testing';
import Database from 'better-sqlite3';
import { DEFAULT_RETENTION, EmbeddedTimeSeriesStore } from '@ioc/timeseries';
import { createBackup, type PlatformStores, restoreBackup, verifyBackup } from './backup';
import { BackupError, type BackupManifest } from './manifest';
import { copySqliteOnline, sqliteProblem } from './sqlite-copy';

/*
 * The library on the embedded stores (SQLite registry, embedded time series, key files), without
 * the platform's processes: refusals and checks. The round trip with a running platform is
 * test/backup.e2e-spec.ts.
 */

const seeds = loadSeeds();

function stores(dataDir: string): PlatformStores {
  return {
    dataDir,
    database: { kind: 'sqlite', path: join(dataDir, 'registry.sqlite') },
    storage: { storage: 'embedded', thread: 'caller', dataDir, retention: DEFAULT_RETENTION },
  };
}

describe('backup on the embedded stores', () => {
  const dirs = new TempDirs('ioc-backup-embedded-');
  let source: PlatformStores;
  beforeAll(async () => {
    source = stores(await dirs.make());
    const database = openDatabase(source.database);
    await prepareDatabase(database, {
      afterMigrate: async (db) => {
        await new RegistryRepository(db).importSeeds(seeds);
      },
    });
    await new AuditLog(database.db).record({ actor: { kind: 'system', id: 'spec' }, action: 'area.create' });
    await database.close();
    const store = new EmbeddedTimeSeriesStore({ dataDir: source.dataDir, maintenanceIntervalMs: 0 });
    await store.init();
    const device = seeds.devices[0]!;
    await store.write(
      [0, 1, 2].map((k) => ({
        deviceId: device.id,
        deviceType: device.type,
        domain: 'env',
        kind: 'telemetry',
        areaId: device.areaId,
        areaPath: [device.areaId],
        location: device.location,
        ts: Date.UTC(2026, 10, 30, 8, k),
        metrics: { pm25: 10 + k },
      })),
    );
    await store.compact(); // the 1-minute rollups
    await store.close();
    mkdirSync(join(source.dataDir, 'keys'), { mode: 0o700 });
    writeFileSync(
      join(source.dataDir, 'keys', 'device-credential.key'),
      'c291cmNlLWtleS0wMTIzNDU2Nzg5MDEyMzQ1Njc4OTAx\n',
    );
  });
  afterAll(() => dirs.removeAll());

  it('a backup that fails leaves nothing behind', async () => {
    const dir = join(await dirs.make(), 'backup');
    const missing = stores(join(await dirs.make(), 'not-a-platform'));
    await expect(createBackup({ stores: missing, dir, platform: { version: 'spec' } })).rejects.toThrow(
      /no registry database at .*not-a-platform\/registry\.sqlite/,
    );
    expect(existsSync(dir)).toBe(false);
  });

  it('verify compares the files with the counts the manifest states', async () => {
    const dir = join(await dirs.make(), 'backup');
    const manifest = await createBackup({ stores: source, dir, platform: { version: 'spec' } });
    expect(manifest.counts).toMatchObject({
      devices: seeds.devices.length,
      auditEntries: 1,
      points: { points: 3, rollup_1m: 3 },
    });
    expect(await verifyBackup(dir)).toMatchObject({ ok: true });
    const edited: BackupManifest = {
      ...manifest,
      counts: { ...manifest.counts, devices: manifest.counts.devices + 1 },
    };
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify(edited));
    expect((await verifyBackup(dir)).problems).toEqual([
      `registry.sqlite: ${seeds.devices.length} devices rows, the manifest says ${seeds.devices.length + 1}`,
    ]);
  });

  it('restore refuses a target holding another key, names it, and replaces it with force', async () => {
    const dir = join(await dirs.make(), 'backup');
    await createBackup({ stores: source, dir, platform: { version: 'spec' } });
    const target = stores(await dirs.make());
    const key = join(target.dataDir, 'keys', 'device-credential.key');
    mkdirSync(join(target.dataDir, 'keys'));
    writeFileSync(key, 'b3RoZXIta2V5LTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDEyMzQ1\n');
    const refused = restoreBackup({ stores: target, dir });
    await expect(refused).rejects.toThrow(BackupError);
    await expect(refused).rejects.toThrow(`the target is not empty: ${key} is another key than the backup's`);
    expect(existsSync(target.database.kind === 'sqlite' ? target.database.path : '')).toBe(false);
    const restored = await restoreBackup({ stores: target, dir, force: true });
    expect(restored.counts).toMatchObject({ devices: seeds.devices.length, auditEntries: 1 });
    expect(readFileSync(key, 'utf8')).toBe(
      readFileSync(join(source.dataDir, 'keys', 'device-credential.key'), 'utf8'),
    );
    expect(restored.points).toMatchObject({ points: 3 });
  });

  it('the online copy is a consistent snapshot while another process keeps committing', async () => {
    const dir = await dirs.make();
    const live = join(dir, 'live.sqlite');
    const setup = new Database(live);
    setup.pragma('journal_mode = WAL');
    setup.exec('CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT NOT NULL)');
    setup.close();
    // A writer process (as the broker is): transactions of 100 rows, as fast as it can.
    const writer = spawn(
      process.execPath,
      [
        '-e',
        `const db = new (require('better-sqlite3'))(${JSON.stringify(live)}, { timeout: 5000 });
         db.pragma('journal_mode = WAL');
         const insert = db.prepare('INSERT INTO t (v) VALUES (?)');
         const batch = db.transaction(() => { for (let i = 0; i < 100; i++) insert.run('x'.repeat(200)); });
         process.stdout.write('ready\\n');
         for (;;) batch();`,
      ],
      { cwd: join(__dirname, '..', '..', '..'), stdio: ['ignore', 'pipe', 'inherit'] },
    );
    try {
      await new Promise<void>((resolve, reject) => {
        writer.stdout.once('data', () => resolve());
        writer.once('exit', (code) => reject(new Error(`the writer exited with ${code}`)));
      });
      const counts: number[] = [];
      for (let round = 0; round < 3; round++) {
        const copy = join(dir, `copy-${round}.sqlite`);
        await copySqliteOnline(live, copy);
        expect(sqliteProblem(copy)).toBeUndefined();
        const db = new Database(copy, { readonly: true });
        const { n } = db.prepare('SELECT count(*) AS n FROM t').get() as { n: number };
        db.close();
        // Only whole transactions: never a part of one.
        expect(n % 100).toBe(0);
        counts.push(n);
        // Before the next copy, the writer has committed more (polled, with a deadline).
        const deadline = Date.now() + 10_000;
        const reader = new Database(live, { readonly: true });
        try {
          while ((reader.prepare('SELECT count(*) AS n FROM t').get() as { n: number }).n <= n) {
            if (Date.now() > deadline) throw new Error('the writer committed nothing more in 10 s');
            await new Promise((resolve) => setTimeout(resolve, 5));
          }
        } finally {
          reader.close();
        }
      }
      // The writer kept committing between the copies: each copy is a later snapshot.
      expect(counts[1]).toBeGreaterThan(counts[0] as number);
      expect(counts[2]).toBeGreaterThan(counts[1] as number);
    } finally {
      writer.kill('SIGKILL');
    }
  });
});
