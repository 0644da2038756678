import type { Device } from '@ioc/contracts';
import { localHour } from '../local-time';
import { gaussian, poisson, type Prng, prngFor } from '../prng';
import { clamp, metric } from './clamp';
import { type ModelContext, type ModelOutput, numberAttribute } from './model-types';
import { trafficFactor } from './profiles';
import { expectedFlowPerHour } from './traffic';

/** Per-report chances of the rare detections (a camera reports every few seconds to minutes). */
export const CAMERA_EVENT_CHANCE = { accident: 0.002, wrongWay: 0.004, crowd: 0.006 } as const;
/** Demand above which a traffic camera starts reporting congestion. */
export const CONGESTION_THRESHOLD = 0.75;

const VEHICLE_TYPES = [
  'motorcycle',
  'motorcycle',
  'motorcycle',
  'motorcycle',
  'car',
  'lorry',
  'bicycle',
] as const;

const lane = (device: Device, rng: Prng): number =>
  1 + Math.floor(rng() * clamp(Math.round(numberAttribute(device, 'lanes', 2)), 1, 16));

/**
 * A camera with on-board analytics. Each report is one message: usually a heartbeat (stream
 * health) or a vehicle count, congestion while demand is near its peak, and rarely an accident, a
 * wrong-way driver or a crowd (public-order cameras, mostly in the evening).
 */
export function camera(device: Device, tMs: number, ctx: ModelContext): ModelOutput {
  const rng = prngFor(ctx.seed, device.id, tMs);
  const publicOrder = device.attributes?.['purpose'] === 'public-order';
  const demand = trafficFactor(tMs);
  const h = localHour(tMs);
  const draw = rng();
  let threshold = CAMERA_EVENT_CHANCE.accident;
  if (!publicOrder && draw < threshold) {
    return {
      channel: 'event',
      event: 'accident',
      metrics: { confidence: metric('confidence', 0.6 + 0.39 * rng(), 2), lane: lane(device, rng) },
    };
  }
  threshold += CAMERA_EVENT_CHANCE.wrongWay;
  if (!publicOrder && draw < threshold) {
    const vehicleType = VEHICLE_TYPES[Math.floor(rng() * VEHICLE_TYPES.length)] ?? 'motorcycle';
    return {
      channel: 'event',
      event: 'wrongWay',
      metrics: {
        confidence: metric('confidence', 0.55 + 0.44 * rng(), 2),
        lane: lane(device, rng),
        vehicleType,
      },
    };
  }
  const evening = h >= 17 && h < 22 ? 3 : 1;
  threshold += CAMERA_EVENT_CHANCE.crowd * (publicOrder ? evening : 0);
  if (draw < threshold) {
    return {
      channel: 'event',
      event: 'crowd',
      metrics: {
        peopleCount: metric('peopleCount', 30 + 250 * rng() * evening),
        confidence: metric('confidence', 0.5 + 0.45 * rng(), 2),
      },
    };
  }
  if (
    !publicOrder &&
    demand > CONGESTION_THRESHOLD &&
    rng() < (0.6 * (demand - CONGESTION_THRESHOLD)) / (1 - CONGESTION_THRESHOLD)
  ) {
    return {
      channel: 'event',
      event: 'congestion',
      metrics: {
        congestionLevel: metric(
          'congestionLevel',
          0.5 + (demand - CONGESTION_THRESHOLD) * 2 + 0.05 * gaussian(rng),
          2,
        ),
        lane: lane(device, rng),
      },
    };
  }
  if (!publicOrder && rng() < 0.35) {
    const perLane =
      expectedFlowPerHour(device, tMs, ctx.seed) / Math.max(1, numberAttribute(device, 'lanes', 2));
    return {
      channel: 'event',
      event: 'vehicleCount',
      metrics: {
        count: metric('count', poisson(rng, (perLane * ctx.periodSeconds) / 3600)),
        lane: lane(device, rng),
      },
    };
  }
  // Night (IR) images compress worse, so the encoder spends more bits after dark.
  const night = h < 6 || h >= 18;
  const degraded = rng() < 0.01;
  return {
    channel: 'telemetry',
    metrics: {
      online: true,
      fps: metric('fps', degraded ? 8 + 6 * rng() : 25 + 0.3 * gaussian(rng), 1),
      bitrate: metric('bitrate', (night ? 4800 : 4000) * (degraded ? 0.4 : 1) + 200 * gaussian(rng), 0),
    },
  };
}
