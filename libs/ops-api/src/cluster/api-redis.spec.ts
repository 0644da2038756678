import { Redis } from 'ioredis';
import { createLogger } from '@ioc/runtime';
import { describeWithRedis, type RedisHandle, startRedis } from '@ioc/testing';
import { type ApiRedis, connectApiRedis, LOGIN_ADDRESS_KEY_PREFIX, RATE_LIMIT_KEY_PREFIX } from './api-redis';

/*
 * The API nodes' shared rate-limit and failed-login counters on a real redis-server: two nodes
 * (two connections, as two API processes have) count into one window; while Redis is stopped
 * each node answers from its own memory at once, and counts go back to Redis when it returns.
 */

const WINDOW_MS = 60_000;
const logger = createLogger('test', { level: 'silent' });

describeWithRedis(
  "API nodes' shared counters: RedisThrottlerStorage, RedisLoginAddressLimiter (real Redis)",
  () => {
    let redis: RedisHandle;
    let node1: ApiRedis;
    let node2: ApiRedis;
    let inspect: Redis;

    beforeAll(async () => {
      redis = await startRedis();
      node1 = connectApiRedis(redis.url, logger);
      node2 = connectApiRedis(redis.url, logger);
      inspect = new Redis(redis.url, { maxRetriesPerRequest: null });
    });

    afterAll(async () => {
      await node1?.close();
      await node2?.close();
      inspect?.disconnect();
      await redis?.close();
    });

    /** One hit of `key` on `node` in a one-minute window with `limit`. */
    async function counted(node: ApiRedis, key: string, limit: number) {
      return node.rateLimitStorage.increment(key, WINDOW_MS, limit, WINDOW_MS, 'default');
    }

    it('two nodes count into one window: the limit holds across them', async () => {
      // Before its connection is ready a node counts in its own memory (the insurance counter).
      await Promise.all([node1.ready(), node2.ready()]);
      const key = 'default:principal:account:acc_shared';
      const answers = [];
      for (const node of [node1, node2, node1, node2, node1]) answers.push(await counted(node, key, 4));
      expect(answers.map((a) => a.totalHits)).toEqual([1, 2, 3, 4, 5]);
      expect(answers.map((a) => a.isBlocked)).toEqual([false, false, false, false, true]);
      const blocked = answers[4];
      expect(blocked?.timeToBlockExpire).toBeGreaterThan(0);
      expect(blocked?.timeToBlockExpire).toBeLessThanOrEqual(60);
      // One counter, under ioc:, expiring with the window.
      expect(await inspect.get(`${RATE_LIMIT_KEY_PREFIX}:${key}`)).toBe('5');
      const ttl = await inspect.pttl(`${RATE_LIMIT_KEY_PREFIX}:${key}`);
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(WINDOW_MS);
    });

    it('while Redis is stopped each node answers from its own memory at once; Redis counts again once back', async () => {
      const key = 'default:address:10.0.0.7';
      await redis.stop();
      try {
        const started = Date.now();
        const during = [];
        for (let i = 0; i < 3; i++) during.push(await counted(node1, key, 2));
        // RATE_LIMIT_REDIS_TIMEOUT_MS at most per call, far less when the connection is known down.
        expect(Date.now() - started).toBeLessThan(3 * 1000);
        expect(during.map((a) => a.totalHits)).toEqual([1, 2, 3]);
        expect(during[2]?.isBlocked).toBe(true);
        // The other node's memory is its own.
        expect((await counted(node2, key, 2)).totalHits).toBe(1);
      } finally {
        await redis.start();
      }
      const back = `${key}:back`;
      const answer = await waitForRedisCount(node2, back);
      expect(answer).toBeGreaterThanOrEqual(1);
      expect(Number(await inspect.get(`${RATE_LIMIT_KEY_PREFIX}:${back}`))).toBe(answer);
    });

    it('failed logins per address are counted by every node together', async () => {
      await Promise.all([node1.ready(), node2.ready()]);
      const [limiter1, limiter2] = [node1.loginAddressLimiter(3), node2.loginAddressLimiter(3)];
      const address = '203.0.113.9';
      await limiter1.recordFailure(address);
      await limiter2.recordFailure(address);
      expect(await limiter1.blockedForMs(address)).toBe(0);
      await limiter1.recordFailure(address);
      // The third failure, on node 1, blocks the address on node 2 for the rest of the 15 min window.
      const blocked = await limiter2.blockedForMs(address);
      expect(blocked).toBeGreaterThan(14 * 60_000);
      expect(blocked).toBeLessThanOrEqual(15 * 60_000);
      expect(await limiter2.blockedForMs('203.0.113.10')).toBe(0);
      expect(await inspect.get(`${LOGIN_ADDRESS_KEY_PREFIX}:${address}`)).toBe('3');
    });

    /** Counts `key` on `node` until the count lands in Redis (its connection reconnected); the count. */
    async function waitForRedisCount(node: ApiRedis, key: string): Promise<number> {
      const deadline = Date.now() + 15_000;
      for (;;) {
        const answer = await counted(node, key, 1000);
        const stored = await inspect.get(`${RATE_LIMIT_KEY_PREFIX}:${key}`);
        if (stored !== null && Number(stored) === answer.totalHits) return answer.totalHits;
        if (Date.now() > deadline) throw new Error(`rate-limit counts not back in Redis: ${stored}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  },
);
