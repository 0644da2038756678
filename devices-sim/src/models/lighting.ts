import type { Device, MetricValue } from '@ioc/contracts';
import { DAY_MS, HOUR_MS, VIETNAM_UTC_OFFSET_MS } from '../local-time';
import { gaussian, prngFor, unitHash } from '../prng';
import { metric } from './clamp';
import { type ModelContext, type ModelOutput, numberAttribute } from './model-types';

/**
 * Lighting schedule, local time: on at dusk (18:00), dimmed from 22:00 to 04:30 when the streets
 * empty, full again for the early commute, off at dawn (05:45). Hours are counted from local noon so
 * one night is one unbroken window.
 */
const ON_FROM_NOON = 6; // 18:00
const DIM_FROM_NOON = 10; // 22:00
const UNDIM_FROM_NOON = 16.5; // 04:30
const OFF_FROM_NOON = 17.75; // 05:45
export const DEFAULT_DIM_LEVEL = 0.5;
/**
 * Faults come at most once per block of nights, on a random night of it, so the energy meter —
 * which must skip dark nights — can be recomputed from a handful of draws per block instead of
 * one per night since installation.
 */
const FAULT_BLOCK_NIGHTS = 32;
const FAULT_PER_BLOCK = 0.128;
/** Chance a lamp develops a fault on a given night (it lasts until the next noon's repair round). */
export const LAMP_FAULT_PER_NIGHT = FAULT_PER_BLOCK / FAULT_BLOCK_NIGHTS;
/** Cabinet overhead: control gear draw and cable losses. */
export const CABINET_CONTROL_KW = 0.02;
export const CABLE_LOSS = 0.03;
/** Counters start from this date, with a per-device history before it. */
const ENERGY_REFERENCE_MS = Date.UTC(2024, 0, 1);

const LAMP_FAULTS = ['defectiveLamp', 'brokenLantern', 'powerLoss', 'columnIssue'] as const;
type LampFault = (typeof LAMP_FAULTS)[number] | 'none';
/** Faults that leave the lamp dark; a column issue is structural and the lamp still lights. */
const DARK_FAULTS: ReadonlySet<LampFault> = new Set(['defectiveLamp', 'brokenLantern', 'powerLoss']);

/** Which noon-to-noon night a time belongs to, and how many hours into it. */
function nightWindow(tMs: number): { window: number; hoursFromNoon: number } {
  const shifted = tMs + VIETNAM_UTC_OFFSET_MS - 12 * HOUR_MS;
  const window = Math.floor(shifted / DAY_MS);
  return { window, hoursFromNoon: (shifted - window * DAY_MS) / HOUR_MS };
}

/** Photocells differ by a few minutes; lamps share their cabinet's, since the cabinet switches them. */
function switchOffsetHours(lamp: Device, seed: number): number {
  const key = lamp.attributes?.['cabinetId'] ?? lamp.id;
  return ((unitHash(seed, key, 'photocell') - 0.5) * 10) / 60;
}

/** The night of this block on which the lamp fails, if it fails in this block at all. */
function faultNightOfBlock(lampId: string, block: number, seed: number): number | undefined {
  if (unitHash(seed, lampId, 'fault', block) >= FAULT_PER_BLOCK) return undefined;
  return (
    block * FAULT_BLOCK_NIGHTS + Math.floor(unitHash(seed, lampId, 'fault-night', block) * FAULT_BLOCK_NIGHTS)
  );
}

function lampFault(lampId: string, window: number, seed: number): LampFault {
  if (faultNightOfBlock(lampId, Math.floor(window / FAULT_BLOCK_NIGHTS), seed) !== window) return 'none';
  return (
    LAMP_FAULTS[Math.floor(unitHash(seed, lampId, 'fault-kind', window) * LAMP_FAULTS.length)] ??
    'defectiveLamp'
  );
}

const isDarkNight = (lampId: string, window: number, seed: number): boolean =>
  DARK_FAULTS.has(lampFault(lampId, window, seed));

/** What never changes for a lamp within a run: its schedule, rating and metered history. */
interface LampProfile {
  watts: number;
  /** [start, end, level] segments of one night, hours from noon. */
  segments: readonly (readonly [number, number, number])[];
  fullNightKWh: number;
  /** Energy metered before the reference date (years of service, different for every lamp). */
  historyKWh: number;
  /** Dark-fault nights from the reference date up to the start of `block`, for the last block asked. */
  darkBefore?: { block: number; nights: number };
}

function energyOver(profile: Pick<LampProfile, 'watts' | 'segments'>, hoursFromNoon: number): number {
  let kWh = 0;
  for (const [start, end, level] of profile.segments) {
    kWh += (level * profile.watts * Math.max(0, Math.min(hoursFromNoon, end) - start)) / 1000;
  }
  return kWh;
}

/** Profiles are pure functions of (lamp, seed); the context caches them so hot paths skip the hashing. */
function profileOf(lamp: Device, ctx: ModelContext): LampProfile {
  const cached = ctx.cache.get(`lamp:${lamp.id}`) as LampProfile | undefined;
  if (cached) return cached;
  const watts = numberAttribute(lamp, 'lampWatts', 100);
  const offset = switchOffsetHours(lamp, ctx.seed);
  const dim = numberAttribute(lamp, 'dimLevel', DEFAULT_DIM_LEVEL);
  const segments = [
    [ON_FROM_NOON + offset, DIM_FROM_NOON, 1],
    [DIM_FROM_NOON, UNDIM_FROM_NOON, dim],
    [UNDIM_FROM_NOON, OFF_FROM_NOON + offset, 1],
  ] as const;
  const profile: LampProfile = {
    watts,
    segments,
    fullNightKWh: energyOver({ watts, segments }, 24),
    historyKWh: 1000 * unitHash(ctx.seed, lamp.id, 'energy-history') * (watts / 100),
  };
  ctx.cache.set(`lamp:${lamp.id}`, profile);
  return profile;
}

const REFERENCE_WINDOW = Math.floor((ENERGY_REFERENCE_MS + VIETNAM_UTC_OFFSET_MS - 12 * HOUR_MS) / DAY_MS);

/** Dark-fault nights in [REFERENCE_WINDOW, window): one draw per block of nights. */
function darkNightsBefore(lamp: Device, profile: LampProfile, window: number, seed: number): number {
  const block = Math.floor(window / FAULT_BLOCK_NIGHTS);
  if (profile.darkBefore?.block !== block) {
    let nights = 0;
    for (let b = Math.floor(REFERENCE_WINDOW / FAULT_BLOCK_NIGHTS); b < block; b += 1) {
      const night = faultNightOfBlock(lamp.id, b, seed);
      if (night !== undefined && night >= REFERENCE_WINDOW && isDarkNight(lamp.id, night, seed)) nights += 1;
    }
    profile.darkBefore = { block, nights };
  }
  const inBlock = faultNightOfBlock(lamp.id, block, seed);
  const current =
    inBlock !== undefined &&
    inBlock >= REFERENCE_WINDOW &&
    inBlock < window &&
    isDarkNight(lamp.id, inBlock, seed)
      ? 1
      : 0;
  return profile.darkBefore.nights + current;
}

export interface LampState {
  on: boolean;
  /** Output as a fraction of full, 0 when dark. */
  level: number;
  /** Nominal power (W), before measurement noise. */
  powerW: number;
  fault: LampFault;
  /** Cumulative energy (kWh). */
  energyKWh: number;
  /** Whether the schedule has the lamp on now (faults aside). */
  scheduled: boolean;
}

/**
 * A lamp's true state at an instant: schedule, dimming, faults and the energy meter, all
 * recomputable from (lamp, time, seed) so that its cabinet can add its lamps up exactly.
 */
export function lampState(lamp: Device, tMs: number, ctx: ModelContext): LampState {
  const { window, hoursFromNoon } = nightWindow(tMs);
  const profile = profileOf(lamp, ctx);
  const fault = lampFault(lamp.id, window, ctx.seed);
  const dark = DARK_FAULTS.has(fault);
  let scheduledLevel = 0;
  for (const [start, end, level] of profile.segments) {
    if (hoursFromNoon >= start && hoursFromNoon < end) scheduledLevel = level;
  }
  const level = dark ? 0 : scheduledLevel;
  const nights = Math.max(0, window - REFERENCE_WINDOW);
  const completeNightsKWh =
    nights === 0 ? 0 : (nights - darkNightsBefore(lamp, profile, window, ctx.seed)) * profile.fullNightKWh;
  const tonightKWh = dark || window < REFERENCE_WINDOW ? 0 : energyOver(profile, hoursFromNoon);
  return {
    on: level > 0,
    level,
    powerW: level * profile.watts,
    fault,
    energyKWh: profile.historyKWh + completeNightsKWh + tonightKWh,
    scheduled: scheduledLevel > 0,
  };
}

export function streetLight(device: Device, tMs: number, ctx: ModelContext): ModelOutput {
  const state = lampState(device, tMs, ctx);
  const rng = prngFor(ctx.seed, device.id, tMs);
  return {
    channel: 'telemetry',
    metrics: {
      on: state.on,
      illuminanceLevel: metric('illuminanceLevel', state.level, 2),
      activePower: metric('activePower', state.on ? state.powerW * (1 + 0.01 * gaussian(rng)) : 0, 1),
      energyConsumed: metric('energyConsumed', state.energyKWh, 3),
      lampFault: state.fault,
    },
  };
}

/** The lamps a cabinet feeds: from the fleet, or stand-ins from its `lampCount`/`lampWatts`. */
export function cabinetLamps(cabinet: Device, ctx: ModelContext): readonly Device[] {
  const known = ctx.lampsOf(cabinet.id);
  if (known.length > 0) return known;
  const key = `stand-ins:${cabinet.id}`;
  const cached = ctx.cache.get(key) as readonly Device[] | undefined;
  if (cached) return cached;
  const count = Math.max(0, Math.round(numberAttribute(cabinet, 'lampCount', 10)));
  const watts = String(numberAttribute(cabinet, 'lampWatts', 100));
  const standIns = Array.from({ length: count }, (_, i) => ({
    ...cabinet,
    id: `${cabinet.id}.lamp-${i + 1}`,
    type: 'street-light' as const,
    domain: 'lighting' as const,
    attributes: { cabinetId: cabinet.id, lampWatts: watts },
  }));
  ctx.cache.set(key, standIns);
  return standIns;
}

/**
 * A control cabinet meters what its lamps draw (plus cable losses and its own control gear):
 * power and energy are the sums of its lamps' true states at the same instant.
 */
export function lightingCabinet(device: Device, tMs: number, ctx: ModelContext): ModelOutput {
  const rng = prngFor(ctx.seed, device.id, tMs);
  const lamps = cabinetLamps(device, ctx);
  let lampsKW = 0;
  let lampsKWh = 0;
  let scheduledOn = false;
  for (const lamp of lamps) {
    const state = lampState(lamp, tMs, ctx);
    lampsKW += state.powerW / 1000;
    lampsKWh += state.energyKWh;
    scheduledOn ||= state.scheduled;
  }
  const hoursSinceReference = Math.max(0, (tMs - ENERGY_REFERENCE_MS) / HOUR_MS);
  const powerKW = lampsKW * (1 + CABLE_LOSS) + CABINET_CONTROL_KW;
  const energyKWh = lampsKWh * (1 + CABLE_LOSS) + CABINET_CONTROL_KW * hoursSinceReference;
  const circuits = Math.max(1, Math.round(numberAttribute(device, 'circuits', 2)));
  const loadFraction = Math.min(1, lampsKW / 10);
  // Vietnam's low-voltage grid is 220/380 V; a loaded feeder sags a few volts.
  const voltage = (phase: 'voltageL1' | 'voltageL2' | 'voltageL3'): MetricValue =>
    metric(phase, 226 - 4 * loadFraction + 2 * gaussian(prngFor(ctx.seed, device.id, tMs, phase)), 1);
  return {
    channel: 'telemetry',
    metrics: {
      cabinetActivePower: metric('cabinetActivePower', powerKW * (1 + 0.003 * gaussian(rng)), 3),
      cabinetEnergyConsumed: metric('cabinetEnergyConsumed', energyKWh, 2),
      voltageL1: voltage('voltageL1'),
      voltageL2: voltage('voltageL2'),
      voltageL3: voltage('voltageL3'),
      // LED drivers correct their power factor; the idle control gear alone does not.
      powerFactor: metric(
        'powerFactor',
        lampsKW > 0 ? 0.95 + 0.015 * gaussian(rng) : 0.55 + 0.03 * gaussian(rng),
        3,
      ),
      circuitsOn: scheduledOn ? circuits : 0,
      doorOpen: unitHash(ctx.seed, device.id, 'door', Math.floor(tMs / HOUR_MS)) < 0.002,
    },
  };
}
