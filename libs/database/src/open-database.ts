import Database from 'better-sqlite3';
import {
  CompiledQuery,
  type DatabaseConnection,
  type Driver,
  Kysely,
  PostgresDialect,
  SqliteDialect,
  type SqliteDialectConfig,
  SqliteDriver,
} from 'kysely';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import pg from 'pg';
import { type DatabaseConfig, type DatabaseKind, describeDatabase } from './database-config';
import type { DatabaseSchema } from './schema';

/** PostgreSQL type OIDs (pg_type.dat). */
const INT8_OID = 20;

/**
 * How long a PostgreSQL query waits for a connection to be made (pg's `connectionTimeoutMillis`;
 * its default, 0, waits forever): a server that does not answer (a host gone, packets dropped)
 * then fails a request in 10 s — a 503 `database-unavailable` — rather than holding it open.
 */
export const POSTGRES_CONNECT_TIMEOUT_MS = 10_000;

/** Milliseconds a SQLite statement waits for another process's write lock before SQLITE_BUSY. */
export const SQLITE_BUSY_TIMEOUT_MS = 5000;

/** An open registry database: the Kysely instance every repository takes, and how to close it. */
export interface IocDatabase {
  readonly kind: DatabaseKind;
  readonly db: Kysely<DatabaseSchema>;
  /** For logs: the file, or the URL without its password. */
  readonly description: string;
  /** The better-sqlite3 handle (SQLite only): the migration lock needs it. */
  readonly sqlite?: Database.Database;
  close(): Promise<void>;
}

/**
 * Opens (without migrating: see prepareDatabase) the registry database.
 *
 * SQLite: WAL journal, `synchronous=NORMAL` (a commit survives a process crash; the last ones may
 * be lost to a power cut, which the registry — rarely written, and re-derivable by import — can
 * afford), foreign keys on, and a 5 s busy timeout so the broker and the API share the file.
 * PostgreSQL: a `pg` pool whose int8 columns come back as JS numbers (epoch milliseconds fit).
 */
export function openDatabase(config: DatabaseConfig): IocDatabase {
  const description = describeDatabase(config);
  if (config.kind === 'sqlite') {
    mkdirSync(dirname(config.path), { recursive: true });
    const sqlite = new Database(config.path, { timeout: SQLITE_BUSY_TIMEOUT_MS });
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma('synchronous = NORMAL');
    sqlite.pragma('foreign_keys = ON');
    const db = new Kysely<DatabaseSchema>({
      dialect: new ImmediateSqliteDialect({ database: cachedStatements(sqlite) }),
    });
    return { kind: 'sqlite', db, description, sqlite, close: () => db.destroy() };
  }
  const pool = new pg.Pool({
    connectionString: config.url,
    max: config.poolSize ?? 10,
    connectionTimeoutMillis: POSTGRES_CONNECT_TIMEOUT_MS,
    types: {
      getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
        oid === INT8_OID && format !== 'binary'
          ? (value: string) => Number(value)
          : pg.types.getTypeParser(oid, format ?? 'text')) as typeof pg.types.getTypeParser,
    },
  });
  // An idle client's error (server restart) must not crash the process: the pool drops it.
  pool.on('error', () => undefined);
  // Nor a checked-out client's between two queries (a transaction awaiting its caller when the
  // server shuts down, 57P01): pg emits it on the client, which the pool listens to only while
  // idle — unheard, it would end the process. The client's next query then fails ("not
  // queryable"), which the caller sees and databaseUnavailableKind classifies.
  pool.on('connect', (client) => {
    client.on('error', () => undefined);
  });
  const db = new Kysely<DatabaseSchema>({ dialect: new PostgresDialect({ pool }) });
  return { kind: 'postgres', db, description, close: () => db.destroy() };
}

/**
 * Prepared statements kept per connection (SQLITE_STATEMENT_CACHE_SIZE).
 * Source: bench/ingest-costs.ts (the alert engine host stage) spent about a third of each alert
 * change's commit in `prepare` (SQLite compiling the same few statements again) before the cache.
 */
export const SQLITE_STATEMENT_CACHE_SIZE = 256;

/**
 * The better-sqlite3 handle as Kysely's SqliteDialect sees it, with its prepared statements kept
 * by SQL text (least recently used dropped past SQLITE_STATEMENT_CACHE_SIZE): Kysely prepares every
 * query it runs, and compiling a statement costs SQLite more than running it. Kysely's SQLite driver
 * runs one query at a time on its one connection (a stream holds it until it ends), so a kept
 * statement is never busy when it is handed out again. SQLite re-prepares a kept statement by
 * itself when a migration changed the schema.
 */
function cachedStatements(sqlite: Database.Database): SqliteDialectConfig['database'] {
  const cache = new Map<string, Database.Statement>();
  return {
    close: () => {
      cache.clear();
      sqlite.close();
    },
    prepare: (text: string) => {
      const cached = cache.get(text);
      if (cached !== undefined) {
        cache.delete(text); // re-inserted last: most recently used
        cache.set(text, cached);
        return cached;
      }
      const statement = sqlite.prepare(text);
      cache.set(text, statement);
      if (cache.size > SQLITE_STATEMENT_CACHE_SIZE) {
        const oldest = cache.keys().next().value;
        if (oldest !== undefined) cache.delete(oldest);
      }
      return statement;
    },
  };
}

/**
 * SQLite transactions that take the write lock when they begin (`BEGIN IMMEDIATE`) rather than at
 * their first write (Kysely's `BEGIN`, deferred). Two processes share the file (broker and API):
 * a deferred transaction that has read and then writes while the other holds the lock fails at
 * once with SQLITE_BUSY ("database is locked": the busy timeout cannot help a lock upgrade), where
 * an immediate one waits its turn for up to the busy timeout.
 */
class ImmediateSqliteDialect extends SqliteDialect {
  constructor(private readonly settings: SqliteDialectConfig) {
    super(settings);
  }

  override createDriver(): Driver {
    return new ImmediateSqliteDriver(this.settings);
  }
}

class ImmediateSqliteDriver extends SqliteDriver {
  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'));
  }
}
