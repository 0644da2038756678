import { z } from 'zod';
import { AUDIT_OUTCOMES, MAX_AUDIT_QUERY_LIMIT } from '@ioc/audit';
import { instantParam, integerParam } from '../common/time-params';

/** An action (`device.update`) or a prefix ending in `.` (`device.`), as AuditLog.query reads it. */
const ACTION_FILTER = /^[a-z][A-Za-z0-9-]*(\.[a-z][A-Za-z0-9-]*)*\.?$/;

/** `GET /api/v1/audit`: filters (all combined), page size and cursor, format. */
export const auditQueryParams = z
  .strictObject({
    actorId: z.string().min(1).max(128).optional().describe('the account or API key id that acted'),
    action: z
      .string()
      .max(64)
      .regex(ACTION_FILTER, 'a dotted action (device.update) or a prefix ending in "." (device.)')
      .optional()
      .describe('an action (device.update), or a prefix ending in "." for all of them (device.)'),
    entityType: z.string().min(1).max(64).optional().describe('device, area, account, agency, apiKey …'),
    entityId: z.string().min(1).max(256).optional(),
    outcome: z.enum(AUDIT_OUTCOMES).optional(),
    from: instantParam.optional().describe('entries at or after this time'),
    to: instantParam.optional().describe('entries before this time'),
    limit: integerParam(1, MAX_AUDIT_QUERY_LIMIT)
      .default(100)
      .describe(`most entries in the answer (at most ${MAX_AUDIT_QUERY_LIMIT})`),
    before: integerParam(1, Number.MAX_SAFE_INTEGER)
      .optional()
      .describe('cursor: only entries older than this seq (the previous answer’s nextBefore)'),
    format: z.enum(['json', 'csv']).default('json'),
  })
  .refine((q) => q.from === undefined || q.to === undefined || q.from < q.to, {
    message: 'from must be before to',
    path: ['from'],
  });
export type AuditQueryParams = z.infer<typeof auditQueryParams>;

/** `GET /api/v1/audit/verify`. */
export const auditVerifyParams = z.strictObject({
  from: integerParam(1, Number.MAX_SAFE_INTEGER)
    .optional()
    .describe('the seq to start at (default 1); the entry before it anchors the first link'),
  head: z
    .string()
    .regex(
      /^\d{1,16}:[0-9a-fA-F]{64}$/,
      'expected <seq>:<hash> (64 hex digits), as an earlier verify answered',
    )
    .transform((value) => {
      const [seq = '0', hash = ''] = value.split(':');
      return { seq: Number(seq), hash: hash.toLowerCase() };
    })
    .optional()
    .describe(
      'a head recorded earlier, <seq>:<hash>: the entry at that seq must still carry that hash (catches a removed or rewritten tail)',
    ),
});
export type AuditVerifyParams = z.infer<typeof auditVerifyParams>;
