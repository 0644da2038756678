import type { DeviceType } from './device-types';
import { findDuplicateKey } from './duplicate-keys';
import { fastValidate } from './fast-payload-validator';
import type { MetricName } from './metric-catalogue';
import {
  EMPTY_METRICS_MESSAGE,
  ENVELOPE_SCHEMAS,
  metricNamesOf,
  PAYLOAD_SCHEMAS,
  type PayloadSchema,
} from './payload-schemas';
import {
  checkTimestamp,
  describeIssue,
  join,
  judgeMetricValue,
  MAX_LISTED_KEYS,
  type PayloadOptions,
  printable,
  quote,
  type ValidPayload,
} from './payload-refusals';
import type { MetricValue } from './reading';
import type { PartRejection, Rejection } from './rejections';
import { isSenmlPack, parseSenmlPack } from './senml';
import type { DeviceChannel } from './topics';

export { PAYLOAD_SCHEMAS } from './payload-schemas';
export {
  checkTimestamp,
  DEFAULT_MAX_FUTURE_SKEW_MS,
  EARLIEST_TIMESTAMP_MS,
  type PayloadOptions,
  type ValidPayload,
} from './payload-refusals';

/**
 * Device payloads, UTF-8 JSON, in three forms:
 *   single    `{ "ts": "2026-11-27T08:00:00+07:00" | 1795741200000, "seq": 42, "metrics": { "pm25": 31.2 } }`
 *             event `{ "ts": …, "seq": …, "event": "accident", "metrics": { "confidence": 0.93 } }`
 *             status `{ "ts"?: …, "metrics": { "online": false } }` (the retained LWT; ts defaults to receipt)
 *   batch     `[ {single}, {single}, … ]`: a backlog uploaded at once (telemetry and event), each
 *             element with its own ts, at most MAX_ENTRIES_PER_MESSAGE elements
 *   SenML     `[ { "bn": "<deviceId>:", "bt": 1795741200, "n": "pm25", "u": "ug/m3", "v": 31.2 }, … ]`
 *             an RFC 8428 JSON pack (telemetry only): see senml.ts
 * A message's metrics are any non-empty subset of its kind's metrics. Unknown fields and metrics
 * are refused, so a typo never silently loses data; but only the part that is wrong is refused:
 *
 * - the whole message, when its structure is broken: not JSON, a key twice in one object, an
 *   unknown top-level field, a bad `ts`/`seq`/`event`, no metrics object or an empty one, a ts
 *   outside the clock window, more than MAX_ENTRIES_PER_MESSAGE entries, a SenML pack whose base
 *   fields are broken;
 * - one metric, when its value is out of range or of the wrong type, or it is not a metric of the
 *   message kind (the other metrics of the reading are kept);
 * - one batch element (index given) when that element is broken as a whole message would be;
 * - one SenML record (index given): unknown name, unit mismatch, bad value, bad time.
 * A message none of whose readings survives is refused (ok: false).
 *
 * Validation runs on the broker's single thread for every message, so it has two paths: a
 * plain-JS fast path (fast-payload-validator.ts) that accepts fully valid readings, and the zod
 * schemas (payload-schemas.ts) for everything it does not accept, which also word the refusals.
 */

/**
 * Most elements in a batch, or records in a SenML pack. A bound on the synchronous work (and the
 * refusals answered) per message on the broker's thread; with the default 16 KiB payload limit
 * (IOC_MAX_PAYLOAD_BYTES) a batch of one-metric readings (~45 bytes each) stays under it anyway.
 * Over it: the whole message is refused, reason `too-many-readings`.
 */
export const MAX_ENTRIES_PER_MESSAGE = 500;

/**
 * What a message yields.
 * - `ok: true`: `readings` (≥ 1, in message order: one for a single message, one per valid batch
 *   element, one per distinct time of a SenML pack) and `rejections`, each refused part (a metric,
 *   an element or a record) with its reason, `index` and `metric` where they apply; empty when every
 *   part was accepted.
 * - `ok: false`: nothing is kept. `rejections` holds either the one whole-message refusal or the
 *   refusal of every part; `reason` and `detail` repeat its first entry.
 */
export type PayloadResult =
  | { ok: true; readings: ValidPayload[]; rejections: readonly PartRejection[] }
  | ({ ok: false; rejections: readonly PartRejection[] } & Rejection);

/** No refusal: one shared array, so the valid path allocates nothing for it. */
const NO_REJECTIONS: readonly PartRejection[] = Object.freeze([]);

/**
 * JSON text (or its UTF-8 bytes) → the readings it holds, and the specific reason for each part
 * refused. `type` comes from the registry, `channel` from the topic, never from the payload.
 * Never throws.
 */
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

/** Refusal of the whole message. */
function refused(reason: Rejection['reason'], detail: string): PayloadResult {
  return { ok: false, reason, detail, rejections: [{ reason, detail }] };
}

/** The result of judging every part: accepted if any reading survived. */
function outcome(readings: ValidPayload[], rejections: PartRejection[]): PayloadResult {
  const all = rejections.length === 0 ? NO_REJECTIONS : rejections;
  if (readings.length > 0) return { ok: true, readings, rejections: all };
  const first = rejections[0] ?? { reason: 'schema-violation', detail: '(payload) holds no reading' };
  return { ok: false, reason: first.reason, detail: first.detail, rejections: all };
}

/** How one message is judged: what parse() passes down. */
interface JudgeContext {
  type: DeviceType;
  channel: DeviceChannel;
  schema: PayloadSchema;
  options: PayloadOptions;
  tryFastPath: boolean;
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
  if (!schemas) return refused('schema-violation', `unknown device type ${quote(String(type))}`);
  const schema = Object.hasOwn(schemas, channel) ? schemas[channel] : undefined;
  if (!schema) return refused('schema-violation', `a ${type} sends no messages on ${quote(String(channel))}`);
  const text = typeof raw === 'string' ? raw : utf8Text(raw);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return refused('malformed-json', printable(String((error as Error).message).slice(0, 200)));
  }
  const duplicate = findDuplicateKey(text, json);
  if (duplicate) {
    return refused('duplicate-key', `${duplicate.path}: key ${quote(duplicate.key)} appears more than once`);
  }
  if (Array.isArray(json) && channel !== 'status') {
    if (json.length === 0) return refused('schema-violation', '(payload): an empty array holds no reading');
    if (json.length > MAX_ENTRIES_PER_MESSAGE) {
      return refused(
        'too-many-readings',
        `(payload) holds ${json.length} entries; the limit is ${MAX_ENTRIES_PER_MESSAGE} per message`,
      );
    }
    if (isSenmlPack(json)) {
      if (channel !== 'telemetry') {
        return refused('schema-violation', '(payload): SenML packs are accepted on telemetry only');
      }
      const pack = parseSenmlPack(type, json, options, tryFastPath);
      return 'whole' in pack
        ? refused(pack.whole.reason, pack.whole.detail)
        : outcome(pack.readings, pack.rejections);
    }
    return parseBatch({ type, channel, schema, options, tryFastPath }, json);
  }
  // The valid single message: the fast path alone, nothing else allocated.
  const payload = tryFastPath ? fastValidate(type, channel, json, options.now) : undefined;
  if (payload !== undefined) {
    const late = checkTimestamp(payload.ts, options, '');
    return late
      ? refused(late.reason, late.detail)
      : { ok: true, readings: [payload], rejections: NO_REJECTIONS };
  }
  const readings: ValidPayload[] = [];
  const rejections: PartRejection[] = [];
  judgeReading({ type, channel, schema, options, tryFastPath }, json, undefined, readings, rejections);
  return outcome(readings, rejections);
}

/** Each element on its own: a broken element is refused with its index, the others are kept. */
function parseBatch(context: JudgeContext, elements: readonly unknown[]): PayloadResult {
  const readings: ValidPayload[] = [];
  const rejections: PartRejection[] = [];
  for (let index = 0; index < elements.length; index++) {
    judgeReading(context, elements[index], index, readings, rejections);
  }
  return outcome(readings, rejections);
}

/**
 * One single-form message (the whole payload, or batch element `index`): its reading pushed to
 * `readings` if any metric of it is valid and its ts plausible, each refused part to `rejections`.
 */
function judgeReading(
  context: JudgeContext,
  json: unknown,
  index: number | undefined,
  readings: ValidPayload[],
  rejections: PartRejection[],
): void {
  const { type, channel, schema, options, tryFastPath } = context;
  const prefix = index === undefined ? '' : `[${index}]`;
  const at = (rejection: Rejection): PartRejection =>
    index === undefined ? rejection : { ...rejection, index };
  let payload = tryFastPath ? fastValidate(type, channel, json, options.now) : undefined;
  const parts: PartRejection[] = [];
  if (payload === undefined) {
    // reportInput: issues keep the offending value, so a missing field (input undefined) can be
    // told apart from a wrong one; the value itself is never echoed into the detail.
    const parsed = schema.safeParse(json, { reportInput: true });
    if (parsed.success) payload = validPayloadFromZod(parsed.data, options.now);
    else {
      const envelope = ENVELOPE_SCHEMAS[type][channel]?.safeParse(json, { reportInput: true });
      if (!envelope?.success) {
        rejections.push(at(describeIssue(envelope?.error.issues[0], prefix)));
        return;
      }
      const data = envelope.data;
      const names = metricNamesOf(type, channel, data.event) ?? [];
      const keys = Object.keys((json as { metrics: object }).metrics);
      if (keys.length === 0) {
        rejections.push(
          at({ reason: 'schema-violation', detail: `${join(prefix, 'metrics')} ${EMPTY_METRICS_MESSAGE}` }),
        );
        return;
      }
      const valid: Record<string, MetricValue> = {};
      const allowed = new Set<string>(names);
      const unknown = keys.filter((key) => !allowed.has(key));
      if (unknown.length > 0) {
        // One refusal for all unknown names of a reading (not one each: a payload of 1,000 made-up
        // names must not make 1,000 answers), naming the first few and counting the rest.
        const listed = unknown.slice(0, MAX_LISTED_KEYS).map((key) => quote(key));
        const more = unknown.length > MAX_LISTED_KEYS ? ` and ${unknown.length - MAX_LISTED_KEYS} more` : '';
        parts.push({
          ...at({
            reason: 'schema-violation',
            detail: `${join(prefix, 'metrics')}: unknown field(s) ${listed.join(', ')}${more}`,
          }),
          // A name the device made up: escaped like the detail, so it is safe wherever it is shown.
          metric: printable((unknown[0] as string).slice(0, 40)),
        });
      }
      for (const key of keys) {
        if (!allowed.has(key)) continue;
        const value = (json as { metrics: Record<string, unknown> }).metrics[key];
        const judged = judgeMetricValue(key as MetricName, value, prefix, ['metrics', key]);
        if (judged.ok) valid[key] = judged.value;
        else parts.push({ ...at(judged.rejection), metric: key });
      }
      const ordered: Record<string, MetricValue> = {};
      for (const name of names) if (Object.hasOwn(valid, name)) ordered[name] = valid[name] as MetricValue;
      if (Object.keys(ordered).length === 0) {
        rejections.push(...parts);
        return;
      }
      payload = validPayloadFromZod({ ...data, metrics: ordered }, options.now);
    }
  }
  const late = checkTimestamp(payload.ts, options, prefix);
  if (late) {
    rejections.push(at(late), ...parts);
    return;
  }
  readings.push(payload);
  rejections.push(...parts);
}

/**
 * Not fatal: malformed UTF-8 becomes U+FFFD (as Buffer#toString did), then JSON decides. A
 * byte-order mark is kept in the text (`ignoreBOM`), so JSON.parse refuses it as the contracts
 * say ("UTF-8 JSON, no byte-order mark"); TextDecoder would otherwise strip it silently.
 */
const UTF8 = new TextDecoder('utf-8', { ignoreBOM: true });

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
