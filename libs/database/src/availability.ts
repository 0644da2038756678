import { sql } from 'kysely';
import { ConfigError, type Logger } from '@ioc/runtime';
import type { IocDatabase } from './open-database';

/** The stable `reason` of a 503 answered while the registry database cannot be reached. */
export const DATABASE_UNAVAILABLE = 'database-unavailable';

/**
 * Socket-level error codes (Node's `err.code`, libuv) that mean the database server could not be
 * reached or the connection to it broke — not that the query was wrong.
 */
const UNREACHABLE_SOCKET_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
]);

/**
 * PostgreSQL SQLSTATEs of an unavailable server besides class 08 (connection exception):
 * 57P01 admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now (starting up or in
 * recovery) — PostgreSQL documentation, Appendix A "PostgreSQL Error Codes".
 */
const UNAVAILABLE_SQLSTATES = new Set(['57P01', '57P02', '57P03']);

/**
 * What node-postgres (pg 8) throws, without a code, when its connection is gone or cannot be made
 * in time: a client whose socket ended mid-query, a pool's `connectionTimeoutMillis` elapsed, a
 * client reused after a connection error.
 */
const UNAVAILABLE_MESSAGES = [
  'Connection terminated',
  'timeout exceeded when trying to connect',
  'Client has encountered a connection error and is not queryable',
  'Connection ended unexpectedly',
];

/**
 * Why a database error means the server cannot be reached: `connection-refused` (nothing listens:
 * ECONNREFUSED), `shutting-down` (57P01/57P02/57P03), `connection-lost` (a connection broke or
 * could not be made in time, SQLSTATE class 08, resets, timeouts, name resolution), or undefined
 * when the error is anything else (a constraint, a syntax error, a bug: the request's fault or
 * the API's, a 500 as before). Walks `cause` chains and AggregateError's `errors` (Node ≥ 20
 * reports a refused connection to a name with several addresses as an AggregateError).
 */
export type DatabaseUnavailableKind = 'connection-refused' | 'shutting-down' | 'connection-lost';

/**
 * Classifies an error thrown by a registry database call (see DatabaseUnavailableKind). The one
 * classifier the API's exception filter, the health probe and the start-up checks share.
 * SQLite never yields a kind: the embedded file has no server to be unreachable.
 */
export function databaseUnavailableKind(error: unknown, depth = 0): DatabaseUnavailableKind | undefined {
  if (typeof error !== 'object' || error === null || depth > 5) return undefined;
  const { code, message, cause, errors } = error as {
    code?: unknown;
    message?: unknown;
    cause?: unknown;
    errors?: unknown;
  };
  if (code === 'ECONNREFUSED') return 'connection-refused';
  if (typeof code === 'string') {
    if (UNAVAILABLE_SQLSTATES.has(code)) return 'shutting-down';
    if (/^08[0-9A-Z]{3}$/.test(code) || UNREACHABLE_SOCKET_CODES.has(code)) return 'connection-lost';
  }
  if (typeof message === 'string' && UNAVAILABLE_MESSAGES.some((text) => message.includes(text)))
    return 'connection-lost';
  if (Array.isArray(errors)) {
    for (const inner of errors) {
      const kind = databaseUnavailableKind(inner, depth + 1);
      if (kind !== undefined) return kind;
    }
  }
  return cause === undefined ? undefined : databaseUnavailableKind(cause, depth + 1);
}

/** True when `error` means the registry database cannot be reached (databaseUnavailableKind). */
export function isDatabaseUnavailable(error: unknown): boolean {
  return databaseUnavailableKind(error) !== undefined;
}

/** Words for a DatabaseUnavailableKind in a message or a log line. */
export function describeUnavailableKind(kind: DatabaseUnavailableKind): string {
  switch (kind) {
    case 'connection-refused':
      return 'connection refused';
    case 'shutting-down':
      return 'the server is shutting down or starting up';
    case 'connection-lost':
      return 'connection lost or timed out';
  }
}

/** How often the health probe asks PostgreSQL `SELECT 1` (ms). */
export const DATABASE_PROBE_INTERVAL_MS = 2000;
/**
 * How long one probe waits for its answer (ms) before calling the database unreachable: a
 * `SELECT 1` on a healthy server on the same network answers in about a millisecond, so 1.5 s
 * means it is gone, hung or its pool is exhausted — all of which the API's requests feel too.
 */
export const DATABASE_PROBE_TIMEOUT_MS = 1500;

/** The probe's latest judgement. */
export interface DatabaseHealth {
  readonly kind: IocDatabase['kind'];
  /** The last probe answered (SQLite: always true). */
  readonly up: boolean;
  /** Why the last probe failed (DatabaseUnavailableKind, `timeout`, or `error`); absent when up. */
  readonly problem?: DatabaseUnavailableKind | 'timeout' | 'error';
  /** Epoch ms of the last change between up and down (the probe's start for the first). */
  readonly since: number;
}

/**
 * A cheap periodic check that the registry database answers, for `/health` and `/metrics`:
 * `SELECT 1` every DATABASE_PROBE_INTERVAL_MS, bounded by DATABASE_PROBE_TIMEOUT_MS. It logs the
 * change to down once (warn, naming IOC_DATABASE_URL's database without its password) and the
 * recovery once (info), so an outage is two log lines, not one per probe. The API's exception
 * filter calls `probe()` when a request failed as if the database were unreachable, which also
 * turns `/health` down ahead of the next round. With SQLite it never probes and is always up.
 */
export class DatabaseProbe {
  private state: DatabaseHealth;
  private timer: NodeJS.Timeout | undefined;
  private inflight: Promise<boolean> | undefined;

  constructor(
    private readonly database: Pick<IocDatabase, 'kind' | 'db' | 'description'>,
    private readonly options: { logger?: Logger; intervalMs?: number; timeoutMs?: number } = {},
  ) {
    this.state = { kind: database.kind, up: true, since: Date.now() };
  }

  /** The latest judgement. */
  health(): DatabaseHealth {
    return this.state;
  }

  /** Probes now, then every interval (PostgreSQL only). Idempotent. */
  start(): void {
    if (this.database.kind !== 'postgres' || this.timer !== undefined) return;
    const tick = (): void => {
      void this.probe().finally(() => {
        if (this.timer !== undefined) this.timer = setTimeout(tick, this.intervalMs).unref();
      });
    };
    this.timer = setTimeout(tick, 0).unref();
  }

  stop(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /**
   * One `SELECT 1` with the timeout; resolves to whether it answered (and records it). A call
   * while a probe is in flight shares that probe's answer.
   */
  probe(): Promise<boolean> {
    if (this.database.kind !== 'postgres') return Promise.resolve(true);
    this.inflight ??= this.selectOne().finally(() => {
      this.inflight = undefined;
    });
    return this.inflight;
  }

  private async selectOne(): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        sql`select 1`.execute(this.database.db),
        new Promise<never>((_resolve, reject) => {
          timer = setTimeout(() => reject(new ProbeTimeout()), this.timeoutMs);
        }),
      ]);
      this.set(true);
      return true;
    } catch (error) {
      this.set(
        false,
        error instanceof ProbeTimeout ? 'timeout' : (databaseUnavailableKind(error) ?? 'error'),
        error,
      );
      return false;
    } finally {
      clearTimeout(timer);
    }
  }

  private get intervalMs(): number {
    return this.options.intervalMs ?? DATABASE_PROBE_INTERVAL_MS;
  }

  private get timeoutMs(): number {
    return this.options.timeoutMs ?? DATABASE_PROBE_TIMEOUT_MS;
  }

  private set(up: boolean, problem?: DatabaseHealth['problem'], error?: unknown): void {
    const changed = up !== this.state.up;
    this.state = {
      kind: this.database.kind,
      up,
      ...(up || problem === undefined ? {} : { problem }),
      since: changed ? Date.now() : this.state.since,
    };
    if (!changed) return;
    if (up) {
      this.options.logger?.info({ database: this.database.description }, 'registry database reachable again');
    } else {
      this.options.logger?.warn(
        {
          database: this.database.description,
          problem,
          ...(error instanceof Error ? { err: error.message } : {}),
        },
        'registry database (IOC_DATABASE_URL) cannot be reached: requests that need it answer 503 database-unavailable until it is back',
      );
    }
  }
}

class ProbeTimeout extends Error {
  constructor() {
    super('the database probe timed out');
  }
}

/**
 * SQLSTATEs of a refused login (PostgreSQL Appendix A): 28P01 invalid_password, 28000
 * invalid_authorization_specification (no pg_hba.conf entry, role does not exist).
 */
const AUTHENTICATION_SQLSTATES = new Set(['28P01', '28000']);

/**
 * Checks, at a process's start, that the registry database answers (`SELECT 1`), so a wrong
 * IOC_DATABASE_URL stops the process with a message that names the variable, the database
 * (its URL without the password: describeDatabase) and what failed — connection refused,
 * authentication failed, the database does not exist — instead of pg's bare `connect
 * ECONNREFUSED 127.0.0.1:5432`. SQLite: nothing to check.
 *
 * @throws ConfigError (from @ioc/runtime, printed by runApp) when the database does not answer
 */
export async function checkDatabaseAtStart(
  database: Pick<IocDatabase, 'kind' | 'db' | 'description'>,
): Promise<void> {
  if (database.kind !== 'postgres') return;
  try {
    await sql`select 1`.execute(database.db);
  } catch (error) {
    throw new ConfigError([`IOC_DATABASE_URL: ${describeStartFailure(error, database.description)}`]);
  }
}

/** What failed when the registry database did not answer at start (see checkDatabaseAtStart). */
export function describeStartFailure(error: unknown, databaseDescription: string): string {
  // describeDatabase's `postgres postgres://…`: the URL (without its password) is enough.
  const description = databaseDescription.replace(/^postgres (?=postgres)/, '');
  const code = (error as { code?: unknown } | null)?.code;
  const detail =
    error instanceof Error && error.message !== ''
      ? error.message
      : typeof code === 'string'
        ? code
        : String(error);
  if (typeof code === 'string' && AUTHENTICATION_SQLSTATES.has(code))
    return `the registry database ${description} refused the login (authentication failed: ${detail})`;
  if (code === '3D000') return `the registry database ${description} does not exist (${detail})`;
  const kind = databaseUnavailableKind(error);
  if (kind !== undefined)
    return `the registry database ${description} cannot be reached (${describeUnavailableKind(kind)}: ${detail})`;
  return `the registry database ${description} did not answer (${detail})`;
}

/**
 * The log of a periodic task on the registry database (a poll, a re-check): a failure because the
 * database cannot be reached is logged once per outage (warn, naming IOC_DATABASE_URL), not at
 * every period; its end once (info); any other failure at error level every time, as before.
 */
export class DatabaseTaskLog {
  private down = false;

  constructor(
    private readonly logger: Pick<Logger, 'warn' | 'info' | 'error'>,
    /** The task, in the log (`registry refresh`, `notifier pass`, …). */
    private readonly task: string,
  ) {}

  /** The task failed with `error`; `message` is the usual error line. */
  failed(error: unknown, message: string): void {
    const kind = databaseUnavailableKind(error);
    if (kind === undefined) {
      this.logger.error({ err: error }, message);
      return;
    }
    if (this.down) return;
    this.down = true;
    this.logger.warn(
      { task: this.task, problem: kind },
      `${this.task}: the registry database (IOC_DATABASE_URL) cannot be reached; retrying every period until it is back`,
    );
  }

  /** The task succeeded: after an outage, says so once. */
  succeeded(): void {
    if (!this.down) return;
    this.down = false;
    this.logger.info({ task: this.task }, `${this.task}: the registry database answers again`);
  }
}
