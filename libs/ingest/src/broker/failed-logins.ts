import type Redis from 'ioredis';
import {
  RateLimiterMemory,
  RateLimiterRedis,
  RLWrapperTimeouts,
  type RateLimiterAbstract,
} from 'rate-limiter-flexible';
import { REDIS_KEY_PREFIX } from '@ioc/runtime';

/**
 * The seam between device authentication and wherever failed logins are counted. One broker
 * counts in memory (MemoryFailedLoginLimiter); several brokers behind a load balancer share
 * a Redis-backed one (RedisFailedLoginLimiter), so an attacker cannot spread guesses over the brokers.
 */
export interface FailedLoginLimiter {
  /**
   * Whether logins for `deviceId` (the CONNECT username) or from `address` (the connection's
   * remote address) are refused for now. Undefined keys are not checked.
   */
  isBlocked(deviceId: string | undefined, address: string | undefined): Promise<boolean>;
  /** Records one failed login (unknown device, wrong or expired secret, no username) for both keys. */
  recordFailure(deviceId: string | undefined, address: string | undefined): Promise<void>;
}

/**
 * Failed-login limits (IOC_MQTT_AUTH_MAX_FAILURES_PER_DEVICE, …_PER_ADDRESS,
 * IOC_MQTT_AUTH_FAILURE_WINDOW_SECONDS, IOC_MQTT_AUTH_BLOCK_SECONDS): after `perDevice` failures
 * for one device id, or `perAddress` from one address, within `windowSeconds`, logins for that key
 * are refused (CONNACK 5, the secret not even checked) for `blockSeconds`.
 */
export interface FailedLoginLimits {
  perDevice: number;
  perAddress: number;
  windowSeconds: number;
  blockSeconds: number;
}

/**
 * The defaults, a choice rather than a measurement:
 * - secrets are 256-bit random tokens, so throttling does not protect them from guessing (nothing
 *   could); it bounds the CPU, log lines and connection churn a misbehaving or hostile client
 *   causes, and slows the probing of device ids;
 * - `perDevice` 10 per 60 s: a device with a wrong secret that reconnects every 1–5 s (common
 *   MQTT client back-offs) is stopped within a minute, while a device that fails once or twice
 *   (a rotation applied late) never is;
 * - `perAddress` 100 per 60 s: higher because many devices share one address behind a gateway,
 *   NAT or carrier-grade NAT (a site of a few dozen devices after a botched rotation stays under it);
 * - `blockSeconds` 60: short, because a per-device block can be triggered by anyone who knows the
 *   device id (ids are not secret: they are in topics) and locks the real device out meanwhile —
 *   a longer block would make that denial of service cheaper. Certificate logins on the TLS
 *   listener are not throttled per device for the same reason.
 */
export const DEFAULT_FAILED_LOGIN_LIMITS: FailedLoginLimits = {
  perDevice: 10,
  perAddress: 100,
  windowSeconds: 60,
  blockSeconds: 60,
};

/** FailedLoginLimiter on two rate-limiter-flexible limiters: failures per device id, per address. */
class RateLimiterFailedLogins implements FailedLoginLimiter {
  constructor(
    private readonly limits: FailedLoginLimits,
    private readonly byDevice: RateLimiterAbstract,
    private readonly byAddress: RateLimiterAbstract,
  ) {}

  async isBlocked(deviceId: string | undefined, address: string | undefined): Promise<boolean> {
    const [device, source] = await Promise.all([
      deviceId === undefined ? null : this.byDevice.get(deviceId),
      address === undefined ? null : this.byAddress.get(address),
    ]);
    return (
      (device?.consumedPoints ?? 0) >= this.limits.perDevice ||
      (source?.consumedPoints ?? 0) >= this.limits.perAddress
    );
  }

  async recordFailure(deviceId: string | undefined, address: string | undefined): Promise<void> {
    await Promise.all([
      deviceId === undefined ? undefined : this.fail(this.byDevice, deviceId, this.limits.perDevice),
      address === undefined ? undefined : this.fail(this.byAddress, address, this.limits.perAddress),
    ]);
  }

  /** One more failure for `key`; the failure that reaches `limit` blocks the key for blockSeconds. */
  private async fail(limiter: RateLimiterAbstract, key: string, limit: number): Promise<void> {
    const result = await limiter.penalty(key, 1);
    if (result.consumedPoints === limit) await limiter.block(key, this.limits.blockSeconds);
  }
}

/** FailedLoginLimiter in this process's memory (rate-limiter-flexible's RateLimiterMemory): one broker node. */
export class MemoryFailedLoginLimiter extends RateLimiterFailedLogins {
  constructor(limits: FailedLoginLimits = DEFAULT_FAILED_LOGIN_LIMITS) {
    super(
      limits,
      new RateLimiterMemory({
        keyPrefix: 'device',
        points: limits.perDevice,
        duration: limits.windowSeconds,
      }),
      new RateLimiterMemory({
        keyPrefix: 'address',
        points: limits.perAddress,
        duration: limits.windowSeconds,
      }),
    );
  }
}

/** Prefix of the failed-login counters the broker nodes share in Redis: `ioc:mqtt-login-failures:{device|address}:{key}`. */
export const FAILED_LOGINS_KEY_PREFIX = `${REDIS_KEY_PREFIX}mqtt-login-failures`;

/**
 * How long a failed-login check waits for Redis before this node's own counters answer (ms): a
 * CONNECT must not hang on an outage.
 */
export const FAILED_LOGINS_REDIS_TIMEOUT_MS = 500;

/**
 * FailedLoginLimiter shared by every broker node in Redis (rate-limiter-flexible's RateLimiterRedis,
 * keys under FAILED_LOGINS_KEY_PREFIX), so guesses spread over the nodes behind a load balancer
 * count together. While Redis cannot be reached (or answers slower than
 * FAILED_LOGINS_REDIS_TIMEOUT_MS) this node's own in-memory counters answer (insuranceLimiter):
 * each node then throttles on its own, the single-node behaviour.
 */
export class RedisFailedLoginLimiter extends RateLimiterFailedLogins {
  constructor(redis: Redis, limits: FailedLoginLimits = DEFAULT_FAILED_LOGIN_LIMITS) {
    const limiter = (kind: 'device' | 'address', points: number): RateLimiterAbstract => {
      const common = {
        keyPrefix: `${FAILED_LOGINS_KEY_PREFIX}:${kind}`,
        points,
        duration: limits.windowSeconds,
      };
      return new RLWrapperTimeouts({
        limiter: new RateLimiterRedis({ ...common, storeClient: redis, rejectIfRedisNotReady: true }),
        timeoutMs: FAILED_LOGINS_REDIS_TIMEOUT_MS,
        insuranceLimiter: new RateLimiterMemory(common),
      });
    };
    super(limits, limiter('device', limits.perDevice), limiter('address', limits.perAddress));
  }
}
