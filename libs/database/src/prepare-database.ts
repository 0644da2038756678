import { type Kysely, Migrator, sql } from 'kysely';
import type { Logger } from '@ioc/runtime';
import { PlatformMigrationProvider } from './migrations';
import { type IocDatabase, SQLITE_BUSY_TIMEOUT_MS } from './open-database';
import type { DatabaseSchema } from './schema';

/** How long a process waits for another one's migration before giving up (default). */
export const MIGRATION_LOCK_TIMEOUT_MS = 60_000;

/**
 * Key of the PostgreSQL session advisory lock held while migrating and seeding (an arbitrary
 * 64-bit number, the ASCII of "iocmigr" — distinct from Kysely's own migration lock key).
 */
const POSTGRES_LOCK_KEY = 0x696f636d696772n;

/** Another process held the migration lock for longer than the timeout. */
export class MigrationLockTimeoutError extends Error {
  constructor(description: string, timeoutMs: number) {
    super(
      `another process has been migrating or seeding ${description} for more than ${timeoutMs / 1000} s; ` +
        'if no other platform process is running, check the database, then start again',
    );
    this.name = 'MigrationLockTimeoutError';
  }
}

/** A migration failed; the database is left as it was before (the whole run is one transaction). */
export class MigrationError extends Error {
  constructor(
    readonly migration: string | undefined,
    cause: unknown,
  ) {
    super(
      `migration ${migration ?? '(unknown)'} failed: ${cause instanceof Error ? cause.message : String(cause)}`,
      {
        cause,
      },
    );
    this.name = 'MigrationError';
  }
}

export interface PrepareOptions {
  logger?: Logger;
  /** Default MIGRATION_LOCK_TIMEOUT_MS. */
  lockTimeoutMs?: number;
  /**
   * Runs after the migrations, under the same lock and in the same transaction (e.g. the first
   * start's seed import), so two processes starting at once never both seed. Use `transaction()`
   * inside it, which knows the transaction is already open.
   */
  afterMigrate?: (db: Kysely<DatabaseSchema>) => Promise<void>;
}

export interface PrepareResult {
  /** Names of the migrations this call applied (empty when the schema was already current). */
  applied: string[];
}

/** Kysely instances standing for a transaction opened outside Kysely (the SQLite migration lock). */
const openTransactions = new WeakSet<Kysely<DatabaseSchema>>();

/**
 * Runs `fn` in a transaction, or directly when `db` already is one (a Kysely Transaction, or the
 * migration lock's), so repository code composes: an import calls it, and so does the first
 * start's seeding, which already runs inside the lock's transaction.
 */
export async function transaction<T>(
  db: Kysely<DatabaseSchema>,
  fn: (trx: Kysely<DatabaseSchema>) => Promise<T>,
): Promise<T> {
  if (db.isTransaction || openTransactions.has(db)) return fn(db);
  return db.transaction().execute(fn);
}

/**
 * Brings the schema up to date, once, whichever of the platform's processes gets there first;
 * the others wait for it (then find nothing to do) or, after `lockTimeoutMs`, refuse with a
 * MigrationLockTimeoutError.
 *
 * - SQLite: Kysely takes no lock on SQLite, so the whole run (migrations, then `afterMigrate`)
 *   is one `BEGIN IMMEDIATE` transaction: it holds the database's write lock, and a second
 *   process's `BEGIN IMMEDIATE` waits on SQLite's busy timeout. A failure rolls everything back.
 * - PostgreSQL: a session advisory lock on one connection (waiting is bounded by `lock_timeout`),
 *   then one transaction on that connection for the migrations and `afterMigrate` (PostgreSQL's
 *   DDL is transactional): a failure rolls everything back there too.
 *
 * @throws MigrationLockTimeoutError, MigrationError
 */
export async function prepareDatabase(
  database: IocDatabase,
  options: PrepareOptions = {},
): Promise<PrepareResult> {
  const timeoutMs = options.lockTimeoutMs ?? MIGRATION_LOCK_TIMEOUT_MS;
  const provider = new PlatformMigrationProvider(database.kind);
  const migrate = async (db: Kysely<DatabaseSchema>): Promise<string[]> => {
    // The caller holds the lock and the transaction (disableTransactions), so the migrations and
    // afterMigrate commit or roll back together, on both dialects.
    const { error, results } = await new Migrator({
      db,
      provider,
      disableTransactions: true,
    }).migrateToLatest();
    const failed = results?.find((result) => result.status === 'Error');
    if (error !== undefined) throw new MigrationError(failed?.migrationName, error);
    const applied = (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
    if (applied.length > 0)
      options.logger?.info({ database: database.description, applied }, 'database migrated');
    return applied;
  };

  if (database.kind === 'sqlite') {
    const sqlite = database.sqlite;
    if (sqlite === undefined) throw new Error('a SQLite database must carry its better-sqlite3 handle');
    sqlite.pragma(`busy_timeout = ${timeoutMs}`);
    try {
      sqlite.exec('BEGIN IMMEDIATE');
    } catch (error) {
      if ((error as { code?: string }).code?.startsWith('SQLITE_BUSY')) {
        throw new MigrationLockTimeoutError(database.description, timeoutMs);
      }
      throw error;
    } finally {
      sqlite.pragma(`busy_timeout = ${SQLITE_BUSY_TIMEOUT_MS}`);
    }
    const locked = database.db.withoutPlugins();
    openTransactions.add(locked);
    try {
      const applied = await migrate(locked);
      await options.afterMigrate?.(locked);
      sqlite.exec('COMMIT');
      return { applied };
    } catch (error) {
      if (sqlite.inTransaction) sqlite.exec('ROLLBACK');
      throw error;
    } finally {
      openTransactions.delete(locked);
    }
  }

  return database.db.connection().execute(async (connection) => {
    await sql`SELECT set_config('lock_timeout', ${`${timeoutMs}ms`}, false)`.execute(connection);
    try {
      await sql`SELECT pg_advisory_lock(${POSTGRES_LOCK_KEY.toString()}::bigint)`.execute(connection);
    } catch (error) {
      // 55P03 lock_not_available: lock_timeout elapsed.
      if ((error as { code?: string }).code === '55P03') {
        throw new MigrationLockTimeoutError(database.description, timeoutMs);
      }
      throw error;
    } finally {
      await sql`SELECT set_config('lock_timeout', '0', false)`.execute(connection);
    }
    openTransactions.add(connection);
    try {
      await sql`BEGIN`.execute(connection);
      try {
        const applied = await migrate(connection);
        await options.afterMigrate?.(connection);
        await sql`COMMIT`.execute(connection);
        return { applied };
      } catch (error) {
        await sql`ROLLBACK`.execute(connection);
        throw error;
      }
    } finally {
      openTransactions.delete(connection);
      await sql`SELECT pg_advisory_unlock(${POSTGRES_LOCK_KEY.toString()}::bigint)`.execute(connection);
    }
  });
}
