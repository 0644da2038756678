// The audit log's command line: `npm run audit -- verify` checks the hash chain (exit 0 when it
// holds, 1 naming the first broken seq), `npm run audit -- export --from … --to … > audit.csv`
// writes entries as CSV, oldest first. It opens the registry database the API uses, from the
// same environment (IOC_DATA_DIR, IOC_DATABASE_URL).
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { AuditLog, type AuditOutcome, AUDIT_OUTCOMES, MAX_AUDIT_QUERY_LIMIT } from '@ioc/audit';
import { ISO_TIMESTAMP } from '@ioc/contracts';
import { z } from 'zod';
import { databaseConfigFromEnv, databaseEnvShape, describeDatabase, openDatabase } from '@ioc/database';
import { parseEnv } from '@ioc/runtime';
import { storageEnvSchema } from '@ioc/timeseries';

const USAGE = `Usage:
  npm run audit -- verify [--from <seq>] [--head <seq>:<hash>] [--json]
      Checks the audit log's hash chain. Exit 0 when it holds (prints the head: keep it somewhere
      else, a removed tail is only caught against it), 1 naming the first broken seq.
      --head: a head printed earlier; the chain must still hold that entry with that hash.
  npm run audit -- export [--from <time>] [--to <time>] [--action <action or prefix.>]
                          [--actor <id>] [--entity-type <type>] [--entity-id <id>]
                          [--outcome success|failure|denied] > audit.csv
      Writes the entries as CSV, oldest first. Times: ISO-8601 with an offset, or epoch ms.
The database is the API's: IOC_DATABASE_URL, or the SQLite file under IOC_DATA_DIR.`;

/** `--head`: a head as verify prints it, `<seq>:<hash>`. */
const HEAD_PATTERN = /^\d{1,16}:[0-9a-fA-F]{64}$/;

/**
 * The API's own definitions of where its database is (apiEnvSchema is built from these), without
 * loading the API: IOC_DATA_DIR, IOC_DATABASE_URL, IOC_DATABASE_POOL_SIZE.
 */
const CLI_ENV = z.object({ IOC_DATA_DIR: storageEnvSchema.shape.IOC_DATA_DIR, ...databaseEnvShape });

/** A wrong command line: printed with the usage, exit code 2. */
class UsageError extends Error {}

/** Exit codes: the chain holds (0), it is broken (1), the command line is wrong (2). */
const EXIT = { ok: 0, broken: 1, usage: 2 } as const;

function instant(name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  if (/^\d{1,16}$/.test(text)) return Number(text);
  if (ISO_TIMESTAMP.safeParse(text).success) return Date.parse(text);
  throw new UsageError(
    `--${name}: expected ISO-8601 with seconds and an offset (2026-11-27T08:00:00+07:00) or epoch ms`,
  );
}

async function main(): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      allowPositionals: true,
      options: {
        from: { type: 'string' },
        to: { type: 'string' },
        action: { type: 'string' },
        actor: { type: 'string' },
        'entity-type': { type: 'string' },
        'entity-id': { type: 'string' },
        outcome: { type: 'string' },
        head: { type: 'string' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const { values, positionals } = parsed;
  const command = positionals[0];
  if (values.help === true) {
    process.stdout.write(`${USAGE}\n`);
    return EXIT.ok;
  }
  if (positionals.length !== 1 || (command !== 'verify' && command !== 'export')) {
    throw new UsageError('name one command: verify or export');
  }
  if (values.outcome !== undefined && !(AUDIT_OUTCOMES as readonly string[]).includes(values.outcome)) {
    throw new UsageError(`--outcome: one of ${AUDIT_OUTCOMES.join(', ')}`);
  }
  if (command === 'verify') {
    for (const name of ['to', 'action', 'actor', 'entity-type', 'entity-id', 'outcome'] as const) {
      if (values[name] !== undefined) throw new UsageError(`verify takes no --${name}`);
    }
    if (values.from !== undefined && !/^[1-9]\d{0,15}$/.test(values.from)) {
      throw new UsageError('--from: the seq to start at (a whole number from 1)');
    }
    if (values.head !== undefined && !HEAD_PATTERN.test(values.head)) {
      throw new UsageError('--head: <seq>:<hash> as verify printed it (the hash: 64 hex digits)');
    }
  } else if (values.head !== undefined) {
    throw new UsageError('export takes no --head');
  }
  const filter =
    command === 'export' ? { from: instant('from', values.from), to: instant('to', values.to) } : {};

  const env = parseEnv(CLI_ENV);
  const config = databaseConfigFromEnv({ ...env, IOC_DATABASE_POOL_SIZE: 2 });
  // Opening a SQLite path creates the file: a mistyped IOC_DATA_DIR would then "verify" an empty
  // chain. The API's database must already exist.
  if (config.kind === 'sqlite' && !existsSync(config.path))
    throw new UsageError(
      `no registry database at ${config.path}: set IOC_DATA_DIR (or IOC_DATABASE_URL) as the API has it`,
    );
  const database = openDatabase(config);
  try {
    // Read what is there: no migration (a CLI must not change the schema of the database it
    // checks), and a database without the audit log — empty, another program's, or from before
    // the audit log existed — is said to be one, not "verified" as an empty chain.
    const tables = await database.db.introspection.getTables();
    if (!tables.some((table) => table.name === 'audit_log'))
      throw new UsageError(
        `${describeDatabase(config)} has no audit log (audit_log): is it the API's registry database?`,
      );
    const audit = new AuditLog(database.db);
    if (command === 'verify') {
      const [seq, hash] = values.head?.split(':') ?? [];
      const result = await audit.verify({
        ...(values.from === undefined ? {} : { from: Number(values.from) }),
        ...(seq !== undefined && hash !== undefined
          ? { knownHead: { seq: Number(seq), hash: hash.toLowerCase() } }
          : {}),
      });
      if (values.json === true) process.stdout.write(`${JSON.stringify(result)}\n`);
      else if (result.ok) {
        process.stdout.write(
          `audit chain verified: ${result.entries} entries; head seq ${result.head.seq} hash ${result.head.hash}\n` +
            `record the head elsewhere; check it later with --head ${result.head.seq}:${result.head.hash}\n`,
        );
      } else {
        const detail =
          result.expected !== undefined ? ` (expected ${result.expected}, found ${result.found ?? ''})` : '';
        process.stdout.write(
          `audit chain BROKEN at seq ${result.brokenAt}: ${result.problem}${detail}; ${result.entries} entries before it hold\n`,
        );
      }
      return result.ok ? EXIT.ok : EXIT.broken;
    }
    let after = 0;
    let first = true;
    for (;;) {
      const page = await audit.query({
        ...filter,
        ...(values.action !== undefined ? { action: values.action } : {}),
        ...(values.actor !== undefined ? { actorId: values.actor } : {}),
        ...(values['entity-type'] !== undefined ? { entityType: values['entity-type'] } : {}),
        ...(values['entity-id'] !== undefined ? { entityId: values['entity-id'] } : {}),
        ...(values.outcome !== undefined ? { outcome: values.outcome as AuditOutcome } : {}),
        order: 'asc',
        after,
        limit: MAX_AUDIT_QUERY_LIMIT,
      });
      if (page.length > 0 || first) await write(audit.toCsv(page, { header: first }));
      first = false;
      const last = page.at(-1);
      if (last === undefined || page.length < MAX_AUDIT_QUERY_LIMIT) break;
      after = last.seq;
    }
    return EXIT.ok;
  } finally {
    await database.close();
  }
}

/** Writes to stdout, waiting while its buffer is full (a million entries piped to a slow reader). */
function write(text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    process.stdout.write(text, (error) => (error ? reject(error) : resolve()));
  });
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
    process.stderr.write(`audit: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = EXIT.broken;
  },
);
