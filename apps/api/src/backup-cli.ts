// The backup command line: `npm run backup -- create <dir>` backs up the registry database, the
// time series and the key files of a running platform into a new directory; `verify <dir>` checks
// a backup; `restore <dir> [--force]` restores one into a fresh installation. It reads the same
// environment as the platform's processes (IOC_DATA_DIR, IOC_DATABASE_URL, IOC_STORAGE, IOC_INFLUX_*).
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { BackupError, createBackup, restoreBackup, verifyBackup } from '@ioc/backup';
import { databaseConfigFromEnv, databaseEnvShape } from '@ioc/database';
import { parseEnv } from '@ioc/runtime';
import { storageConfigFromEnv, storageEnvSchema } from '@ioc/timeseries';

const USAGE = `Usage:
  npm run backup -- create <dir> [--json]
      Backs up the running platform into <dir> (created, mode 0700; must not exist or be empty):
      the registry database, the time series and the key files under IOC_DATA_DIR/keys, with a
      manifest. The backup holds the device credential key: keep it as secret as the keys.
  npm run backup -- verify <dir> [--json]
      Checks the manifest, every file's size and SHA-256, and the counts. Exit 0 when it holds, 1 naming each problem.
  npm run backup -- restore <dir> [--force] [--json]
      Restores into the installation the environment names (its processes stopped). A target that is
      not empty is refused, naming what was found, unless --force. Checks the audit chain afterwards.
The environment is the platform's: IOC_DATA_DIR, IOC_DATABASE_URL, IOC_STORAGE, IOC_INFLUX_*.`;

/** Every variable that says where the platform's state is: the storage schema and the database's. */
const CLI_ENV = storageEnvSchema.extend(databaseEnvShape);

/** A wrong command line: printed with the usage, exit code 2. */
class UsageError extends Error {}

/** Exit codes: done / the backup verifies (0), failed or refused (1), the command line is wrong (2). */
const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

const WORKSPACE_ROOT = resolve(__dirname, '..', '..', '..');

/** The platform's version (package.json) and, in a git checkout, its commit. */
function platformVersion(): { version: string; commit?: string } {
  const { version } = z
    .object({ version: z.string() })
    .parse(JSON.parse(readFileSync(join(WORKSPACE_ROOT, 'package.json'), 'utf8')));
  try {
    const commit = execFileSync('git', ['rev-parse', 'HEAD'], {
      cwd: WORKSPACE_ROOT,
      stdio: ['ignore', 'pipe', 'ignore'],
    })
      .toString()
      .trim();
    return /^[0-9a-f]{40}$/.test(commit) ? { version, commit } : { version };
  } catch {
    return { version };
  }
}

async function main(): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      allowPositionals: true,
      options: {
        force: { type: 'boolean' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help === true) {
    process.stdout.write(`${USAGE}\n`);
    return EXIT.ok;
  }
  const [command, dir] = positionals;
  if (
    positionals.length !== 2 ||
    dir === undefined ||
    !['create', 'verify', 'restore'].includes(command ?? '')
  ) {
    throw new UsageError('name one command (create, verify or restore) and a backup directory');
  }
  if (values.force === true && command !== 'restore') throw new UsageError(`${command} takes no --force`);
  const json = values.json === true;
  const log = (line: string): void => {
    if (!json) process.stderr.write(`${line}\n`);
  };

  if (command === 'verify') {
    const result = await verifyBackup(dir);
    if (json) process.stdout.write(`${JSON.stringify({ ok: result.ok, problems: result.problems })}\n`);
    else if (result.ok) {
      const m = result.manifest;
      process.stdout.write(
        `backup verified: ${m?.files.length ?? 0} files; created ${m?.createdAt ?? '?'} by platform ${m?.platform.version ?? '?'}; ` +
          `${m?.counts.devices ?? 0} devices, ${m?.counts.rules ?? 0} rules, ${m?.counts.alerts ?? 0} alerts, ${m?.counts.auditEntries ?? 0} audit entries\n`,
      );
    } else
      process.stdout.write(`backup does NOT verify:\n${result.problems.map((p) => `  ${p}`).join('\n')}\n`);
    return result.ok ? EXIT.ok : EXIT.failed;
  }

  const env = parseEnv(CLI_ENV);
  const stores = {
    dataDir: env.IOC_DATA_DIR,
    database: databaseConfigFromEnv({ ...env, IOC_DATABASE_POOL_SIZE: 2 }),
    storage: storageConfigFromEnv(env),
  };
  if (command === 'create') {
    const started = Date.now();
    const manifest = await createBackup({ stores, dir, platform: platformVersion(), log });
    if (json) process.stdout.write(`${JSON.stringify(manifest)}\n`);
    else {
      const bytes = manifest.files.reduce((sum, file) => sum + file.bytes, 0);
      process.stdout.write(
        `backup written to ${dir} in ${Date.now() - started} ms: ${manifest.files.length} files, ${bytes} bytes; ` +
          `${manifest.counts.devices} devices, ${manifest.counts.rules} rules, ${manifest.counts.alerts} alerts, ` +
          `${manifest.counts.auditEntries} audit entries, points ${JSON.stringify(manifest.counts.points)}\n` +
          (manifest.files.some((file) => file.role === 'key')
            ? `it holds the platform's keys (keys/): store it as securely as the keys themselves\n`
            : `it holds no key files (none under IOC_DATA_DIR/keys: the keys come from the environment): ` +
              `keep IOC_DEVICE_CREDENTIAL_KEY (else no device can log in), IOC_AUTH_TOKEN_SECRET and IOC_WEBHOOK_SECRET_KEY ` +
              `(else stored webhook secrets cannot be decrypted) with it, as securely\n`),
      );
    }
    return EXIT.ok;
  }
  const started = Date.now();
  const result = await restoreBackup({ stores, dir, force: values.force === true, log });
  if (json)
    process.stdout.write(
      `${JSON.stringify({ counts: result.counts, audit: result.audit, points: result.points })}\n`,
    );
  else {
    process.stdout.write(
      `restored ${dir} in ${Date.now() - started} ms: ${result.counts.devices} devices, ${result.counts.rules} rules, ` +
        `${result.counts.alerts} alerts; audit chain verified (${result.audit.entries} entries, head seq ${result.audit.head.seq}); ` +
        `points ${JSON.stringify(result.points)}\n`,
    );
  }
  return EXIT.ok;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    if (error instanceof UsageError) {
      process.stderr.write(`${error.message}\n\n${USAGE}\n`);
      process.exitCode = EXIT.usage;
      return;
    }
    const prefix = error instanceof BackupError ? 'backup' : 'backup failed';
    process.stderr.write(`${prefix}: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = EXIT.failed;
  },
);
