import type { z } from 'zod';
import type { DeviceType } from './device-types';
import { fastValidate } from './fast-payload-validator';
import { isMetricName, METRIC_CATALOGUE, type MetricDefinition } from './metric-catalogue';
import { PAYLOAD_SCHEMAS } from './payload-schemas';
import type { MetricValue } from './reading';
import type { Rejection } from './rejections';
import type { DeviceChannel } from './topics';

export { PAYLOAD_SCHEMAS } from './payload-schemas';

/**
 * Device payloads, project-native JSON:
 *   telemetry `{ "ts": "2026-11-27T08:00:00+07:00" | 1795741200000, "seq": 42, "metrics": { "pm25": 31.2 } }`
 *   event     `{ "ts": …, "seq": …, "event": "accident", "metrics": { "confidence": 0.93 } }`
 *   status    `{ "ts"?: …, "metrics": { "online": false } }`  (the retained LWT; ts defaults to receipt)
 * Unknown fields and unknown metrics are refused, so a typo never silently loses data.
 *
 * Validation runs on the broker's single thread for every message, so it has two paths: a
 * plain-JS fast path (fast-payload-validator.ts) that accepts valid messages, and the zod schemas
 * (payload-schemas.ts) for everything it does not accept, which also word the rejection.
 */

/** Earliest plausible observation: anything older comes from a device whose clock was never set. */
export const EARLIEST_TIMESTAMP_MS = Date.UTC(2000, 0, 1);
export const DEFAULT_MAX_FUTURE_SKEW_MS = 5 * 60_000;

export interface ValidPayload {
  ts: number;
  seq?: number;
  event?: string;
  metrics: Record<string, MetricValue>;
}

export type PayloadResult = { ok: true; payload: ValidPayload } | ({ ok: false } & Rejection);

export interface PayloadOptions {
  /** Receipt time, epoch ms. */
  now: number;
  maxFutureSkewMs?: number;
}

/** JSON text → validated payload, or the specific reason it is not one. Never throws. */
export function parsePayload(
  type: DeviceType,
  channel: DeviceChannel,
  raw: string | Uint8Array,
  options: PayloadOptions,
): PayloadResult {
  return parse(type, channel, raw, options, true);
}

/**
 * parsePayload with the zod schemas alone, never the fast path: the reference the fast path is
 * tested against (fast-payload-validator.spec.ts) and the baseline of bench/ingest-costs.ts.
 */
export function parsePayloadWithZod(
  type: DeviceType,
  channel: DeviceChannel,
  raw: string | Uint8Array,
  options: PayloadOptions,
): PayloadResult {
  return parse(type, channel, raw, options, false);
}

function parse(
  type: DeviceType,
  channel: DeviceChannel,
  raw: string | Uint8Array,
  options: PayloadOptions,
  tryFastPath: boolean,
): PayloadResult {
  // Own-property lookups: `type` often comes from registry data and `channel` from a topic, so a
  // stale type or a name such as "constructor" must be refused, not resolved through a prototype.
  const schemas = Object.hasOwn(PAYLOAD_SCHEMAS, type) ? PAYLOAD_SCHEMAS[type] : undefined;
  if (!schemas) {
    return { ok: false, reason: 'schema-violation', detail: `unknown device type ${quote(String(type))}` };
  }
  const schema = Object.hasOwn(schemas, channel) ? schemas[channel] : undefined;
  if (!schema) {
    return {
      ok: false,
      reason: 'schema-violation',
      detail: `a ${type} sends no messages on ${quote(String(channel))}`,
    };
  }
  let json: unknown;
  try {
    json = JSON.parse(typeof raw === 'string' ? raw : utf8Text(raw));
  } catch (error) {
    return {
      ok: false,
      reason: 'malformed-json',
      detail: printable(String((error as Error).message).slice(0, 200)),
    };
  }
  // The fast path accepts a valid message or declines; zod then decides again and words the
  // rejection, so what a device is told never depends on which path ran.
  let payload = tryFastPath ? fastValidate(type, channel, json, options.now) : undefined;
  if (payload === undefined) {
    // reportInput: issues keep the offending value, so a missing field (input undefined) can be
    // told apart from a wrong one; the value itself is never echoed into the detail.
    const parsed = schema.safeParse(json, { reportInput: true });
    if (!parsed.success) return describeIssue(parsed.error.issues[0]);
    payload = validPayloadFromZod(parsed.data, options.now);
  }
  return checkTimestamp(payload, options);
}

/** Not fatal: malformed UTF-8 becomes U+FFFD (as Buffer#toString did), then JSON decides. */
const UTF8 = new TextDecoder('utf-8');

/**
 * The payload's text. TextDecoder exists in browsers and Node alike and decodes a Buffer in place;
 * on 154-byte messages it measured 214–267 ns against Buffer#toString's 222–251 ns (1e6 runs × 3,
 * Node 20), within noise of each other.
 */
function utf8Text(bytes: Uint8Array): string {
  return UTF8.decode(bytes);
}

function validPayloadFromZod(
  data: {
    ts?: string | number;
    seq?: number;
    event?: string;
    metrics: Record<string, MetricValue | undefined>;
  },
  now: number,
): ValidPayload {
  const { ts, seq, event, metrics } = data;
  const tsMs = ts === undefined ? now : typeof ts === 'number' ? ts : Date.parse(ts);
  const defined = Object.fromEntries(Object.entries(metrics).filter(([, v]) => v !== undefined)) as Record<
    string,
    MetricValue
  >;
  return {
    ts: tsMs,
    ...(seq === undefined ? {} : { seq }),
    ...(event === undefined ? {} : { event }),
    metrics: defined,
  };
}

/** A valid payload whose ts is plausible against the platform clock, or the reason it is not. */
function checkTimestamp(payload: ValidPayload, options: PayloadOptions): PayloadResult {
  const tsMs = payload.ts;
  const maxFuture = options.now + (options.maxFutureSkewMs ?? DEFAULT_MAX_FUTURE_SKEW_MS);
  if (tsMs > maxFuture) {
    return {
      ok: false,
      reason: 'timestamp-in-future',
      detail: `ts ${formatTs(tsMs)} is more than ${(maxFuture - options.now) / 1000} s ahead of the platform clock`,
    };
  }
  if (tsMs < EARLIEST_TIMESTAMP_MS) {
    return {
      ok: false,
      reason: 'timestamp-too-old',
      detail: `ts ${formatTs(tsMs)} is before 2000-01-01`,
    };
  }
  return { ok: true, payload };
}

/** Largest epoch ms a Date can hold (±100,000,000 days); beyond it toISOString() throws. */
const MAX_DATE_MS = 8.64e15;

function formatTs(ms: number): string {
  return Math.abs(ms) <= MAX_DATE_MS ? new Date(ms).toISOString() : `${ms} ms since 1970`;
}

const TS_FORMAT =
  'an ISO-8601 date-time with a UTC offset (e.g. "2026-11-27T08:00:00+07:00") or a non-negative integer of epoch milliseconds';
/** Unknown keys named in a detail; the rest are counted. Each is cut to 40 characters. */
const MAX_LISTED_KEYS = 5;

/** Device-supplied text inside a detail: quoted, escaped (quotes, control characters), cut short. */
function quote(value: string, max = 40): string {
  return JSON.stringify(value.length > max ? `${value.slice(0, max)}…` : value);
}

// eslint-disable-next-line no-control-regex
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f-\u009f]/g;

/** Control characters escaped, so a detail is safe in logs and terminals. */
function printable(value: string): string {
  return value.replace(CONTROL_CHARACTERS, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

function describeIssue(issue: z.core.$ZodIssue | undefined): { ok: false } & Rejection {
  const violation = (detail: string): { ok: false } & Rejection => ({
    ok: false,
    reason: 'schema-violation',
    detail,
  });
  if (!issue) return violation('payload does not match the contract');
  const path = issue.path.length > 0 ? issue.path.map(String).join('.') : '(payload)';
  const missing = issue.path.length > 0 && issue.input === undefined;

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
  if (path === 'ts') return violation(`ts must be ${TS_FORMAT}`);
  if (issue.code === 'invalid_type' && issue.expected === 'int') {
    return violation(`${path} must be an integer`);
  }
  if (issue.code === 'too_small' || issue.code === 'too_big') {
    const metric = issue.path[issue.path.length - 1];
    const definition: MetricDefinition | undefined =
      typeof metric === 'string' && isMetricName(metric) ? METRIC_CATALOGUE[metric] : undefined;
    if (definition && (definition.kind === 'number' || definition.kind === 'integer')) {
      return {
        ok: false,
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
