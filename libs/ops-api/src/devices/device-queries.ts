import { z } from 'zod';
import { DEVICE_TYPES, DOMAINS } from '@ioc/contracts';

export const deviceListQuery = z.strictObject({
  domain: z.enum(DOMAINS).optional(),
  type: z.enum(DEVICE_TYPES as [string, ...string[]]).optional(),
  area: z.string().max(128).optional(),
  limit: z.coerce.number().int().min(1).max(5000).default(1000),
  offset: z.coerce.number().int().min(0).default(0),
});
export type DeviceListQuery = z.infer<typeof deviceListQuery>;
