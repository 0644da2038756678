import { z } from 'zod';
import { DEVICE_TYPES, DOMAINS, isDeviceId, isMetricName } from '@ioc/contracts';
import { AGGREGATIONS, RESOLUTIONS } from '@ioc/timeseries';
import { durationParam, instantParam } from '../common/time-params';
import { DEFAULT_TIME_ZONE, TIME_ZONE_NAMES } from './time-zones';

const MAX_LIST = 1000;

/** A comma-separated list, each item checked by `item`. */
function listParam(item: z.ZodType<string, string>, max: number) {
  return z
    .string()
    .max(max * 80)
    .transform((value) =>
      value
        .split(',')
        .map((v) => v.trim())
        .filter((v) => v.length > 0),
    )
    .pipe(z.array(item).min(1).max(max));
}

const metricName = z.string().refine(isMetricName, { message: 'not a metric of the catalogue' });

/** Parameters shared by every history request. */
export const windowParams = {
  from: instantParam.optional(),
  to: instantParam.optional(),
  every: durationParam.optional(),
  fn: z.enum(AGGREGATIONS).optional(),
  tz: z.enum(TIME_ZONE_NAMES).default(DEFAULT_TIME_ZONE),
  resolution: z.enum([...RESOLUTIONS, 'auto']).default('auto'),
  format: z.enum(['json', 'csv']).default('json'),
};

const fnNeedsEvery = {
  check: (q: { fn?: string; every?: number }) => q.fn === undefined || q.every !== undefined,
  message: 'fn needs a window: add every (e.g. every=5m)',
};

/** `GET /api/v1/devices/{id}/history` */
export const deviceHistoryParams = z
  .strictObject({ metric: z.string().min(1).max(64), ...windowParams })
  .refine(fnNeedsEvery.check, { message: fnNeedsEvery.message, path: ['every'] });
export type DeviceHistoryParams = z.infer<typeof deviceHistoryParams>;

/** `GET /api/v1/history`: several devices and metrics, grouped. */
export const historyParams = z
  .strictObject({
    metrics: listParam(metricName, 10),
    devices: listParam(
      z.string().refine(isDeviceId, { message: 'malformed device id' }),
      MAX_LIST,
    ).optional(),
    areas: listParam(z.string().max(128), 50).optional(),
    type: z.enum(DEVICE_TYPES as [string, ...string[]]).optional(),
    domain: z.enum(DOMAINS).optional(),
    groupBy: z.enum(['device', 'area', 'type', 'none']).default('device'),
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
