import {
  SEVERITIES,
  VIETNAM_UTC_OFFSET_MS,
  type RuleDefinition,
  type RuleKind,
  type RuleScope,
  type Severity,
  type StoredRule,
} from '@ioc/contracts';
import { compileCondition, conditionLimit, type CompiledCondition } from './conditions';
import type { EngineDevice } from './directory';
import { validateTemplates } from './messages';

/** Default `keepFiringForSeconds` of `event` rules: 15 minutes after the last occurrence (contracts). */
export const EVENT_KEEP_FIRING_SECONDS_DEFAULT = 900;
/** Default `minCoverage` of windows (contracts: QCVN 05:2023 averages need most of the period). */
export const WINDOW_MIN_COVERAGE_DEFAULT = 0.75;

/** A rule that cannot be evaluated as written (the engine skips it and lists it in `ruleErrors`). */
export class RuleCompileError extends Error {
  constructor(
    readonly ruleId: string,
    message: string,
  ) {
    super(`rule ${ruleId}: ${message}`);
    this.name = 'RuleCompileError';
  }
}

/** A rule's scope as sets (tested once per rule × device, then cached by the engine). */
export interface CompiledScope {
  deviceIds: ReadonlySet<string> | null;
  deviceTypes: ReadonlySet<string> | null;
  domains: ReadonlySet<string> | null;
  areaIds: readonly string[] | null;
  attributes: ReadonlyArray<readonly [string, string | number | boolean]> | null;
}

/** A rule ready to evaluate: every default applied, every duration in ms. */
export interface CompiledRule {
  readonly id: string;
  readonly version: number;
  readonly kind: RuleKind;
  readonly definition: RuleDefinition;
  readonly severity: Severity;
  readonly scope: CompiledScope;
  /** `scope.areaIds`, [] when not given (the subjects of an areaAggregate rule). */
  readonly areas: readonly string[];
  /** threshold, areaAggregate, and event rules with a metric condition. */
  readonly metric: string | null;
  readonly event: string | null;
  readonly condition: CompiledCondition | null;
  /** Null: the clear condition is "the condition does not hold". */
  readonly clear: CompiledCondition | null;
  /** Highest severity first. */
  readonly escalations: ReadonlyArray<{ severity: Severity; rank: number; condition: CompiledCondition }>;
  readonly usesRate: boolean;
  readonly forMs: number;
  readonly keepFiringMs: number;
  /** Local (UTC+7) hours, null for all day. */
  readonly schedule: { fromHour: number; toHour: number } | null;
  /** Epoch ms; −Infinity / +Infinity when not given. */
  readonly validFromMs: number;
  readonly validUntilMs: number;
  readonly window: {
    seconds: number;
    aggregate: 'mean' | 'max' | 'min';
    minCoverage: number;
    /** Key of the per-device window this rule reads: `metric/seconds`. */
    key: string;
  } | null;
  readonly minDevices: number;
  /** noData: silence, ms; null = the device's own silence timeout. */
  readonly silentMs: number | null;
  readonly limit: number | null;
  readonly standard: string | null;
}

/** Rank of a severity: info 0 < warning 1 < critical 2. */
export const severityRank = (s: Severity): number => SEVERITIES.indexOf(s);

/**
 * Compiles a stored rule. Refuses (RuleCompileError) what the contracts' schema lets through but the
 * engine cannot evaluate: an `areaAggregate` rule without `scope.areaIds`; a `rateOfChange`
 * condition on a window or area aggregate (rates are of raw values); an event rule with only one of
 * `metric`/`condition`; unknown message placeholders; unparsable `validFrom`/`validUntil` or
 * `validFrom ≥ validUntil`.
 */
export function compileRule(stored: StoredRule): CompiledRule {
  const d = stored.definition;
  const fail = (message: string): never => {
    throw new RuleCompileError(d.id, message);
  };
  const unknown = validateTemplates(d);
  if (unknown.length > 0) fail(`unknown message placeholders: ${unknown.map((p) => `{${p}}`).join(', ')}`);
  const validFromMs = d.validFrom === undefined ? Number.NEGATIVE_INFINITY : Date.parse(d.validFrom);
  const validUntilMs = d.validUntil === undefined ? Number.POSITIVE_INFINITY : Date.parse(d.validUntil);
  if (Number.isNaN(validFromMs)) fail(`validFrom ${d.validFrom} is not a date-time`);
  if (Number.isNaN(validUntilMs)) fail(`validUntil ${d.validUntil} is not a date-time`);
  if (validFromMs >= validUntilMs) fail('validFrom must be before validUntil');

  let metric: string | null = null;
  let event: string | null = null;
  let condition: CompiledCondition | null = null;
  let clear: CompiledCondition | null = null;
  let window: CompiledRule['window'] = null;
  let minDevices = 1;
  let silentMs: number | null = null;
  let limit: number | null = null;
  switch (d.kind) {
    case 'threshold':
    case 'areaAggregate': {
      metric = d.metric;
      condition = compileCondition(d.condition);
      clear = d.clear ? compileCondition(d.clear) : null;
      limit = conditionLimit(d.condition);
      if (d.window) {
        window = {
          seconds: d.window.seconds,
          aggregate: d.window.aggregate,
          minCoverage: d.window.minCoverage ?? WINDOW_MIN_COVERAGE_DEFAULT,
          key: `${d.metric}/${d.window.seconds}`,
        };
      }
      if (d.kind === 'areaAggregate') {
        if (!d.scope.areaIds?.length) fail('an areaAggregate rule needs scope.areaIds');
        minDevices = d.minDevices ?? 1;
      }
      const rates = [d.condition, d.clear, ...(d.escalations ?? []).map((e) => e.condition)].some(
        (c) => c?.op === 'rateOfChange',
      );
      if (rates && window) fail('rateOfChange applies to raw values, not to a window or an area aggregate');
      break;
    }
    case 'event':
      event = d.event;
      if ((d.metric === undefined) !== (d.condition === undefined)) fail('metric and condition go together');
      if (d.metric !== undefined && d.condition !== undefined) {
        metric = d.metric;
        condition = compileCondition(d.condition);
        limit = conditionLimit(d.condition);
      }
      break;
    case 'status':
      break;
    case 'noData':
      silentMs = d.silentSeconds === undefined ? null : d.silentSeconds * 1000;
      break;
  }
  const escalations = (d.escalations ?? [])
    .map((e) => ({
      severity: e.severity,
      rank: severityRank(e.severity),
      condition: compileCondition(e.condition),
    }))
    .sort((a, b) => b.rank - a.rank);
  if (d.kind === 'event' && escalations.length > 0 && metric === null)
    fail('escalations of an event rule need its metric');
  const usesRate =
    (condition?.needsRate ?? false) ||
    (clear?.needsRate ?? false) ||
    escalations.some((e) => e.condition.needsRate);
  return {
    id: d.id,
    version: stored.version,
    kind: d.kind,
    definition: d,
    severity: d.severity,
    scope: compileScope(d.scope ?? {}),
    areas: d.scope?.areaIds ?? [],
    metric,
    event,
    condition,
    clear,
    escalations,
    usesRate,
    forMs: (d.forSeconds ?? 0) * 1000,
    keepFiringMs:
      (d.keepFiringForSeconds ?? (d.kind === 'event' ? EVENT_KEEP_FIRING_SECONDS_DEFAULT : 0)) * 1000,
    schedule: d.schedule ? { fromHour: d.schedule.fromHour, toHour: d.schedule.toHour } : null,
    validFromMs,
    validUntilMs,
    window,
    minDevices,
    silentMs,
    limit,
    standard: d.source?.standard ?? null,
  };
}

function compileScope(s: RuleScope): CompiledScope {
  return {
    deviceIds: s.deviceIds ? new Set(s.deviceIds) : null,
    deviceTypes: s.deviceTypes ? new Set(s.deviceTypes) : null,
    domains: s.domains ? new Set(s.domains) : null,
    areaIds: s.areaIds ?? null,
    attributes: s.attributes ? Object.entries(s.attributes) : null,
  };
}

/**
 * Whether a rule's scope covers `device`: every axis given holds (device id, type, domain, an area
 * of `areaIds` on the device's area path — subtrees —, each attribute equal with `===`).
 */
export function scopeCovers(scope: CompiledScope, device: EngineDevice): boolean {
  if (scope.deviceIds && !scope.deviceIds.has(device.id)) return false;
  if (scope.deviceTypes && !scope.deviceTypes.has(device.type)) return false;
  if (scope.domains && !scope.domains.has(device.domain)) return false;
  if (scope.areaIds && !scope.areaIds.some((a) => device.areaPath.includes(a))) return false;
  if (scope.attributes) {
    for (const [key, value] of scope.attributes) if (device.attributes[key] !== value) return false;
  }
  return true;
}

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

/** The local hour (0–23) of `ts` in Vietnam (UTC+7, no DST: VIETNAM_UTC_OFFSET_MS). */
export function vietnamHour(ts: number): number {
  const local = (((ts + VIETNAM_UTC_OFFSET_MS) % DAY_MS) + DAY_MS) % DAY_MS;
  return Math.floor(local / HOUR_MS);
}

/**
 * Whether the rule applies at `ts` (epoch ms): `validFrom ≤ ts < validUntil` and, with a schedule,
 * the Vietnam local hour in `[fromHour, toHour)` (wrapping midnight when fromHour > toHour).
 */
export function ruleActiveAt(rule: CompiledRule, ts: number): boolean {
  if (ts < rule.validFromMs || ts >= rule.validUntilMs) return false;
  const s = rule.schedule;
  if (s === null) return true;
  const h = vietnamHour(ts);
  return s.fromHour < s.toHour ? h >= s.fromHour && h < s.toHour : h >= s.fromHour || h < s.toHour;
}
