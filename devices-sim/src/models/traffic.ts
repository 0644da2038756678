import type { Device } from '@ioc/contracts';
import { HOUR_MS, localHour } from '../local-time';
import { gaussian, poisson, prngFor, unitHash } from '../prng';
import { clamp, metric } from './clamp';
import { type ModelContext, type ModelOutput, numberAttribute } from './model-types';
import { trafficFactor } from './profiles';

/** Vehicles per hour per lane at the busiest moment; mixed traffic, mostly motorcycles. */
const PEAK_FLOW_PER_LANE = { urban: 900, highway: 1100 } as const;
const FREE_FLOW_SPEED_KMH = { urban: 40, highway: 60 } as const;

export type RoadClass = keyof typeof PEAK_FLOW_PER_LANE;

export function roadClassOf(device: Device): RoadClass {
  return device.attributes?.['roadClass'] === 'highway' ? 'highway' : 'urban';
}

/** Expected vehicles per hour at this counter now (before counting noise). */
export function expectedFlowPerHour(device: Device, tMs: number, seed: number): number {
  const roadClass = roadClassOf(device);
  const lanes = numberAttribute(device, 'lanes', 2);
  // Each site has its own size within ±30 %, stable for the whole run.
  const siteScale = 0.7 + 0.6 * unitHash(seed, device.id, 'site-scale');
  return PEAK_FLOW_PER_LANE[roadClass] * lanes * siteScale * trafficFactor(tMs);
}

/**
 * A flow counter: Poisson counts around the time-of-day demand, split by class — motorcycles
 * dominate, lorries take a larger share at night on highways — with speed falling and occupancy
 * rising as the road fills.
 */
export function trafficCounter(device: Device, tMs: number, ctx: ModelContext): ModelOutput {
  const rng = prngFor(ctx.seed, device.id, tMs);
  const roadClass = roadClassOf(device);
  const demand = trafficFactor(tMs);
  const intensity = metric(
    'intensity',
    poisson(rng, (expectedFlowPerHour(device, tMs, ctx.seed) * ctx.periodSeconds) / 3600),
  );
  const night = 1 - demand;
  const shares =
    roadClass === 'highway'
      ? { car: 0.2, bus: 0.03, lorry: 0.08 + 0.2 * night }
      : { car: 0.12, bus: 0.015, lorry: 0.03 + 0.05 * night };
  const split = (share: number) => Math.min(intensity, poisson(rng, intensity * share));
  const intensityCar = split(shares.car);
  const intensityBus = Math.min(intensity - intensityCar, split(shares.bus));
  const intensityLorry = Math.min(intensity - intensityCar - intensityBus, split(shares.lorry));
  const intensityMotorcycle = intensity - intensityCar - intensityBus - intensityLorry;
  const load = clamp((demand * (0.7 + 0.6 * unitHash(ctx.seed, device.id, 'site-scale'))) / 1.3, 0, 1);
  const metrics: ModelOutput['metrics'] = {
    intensity,
    intensityMotorcycle: metric('intensityMotorcycle', intensityMotorcycle),
    intensityCar: metric('intensityCar', intensityCar),
    intensityBus: metric('intensityBus', intensityBus),
    intensityLorry: metric('intensityLorry', intensityLorry),
    occupancy: metric('occupancy', 0.02 + 0.4 * load ** 1.5 + 0.01 * gaussian(rng), 3),
    periodSeconds: metric('periodSeconds', ctx.periodSeconds),
  };
  // With nothing counted there is no speed to average; the metric is optional for that reason.
  if (intensity > 0) {
    const speed = FREE_FLOW_SPEED_KMH[roadClass] * (1 - 0.6 * load ** 3) + 3 * gaussian(rng);
    metrics['averageVehicleSpeed'] = metric('averageVehicleSpeed', Math.max(3, speed), 1);
  }
  return { channel: 'telemetry', metrics };
}

/** Chance that a signal controller is in fault during any given hour (≈ once a fortnight). */
export const SIGNAL_FAULT_PER_HOUR = 0.003;

/**
 * A junction controller cycling through its stages (phase 1…n) on a fixed cycle with a per-site
 * offset; junctions configured for it flash amber late at night (phase 0), and rare faults drop the
 * controller into flashing mode.
 */
export function trafficSignal(device: Device, tMs: number, ctx: ModelContext): ModelOutput {
  const stages = clamp(Math.round(numberAttribute(device, 'stages', 2)), 1, 32);
  const cycleMs = Math.max(10, numberAttribute(device, 'cycleSeconds', 90)) * 1000;
  const fault = unitHash(ctx.seed, device.id, 'fault', Math.floor(tMs / HOUR_MS)) < SIGNAL_FAULT_PER_HOUR;
  const h = localHour(tMs);
  const nightFlashing = device.attributes?.['nightMode'] === 'flashing' && (h >= 23 || h < 5);
  if (fault || nightFlashing) {
    return { channel: 'telemetry', metrics: { phase: 0, signalMode: 'flashing', signalFault: fault } };
  }
  const offsetMs = unitHash(ctx.seed, device.id, 'offset') * cycleMs;
  const inCycle = (((tMs + offsetMs) % cycleMs) + cycleMs) % cycleMs;
  const phase = 1 + Math.floor((inCycle / cycleMs) * stages);
  const mode = device.attributes?.['controlMode'];
  const signalMode = mode === 'actuated' || mode === 'adaptive' || mode === 'manual' ? mode : 'fixedTime';
  return { channel: 'telemetry', metrics: { phase, signalMode, signalFault: false } };
}
