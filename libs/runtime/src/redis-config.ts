import { z } from 'zod';
import { ConfigError } from './env-config';

/**
 * `IOC_REDIS_URL`: unset = the embedded single-process mode (nothing is shared); set = this node
 * shares state with the other nodes through Redis at that URL (`redis://[user:password@]host:port[/db]`
 * or `rediss://…` for TLS, the schemes ioredis 5 accepts). Shared by every app's env schema
 * (`...redisEnvShape`), so the broker, the API and the deployment checks read one definition.
 */
export const redisEnvShape = {
  IOC_REDIS_URL: z
    .string()
    .refine((text) => {
      try {
        const url = new URL(text);
        return (url.protocol === 'redis:' || url.protocol === 'rediss:') && url.hostname !== '';
      } catch {
        return false;
      }
    }, 'expected a redis:// or rediss:// URL with a host, e.g. redis://127.0.0.1:6379')
    .optional()
    .describe(
      'Redis shared by the nodes of a scaled-out platform (redis:// or rediss:// URL; secret when it holds a password); unset: single-process mode',
    ),
};

/**
 * With IOC_REDIS_URL set, a node id that defaults (e.g. IOC_NODE_ID, IOC_BROKER_ID = `1`) would
 * give two nodes the same identity, so it must be given explicitly: reads the RAW environment
 * (the parsed one has the default filled in).
 * @throws ConfigError naming each variable of `names` that is unset or empty while IOC_REDIS_URL is set
 */
export function requireExplicitWithRedis(
  names: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): void {
  if (env['IOC_REDIS_URL'] === undefined || env['IOC_REDIS_URL'] === '') return;
  const missing = names.filter((name) => env[name] === undefined || env[name] === '');
  if (missing.length === 0) return;
  throw new ConfigError(
    missing.map(
      (name) =>
        `${name}: must be set explicitly when IOC_REDIS_URL is set (each node of a scaled-out platform needs its own id; the default would be shared)`,
    ),
  );
}
