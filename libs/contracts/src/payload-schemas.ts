import { z } from 'zod';
import {
  type DeviceType,
  type DeviceTypeContract,
  DEVICE_TYPE_CONTRACTS,
  STATUS_METRICS,
} from './device-types';
import { METRIC_CATALOGUE, METRIC_NAMES, type MetricDefinition, type MetricName } from './metric-catalogue';
import type { MetricValue } from './reading';
import type { DeviceChannel } from './topics';

/**
 * The zod schemas of device payloads, generated from the metric catalogue and the device-type
 * contracts. They are the reference: `parsePayload` tries the plain-JS fast path
 * (fast-payload-validator.ts) first and asks zod only for messages it does not accept, so every
 * rejection is described from a zod issue.
 *
 * A message's metrics are any non-empty subset of its kind's metrics (a station whose analyser is
 * down still sends the others). `PAYLOAD_SCHEMAS` accepts a message whose every part is valid;
 * when it does not, `ENVELOPE_SCHEMAS` (the same message with its metrics left unchecked) tells a
 * broken structure (refused whole) from bad metrics, which `METRIC_SCHEMAS` judge one by one.
 */

/** `ts` as a string: ISO-8601 with seconds and a UTC offset. Its regex is shared with the fast path. */
export const ISO_TIMESTAMP = z.iso.datetime({ offset: true });
const timestamp = z.union([ISO_TIMESTAMP, z.number().int().nonnegative()]);
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
      return z.string().max(definition.maxLength).regex(definition.pattern);
  }
}

/** Each catalogue metric's value schema: what one metric of a message is judged by. */
export const METRIC_SCHEMAS = Object.fromEntries(
  METRIC_NAMES.map((name) => [name, metricSchema(METRIC_CATALOGUE[name])]),
) as Record<MetricName, z.ZodType<MetricValue>>;

/** Detail of a message whose metrics object is empty: a message must carry at least one reading. */
export const EMPTY_METRICS_MESSAGE = 'must hold at least one metric';

/**
 * The metrics of one message kind: any of `names` (the contract's required and optional ones
 * alike, in contract order), at least one, nothing else.
 */
function metricsSchema(names: readonly MetricName[]) {
  const shape: Record<string, z.ZodType<MetricValue | undefined>> = {};
  for (const name of names) shape[name] = METRIC_SCHEMAS[name].optional();
  return z
    .strictObject(shape)
    .refine((metrics) => Object.values(metrics).some((value) => value !== undefined), EMPTY_METRICS_MESSAGE);
}

/** The metrics object of an envelope: any object; its metrics are judged one by one. */
const uncheckedMetrics = z.looseObject({});

type Metrics = z.ZodType<Record<string, unknown>>;

function telemetrySchema(metrics: Metrics) {
  return z.strictObject({ ts: timestamp, seq: sequence.optional(), metrics });
}

function eventSchema(contract: DeviceTypeContract, metricsOf: (names: readonly MetricName[]) => Metrics) {
  const variants = Object.entries(contract.events).map(([event, metrics]) =>
    z.strictObject({
      ts: timestamp,
      seq: sequence.optional(),
      event: z.literal(event),
      metrics: metricsOf([...metrics.required, ...metrics.optional]),
    }),
  );
  if (variants.length === 0) return undefined;
  return z.discriminatedUnion(
    'event',
    variants as [(typeof variants)[number], ...(typeof variants)[number][]],
  );
}

function statusSchema(metrics: Metrics) {
  return z.strictObject({ ts: timestamp.optional(), seq: sequence.optional(), metrics });
}

export type PayloadSchema = z.ZodType<{
  ts?: string | number;
  seq?: number;
  event?: string;
  metrics: Record<string, MetricValue | undefined>;
}>;

type SchemasByType = Record<DeviceType, Record<DeviceChannel, PayloadSchema | undefined>>;

function schemasByType(metricsOf: (names: readonly MetricName[]) => Metrics): SchemasByType {
  const status = statusSchema(metricsOf(STATUS_METRICS));
  return Object.fromEntries(
    Object.entries(DEVICE_TYPE_CONTRACTS).map(([type, contract]: [string, DeviceTypeContract]) => [
      type,
      {
        telemetry: telemetrySchema(
          metricsOf([...contract.telemetry.required, ...contract.telemetry.optional]),
        ),
        event: eventSchema(contract, metricsOf),
        status,
      },
    ]),
  ) as unknown as SchemasByType;
}

/**
 * The zod schema for one device type's single-object messages on one channel, every part valid
 * (a non-empty subset of the kind's metrics); undefined if the type sends nothing there.
 */
export const PAYLOAD_SCHEMAS: SchemasByType = schemasByType(metricsSchema);

/**
 * The same messages with the metrics object unchecked (any object): a message this refuses has a
 * broken structure (top-level field, ts, seq, event, no metrics object) and is refused whole.
 */
export const ENVELOPE_SCHEMAS: SchemasByType = schemasByType(() => uncheckedMetrics);

/**
 * The metric names of one message kind, in contract order (required, then optional, as listed):
 * the order a valid payload's metrics come out in. `event` picks the event of an event message.
 */
export function metricNamesOf(
  type: DeviceType,
  channel: DeviceChannel,
  event?: string,
): readonly MetricName[] | undefined {
  if (channel === 'status') return STATUS_METRICS;
  const contract: DeviceTypeContract = DEVICE_TYPE_CONTRACTS[type];
  if (channel === 'telemetry') return [...contract.telemetry.required, ...contract.telemetry.optional];
  if (event === undefined || !Object.hasOwn(contract.events, event)) return undefined;
  const metrics = contract.events[event];
  return metrics && [...metrics.required, ...metrics.optional];
}
