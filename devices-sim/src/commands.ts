import {
  type CommandOutcome,
  type Device,
  type MetricValue,
  parseCommandMessage,
  validateCommand,
} from '@ioc/contracts';
import { DAY_MS, VIETNAM_UTC_OFFSET_MS } from './local-time';

const MINUTE_MS = 60_000;
import { CABINET_CONTROL_KW, CABLE_LOSS, cabinetLamps, lampState } from './models';
import { numberAttribute, type ModelContext } from './models/model-types';

/**
 * What commands have changed on one simulated device: overrides of its modelled behaviour, each
 * until its `untilMs` (epoch ms) when given, else until `resume-schedule` (or `restart` for the
 * stream and mode settings, which a reboot keeps: they are configuration).
 */
export interface CommandedState {
  /** Street light: lit or dark at `level` % (0–100), overriding the schedule. */
  lamp?: { on: boolean; level: number; untilMs?: number };
  /** Street light: the last level commanded by `dim`, used by `switch { on: true }` (100 if none). */
  lastLevel?: number;
  /** Lighting cabinet: every circuit on or off, overriding the schedule. */
  cabinet?: { on: boolean; untilMs?: number };
  /** Lighting cabinet: the timer's on and off times, minutes after local midnight. */
  schedule?: { onMinute: number; offMinute: number };
  /** Traffic signal: the timing plan running (no metric reports it; kept for scenarios). */
  signalPlan?: number;
  /** Traffic signal: the commanded control mode, reported as `signalMode`. */
  signalMode?: string;
  /** Camera: the commanded stream settings, reported as `fps` and `bitrate`. */
  stream?: { fps?: number; bitrate?: number };
  /** Stations and counters: at most one telemetry message per this many ms. */
  intervalMs?: number;
  /** Restarts executed. */
  restarts?: number;
}

/** The ack a simulated device publishes for one command message (CommandAck, libs/contracts). */
export interface SimCommandAck {
  id: string;
  outcome: CommandOutcome;
  detail?: string;
  ts: number;
}

/** What a device made of one message on its command topic. */
export interface CommandExecution {
  deviceId: string;
  /** Undefined when the message carried no readable command id (nothing can be acknowledged). */
  ack?: SimCommandAck;
  command?: string;
  params?: Record<string, unknown>;
  /** Why the message was refused (also the ack's detail when it has an id). */
  detail?: string;
}

const minuteOf = (hhmm: string): number => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));

/**
 * Executes one command message as the device would: parsed and checked with the contracts
 * (parseCommandMessage, validateCommand for the device's type), refused if expired, then applied
 * to `state`. Returns the ack to publish: `done`, or `rejected` with the contract's detail (an
 * unknown command, bad params, an expired or malformed message). A message without a readable
 * id gets no ack. `now` is epoch ms.
 */
export function executeCommand(
  device: Device,
  state: CommandedState,
  payload: string | Uint8Array,
  now: number,
): CommandExecution {
  const parsed = parseCommandMessage(payload);
  if (!parsed.ok) {
    return {
      deviceId: device.id,
      detail: parsed.detail,
      ...(parsed.id === undefined ? {} : { ack: rejected(parsed.id, parsed.detail, now) }),
    };
  }
  const { id, command, params, expiresAt } = parsed.message;
  if (expiresAt !== undefined && expiresAt < now) {
    const detail = `expired at ${new Date(expiresAt).toISOString()}`;
    return { deviceId: device.id, command, detail, ack: rejected(id, detail, now) };
  }
  const checked = validateCommand(device.type, command, params);
  if (!checked.ok)
    return { deviceId: device.id, command, detail: checked.detail, ack: rejected(id, checked.detail, now) };
  apply(device, state, command, checked.params, now);
  return { deviceId: device.id, command, params: checked.params, ack: { id, outcome: 'done', ts: now } };
}

function rejected(id: string, detail: string, ts: number): SimCommandAck {
  return { id, outcome: 'rejected', detail, ts };
}

/** Applies a validated command (params as validateCommand returned them) to the device's state. */
function apply(
  device: Device,
  state: CommandedState,
  command: string,
  params: Record<string, unknown>,
  now: number,
): void {
  const until = (): { untilMs?: number } =>
    typeof params['durationSeconds'] === 'number' ? { untilMs: now + params['durationSeconds'] * 1000 } : {};
  switch (command) {
    case 'dim': {
      const level = params['level'] as number;
      state.lastLevel = level;
      state.lamp = { on: level > 0, level, ...until() };
      return;
    }
    case 'switch': {
      const on = params['on'] as boolean;
      // A cabinet switches its circuits; a lamp lights at its last commanded level.
      if (device.type === 'lighting-cabinet') state.cabinet = { on, ...until() };
      else state.lamp = { on, level: on ? (state.lastLevel ?? 100) : 0, ...until() };
      return;
    }
    case 'resume-schedule':
      delete state.lamp;
      delete state.cabinet;
      return;
    case 'set-schedule': {
      const schedule = params['schedule'] as { on: string; off: string };
      state.schedule = { onMinute: minuteOf(schedule.on), offMinute: minuteOf(schedule.off) };
      delete state.cabinet;
      return;
    }
    case 'set-plan':
      state.signalPlan = params['plan'] as number;
      return;
    case 'set-mode':
      state.signalMode = params['mode'] as string;
      return;
    case 'set-stream':
      state.stream = {
        ...state.stream,
        ...(params['fps'] === undefined ? {} : { fps: params['fps'] as number }),
        ...(params['bitrate'] === undefined ? {} : { bitrate: params['bitrate'] as number }),
      };
      return;
    case 'set-interval':
      state.intervalMs = (params['seconds'] as number) * 1000;
      return;
    case 'restart':
      state.restarts = (state.restarts ?? 0) + 1;
      return;
    default:
      // validateCommand admits only the contract's commands; one without a model changes nothing.
      return;
  }
}

/** Whether the cabinet's timer has the lights on at `tMs` (local time, Vietnam UTC+7). */
function scheduleOn(schedule: { onMinute: number; offMinute: number }, tMs: number): boolean {
  const minute = Math.floor(((((tMs + VIETNAM_UTC_OFFSET_MS) % DAY_MS) + DAY_MS) % DAY_MS) / MINUTE_MS);
  const { onMinute, offMinute } = schedule;
  // An off time before the on time is the next morning's.
  return onMinute < offMinute
    ? minute >= onMinute && minute < offMinute
    : minute >= onMinute || minute < offMinute;
}

const DARK_FAULTS = new Set(['defectiveLamp', 'brokenLantern', 'powerLoss']);

/**
 * The telemetry metrics a device reports at `tMs` given what commands changed (`metrics` are the
 * model's). Expired overrides are dropped from `state`. Returns `metrics` itself when nothing
 * applies.
 *
 * - street light: a lamp override sets `on`, `illuminanceLevel` (level / 100) and `activePower`
 *   (`lampWatts` × level); a lamp with a dark fault stays dark, as a broken lamp would. The energy
 *   meter keeps the model's count.
 * - lighting cabinet: an override, else a commanded schedule, decides whether the circuits are on:
 *   `circuitsOn`, and `cabinetActivePower` (its lamps at full plus losses, or the control gear
 *   alone) when that differs from the model; `powerFactor` ≈ 0.55 idle.
 * - traffic signal: a commanded mode is reported as `signalMode`; `flashing` and `off` show phase 0.
 * - camera: commanded `fps` and `bitrate` are reported as set.
 */
export function commandedMetrics(
  device: Device,
  state: CommandedState,
  metrics: Record<string, MetricValue>,
  tMs: number,
  ctx: ModelContext,
): Record<string, MetricValue> {
  if (state.lamp?.untilMs !== undefined && state.lamp.untilMs <= tMs) delete state.lamp;
  if (state.cabinet?.untilMs !== undefined && state.cabinet.untilMs <= tMs) delete state.cabinet;
  switch (device.type) {
    case 'street-light': {
      if (!state.lamp || DARK_FAULTS.has(String(metrics['lampFault']))) return metrics;
      const level = state.lamp.on ? state.lamp.level : 0;
      const watts = numberAttribute(device, 'lampWatts', 100);
      return {
        ...metrics,
        on: level > 0,
        illuminanceLevel: Math.round(level) / 100,
        activePower: Math.round(watts * level) / 100,
      };
    }
    case 'lighting-cabinet': {
      const on = state.cabinet?.on ?? (state.schedule ? scheduleOn(state.schedule, tMs) : undefined);
      if (on === undefined) return metrics;
      const modelOn = typeof metrics['circuitsOn'] === 'number' && metrics['circuitsOn'] > 0;
      if (on === modelOn) return metrics;
      if (!on)
        return { ...metrics, circuitsOn: 0, cabinetActivePower: CABINET_CONTROL_KW, powerFactor: 0.55 };
      const lampsKW =
        cabinetLamps(device, ctx).reduce(
          (sum, lamp) =>
            sum + (lampState(lamp, tMs, ctx).fault === 'none' ? numberAttribute(lamp, 'lampWatts', 100) : 0),
          0,
        ) / 1000;
      return {
        ...metrics,
        circuitsOn: Math.max(1, Math.round(numberAttribute(device, 'circuits', 2))),
        cabinetActivePower: Math.round((lampsKW * (1 + CABLE_LOSS) + CABINET_CONTROL_KW) * 1000) / 1000,
        powerFactor: 0.95,
      };
    }
    case 'traffic-signal':
      if (state.signalMode === undefined) return metrics;
      return state.signalMode === 'flashing' || state.signalMode === 'off'
        ? { ...metrics, signalMode: state.signalMode, phase: 0 }
        : {
            ...metrics,
            signalMode: state.signalMode,
            phase: metrics['phase'] === 0 ? 1 : (metrics['phase'] ?? 1),
          };
    case 'camera':
      if (!state.stream || !('online' in metrics)) return metrics;
      return { ...metrics, ...state.stream };
    case 'air-quality-station':
    case 'water-quality-station':
    case 'noise-meter':
    case 'weather-station':
    case 'traffic-counter':
      // set-interval acts on when they report (the simulator's pacing), not on what.
      return metrics;
  }
}
