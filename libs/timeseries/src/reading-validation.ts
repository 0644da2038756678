import type { Reading } from '@ioc/contracts';
import { InvalidReadingError } from './errors';
import { isWellFormedUnicode } from './unicode';

/**
 * Names a metric may not have, because the stores use them for something else: InfluxDB keys a
 * point by `time` and the tags below, and keeps `seq` as a field beside the metrics. Refusing
 * them in every adapter keeps the adapters interchangeable (what one accepts, all accept).
 */
export const RESERVED_METRIC_NAMES: ReadonlySet<string> = new Set([
  'time',
  'seq',
  'deviceId',
  'deviceType',
  'domain',
  'areaId',
  'kind',
  'event',
]);

/**
 * Timestamps every store can hold, in epoch ms. The upper bound is InfluxDB's (int64 nanoseconds,
 * year 2262). Nothing before 1970 is accepted: no device reading predates the epoch (ingest refuses
 * anything before 2000), and InfluxDB cannot stamp aggregation windows that start before its own
 * lower bound in 1677. SQLite could hold more, but what one adapter accepts all must.
 */
export const MIN_TIMESTAMP_MS = 0;
export const MAX_TIMESTAMP_MS = 9_223_372_036_854;

/**
 * Checks what every store needs of a reading. Schema validation (zod, the metric catalogue)
 * happens at ingest; this only guards the storage invariants, so a bad reading fails loudly
 * instead of being stored wrongly (SQLite turns NaN into NULL, InfluxDB drops a `time` field).
 */
export function assertStorableReadings(readings: readonly Reading[]): void {
  readings.forEach((reading, index) => {
    const fail = (why: string): never => {
      throw new InvalidReadingError(
        `reading #${index} of device ${JSON.stringify(reading.deviceId)}: ${why}`,
        index,
      );
    };
    if (typeof reading.deviceId !== 'string' || reading.deviceId === '')
      fail('deviceId must be a non-empty string');
    if (!isWellFormedUnicode(reading.deviceId)) fail('deviceId holds a lone surrogate');
    if (!Number.isSafeInteger(reading.ts) || reading.ts < MIN_TIMESTAMP_MS || reading.ts > MAX_TIMESTAMP_MS) {
      fail(`ts must be an integer epoch-ms timestamp between 1970 and 2262, got ${reading.ts}`);
    }
    if (reading.seq !== undefined && !Number.isFinite(reading.seq))
      fail(`seq must be finite, got ${reading.seq}`);
    for (const [metric, value] of Object.entries(reading.metrics)) {
      if (metric === '') fail('empty metric name');
      if (!isWellFormedUnicode(metric)) fail(`metric name ${JSON.stringify(metric)} holds a lone surrogate`);
      if (RESERVED_METRIC_NAMES.has(metric)) fail(`metric name ${JSON.stringify(metric)} is reserved`);
      if (typeof value === 'number') {
        if (!Number.isFinite(value)) fail(`metric ${JSON.stringify(metric)} is not finite: ${value}`);
      } else if (typeof value === 'string') {
        if (!isWellFormedUnicode(value)) fail(`metric ${JSON.stringify(metric)} holds a lone surrogate`);
      } else if (typeof value !== 'boolean') {
        fail(`metric ${JSON.stringify(metric)} has unsupported type ${typeof value}`);
      }
    }
  });
}
