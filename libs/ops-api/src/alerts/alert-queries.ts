import { z } from 'zod';
import { ALERT_TIME_FIELDS } from '@ioc/alerting';
import { ALERT_STATES, DOMAINS, RULE_ID_PATTERN, SEVERITIES } from '@ioc/contracts';
import { documented, openApiSchema } from '../common/openapi-zod';
import { instantParam, integerParam } from '../common/time-params';

/** A comma-separated list of enumeration values (`state=firing,acknowledged`). */
function listParam<T extends string>(values: readonly [T, ...T[]]) {
  const item = z.enum(values);
  return documented(
    z
      .string()
      .max(200)
      .transform((text) => text.split(','))
      .pipe(z.array(item).min(1)),
    { type: 'string', description: `comma-separated: ${values.join(', ')}` },
  );
}

/** `GET /api/v1/alerts`: filters (all combined), page, format. */
export const alertListQuery = z
  .strictObject({
    state: listParam(ALERT_STATES).optional().describe('exact states, comma-separated'),
    open: z
      .enum(['true', 'false'])
      .transform((v) => v === 'true')
      .optional()
      .describe('true: open alerts (pending, firing, acknowledged); false: past (resolved)'),
    area: z.string().min(1).max(128).optional().describe('an area and its sub-areas'),
    domain: z.enum(DOMAINS).optional(),
    severity: listParam(SEVERITIES).optional().describe('exact severities, comma-separated'),
    ruleId: z.string().regex(RULE_ID_PATTERN).optional(),
    deviceId: z.string().min(1).max(128).optional(),
    from: instantParam.optional().describe('alerts whose `timeField` is at or after this time'),
    to: instantParam.optional().describe('…and before this time'),
    timeField: z.enum(ALERT_TIME_FIELDS).default('pendingAt'),
    limit: integerParam(1, 1000).default(100).describe('most alerts in the answer (at most 1000)'),
    cursor: z.string().max(300).optional().describe('the previous answer’s nextCursor'),
    format: z.enum(['json', 'csv']).default('json'),
  })
  .refine((q) => q.from === undefined || q.to === undefined || q.from < q.to, {
    message: 'from must be before to',
    path: ['from'],
  });
export type AlertListQuery = z.infer<typeof alertListQuery>;

/** `POST /rules/{id}/enable|disable`, `DELETE /rules/{id}`: the version the caller saw (optional). */
export const ruleVersionQuery = z.strictObject({
  version: integerParam(1, 1_000_000_000)
    .optional()
    .describe('the rule version you edited: 409 if it moved on'),
});
export type RuleVersionQuery = z.infer<typeof ruleVersionQuery>;

/**
 * `PUT /rules/{id}`: the version the caller edited, required, so a replacement written from a stale
 * copy is refused (409) rather than silently overwriting another person's edit (lost update).
 */
export const ruleUpdateQuery = z.strictObject({
  version: integerParam(1, 1_000_000_000).describe(
    'required: the rule version you edited (GET /rules/{id}); 409 if it moved on',
  ),
});
export type RuleUpdateQuery = z.infer<typeof ruleUpdateQuery>;

/** `GET /api/v1/silences`. */
export const silenceListQuery = z.strictObject({
  active: z
    .enum(['true', 'false'])
    .transform((v) => v === 'true')
    .optional()
    .describe('true: in force now; false: ended or expired; absent: all'),
});
export type SilenceListQuery = z.infer<typeof silenceListQuery>;

export const RULE_ID_DOC = openApiSchema(z.string().regex(RULE_ID_PATTERN));
