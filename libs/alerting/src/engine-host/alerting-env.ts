import { z } from 'zod';
import { ConfigError, envField } from '@ioc/runtime';
import { STREAM_DEFAULT_MAX_ENTRIES } from './reading-stream';

/**
 * Environment variables of the alert engine host, merged into the broker's env schema (as
 * `accessEnvShape` is into the API's). Durations in ms.
 */
export const alertEngineEnvShape = {
  IOC_ALERTS: z
    .enum(['on', 'off'])
    .default('on')
    .describe(
      'on: the broker runs the alert engine as a consumer of its spool; off: no alerts are evaluated',
    ),
  IOC_ALERT_SNAPSHOT_MS: envField
    .positiveInt(5000)
    .describe(
      'How often the alert engine commits a snapshot of its state with its cursor (its spool records are released up to it), ms',
    ),
  IOC_ALERT_TICK_MS: envField
    .positiveInt(1000)
    .describe('How often timer-driven rules run (no data, keep firing for, event expiry, status for), ms'),
  IOC_AQI_HOUR_GRACE_MS: envField
    .positiveInt(10 * 60_000)
    .describe(
      "A station that stopped reporting gets its last hour's VN_AQI this long after the hour ended, ms",
    ),
  IOC_ALERT_LEASE_MS: envField
    .positiveInt(15_000)
    .describe(
      'With IOC_REDIS_URL: the alert engine lease (one evaluating broker node) lasts this long after its last renewal, on the database clock; a killed holder is replaced within this + IOC_ALERT_LEASE_RENEW_MS, ms',
    ),
  IOC_ALERT_LEASE_RENEW_MS: envField
    .positiveInt(4000)
    .describe(
      'With IOC_REDIS_URL: how often the holder renews the lease and the other nodes try to take it; under a third of IOC_ALERT_LEASE_MS. A holder not renewed for IOC_ALERT_LEASE_MS minus this stops evaluating, ms',
    ),
  IOC_ALERT_STREAM_MAX_ENTRIES: envField
    .positiveInt(STREAM_DEFAULT_MAX_ENTRIES)
    .describe(
      'With IOC_REDIS_URL: cap of the Redis stream ioc:alerts:readings, in entries of up to 500 readings (XADD MAXLEN ~); the holder trims it to its snapshot, the cap only bites while no node evaluates',
    ),
};

/** The parsed variables (a subset of the broker's parsed env). */
export interface AlertEngineEnv {
  IOC_ALERTS: 'on' | 'off';
  IOC_ALERT_SNAPSHOT_MS: number;
  IOC_ALERT_TICK_MS: number;
  IOC_AQI_HOUR_GRACE_MS: number;
  IOC_ALERT_LEASE_MS: number;
  IOC_ALERT_LEASE_RENEW_MS: number;
  IOC_ALERT_STREAM_MAX_ENTRIES: number;
}

/**
 * AlertEngineHost and AlertEngineLeader options from the parsed variables.
 * @throws ConfigError naming IOC_ALERT_LEASE_RENEW_MS when it is not under a third of
 *   IOC_ALERT_LEASE_MS (a holder must be able to miss two renewals and still stop before its term
 *   can expire elsewhere)
 */
export function alertEngineSettings(env: AlertEngineEnv): {
  enabled: boolean;
  snapshotIntervalMs: number;
  tickMs: number;
  aqiHourGraceMs: number;
  leaseMs: number;
  leaseRenewMs: number;
  streamMaxEntries: number;
} {
  if (!(env.IOC_ALERT_LEASE_RENEW_MS * 3 < env.IOC_ALERT_LEASE_MS)) {
    throw new ConfigError([
      `IOC_ALERT_LEASE_RENEW_MS: must be under a third of IOC_ALERT_LEASE_MS (${env.IOC_ALERT_LEASE_MS} ms), got ${env.IOC_ALERT_LEASE_RENEW_MS} ms`,
    ]);
  }
  return {
    enabled: env.IOC_ALERTS === 'on',
    snapshotIntervalMs: env.IOC_ALERT_SNAPSHOT_MS,
    tickMs: env.IOC_ALERT_TICK_MS,
    aqiHourGraceMs: env.IOC_AQI_HOUR_GRACE_MS,
    leaseMs: env.IOC_ALERT_LEASE_MS,
    leaseRenewMs: env.IOC_ALERT_LEASE_RENEW_MS,
    streamMaxEntries: env.IOC_ALERT_STREAM_MAX_ENTRIES,
  };
}
