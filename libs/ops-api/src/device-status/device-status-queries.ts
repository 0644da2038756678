import { z } from 'zod';
import { DEVICE_TYPES, DOMAINS } from '@ioc/contracts';
import { instantParam, integerParam } from '../common/time-params';

/** `GET /api/v1/devices/status` */
export const deviceStatusListQuery = z.strictObject({
  domain: z.enum(DOMAINS).optional(),
  type: z.enum(DEVICE_TYPES as [string, ...string[]]).optional(),
  area: z.string().max(128).optional().describe('area id; devices in its sub-areas match too'),
});
export type DeviceStatusListQuery = z.infer<typeof deviceStatusListQuery>;

/** Most changes one status history answer holds. */
export const MAX_STATUS_HISTORY = 10_000;

/** `GET /api/v1/devices/{id}/status/history` */
export const deviceStatusHistoryQuery = z
  .strictObject({
    from: instantParam.optional().describe('inclusive start (default: 24 h before `to`)'),
    to: instantParam.optional().describe('exclusive end (default: now)'),
    limit: integerParam(1, MAX_STATUS_HISTORY).default(1000).describe('most changes answered, oldest first'),
  })
  .refine((q) => q.from === undefined || q.to === undefined || q.from < q.to, {
    message: 'from must be before to',
    path: ['from'],
  });
export type DeviceStatusHistoryQuery = z.infer<typeof deviceStatusHistoryQuery>;
