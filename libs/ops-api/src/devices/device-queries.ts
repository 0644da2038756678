import { z } from 'zod';
import { DEVICE_TYPES, DOMAINS } from '@ioc/contracts';
import { AGGREGATIONS } from '@ioc/storage';
import { durationParam, instantParam } from '../common/time-params';

export const deviceListQuery = z.strictObject({
  domain: z.enum(DOMAINS).optional(),
  type: z.enum(DEVICE_TYPES as [string, ...string[]]).optional(),
  area: z.string().max(128).optional(),
  limit: z.coerce.number().int().min(1).max(5000).default(1000),
  offset: z.coerce.number().int().min(0).default(0),
});
export type DeviceListQuery = z.infer<typeof deviceListQuery>;

export const historyQuery = z
  .strictObject({
    metric: z.string().min(1).max(64),
    from: instantParam.optional(),
    to: instantParam.optional(),
    every: durationParam.optional(),
    fn: z.enum(AGGREGATIONS).optional(),
  })
  .refine((q) => q.fn === undefined || q.every !== undefined, {
    message: 'fn needs a window: add every (e.g. every=5m)',
    path: ['every'],
  });
export type HistoryQueryParams = z.infer<typeof historyQuery>;
