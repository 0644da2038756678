import { join } from 'node:path';
import { z } from 'zod';

export type DatabaseKind = 'sqlite' | 'postgres';

/** Where the registry database is: an embedded SQLite file, or a PostgreSQL server. */
export type DatabaseConfig =
  | { kind: 'sqlite'; /** File path; created with its directory if absent. */ path: string }
  | {
      kind: 'postgres';
      /** `postgres://user:password@host:port/database` (libpq URI). */
      url: string;
      /** Connections in the pool (default 10). */
      poolSize?: number;
    };

/** The embedded database's file name under IOC_DATA_DIR. */
export const SQLITE_FILE_NAME = 'registry.sqlite';

/**
 * Environment variables of the registry database, merged into each app's schema:
 * `IOC_DATABASE_URL` (unset: the embedded SQLite file `{IOC_DATA_DIR}/registry.sqlite`),
 * `IOC_DATABASE_POOL_SIZE` (PostgreSQL connections per process, default 10).
 */
export const databaseEnvShape = {
  IOC_DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL (leave it unset for the embedded SQLite file)')
    .optional()
    .describe(
      'Registry database: a postgres:// URL, or unset for the embedded SQLite file under IOC_DATA_DIR; secret',
    ),
  IOC_DATABASE_POOL_SIZE: z.coerce
    .number()
    .int()
    .min(1)
    .max(200)
    .default(10)
    .describe('PostgreSQL connections per process'),
};

/** The database an app's environment names. */
export function databaseConfigFromEnv(env: {
  IOC_DATA_DIR: string;
  IOC_DATABASE_URL?: string | undefined;
  IOC_DATABASE_POOL_SIZE?: number | undefined;
}): DatabaseConfig {
  if (env.IOC_DATABASE_URL !== undefined) {
    return { kind: 'postgres', url: env.IOC_DATABASE_URL, poolSize: env.IOC_DATABASE_POOL_SIZE ?? 10 };
  }
  return { kind: 'sqlite', path: join(env.IOC_DATA_DIR, SQLITE_FILE_NAME) };
}

/** The config as safe to log: a PostgreSQL URL without its password. */
export function describeDatabase(config: DatabaseConfig): string {
  if (config.kind === 'sqlite') return `sqlite ${config.path}`;
  try {
    const url = new URL(config.url);
    if (url.password !== '') url.password = '***';
    return `postgres ${url.toString()}`;
  } catch {
    return 'postgres (unparsable URL)';
  }
}
