import { EventEmitter } from 'node:events';
import type { Device } from '@ioc/contracts';
import type { SimMessage } from '../models';
import type { ModelContext } from '../models/model-types';
import { unitHash } from '../prng';
import { type CredentialsHook, Simulator, type SimulatorStats } from '../simulator';
import {
  type PlannedPhase,
  type PlanOptions,
  planScenario,
  type ScenarioPlan,
  scenarioContext,
  scenarioOutput,
} from './plan';
import type { ScenarioDefinition, ScenarioSeeds } from './scenario-types';

export interface ScenarioRunnerOptions {
  plan: ScenarioPlan;
  brokerUrl: string;
  /** Every device known (e.g. all seeds), so a cabinet sums all its lamps. Default: the plan's devices. */
  fleet?: readonly Device[];
  qos?: 0 | 1;
  /** Per-connection credentials, as for the Simulator (e.g. `loadCredentialsFile(...).credentials`). */
  credentials?: CredentialsHook;
  /** Appended to each device id to make its client id (default none). */
  clientIdSuffix?: string;
  /**
   * After the timeline, keep the affected devices reporting the model's values on the real clock
   * (every reporting interval) until `stop()` — so, beside a normal feed, they do not fall silent
   * and go offline. Default false: stop when the timeline ends.
   */
  continueAfterEnd?: boolean;
  /** Period of the scheduling timer, real ms (default 20). */
  tickMs?: number;
  connectTimeoutMs?: number;
  /** The real clock (default Date.now). */
  clock?: () => number;
}

/** A phase starting or ending, with the simulated and real time it happened at. */
export interface ScenarioPhaseEvent {
  scenario: string;
  phase: string;
  /** Index of the phase in the scenario (0-based). */
  index: number;
  /** Simulated time of the boundary (epoch ms). */
  simulatedMs: number;
  /** Real time the runner crossed it (epoch ms). */
  realMs: number;
}

export interface ScenarioResult {
  /** True when the whole timeline ran (false when stopped before its end). */
  completed: boolean;
  stats: SimulatorStats;
}

export interface ScenarioRunnerEvents {
  phaseStart: ScenarioPhaseEvent;
  phaseEnd: ScenarioPhaseEvent;
  /** A message published by an affected device. */
  publish: SimMessage;
  /** The timeline's end (after the last phaseEnd). */
  ended: { scenario: string; simulatedMs: number; realMs: number };
  /** A connection change (crash, reconnect) that failed; the run goes on. */
  error: Error;
}

interface Boundary {
  tMs: number;
  kind: 'phaseStart' | 'phaseEnd';
  index: number;
  phase: PlannedPhase;
}

type RunState = 'idle' | 'running' | 'after-end' | 'stopped';

/**
 * Runs a scenario plan against an MQTT broker: the affected devices connect (one connection each,
 * with their LWT, as the Simulator's per-device mode) and report on the plan's SIMULATED clock —
 * sim(t) = plan.startMs + (t − t₀) × timeScale from the real start t₀ — each at its own reporting
 * interval, with the phase's shaped values and that simulated time as `ts`. Phase boundaries are
 * crossed in time order with the reports around them, so a device's reports are monotone in `ts`
 * and none is later than real "now".
 */
export class ScenarioRunner {
  private readonly emitter = new EventEmitter();
  private readonly simulator: Simulator;
  private readonly ctx: ModelContext;
  private readonly clock: () => number;
  private readonly boundaries: Boundary[];
  private readonly next = new Map<string, number>();
  private readonly down = new Set<string>();
  private state: RunState = 'idle';
  private realStart = 0;
  private boundaryIndex = 0;
  private ticker?: NodeJS.Timeout;
  private ticking?: Promise<void>;
  private stopping?: Promise<ScenarioResult>;
  private completed = false;
  private resolveFinished: (result: ScenarioResult) => void = () => undefined;
  /** Resolves once the runner has stopped: at the timeline's end, or on `stop()`. */
  readonly finished: Promise<ScenarioResult>;

  constructor(private readonly options: ScenarioRunnerOptions) {
    const { plan } = options;
    const fleet = options.fleet ?? plan.target.devices;
    this.clock = options.clock ?? Date.now;
    this.ctx = scenarioContext(plan, fleet);
    this.simulator = new Simulator({
      brokerUrl: options.brokerUrl,
      devices: plan.target.devices,
      fleet,
      ratePerSecond: 1,
      manual: true,
      periodSeconds: this.ctx.periodSeconds,
      qos: options.qos ?? 1,
      seed: plan.seed,
      clientMode: 'per-device',
      ...(options.credentials ? { credentials: options.credentials } : {}),
      ...(options.clientIdSuffix === undefined ? {} : { clientIdSuffix: options.clientIdSuffix }),
      ...(options.connectTimeoutMs === undefined ? {} : { connectTimeoutMs: options.connectTimeoutMs }),
    });
    this.simulator.on('publish', (message) => this.emit('publish', message));
    this.boundaries = plan.phases.flatMap((phase, index) => [
      { tMs: phase.startMs, kind: 'phaseStart' as const, index, phase },
      { tMs: phase.endMs, kind: 'phaseEnd' as const, index, phase },
    ]);
    // At a shared instant the previous phase ends before the next starts.
    this.boundaries.sort(
      (a, b) => a.tMs - b.tMs || (a.kind === b.kind ? a.index - b.index : a.kind === 'phaseEnd' ? -1 : 1),
    );
    for (const schedule of plan.schedules) this.next.set(schedule.device.id, schedule.firstMs);
    this.finished = new Promise((resolve) => (this.resolveFinished = resolve));
  }

  get plan(): ScenarioPlan {
    return this.options.plan;
  }

  on<E extends keyof ScenarioRunnerEvents>(
    event: E,
    listener: (payload: ScenarioRunnerEvents[E]) => void,
  ): this {
    this.emitter.on(event, listener);
    return this;
  }

  off<E extends keyof ScenarioRunnerEvents>(
    event: E,
    listener: (payload: ScenarioRunnerEvents[E]) => void,
  ): this {
    this.emitter.off(event, listener);
    return this;
  }

  private emit<E extends keyof ScenarioRunnerEvents>(event: E, payload: ScenarioRunnerEvents[E]): void {
    this.emitter.emit(event, payload);
  }

  /** The simulated time now (epoch ms): the plan's clock while the timeline runs, real time after it. */
  simulatedNow(): number {
    if (this.state === 'after-end') return this.clock();
    if (this.state === 'idle') return this.plan.startMs;
    return Math.min(
      this.plan.endMs,
      this.plan.startMs + (this.clock() - this.realStart) * this.plan.timeScale,
    );
  }

  /** The simulator's counters for the affected devices. */
  stats(): SimulatorStats {
    return this.simulator.stats();
  }

  /**
   * Connects every affected device, then starts the simulated clock.
   * @throws Error naming the client that could not connect
   */
  async start(): Promise<void> {
    if (this.state !== 'idle') throw new Error(`cannot start a scenario runner that is ${this.state}`);
    await this.simulator.start();
    this.state = 'running';
    this.realStart = this.clock();
    this.ticker = setInterval(() => this.schedule(), this.options.tickMs ?? 20);
    this.schedule();
  }

  /** Stops reporting and disconnects the devices (with their offline status). Idempotent. */
  stop(): Promise<ScenarioResult> {
    this.stopping ??= (async () => {
      this.state = 'stopped';
      if (this.ticker) clearInterval(this.ticker);
      await this.ticking;
      const stats = await this.simulator.stop();
      const result = { completed: this.completed, stats };
      this.resolveFinished(result);
      return result;
    })();
    return this.stopping;
  }

  private schedule(): void {
    if (this.ticking || (this.state !== 'running' && this.state !== 'after-end')) return;
    this.ticking = this.advance()
      .catch((error: unknown) => this.emit('error', error as Error))
      .finally(() => (this.ticking = undefined));
  }

  /** Handles, in time order, every phase boundary and report up to the simulated now. */
  private async advance(): Promise<void> {
    const now = this.simulatedNow();
    for (;;) {
      if (this.state !== 'running' && this.state !== 'after-end') return;
      const boundary = this.state === 'running' ? this.boundaries[this.boundaryIndex] : undefined;
      let dueId: string | undefined;
      let dueAt = Number.POSITIVE_INFINITY;
      for (const [id, t] of this.next) {
        if (t < dueAt) {
          dueAt = t;
          dueId = id;
        }
      }
      if (this.state === 'running' && dueAt >= this.plan.endMs) dueId = undefined;
      if (boundary && boundary.tMs <= now && (dueId === undefined || boundary.tMs <= dueAt)) {
        this.boundaryIndex += 1;
        await this.cross(boundary);
        continue;
      }
      if (dueId !== undefined && dueAt <= now) {
        this.report(dueId, dueAt);
        continue;
      }
      if (this.state === 'running' && this.boundaryIndex >= this.boundaries.length) {
        this.end();
        continue;
      }
      return;
    }
  }

  private report(deviceId: string, tMs: number): void {
    const schedule = this.plan.schedules.find((s) => s.device.id === deviceId);
    if (!schedule) return;
    this.next.set(deviceId, tMs + schedule.intervalMs);
    if (this.state === 'after-end') {
      this.simulator.publishAt(deviceId, tMs);
      return;
    }
    const output = scenarioOutput(this.plan, schedule.device, tMs, this.ctx);
    if (output) this.simulator.publishAt(deviceId, tMs, output);
  }

  private async cross(boundary: Boundary): Promise<void> {
    const event: ScenarioPhaseEvent = {
      scenario: this.plan.scenario.name,
      phase: boundary.phase.name,
      index: boundary.index,
      simulatedMs: boundary.tMs,
      realMs: this.clock(),
    };
    if (boundary.kind === 'phaseStart') await this.connect(boundary.phase.connection);
    this.emit(boundary.kind, event);
  }

  /** Puts every affected device's connection into the phase's state. */
  private async connect(wanted: 'up' | 'down'): Promise<void> {
    for (const { device } of this.plan.schedules) {
      try {
        if (wanted === 'down' && !this.down.has(device.id)) {
          this.down.add(device.id);
          await this.simulator.simulateCrash(device.id);
        } else if (wanted === 'up' && this.down.has(device.id)) {
          this.down.delete(device.id);
          await this.simulator.reconnect(device.id);
        }
      } catch (error) {
        this.emit('error', new Error(`${device.id}: ${(error as Error).message}`));
      }
    }
  }

  private end(): void {
    this.completed = true;
    this.emit('ended', {
      scenario: this.plan.scenario.name,
      simulatedMs: this.plan.endMs,
      realMs: this.clock(),
    });
    if (this.options.continueAfterEnd !== true) {
      void this.stop();
      return;
    }
    // On the real clock from here: each device's next report within one interval of now.
    this.state = 'after-end';
    const now = this.clock();
    for (const { device, intervalMs } of this.plan.schedules) {
      this.next.set(
        device.id,
        now + Math.floor(unitHash(this.plan.seed, device.id, 'after-end') * intervalMs),
      );
    }
  }
}

export interface RunScenarioOptions extends PlanOptions, Omit<ScenarioRunnerOptions, 'plan' | 'fleet'> {
  seeds: ScenarioSeeds;
}

/**
 * Plans `scenario` against `seeds` (planScenario) and starts running it; resolves once every
 * affected device is connected and the simulated clock runs. Await `runner.finished` for the end.
 * @throws ScenarioError (see planScenario), or Error when a device cannot connect
 */
export async function runScenario(
  scenario: string | ScenarioDefinition,
  options: RunScenarioOptions,
): Promise<ScenarioRunner> {
  const { seeds, areaId, timeScale, seed, now, ...runnerOptions } = options;
  const plan = planScenario(scenario, seeds, {
    ...(areaId === undefined ? {} : { areaId }),
    ...(timeScale === undefined ? {} : { timeScale }),
    ...(seed === undefined ? {} : { seed }),
    ...(now === undefined ? {} : { now }),
  });
  const runner = new ScenarioRunner({ ...runnerOptions, plan, fleet: seeds.devices });
  await runner.start();
  return runner;
}
