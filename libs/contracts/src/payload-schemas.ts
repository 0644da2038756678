import { z } from 'zod';
import {
  type DeviceType,
  type DeviceTypeContract,
  DEVICE_TYPE_CONTRACTS,
  STATUS_METRICS,
} from './device-types';
import { METRIC_CATALOGUE, type MetricDefinition, type MetricName } from './metric-catalogue';
import type { MetricValue } from './reading';
import type { DeviceChannel } from './topics';

/**
 * The zod schemas of device payloads, generated from the metric catalogue and the device-type
 * contracts. They are the reference: `parsePayload` tries the plain-JS fast path
 * (fast-payload-validator.ts) first and asks zod only for messages it does not accept, so every
 * rejection is described from a zod issue.
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

export type PayloadSchema = z.ZodType<{
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
