import { z } from 'zod';
import {
  type DeviceType,
  type DeviceTypeContract,
  DEVICE_TYPE_CONTRACTS,
  STATUS_METRICS,
} from './device-types';
import { METRIC_CATALOGUE, type MetricDefinition, type MetricName } from './metric-catalogue';
import type { MetricValue } from './reading';
import type { Rejection } from './rejections';
import type { DeviceChannel } from './topics';

/**
 * Device payloads, project-native JSON:
 *   telemetry `{ "ts": "2026-11-27T08:00:00+07:00" | 1795741200000, "seq": 42, "metrics": { "pm25": 31.2 } }`
 *   event     `{ "ts": …, "seq": …, "event": "accident", "metrics": { "confidence": 0.93 } }`
 *   status    `{ "ts"?: …, "metrics": { "online": false } }`  (the retained LWT; ts defaults to receipt)
 * Unknown fields and unknown metrics are refused, so a typo never silently loses data.
 */

/** Earliest plausible observation: anything older comes from a device whose clock was never set. */
export const EARLIEST_TIMESTAMP_MS = Date.UTC(2000, 0, 1);
export const DEFAULT_MAX_FUTURE_SKEW_MS = 5 * 60_000;

const timestamp = z.union([z.iso.datetime({ offset: true }), z.number().int().nonnegative()]);
const sequence = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);

function metricSchema(definition: MetricDefinition): z.ZodType<MetricValue> {
  switch (definition.kind) {
    case 'number':
      return z.number().min(definition.min).max(definition.max);
    case 'integer':
      return z.number().int().min(definition.min).max(definition.max);
    case 'boolean':
      return z.boolean();
    case 'enum':
      return z.enum(definition.values as [string, ...string[]]);
    case 'text':
      return z.string().max(definition.maxLength);
  }
}

function metricsSchema(required: readonly MetricName[], optional: readonly MetricName[]) {
  const shape: Record<string, z.ZodType<MetricValue | undefined>> = {};
  for (const name of required) shape[name] = metricSchema(METRIC_CATALOGUE[name]);
  for (const name of optional) shape[name] = metricSchema(METRIC_CATALOGUE[name]).optional();
  return z.strictObject(shape);
}

function telemetrySchema(contract: DeviceTypeContract) {
  return z.strictObject({
    ts: timestamp,
    seq: sequence.optional(),
    metrics: metricsSchema(contract.telemetry.required, contract.telemetry.optional),
  });
}

function eventSchema(contract: DeviceTypeContract) {
  const variants = Object.entries(contract.events).map(([event, metrics]) =>
    z.strictObject({
      ts: timestamp,
      seq: sequence.optional(),
      event: z.literal(event),
      metrics: metricsSchema(metrics.required, metrics.optional),
    }),
  );
  if (variants.length === 0) return undefined;
  return z.discriminatedUnion(
    'event',
    variants as [(typeof variants)[number], ...(typeof variants)[number][]],
  );
}

const [statusRequired, ...statusOptional] = STATUS_METRICS;
const statusSchema = z.strictObject({
  ts: timestamp.optional(),
  seq: sequence.optional(),
  metrics: metricsSchema([statusRequired], statusOptional),
});

type PayloadSchema = z.ZodType<{
  ts?: string | number;
  seq?: number;
  event?: string;
  metrics: Record<string, MetricValue | undefined>;
}>;

/** The zod schema for one device type's messages on one channel; undefined if it has none. */
export const PAYLOAD_SCHEMAS: Record<
  DeviceType,
  Record<DeviceChannel, PayloadSchema | undefined>
> = Object.fromEntries(
  Object.entries(DEVICE_TYPE_CONTRACTS).map(([type, contract]) => [
    type,
    { telemetry: telemetrySchema(contract), event: eventSchema(contract), status: statusSchema },
  ]),
) as unknown as Record<DeviceType, Record<DeviceChannel, PayloadSchema | undefined>>;

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
  const schema = PAYLOAD_SCHEMAS[type][channel];
  if (!schema) {
    return { ok: false, reason: 'schema-violation', detail: `a ${type} sends no messages on "${channel}"` };
  }
  let json: unknown;
  try {
    json = JSON.parse(typeof raw === 'string' ? raw : Buffer.from(raw).toString('utf8'));
  } catch (error) {
    return { ok: false, reason: 'malformed-json', detail: (error as Error).message.slice(0, 200) };
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) return describeIssue(parsed.error.issues[0]);
  const { ts, seq, event, metrics } = parsed.data;
  const tsMs = ts === undefined ? options.now : typeof ts === 'number' ? ts : Date.parse(ts);
  const maxFuture = options.now + (options.maxFutureSkewMs ?? DEFAULT_MAX_FUTURE_SKEW_MS);
  if (tsMs > maxFuture) {
    return {
      ok: false,
      reason: 'timestamp-in-future',
      detail: `ts ${new Date(tsMs).toISOString()} is more than ${(maxFuture - options.now) / 1000} s ahead of the platform clock`,
    };
  }
  if (tsMs < EARLIEST_TIMESTAMP_MS) {
    return {
      ok: false,
      reason: 'timestamp-too-old',
      detail: `ts ${new Date(tsMs).toISOString()} is before 2000-01-01`,
    };
  }
  const defined = Object.fromEntries(Object.entries(metrics).filter(([, v]) => v !== undefined)) as Record<
    string,
    MetricValue
  >;
  return {
    ok: true,
    payload: {
      ts: tsMs,
      ...(seq === undefined ? {} : { seq }),
      ...(event === undefined ? {} : { event }),
      metrics: defined,
    },
  };
}

function describeIssue(issue: z.core.$ZodIssue | undefined): { ok: false } & Rejection {
  if (!issue) return { ok: false, reason: 'schema-violation', detail: 'payload does not match the contract' };
  const path = issue.path.length > 0 ? issue.path.join('.') : '(payload)';
  if (issue.code === 'too_small' || issue.code === 'too_big') {
    const metric = issue.path[issue.path.length - 1];
    const definition =
      typeof metric === 'string' ? (METRIC_CATALOGUE as Record<string, MetricDefinition>)[metric] : undefined;
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
    return {
      ok: false,
      reason: 'schema-violation',
      detail: `${path}: unknown field(s) ${issue.keys.map((k) => `"${k.slice(0, 40)}"`).join(', ')}`,
    };
  }
  return { ok: false, reason: 'schema-violation', detail: `${path}: ${issue.message}` };
}
