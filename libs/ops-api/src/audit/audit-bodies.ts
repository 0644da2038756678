import { z } from 'zod';
import { AUDIT_ACTOR_KINDS, AUDIT_OUTCOMES } from '@ioc/audit';

/** One audit entry as REST answers it (`time` ISO-8601 UTC; JSON columns parsed). */
export const auditEntryBody = z.object({
  seq: z.number().int().positive(),
  time: z.string().describe('ISO-8601, UTC'),
  actor: z.object({
    kind: z.enum(AUDIT_ACTOR_KINDS),
    id: z.string().nullable(),
    name: z.string().nullable(),
  }),
  action: z.string().describe('dotted verb: auth.login, device.update, apiKey.revoke …'),
  outcome: z.enum(AUDIT_OUTCOMES),
  entity: z.object({ type: z.string(), id: z.string() }).nullable(),
  before: z.unknown().describe('the entity before the change (secrets redacted), or null'),
  after: z.unknown().describe('the entity after the change (secrets redacted), or null'),
  detail: z.record(z.string(), z.unknown()).nullable(),
  address: z.string().nullable().describe("the client's address as the API saw it"),
  prevHash: z.string().describe("the previous entry's hash (64 zeros for the first)"),
  hash: z.string().describe("SHA-256 over prevHash and this entry's canonical JSON"),
});
export type AuditEntryBody = z.infer<typeof auditEntryBody>;

/** `GET /api/v1/audit`. */
export const auditListBody = z.object({
  items: z.array(auditEntryBody).describe('newest first'),
  nextBefore: z
    .number()
    .int()
    .optional()
    .describe('when the page is full: pass as `before` for the next (older) page'),
});
export type AuditListBody = z.infer<typeof auditListBody>;

/** `GET /api/v1/audit/verify`. */
export const auditVerificationBody = z.object({
  ok: z.boolean().describe('true: every entry from `from` to the head holds'),
  entries: z.number().int().nonnegative().describe('entries checked and found good'),
  head: z
    .object({ seq: z.number().int().nonnegative(), hash: z.string() })
    .optional()
    .describe('ok: the last entry; record it elsewhere, a removed tail is only caught against it'),
  brokenAt: z.number().int().positive().optional().describe('not ok: the first seq that does not hold'),
  problem: z
    .enum(['hash-mismatch', 'prev-hash-mismatch', 'missing-entry'])
    .optional()
    .describe(
      'hash-mismatch: the entry was edited; prev-hash-mismatch: the entry before it was rewritten; missing-entry: it was removed',
    ),
  expected: z.string().optional(),
  found: z.string().optional(),
});
export type AuditVerificationBody = z.infer<typeof auditVerificationBody>;
