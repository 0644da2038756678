import {
  DEVICE_TYPE_CONTRACTS,
  DEVICE_TYPES,
  type DeviceType,
  isMetricName,
  metricsOf,
  type RuleDefinition,
  ruleDefinitionSchema,
  STATUS_METRICS,
} from '@ioc/contracts';
import { TEMPLATE_PLACEHOLDERS } from '@ioc/alert-engine';
import { AlertingError } from './alerting-error';

/**
 * Placeholders a rule's message template may use (contracts `ruleCommon.message`; the engine's
 * TEMPLATE_PLACEHOLDERS, which renders them): anything else in braces is refused when the rule is
 * written.
 */
export const MESSAGE_PLACEHOLDERS: readonly string[] = TEMPLATE_PLACEHOLDERS;

/**
 * Metrics the platform derives rather than measures, and the device types they are derived for:
 * the hourly VN_AQI of an air-quality station (Decision 1459/QĐ-TCMT; the alert engine appends
 * `aqi` and `aqiDominant` readings to the spool).
 */
export const DERIVED_METRICS: Readonly<Record<string, readonly DeviceType[]>> = {
  aqi: ['air-quality-station'],
  aqiDominant: ['air-quality-station'],
};

/** One reason a rule is refused: the field (dotted path into the body) and what is wrong. */
export interface RuleIssue {
  field: string;
  message: string;
}

/** The `{name}` placeholders of a template that are not MESSAGE_PLACEHOLDERS. */
export function unknownPlaceholders(template: string): string[] {
  const known = new Set(MESSAGE_PLACEHOLDERS);
  const unknown: string[] = [];
  for (const match of template.matchAll(/\{([^{}]*)\}/g)) {
    const name = match[1] ?? '';
    if (!known.has(name)) unknown.push(name);
  }
  return unknown;
}

/** Device types that report `metric` (measured, status or derived). */
function typesReporting(metric: string): DeviceType[] {
  const derived = DERIVED_METRICS[metric];
  if (derived) return [...derived];
  if (!isMetricName(metric)) return [];
  if ((STATUS_METRICS as readonly string[]).includes(metric)) return [...DEVICE_TYPES];
  return DEVICE_TYPES.filter((type) => (metricsOf(type) as string[]).includes(metric));
}

/**
 * What the schema cannot say about a parsed rule: its message templates use only known
 * placeholders (vi and en); its metric is one the catalogue or the derived metrics know, reported
 * by at least one of its scope's device types; its event is one a device type (of its scope) raises,
 * and an event rule's metric is one of that event's. Empty when the rule is sound.
 */
export function ruleIssues(rule: RuleDefinition): RuleIssue[] {
  const issues: RuleIssue[] = [];
  for (const language of ['vi', 'en'] as const) {
    const unknown = unknownPlaceholders(rule.message[language]);
    if (unknown.length > 0) {
      issues.push({
        field: `message.${language}`,
        message: `unknown placeholder ${unknown.map((u) => `{${u}}`).join(', ')}: use ${MESSAGE_PLACEHOLDERS.map((p) => `{${p}}`).join(', ')}`,
      });
    }
  }
  const scopedTypes = rule.scope.deviceTypes;
  if (rule.kind === 'threshold' || rule.kind === 'areaAggregate') {
    const types = typesReporting(rule.metric);
    if (types.length === 0) {
      issues.push({
        field: 'metric',
        message: `unknown metric "${rule.metric}" (not in the metric catalogue)`,
      });
    } else if (scopedTypes && !scopedTypes.some((type) => types.includes(type))) {
      issues.push({
        field: 'metric',
        message: `no device type of the rule's scope (${scopedTypes.join(', ')}) reports "${rule.metric}"`,
      });
    }
  }
  if (rule.kind === 'event') {
    const raising = DEVICE_TYPES.filter(
      (type) =>
        (scopedTypes === undefined || scopedTypes.includes(type)) &&
        rule.event in DEVICE_TYPE_CONTRACTS[type].events,
    );
    if (raising.length === 0) {
      issues.push({
        field: 'event',
        message: `unknown event "${rule.event}"${scopedTypes ? ` for ${scopedTypes.join(', ')}` : ''}`,
      });
    } else if (rule.metric !== undefined) {
      const has = raising.some((type) => {
        const event = (
          DEVICE_TYPE_CONTRACTS[type].events as Record<
            string,
            { required: readonly string[]; optional: readonly string[] }
          >
        )[rule.event];
        return event !== undefined && [...event.required, ...event.optional].includes(rule.metric as string);
      });
      if (!has)
        issues.push({ field: 'metric', message: `event "${rule.event}" carries no metric "${rule.metric}"` });
    }
  }
  if (
    rule.validFrom !== undefined &&
    rule.validUntil !== undefined &&
    Date.parse(rule.validFrom) >= Date.parse(rule.validUntil)
  ) {
    issues.push({ field: 'validUntil', message: 'validUntil must be after validFrom' });
  }
  if (rule.kind === 'areaAggregate' && rule.scope.areaIds === undefined) {
    issues.push({ field: 'scope.areaIds', message: 'an areaAggregate rule names its areas (scope.areaIds)' });
  }
  return issues;
}

/**
 * Parses and checks a rule as written (REST body, seed file entry): the contracts schema, then
 * ruleIssues. Returns the parsed definition (defaults applied).
 * @throws AlertingError `invalid` naming the first field at fault (zod path, dotted)
 */
export function parseRule(input: unknown): RuleDefinition {
  const parsed = ruleDefinitionSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue?.path.map(String).join('.') ?? '';
    throw new AlertingError(
      'invalid',
      `${field === '' ? 'rule' : field}: ${issue?.message ?? 'invalid'}`,
      field || undefined,
    );
  }
  const issue = ruleIssues(parsed.data)[0];
  if (issue) throw new AlertingError('invalid', `${issue.field}: ${issue.message}`, issue.field);
  return parsed.data;
}
