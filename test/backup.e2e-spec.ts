import { execFile } from 'node:child_process';
import { cpSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { connectAsync, type MqttClient } from 'mqtt';
import { AuditLog } from '@ioc/audit';
import { type BackupManifest } from '@ioc/backup';
import { type Device, deviceTopic } from '@ioc/contracts';
import { type DatabaseConfig, openDatabase } from '@ioc/database';
import { DeviceRegistry, loadSeeds } from '@ioc/registry';
import {
  describeWithPostgres,
  eventually,
  influxdAvailable,
  type InfluxdHandle,
  type PostgresHandle,
  type RunningPlatform,
  startInfluxd,
  startPlatform,
  startPostgres,
  TempDirs,
} from '@ioc/testing';
import { getJson } from './support/clients';

/*
 * `npm run backup` against a running platform (broker and API as real processes, embedded store,
 * SQLite registry) while readings flow; the backup restored into fresh data directories; a second
 * platform started on them answers devices, rules, alerts, the audit chain and history as the
 * first did for the data up to the backup, and logs in a device with the secret the first issued
 * (the device credential key came with the backup).
 */

jest.setTimeout(300_000);

const ROOT = resolve(__dirname, '..');
const registry = new DeviceRegistry(loadSeeds());
const stations = registry.listDevices({ type: 'air-quality-station' });
const station = (i: number): Device => stations[i] as Device;
const RULE_ID = 'e2e-backup-pm25';
const NEW_DEVICE = 'sl-backup-001';
const MINUTE = 60_000;
const HOUR = 3_600_000;

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a platform CLI (`npm run backup` / `npm run audit` without npm) with the platform's environment. */
function cli(
  script: 'backup-cli.ts' | 'audit-cli.ts',
  args: string[],
  env: Record<string, string>,
): Promise<CliResult> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      ['-r', join(ROOT, 'scripts', 'register.js'), join(ROOT, 'apps', 'api', 'src', script), ...args],
      { cwd: ROOT, env: { ...process.env, ...env } },
      (error, stdout, stderr) =>
        done({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : -1, stdout, stderr }),
    );
  });
}

const publishPm25 = (client: MqttClient, device: Device, ts: number, pm25: number) =>
  client.publishAsync(deviceTopic('env', device.id, 'telemetry'), JSON.stringify({ ts, metrics: { pm25 } }), {
    qos: 1,
  });

const connect = (url: string, clientId: string, username: string, password: string): Promise<MqttClient> =>
  connectAsync(url, { clientId, reconnectPeriod: 0, connectTimeout: 5000, clean: true, username, password });

/** What a platform answers about the data that existed before the backup. */
async function answers(
  platform: RunningPlatform,
  from: number,
  to: number,
): Promise<Record<string, unknown>> {
  const admin = await platform.admin();
  const get = async (path: string): Promise<Record<string, unknown>> => {
    const { status, body } = await getJson(admin, `${platform.httpUrl}${path}`);
    expect({ path, status }).toEqual({ path, status: 200 });
    return body;
  };
  const devices = (await get('/api/v1/devices?limit=5000'))['items'] as Record<string, unknown>[];
  const history: Record<string, unknown> = {};
  for (const device of [station(0), station(1)]) {
    history[`${device.id} raw`] = await get(
      `/api/v1/devices/${device.id}/history?metric=pm25&from=${from}&to=${to}`,
    );
  }
  const ids = `${station(0).id},${station(1).id}`;
  // 1-minute windows (the 1m rollup) and hour windows (the 1h rollup), as the console asks.
  history['1m max'] = await get(
    `/api/v1/history?devices=${ids}&metrics=pm25&every=1m&fn=max&from=${from}&to=${to}`,
  );
  history['1h mean'] = await get(
    `/api/v1/history?devices=${ids}&metrics=pm25&every=1h&fn=mean&from=${from}&to=${to}`,
  );
  return {
    // What describes a device; its connection status is the live network's, not the backup's.
    devices: devices.map(({ id, type, name, areaId, state, location }) => ({
      id,
      type,
      name,
      areaId,
      state,
      location,
    })),
    rules: await get('/api/v1/rules'),
    alerts: await get(`/api/v1/alerts?ruleId=${RULE_ID}&limit=100`),
    history,
  };
}

/** One installation's stores, as the platform and the CLI are configured. */
interface Installation {
  /** Environment for the platform's processes and the CLI (the data directory excepted). */
  env: Record<string, string>;
  storage: 'embedded' | 'influxdb';
  database: DatabaseConfig | ((dataDir: string) => DatabaseConfig);
}

const databaseOf = (installation: Installation, dataDir: string): DatabaseConfig =>
  typeof installation.database === 'function' ? installation.database(dataDir) : installation.database;

/**
 * The whole round trip: a platform on `source` with a rule, a new device and its credential (REST),
 * an alert fired and resolved, two hours of history; `backup create` while a live feed runs;
 * `restore` into `target` (fresh data directory; a second restore is refused); a platform on the
 * target answers what the source did and logs in the device with the source's secret.
 * @returns the running platforms, for the caller to stop
 */
async function roundTrip(
  dirs: TempDirs,
  sourceInstallation: Installation,
  targetInstallation: Installation,
  expectedFiles: string[],
  started: (platform: RunningPlatform) => void,
): Promise<{ backupDir: string; sourceEnv: Record<string, string> }> {
  const platform = await startPlatform({
    storage: sourceInstallation.storage,
    env: { ...sourceInstallation.env, IOC_ALERT_SNAPSHOT_MS: '300', IOC_WRITE_BATCH_DELAY_MS: '50' },
  });
  started(platform);
  const admin = await platform.admin(); // an admin login: audited
  const logStart = platform.broker.output().length;
  const post = (path: string, body: unknown) =>
    fetch(`${platform.httpUrl}${path}`, {
      method: 'POST',
      headers: { ...admin.headers, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  const rule = await post('/api/v1/rules', {
    id: RULE_ID,
    kind: 'threshold',
    name: { vi: 'PM2.5 vượt ngưỡng (backup)', en: 'PM2.5 spike (backup)' },
    severity: 'warning',
    scope: { deviceIds: [station(0).id, station(1).id] },
    metric: 'pm25',
    condition: { op: 'above', value: 100 },
    clear: { op: 'below', value: 80 },
    message: { vi: '{device}: {metric} {value} {unit}', en: '{device}: {metric} {value} {unit}' },
  });
  expect(rule.status).toBe(201);
  // Registry writes through REST (audited): a new device and its credential.
  const created = await post('/api/v1/devices', {
    id: NEW_DEVICE,
    type: 'street-light',
    name: 'Đèn sao lưu',
    areaId: station(0).areaId,
    location: { lat: 11.3, lon: 106.1 },
  });
  expect(created.status).toBe(201);
  const credential = await post(`/api/v1/devices/${NEW_DEVICE}/credentials`, {});
  expect(credential.status).toBe(201);
  const secret = ((await credential.json()) as { secret: string }).secret;
  expect(typeof secret).toBe('string');
  await eventually(
    async () => (platform.broker.output().indexOf(RULE_ID, logStart) >= 0 ? true : undefined),
    30_000,
    'the broker loading the rule',
  );

  // Two hours of minute readings of two stations, stamped in the past: station 0 crosses the
  // threshold (an alert fires and resolves), station 1 stays below it.
  const from = Math.floor(Date.now() / HOUR) * HOUR - 3 * HOUR;
  const to = from + 2 * HOUR;
  for (const [index, device] of [station(0), station(1)].entries()) {
    const client = await connect(
      platform.mqttUrl,
      `e2e-backup-${index}`,
      device.id,
      platform.deviceSecret(device.id),
    );
    for (let k = 0; k < 120; k++) {
      const pm25 = index === 0 ? (k >= 30 && k < 40 ? 130 : 40 + (k % 7)) : 20 + (k % 11);
      await publishPm25(client, device, from + k * MINUTE, pm25);
    }
    await client.endAsync();
  }
  await eventually(
    async () => {
      const { body } = await getJson(admin, `${platform.httpUrl}/api/v1/alerts?ruleId=${RULE_ID}&limit=100`);
      const list = body['alerts'] as { state: string }[];
      return list.length === 1 && list[0]?.state === 'resolved' ? true : undefined;
    },
    30_000,
    'the alert fired and resolved',
  );
  await eventually(
    async () => {
      const { body } = await getJson(
        admin,
        `${platform.httpUrl}/api/v1/devices/${station(1).id}/history?metric=pm25&from=${from}&to=${to}`,
      );
      return (body['points'] as unknown[] | undefined)?.length === 120 ? true : undefined;
    },
    30_000,
    'the readings stored',
  );

  // A live feed while the backup runs: readings keep reaching the store.
  const live = await connect(
    platform.mqttUrl,
    'e2e-backup-live',
    station(2).id,
    platform.deviceSecret(station(2).id),
  );
  let feeding = true;
  let fed = 0;
  const feed = (async () => {
    while (feeding) {
      await publishPm25(live, station(2), Date.now(), 15);
      fed++;
    }
  })();
  await eventually(async () => (fed >= 20 ? true : undefined), 10_000, 'the live feed running');
  const backupDir = join(await dirs.make(), 'backup');
  const sourceEnv = { ...sourceInstallation.env, IOC_DATA_DIR: platform.dataDir };
  const created1 = await cli('backup-cli.ts', ['create', backupDir], sourceEnv);
  const fedDuringBackup = fed;
  feeding = false;
  await feed;
  await live.endAsync();
  expect(created1).toMatchObject({ code: 0 });
  expect(fedDuringBackup).toBeGreaterThan(20);

  const manifest = JSON.parse(readFileSync(join(backupDir, 'manifest.json'), 'utf8')) as BackupManifest;
  expect(manifest.source).toMatchObject({
    registry: databaseOf(sourceInstallation, platform.dataDir).kind,
    timeseries: sourceInstallation.storage,
  });
  expect(manifest.files.map((f) => f.path)).toEqual(
    expect.arrayContaining([...expectedFiles, 'keys/device-credential.key', 'keys/auth-token.key']),
  );
  const rules = (await getJson(admin, `${platform.httpUrl}/api/v1/rules`)).body['rules'] as unknown[];
  expect(manifest.counts.rules).toBe(rules.length); // the seeded rules and ours
  expect(manifest.counts.alerts).toBeGreaterThanOrEqual(1);
  expect(manifest.counts.devices).toBe(registry.listDevices({}).length + 1);
  expect(manifest.counts.auditEntries).toBeGreaterThanOrEqual(4); // login, rule, device, credential
  const rawPoints = sourceInstallation.storage === 'embedded' ? 'points' : 'autogen.readings';
  expect(manifest.counts.points[rawPoints]).toBeGreaterThanOrEqual(240);
  for (const file of manifest.files) expect(statSync(join(backupDir, file.path)).mode & 0o777).toBe(0o600);
  expect(statSync(backupDir).mode & 0o777).toBe(0o700);
  expect(await cli('backup-cli.ts', ['verify', backupDir], {})).toMatchObject({ code: 0 });

  // Into fresh data directories; the second time the target is not empty and is refused.
  const restoredDir = await dirs.make();
  const restoreEnv = { ...targetInstallation.env, IOC_DATA_DIR: restoredDir };
  const restore = await cli('backup-cli.ts', ['restore', backupDir], restoreEnv);
  expect(restore).toMatchObject({ code: 0 });
  expect(restore.stdout).toContain('audit chain verified');
  const again = await cli('backup-cli.ts', ['restore', backupDir], restoreEnv);
  expect(again.code).toBe(1);
  expect(again.stderr).toMatch(
    /the target is not empty: .*(registry\.sqlite holds |has \d+ tables \()\d+ devices/,
  );
  expect(await cli('audit-cli.ts', ['verify'], restoreEnv)).toMatchObject({ code: 0 });

  // The restored chain is the source's, up to the backup: same head entry, same hash.
  const head = manifest.counts.auditHead;
  expect(head).toBeDefined();
  const sourceDb = openDatabase(databaseOf(sourceInstallation, platform.dataDir));
  const sourceEntry = await sourceDb.db
    .selectFrom('audit_log')
    .select('hash')
    .where('seq', '=', head?.seq ?? 0)
    .executeTakeFirst();
  await sourceDb.close();
  expect(sourceEntry?.hash).toBe(head?.hash);
  const restoredDb = openDatabase(databaseOf(targetInstallation, restoredDir));
  const verified = await new AuditLog(restoredDb.db).verify();
  await restoredDb.close();
  expect(verified).toMatchObject({ ok: true, entries: manifest.counts.auditEntries, head });

  const before = await answers(platform, from, to);
  // What is compared is there: the new device, our alert, two hours of history in every form.
  const seen = before as {
    devices: { id: string }[];
    alerts: { alerts: unknown[] };
    history: Record<string, { points?: unknown[]; series?: { points: unknown[] }[] }>;
  };
  expect(seen.devices.map((d) => d.id)).toContain(NEW_DEVICE);
  expect(seen.alerts.alerts).toHaveLength(1);
  expect(seen.history[`${station(1).id} raw`]?.points).toHaveLength(120);
  expect(seen.history['1m max']?.series?.map((series) => series.points.length)).toEqual([120, 120]);
  expect(seen.history['1h mean']?.series?.map((series) => series.points.length)).toEqual([2, 2]);
  const restored = await startPlatform({ storage: targetInstallation.storage, env: restoreEnv });
  started(restored);
  expect(await answers(restored, from, to)).toEqual(before);
  // The device credential key came with the backup: the secret the source issued logs in.
  const device = await connect(restored.mqttUrl, 'e2e-backup-restored', NEW_DEVICE, secret);
  await device.endAsync();
  await expect(connect(restored.mqttUrl, 'e2e-backup-wrong', NEW_DEVICE, `${secret}x`)).rejects.toThrow();
  return { backupDir, sourceEnv };
}

describe('backup and restore of a running platform (embedded store, SQLite registry)', () => {
  const dirs = new TempDirs('ioc-backup-e2e-');
  const platforms: RunningPlatform[] = [];
  let source: { backupDir: string; sourceEnv: Record<string, string> } | undefined;
  afterAll(async () => {
    for (const platform of platforms.reverse()) await platform.stop();
    await dirs.removeAll();
  });
  const embedded: Installation = {
    env: { IOC_STORAGE: 'embedded' },
    storage: 'embedded',
    database: (dataDir) => ({ kind: 'sqlite', path: join(dataDir, 'registry.sqlite') }),
  };

  it('backs up while readings flow; the restored platform answers the same and accepts the same device secret', async () => {
    source = await roundTrip(dirs, embedded, embedded, ['registry.sqlite', 'timeseries.sqlite'], (p) =>
      platforms.push(p),
    );
  });

  it('verify names a file whose content changed and a file the manifest does not list', async () => {
    const root = await dirs.make();
    const sourceEnv = source?.sourceEnv as Record<string, string>;
    const backupDir = join(root, 'backup');
    expect(await cli('backup-cli.ts', ['create', backupDir], sourceEnv)).toMatchObject({ code: 0 });
    const tampered = join(root, 'tampered');
    cpSync(backupDir, tampered, { recursive: true });
    const key = join(tampered, 'keys', 'device-credential.key');
    const bytes = readFileSync(key);
    bytes[0] = bytes[0] === 0x41 ? 0x42 : 0x41;
    writeFileSync(key, bytes);
    writeFileSync(join(tampered, 'stray.txt'), 'not part of the backup');
    const result = await cli('backup-cli.ts', ['verify', tampered], {});
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/keys\/device-credential\.key: SHA-256 [0-9a-f]{64}, the manifest says/);
    expect(result.stdout).toContain('stray.txt: not in the manifest');
    // And it is not restored.
    const target = await dirs.make();
    const restore = await cli('backup-cli.ts', ['restore', tampered], {
      IOC_DATA_DIR: target,
      IOC_STORAGE: 'embedded',
    });
    expect(restore.code).toBe(1);
    expect(restore.stderr).toContain('does not verify');
    // Creating into a directory that is not empty is refused.
    const refused = await cli('backup-cli.ts', ['create', backupDir], sourceEnv);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('exists and is not empty');
  });
});

describeWithPostgres('backup and restore of a running platform (InfluxDB, PostgreSQL registry)', () => {
  const dirs = new TempDirs('ioc-backup-e2e-pg-');
  const platforms: RunningPlatform[] = [];
  let postgres: PostgresHandle | undefined;
  let influxd: InfluxdHandle | undefined;
  afterAll(async () => {
    for (const platform of platforms.reverse()) await platform.stop();
    await Promise.all([postgres?.stop(), influxd?.stop()]);
    await dirs.removeAll();
  });

  it('backs up while readings flow; the restored platform answers the same and accepts the same device secret', async () => {
    if (!influxdAvailable()) throw new Error('influxd is not installed (Debian package influxdb)');
    [postgres, influxd] = await Promise.all([startPostgres(), startInfluxd()]);
    const installation = async (name: string): Promise<Installation> => {
      const url = await (postgres as PostgresHandle).createDatabase(name);
      return {
        env: {
          IOC_STORAGE: 'influxdb',
          IOC_INFLUX_URL: (influxd as InfluxdHandle).url,
          IOC_INFLUX_DB: name,
          IOC_DATABASE_URL: url,
        },
        storage: 'influxdb',
        database: { kind: 'postgres', url },
      };
    };
    await roundTrip(
      dirs,
      await installation('ioc_backup_source'),
      await installation('ioc_backup_target'),
      [
        'registry.pgdump',
        'influx/autogen.readings.lp',
        'influx/rp_1m.readings_1m.lp',
        'influx/rp_1h.readings_1h.lp',
      ],
      (p) => platforms.push(p),
    );
  });
});
