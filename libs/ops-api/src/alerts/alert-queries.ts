import { z } from 'zod';
import { ALERT_TIME_FIELDS } from '@ioc/alerting';
import { ALERT_STATES, DEVICE_ID_PATTERN, DOMAINS, RULE_ID_PATTERN, SEVERITIES } from '@ioc/contracts';
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

/**
 * A comma-separated list of ids of one shape (`ruleId=a,b`): at most 50, each matching `pattern`
 * (no id holds a comma: RULE_ID_PATTERN, DEVICE_ID_PATTERN, area ids).
 */
function idListParam(pattern: RegExp, what: string) {
  return documented(
    z
      .string()
      .max(4000)
      .transform((text) => text.split(','))
      .pipe(
        z
          .array(z.string().regex(pattern, `malformed ${what}`))
          .min(1)
          .max(50),
      ),
    { type: 'string', description: `comma-separated ${what}s (at most 50)` },
  );
}

/** Area ids as the registry spells them (contracts `scopeAreaId`). */
const AREA_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/**
 * `GET /api/v1/alerts`: filters (all combined; each list filter holds when any of its values
 * does), page, format.
 */
export const alertListQuery = z
  .strictObject({
    state: listParam(ALERT_STATES).optional().describe('exact states, comma-separated'),
    open: z
      .enum(['true', 'false'])
      .transform((v) => v === 'true')
      .optional()
      .describe('true: open alerts (pending, firing, acknowledged); false: past (resolved)'),
    area: idListParam(AREA_ID_PATTERN, 'area id')
      .optional()
      .describe('areas and their sub-areas, comma-separated'),
    domain: listParam(DOMAINS).optional().describe('domains, comma-separated'),
    severity: listParam(SEVERITIES).optional().describe('exact severities, comma-separated'),
    ruleId: idListParam(RULE_ID_PATTERN, 'rule id').optional().describe('rule ids, comma-separated'),
    deviceId: idListParam(DEVICE_ID_PATTERN, 'device id').optional().describe('device ids, comma-separated'),
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
