import {
  chmodSync,
  copyFileSync,
  createReadStream,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { AuditLog } from '@ioc/audit';
import { type DatabaseConfig, describeDatabase, openDatabase } from '@ioc/database';
import { EMBEDDED_DB_FILE, InfluxTimeSeriesStore, type StorageConfig } from '@ioc/timeseries';
import {
  exportMeasurement,
  importMeasurement,
  influxContents,
  type InfluxChunkMs,
  influxExportTargets,
  type InfluxSource,
  InfluxV1Client,
  markHoursPending,
  measurementKey,
} from './influx-export';
import {
  BACKUP_FORMAT,
  BACKUP_FORMAT_VERSION,
  BackupError,
  type BackupFile,
  type BackupManifest,
  fileDigest,
  MANIFEST_FILE,
  readManifest,
} from './manifest';
import {
  COUNTED_TABLES,
  dumpPostgres,
  pgDumpProblem,
  postgresTables,
  type RegistrySnapshotCounts,
  restorePostgres,
} from './postgres-dump';
import { copySqliteOnline, countRows, sqliteProblem } from './sqlite-copy';

/**
 * Where a platform keeps its state, as its processes are configured (the same environment:
 * IOC_DATA_DIR, IOC_DATABASE_URL, IOC_STORAGE and the IOC_INFLUX_* variables).
 */
export interface PlatformStores {
  /** IOC_DATA_DIR: the embedded databases and the generated keys (`keys/`). */
  dataDir: string;
  /** The registry database (databaseConfigFromEnv). */
  database: DatabaseConfig;
  /** The time-series store (storageConfigFromEnv). */
  storage: StorageConfig;
}

/** File names inside a backup directory. */
export const BACKUP_FILES = {
  registrySqlite: 'registry.sqlite',
  registryPgDump: 'registry.pgdump',
  timeseriesSqlite: 'timeseries.sqlite',
  influxDir: 'influx',
  keysDir: 'keys',
} as const;

/** Tables of the embedded time-series file whose rows the manifest counts. */
export const EMBEDDED_COUNTED_TABLES = ['points', 'rollup_1m', 'rollup_1h'] as const;

/** Per-request timeout of the InfluxDB adapter while restore rolls up restored hours: 10 minutes. */
export const RESTORE_ROLLUP_TIMEOUT_MS = 600_000;

/** The key directory under IOC_DATA_DIR (device credential key, token secret, webhook secret key). */
const KEYS_DIR = 'keys';

/**
 * What no backup holds, written into every manifest (and the README's "Backup and restore").
 */
export const NOT_INCLUDED = [
  "Each broker node's durable spool (IOC_SPOOL_DIR, default {IOC_DATA_DIR}/spool): readings acknowledged to devices but not yet in the store when the backup ran reach the store afterwards and are in the next backup.",
  'Redis (IOC_REDIS_URL): MQTT sessions of devices connected with clean=false (their subscriptions and queued QoS 1 messages), retained messages and the alert engine input stream; devices re-subscribe when they reconnect, and the readings in that stream are also in the store.',
  'Keys given in the environment (IOC_DEVICE_CREDENTIAL_KEY, IOC_AUTH_TOKEN_SECRET, IOC_WEBHOOK_SECRET_KEY): only the key files generated under {IOC_DATA_DIR}/keys are copied; configured keys belong in the deployment secret store.',
];

export interface CreateBackupOptions {
  stores: PlatformStores;
  /** The backup directory: created (mode 0700); refused when it exists and is not empty. */
  dir: string;
  /** The platform writing the backup: package version and, when known, its commit. */
  platform: { version: string; commit?: string };
  /** Time chunks of the InfluxDB export, ms (DEFAULT_CHUNK_MS for what is not given). */
  influxChunkMs?: Partial<InfluxChunkMs>;
  /** Progress lines for a CLI (one per step). */
  log?: (line: string) => void;
}

/** The InfluxDB adapter's settings as the exporter needs them. */
function influxSource(storage: Extract<StorageConfig, { storage: 'influxdb' }>): InfluxSource {
  return {
    url: storage.url.replace(/\/+$/, ''),
    database: storage.database,
    rollups: storage.rollups,
    ...(storage.token !== undefined ? { token: storage.token } : {}),
    ...(storage.username !== undefined ? { username: storage.username } : {}),
    ...(storage.password !== undefined ? { password: storage.password } : {}),
    ...(storage.retentionPolicy !== undefined ? { retentionPolicy: storage.retentionPolicy } : {}),
  };
}

/** Rows and audit head of a registry SQLite file (a backup copy: nothing writes it). */
function registryCountsSqlite(path: string): RegistrySnapshotCounts {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    const rows = countRows(db, COUNTED_TABLES);
    if (rows['audit_log'] === undefined) return { rows };
    const head = db.prepare('SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1').get() as
      { seq: number; hash: string } | undefined;
    return head === undefined ? { rows } : { rows, auditHead: { seq: head.seq, hash: head.hash } };
  } finally {
    db.close();
  }
}

function embeddedCounts(path: string): Record<string, number> {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    return countRows(db, EMBEDDED_COUNTED_TABLES);
  } finally {
    db.close();
  }
}

/** True when `dir` does not exist or holds nothing. */
function isEmptyDir(dir: string): boolean {
  return !existsSync(dir) || readdirSync(dir).length === 0;
}

/**
 * Backs up a platform while it runs, into a new directory:
 *
 * - the registry: SQLite through the online backup API (a consistent snapshot beside the writing
 *   broker and API), PostgreSQL through `pg_dump --format=custom` in an exported snapshot;
 * - the time series: the embedded store's file through the online backup API (rollups are in it),
 *   or InfluxDB's raw points and rollups as line protocol, per measurement in time chunks over
 *   the v1 /query API (1.x, 2.x, 3.x alike);
 * - the key files under `{IOC_DATA_DIR}/keys` (mode 0600): without the device credential key no
 *   restored device secret can be checked — a backup is as secret as these keys;
 * - `manifest.json`: format version, platform, times, sources, every file's size and SHA-256, and
 *   the counts a restore must reproduce (devices, rules, alerts, audit entries and head, points).
 *
 * The registry is copied before the time series, so every reading the restored registry can know
 * of is in the restored history (the series may hold a few seconds more).
 *
 * @returns the manifest written
 * @throws BackupError when the directory is not empty or a store is missing; Error from a store
 *   (what was written is removed again: a failed backup leaves the directory as it found it)
 */
export async function createBackup(options: CreateBackupOptions): Promise<BackupManifest> {
  const { dir } = options;
  if (!isEmptyDir(dir)) throw new BackupError(`${dir} exists and is not empty: back up into a new directory`);
  const existed = existsSync(dir);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  try {
    return await writeBackup(options);
  } catch (error) {
    // Nothing half-written is left behind: the directory was empty (or absent) before.
    if (existed)
      for (const name of readdirSync(dir)) rmSync(join(dir, name), { recursive: true, force: true });
    else rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

async function writeBackup(options: CreateBackupOptions): Promise<BackupManifest> {
  const { stores, dir } = options;
  const log = options.log ?? (() => undefined);
  const createdAt = new Date().toISOString();
  const files: Omit<BackupFile, 'bytes' | 'sha256'>[] = [];
  const points: Record<string, number> = {};

  let registry: RegistrySnapshotCounts;
  if (stores.database.kind === 'sqlite') {
    if (!existsSync(stores.database.path)) {
      throw new BackupError(
        `no registry database at ${stores.database.path}: is IOC_DATA_DIR the platform's?`,
      );
    }
    const copy = join(dir, BACKUP_FILES.registrySqlite);
    await copySqliteOnline(stores.database.path, copy);
    registry = registryCountsSqlite(copy);
    files.push({ path: BACKUP_FILES.registrySqlite, role: 'registry' });
  } else {
    registry = await dumpPostgres(stores.database.url, join(dir, BACKUP_FILES.registryPgDump));
    files.push({ path: BACKUP_FILES.registryPgDump, role: 'registry' });
  }
  log(`registry (${describeDatabase(stores.database)}): ${JSON.stringify(registry.rows)}`);

  if (stores.storage.storage === 'embedded') {
    const source = join(stores.storage.dataDir, EMBEDDED_DB_FILE);
    if (existsSync(source)) {
      const copy = join(dir, BACKUP_FILES.timeseriesSqlite);
      await copySqliteOnline(source, copy);
      Object.assign(points, embeddedCounts(copy));
      files.push({ path: BACKUP_FILES.timeseriesSqlite, role: 'timeseries' });
    }
    log(`time series (embedded ${source}): ${JSON.stringify(points)}`);
  } else {
    const source = influxSource(stores.storage);
    const client = new InfluxV1Client(source);
    mkdirSync(join(dir, BACKUP_FILES.influxDir), { mode: 0o700 });
    for (const target of influxExportTargets(source, options.influxChunkMs)) {
      const key = measurementKey(target);
      const path = `${BACKUP_FILES.influxDir}/${key.replace(/^\./, 'default.')}.lp`;
      points[key] = await exportMeasurement(client, source, target, join(dir, path));
      files.push({
        path,
        role: 'timeseries',
        measurement: target.measurement,
        ...(target.retentionPolicy !== undefined ? { retentionPolicy: target.retentionPolicy } : {}),
      });
      log(`time series (InfluxDB ${source.database} ${key}): ${points[key]} points`);
    }
  }

  const keysDir = join(stores.dataDir, KEYS_DIR);
  if (existsSync(keysDir)) {
    const names = readdirSync(keysDir).filter((name) => statSync(join(keysDir, name)).isFile());
    if (names.length > 0) mkdirSync(join(dir, BACKUP_FILES.keysDir), { mode: 0o700 });
    for (const name of names.sort()) {
      const path = `${BACKUP_FILES.keysDir}/${name}`;
      copyFileSync(join(keysDir, name), join(dir, path));
      files.push({ path, role: 'key' });
    }
    log(`keys: ${names.join(', ') || 'none'}`);
  }

  const digested: BackupFile[] = [];
  for (const file of files) {
    chmodSync(join(dir, file.path), 0o600);
    digested.push({ ...file, ...(await fileDigest(join(dir, file.path))) });
  }
  const manifest: BackupManifest = {
    format: BACKUP_FORMAT,
    formatVersion: BACKUP_FORMAT_VERSION,
    platform: options.platform,
    createdAt,
    finishedAt: new Date().toISOString(),
    source: {
      registry: stores.database.kind,
      timeseries: stores.storage.storage,
      ...(stores.storage.storage === 'influxdb'
        ? {
            influx: {
              database: stores.storage.database,
              rollups: stores.storage.rollups,
              ...(stores.storage.retentionPolicy !== undefined
                ? { retentionPolicy: stores.storage.retentionPolicy }
                : {}),
            },
          }
        : {}),
    },
    files: digested,
    counts: {
      devices: registry.rows['devices'] ?? 0,
      rules: registry.rows['rules'] ?? 0,
      alerts: registry.rows['alerts'] ?? 0,
      auditEntries: registry.rows['audit_log'] ?? 0,
      ...(registry.auditHead !== undefined ? { auditHead: registry.auditHead } : {}),
      points,
    },
    notIncluded: NOT_INCLUDED,
  };
  // Written last, exclusively: a directory without a manifest is an unfinished backup.
  writeFileSync(join(dir, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`, {
    mode: 0o600,
    flag: 'wx',
  });
  return manifest;
}

/** The answer of verifyBackup: ok, or the problems found (each naming a file or a count). */
export interface VerifyResult {
  ok: boolean;
  problems: string[];
  manifest?: BackupManifest;
}

/** Lines in a text file (streamed). */
async function countLines(path: string): Promise<number> {
  let lines = 0;
  for await (const chunk of createReadStream(path)) {
    for (const byte of chunk as Buffer) if (byte === 0x0a) lines++;
  }
  return lines;
}

/**
 * Checks a backup directory without restoring it: the manifest's shape and version, every file's
 * presence, size and SHA-256, no file the manifest does not name, SQLite files by `PRAGMA
 * quick_check` and their counts against the manifest, a PostgreSQL dump by `pg_restore --list`,
 * line-protocol files by their line counts.
 */
export async function verifyBackup(dir: string): Promise<VerifyResult> {
  let manifest: BackupManifest;
  try {
    manifest = readManifest(join(dir, MANIFEST_FILE));
  } catch (error) {
    return { ok: false, problems: [(error as Error).message] };
  }
  const problems: string[] = [];
  const named = new Set(manifest.files.map((file) => file.path));
  const present = (relative: string): string[] =>
    readdirSync(join(dir, relative), { withFileTypes: true }).flatMap((entry) => {
      const path = relative === '' ? entry.name : `${relative}/${entry.name}`;
      return entry.isDirectory() ? present(path) : [path];
    });
  for (const path of present('')) {
    if (path !== MANIFEST_FILE && !named.has(path)) problems.push(`${path}: not in the manifest`);
  }
  for (const file of manifest.files) {
    const path = join(dir, file.path);
    if (!existsSync(path)) {
      problems.push(`${file.path}: missing`);
      continue;
    }
    const { sha256, bytes } = await fileDigest(path);
    if (bytes !== file.bytes) problems.push(`${file.path}: ${bytes} bytes, the manifest says ${file.bytes}`);
    else if (sha256 !== file.sha256)
      problems.push(`${file.path}: SHA-256 ${sha256}, the manifest says ${file.sha256}`);
    if (problems.some((problem) => problem.startsWith(`${file.path}:`))) continue;
    if (file.path === BACKUP_FILES.registrySqlite) {
      const problem = sqliteProblem(path);
      if (problem !== undefined) problems.push(`${file.path}: ${problem}`);
      else {
        const { rows } = registryCountsSqlite(path);
        const expected = manifest.counts;
        for (const [table, count] of [
          ['devices', expected.devices],
          ['rules', expected.rules],
          ['alerts', expected.alerts],
          ['audit_log', expected.auditEntries],
        ] as const) {
          if ((rows[table] ?? 0) !== count)
            problems.push(`${file.path}: ${rows[table] ?? 0} ${table} rows, the manifest says ${count}`);
        }
      }
    } else if (file.path === BACKUP_FILES.timeseriesSqlite) {
      const problem = sqliteProblem(path);
      if (problem !== undefined) problems.push(`${file.path}: ${problem}`);
      else {
        for (const [table, count] of Object.entries(embeddedCounts(path))) {
          if (manifest.counts.points[table] !== count)
            problems.push(
              `${file.path}: ${count} ${table} rows, the manifest says ${manifest.counts.points[table] ?? 'none'}`,
            );
        }
      }
    } else if (file.path === BACKUP_FILES.registryPgDump) {
      const problem = await pgDumpProblem(path);
      if (problem !== undefined) problems.push(`${file.path}: ${problem}`);
    } else if (file.measurement !== undefined) {
      const key = measurementKey({ retentionPolicy: file.retentionPolicy, measurement: file.measurement });
      const lines = await countLines(path);
      if (manifest.counts.points[key] !== lines)
        problems.push(
          `${file.path}: ${lines} lines, the manifest says ${manifest.counts.points[key] ?? 'none'}`,
        );
    }
  }
  return { ok: problems.length === 0, problems, manifest };
}

export interface RestoreBackupOptions {
  stores: PlatformStores;
  dir: string;
  /**
   * Replace what the target holds. Without it a target that is not empty is refused, naming what
   * was found. SQLite files are replaced; a PostgreSQL target's schema is dropped and created
   * again; InfluxDB points are written over (points of the target that the backup does not have
   * stay: drop the database first for an exact copy); key files are overwritten.
   */
  force?: boolean;
  /**
   * InfluxDB with managed rollups: recompute the rollups of every restored hour from its raw
   * points (default true). False keeps exactly the exported rollups (a test compares both ways).
   */
  recomputeRollups?: boolean;
  log?: (line: string) => void;
}

/** What a restore checked after restoring. */
export interface RestoreResult {
  manifest: BackupManifest;
  /** The restored registry's counts (equal to the manifest's, or restore throws). */
  counts: { devices: number; rules: number; alerts: number; auditEntries: number };
  /** The restored audit chain, verified: entries and head. */
  audit: { entries: number; head: { seq: number; hash: string } };
  /** Points written back per measurement (InfluxDB), or the file's rows (embedded). */
  points: Record<string, number>;
}

/** What the target holds already: one phrase per store that is not empty. */
async function targetContents(
  stores: PlatformStores,
  manifest: BackupManifest,
  dir: string,
): Promise<string[]> {
  const found: string[] = [];
  const describeRows = (rows: Record<string, number>): string =>
    Object.entries(rows)
      .filter(([, n]) => n > 0)
      .map(([table, n]) => `${n} ${table}`)
      .join(', ');
  if (stores.database.kind === 'sqlite') {
    if (existsSync(stores.database.path)) {
      const db = new Database(stores.database.path, { readonly: true, fileMustExist: true });
      try {
        const rows = describeRows(countRows(db, COUNTED_TABLES));
        if (rows !== '') found.push(`${stores.database.path} holds ${rows}`);
      } finally {
        db.close();
      }
    }
  } else {
    const { tables, rows } = await postgresTables(stores.database.url);
    if (tables.length > 0) {
      const counted = describeRows(rows);
      found.push(
        `${describeDatabase(stores.database)} has ${tables.length} tables${counted === '' ? '' : ` (${counted})`}`,
      );
    }
  }
  if (stores.storage.storage === 'embedded') {
    const path = join(stores.storage.dataDir, EMBEDDED_DB_FILE);
    if (existsSync(path)) {
      const rows = describeRows(embeddedCounts(path));
      if (rows !== '') found.push(`${path} holds ${rows}`);
    }
  } else {
    const source = influxSource(stores.storage);
    const contents = await influxContents(new InfluxV1Client(source), source);
    const rows = describeRows(contents);
    if (rows !== '') found.push(`InfluxDB ${source.database} holds ${rows} points`);
  }
  for (const file of manifest.files.filter((f) => f.role === 'key')) {
    const target = join(stores.dataDir, KEYS_DIR, file.path.slice(BACKUP_FILES.keysDir.length + 1));
    if (existsSync(target) && !readFileSync(target).equals(readFileSync(join(dir, file.path)))) {
      found.push(`${target} is another key than the backup's`);
    }
  }
  return found;
}

/** Removes a SQLite file with its -wal and -shm files. */
function removeSqlite(path: string): void {
  for (const suffix of ['', '-wal', '-shm', '-journal']) rmSync(`${path}${suffix}`, { force: true });
}

/**
 * Restores a backup into a fresh installation (the platform's processes on the target stopped):
 * verifies the backup first (verifyBackup), refuses a target whose kind differs from the backup's
 * (a SQLite backup into PostgreSQL, embedded into InfluxDB) or that is not empty (unless
 * `force`), then restores the registry (file copy, or `pg_restore` in one transaction), the time
 * series (file copy, or line protocol written back by /write in batches) and the key files (0600
 * in a 0700 `keys/`), and finally checks the result: the registry's counts equal the manifest's,
 * and the audit chain verifies and ends at the manifest's head.
 *
 * InfluxDB rollups: the exported rollups are written back as they were (the only copy of hours
 * whose raw points have expired), and with managed rollups every hour that has raw points is
 * marked pending and recomputed from them by the adapter's own maintenance (init() + compact()),
 * so the restored rollups are what the adapter computes from the restored points.
 *
 * @throws BackupError naming the problem: a bad backup, a mismatched or non-empty target, counts
 *   or an audit chain that do not match after restoring
 */
export async function restoreBackup(options: RestoreBackupOptions): Promise<RestoreResult> {
  const { stores, dir } = options;
  const log = options.log ?? (() => undefined);
  const verified = await verifyBackup(dir);
  if (!verified.ok || verified.manifest === undefined) {
    throw new BackupError(`the backup in ${dir} does not verify: ${verified.problems.join('; ')}`);
  }
  const manifest = verified.manifest;
  if (manifest.source.registry !== stores.database.kind) {
    throw new BackupError(
      `the backup's registry is ${manifest.source.registry}, the target's is ${stores.database.kind}: restore into the same kind (IOC_DATABASE_URL)`,
    );
  }
  if (manifest.source.timeseries !== stores.storage.storage) {
    throw new BackupError(
      `the backup's time series are ${manifest.source.timeseries}, the target's are ${stores.storage.storage}: restore into the same kind (IOC_STORAGE)`,
    );
  }
  const found = await targetContents(stores, manifest, dir);
  if (found.length > 0 && options.force !== true) {
    throw new BackupError(
      `the target is not empty: ${found.join('; ')}. Restore into fresh data directories and an empty database, or pass --force to replace what is there`,
    );
  }
  const file = (role: BackupFile['role']): BackupFile[] => manifest.files.filter((f) => f.role === role);

  // Registry.
  const registryFile = file('registry')[0];
  if (registryFile === undefined) throw new BackupError('the backup holds no registry');
  if (stores.database.kind === 'sqlite') {
    mkdirSync(join(stores.database.path, '..'), { recursive: true });
    removeSqlite(stores.database.path);
    copyFileSync(join(dir, registryFile.path), stores.database.path);
    chmodSync(stores.database.path, 0o600);
  } else {
    const { tables } = await postgresTables(stores.database.url);
    await restorePostgres(stores.database.url, join(dir, registryFile.path), { replace: tables.length > 0 });
  }
  log(`registry restored into ${describeDatabase(stores.database)}`);

  // Time series.
  const points: Record<string, number> = {};
  if (stores.storage.storage === 'embedded') {
    const series = file('timeseries')[0];
    if (series !== undefined) {
      mkdirSync(stores.storage.dataDir, { recursive: true });
      const target = join(stores.storage.dataDir, EMBEDDED_DB_FILE);
      removeSqlite(target);
      copyFileSync(join(dir, series.path), target);
      chmodSync(target, 0o600);
      Object.assign(points, embeddedCounts(target));
    }
  } else {
    const storage = stores.storage;
    const source = influxSource(storage);
    const client = new InfluxV1Client(source);
    const storeOptions = {
      url: source.url,
      database: source.database,
      createDatabase: storage.createDatabase,
      rollups: storage.rollups,
      retention: storage.retention,
      maintenanceIntervalMs: 0,
      // Rolling up a restored day is one SELECT … INTO over all its points: far longer than an
      // ingest request (the adapter's default is 10 s; a day of 1 M readings took longer here).
      timeoutMs: RESTORE_ROLLUP_TIMEOUT_MS,
      ...(source.token !== undefined ? { token: source.token } : {}),
      ...(source.username !== undefined ? { username: source.username } : {}),
      ...(source.password !== undefined ? { password: source.password } : {}),
      ...(source.retentionPolicy !== undefined ? { retentionPolicy: source.retentionPolicy } : {}),
    };
    // The adapter's init(): on 1.x it creates the database, the retention policies the rollup
    // files are written into, and the continuous queries.
    const setup = new InfluxTimeSeriesStore(storeOptions);
    await setup.init();
    await setup.close();
    const rawTarget = influxExportTargets(source)[0];
    const rawKey = rawTarget === undefined ? undefined : measurementKey(rawTarget);
    const hours = new Set<number>();
    for (const lp of file('timeseries')) {
      if (lp.measurement === undefined) continue;
      const key = measurementKey({ retentionPolicy: lp.retentionPolicy, measurement: lp.measurement });
      const isRaw = key === rawKey;
      points[key] = await importMeasurement(
        client,
        lp.retentionPolicy,
        join(dir, lp.path),
        isRaw ? (ts) => hours.add(Math.floor(ts / 3_600_000) * 3_600_000) : undefined,
      );
      log(`time series: ${points[key]} points written back into ${key}`);
    }
    if (storage.rollups === 'managed' && options.recomputeRollups !== false && hours.size > 0) {
      await markHoursPending(
        client,
        rawTarget?.retentionPolicy,
        [...hours].sort((a, b) => a - b),
        Date.now(),
      );
      const roller = new InfluxTimeSeriesStore(storeOptions);
      await roller.init(); // takes the pending hours into its backlog
      await roller.compact(); // and rolls them up
      await roller.close();
      log(`rollups recomputed for ${hours.size} hours`);
    }
  }

  // Keys.
  const keys = file('key');
  if (keys.length > 0) {
    const keysDir = join(stores.dataDir, KEYS_DIR);
    mkdirSync(keysDir, { recursive: true, mode: 0o700 });
    chmodSync(keysDir, 0o700);
    for (const key of keys) {
      const target = join(keysDir, key.path.slice(BACKUP_FILES.keysDir.length + 1));
      copyFileSync(join(dir, key.path), target);
      chmodSync(target, 0o600);
    }
    log(`keys restored into ${keysDir}`);
  }

  // Check what was restored.
  const database = openDatabase(stores.database);
  try {
    const count = async (table: 'devices' | 'rules' | 'alerts' | 'audit_log'): Promise<number> => {
      const row = await database.db
        .selectFrom(table)
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .executeTakeFirst();
      return Number(row?.n ?? 0);
    };
    const counts = {
      devices: await count('devices'),
      rules: await count('rules'),
      alerts: await count('alerts'),
      auditEntries: await count('audit_log'),
    };
    for (const name of ['devices', 'rules', 'alerts', 'auditEntries'] as const) {
      if (counts[name] !== manifest.counts[name]) {
        throw new BackupError(
          `restored ${counts[name]} ${name}, the backup's manifest says ${manifest.counts[name]}`,
        );
      }
    }
    const audit = await new AuditLog(database.db).verify();
    if (!audit.ok) {
      throw new BackupError(
        `the restored audit chain is broken at seq ${audit.brokenAt} (${audit.problem}); ${audit.entries} entries before it hold`,
      );
    }
    const head = manifest.counts.auditHead;
    if (head !== undefined && (audit.head.seq !== head.seq || audit.head.hash !== head.hash)) {
      throw new BackupError(
        `the restored audit chain ends at seq ${audit.head.seq} hash ${audit.head.hash}, the backup's at seq ${head.seq} hash ${head.hash}`,
      );
    }
    log(`audit chain verified: ${audit.entries} entries, head seq ${audit.head.seq}`);
    return { manifest, counts, audit: { entries: audit.entries, head: audit.head }, points };
  } finally {
    await database.close();
  }
}
