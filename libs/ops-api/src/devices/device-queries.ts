import { z } from 'zod';
import { DEVICE_STATES, DEVICE_TYPES, DOMAINS } from '@ioc/contracts';
import { integerParam } from '../common/time-params';

/** Most devices one page of `GET /api/v1/devices` holds. */
export const MAX_DEVICE_PAGE = 5000;

/** `GET /api/v1/devices` */
export const deviceListQuery = z.strictObject({
  domain: z.enum(DOMAINS).optional(),
  type: z.enum(DEVICE_TYPES as [string, ...string[]]).optional(),
  area: z.string().max(128).optional().describe('area id; devices in its sub-areas match too'),
  state: z.enum(DEVICE_STATES).optional().describe('life-cycle state (a device without one is active)'),
  q: z
    .string()
    .min(1)
    .max(128)
    .optional()
    .describe('case-insensitive text in the id or the name (Vietnamese letters fold: "đèn" finds "Đèn")'),
  limit: integerParam(1, MAX_DEVICE_PAGE).default(1000),
  offset: integerParam(0, 1_000_000).default(0),
});
export type DeviceListQuery = z.infer<typeof deviceListQuery>;
