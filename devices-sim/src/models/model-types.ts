import type { Device, MetricValue } from '@ioc/contracts';

/** What one device says at one instant: telemetry, or one of its type's events. */
export interface ModelOutput {
  channel: 'telemetry' | 'event';
  /** Set when channel is `event`. */
  event?: string;
  metrics: Record<string, MetricValue>;
}

/** What the models need beyond (device, time): the run's seed and a little fleet knowledge. */
export interface ModelContext {
  seed: number;
  /** Seconds one report covers (count-like metrics: traffic intensity, rainfall). */
  periodSeconds: number;
  /** The street lights a cabinet feeds (by `attributes.cabinetId`). */
  lampsOf(cabinetId: string): readonly Device[];
  /** Memo of per-device facts derived from (device, seed); it never changes results, only speed. */
  readonly cache: Map<string, unknown>;
}

export interface ModelContextOptions {
  seed?: number;
  periodSeconds?: number;
  /** Every device known (e.g. all seeds), so cabinets find their lamps even if not simulated. */
  fleet?: readonly Device[];
}

export function createModelContext(options: ModelContextOptions = {}): ModelContext {
  const lamps = new Map<string, Device[]>();
  for (const device of options.fleet ?? []) {
    const cabinetId = device.type === 'street-light' ? device.attributes?.['cabinetId'] : undefined;
    if (!cabinetId) continue;
    const list = lamps.get(cabinetId) ?? [];
    list.push(device);
    lamps.set(cabinetId, list);
  }
  return {
    seed: options.seed ?? 1,
    periodSeconds: Math.min(3600, Math.max(1, Math.round(options.periodSeconds ?? 60))),
    lampsOf: (cabinetId) => lamps.get(cabinetId) ?? [],
    cache: new Map(),
  };
}

/** A numeric attribute from the seeds, or the fallback when absent or not a number. */
export function numberAttribute(device: Device, name: string, fallback: number): number {
  // Own properties only: an attribute map is a plain object, and `constructor` is not an attribute.
  const attributes = device.attributes;
  const raw = attributes !== undefined && Object.hasOwn(attributes, name) ? attributes[name] : undefined;
  const value = raw === undefined ? Number.NaN : Number(raw);
  return Number.isFinite(value) ? value : fallback;
}
