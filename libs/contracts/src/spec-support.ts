import {
  DEVICE_TYPE_CONTRACTS,
  DEVICE_TYPES,
  type DeviceType,
  type DeviceTypeContract,
  STATUS_METRICS,
} from './device-types';
import type { MetricName } from './metric-catalogue';
import type { DeviceChannel } from './topics';

/** What the specs of this library share: every kind of message, and a seeded PRNG. */

/** One kind of message a device type sends: telemetry, one camera event, or status. */
export interface MessageKind {
  label: string;
  type: DeviceType;
  channel: DeviceChannel;
  event?: string;
  required: readonly MetricName[];
  optional: readonly MetricName[];
}

const [STATUS_REQUIRED, ...STATUS_OPTIONAL] = STATUS_METRICS;

export const KINDS: MessageKind[] = DEVICE_TYPES.flatMap((type) => {
  const contract: DeviceTypeContract = DEVICE_TYPE_CONTRACTS[type];
  return [
    { label: `${type} telemetry`, type, channel: 'telemetry' as const, ...contract.telemetry },
    ...Object.entries(contract.events).map(([event, metrics]) => ({
      label: `${type} event ${event}`,
      type,
      channel: 'event' as const,
      event,
      ...metrics,
    })),
    {
      label: `${type} status`,
      type,
      channel: 'status' as const,
      required: [STATUS_REQUIRED],
      optional: STATUS_OPTIONAL,
    },
  ];
});

/**
 * mulberry32 for the specs of this library, seeded so a failure reproduces (contracts may not
 * import @ioc/runtime's copy).
 */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
