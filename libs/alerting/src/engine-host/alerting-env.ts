import { z } from 'zod';
import { envField } from '@ioc/runtime';

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
};

/** The parsed variables (a subset of the broker's parsed env). */
export interface AlertEngineEnv {
  IOC_ALERTS: 'on' | 'off';
  IOC_ALERT_SNAPSHOT_MS: number;
  IOC_ALERT_TICK_MS: number;
  IOC_AQI_HOUR_GRACE_MS: number;
}

/** AlertEngineHost options from the parsed variables. */
export function alertEngineSettings(env: AlertEngineEnv): {
  enabled: boolean;
  snapshotIntervalMs: number;
  tickMs: number;
  aqiHourGraceMs: number;
} {
  return {
    enabled: env.IOC_ALERTS === 'on',
    snapshotIntervalMs: env.IOC_ALERT_SNAPSHOT_MS,
    tickMs: env.IOC_ALERT_TICK_MS,
    aqiHourGraceMs: env.IOC_AQI_HOUR_GRACE_MS,
  };
}
