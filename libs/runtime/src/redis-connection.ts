import { createHmac } from 'node:crypto';
import { Redis } from 'ioredis';
import { ConfigError } from './env-config';
import type { Logger } from './logger';
import { describeNodeIdClaim, type NodeKind, nodeIdClaimKey } from './node-id-claim';
import { REDIS_KEY_PREFIX } from './scale-out';

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
  // ioredis 5 (Redis.js, redis/event_handler.js) sets its private `manuallyClosing` from
  // quit()/disconnect() until its closeHandler ran: it emits `close` while still true, then resets
  // it and ends the connection (status `end`).
  const closedOnPurpose = (): boolean =>
    (client as { manuallyClosing?: unknown }).manuallyClosing === true || client.status === 'end';
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

/** The ConfigError of a Redis that refused IOC_REDIS_URL's login (password redacted). */
function redisLoginRefused(url: string, message: string): ConfigError {
  return new ConfigError([
    `IOC_REDIS_URL: Redis at ${redactRedisUrl(url)} refused the login (authentication failed: ${message}); ` +
      'set the password (and user) Redis expects (requirepass / ACL)',
  ]);
}

/** How long the start-up check waits for Redis (ms). */
export const REDIS_START_CHECK_TIMEOUT_MS = 5000;

/** A one-shot Redis connection for the start-up checks: no reconnection, no offline queue, no retries. */
function startCheckClient(url: string, timeoutMs: number): Redis {
  const client = new Redis(url, {
    lazyConnect: true,
    connectTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
    connectionName: 'ioc-start-check',
  });
  return client;
}

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
  const client = startCheckClient(url, timeoutMs);
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
    if (isRedisAuthError(cause)) throw redisLoginRefused(url, message);
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

/**
 * The Redis key holding the fingerprint of the platform's IOC_INTERNAL_SECRET (a string:
 * internalSecretFingerprint's hex), written by the first node to start (checkInternalSecretAtStart).
 */
export const INTERNAL_SECRET_FINGERPRINT_KEY = `${REDIS_KEY_PREFIX}internal-secret-fingerprint`;

/** The fixed label the fingerprint is the HMAC of (changing it would make every recorded fingerprint differ). */
export const INTERNAL_SECRET_FINGERPRINT_LABEL = 'ioc internal secret fingerprint v1';

/**
 * A fingerprint of IOC_INTERNAL_SECRET that tells two secrets apart without revealing either:
 * HMAC-SHA256 (RFC 2104) of INTERNAL_SECRET_FINGERPRINT_LABEL keyed with the secret, 64 hex digits.
 */
export function internalSecretFingerprint(secret: string): string {
  return createHmac('sha256', secret).update(INTERNAL_SECRET_FINGERPRINT_LABEL).digest('hex');
}

/** Replaces KEYS[1]'s value ARGV[1] (the one read) by ARGV[2]: 1 done, 0 it changed meanwhile. */
const REPLACE_IF_UNCHANGED = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2])
  return 1
end
return 0
`;

export interface InternalSecretCheckOptions {
  /** IOC_REDIS_URL. */
  redisUrl: string;
  /** IOC_INTERNAL_SECRET (never written anywhere; only its fingerprint is). */
  secret: string;
  /** This node: its own id claim (`ioc:node:{kind}:{id}`) does not count as another live node. */
  kind: NodeKind;
  id: string;
  logger: Pick<Logger, 'warn' | 'info'>;
  /** How long to wait for Redis (ms); default REDIS_START_CHECK_TIMEOUT_MS. */
  timeoutMs?: number;
}

/**
 * What checkInternalSecretAtStart found: `recorded` (no fingerprint yet: this node's stored),
 * `matches`, `replaced` (another one, but no other live node: this node's stored, a warning
 * logged), `unchecked` (Redis did not answer: `problem` says why; the node starts, as it does when
 * Redis is away).
 */
export type InternalSecretCheck =
  { outcome: 'recorded' | 'matches' | 'replaced' } | { outcome: 'unchecked'; problem: string };

/**
 * Checks at a scale-out node's start (IOC_REDIS_URL set; broker and API nodes) that its
 * IOC_INTERNAL_SECRET is the one the running nodes use — otherwise a broker node with another
 * secret would start and refuse every API node that reconnects onto it (CONNACK 4), and an API
 * node with another secret would be refused by every broker. The secret's fingerprint
 * (internalSecretFingerprint) is kept in Redis at INTERNAL_SECRET_FINGERPRINT_KEY:
 * - none recorded: this node's is recorded (`SET NX`);
 * - the same: fine;
 * - another, and other live nodes exist (their id claims `ioc:node:{api|broker}:*`, this node's
 *   own excluded; a stopped node's claim is gone, a killed one's expires after
 *   NODE_ID_CLAIM_TTL_MS): refused, naming them;
 * - another, and no other live node: the secret was changed with every node stopped, as it must
 *   be — this node's replaces it (compare-and-set) and a warning is logged.
 * One connection, no retries; an unreachable Redis is not an error (`unchecked`).
 *
 * @throws ConfigError naming IOC_INTERNAL_SECRET and the live nodes when they use another secret;
 *   ConfigError naming IOC_REDIS_URL when Redis refuses the password
 */
export async function checkInternalSecretAtStart(
  options: InternalSecretCheckOptions,
): Promise<InternalSecretCheck> {
  const timeoutMs = options.timeoutMs ?? REDIS_START_CHECK_TIMEOUT_MS;
  const fingerprint = internalSecretFingerprint(options.secret);
  const ownKey = nodeIdClaimKey(options.kind, options.id);
  const client = startCheckClient(options.redisUrl, timeoutMs);
  let lastError: Error | undefined;
  client.on('error', (error: Error) => (lastError = error));
  let timer: NodeJS.Timeout | undefined;
  const check = async (): Promise<InternalSecretCheck> => {
    await client.connect();
    for (let attempt = 0; ; attempt++) {
      if ((await client.set(INTERNAL_SECRET_FINGERPRINT_KEY, fingerprint, 'NX')) === 'OK') {
        options.logger.info({ key: INTERNAL_SECRET_FINGERPRINT_KEY }, 'internal secret fingerprint recorded');
        return { outcome: 'recorded' };
      }
      const recorded = await client.get(INTERNAL_SECRET_FINGERPRINT_KEY);
      if (recorded === null) continue; // deleted meanwhile: record ours
      if (recorded === fingerprint) return { outcome: 'matches' };
      const live: string[] = [];
      for (const kind of ['broker', 'api'] as const) {
        const keys = await scanKeys(client, nodeIdClaimKey(kind, '*'));
        for (const key of keys.filter((key) => key !== ownKey).sort()) {
          const holder = await client.get(key);
          if (holder !== null)
            live.push(
              `${kind} node ${key.slice(nodeIdClaimKey(kind, '').length)} (${describeNodeIdClaim(holder)})`,
            );
        }
      }
      if (live.length > 0) {
        throw new ConfigError([
          `IOC_INTERNAL_SECRET: differs from the one the running nodes use (${live.join('; ')}): ` +
            'set the same IOC_INTERNAL_SECRET on every broker and API node. To change the secret, stop every node, ' +
            'then start them all with the new one',
        ]);
      }
      if (
        (await client.eval(
          REPLACE_IF_UNCHANGED,
          1,
          INTERNAL_SECRET_FINGERPRINT_KEY,
          recorded,
          fingerprint,
        )) === 1
      ) {
        options.logger.warn(
          { key: INTERNAL_SECRET_FINGERPRINT_KEY },
          'IOC_INTERNAL_SECRET changed: it differs from the one the nodes that ran before used (none runs now: no node id is claimed in Redis); every node must now start with this one',
        );
        return { outcome: 'replaced' };
      }
      if (attempt >= 3) throw new Error(`${INTERNAL_SECRET_FINGERPRINT_KEY} keeps changing under this check`);
    }
  };
  try {
    return await Promise.race([
      check(),
      new Promise<never>((_resolve, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    const cause = isRedisAuthError(error) ? error : (lastError ?? error);
    const message = cause instanceof Error ? cause.message : String(cause);
    if (isRedisAuthError(cause)) throw redisLoginRefused(options.redisUrl, message);
    options.logger.warn(
      { redis: redactRedisUrl(options.redisUrl), problem: message },
      'IOC_INTERNAL_SECRET not compared with the other nodes’ (Redis does not answer)',
    );
    return { outcome: 'unchecked', problem: message };
  } finally {
    clearTimeout(timer);
    client.disconnect();
  }
}

/** Every key matching `pattern` (SCAN, so a big Redis is not blocked as KEYS would). */
async function scanKeys(client: Redis, pattern: string): Promise<string[]> {
  const keys = new Set<string>();
  let cursor = '0';
  do {
    const [next, batch] = await client.scan(cursor, 'MATCH', pattern, 'COUNT', 200);
    for (const key of batch) keys.add(key);
    cursor = next;
  } while (cursor !== '0');
  return [...keys];
}
