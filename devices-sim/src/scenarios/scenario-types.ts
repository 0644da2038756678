import type { Area, Device } from '@ioc/contracts';
import type { ModelContext, ModelOutput } from '../models/model-types';

/** The seed data a scenario picks its devices from (what `loadSeeds` returns). */
export interface ScenarioSeeds {
  areas: readonly Area[];
  devices: readonly Device[];
}

/** A scenario's refusal: an unknown scenario or area, or an area without the devices it needs. */
export class ScenarioError extends Error {
  override readonly name = 'ScenarioError';
}

/** What a phase's `shape` is given for one report of one affected device. */
export interface ShapeInput {
  device: Device;
  /** The report's simulated timestamp (epoch ms). */
  tMs: number;
  /** Simulated start and end of the phase (epoch ms, end exclusive). */
  phaseStartMs: number;
  phaseEndMs: number;
  /** (tMs − start) / (end − start), 0 ≤ progress < 1. */
  progress: number;
  /** The device's simulated reporting interval (ms). */
  intervalMs: number;
  /** What the device's model says at `tMs`. */
  output: ModelOutput;
  ctx: ModelContext;
}

/** One phase of a scenario's timeline. */
export interface ScenarioPhaseDefinition {
  name: string;
  /** Simulated length, ms. */
  durationMs: number;
  /** What the phase does to the affected devices, for `--list-scenarios` and the README. */
  description: string;
  /**
   * The affected devices' MQTT connection during the phase: `down` drops it without a DISCONNECT
   * (the broker publishes the device's LWT) and the device reports nothing; `up` (default)
   * reconnects it if it was down.
   */
  connection?: 'up' | 'down';
  /** The values one report carries in this phase; without it, the model's. Pure in its input. */
  shape?: (input: ShapeInput) => ModelOutput;
}

/** Which devices a scenario affects, and where. */
export interface ScenarioTarget {
  /** The area whose subtree the devices were taken from. */
  areaId: string;
  /** What was chosen, in words (e.g. `3 air-quality stations in tay-ninh-city`). */
  label: string;
  devices: Device[];
}

/** A named scenario: data (phases, defaults, the rule it is for) and a device selection. */
export interface ScenarioDefinition {
  name: string;
  summary: string;
  /** The default alert rule it is meant to trigger (the rules ship in seeds/rules.json). */
  triggers: string;
  /** Simulated seconds per real second when `--time-scale` is not given. */
  defaultTimeScale: number;
  /**
   * Local (UTC+7) hour the timeline starts at (the latest such hour that lets the whole run end
   * by real "now"), for scenarios tied to a time of day; without it the timeline ends at "now".
   */
  localStartHour?: number;
  /** Start the timeline on a whole hour (hourly aggregates such as the VN_AQI see whole hours). */
  alignToHour?: boolean;
  phases: readonly ScenarioPhaseDefinition[];
  /**
   * Picks the affected devices from the seeds, within `areaId`'s subtree when given.
   * @throws ScenarioError when the area is unknown or holds none of the devices needed
   */
  select(seeds: ScenarioSeeds, areaId?: string): ScenarioTarget;
  /** Simulated reporting interval of a device, ms; default its type's `reportingIntervalSeconds`. */
  intervalMs?(device: Device): number;
}
