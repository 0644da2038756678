import { z } from 'zod';

/**
 * Answers of the registry's provisioning routes (`POST/PATCH /api/v1/devices…`, credentials,
 * import and export), as zod schemas the API documents and clients may parse with. Browser-safe.
 */

/** One device credential as listed: never the secret, never its hash. */
export const credentialBody = z.object({
  id: z.string(),
  deviceId: z.string(),
  hint: z.string().describe("the secret's first characters, to tell credentials apart"),
  createdAt: z.string().describe('ISO-8601'),
  notAfter: z.string().optional().describe('end of the rotation grace period, ISO-8601'),
  revokedAt: z.string().optional().describe('ISO-8601'),
  status: z
    .enum(['active', 'expiring', 'expired', 'revoked'])
    .describe('expiring: in its rotation grace period; expired: past it'),
});
export type CredentialBody = z.infer<typeof credentialBody>;

/** `GET /api/v1/devices/{id}/credentials`. */
export const credentialListBody = z.array(credentialBody);
export type CredentialListBody = z.infer<typeof credentialListBody>;

/** `POST /api/v1/devices/{id}/credentials` (201): the secret, shown this once. */
export const issuedCredentialBody = z.object({
  credential: credentialBody,
  secret: z
    .string()
    .describe('the device secret (MQTT password, username = device id): shown only in this answer'),
});
export type IssuedCredentialBody = z.infer<typeof issuedCredentialBody>;

/** `DELETE /api/v1/devices/{id}/credentials[/{credentialId}]`. */
export const revokedCredentialsBody = z.object({
  revoked: z.number().int().nonnegative().describe('credentials revoked by this call (0: already revoked)'),
});
export type RevokedCredentialsBody = z.infer<typeof revokedCredentialsBody>;

/** The outcome of one row of an import. */
export const importRowBody = z.object({
  row: z
    .number()
    .int()
    .positive()
    .describe('CSV: the line the row starts on (header = 1); GeoJSON: feature index + 1'),
  id: z.string().optional(),
  outcome: z.enum(['created', 'updated', 'unchanged', 'refused']),
  reason: z.string().optional().describe('why the row was refused'),
  changed: z
    .array(z.string())
    .optional()
    .describe(
      'an updated row: the fields it changes, sorted (areaId, attributes.<name>, location, name, silenceTimeoutSeconds, state)',
    ),
});

/** `POST /api/v1/devices/import`: the per-row report. */
export const importReportBody = z.object({
  dryRun: z.boolean().describe('true: nothing was stored; the report says what an import would do'),
  created: z.number().int().nonnegative(),
  updated: z.number().int().nonnegative(),
  unchanged: z.number().int().nonnegative(),
  refused: z.number().int().nonnegative(),
  rows: z.array(importRowBody),
});
export type ImportReportBody = z.infer<typeof importReportBody>;

/** `POST /api/v1/devices/import?async=true` (202) and `GET /api/v1/devices/import/jobs/{jobId}`. */
export const importJobBody = z.object({
  id: z.string(),
  state: z.enum(['running', 'done', 'failed']),
  total: z.number().int().nonnegative().describe('rows in the file'),
  done: z.number().int().nonnegative().describe('rows processed so far'),
  createdAt: z.string().describe('ISO-8601'),
  finishedAt: z.string().optional(),
  report: importReportBody.optional().describe('once done'),
  error: z.string().optional().describe('once failed: why'),
});
export type ImportJobBody = z.infer<typeof importJobBody>;
