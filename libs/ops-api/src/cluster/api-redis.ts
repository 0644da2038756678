import type { ThrottlerStorage } from '@nestjs/throttler';
import { createAdapter } from '@socket.io/redis-streams-adapter';
import { Redis, type RedisOptions } from 'ioredis';
import {
  RateLimiterMemory,
  RateLimiterRedis,
  RateLimiterRes,
  RLWrapperTimeouts,
} from 'rate-limiter-flexible';
import type { ServerOptions } from 'socket.io';
import { ADDRESS_FAILURE_WINDOW_MS, type LoginAddressLimiter } from '@ioc/access';
import { type Logger, REDIS_KEY_PREFIX, watchRedisConnection } from '@ioc/runtime';

/**
 * Redis stream of the API nodes' socket.io adapter (@socket.io/redis-streams-adapter 0.3.1): every
 * broadcast that must reach other nodes' sockets is one entry (XADD), read by every node (XREAD).
 */
export const LIVE_STREAM_NAME = `${REDIS_KEY_PREFIX}socket.io`;
/** Prefix of the adapter's PUB/SUB channels (`ioc:socket.io#/live#`, and one per node for answers). */
export const LIVE_CHANNEL_PREFIX = `${REDIS_KEY_PREFIX}socket.io`;
/**
 * Prefix of the adapter's connection-state-recovery session keys. Unused while socket.io's
 * `connectionStateRecovery` is off (it is: a reconnecting client subscribes again), set so that
 * nothing the platform could write in Redis lies outside `ioc:`.
 */
export const LIVE_SESSION_KEY_PREFIX = `${REDIS_KEY_PREFIX}socket.io:session:`;
/**
 * Entries the adapter's stream keeps (XADD `MAXLEN ~`, approximate trimming). A node whose reader
 * was cut off from Redis resumes XREAD from the last entry it read; if more than this many
 * broadcasts were added meanwhile, the oldest of them are trimmed away and that node never sees
 * them. Only rare events go through the stream (command changes, people's alert steps — see
 * LiveGateway), so 10 000 (the adapter's default) covers hours of them.
 */
export const LIVE_STREAM_MAX_LEN = 10_000;
/**
 * How long one XREAD blocks (ms). Smaller than the adapter's 5 s default so a closing node's reader
 * ends soon after the server closes (the reader checks for abort only between reads).
 */
export const LIVE_STREAM_BLOCK_MS = 1000;
/** Prefix of the shared failed-login counters per client address: `ioc:login-address:{address}`. */
export const LOGIN_ADDRESS_KEY_PREFIX = `${REDIS_KEY_PREFIX}login-address`;
/** Prefix of the shared HTTP rate-limit counters: `ioc:ratelimit:{throttler}:{tracker}`. */
export const RATE_LIMIT_KEY_PREFIX = `${REDIS_KEY_PREFIX}ratelimit`;
/**
 * A rate-limit counter call that takes longer than this (ms) is answered by the node's in-memory
 * insurance counter instead, so a slow or gone Redis never holds a request up.
 */
export const RATE_LIMIT_REDIS_TIMEOUT_MS = 200;

/** ioredis reconnects after min(attempt × 200 ms, 2 s): fast after a blip, at most every 2 s while Redis is down. */
export function redisRetryDelayMs(attempt: number): number {
  return Math.min(attempt * 200, 2000);
}

/** The socket.io `adapter` server option: a factory making one adapter per namespace. */
export type LiveAdapterFactory = NonNullable<ServerOptions['adapter']>;

/** What an API node shares through Redis (IOC_REDIS_URL): made by connectApiRedis. */
export interface ApiRedis {
  /** socket.io's adapter for every namespace (OpsApiModuleOptions.liveAdapter). */
  liveAdapter: LiveAdapterFactory;
  /** HTTP rate-limit counters shared by every node (OpsApiModuleOptions.rateLimitStorage). */
  rateLimitStorage: ThrottlerStorage;
  /**
   * Failed logins per client address counted by every node together (AccessPortSettings
   * .addressLimiter): `maxFailures` (IOC_AUTH_ADDRESS_MAX_FAILURES) per ADDRESS_FAILURE_WINDOW_MS.
   */
  loginAddressLimiter(maxFailures: number): LoginAddressLimiter;
  /** Resolves once both connections are ready (for tests; the node never waits for it). */
  ready(): Promise<void>;
  /** Closes the Redis connections (after the app has closed: the io server closed its adapters). */
  close(): Promise<void>;
}

/**
 * Connects an API node to Redis at `url`:
 * - the socket.io adapter's client (@socket.io/redis-streams-adapter; it duplicates it for its
 *   stream reader and its PUB/SUB subscriber): `maxRetriesPerRequest: null`, so while Redis is
 *   away a broadcast waits in ioredis's offline queue and goes out when Redis is back, and the
 *   reader's blocked XREAD is re-sent (autoResendUnfulfilledCommands) from the entry it read last;
 * - a second client for the rate-limit counters with no offline queue: while Redis is away each
 *   counter call fails at once and the node's own in-memory counter (the same limits) answers.
 * Neither connection is awaited: the node starts and serves REST while Redis is unreachable,
 * and its live feed joins the others once Redis answers.
 */
export function connectApiRedis(url: string, logger: Logger): ApiRedis {
  const common: RedisOptions = { retryStrategy: redisRetryDelayMs, connectionName: 'ioc-api' };
  const adapterClient = new Redis(url, { ...common, maxRetriesPerRequest: null });
  const limitClient = new Redis(url, { ...common, enableOfflineQueue: false, maxRetriesPerRequest: 1 });
  // Each connection gets its error listener (one warn per outage); the adapter's duplicates
  // (its stream reader and PUB/SUB subscriber) get one from the adapter (it ignores their errors).
  watchRedisConnection(adapterClient, logger, 'socket.io adapter');
  watchRedisConnection(limitClient, logger, 'rate limits');
  // Made at the first namespace: createAdapter opens its reader and subscriber connections at
  // once, and only the io server's close (closing every namespace's adapter) ends them.
  // A `function`, not an arrow: socket.io calls the adapter option with `new`.
  let factory: ((nsp: unknown) => unknown) | undefined;
  const liveAdapter = function (nsp: unknown): unknown {
    factory ??= createAdapter(adapterClient, {
      streamName: LIVE_STREAM_NAME,
      channelPrefix: LIVE_CHANNEL_PREFIX,
      sessionKeyPrefix: LIVE_SESSION_KEY_PREFIX,
      maxLen: LIVE_STREAM_MAX_LEN,
      blockTimeInMs: LIVE_STREAM_BLOCK_MS,
      onlyPlaintext: true,
    });
    return factory(nsp);
  };
  const isReady = (client: Redis): Promise<void> =>
    client.status === 'ready'
      ? Promise.resolve()
      : new Promise((resolve) => client.once('ready', () => resolve()));
  return {
    liveAdapter: liveAdapter as LiveAdapterFactory,
    rateLimitStorage: new RedisThrottlerStorage(limitClient),
    loginAddressLimiter: (maxFailures) => new RedisLoginAddressLimiter(limitClient, maxFailures),
    async ready() {
      await Promise.all([isReady(adapterClient), isReady(limitClient)]);
    },
    async close() {
      await Promise.allSettled([adapterClient.quit(), limitClient.quit()]);
      adapterClient.disconnect();
      limitClient.disconnect();
    },
  };
}

/**
 * `@nestjs/throttler` storage whose counters every API node shares in Redis, through
 * rate-limiter-flexible's RateLimiterRedis (one fixed window per counter: the first hit creates
 * `ioc:ratelimit:{key}` with the window's expiry, each hit increments it atomically in a Lua
 * script). A request is refused while its counter is above the limit, until the window ends.
 * While Redis is unreachable (or slower than RATE_LIMIT_REDIS_TIMEOUT_MS) the node's own
 * in-memory counter with the same window answers (rate-limiter-flexible's insuranceLimiter):
 * each node then allows the limit on its own, which is the single-node behaviour.
 */
export class RedisThrottlerStorage implements ThrottlerStorage {
  /** One limiter per window length (the platform's throttlers all use 60 s). */
  private readonly limiters = new Map<number, RLWrapperTimeouts>();

  constructor(private readonly client: Redis) {}

  /**
   * Counts one hit of `key` in a window of `ttl` ms.
   * @returns the throttler's record: hits so far, seconds to the window's end, whether blocked
   */
  async increment(
    key: string,
    ttl: number,
    limit: number,
    _blockDuration: number,
    _throttlerName: string,
  ): ReturnType<ThrottlerStorage['increment']> {
    let result: RateLimiterRes;
    try {
      result = await this.limiterFor(ttl).consume(key, 1);
    } catch (refusal) {
      // Points are never exhausted (see limiterFor), so this is a rejection of the insurance
      // limiter itself, which does not happen; count the hit as allowed rather than fail the request.
      if (refusal instanceof RateLimiterRes) result = refusal;
      else throw refusal;
    }
    const totalHits = result.consumedPoints;
    const timeToExpire = Math.max(1, Math.ceil(result.msBeforeNext / 1000));
    const isBlocked = totalHits > limit;
    return { totalHits, timeToExpire, isBlocked, timeToBlockExpire: isBlocked ? timeToExpire : 0 };
  }

  /**
   * The limiter of a window: its points are unbounded (the limit differs per request — principal
   * or anonymous — so the throttler compares the count with it, not rate-limiter-flexible).
   */
  private limiterFor(ttlMs: number): RLWrapperTimeouts {
    let limiter = this.limiters.get(ttlMs);
    if (!limiter) {
      const duration = Math.max(1, Math.ceil(ttlMs / 1000));
      limiter = new RLWrapperTimeouts({
        limiter: new RateLimiterRedis({
          storeClient: this.client,
          keyPrefix: RATE_LIMIT_KEY_PREFIX,
          points: Number.MAX_SAFE_INTEGER,
          duration,
          rejectIfRedisNotReady: true,
        }),
        timeoutMs: RATE_LIMIT_REDIS_TIMEOUT_MS,
        insuranceLimiter: new RateLimiterMemory({
          keyPrefix: RATE_LIMIT_KEY_PREFIX,
          points: Number.MAX_SAFE_INTEGER,
          duration,
        }),
      });
      this.limiters.set(ttlMs, limiter);
    }
    return limiter;
  }
}

/**
 * LoginAddressLimiter (`@ioc/access`) whose counts every API node shares in Redis
 * (`ioc:login-address:{address}`, rate-limiter-flexible's RateLimiterRedis): after `maxFailures`
 * failed logins from one address within `windowMs` (default ADDRESS_FAILURE_WINDOW_MS, 15 min),
 * logins from it are refused on every node until the window that counted them ends — as
 * MemoryLoginAddressLimiter does on one node. While Redis is unreachable (or slower than
 * RATE_LIMIT_REDIS_TIMEOUT_MS) this node's own in-memory counter answers.
 */
export class RedisLoginAddressLimiter implements LoginAddressLimiter {
  private readonly limiter: RLWrapperTimeouts;

  constructor(
    client: Redis,
    private readonly maxFailures: number,
    windowMs: number = ADDRESS_FAILURE_WINDOW_MS,
  ) {
    const duration = Math.max(1, Math.ceil(windowMs / 1000));
    const common = { keyPrefix: LOGIN_ADDRESS_KEY_PREFIX, points: maxFailures, duration };
    this.limiter = new RLWrapperTimeouts({
      limiter: new RateLimiterRedis({ ...common, storeClient: client, rejectIfRedisNotReady: true }),
      timeoutMs: RATE_LIMIT_REDIS_TIMEOUT_MS,
      insuranceLimiter: new RateLimiterMemory(common),
    });
  }

  async blockedForMs(address: string): Promise<number> {
    const state = await this.limiter.get(address);
    return state !== null && state.consumedPoints >= this.maxFailures ? Math.max(1, state.msBeforeNext) : 0;
  }

  async recordFailure(address: string): Promise<void> {
    await this.limiter.penalty(address, 1);
  }
}
