import {
  type Condition,
  DEVICE_TYPE_CONTRACTS,
  DEVICE_TYPES,
  type DeviceType,
  derivedMetricsOf,
  domainOf,
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

/**
 * Device types that report `metric`: measured, status, or derived by the platform for the type
 * (contracts `derivedMetricsOf`: the hourly VN_AQI `aqi`, `aqiDominant` of an air-quality station).
 */
function typesReporting(metric: string): DeviceType[] {
  if (!isMetricName(metric)) return [];
  if ((STATUS_METRICS as readonly string[]).includes(metric)) return [...DEVICE_TYPES];
  return DEVICE_TYPES.filter(
    (type) => metricsOf(type).includes(metric) || derivedMetricsOf(type).includes(metric),
  );
}

/**
 * What a rule check may ask of the device registry. REST passes it (its registry is loaded); the
 * seed loader runs before devices are known and passes none, so `scope.deviceIds` is then not
 * checked against the registry.
 */
export interface RuleCheckContext {
  /** The registered device's type, or undefined for an id the registry does not know. */
  deviceType(id: string): DeviceType | undefined;
}

/**
 * The device types a rule's scope can cover: every axis given narrows them (the scope is an
 * intersection) — `deviceTypes` to those types, `domains` to their domains' types, `deviceIds` to
 * the registered devices' types (with a registry; an unknown id is reported in `unknownDevices`);
 * `areaIds` and `attributes` alone leave every type.
 */
export function scopeDeviceTypes(
  scope: RuleDefinition['scope'],
  context?: RuleCheckContext,
): { types: DeviceType[]; unknownDevices: string[] } {
  let types: DeviceType[] = [...DEVICE_TYPES];
  if (scope.deviceTypes) types = types.filter((t) => scope.deviceTypes?.includes(t));
  if (scope.domains) types = types.filter((t) => scope.domains?.includes(domainOf(t)));
  const unknownDevices: string[] = [];
  if (scope.deviceIds && context) {
    const ofDevices = new Set<DeviceType>();
    for (const id of scope.deviceIds) {
      const type = context.deviceType(id);
      if (type === undefined) unknownDevices.push(id);
      else ofDevices.add(type);
    }
    types = types.filter((t) => ofDevices.has(t));
  }
  return { types, unknownDevices };
}

/** A numeric condition as the set of values (or rates) where it holds: a union of intervals. */
interface Interval {
  lo: number;
  loIn: boolean;
  hi: number;
  hiIn: boolean;
}
type ConditionSet =
  { axis: 'value' | 'rate'; intervals: Interval[] } | { axis: 'exact'; value: number | boolean | string };

const ray = (lo: number, loIn: boolean, hi: number, hiIn: boolean): Interval => ({ lo, loIn, hi, hiIn });

/** Where a condition holds (`rateOfChange` on the rate axis, the others on the value axis). */
function conditionSet(c: Condition): ConditionSet {
  const inf = Number.POSITIVE_INFINITY;
  switch (c.op) {
    case 'above':
      return { axis: 'value', intervals: [ray(c.value, c.inclusive === true, inf, false)] };
    case 'below':
      return { axis: 'value', intervals: [ray(-inf, false, c.value, c.inclusive === true)] };
    case 'outside':
      return { axis: 'value', intervals: [ray(-inf, false, c.min, false), ray(c.max, false, inf, false)] };
    case 'equals':
      return typeof c.value === 'number'
        ? { axis: 'value', intervals: [ray(c.value, true, c.value, true)] }
        : { axis: 'exact', value: c.value };
    case 'rateOfChange': {
      const rise = ray(c.perMinute, true, inf, false);
      const fall = ray(-inf, false, -c.perMinute, true);
      const direction = c.direction ?? 'either';
      return {
        axis: 'rate',
        intervals: direction === 'rise' ? [rise] : direction === 'fall' ? [fall] : [fall, rise],
      };
    }
  }
}

/** Whether two intervals share a point. */
function meet(a: Interval, b: Interval): boolean {
  const lo = Math.max(a.lo, b.lo);
  const hi = Math.min(a.hi, b.hi);
  if (lo < hi) return true;
  if (lo > hi) return false;
  const loIn = a.lo === lo ? a.loIn : true;
  const hiIn = a.hi === hi ? a.hiIn : true;
  const loInB = b.lo === lo ? b.loIn : true;
  const hiInB = b.hi === hi ? b.hiIn : true;
  return loIn && hiIn && loInB && hiInB;
}

/** Whether `inner` lies inside `outer`. */
function within(inner: Interval, outer: Interval): boolean {
  const loOk = inner.lo > outer.lo || (inner.lo === outer.lo && (outer.loIn || !inner.loIn));
  const hiOk = inner.hi < outer.hi || (inner.hi === outer.hi && (outer.hiIn || !inner.hiIn));
  return loOk && hiOk;
}

/** A condition's limit(s) as written, for messages. */
function describeCondition(c: Condition): string {
  switch (c.op) {
    case 'above':
    case 'below':
      return `${c.op} ${c.value}${c.inclusive ? ' (inclusive)' : ''}`;
    case 'outside':
      return `outside ${c.min}–${c.max}`;
    case 'equals':
      return `equals ${JSON.stringify(c.value)}`;
    case 'rateOfChange':
      return `rateOfChange ${c.direction ?? 'either'} ${c.perMinute}/min`;
  }
}

/**
 * Hysteresis: why `clear` is refused for firing condition `condition`, or undefined when sound. A
 * clear condition must never hold where the firing condition holds, else a value fires and clears
 * the alert at once and the alert flaps (fire above 100, clear below 150: 120 both fires and
 * clears). So `above X` clears `below Y` with Y ≤ X (Y < X when both are inclusive), `below X`
 * clears `above Y` with Y ≥ X, `equals X` clears `equals` another value; an `outside` range has no
 * clear form inside the range (omit `clear`: it clears when the value is back inside); a rate
 * clears only on a rate in the other direction. Field: `clear.value` when the operator fits but the
 * limit does not, else `clear`.
 */
export function clearIssue(condition: Condition, clear: Condition): RuleIssue | undefined {
  const fire = conditionSet(condition);
  const done = conditionSet(clear);
  const why = `clear (${describeCondition(clear)}) must lie outside the firing condition (${describeCondition(condition)}): a value meeting both would fire and clear the alert at once (hysteresis: the clear limit lies inside the normal side)`;
  if (fire.axis === 'exact' || done.axis === 'exact') {
    if (fire.axis === 'exact' && done.axis === 'exact' && fire.value !== done.value) return undefined;
    if (fire.axis === 'exact' && done.axis === 'exact') return { field: 'clear.value', message: why };
    return {
      field: 'clear',
      message: `clear (${describeCondition(clear)}) and the firing condition (${describeCondition(condition)}) test different kinds of value: one of them never applies, so the alert never fires or never clears`,
    };
  }
  if (fire.axis !== done.axis) {
    return {
      field: 'clear',
      message: `clear (${describeCondition(clear)}) tests ${done.axis === 'rate' ? 'the rate of change' : 'the value'} while the firing condition (${describeCondition(condition)}) tests ${fire.axis === 'rate' ? 'the rate of change' : 'the value'}: both can hold at once (hysteresis needs the same quantity)`,
    };
  }
  const overlaps = fire.intervals.some((a) => done.intervals.some((b) => meet(a, b)));
  if (!overlaps) return undefined;
  const opposite =
    (condition.op === 'above' && clear.op === 'below') || (condition.op === 'below' && clear.op === 'above');
  return { field: opposite ? 'clear.value' : 'clear', message: why };
}

/**
 * Why an escalation condition is refused, or undefined when sound: it must lie beyond the firing
 * condition in the same direction (`above X` escalates `above Z` with Z ≥ X; `below X` `below
 * Z ≤ X`; `outside a–b` a wider range or a ray beyond it; `equals X` only `equals X`), since a
 * severity is raised only while the alert is open. Field: `escalations.N.condition[.value]`.
 */
export function escalationIssue(
  condition: Condition,
  escalation: Condition,
  index: number,
): RuleIssue | undefined {
  const fire = conditionSet(condition);
  const up = conditionSet(escalation);
  const field = `escalations.${index}.condition`;
  const why = `escalation (${describeCondition(escalation)}) must lie beyond the firing condition (${describeCondition(condition)}) in the same direction`;
  if (fire.axis === 'exact' || up.axis === 'exact') {
    if (fire.axis === 'exact' && up.axis === 'exact' && fire.value === up.value) return undefined;
    return { field: fire.axis === up.axis ? `${field}.value` : field, message: why };
  }
  if (fire.axis !== up.axis) return { field, message: why };
  const inside = up.intervals.every((u) => fire.intervals.some((f) => within(u, f)));
  if (inside) return undefined;
  return {
    field: condition.op === escalation.op && escalation.op !== 'outside' ? `${field}.value` : field,
    message: why,
  };
}

/**
 * What the schema cannot say about a parsed rule: its message templates use only known
 * placeholders (vi and en); its metric is one the catalogue or the derived metrics know, reported
 * by at least one device type its scope can cover (every scope axis: scopeDeviceTypes); its event
 * is one such a type raises, and an event rule's metric is one of that event's; with a registry
 * (`context`), every `scope.deviceIds` entry is a registered device; `clear` lies outside the
 * firing condition (clearIssue) and escalations beyond it (escalationIssue). Empty when the rule is
 * sound.
 */
export function ruleIssues(rule: RuleDefinition, context?: RuleCheckContext): RuleIssue[] {
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
  const { types: scopedTypes, unknownDevices } = scopeDeviceTypes(rule.scope, context);
  if (unknownDevices.length > 0) {
    const shown = unknownDevices.slice(0, 5).map((id) => JSON.stringify(id.slice(0, 64)));
    issues.push({
      field: 'scope.deviceIds',
      message: `unknown device${unknownDevices.length > 1 ? 's' : ''} ${shown.join(', ')}${unknownDevices.length > 5 ? ` and ${unknownDevices.length - 5} more` : ''} (not in the registry)`,
    });
  }
  const narrowed = scopedTypes.length < DEVICE_TYPES.length;
  const typesText = scopedTypes.length === 0 ? 'none' : scopedTypes.join(', ');
  if (rule.kind === 'threshold' || rule.kind === 'areaAggregate') {
    const types = typesReporting(rule.metric);
    if (types.length === 0) {
      issues.push({
        field: 'metric',
        message: `unknown metric "${rule.metric}" (not in the metric catalogue)`,
      });
    } else if (!scopedTypes.some((type) => types.includes(type))) {
      issues.push({
        field: 'metric',
        message: `no device type of the rule's scope (${typesText}) reports "${rule.metric}"`,
      });
    }
  }
  if (rule.kind === 'event') {
    const raising = scopedTypes.filter((type) => rule.event in DEVICE_TYPE_CONTRACTS[type].events);
    if (raising.length === 0) {
      issues.push({
        field: 'event',
        message: `unknown event "${rule.event}"${narrowed ? ` for the rule's scope (${typesText})` : ''}`,
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
  const firing =
    rule.kind === 'threshold' || rule.kind === 'areaAggregate' || rule.kind === 'event'
      ? rule.condition
      : undefined;
  if ((rule.kind === 'threshold' || rule.kind === 'areaAggregate') && rule.clear !== undefined) {
    const issue = clearIssue(rule.condition, rule.clear);
    if (issue) issues.push(issue);
  }
  (rule.escalations ?? []).forEach((escalation, index) => {
    if (firing === undefined) {
      issues.push({
        field: `escalations.${index}.condition`,
        message: `a ${rule.kind} rule has no condition to escalate beyond${rule.kind === 'event' ? ' (give the event rule a metric and condition)' : ''}`,
      });
      return;
    }
    const issue = escalationIssue(firing, escalation.condition, index);
    if (issue) issues.push(issue);
  });
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
 * ruleIssues (with the registry `context` when the caller has one). Returns the parsed definition
 * (defaults applied).
 * @throws AlertingError `invalid` naming the first field at fault (zod path, dotted)
 */
export function parseRule(input: unknown, context?: RuleCheckContext): RuleDefinition {
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
  const issue = ruleIssues(parsed.data, context)[0];
  if (issue) throw new AlertingError('invalid', `${issue.field}: ${issue.message}`, issue.field);
  return parsed.data;
}
