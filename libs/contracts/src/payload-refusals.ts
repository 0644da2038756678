import type { z } from 'zod';
import { isMetricName, METRIC_CATALOGUE, type MetricDefinition, type MetricName } from './metric-catalogue';
import { METRIC_SCHEMAS } from './payload-schemas';
import type { MetricValue } from './reading';
import type { Rejection } from './rejections';
import { printable } from './text-safety';

export { printable } from './text-safety';

/**
 * What every payload form shares: the validated reading, the clock window for its ts, and how a
 * refusal is worded (field path, limit, device-supplied text quoted and escaped). No state.
 */

/** Earliest plausible observation: anything older comes from a device whose clock was never set. */
export const EARLIEST_TIMESTAMP_MS = Date.UTC(2000, 0, 1);
/** Default tolerance for device clocks ahead of the broker's, ms (5 min; broker setting IOC_MAX_CLOCK_SKEW_MS). */
export const DEFAULT_MAX_FUTURE_SKEW_MS = 5 * 60_000;

/** One validated reading: ts in epoch ms UTC, seq if sent, event for events, its valid metrics (≥ 1). */
export interface ValidPayload {
  ts: number;
  seq?: number;
  event?: string;
  metrics: Record<string, MetricValue>;
}

/** How parsePayload judges a message beyond its bytes. */
export interface PayloadOptions {
  /** Receipt time, epoch ms. */
  now: number;
  maxFutureSkewMs?: number;
  /**
   * The device id the topic named. A SenML name may carry it as a prefix (`"bn":"<deviceId>:"`);
   * a name prefixed with anything else is refused. Without it, prefixed names are refused.
   */
  deviceId?: string;
}

/** `a.b` path text: the batch prefix (`[3]`) joined to a field path; `(payload)` when both are empty. */
export function join(prefix: string, path: string): string {
  if (prefix === '') return path === '' ? '(payload)' : path;
  return path === '' ? prefix : `${prefix}.${path}`;
}

/**
 * The refusal of a reading whose ts (epoch ms) is implausible against the platform clock: more
 * than `maxFutureSkewMs` ahead of `now`, or before EARLIEST_TIMESTAMP_MS; undefined if plausible.
 * `prefix` names a batch element or SenML record (`[3]`) in the detail.
 */
export function checkTimestamp(tsMs: number, options: PayloadOptions, prefix: string): Rejection | undefined {
  const maxFuture = options.now + (options.maxFutureSkewMs ?? DEFAULT_MAX_FUTURE_SKEW_MS);
  const field = prefix === '' ? 'ts' : `${prefix} ts`;
  if (tsMs > maxFuture) {
    return {
      reason: 'timestamp-in-future',
      detail: `${field} ${formatTs(tsMs)} is more than ${(maxFuture - options.now) / 1000} s ahead of the platform clock`,
    };
  }
  if (tsMs < EARLIEST_TIMESTAMP_MS) {
    return { reason: 'timestamp-too-old', detail: `${field} ${formatTs(tsMs)} is before 2000-01-01` };
  }
  return undefined;
}

/** Largest epoch ms a Date can hold (±100,000,000 days); beyond it toISOString() throws. */
const MAX_DATE_MS = 8.64e15;

function formatTs(ms: number): string {
  return Math.abs(ms) <= MAX_DATE_MS ? new Date(ms).toISOString() : `${ms} ms since 1970`;
}

const TS_FORMAT =
  'an ISO-8601 date-time with a UTC offset (e.g. "2026-11-27T08:00:00+07:00") or a non-negative integer of epoch milliseconds';
/** Unknown keys named in a detail; the rest are counted. Each is cut to 40 characters. */
export const MAX_LISTED_KEYS = 5;

/**
 * Device-supplied text inside a detail: quoted, escaped (quotes, control and bidirectional
 * characters), cut short.
 */
export function quote(value: string, max = 40): string {
  return printable(JSON.stringify(value.length > max ? `${value.slice(0, max)}…` : value));
}

/**
 * A zod issue worded as a refusal: reason and a detail naming the field (`prefix` names a batch
 * element or SenML record, `base` the path the issue's own path is relative to) and the limit.
 */
export function describeIssue(
  issue: z.core.$ZodIssue | undefined,
  prefix: string,
  base: readonly PropertyKey[] = [],
): Rejection {
  const violation = (detail: string): Rejection => ({ reason: 'schema-violation', detail });
  if (!issue) return violation(`${join(prefix, '')} does not match the contract`);
  const segments = [...base, ...issue.path];
  const path = join(prefix, segments.map(String).join('.'));
  const missing = segments.length > 0 && issue.input === undefined;
  const field = segments.length > 0 ? String(segments[0]) : '';

  if (issue.code === 'invalid_union') {
    // A discriminated union (camera events) reports the whole object as input, with the options.
    const union = issue as { discriminator?: unknown; options?: unknown[]; input?: unknown };
    if (typeof union.discriminator === 'string') {
      const input = union.input as Record<string, unknown> | undefined;
      if (input?.[union.discriminator] === undefined) return violation(`${path} is required`);
      const options = (union.options ?? []).map((option) => JSON.stringify(option)).join(', ');
      return violation(`${path} must be one of ${options}`);
    }
  }
  // invalid_type for most fields, invalid_union for ts, invalid_value for an enum metric.
  if (missing) return violation(`${path} is required`);
  if (field === 'ts' && segments.length === 1) return violation(`${path} must be ${TS_FORMAT}`);
  if (issue.code === 'invalid_type' && issue.expected === 'int') {
    return violation(`${path} must be an integer`);
  }
  if (issue.code === 'too_small' || issue.code === 'too_big') {
    const metric = segments[segments.length - 1];
    const definition: MetricDefinition | undefined =
      typeof metric === 'string' && isMetricName(metric) ? METRIC_CATALOGUE[metric] : undefined;
    if (definition && (definition.kind === 'number' || definition.kind === 'integer')) {
      return {
        reason: 'out-of-range',
        detail:
          `${path} is outside its physical range [${definition.min}, ${definition.max}] ${definition.unit}`.trim(),
      };
    }
  }
  if (issue.code === 'unrecognized_keys') {
    const listed = issue.keys.slice(0, MAX_LISTED_KEYS).map((key) => quote(key));
    const more =
      issue.keys.length > MAX_LISTED_KEYS ? ` and ${issue.keys.length - MAX_LISTED_KEYS} more` : '';
    return violation(`${path}: unknown field(s) ${listed.join(', ')}${more}`);
  }
  return violation(`${path}: ${issue.message}`);
}

/** A value judged by a catalogue metric's zod schema, worded as a refusal if it is refused. */
export function judgeMetricValue(
  metric: MetricName,
  value: unknown,
  prefix: string,
  base: readonly PropertyKey[],
): { ok: true; value: MetricValue } | { ok: false; rejection: Rejection } {
  const judged = METRIC_SCHEMAS[metric].safeParse(value, { reportInput: true });
  return judged.success
    ? { ok: true, value: judged.data }
    : { ok: false, rejection: describeIssue(judged.error.issues[0], prefix, base) };
}
