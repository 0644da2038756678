import { type Device, DEVICE_TYPE_CONTRACTS } from '@ioc/contracts';
import { DAY_MS, HOUR_MS, VIETNAM_UTC_OFFSET_MS } from '../local-time';
import { modelOutput } from '../models';
import { createModelContext, type ModelContext, type ModelOutput } from '../models/model-types';
import { unitHash } from '../prng';
import { scenarioByName } from './catalogue';
import {
  type ScenarioDefinition,
  ScenarioError,
  type ScenarioPhaseDefinition,
  type ScenarioSeeds,
  type ScenarioTarget,
} from './scenario-types';

/** A phase placed on the simulated clock. */
export interface PlannedPhase {
  name: string;
  description: string;
  /** Simulated start and end (epoch ms, end exclusive). */
  startMs: number;
  endMs: number;
  connection: 'up' | 'down';
  definition: ScenarioPhaseDefinition;
}

/** When one affected device reports: `firstMs`, then every `intervalMs`, until the plan ends. */
export interface DeviceSchedule {
  device: Device;
  intervalMs: number;
  firstMs: number;
}

/** A scenario resolved against the seeds and placed on a simulated clock. Pure data. */
export interface ScenarioPlan {
  scenario: ScenarioDefinition;
  target: ScenarioTarget;
  /** Simulated seconds per real second. */
  timeScale: number;
  seed: number;
  /** Simulated start and end of the timeline (epoch ms). */
  startMs: number;
  endMs: number;
  /** Real time the timeline takes, ms: (end − start) ÷ timeScale. */
  realDurationMs: number;
  phases: PlannedPhase[];
  /** One entry per affected device, in the target's order. */
  schedules: DeviceSchedule[];
}

export interface PlanOptions {
  /** Area whose subtree the devices come from (default: the scenario's choice, e.g. a district). */
  areaId?: string;
  /** Simulated seconds per real second (default: the scenario's `defaultTimeScale`). */
  timeScale?: number;
  /** Seed of every random draw (default 1). */
  seed?: number;
  /** The real time the run starts at (epoch ms; default `Date.now()`). */
  now?: number;
}

/**
 * Resolves a scenario (by name or definition) against the seeds and places its timeline on a
 * simulated clock running `timeScale` times real time, such that a run starting at real `now`
 * ends by real "now" at the latest — it never stamps a reading in the future (the broker refuses
 * timestamps more than IOC_MAX_CLOCK_SKEW_MS ahead). The timeline ends at `now`; starts on a
 * whole hour with `alignToHour`; or starts at the latest local `localStartHour` (UTC+7) that fits.
 * @throws ScenarioError for an unknown scenario or area, an area without the devices needed, or a
 *   time scale that is not a positive number
 */
export function planScenario(
  scenario: string | ScenarioDefinition,
  seeds: ScenarioSeeds,
  options: PlanOptions = {},
): ScenarioPlan {
  const definition = typeof scenario === 'string' ? scenarioByName(scenario) : scenario;
  const timeScale = options.timeScale ?? definition.defaultTimeScale;
  if (!(Number.isFinite(timeScale) && timeScale > 0))
    throw new ScenarioError(`the time scale must be a positive number, got ${timeScale}`);
  const seed = options.seed ?? 1;
  const now = options.now ?? Date.now();
  const target = definition.select(seeds, options.areaId);
  const lengthMs = definition.phases.reduce((sum, phase) => sum + phase.durationMs, 0);
  const realDurationMs = lengthMs / timeScale;
  // sim(t) = start + (t − now)·K stays ≤ t while t ≤ now + length/K iff start ≤ now − length + length/K.
  const latestStart = now - lengthMs + Math.floor(realDurationMs);
  let startMs: number;
  if (definition.localStartHour !== undefined) {
    const local = latestStart + VIETNAM_UTC_OFFSET_MS;
    startMs =
      Math.floor(local / DAY_MS) * DAY_MS + definition.localStartHour * HOUR_MS - VIETNAM_UTC_OFFSET_MS;
    if (startMs > latestStart) startMs -= DAY_MS;
  } else if (definition.alignToHour === true) {
    startMs = Math.floor(latestStart / HOUR_MS) * HOUR_MS;
  } else {
    startMs = Math.floor(latestStart / 1000) * 1000;
  }
  const phases: PlannedPhase[] = [];
  let at = startMs;
  for (const phase of definition.phases) {
    phases.push({
      name: phase.name,
      description: phase.description,
      startMs: at,
      endMs: at + phase.durationMs,
      connection: phase.connection ?? 'up',
      definition: phase,
    });
    at += phase.durationMs;
  }
  const schedules = target.devices.map((device) => {
    const intervalMs =
      definition.intervalMs?.(device) ?? DEVICE_TYPE_CONTRACTS[device.type].reportingIntervalSeconds * 1000;
    // Devices of one type do not all report on the same second: a whole-second offset each.
    const offsetS = Math.floor(unitHash(seed, device.id, 'scenario-offset') * (intervalMs / 1000));
    return { device, intervalMs, firstMs: startMs + offsetS * 1000 };
  });
  return {
    scenario: definition,
    target,
    timeScale,
    seed,
    startMs,
    endMs: at,
    realDurationMs,
    phases,
    schedules,
  };
}

/** The model context a plan's values come from (the same seed, fleet and report period). */
export function scenarioContext(plan: ScenarioPlan, fleet: readonly Device[]): ModelContext {
  const shortest = Math.min(...plan.schedules.map((schedule) => schedule.intervalMs));
  return createModelContext({ seed: plan.seed, periodSeconds: shortest / 1000, fleet });
}

/** The phase `tMs` falls in, or undefined outside the timeline. */
export function phaseAt(plan: ScenarioPlan, tMs: number): PlannedPhase | undefined {
  return plan.phases.find((phase) => phase.startMs <= tMs && tMs < phase.endMs);
}

/**
 * What an affected device reports at simulated `tMs`: its phase's shaping of the model's output,
 * or the model's own; undefined while its phase keeps the connection down (or outside the plan).
 */
export function scenarioOutput(
  plan: ScenarioPlan,
  device: Device,
  tMs: number,
  ctx: ModelContext,
): ModelOutput | undefined {
  const phase = phaseAt(plan, tMs);
  if (!phase || phase.connection === 'down') return undefined;
  const output = modelOutput(device, tMs, ctx);
  const schedule = plan.schedules.find((s) => s.device.id === device.id);
  if (!phase.definition.shape) return output;
  return phase.definition.shape({
    device,
    tMs,
    phaseStartMs: phase.startMs,
    phaseEndMs: phase.endMs,
    progress: (tMs - phase.startMs) / (phase.endMs - phase.startMs),
    intervalMs: schedule?.intervalMs ?? DEVICE_TYPE_CONTRACTS[device.type].reportingIntervalSeconds * 1000,
    output,
    ctx,
  });
}

/** One report of the timeline. */
export interface TimelineReport {
  deviceId: string;
  tMs: number;
  phase: string;
  output: ModelOutput;
}

/**
 * Every report the plan makes, in time order (device id on a tie) — exactly what the runner
 * publishes, minus the reports a `down` phase keeps silent.
 */
export function scenarioTimeline(plan: ScenarioPlan, ctx: ModelContext): TimelineReport[] {
  const reports: TimelineReport[] = [];
  for (const { device, intervalMs, firstMs } of plan.schedules) {
    for (let t = firstMs; t < plan.endMs; t += intervalMs) {
      const output = scenarioOutput(plan, device, t, ctx);
      if (output) reports.push({ deviceId: device.id, tMs: t, phase: phaseAt(plan, t)?.name ?? '', output });
    }
  }
  return reports.sort((a, b) => a.tMs - b.tMs || a.deviceId.localeCompare(b.deviceId));
}

/** `2026-11-30 08:00` in Vietnam local time (UTC+7). */
export function formatLocal(tMs: number): string {
  return new Date(tMs + VIETNAM_UTC_OFFSET_MS).toISOString().slice(0, 16).replace('T', ' ');
}

/** The plan without the devices `ids` (e.g. devices without credentials); the timeline is unchanged. */
export function withoutDevices(plan: ScenarioPlan, ids: ReadonlySet<string>): ScenarioPlan {
  const devices = plan.target.devices.filter((device) => !ids.has(device.id));
  return {
    ...plan,
    target: { ...plan.target, devices },
    schedules: plan.schedules.filter((schedule) => !ids.has(schedule.device.id)),
  };
}

/**
 * The scenarios as text: name, summary, phases with their simulated length, the default time
 * scale with the real time it gives, and the rule each is meant to trigger (`--list-scenarios`).
 */
export function describeScenarios(scenarios: readonly ScenarioDefinition[]): string {
  return scenarios
    .map((scenario) => {
      const lengthMs = scenario.phases.reduce((sum, phase) => sum + phase.durationMs, 0);
      const minutes = (ms: number): string =>
        ms % HOUR_MS === 0 ? `${ms / HOUR_MS} h` : `${Math.round(ms / 60_000)} min`;
      return [
        `${scenario.name}: ${scenario.summary}`,
        `  timeline ${minutes(lengthMs)} simulated, ×${scenario.defaultTimeScale} by default ` +
          `(≈ ${Math.round(lengthMs / scenario.defaultTimeScale / 1000)} s real)` +
          (scenario.localStartHour === undefined
            ? ', ending now'
            : `, from ${String(scenario.localStartHour).padStart(2, '0')}:00 local`),
        ...scenario.phases.map(
          (phase) =>
            `  - ${phase.name} (${minutes(phase.durationMs)}${phase.connection === 'down' ? ', disconnected' : ''}): ${phase.description}`,
        ),
        `  triggers: ${scenario.triggers}`,
      ].join('\n');
    })
    .join('\n');
}
