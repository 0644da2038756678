import { z } from 'zod';
import { DEVICE_ID_PATTERN, DEVICE_STATES, DEVICE_TYPES, DOMAINS, type DeviceType } from '@ioc/contracts';

/**
 * Area ids are lowercase ASCII slugs so they are safe in URLs, topics and InfluxDB tags, and stay
 * readable without diacritics; names carry the proper Vietnamese spelling.
 */
export const AREA_ID_PATTERN = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;

const geoPoint = z.strictObject({
  lat: z.number().min(-90).max(90),
  lon: z.number().min(-180).max(180),
});

// Strict objects: a misspelt field in a hand-edited seed file is an error, not silently ignored.
export const areaSchema = z.strictObject({
  id: z.string().regex(AREA_ID_PATTERN, 'must be a lowercase ASCII slug (a-z, 0-9, single dashes)'),
  name: z.string().trim().min(1),
  level: z.string().trim().min(1),
  parentId: z.string().min(1).nullable(),
  location: geoPoint.optional(),
  note: z.string().optional(),
});

/**
 * Ids no device may take: they are path words of the REST API under `/api/v1/devices/`
 * (`GET …/status`, `…/export`, `POST …/import`), which a device of that id would be hidden behind.
 */
export const RESERVED_DEVICE_IDS: readonly string[] = ['status', 'export', 'import'];

export const deviceSchema = z.strictObject({
  id: z
    .string()
    .regex(DEVICE_ID_PATTERN, `must match ${String(DEVICE_ID_PATTERN)}`)
    .refine((id) => !RESERVED_DEVICE_IDS.includes(id.toLowerCase()), {
      message: `is reserved (${RESERVED_DEVICE_IDS.join(', ')} are paths of the REST API)`,
    }),
  type: z.enum(DEVICE_TYPES as [DeviceType, ...DeviceType[]]),
  domain: z.enum(DOMAINS),
  name: z.string().trim().min(1),
  areaId: z.string().min(1),
  location: geoPoint,
  attributes: z.record(z.string(), z.string()).optional(),
  state: z.enum(DEVICE_STATES).optional(),
  /** Seconds; a day at most: a device silent for longer is simply offline. */
  silenceTimeoutSeconds: z.number().int().min(10).max(86_400).optional(),
});
