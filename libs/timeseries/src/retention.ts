import { RESOLUTION_MS, type RetentionPolicy } from './time-series-store';

export const MINUTE_MS = RESOLUTION_MS['1m'];
export const HOUR_MS = RESOLUTION_MS['1h'];
const DAY_MS = 24 * HOUR_MS;

/** Raw points 90 days, 1-minute rollups 2 years, 1-hour rollups 10 years. */
export const DEFAULT_RETENTION: Readonly<RetentionPolicy> = {
  rawMs: 90 * DAY_MS,
  oneMinuteMs: 2 * 365 * DAY_MS,
  oneHourMs: 10 * 365 * DAY_MS,
};

/**
 * The defaults overridden by what is given. Each duration is a positive whole number of ms, or
 * `Infinity` for "keep forever" (InfluxDB's `DURATION INF`); `minimumMs` is the adapter's floor
 * (InfluxDB refuses retention policies shorter than one hour).
 */
export function resolveRetention(
  given: Partial<RetentionPolicy> | undefined,
  minimumMs = 1,
): RetentionPolicy {
  const retention = { ...DEFAULT_RETENTION, ...given };
  for (const [name, ms] of Object.entries(retention)) {
    const valid = ms === Number.POSITIVE_INFINITY || (Number.isSafeInteger(ms) && ms >= minimumMs);
    if (!valid) {
      throw new RangeError(
        `retention.${name} must be a whole number of ms >= ${minimumMs} or Infinity, got ${String(ms)}`,
      );
    }
  }
  return retention;
}

/** Largest multiple of `step` not above `ts` (ts >= 0 or negative alike). */
export function floorTo(ts: number, step: number): number {
  return ts - (((ts % step) + step) % step);
}

/** Smallest multiple of `step` not below `ts`. */
export function ceilTo(ts: number, step: number): number {
  const floor = floorTo(ts, step);
  return floor === ts ? ts : floor + step;
}

/**
 * Oldest time a resolution still holds completely at `now`: everything before it may be deleted.
 * Rounded down to a whole hour, so retention never cuts into a 1-minute or 1-hour bucket: a
 * bucket is either entirely kept or entirely gone, and a rollup recomputed from what is kept is
 * never a partial one.
 */
export function retentionCutoff(now: number, retainMs: number): number {
  if (retainMs === Number.POSITIVE_INFINITY) return Number.NEGATIVE_INFINITY;
  return floorTo(now - retainMs, HOUR_MS);
}
