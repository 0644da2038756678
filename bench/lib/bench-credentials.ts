import { createHash } from 'node:crypto';
import { DeviceRegistry, loadSeeds } from '@ioc/registry';

/**
 * The credential key of the benchmark brokers (32 bytes, fixed): benchmarks only, never a
 * deployment's. With it and benchDeviceSecret, the broker process and the load generator agree
 * on every device's secret without exchanging a file.
 */
export const BENCH_CREDENTIAL_KEY = Buffer.alloc(32, 0x42);

/** A device's benchmark secret: `iocds_` + 43 base64url characters derived from its id (not random). */
export function benchDeviceSecret(deviceId: string): string {
  return `iocds_${createHash('sha256').update(`ioc-bench:${deviceId}`).digest('base64url')}`;
}

/** Id of the i-th synthetic device (0-based) of the reconnect-storm benchmark. */
export function syntheticDeviceId(index: number): string {
  return `storm-${String(index + 1).padStart(6, '0')}`;
}

/**
 * A registry of the seeded areas and `count` synthetic air-quality stations (`storm-000001`, …)
 * placed like the first seeded station, or the seeds as they are when `count` is 0: the fleet of
 * the reconnect-storm benchmark, which needs more devices (10,000) than the seeds hold (304).
 */
export function benchRegistry(count: number): DeviceRegistry {
  const seeds = loadSeeds();
  if (count === 0) return new DeviceRegistry(seeds);
  const template = seeds.devices.find((d) => d.type === 'air-quality-station');
  if (!template) throw new Error('no air-quality-station in the seeds');
  const devices = Array.from({ length: count }, (_, i) => ({
    ...template,
    id: syntheticDeviceId(i),
    name: `Storm device ${i + 1}`,
  }));
  return new DeviceRegistry({ areas: seeds.areas, devices });
}
