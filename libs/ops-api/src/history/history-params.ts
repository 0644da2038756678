import { z } from 'zod';
import {
  DEVICE_TYPES,
  DOMAINS,
  HISTORY_AGGREGATIONS,
  HISTORY_GROUP_BYS,
  HISTORY_RESOLUTIONS,
  type HistoryAggregation,
  type HistoryResolution,
  isDeviceId,
  isMetricName,
} from '@ioc/contracts';
import type { Aggregation, Resolution } from '@ioc/timeseries';
import { durationParam, instantParam } from '../common/time-params';
import { DEFAULT_TIME_ZONE, TIME_ZONE_NAMES } from './time-zones';

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
/**
 * Compile-time proof that the contracts' enumerations (what the REST bodies declare) are exactly
 * the time-series port's: if either side changes alone, this line fails the type check.
 */
export const HISTORY_ENUMS_MATCH_STORE: [
  Same<HistoryAggregation, Aggregation>,
  Same<HistoryResolution, Resolution>,
] = [true, true];

/** Most devices one history request may name. */
export const MAX_LISTED_DEVICES = 1000;
/** Most metrics one history request may name. */
export const MAX_LISTED_METRICS = 10;
/** Most areas one history request may name. */
export const MAX_LISTED_AREAS = 50;

/**
 * A comma-separated list, each item checked by `item`; empty items are ignored, an item named
 * twice is refused (it would answer the same series twice).
 */
function listParam(item: z.ZodType<string, string>, max: number, description: string) {
  return z
    .string()
    .max(max * 80)
    .transform((value) =>
      value
        .split(',')
        .map((v) => v.trim())
        .filter((v) => v.length > 0),
    )
    .pipe(
      z
        .array(item)
        .min(1)
        .max(max)
        .superRefine((items, ctx) => {
          const seen = new Set<string>();
          for (const value of items) {
            if (seen.has(value)) {
              ctx.addIssue({
                code: 'custom',
                message: `${JSON.stringify(value.slice(0, 64))} is named twice`,
              });
              return;
            }
            seen.add(value);
          }
        }),
    )
    .describe(`${description} (comma-separated, at most ${max}, each once)`);
}

const metricName = z.string().refine(isMetricName, { message: 'not a metric of the catalogue' });

/** Parameters shared by every history request. */
export const windowParams = {
  from: instantParam.optional(),
  to: instantParam.optional(),
  every: durationParam.optional(),
  fn: z
    .enum(HISTORY_AGGREGATIONS)
    .optional()
    .describe('aggregate per window (default mean when every is set); only last for booleans and text'),
  tz: z.enum(TIME_ZONE_NAMES).default(DEFAULT_TIME_ZONE).describe('time zone windows align on'),
  resolution: z
    .enum([...HISTORY_RESOLUTIONS, 'auto'])
    .default('auto')
    .describe('stored resolution to answer from; auto: the coarsest that answers exactly'),
  format: z.enum(['json', 'csv']).default('json'),
};

const fnNeedsEvery = {
  check: (q: { fn?: string; every?: number }) => q.fn === undefined || q.every !== undefined,
  message: 'fn needs a window: add every (e.g. every=5m)',
};

/** `GET /api/v1/devices/{id}/history` */
export const deviceHistoryParams = z
  .strictObject({
    metric: z.string().min(1).max(64).describe('a metric the device reports, status metrics included'),
    ...windowParams,
  })
  .refine(fnNeedsEvery.check, { message: fnNeedsEvery.message, path: ['every'] });
export type DeviceHistoryParams = z.infer<typeof deviceHistoryParams>;

/** `GET /api/v1/history`: several devices and metrics, grouped. */
export const historyParams = z
  .strictObject({
    metrics: listParam(metricName, MAX_LISTED_METRICS, 'metric names'),
    devices: listParam(
      z.string().refine(isDeviceId, { message: 'malformed device id' }),
      MAX_LISTED_DEVICES,
      'device ids',
    ).optional(),
    areas: listParam(z.string().max(128), MAX_LISTED_AREAS, 'area ids; their sub-areas included').optional(),
    type: z.enum(DEVICE_TYPES as [string, ...string[]]).optional(),
    domain: z.enum(DOMAINS).optional(),
    groupBy: z
      .enum(HISTORY_GROUP_BYS)
      .default('device')
      .describe('one series per device, area, type or none'),
    ...windowParams,
  })
  .refine(fnNeedsEvery.check, { message: fnNeedsEvery.message, path: ['every'] })
  .refine((q) => q.devices ?? q.areas ?? q.type ?? q.domain, {
    message: 'choose devices: name devices, areas, type or domain',
    path: ['devices'],
  })
  .refine((q) => q.groupBy !== 'area' || q.areas !== undefined, {
    message: 'groupBy=area needs areas',
    path: ['areas'],
  });
export type HistoryParams = z.infer<typeof historyParams>;
