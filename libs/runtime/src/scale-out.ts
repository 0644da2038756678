import { z } from 'zod';
import { ConfigError } from './env-config';

/**
 * `IOC_REDIS_URL`: unset, a process runs in the embedded single-process mode; set, it shares state
 * with the other nodes of its kind through this Redis (broker nodes: subscriptions, sessions,
 * retained messages and the message bus; API nodes: socket.io rooms). A `redis://` or `rediss://`
 * (TLS) URL as ioredis reads it: `redis://[[user]:password@]host[:port][/db]`.
 */
export const redisUrlField = z
  .string()
  .refine((text) => {
    try {
      const url = new URL(text);
      return (url.protocol === 'redis:' || url.protocol === 'rediss:') && url.hostname !== '';
    } catch {
      return false;
    }
  }, 'expected a redis:// or rediss:// URL such as redis://127.0.0.1:6379')
  .optional()
  .describe(
    'Redis of a scale-out installation (redis:// or rediss://): unset = single-process mode; set = this node shares state with the other nodes through it',
  );

/** The zod shape of the scale-out variables every process reads (spread into its env schema). */
export const redisEnvShape = { IOC_REDIS_URL: redisUrlField };

/**
 * Prefix of every key and pub/sub channel the platform uses in Redis (each family is listed in
 * the README, "Scaling out"), so one Redis can be shared with other applications and a `SCAN
 * MATCH ioc:*` finds everything of the platform's.
 */
export const REDIS_KEY_PREFIX = 'ioc:';

/**
 * A node's id when it runs beside others on one Redis: it must be given explicitly, since two
 * nodes left on the default id would take each other for the same node.
 *
 * @param variable  the id's environment variable (`IOC_BROKER_ID`, `IOC_NODE_ID`)
 * @param redisUrl  IOC_REDIS_URL as parsed (undefined: single-process mode, nothing is required)
 * @param env       the raw environment (before defaults are applied)
 * @throws ConfigError naming the variable when IOC_REDIS_URL is set and the variable is not
 */
export function requireNodeIdWithRedis(
  variable: string,
  redisUrl: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): void {
  if (redisUrl === undefined) return;
  const value = env[variable];
  if (value === undefined || value === '') {
    throw new ConfigError([
      `${variable}: required when IOC_REDIS_URL is set (each node needs its own fixed id; two nodes on the default would share one)`,
    ]);
  }
}
