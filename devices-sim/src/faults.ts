import {
  type Device,
  DEVICE_TYPE_CONTRACTS,
  type DeviceTypeContract,
  DOMAINS,
  deviceTopic,
  METRIC_CATALOGUE,
  type RejectionReason,
} from '@ioc/contracts';
import { buildMessage } from './models';
import type { ModelContext } from './models/model-types';

/** Broken messages a demo or test can inject, each refused by the platform for a known reason. */
export const FAULT_KINDS = [
  'out-of-range',
  'malformed-json',
  'unknown-metric',
  'empty-metrics',
  'timestamp-in-future',
  'wrong-domain',
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export interface FaultMessage {
  kind: FaultKind;
  topic: string;
  payload: string;
  /**
   * The rejection reason the platform should answer with on `.../error`. For `out-of-range` and
   * `unknown-metric` only that metric is refused: the rest of the reading is kept.
   */
  expectedReason: RejectionReason;
}

/**
 * Builds one faulty message from the device's normal telemetry at `tMs`, so everything but the
 * injected fault is valid and the rejection can only be for that fault.
 */
export function buildFault(
  device: Device,
  kind: FaultKind,
  tMs: number,
  seq: number,
  ctx: ModelContext,
): FaultMessage {
  const contract: DeviceTypeContract = DEVICE_TYPE_CONTRACTS[device.type];
  const telemetryTopic = deviceTopic(device.domain, device.id, 'telemetry');
  const base = buildMessage(device, tMs, seq, ctx);
  // Telemetry even for a camera whose model picked an event this instant: faults are telemetry.
  const metrics =
    base.channel === 'telemetry' ? { ...base.body.metrics } : telemetryMetricsFallback(contract);
  const body = { ts: tMs, seq, metrics };
  switch (kind) {
    case 'out-of-range': {
      const numeric = [...contract.telemetry.required, ...contract.telemetry.optional].find((name) => {
        const definition = METRIC_CATALOGUE[name];
        return definition.kind === 'number' || definition.kind === 'integer';
      });
      if (numeric === undefined)
        throw new Error(`a ${device.type} has no numeric metric to push out of range`);
      const definition = METRIC_CATALOGUE[numeric];
      const tooBig = definition.kind === 'number' || definition.kind === 'integer' ? definition.max + 1 : 0;
      const payload = JSON.stringify({ ...body, metrics: { ...metrics, [numeric]: tooBig } });
      return { kind, topic: telemetryTopic, payload, expectedReason: 'out-of-range' };
    }
    case 'malformed-json':
      return {
        kind,
        topic: telemetryTopic,
        payload: JSON.stringify(body).slice(0, -2),
        expectedReason: 'malformed-json',
      };
    case 'unknown-metric':
      return {
        kind,
        topic: telemetryTopic,
        payload: JSON.stringify({ ...body, metrics: { ...metrics, notAMetric: 1 } }),
        expectedReason: 'schema-violation',
      };
    case 'empty-metrics':
      // Any non-empty subset of a type's metrics is a reading; an empty metrics object is not.
      return {
        kind,
        topic: telemetryTopic,
        payload: JSON.stringify({ ...body, metrics: {} }),
        expectedReason: 'schema-violation',
      };
    case 'timestamp-in-future':
      return {
        kind,
        topic: telemetryTopic,
        payload: JSON.stringify({ ...body, ts: tMs + 3_600_000 }),
        expectedReason: 'timestamp-in-future',
      };
    case 'wrong-domain': {
      const other = DOMAINS.find((domain) => domain !== device.domain) ?? device.domain;
      return {
        kind,
        topic: deviceTopic(other, device.id, 'telemetry'),
        payload: JSON.stringify(body),
        expectedReason: 'wrong-domain',
      };
    }
  }
}

/** Minimal valid-typed telemetry (each required metric at its range's lower bound or false). */
function telemetryMetricsFallback(contract: DeviceTypeContract): Record<string, number | boolean | string> {
  const metrics: Record<string, number | boolean | string> = {};
  for (const name of contract.telemetry.required) {
    const definition = METRIC_CATALOGUE[name];
    switch (definition.kind) {
      case 'number':
      case 'integer':
        metrics[name] = definition.min;
        break;
      case 'boolean':
        metrics[name] = true;
        break;
      case 'enum':
        metrics[name] = definition.values[0] ?? '';
        break;
      case 'text':
        metrics[name] = '';
        break;
    }
  }
  return metrics;
}
