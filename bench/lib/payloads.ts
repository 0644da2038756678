import { type Device } from '@ioc/contracts';
import { buildMessage, createModelContext, selectDevices } from '@ioc/devices-sim';
import { loadSeeds } from '@ioc/registry';

/**
 * One pre-built message shape of one device: topic and everything of the JSON body after
 * `"seq":N`. The loader splices the current `ts` and `seq` in front, so each published payload
 * is exactly what the simulator's `buildMessage` produces (valid against the contracts), at the
 * cost of a string concatenation instead of a model evaluation per message.
 */
export interface MessageVariant {
  topic: Buffer;
  /** `,"metrics":{…}}` or `,"event":"…","metrics":{…}}` */
  rest: string;
  /** First metric name (what a store probe looks up). */
  firstMetric: string;
  /** Number of metrics (= points the embedded store writes for this reading). */
  metricCount: number;
}

export interface DeviceTemplate {
  device: Device;
  variants: MessageVariant[];
}

/**
 * Templates for the first `count` seeded devices (round-robin over domains and types, as the
 * simulator picks them), each with `variantsPerDevice` messages the simulator's models produced
 * at different times of a day, so the load mixes telemetry and camera events like a real fleet.
 * Devices in `excludeDeviceIds` are left out (the alert-latency probe publishes as its own device).
 * `seedsDir`: the seeds directory whose devices.json is the fleet (the platform's IOC_SEEDS_DIR;
 * default the repository's seeds/), e.g. the 10,000 generated devices of bench/console.ts.
 */
export function buildTemplates(
  count: number,
  variantsPerDevice = 8,
  seed = 1,
  excludeDeviceIds: readonly string[] = [],
  seedsDir?: string,
): DeviceTemplate[] {
  const fleet = (seedsDir === undefined ? loadSeeds() : loadSeeds(seedsDir)).devices;
  const excluded = new Set(excludeDeviceIds);
  const devices = selectDevices(
    fleet.filter((d) => !excluded.has(d.id)),
    count,
  );
  const ctx = createModelContext({ seed, periodSeconds: 60, fleet });
  const base = Date.UTC(2026, 2, 10, 0, 0); // a weekday in the dry season
  return devices.map((device) => ({
    device,
    variants: Array.from({ length: variantsPerDevice }, (_, k) => {
      // Spread over the day (peaks, nights), so lights, traffic and cameras vary.
      const message = buildMessage(device, base + k * 3 * 3_600_000 + 7 * 60_000, 0, ctx);
      const body = { ...message.body } as Record<string, unknown>;
      delete body['ts'];
      delete body['seq'];
      const metrics = Object.keys(message.body.metrics);
      return {
        topic: Buffer.from(message.topic),
        rest: `,${JSON.stringify(body).slice(1)}`,
        firstMetric: metrics[0] ?? '',
        metricCount: metrics.length,
      };
    }),
  }));
}
