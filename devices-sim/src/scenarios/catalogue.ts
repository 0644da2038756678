import type { Device, DeviceType, MetricValue } from '@ioc/contracts';
import { HOUR_MS } from '../local-time';
import { lightingCabinet, lampState } from '../models/lighting';
import type { ModelOutput } from '../models/model-types';
import { gaussian, prngFor, smoothNoise, unitHash } from '../prng';
import { metric } from '../models/clamp';
import {
  type ScenarioDefinition,
  ScenarioError,
  type ScenarioSeeds,
  type ScenarioTarget,
  type ShapeInput,
} from './scenario-types';

const MINUTE_MS = 60_000;

/** The area and every area below it. */
export function areaSubtree(seeds: ScenarioSeeds, rootId: string): Set<string> {
  const ids = new Set([rootId]);
  // Seeds list parents before children (validateSeeds checks the tree), but do not rely on it.
  let grew = true;
  while (grew) {
    grew = false;
    for (const area of seeds.areas) {
      if (area.parentId !== null && ids.has(area.parentId) && !ids.has(area.id)) {
        ids.add(area.id);
        grew = true;
      }
    }
  }
  return ids;
}

/**
 * The devices matching `accept` in `areaId`'s subtree, or — without an area — in the district
 * holding most of them (the first in the seeds on a tie). Sorted by id, so a seed always picks
 * the same ones.
 * @throws ScenarioError for an unknown area or one holding none of them (naming the areas that do)
 */
export function devicesInArea(
  seeds: ScenarioSeeds,
  accept: (device: Device) => boolean,
  what: string,
  areaId?: string,
): { areaId: string; devices: Device[] } {
  const candidates = seeds.devices.filter(accept);
  const under = (id: string): Device[] => {
    const subtree = areaSubtree(seeds, id);
    return candidates.filter((device) => subtree.has(device.areaId)).sort((a, b) => a.id.localeCompare(b.id));
  };
  const districts = seeds.areas.filter((area) => area.level === 'district');
  if (areaId !== undefined) {
    if (!seeds.areas.some((area) => area.id === areaId)) throw new ScenarioError(`unknown area "${areaId}"`);
    const devices = under(areaId);
    if (devices.length === 0) {
      const having = districts.filter((district) => under(district.id).length > 0).map((d) => d.id);
      throw new ScenarioError(
        `area "${areaId}" has no ${what}; districts that have: ${having.join(', ') || 'none'}`,
      );
    }
    return { areaId, devices };
  }
  let best: { areaId: string; devices: Device[] } | undefined;
  for (const district of districts) {
    const devices = under(district.id);
    if (devices.length > (best?.devices.length ?? 0)) best = { areaId: district.id, devices };
  }
  if (!best) throw new ScenarioError(`the seeds have no ${what}`);
  return best;
}

const ofType =
  (type: DeviceType) =>
  (device: Device): boolean =>
    device.type === type;
const trafficCamera = (device: Device): boolean =>
  device.type === 'camera' && device.attributes?.['purpose'] !== 'public-order';

/** The model's output with these metrics replaced (telemetry). */
const withMetrics = (output: ModelOutput, metrics: Record<string, MetricValue>): ModelOutput => ({
  channel: 'telemetry',
  metrics: { ...output.metrics, ...metrics },
});

// ---------------------------------------------------------------------------------------------
// pollution-episode

/**
 * Clean air: PM2.5 = 6 + 0.3 × the model's value. The model peaks near 75 µg/m³ (a roadside
 * station at the evening rush in the dry season), so clean air stays below ≈ 29 µg/m³ — under
 * the 50.1 µg/m³ where VN_AQI "Kém/poor" begins (Decision 1459/QĐ-TCMT, PM2.5 breakpoint 50).
 */
function cleanAir({ output, device, tMs, ctx }: ShapeInput): ModelOutput {
  if (output.channel !== 'telemetry') return output;
  const pm25 = 6 + 0.3 * Number(output.metrics['pm25'] ?? 20);
  const ratio = 1.6 + 0.2 * smoothNoise(ctx.seed, `${device.id}:scenario-pm10`, tMs, 8 * HOUR_MS);
  return withMetrics(output, { pm25: metric('pm25', pm25, 1), pm10: metric('pm10', pm25 * ratio, 1) });
}

/**
 * Each station's episode peak, PM2.5 110–140 µg/m³: VN_AQI 184–199 "Xấu/bad" once the NowCast
 * has caught up (PM2.5 breakpoints 80 → 150 for AQI 151 → 200, Decision 1459/QĐ-TCMT), passing
 * through "Kém/poor" (50–80 µg/m³, AQI 101–150) on the way up.
 */
export const episodePeakPm25 = (seed: number, deviceId: string): number =>
  110 + 30 * unitHash(seed, deviceId, 'scenario-peak');

function pollutedAir(input: ShapeInput, fraction: number): ModelOutput {
  const { output, device, tMs, ctx } = input;
  if (output.channel !== 'telemetry') return output;
  const clean = cleanAir(input).metrics;
  const rng = prngFor(ctx.seed, device.id, tMs, 'scenario');
  const peak =
    episodePeakPm25(ctx.seed, device.id) *
      (1 + 0.08 * smoothNoise(ctx.seed, `${device.id}:episode`, tMs, HOUR_MS)) +
    1.5 * gaussian(rng);
  const pm25 = Number(clean['pm25']) + (peak - Number(clean['pm25'])) * fraction;
  // Combustion smoke: more fine particles in PM10 than road dust has; NO₂ and CO rise with it.
  const no2 = Number(output.metrics['no2'] ?? 30) * (1 + 0.8 * fraction) + 20 * fraction;
  const co = Number(output.metrics['co'] ?? 1000) * (1 + 0.6 * fraction) + 500 * fraction;
  return withMetrics(output, {
    pm25: metric('pm25', pm25, 1),
    pm10: metric('pm10', pm25 * (1.45 + 0.1 * rng()), 1),
    no2: metric('no2', no2, 1),
    co: metric('co', co, 0),
  });
}

const pollutionEpisode: ScenarioDefinition = {
  name: 'pollution-episode',
  summary:
    'PM2.5/PM10 (and NO₂, CO) rise over one district’s air-quality stations, hold, then clear: the hourly VN_AQI goes from good to "Kém/poor" and "Xấu/bad", then back to good',
  triggers: 'hourly VN_AQI ≥ 101 ("Kém/poor" and worse) per station; resolves when it falls back',
  defaultTimeScale: 720,
  alignToHour: true,
  phases: [
    {
      name: 'warm-up',
      durationMs: 3 * HOUR_MS,
      description:
        'clean air (PM2.5 ≈ 10–29 µg/m³): 3 whole hours, so the NowCast has its 2 of the last 3 hours',
      shape: cleanAir,
    },
    {
      name: 'rising',
      durationMs: HOUR_MS,
      description: 'PM2.5 climbs linearly from clean to the station’s peak (110–140 µg/m³)',
      shape: (input) => pollutedAir(input, input.progress),
    },
    {
      name: 'episode',
      durationMs: 3 * HOUR_MS,
      description: 'PM2.5 holds at the peak (±8 %), PM10 ≈ 1.5 × PM2.5, NO₂ ×1.8, CO ×1.6',
      shape: (input) => pollutedAir(input, 1),
    },
    {
      name: 'clearing',
      durationMs: 5 * HOUR_MS,
      description:
        'clean air again (rain or wind): after 4 clean hours the 12-hour NowCast is below 50 µg/m³, so the hourly AQI is back under 101',
      shape: cleanAir,
    },
  ],
  select: (seeds, areaId) => {
    const { areaId: area, devices } = devicesInArea(
      seeds,
      ofType('air-quality-station'),
      'air-quality station',
      areaId,
    );
    return { areaId: area, devices, label: `${devices.length} air-quality station(s) in ${area}` };
  },
};

// ---------------------------------------------------------------------------------------------
// noisy-night

/** QCVN 26:2010/BTNMT, normal area, 21:00–06:00: LAeq 55 dBA. */
export const NIGHT_NOISE_LIMIT_DBA = 55;

function quietNight({ output, device, tMs, ctx }: ShapeInput): ModelOutput {
  const rng = prngFor(ctx.seed, device.id, tMs, 'scenario');
  const laeq =
    48.5 + 1.5 * smoothNoise(ctx.seed, `${device.id}:quiet`, tMs, 20 * MINUTE_MS) + 0.5 * gaussian(rng);
  return withMetrics(output, {
    laeq: metric('laeq', laeq, 1),
    lamax: metric('lamax', laeq + 8 + 10 * rng(), 1),
  });
}

function loudNight({ output, device, tMs, ctx }: ShapeInput): ModelOutput {
  const rng = prngFor(ctx.seed, device.id, tMs, 'scenario');
  // Karaoke and a building site working through the night: 61–67 dBA, far above the 55 limit.
  const laeq = 64 + 3 * smoothNoise(ctx.seed, `${device.id}:loud`, tMs, 20 * MINUTE_MS) + gaussian(rng);
  return withMetrics(output, {
    laeq: metric('laeq', laeq, 1),
    lamax: metric('lamax', laeq + 10 + 12 * rng(), 1),
  });
}

/**
 * A noise meter in a normal zone (device attribute `noiseZone: "normal"`, as the default QCVN 26
 * rules match it). The scenario's values are shaped for the normal area's night limit (55 dBA): a
 * special zone's (45 dBA, hospitals and schools) is already broken by its quiet phase (47–50 dBA).
 */
const normalZoneNoiseMeter = (device: Device): boolean =>
  device.type === 'noise-meter' && device.attributes?.['noiseZone'] === 'normal';

const noisyNight: ScenarioDefinition = {
  name: 'noisy-night',
  summary: `noise meters in one area report LAeq above the night limit (QCVN 26:2010/BTNMT: ${NIGHT_NOISE_LIMIT_DBA} dBA, 21:00–06:00) for 2 hours, then calm down`,
  triggers: `QCVN 26 night noise: LAeq above ${NIGHT_NOISE_LIMIT_DBA} dBA (normal area) between 21:00 and 06:00 local`,
  defaultTimeScale: 180,
  localStartHour: 22,
  phases: [
    {
      name: 'quiet',
      durationMs: 30 * MINUTE_MS,
      description: 'LAeq ≈ 47–50 dBA, under the night limit',
      shape: quietNight,
    },
    {
      name: 'noisy',
      durationMs: 2 * HOUR_MS,
      description: 'LAeq ≈ 61–67 dBA (22:30–00:30 local)',
      shape: loudNight,
    },
    {
      name: 'calm',
      durationMs: HOUR_MS,
      description: 'LAeq ≈ 47–50 dBA again',
      shape: quietNight,
    },
  ],
  select: (seeds, areaId) => {
    const { areaId: area, devices } = devicesInArea(
      seeds,
      normalZoneNoiseMeter,
      'normal-zone noise meter',
      areaId,
    );
    return { areaId: area, devices, label: `${devices.length} normal-zone noise meter(s) in ${area}` };
  },
};

// ---------------------------------------------------------------------------------------------
// cabinet-fault

function cabinetDown({ output, device, phaseStartMs, ctx }: ShapeInput): ModelOutput {
  if (device.type === 'lighting-cabinet') {
    // The supply is lost (a cut cable, the door forced): no voltage, no power, the meter stands still.
    const frozen = lightingCabinet(device, phaseStartMs, ctx).metrics['cabinetEnergyConsumed'];
    const { powerFactor: _pf, ...rest } = output.metrics;
    return {
      channel: 'telemetry',
      metrics: {
        ...rest,
        cabinetActivePower: 0,
        ...(frozen === undefined ? {} : { cabinetEnergyConsumed: frozen }),
        voltageL1: 0,
        voltageL2: 0,
        voltageL3: 0,
        circuitsOn: 0,
        doorOpen: true,
      },
    };
  }
  const frozen = lampState(device, phaseStartMs, ctx).energyKWh;
  return withMetrics(output, {
    on: false,
    illuminanceLevel: 0,
    activePower: 0,
    energyConsumed: metric('energyConsumed', frozen, 3),
    lampFault: 'powerLoss',
  });
}

const cabinetFault: ScenarioDefinition = {
  name: 'cabinet-fault',
  summary:
    'one lighting cabinet loses its supply at night (power 0, voltages 0, door open); its street lights report lampFault "powerLoss" and on:false; then it recovers',
  triggers:
    'cabinet fault (cabinetActivePower 0 / doorOpen while scheduled on) and street-light fault (lampFault ≠ none)',
  defaultTimeScale: 120,
  localStartHour: 20,
  phases: [
    { name: 'normal', durationMs: 30 * MINUTE_MS, description: 'lit by the schedule (the model)' },
    {
      name: 'fault',
      durationMs: HOUR_MS,
      description:
        'cabinet: cabinetActivePower 0, voltageL1–3 0, circuitsOn 0, doorOpen true; lamps: on false, lampFault powerLoss, activePower 0',
      shape: cabinetDown,
    },
    { name: 'recovered', durationMs: 30 * MINUTE_MS, description: 'supply back: the model again' },
  ],
  // Cabinet meters report every 5 min, lamp controllers every 15 min (device-types); the same here.
  select: (seeds, areaId) => {
    const lampsOf = (cabinetId: string): Device[] =>
      seeds.devices
        .filter((d) => d.type === 'street-light' && d.attributes?.['cabinetId'] === cabinetId)
        .sort((a, b) => a.id.localeCompare(b.id));
    const { areaId: area, devices: cabinets } = devicesInArea(
      seeds,
      (d) => d.type === 'lighting-cabinet' && lampsOf(d.id).length > 0,
      'lighting cabinet feeding street lights',
      areaId,
    );
    // The cabinet feeding the most lamps (the first by id on a tie).
    const cabinet = cabinets.reduce((best, c) => (lampsOf(c.id).length > lampsOf(best.id).length ? c : best));
    const lamps = lampsOf(cabinet.id);
    return {
      areaId: area,
      devices: [cabinet, ...lamps],
      label: `cabinet ${cabinet.id} and its ${lamps.length} street lights in ${area}`,
    };
  },
};

// ---------------------------------------------------------------------------------------------
// rush-hour-congestion

/** The speed floor the congestion rule uses (km/h): the scenario stays well below it. */
export const CONGESTION_SPEED_FLOOR_KMH = 10;

function jammed({ output, device, tMs, ctx }: ShapeInput): ModelOutput {
  const rng = prngFor(ctx.seed, device.id, tMs, 'scenario');
  const slow = smoothNoise(ctx.seed, `${device.id}:jam`, tMs, 15 * MINUTE_MS);
  // Stop-and-go: 4.5–9 km/h, the detector occupied most of the time, throughput down by half.
  const speed = Math.min(9, Math.max(4.5, 6.5 + 1.5 * slow + 0.4 * gaussian(rng)));
  const scaled = (name: string): number => Math.round(Number(output.metrics[name] ?? 0) * 0.55);
  const intensity = Math.max(1, scaled('intensity'));
  const car = Math.min(intensity, scaled('intensityCar'));
  const bus = Math.min(intensity - car, scaled('intensityBus'));
  const lorry = Math.min(intensity - car - bus, scaled('intensityLorry'));
  return withMetrics(output, {
    intensity,
    intensityMotorcycle: intensity - car - bus - lorry,
    intensityCar: car,
    intensityBus: bus,
    intensityLorry: lorry,
    averageVehicleSpeed: metric('averageVehicleSpeed', speed, 1),
    occupancy: metric('occupancy', 0.72 + 0.1 * slow + 0.02 * gaussian(rng), 3),
  });
}

const rushHourCongestion: ScenarioDefinition = {
  name: 'rush-hour-congestion',
  summary: `traffic counters on one road report averageVehicleSpeed below ${CONGESTION_SPEED_FLOOR_KMH} km/h with occupancy ≈ 0.7–0.8 for 90 minutes of the evening rush, then recover`,
  triggers: `congestion: mean averageVehicleSpeed below ${CONGESTION_SPEED_FLOOR_KMH} km/h for N minutes`,
  defaultTimeScale: 180,
  localStartHour: 16,
  phases: [
    { name: 'building', durationMs: 30 * MINUTE_MS, description: 'traffic builds (the model: ≥ 16 km/h)' },
    {
      name: 'congested',
      durationMs: 90 * MINUTE_MS,
      description:
        'averageVehicleSpeed 4.5–9 km/h, occupancy ≈ 0.7–0.8, flow down by 45 % (16:30–18:00 local)',
      shape: jammed,
    },
    { name: 'recovery', durationMs: HOUR_MS, description: 'the jam clears (the model again)' },
  ],
  select: (seeds, areaId) => {
    const { areaId: area, devices } = devicesInArea(
      seeds,
      ofType('traffic-counter'),
      'traffic counter',
      areaId,
    );
    // One road section: the road with most counters in the area (first by name on a tie).
    const byRoad = new Map<string, Device[]>();
    for (const device of devices) {
      const road = device.attributes?.['road'] ?? device.id;
      byRoad.set(road, [...(byRoad.get(road) ?? []), device]);
    }
    const [road, counters] = [...byRoad.entries()].sort(
      (a, b) => b[1].length - a[1].length || a[0].localeCompare(b[0]),
    )[0] as [string, Device[]];
    return {
      areaId: area,
      devices: counters,
      label: `${counters.length} traffic counter(s) on ${road} in ${area}`,
    };
  },
};

// ---------------------------------------------------------------------------------------------
// camera-offline, camera-incident

/** A camera's model output without the rare random accident / wrong-way detections. */
function noRandomIncidents({ output, device, tMs, ctx }: ShapeInput): ModelOutput {
  if (output.channel === 'event' && (output.event === 'accident' || output.event === 'wrongWay')) {
    const rng = prngFor(ctx.seed, device.id, tMs, 'scenario');
    return {
      channel: 'telemetry',
      metrics: {
        online: true,
        fps: metric('fps', 25 + 0.3 * gaussian(rng), 1),
        bitrate: metric('bitrate', 4000 + 200 * gaussian(rng), 0),
      },
    };
  }
  return output;
}

function pickCamera(seeds: ScenarioSeeds, areaId: string | undefined): ScenarioTarget {
  const { areaId: area, devices } = devicesInArea(seeds, trafficCamera, 'traffic camera', areaId);
  const camera = devices[0] as Device;
  return { areaId: area, devices: [camera], label: `camera ${camera.id} in ${area}` };
}

const cameraOffline: ScenarioDefinition = {
  name: 'camera-offline',
  summary:
    'one camera drops its connection without a DISCONNECT (the broker publishes its LWT: offline), stays silent for 4 minutes, then reconnects',
  triggers: 'camera offline (status online:false, or no data for longer than its silence timeout, 180 s)',
  // Offline is detected on the broker's clock (LWT, silence timeout), so real time by default.
  defaultTimeScale: 1,
  phases: [
    {
      name: 'online',
      durationMs: 2 * MINUTE_MS,
      description: 'heartbeats as usual',
      shape: noRandomIncidents,
    },
    {
      name: 'offline',
      durationMs: 4 * MINUTE_MS,
      description: 'connection dropped without DISCONNECT: LWT {"metrics":{"online":false}}, nothing sent',
      connection: 'down',
    },
    {
      name: 'back-online',
      durationMs: 2 * MINUTE_MS,
      description: 'reconnects: retained online status, heartbeats again',
      shape: noRandomIncidents,
    },
  ],
  select: pickCamera,
};

function incident(input: ShapeInput): ModelOutput {
  const { device, tMs, phaseStartMs, intervalMs, ctx } = input;
  const rng = prngFor(ctx.seed, device.id, tMs, 'scenario');
  const lane = 1 + Math.floor(rng() * Math.max(1, Number(device.attributes?.['lanes'] ?? 2)));
  const since = tMs - phaseStartMs;
  if (since < intervalMs) {
    return {
      channel: 'event',
      event: 'accident',
      metrics: { confidence: metric('confidence', 0.9 + 0.09 * rng(), 2), lane },
    };
  }
  if (since >= MINUTE_MS && since < MINUTE_MS + intervalMs) {
    return {
      channel: 'event',
      event: 'wrongWay',
      metrics: { confidence: metric('confidence', 0.85 + 0.14 * rng(), 2), lane, vehicleType: 'motorcycle' },
    };
  }
  return noRandomIncidents(input);
}

const cameraIncident: ScenarioDefinition = {
  name: 'camera-incident',
  summary: 'one traffic camera reports an accident, and a minute later a wrong-way motorcycle',
  triggers: 'camera accident and camera wrong-way (event rules)',
  defaultTimeScale: 10,
  phases: [
    {
      name: 'normal',
      durationMs: 2 * MINUTE_MS,
      description: 'heartbeats and counts, no random incident',
      shape: noRandomIncidents,
    },
    {
      name: 'incident',
      durationMs: 3 * MINUTE_MS,
      description: 'an accident event at the first report, a wrongWay event one minute later',
      shape: incident,
    },
    { name: 'after', durationMs: 2 * MINUTE_MS, description: 'back to normal', shape: noRandomIncidents },
  ],
  select: pickCamera,
};

/** Every named scenario, by name. */
export const SCENARIOS: Readonly<Record<string, ScenarioDefinition>> = Object.freeze(
  Object.fromEntries(
    [pollutionEpisode, noisyNight, cabinetFault, rushHourCongestion, cameraOffline, cameraIncident].map(
      (s) => [s.name, s],
    ),
  ),
);

/** The names, in catalogue order. */
export const SCENARIO_NAMES: readonly string[] = Object.keys(SCENARIOS);

/**
 * The scenario called `name`.
 * @throws ScenarioError naming the known scenarios
 */
export function scenarioByName(name: string): ScenarioDefinition {
  const scenario = Object.hasOwn(SCENARIOS, name) ? SCENARIOS[name] : undefined;
  if (!scenario) throw new ScenarioError(`unknown scenario "${name}"; known: ${SCENARIO_NAMES.join(', ')}`);
  return scenario;
}
