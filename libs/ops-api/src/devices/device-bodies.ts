import { z } from 'zod';
import { DEVICE_STATES, DEVICE_TYPES, DOMAINS } from '@ioc/contracts';
import { areaSchema, DEVICE_FILE_FORMATS, deviceAttributesSchema, deviceSchema } from '@ioc/registry';

/** `POST /api/v1/devices`: a device as the registry's seeds hold it; `domain` may be left out (derived from the type). */
export const createDeviceBody = deviceSchema.extend({ domain: deviceSchema.shape.domain.optional() });
export type CreateDeviceBody = z.infer<typeof createDeviceBody>;

/** `PATCH /api/v1/devices/{id}`: the fields to change (id, type and domain never change); null clears an optional one. */
export const patchDeviceBody = z
  .strictObject({
    name: deviceSchema.shape.name.optional(),
    areaId: deviceSchema.shape.areaId.optional(),
    location: deviceSchema.shape.location.optional(),
    attributes: deviceAttributesSchema.nullable().optional(),
    silenceTimeoutSeconds: z.number().int().min(10).max(86_400).nullable().optional(),
  })
  .refine((patch) => Object.values(patch).some((value) => value !== undefined), {
    message:
      'the body must name at least one field to change (name, areaId, location, attributes, silenceTimeoutSeconds)',
  });
export type PatchDeviceBody = z.infer<typeof patchDeviceBody>;

/** Longest rotation grace period: 30 days (in seconds). */
export const MAX_CREDENTIAL_GRACE_SECONDS = 30 * 86_400;
/** Grace period of a rotation when the body names none: one hour (in seconds). */
export const DEFAULT_CREDENTIAL_GRACE_SECONDS = 3600;

/** `POST /api/v1/devices/{id}/credentials`: how long the device's current secrets stay valid. */
export const issueCredentialBody = z.strictObject({
  graceSeconds: z
    .number()
    .int()
    .min(0)
    .max(MAX_CREDENTIAL_GRACE_SECONDS)
    .default(DEFAULT_CREDENTIAL_GRACE_SECONDS)
    .describe('seconds the current secrets stay valid beside the new one (0: they end now)'),
});

const booleanParam = z
  .enum(['true', 'false'])
  .transform((value) => value === 'true')
  .optional();

/** `POST /api/v1/devices/import` query. */
export const importQuery = z.strictObject({
  format: z
    .enum(DEVICE_FILE_FORMATS)
    .optional()
    .describe(
      'csv or geojson; default from the Content-Type (text/csv; application/geo+json or application/json)',
    ),
  dryRun: booleanParam.describe('true: check every row and report, store nothing'),
  async: booleanParam.describe(
    'true: answer 202 with a job at once; GET the job for progress and the report',
  ),
});
export type ImportQuery = z.infer<typeof importQuery>;

/** `GET /api/v1/devices/export` query: the format and the same filters as the list. */
export const exportQuery = z.strictObject({
  format: z.enum(DEVICE_FILE_FORMATS).default('csv'),
  domain: z.enum(DOMAINS).optional(),
  type: z.enum(DEVICE_TYPES as [string, ...string[]]).optional(),
  area: z.string().max(128).optional().describe('area id; devices in its sub-areas match too'),
  state: z.enum(DEVICE_STATES).optional(),
});
export type ExportQuery = z.infer<typeof exportQuery>;

/** `POST /api/v1/areas`. */
export const createAreaBody = areaSchema;
export type CreateAreaBody = z.infer<typeof createAreaBody>;

/** `PATCH /api/v1/areas/{id}`: rename (name, level, note, location) or move (parentId); devices follow. */
export const patchAreaBody = z
  .strictObject({
    name: areaSchema.shape.name.optional(),
    level: areaSchema.shape.level.optional(),
    parentId: areaSchema.shape.parentId.optional(),
    location: areaSchema.shape.location,
    note: areaSchema.shape.note,
  })
  .refine((patch) => Object.values(patch).some((value) => value !== undefined), {
    message: 'the body must name at least one field to change (name, level, parentId, location, note)',
  });
export type PatchAreaBody = z.infer<typeof patchAreaBody>;
