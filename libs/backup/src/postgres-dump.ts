import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';

/**
 * Where a PostgreSQL client program (`pg_dump`, `pg_restore`) is: on PATH, else in Debian's
 * `/usr/lib/postgresql/<version>/bin` (the newest version: pg_dump must be at least as new as the
 * server it dumps).
 * @throws Error naming the program when neither has it
 */
export function postgresProgram(name: 'pg_dump' | 'pg_restore'): string {
  for (const dir of (process.env['PATH'] ?? '').split(':')) {
    if (dir !== '' && existsSync(join(dir, name))) return join(dir, name);
  }
  const root = '/usr/lib/postgresql';
  if (existsSync(root)) {
    const versions = readdirSync(root)
      .filter((v) => /^\d+$/.test(v))
      .sort((a, b) => Number(b) - Number(a));
    for (const version of versions) {
      const path = join(root, version, 'bin', name);
      if (existsSync(path)) return path;
    }
  }
  throw new Error(
    `${name} not found on PATH or under /usr/lib/postgresql/*/bin: install the PostgreSQL client`,
  );
}

/**
 * A libpq URL without its password, and the password for `PGPASSWORD`: a password on a command
 * line is readable by every user of the machine (`ps`), the environment is not.
 */
export function splitPassword(url: string): { url: string; env: Record<string, string> } {
  const parsed = new URL(url);
  const password = decodeURIComponent(parsed.password);
  parsed.password = '';
  return { url: parsed.toString(), env: password === '' ? {} : { PGPASSWORD: password } };
}

/** Runs a client program; rejects with its stderr. */
function run(program: string, args: string[], env: Record<string, string>): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      program,
      args,
      { env: { ...process.env, ...env }, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error) reject(new Error(`${program} failed: ${stderr.trim() || error.message}`));
        else resolve(stdout);
      },
    );
  });
}

/** The registry tables a backup counts (and whose rows make a restore target "not empty"). */
export const COUNTED_TABLES = ['devices', 'rules', 'alerts', 'audit_log', 'accounts'] as const;

/** What a snapshot of the registry holds, read in the same snapshot the dump is taken from. */
export interface RegistrySnapshotCounts {
  /** Rows per table of COUNTED_TABLES that exists. */
  rows: Record<string, number>;
  /** The audit chain's last entry, when there is one. */
  auditHead?: { seq: number; hash: string };
}

/**
 * `pg_dump --format=custom` of the database at `url` into `file`, while the platform keeps
 * writing. The dump and the counts written to the manifest come from one snapshot: a
 * REPEATABLE READ transaction exports it (`pg_export_snapshot()`), counts in it, and pg_dump is
 * given it with `--snapshot` (PostgreSQL docs, "pg_dump" and "Snapshot Synchronization Functions").
 * No owner or privileges are dumped (`--no-owner --no-privileges`): the restore target's role owns
 * what it restores.
 *
 * @throws Error with pg_dump's message, or the database's
 */
export async function dumpPostgres(url: string, file: string): Promise<RegistrySnapshotCounts> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const snapshot = (await client.query<{ id: string }>('SELECT pg_export_snapshot() AS id')).rows[0]?.id;
    if (snapshot === undefined) throw new Error('pg_export_snapshot() answered nothing');
    const counts = await countPostgres(client);
    const { url: bare, env } = splitPassword(url);
    await run(
      postgresProgram('pg_dump'),
      ['--format=custom', '--no-owner', '--no-privileges', `--snapshot=${snapshot}`, `--file=${file}`, bare],
      env,
    );
    await client.query('COMMIT');
    return counts;
  } finally {
    await client.end();
  }
}

/** Row counts and the audit head, in the client's current transaction. */
export async function countPostgres(client: pg.Client): Promise<RegistrySnapshotCounts> {
  const present = new Set(
    (
      await client.query<{ name: string }>(
        `SELECT table_name AS name FROM information_schema.tables WHERE table_schema = current_schema()`,
      )
    ).rows.map((row) => row.name),
  );
  const rows: Record<string, number> = {};
  for (const table of COUNTED_TABLES) {
    if (!present.has(table)) continue;
    const result = await client.query<{ n: string }>(`SELECT count(*) AS n FROM "${table}"`);
    rows[table] = Number(result.rows[0]?.n ?? 0);
  }
  if (!present.has('audit_log')) return { rows };
  const head = (
    await client.query<{ seq: string; hash: string }>(
      'SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1',
    )
  ).rows[0];
  return head === undefined ? { rows } : { rows, auditHead: { seq: Number(head.seq), hash: head.hash } };
}

/** Tables of the database's current schema, for the "not empty" refusal. */
export async function postgresTables(
  url: string,
): Promise<{ tables: string[]; rows: Record<string, number> }> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const tables = (
      await client.query<{ name: string }>(
        `SELECT table_name AS name FROM information_schema.tables
         WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY 1`,
      )
    ).rows.map((row) => row.name);
    const { rows } = await countPostgres(client);
    return { tables, rows };
  } finally {
    await client.end();
  }
}

/**
 * Restores a `pg_dump --format=custom` file into the database at `url` in one transaction
 * (`--single-transaction --exit-on-error`: all or nothing). With `replace`, the current schema is
 * dropped and created again first — everything in it is lost (what restore's --force means).
 *
 * @throws Error with pg_restore's message (the database is then as before)
 */
export async function restorePostgres(
  url: string,
  file: string,
  options: { replace: boolean },
): Promise<void> {
  if (options.replace) {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      const schema = (await client.query<{ name: string }>('SELECT current_schema() AS name')).rows[0]?.name;
      if (schema === undefined) throw new Error('the database has no current schema');
      const quoted = `"${schema.replace(/"/g, '""')}"`;
      await client.query(`DROP SCHEMA ${quoted} CASCADE`);
      await client.query(`CREATE SCHEMA ${quoted}`);
    } finally {
      await client.end();
    }
  }
  const { url: bare, env } = splitPassword(url);
  await run(
    postgresProgram('pg_restore'),
    ['--no-owner', '--no-privileges', '--single-transaction', '--exit-on-error', `--dbname=${bare}`, file],
    env,
  );
}

/** `pg_restore --list`: undefined when the archive reads as a custom-format dump, else the complaint. */
export async function pgDumpProblem(file: string): Promise<string | undefined> {
  try {
    await run(postgresProgram('pg_restore'), ['--list', file], {});
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}
