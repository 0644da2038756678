import { type Device, type DeviceType, deviceTopic, type MetricValue } from '@ioc/contracts';
import { camera } from './camera';
import { airQuality, noise, waterQuality, weather } from './environment';
import { lightingCabinet, streetLight } from './lighting';
import type { ModelContext, ModelOutput } from './model-types';
import { trafficCounter, trafficSignal } from './traffic';

export type DeviceModel = (device: Device, tMs: number, ctx: ModelContext) => ModelOutput;

/** One value model per device type; the `satisfies` makes a new type in the contracts a compile error here. */
export const DEVICE_MODELS = {
  'air-quality-station': airQuality,
  'water-quality-station': waterQuality,
  'noise-meter': noise,
  'weather-station': weather,
  'traffic-counter': trafficCounter,
  'traffic-signal': trafficSignal,
  'street-light': streetLight,
  'lighting-cabinet': lightingCabinet,
  camera,
} as const satisfies Record<DeviceType, DeviceModel>;

/** What a device says at `tMs`: a pure function of (device, time, context seed). */
export function modelOutput(device: Device, tMs: number, ctx: ModelContext): ModelOutput {
  const model: DeviceModel = DEVICE_MODELS[device.type];
  return model(device, tMs, ctx);
}

export interface DevicePayload {
  ts: number;
  seq: number;
  event?: string;
  metrics: Record<string, MetricValue>;
}

export interface SimMessage {
  deviceId: string;
  channel: 'telemetry' | 'event';
  topic: string;
  body: DevicePayload;
  /** The JSON published. */
  payload: string;
}

/** The complete MQTT message a device publishes at `tMs` as its `seq`-th message. */
export function buildMessage(
  device: Device,
  tMs: number,
  seq: number,
  ctx: ModelContext,
  overrides?: Readonly<Record<string, MetricValue>>,
): SimMessage {
  return messageFromOutput(device, modelOutput(device, tMs, ctx), tMs, seq, overrides);
}

/**
 * The MQTT message carrying `output` (a model's, or a scenario's reshaping of it) as the
 * device's `seq`-th message stamped `tMs`; `overrides` replace telemetry metrics.
 */
export function messageFromOutput(
  device: Device,
  output: ModelOutput,
  tMs: number,
  seq: number,
  overrides?: Readonly<Record<string, MetricValue>>,
): SimMessage {
  const metrics =
    output.channel === 'telemetry' && overrides ? { ...output.metrics, ...overrides } : output.metrics;
  const body: DevicePayload = {
    ts: tMs,
    seq,
    ...(output.event === undefined ? {} : { event: output.event }),
    metrics,
  };
  return {
    deviceId: device.id,
    channel: output.channel,
    topic: deviceTopic(device.domain, device.id, output.channel),
    body,
    payload: JSON.stringify(body),
  };
}

export * from './model-types';
export { trafficFactor, wetSeason, sunFactor, sunTimes } from './profiles';
export { ambientWeather, type AmbientWeather } from './weather';
export {
  lampState,
  cabinetLamps,
  type LampState,
  LAMP_FAULT_PER_NIGHT,
  DEFAULT_DIM_LEVEL,
  CABINET_CONTROL_KW,
  CABLE_LOSS,
} from './lighting';
export { expectedFlowPerHour, SIGNAL_FAULT_PER_HOUR } from './traffic';
export { CAMERA_EVENT_CHANCE, CONGESTION_THRESHOLD } from './camera';
