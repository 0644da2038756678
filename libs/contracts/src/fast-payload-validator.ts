import {
  type DeviceType,
  type DeviceTypeContract,
  DEVICE_TYPE_CONTRACTS,
  STATUS_METRICS,
} from './device-types';
import { METRIC_CATALOGUE, type MetricDefinition, type MetricName } from './metric-catalogue';
import { ISO_TIMESTAMP } from './payload-schemas';
import type { ValidPayload } from './payload-refusals';
import type { MetricValue } from './reading';
import type { DeviceChannel } from './topics';

/**
 * The fast path of payload validation: plain-JS checks generated once, at module load, from the
 * same source of truth as the zod schemas in payload-schemas.ts (the metric catalogue, the device
 * type contracts, the status metrics). zod costs several µs per message on the broker's single
 * thread; these checks cost a fraction of one.
 *
 * Contract: a validator accepts a parsed JSON value only if its zod schema accepts it, and then
 * returns exactly what the zod path of `parsePayload` returns (same values, same key order). When
 * it answers `undefined` the message is either invalid or outside what the fast path decides (a
 * text longer in UTF-16 units than its limit, say), and the caller asks zod, which also describes
 * the rejection. So a rejection never comes from here, and its reason and detail cannot drift.
 * fast-payload-validator.spec.ts checks this differentially on fixtures and a mutated corpus.
 */

/** A validated payload, or undefined: invalid, or not decidable here (ask zod). */
type PayloadValidator = (json: unknown, receivedAt: number) => ValidPayload | undefined;
type ValueCheck = (value: unknown) => boolean;

interface MetricSlot {
  name: MetricName;
  accepts: ValueCheck;
}

/**
 * zod's own regex for `z.iso.datetime({ offset: true })` (the string form of `ts`), taken from
 * the schema instance, so both paths test the very same pattern. Should a zod version keep it
 * elsewhere, string timestamps simply go to zod.
 */
const ISO_TIMESTAMP_PATTERN: RegExp | undefined = ISO_TIMESTAMP._zod.def.pattern;

/** z.number() refuses NaN and ±Infinity (JSON.parse turns 1e999 into Infinity). */
const isFiniteNumber = (value: unknown): value is number =>
  typeof value === 'number' && Number.isFinite(value);

/** z.number().int() accepts safe integers only. */
const isSafeInteger = (value: unknown): value is number => Number.isSafeInteger(value);

function valueCheck(definition: MetricDefinition): ValueCheck {
  switch (definition.kind) {
    case 'number': {
      const { min, max } = definition;
      return (value) => isFiniteNumber(value) && value >= min && value <= max;
    }
    case 'integer': {
      const { min, max } = definition;
      return (value) => isSafeInteger(value) && value >= min && value <= max;
    }
    case 'boolean':
      return (value) => typeof value === 'boolean';
    case 'enum': {
      const values = new Set<unknown>(definition.values);
      return (value) => typeof value === 'string' && values.has(value);
    }
    case 'text': {
      const { maxLength, pattern } = definition;
      // zod counts code points and only when the UTF-16 length is over the limit; a string within
      // the limit in UTF-16 units is within it in code points too, anything longer goes to zod.
      return (value) => {
        if (typeof value !== 'string' || value.length > maxLength) return false;
        pattern.lastIndex = 0; // as zod does, in case the pattern is global or sticky
        return pattern.test(value);
      };
    }
  }
}

/** `ts` as zod's union accepts it, in epoch ms; undefined if not accepted. */
function timestampMs(ts: unknown): number | undefined {
  if (typeof ts === 'number') return isSafeInteger(ts) && ts >= 0 ? ts : undefined;
  if (typeof ts !== 'string' || ISO_TIMESTAMP_PATTERN === undefined) return undefined;
  ISO_TIMESTAMP_PATTERN.lastIndex = 0;
  // The zod path converts with Date.parse too, so even its edge cases come out the same.
  return ISO_TIMESTAMP_PATTERN.test(ts) ? Date.parse(ts) : undefined;
}

function isSequence(seq: unknown): seq is number {
  return isSafeInteger(seq) && seq >= 0;
}

/** Objects as z.object() takes them: not null, not an array. */
function isObjectRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Keys a `for…in` loop sees: what zod's strict objects check for unknown keys. JSON.parse output
 * has only own, enumerable string keys, `__proto__` and `constructor` among them when sent.
 */
function enumerableKeyCount(object: object): number {
  let count = 0;
  for (const _key in object) count++;
  return count;
}

/**
 * Names that resolve through Object.prototype (`constructor`, `toString`, …) would read as present
 * when absent, so a contract using one as a metric name gets no fast path: zod decides alone.
 */
function readableWithoutPrototype(names: readonly string[]): boolean {
  return names.every((name) => !(name in Object.prototype));
}

/**
 * The metrics object: each catalogue metric of the message kind checked when present (any
 * non-empty subset of them is a valid message), then one pass over the keys that proves there is
 * nothing else (no unknown key, `__proto__` included, gets through) and whether they came in
 * contract order (required, then optional, as listed), the order zod builds its output in. They
 * usually do (the simulator and most firmware send them so), and then the parsed object already is
 * that output and is returned as it is; otherwise a copy in that order. A message with any invalid
 * metric is left to the slow path, which keeps the valid ones and words a refusal for each other.
 */
function metricsValidator(
  required: readonly MetricName[],
  optional: readonly MetricName[],
): ((metrics: unknown) => Record<string, MetricValue> | undefined) | undefined {
  if (!readableWithoutPrototype([...required, ...optional])) return undefined;
  const slots: MetricSlot[] = [...required, ...optional].map((name) => ({
    name,
    accepts: valueCheck(METRIC_CATALOGUE[name]),
  }));
  const names = slots.map((slot) => slot.name);
  const inContractOrder = (metrics: Record<string, unknown>): Record<string, MetricValue> => {
    const copy: Record<string, MetricValue> = {};
    for (const { name } of slots) {
      const value = metrics[name];
      if (value !== undefined) copy[name] = value as MetricValue;
    }
    return copy;
  };
  return (metrics) => {
    if (!isObjectRecord(metrics)) return undefined;
    let present = 0;
    for (const slot of slots) {
      const value = metrics[slot.name];
      if (value === undefined) continue;
      if (!slot.accepts(value)) return undefined;
      present++;
    }
    if (present === 0) return undefined;
    // `for…in` sees what zod's strict-object check sees. Every key matched a slot if there are as
    // many as valid metrics; they are in order if each is found further along the slots.
    let keys = 0;
    let slot = 0;
    let ordered = true;
    for (const key in metrics) {
      keys++;
      if (!ordered) continue;
      while (slot < names.length && names[slot] !== key) slot++;
      if (slot === names.length) ordered = false;
      else slot++;
    }
    if (keys !== present) return undefined;
    return ordered ? (metrics as Record<string, MetricValue>) : inContractOrder(metrics);
  };
}

/** The payload object as parsePayload's zod path builds it: ts, seq if sent, event if any, metrics. */
function validPayload(
  ts: number,
  seq: number | undefined,
  event: string | undefined,
  metrics: Record<string, MetricValue>,
): ValidPayload {
  if (seq === undefined) return event === undefined ? { ts, metrics } : { ts, event, metrics };
  return event === undefined ? { ts, seq, metrics } : { ts, seq, event, metrics };
}

/**
 * One message kind: `{ ts, seq?, metrics }`, or with `event` equal to `eventName`; ts optional on
 * status, where it defaults to the receipt time.
 */
function messageValidator(options: {
  timestampRequired: boolean;
  eventName?: string;
  required: readonly MetricName[];
  optional: readonly MetricName[];
}): PayloadValidator | undefined {
  const { timestampRequired, eventName } = options;
  const validMetrics = metricsValidator(options.required, options.optional);
  if (!validMetrics) return undefined;
  return (json, receivedAt) => {
    if (!isObjectRecord(json)) return undefined;
    const { ts: rawTs, seq: rawSeq } = json;
    // `metrics` is always there; ts, seq and event when sent. Any other key makes the count differ.
    let keys = eventName === undefined ? 1 : 2;
    let ts = receivedAt;
    if (rawTs !== undefined) {
      const ms = timestampMs(rawTs);
      if (ms === undefined) return undefined;
      ts = ms;
      keys++;
    } else if (timestampRequired) return undefined;
    let seq: number | undefined;
    if (rawSeq !== undefined) {
      if (!isSequence(rawSeq)) return undefined;
      seq = rawSeq;
      keys++;
    }
    // eventValidator picked this variant by its event name; checked again so this stands alone.
    if (eventName !== undefined && json['event'] !== eventName) return undefined;
    if (enumerableKeyCount(json) !== keys) return undefined;
    const metrics = validMetrics(json['metrics']);
    return metrics && validPayload(ts, seq, eventName, metrics);
  };
}

/** Camera-style events: the `event` name picks its variant, as zod's discriminated union does. */
function eventValidator(contract: DeviceTypeContract): PayloadValidator | undefined {
  const variants = new Map<unknown, PayloadValidator>();
  for (const [eventName, metrics] of Object.entries(contract.events)) {
    const validator = messageValidator({ timestampRequired: true, eventName, ...metrics });
    if (validator) variants.set(eventName, validator);
  }
  if (variants.size === 0) return undefined;
  return (json, receivedAt) => {
    if (!isObjectRecord(json)) return undefined;
    return variants.get(json['event'])?.(json, receivedAt);
  };
}

const [STATUS_REQUIRED, ...STATUS_OPTIONAL] = STATUS_METRICS;
const statusValidator = messageValidator({
  timestampRequired: false,
  required: [STATUS_REQUIRED],
  optional: STATUS_OPTIONAL,
});

/** Device type → channel → validator; Maps, so no name resolves through a prototype. */
const VALIDATORS = new Map<string, Map<string, PayloadValidator>>(
  Object.entries(DEVICE_TYPE_CONTRACTS).map(([type, contract]: [string, DeviceTypeContract]) => {
    const byChannel = new Map<string, PayloadValidator>();
    const telemetry = messageValidator({ timestampRequired: true, ...contract.telemetry });
    const event = eventValidator(contract);
    if (telemetry) byChannel.set('telemetry', telemetry);
    if (event) byChannel.set('event', event);
    if (statusValidator) byChannel.set('status', statusValidator);
    return [type, byChannel];
  }),
);

/** Each catalogue metric's plain-JS value check (type, range, integer-ness, enum, text). */
const METRIC_CHECKS = new Map<string, ValueCheck>(
  (Object.entries(METRIC_CATALOGUE) as [MetricName, MetricDefinition][]).map(([name, definition]) => [
    name,
    valueCheck(definition),
  ]),
);

/**
 * Whether a catalogue metric accepts a value, without zod: true only if its zod schema
 * (METRIC_SCHEMAS) accepts it too; false for an unknown name, or when zod must decide (a text
 * longer in UTF-16 units than its limit). Used for SenML records, one metric at a time.
 */
export function fastAcceptsValue(metric: string, value: unknown): boolean {
  return METRIC_CHECKS.get(metric)?.(value) ?? false;
}

/**
 * Validates an already parsed JSON message of a device type on a channel, without zod. Returns
 * the ValidPayload exactly as parsePayload's zod path would (ts in epoch ms, `receivedAt` when a
 * status message has none); undefined when the message is invalid or this path cannot decide.
 * Does not check the timestamp against the clock: parsePayload does that for both paths.
 */
export function fastValidate(
  type: DeviceType,
  channel: DeviceChannel,
  json: unknown,
  receivedAt: number,
): ValidPayload | undefined {
  return VALIDATORS.get(type)?.get(channel)?.(json, receivedAt);
}
