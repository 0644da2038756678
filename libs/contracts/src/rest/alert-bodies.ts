import { z } from 'zod';
import {
  ALERT_RESOLUTIONS,
  ALERT_STATES,
  alertTransitionSchema,
  ruleDefinitionSchema,
  safeTextSchema,
  severitySchema,
  silenceMatchersSchema,
} from '../alerts';
import { DEVICE_TYPES, type DeviceType } from '../device-types';
import { DOMAINS } from '../domains';
import { ISO_TIMESTAMP } from '../payload-schemas';

/*
 * REST bodies of rules, alerts and silences (`/api/v1/rules`, `/alerts`, `/silences`). Times are
 * ISO-8601 (UTC, `Z`) in answers; in requests ISO-8601 with an offset.
 */

const isoTime = z.string().describe('ISO-8601');

/** A rule as REST shows it: the definition, its version and provenance. */
export const ruleBody = z.object({
  rule: ruleDefinitionSchema,
  version: z.number().int().positive(),
  origin: z.enum(['seed', 'api']),
  createdAt: isoTime,
  updatedAt: isoTime,
  updatedBy: z.string().nullable(),
});
export type RuleBody = z.infer<typeof ruleBody>;

export const ruleListBody = z.object({ rules: z.array(ruleBody) });
export type RuleListBody = z.infer<typeof ruleListBody>;

/** One stored version of a rule (`GET /rules/{id}/versions`). */
export const ruleVersionBody = z.object({
  version: z.number().int().positive(),
  change: z.enum(['created', 'updated', 'enabled', 'disabled', 'deleted', 'seeded', 'reseeded']),
  changedAt: isoTime,
  changedBy: z.string().nullable(),
  rule: ruleDefinitionSchema,
});
export const ruleVersionsBody = z.object({ ruleId: z.string(), versions: z.array(ruleVersionBody) });
export type RuleVersionsBody = z.infer<typeof ruleVersionsBody>;

/** An alert as REST and the live feed show it: the contracts' Alert with ISO times and `version`. */
export const alertBody = z.object({
  id: z.string(),
  ruleId: z.string(),
  ruleVersion: z.number().int(),
  ruleKind: z.enum(['threshold', 'areaAggregate', 'event', 'status', 'noData']),
  subjectKind: z.enum(['device', 'area']),
  subjectId: z.string(),
  deviceId: z.string().nullable(),
  deviceType: z.enum(DEVICE_TYPES as [DeviceType, ...DeviceType[]]).nullable(),
  domain: z.enum(DOMAINS).nullable(),
  areaId: z.string(),
  areaPath: z.array(z.string()),
  metric: z.string().nullable(),
  event: z.string().nullable(),
  severity: severitySchema,
  state: z.enum(ALERT_STATES),
  value: z.union([z.number(), z.boolean(), z.string()]).nullable(),
  limit: z.number().nullable(),
  unit: z.string(),
  message: z.object({ vi: z.string(), en: z.string() }),
  pendingAt: isoTime,
  firingAt: isoTime.nullable(),
  acknowledgedAt: isoTime.nullable(),
  acknowledgedBy: z.string().nullable(),
  acknowledgementNote: z.string().nullable(),
  resolvedAt: isoTime.nullable(),
  resolvedBy: z.string().nullable(),
  resolution: z.enum(ALERT_RESOLUTIONS).nullable(),
  updatedAt: isoTime,
  /** Optimistic concurrency: pass it back with acknowledge/resolve to refuse acting on a stale view. */
  version: z.number().int().positive(),
});
export type AlertBody = z.infer<typeof alertBody>;

export const alertListBody = z.object({
  alerts: z.array(alertBody),
  /** Pass as `cursor` for the next (older) page; null on the last. */
  nextCursor: z.string().nullable(),
});
export type AlertListBody = z.infer<typeof alertListBody>;

/** A transition as REST shows it (`at` ISO-8601). */
export const alertTransitionBody = alertTransitionSchema.omit({ at: true }).extend({ at: isoTime });
export const alertDetailBody = z.object({ alert: alertBody, transitions: z.array(alertTransitionBody) });
export type AlertDetailBody = z.infer<typeof alertDetailBody>;

/** `POST /alerts/{id}/acknowledge` and `/resolve`: a note, and optionally the version acted on. */
export const alertActionBody = z.strictObject({
  note: safeTextSchema(0, 1000, { trim: true }).optional(),
  version: z
    .number()
    .int()
    .positive()
    .optional()
    .describe('the alert version the person saw: 409 if it moved on'),
});
export type AlertActionBody = z.infer<typeof alertActionBody>;

/** `POST /api/v1/silences`. */
export const createSilenceBody = z.strictObject({
  matchers: silenceMatchersSchema,
  reason: z.enum(['silence', 'maintenance']).default('silence'),
  comment: safeTextSchema(1, 1000, { trim: true }),
  /** Default: now. */
  startsAt: ISO_TIMESTAMP.optional(),
  endsAt: ISO_TIMESTAMP,
});
export type CreateSilenceBody = z.infer<typeof createSilenceBody>;

export const silenceBody = z.object({
  id: z.string(),
  matchers: silenceMatchersSchema,
  reason: z.enum(['silence', 'maintenance']),
  comment: z.string(),
  startsAt: isoTime,
  endsAt: isoTime,
  createdBy: z.string().nullable(),
  createdAt: isoTime,
  endedAt: isoTime.nullable(),
  endedBy: z.string().nullable(),
  /** In force now. */
  active: z.boolean(),
});
export type SilenceBody = z.infer<typeof silenceBody>;
export const silenceListBody = z.object({ silences: z.array(silenceBody) });
export type SilenceListBody = z.infer<typeof silenceListBody>;

/** Longest window a dry run reads from history: 7 days, ms. */
export const MAX_DRY_RUN_MS = 7 * 24 * 3600 * 1000;

/**
 * `POST /api/v1/rules/dry-run`: a rule definition (checked as a write is; it need not exist) and
 * a past window of at most 7 days.
 */
export const ruleDryRunRequestBody = z
  .strictObject({
    rule: z.record(z.string(), z.unknown()),
    from: ISO_TIMESTAMP,
    to: ISO_TIMESTAMP,
  })
  .refine((b) => Date.parse(b.from) < Date.parse(b.to), { message: 'from must be before to', path: ['from'] })
  .refine((b) => Date.parse(b.to) - Date.parse(b.from) <= MAX_DRY_RUN_MS, {
    message: 'a dry run reads at most 7 days',
    path: ['to'],
  });
export type RuleDryRunRequestBody = z.infer<typeof ruleDryRunRequestBody>;

/** What a dry run found: the devices the rule covers (in your scope) and what it would have done. */
export const ruleDryRunBody = z.object({
  /** Device ids the rule covers inside your scope, sorted. */
  covered: z.array(z.string()),
  /** Readings of those devices read from history and evaluated. */
  readings: z.number().int().nonnegative(),
  /** True when a device's history held more points than a dry run reads (the oldest were used). */
  truncated: z.boolean(),
  /** The transitions the rule would have made, in order (alert ids are `dry-run-N`). */
  changes: z.array(
    z.object({
      alertId: z.string(),
      subjectId: z.string(),
      kind: z.enum(['opened', 'fired', 'escalated', 'acknowledged', 'resolved']),
      from: z.enum(ALERT_STATES).nullable(),
      to: z.enum(ALERT_STATES),
      at: isoTime,
      severity: severitySchema,
      value: z.union([z.number(), z.boolean(), z.string()]).nullable(),
      resolution: z.enum(ALERT_RESOLUTIONS).nullable(),
      message: z.object({ vi: z.string(), en: z.string() }),
    }),
  ),
});
export type RuleDryRunBody = z.infer<typeof ruleDryRunBody>;
