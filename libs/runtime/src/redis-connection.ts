import { Redis } from 'ioredis';
import { ConfigError } from './env-config';
import type { Logger } from './logger';

/**
 * IOC_REDIS_URL as safe to print: its password (and a user name's password) replaced by `***`;
 * `(unparsable URL)` when it does not parse.
 */
export function redactRedisUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparsable URL)';
  }
}

/** Anything ioredis-like that emits `error`, `close` and `ready` (ioredis Redis, a duplicate()). */
export interface RedisConnectionEvents {
  on(event: 'error', listener: (error: Error) => void): unknown;
  on(event: 'close' | 'ready', listener: () => void): unknown;
  /**
   * ioredis 5 (Redis.js, redis/event_handler.js): true from quit()/disconnect() until its
   * closeHandler ran — it emits `close` while still true, then resets it and ends the connection.
   */
  readonly manuallyClosing?: boolean;
  /** ioredis' status: `end` once closed for good (after quit()/disconnect(), or no more retries). */
  readonly status?: string;
}

/**
 * Gives a Redis connection its `error` listener — without one, ioredis prints `[ioredis]
 * Unhandled error event` to stderr at every failed reconnection attempt — and logs an outage once:
 * one warn when the connection first fails or closes (naming IOC_REDIS_URL and the connection's
 * purpose), one info when it is ready again; the attempts in between are silent (ioredis keeps
 * retrying). A refused password is logged at error level, naming IOC_REDIS_URL. A connection the
 * process closes on purpose (quit()/disconnect() at shutdown: ioredis' `manuallyClosing`, then
 * status `end`) logs nothing.
 *
 * @param connection what the connection is for, in the log (`socket.io adapter`, `mq-pub`, …)
 */
export function watchRedisConnection(
  client: RedisConnectionEvents,
  logger: Pick<Logger, 'warn' | 'info' | 'error'>,
  connection: string,
): void {
  let lost = false;
  const closedOnPurpose = (): boolean => client.manuallyClosing === true || client.status === 'end';
  const lose = (error?: Error): void => {
    if (lost || closedOnPurpose()) return;
    lost = true;
    if (error !== undefined && isRedisAuthError(error)) {
      logger.error(
        { err: error.message, connection },
        'Redis refused the password of IOC_REDIS_URL (authentication failed); retrying',
      );
      return;
    }
    logger.warn(
      { ...(error === undefined ? {} : { err: error.message }), connection },
      'Redis (IOC_REDIS_URL) unreachable; retrying until it is back',
    );
  };
  client.on('error', (error) => lose(error));
  client.on('close', () => lose());
  client.on('ready', () => {
    if (lost) logger.info({ connection }, 'Redis connection back');
    lost = false;
  });
}

/** Redis' answers to a wrong password or user: `WRONGPASS …` (6+), `NOAUTH …`, `ERR invalid password` (before 6). */
export function isRedisAuthError(error: unknown): boolean {
  const message = error instanceof Error ? error.message : String(error);
  return /WRONGPASS|NOAUTH|invalid password|invalid username-password/i.test(message);
}

/** How long the start-up check waits for Redis (ms). */
export const REDIS_START_CHECK_TIMEOUT_MS = 5000;

/**
 * Checks IOC_REDIS_URL once at a process's start (one connection, `PING`, no retries):
 * - a refused password stops the process: ConfigError naming IOC_REDIS_URL (password redacted)
 *   and saying authentication failed — retrying cannot mend it;
 * - an unreachable Redis does not: it answers `{ reachable: false, problem }` for the caller to
 *   log, since every node rides out Redis outages (its clients keep reconnecting) and may start
 *   before Redis does.
 *
 * @throws ConfigError when Redis refuses the password
 */
export async function checkRedisAtStart(
  url: string,
  timeoutMs = REDIS_START_CHECK_TIMEOUT_MS,
): Promise<{ reachable: true } | { reachable: false; problem: string }> {
  const client = new Redis(url, {
    lazyConnect: true,
    connectTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
    connectionName: 'ioc-start-check',
  });
  let lastError: Error | undefined;
  client.on('error', (error: Error) => (lastError = error));
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      client.connect().then(() => client.ping()),
      new Promise<never>((_resolve, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
    return { reachable: true };
  } catch (error) {
    const cause = isRedisAuthError(error) ? error : (lastError ?? error);
    const message = cause instanceof Error ? cause.message : String(cause);
    if (isRedisAuthError(cause)) {
      throw new ConfigError([
        `IOC_REDIS_URL: Redis at ${redactRedisUrl(url)} refused the login (authentication failed: ${message}); ` +
          'set the password (and user) Redis expects (requirepass / ACL)',
      ]);
    }
    const code = (cause as { code?: unknown }).code;
    return {
      reachable: false,
      problem: `${code === 'ECONNREFUSED' ? 'connection refused' : 'no answer'} (${message})`,
    };
  } finally {
    clearTimeout(timer);
    client.disconnect();
  }
}
