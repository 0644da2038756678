import { z } from 'zod';
import { envField } from '@ioc/runtime';
import type { StoreThread } from './create-time-series-store';
import type { RetentionPolicy } from './time-series-store';

/**
 * Storage settings shared by every process that opens the time-series store (broker and API),
 * as environment variables.
 */
export const storageEnvSchema = z.object({
  IOC_STORAGE: z
    .enum(['embedded', 'influxdb'])
    .default('embedded')
    .describe('Time-series store: embedded (a file under IOC_DATA_DIR) or influxdb'),
  IOC_STORE_THREAD: z
    .enum(['worker', 'caller'])
    .default('worker')
    .describe(
      "Where the store's work runs: worker (its own thread, so SQLite writes, rollups and line protocol never block MQTT or live pushes) or caller (the process's main thread)",
    ),
  IOC_DATA_DIR: z
    .string()
    .default('./data')
    .describe('Directory of the embedded store and other local state'),
  IOC_INFLUX_URL: z.url().default('http://127.0.0.1:8086').describe('InfluxDB base URL (v1-compatible API)'),
  IOC_INFLUX_DB: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,64}$/, 'letters, digits, _ and - only')
    .default('ioc')
    .describe('InfluxDB database (on 2.x: the bucket mapped through DBRP)'),
  IOC_INFLUX_VERSION: z
    .enum(['1', '2', '3'])
    .default('1')
    .describe(
      'InfluxDB generation: 1 (the adapter creates the database, retention policies and continuous queries: rollups managed), 2 or 3 (bucket/database and DBRP mapping made beforehand; no CREATE DATABASE; rollups per IOC_INFLUX_ROLLUPS)',
    ),
  IOC_INFLUX_ROLLUPS: z
    .enum(['managed', 'external', 'none'])
    .optional()
    .describe(
      'Who keeps the 1m/1h rollups: managed (1.x only: continuous queries + backfill by the adapter), external (a 2.x task or 3.x scheduled job writes the same layout, see deploy/influxdb/README.md), none (history from raw points). Default: managed on 1, none on 2 and 3',
    ),
  IOC_INFLUX_RETENTION_POLICY: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,64}$/, 'letters, digits, _ and - only')
    .optional()
    .describe(
      'Retention policy of raw points on 1.x (or the DBRP mapping on 2.x); default autogen with managed rollups, else the database default',
    ),
  IOC_INFLUX_TOKEN: z.string().optional().describe('InfluxDB token (2.x/3.x); secret'),
  IOC_INFLUX_USER: z.string().optional().describe('InfluxDB 1.x username'),
  IOC_INFLUX_PASSWORD: z.string().optional().describe('InfluxDB 1.x password; secret'),
  IOC_RETENTION_RAW: envField.duration('90d').describe('How long raw readings are kept'),
  IOC_RETENTION_1M: envField.duration('730d').describe('How long 1-minute rollups are kept'),
  IOC_RETENTION_1H: envField.duration('3650d').describe('How long 1-hour rollups are kept'),
});
export type StorageEnv = z.infer<typeof storageEnvSchema>;

export type StorageConfig =
  | { storage: 'embedded'; thread: StoreThread; dataDir: string; retention: RetentionPolicy }
  | {
      storage: 'influxdb';
      thread: StoreThread;
      url: string;
      database: string;
      token?: string;
      username?: string;
      password?: string;
      /** False on 2.x/3.x, which refuse CREATE DATABASE over the v1 API. */
      createDatabase: boolean;
      rollups: 'managed' | 'external' | 'none';
      retentionPolicy?: string;
      retention: RetentionPolicy;
    };

export function storageConfigFromEnv(env: StorageEnv): StorageConfig {
  const retention: RetentionPolicy = {
    rawMs: env.IOC_RETENTION_RAW,
    oneMinuteMs: env.IOC_RETENTION_1M,
    oneHourMs: env.IOC_RETENTION_1H,
  };
  const thread = env.IOC_STORE_THREAD;
  if (env.IOC_STORAGE === 'embedded')
    return { storage: 'embedded', thread, dataDir: env.IOC_DATA_DIR, retention };
  return {
    storage: 'influxdb',
    thread,
    retention,
    url: env.IOC_INFLUX_URL,
    database: env.IOC_INFLUX_DB,
    ...(env.IOC_INFLUX_TOKEN ? { token: env.IOC_INFLUX_TOKEN } : {}),
    ...(env.IOC_INFLUX_USER ? { username: env.IOC_INFLUX_USER } : {}),
    ...(env.IOC_INFLUX_PASSWORD ? { password: env.IOC_INFLUX_PASSWORD } : {}),
    createDatabase: env.IOC_INFLUX_VERSION === '1',
    rollups: env.IOC_INFLUX_ROLLUPS ?? (env.IOC_INFLUX_VERSION === '1' ? 'managed' : 'none'),
    ...(env.IOC_INFLUX_RETENTION_POLICY ? { retentionPolicy: env.IOC_INFLUX_RETENTION_POLICY } : {}),
  };
}
