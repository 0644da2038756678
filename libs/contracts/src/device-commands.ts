import { z } from 'zod';
import type { DeviceType } from './device-types';
import { findDuplicateKey } from './duplicate-keys';
import { printable, quote } from './payload-refusals';
import { ISO_TIMESTAMP } from './payload-schemas';
import type { Rejection } from './rejections';

/*
 * Commands to devices: what each device type takes, the message the platform publishes on
 * `ioc/v1/{domain}/{deviceId}/command` and the acknowledgement a device answers on
 * `…/command/ack`.
 *
 *   platform → device  {"id":"cmd_3q2-…","command":"dim","params":{"level":40},"issuedAt":1795741200000,"expiresAt":1795741260000}
 *   device → platform  {"id":"cmd_3q2-…","outcome":"done","ts":1795741200420}
 *
 * The platform publishes with QoS 1; a device acknowledges each command id once, after executing
 * it (`done`), failing to (`failed`, e.g. a lamp driver that does not answer), or refusing it
 * (`rejected`: a command its firmware does not know, bad params, expired). A command a device never
 * answers is timed out by the platform's command service.
 */

/**
 * Command ids: `cmd_` and 8–64 base64url characters. The platform makes them (newCommandId: 22
 * characters, 128 random bits); a device echoes the id it received in its ack.
 */
export const COMMAND_ID_PATTERN = /^cmd_[A-Za-z0-9_-]{8,64}$/;

/** Command names: lower-case words joined by `-`, at most 32 characters (`dim`, `set-schedule`). */
export const COMMAND_NAME_PATTERN = /^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$/;

const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/**
 * A new command id: `cmd_` + 22 base64url characters carrying 128 random bits (16 bytes from
 * `crypto.getRandomValues`, Web Crypto, present in browsers and Node ≥ 19 as a global), so ids
 * never collide and cannot be guessed. Matches COMMAND_ID_PATTERN.
 */
export function newCommandId(): string {
  const bytes = new Uint8Array(16);
  globalThis.crypto.getRandomValues(bytes);
  let id = 'cmd_';
  // 16 bytes = 128 bits → 22 characters of 6 bits (the last one carries 2 bits).
  for (let bit = 0; bit < 128; bit += 6) {
    const byte = bit >> 3;
    const shift = bit & 7;
    const window = (((bytes[byte] ?? 0) << 8) | (bytes[byte + 1] ?? 0)) >> (10 - shift);
    id += BASE64URL[window & 63];
  }
  return id;
}

/** `HH:MM`, 00:00–23:59, the device's local time (Vietnam: UTC+7, no daylight saving). */
const LOCAL_TIME = z
  .string()
  .regex(/^(?:[01]\d|2[0-3]):[0-5]\d$/, 'must be a local time HH:MM (00:00–23:59)');

/**
 * How long a manual override holds before the device returns to its schedule, seconds: 1 s to
 * 24 h. Absent: until `resume-schedule` (or another override). A choice: a forgotten override
 * must not keep a street dark (or lit by day) for more than a day without one.
 */
const OVERRIDE_SECONDS = z.number().int().min(1).max(86_400);

/**
 * A station's or counter's reporting interval, seconds: 10 s to 1 h. A choice bounded by what the
 * platform can use: the 1-minute rollup needs reports more often than hourly, and faster than
 * every 10 s only multiplies load (the traffic counter's `periodSeconds` allows 1–3600).
 */
const REPORT_INTERVAL_SECONDS = z.number().int().min(10).max(3600);

const noParams = z.strictObject({});

/** One command a device type takes. */
export interface CommandDefinition {
  /** Schema of `params` (always a JSON object; `{}` for a command without parameters). */
  params: z.ZodType<Record<string, unknown>>;
  /** What an operator reads in the console. */
  label: { en: string; vi: string };
  /** What the device does, for the docs and the console's help text. */
  description: string;
  /** Unit of each numeric parameter, for display (`level` → `%`). */
  paramUnits?: Readonly<Record<string, string>>;
}

const restart = {
  params: noParams,
  label: { en: 'Restart', vi: 'Khởi động lại' },
  description:
    'Reboots the device controller. It acknowledges `done` before rebooting, then reconnects and reports `online` again.',
} as const satisfies CommandDefinition;

const setInterval = {
  params: z.strictObject({ seconds: REPORT_INTERVAL_SECONDS }),
  label: { en: 'Set reporting interval', vi: 'Đặt chu kỳ gửi dữ liệu' },
  description: 'Reports telemetry every `seconds` (10–3600 s) from now on.',
  paramUnits: { seconds: 's' },
} as const satisfies CommandDefinition;

const resumeSchedule = {
  params: noParams,
  label: { en: 'Resume schedule', vi: 'Trở lại lịch vận hành' },
  description: 'Ends a manual override (`switch`, `dim`): the lighting follows its schedule again.',
} as const satisfies CommandDefinition;

const stationCommands = { restart, 'set-interval': setInterval } as const;

/** The traffic signal modes an operator may command (`manual` is set at the junction, not remotely). */
export const COMMANDABLE_SIGNAL_MODES = ['fixedTime', 'actuated', 'adaptive', 'flashing', 'off'] as const;

/**
 * The commands each device type takes, by name. Every type takes at least one; names are shared
 * across types where the action is the same (`restart`, `switch`, `set-interval`).
 *
 * - street-light: `dim { level: 0–100 %, durationSeconds? }` sets the lamp's output (0 leaves it
 *   dark; reported as `illuminanceLevel` = level / 100, `activePower` in proportion);
 *   `switch { on, durationSeconds? }` lights it (at the last commanded level, 100 % if none) or
 *   puts it out; `resume-schedule {}` returns it to its dusk-to-dawn schedule.
 * - lighting-cabinet: `switch { on, durationSeconds? }` switches every circuit on or off;
 *   `set-schedule { schedule: { on: HH:MM, off: HH:MM } }` replaces the timer's on and off times
 *   (local time; `off` may be after midnight: on 18:00, off 05:45); `resume-schedule {}`.
 * - traffic-signal: `set-plan { plan: 1–255 }` runs the controller's stored timing plan (plans
 *   are numbered in one octet, as NTCIP 1202 numbers its patterns); `set-mode { mode }` one of
 *   COMMANDABLE_SIGNAL_MODES (`flashing`: amber flashing, e.g. for works); `restart {}`.
 * - camera: `restart {}`; `set-stream { fps?: 1–60, bitrate?: 64–20000 kbit/s }` (at least one).
 * - air-quality-station, water-quality-station, noise-meter, weather-station, traffic-counter:
 *   `restart {}`; `set-interval { seconds: 10–3600 }`.
 *
 * `durationSeconds`: 1–86400 s, after which the device returns to its schedule by itself.
 */
export const DEVICE_COMMANDS = {
  'air-quality-station': stationCommands,
  'water-quality-station': stationCommands,
  'noise-meter': stationCommands,
  'weather-station': stationCommands,
  'traffic-counter': stationCommands,
  'traffic-signal': {
    'set-plan': {
      params: z.strictObject({ plan: z.number().int().min(1).max(255) }),
      label: { en: 'Set signal plan', vi: 'Chọn kế hoạch pha đèn' },
      description: "Runs the controller's stored timing plan number `plan` (1–255) from its next cycle.",
    },
    'set-mode': {
      params: z.strictObject({ mode: z.enum(COMMANDABLE_SIGNAL_MODES) }),
      label: { en: 'Set control mode', vi: 'Đặt chế độ điều khiển' },
      description:
        'Switches the control mode: fixedTime, actuated, adaptive, flashing (amber flashing) or off. Reported as `signalMode`.',
    },
    restart,
  },
  'street-light': {
    dim: {
      params: z.strictObject({
        level: z.number().min(0).max(100),
        durationSeconds: OVERRIDE_SECONDS.optional(),
      }),
      label: { en: 'Dim', vi: 'Điều chỉnh độ sáng' },
      description:
        'Sets the output to `level` % of full (0 leaves the lamp dark), for `durationSeconds` or until `resume-schedule`. Reported as `illuminanceLevel` = level / 100.',
      paramUnits: { level: '%', durationSeconds: 's' },
    },
    switch: {
      params: z.strictObject({ on: z.boolean(), durationSeconds: OVERRIDE_SECONDS.optional() }),
      label: { en: 'Switch on/off', vi: 'Bật/tắt đèn' },
      description:
        'Lights the lamp (at the last commanded level, full if none) or puts it out, for `durationSeconds` or until `resume-schedule`.',
      paramUnits: { durationSeconds: 's' },
    },
    'resume-schedule': resumeSchedule,
  },
  'lighting-cabinet': {
    switch: {
      params: z.strictObject({ on: z.boolean(), durationSeconds: OVERRIDE_SECONDS.optional() }),
      label: { en: 'Switch all circuits', vi: 'Bật/tắt toàn tủ' },
      description:
        'Switches every lighting circuit of the cabinet on or off, for `durationSeconds` or until `resume-schedule`. Reported as `circuitsOn` and `cabinetActivePower`.',
      paramUnits: { durationSeconds: 's' },
    },
    'set-schedule': {
      params: z.strictObject({
        schedule: z
          .strictObject({ on: LOCAL_TIME, off: LOCAL_TIME })
          .refine((schedule) => schedule.on !== schedule.off, {
            message: 'on and off must differ',
            path: ['off'],
          }),
      }),
      label: { en: 'Set lighting schedule', vi: 'Đặt lịch bật/tắt' },
      description:
        "Replaces the timer's daily on and off times (HH:MM, local time; `off` before `on` means the next morning). The circuits follow it from now on.",
    },
    'resume-schedule': resumeSchedule,
  },
  camera: {
    restart,
    'set-stream': {
      params: z
        .strictObject({
          fps: z.number().int().min(1).max(60).optional(),
          bitrate: z.number().int().min(64).max(20_000).optional(),
        })
        .refine((p) => p.fps !== undefined || p.bitrate !== undefined, {
          message: 'give fps, bitrate or both',
        }),
      label: { en: 'Set video stream', vi: 'Đặt luồng video' },
      description:
        'Sets the frame rate (1–60 fps) and/or bitrate (64–20000 kbit/s) of the main stream. Reported as `fps` and `bitrate`.',
      paramUnits: { fps: 'fps', bitrate: 'kbit/s' },
    },
  },
} as const satisfies Record<DeviceType, Readonly<Record<string, CommandDefinition>>>;

/** The commands of one device type, by name. */
export type DeviceCommands<T extends DeviceType> = (typeof DEVICE_COMMANDS)[T];
/** A command name of device type T. */
export type CommandName<T extends DeviceType = DeviceType> = Extract<keyof DeviceCommands<T>, string>;
/** The params of command C of device type T, as validateCommand returns them. */
export type CommandParams<T extends DeviceType, C extends CommandName<T>> = z.infer<
  DeviceCommands<T>[C] extends { params: infer P extends z.ZodType } ? P : never
>;

/** The command names a device type takes, in contract order. */
export function commandsOf(type: DeviceType): string[] {
  return Object.hasOwn(DEVICE_COMMANDS, type) ? Object.keys(DEVICE_COMMANDS[type]) : [];
}

/** The definition of `command` for `type`; undefined when that type has no such command. */
export function commandDefinition(type: DeviceType, command: string): CommandDefinition | undefined {
  if (!Object.hasOwn(DEVICE_COMMANDS, type)) return undefined;
  const commands: Readonly<Record<string, CommandDefinition>> = DEVICE_COMMANDS[type];
  return Object.hasOwn(commands, command) ? commands[command] : undefined;
}

/** Why a command was refused before it was sent (or by a device, when it checks the same contract). */
export const COMMAND_REFUSALS = ['unknown-command', 'invalid-params'] as const;
export type CommandRefusal = (typeof COMMAND_REFUSALS)[number];

/**
 * validateCommand's answer: the params as the contract reads them (absent optional fields stay
 * absent), or the refusal: `unknown-command` (this device type has no such command; the detail
 * lists the ones it has) or `invalid-params` (`path` names the field, e.g. `params.level`, and the
 * detail the limit).
 */
export type CommandValidation =
  | { ok: true; command: string; params: Record<string, unknown> }
  | { ok: false; reason: CommandRefusal; detail: string; path?: string };

/**
 * Checks a command against the device type's contract (DEVICE_COMMANDS). `params` undefined is
 * read as `{}`. Never throws.
 *
 * @example validateCommand('street-light', 'dim', { level: 140 })
 *   // { ok: false, reason: 'invalid-params', path: 'params.level', detail: 'params.level must be at most 100 %' }
 */
export function validateCommand(type: DeviceType, command: string, params: unknown): CommandValidation {
  const definition = commandDefinition(type, command);
  if (!definition) {
    const known = commandsOf(type);
    return {
      ok: false,
      reason: 'unknown-command',
      detail: `a ${printable(String(type))} takes no command ${quote(String(command))}${
        known.length > 0 ? `; it takes ${known.join(', ')}` : ''
      }`,
    };
  }
  const parsed = definition.params.safeParse(params === undefined ? {} : params, { reportInput: true });
  if (parsed.success) return { ok: true, command, params: parsed.data };
  const { path, detail } = describeParamsIssue(parsed.error.issues[0], definition);
  return { ok: false, reason: 'invalid-params', path, detail };
}

/** A zod issue of a params schema as `params.<field> …` with the limit and unit. */
function describeParamsIssue(
  issue: z.core.$ZodIssue | undefined,
  definition: CommandDefinition,
): { path: string; detail: string } {
  if (!issue) return { path: 'params', detail: 'params do not match the contract' };
  const path = ['params', ...issue.path.map(String)].join('.');
  const field = issue.path[issue.path.length - 1];
  const unit = typeof field === 'string' ? definition.paramUnits?.[field] : undefined;
  const withUnit = (value: unknown): string => (unit ? `${String(value)} ${unit}` : String(value));
  const say = (detail: string): { path: string; detail: string } => ({ path, detail });
  if (issue.code === 'invalid_type') {
    if (issue.path.length > 0 && issue.input === undefined) return say(`${path} is required`);
    if (issue.expected === 'int') return say(`${path} must be an integer`);
    return say(`${path} must be ${issue.expected === 'object' ? 'an object' : `a ${issue.expected}`}`);
  }
  if (issue.code === 'too_big') return say(`${path} must be at most ${withUnit(issue.maximum)}`);
  if (issue.code === 'too_small') return say(`${path} must be at least ${withUnit(issue.minimum)}`);
  if (issue.code === 'unrecognized_keys') {
    return say(
      `${path}: unknown field(s) ${issue.keys
        .slice(0, 5)
        .map((key) => quote(key))
        .join(', ')}`,
    );
  }
  if (issue.code === 'invalid_value') {
    return say(`${path} must be one of ${issue.values.map((value) => JSON.stringify(value)).join(', ')}`);
  }
  return say(`${path}: ${issue.message}`);
}

/** Epoch milliseconds, a non-negative integer. */
const epochMs = z.number().int().nonnegative();

/**
 * What the platform publishes on `ioc/v1/{domain}/{deviceId}/command` (QoS 1, not retained):
 * - `id`: the command id (COMMAND_ID_PATTERN), to echo in the ack;
 * - `command`: a name from DEVICE_COMMANDS for the device's type;
 * - `params`: its parameters, an object (`{}` when it has none);
 * - `issuedAt`: when the platform issued it, epoch ms;
 * - `expiresAt` (optional): epoch ms after which the device must not execute it (it answers
 *   `rejected`, detail `expired`): a command queued while the device was away may be stale.
 * Nothing else: the platform sends exactly these fields.
 */
export const commandMessageSchema = z
  .strictObject({
    id: z.string().regex(COMMAND_ID_PATTERN, 'must be cmd_ followed by 8–64 base64url characters'),
    command: z.string().max(32).regex(COMMAND_NAME_PATTERN, 'must be a command name such as "set-plan"'),
    params: z.record(z.string(), z.unknown()),
    issuedAt: epochMs,
    expiresAt: epochMs.optional(),
  })
  .refine((m) => m.expiresAt === undefined || m.expiresAt > m.issuedAt, {
    message: 'expiresAt must be after issuedAt',
    path: ['expiresAt'],
  });
export type CommandMessage = z.infer<typeof commandMessageSchema>;

/** How a device answers a command: executed, tried and failed, or refused without trying. */
export const COMMAND_OUTCOMES = ['done', 'failed', 'rejected'] as const;
export type CommandOutcome = (typeof COMMAND_OUTCOMES)[number];

/** Longest `detail` of an ack, characters. A choice: one sentence for an operator, not a log. */
export const MAX_ACK_DETAIL_LENGTH = 200;

/**
 * What a device publishes on `ioc/v1/{domain}/{deviceId}/command/ack` (QoS 1), once per command:
 * - `id`: the command's id, as received;
 * - `outcome`: `done` (executed), `failed` (tried, did not work: a lamp driver not answering),
 *   `rejected` (not tried: unknown command, bad params, expired);
 * - `detail` (optional): why, for an operator, at most MAX_ACK_DETAIL_LENGTH characters;
 * - `ts` (optional): when the device acted, as a reading's ts: ISO-8601 with a UTC offset or epoch ms.
 * Unknown fields are refused (`schema-violation`), as in readings: a misspelt field is never
 * silently dropped.
 */
export const commandAckSchema = z.strictObject({
  id: z.string().regex(COMMAND_ID_PATTERN, 'must be the id of the command answered (cmd_…)'),
  outcome: z.enum(COMMAND_OUTCOMES),
  detail: z.string().max(MAX_ACK_DETAIL_LENGTH).optional(),
  ts: z.union([ISO_TIMESTAMP, epochMs]).optional(),
});
export type CommandAck = z.infer<typeof commandAckSchema>;

/** A valid ack as the platform keeps it: ts read as epoch ms, detail made safe to show. */
export interface ValidCommandAck {
  id: string;
  outcome: CommandOutcome;
  /** Control and bidirectional characters escaped (printable). */
  detail?: string;
  /** The device's ts, epoch ms. */
  ts?: number;
}

const UTF8 = new TextDecoder('utf-8', { ignoreBOM: true });

/**
 * A device's ack payload (UTF-8 JSON text or bytes) → the ack, or the refusal: `malformed-json`
 * (JSON.parse's message), `duplicate-key`, or `schema-violation` naming the field (`outcome must
 * be one of "done", "failed", "rejected"`, `id is required`, `unknown field(s) "x"`). Never throws.
 */
export function parseCommandAck(
  raw: string | Uint8Array,
): { ok: true; ack: ValidCommandAck } | ({ ok: false } & Rejection) {
  const text = typeof raw === 'string' ? raw : UTF8.decode(raw);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return {
      ok: false,
      reason: 'malformed-json',
      detail: printable(String((error as Error).message).slice(0, 200)),
    };
  }
  const duplicate = findDuplicateKey(text, json);
  if (duplicate) {
    return {
      ok: false,
      reason: 'duplicate-key',
      detail: `${duplicate.path}: key ${quote(duplicate.key)} appears more than once`,
    };
  }
  const parsed = commandAckSchema.safeParse(json, { reportInput: true });
  if (!parsed.success) {
    return { ok: false, reason: 'schema-violation', detail: describeAckIssue(parsed.error.issues[0]) };
  }
  const { id, outcome, detail, ts } = parsed.data;
  const ack: ValidCommandAck = { id, outcome };
  if (detail !== undefined) ack.detail = printable(detail);
  if (ts !== undefined) ack.ts = typeof ts === 'number' ? ts : Date.parse(ts);
  return { ok: true, ack };
}

function describeAckIssue(issue: z.core.$ZodIssue | undefined): string {
  if (!issue) return '(payload) is not a command ack';
  const path = issue.path.length === 0 ? '(payload)' : issue.path.map(String).join('.');
  if (issue.path.length > 0 && issue.input === undefined) return `${path} is required`;
  if (path === 'ts') {
    return 'ts must be an ISO-8601 date-time with a UTC offset or a non-negative integer of epoch milliseconds';
  }
  if (issue.code === 'invalid_type') {
    return `${path} must be ${issue.expected === 'object' ? 'a JSON object' : `a ${issue.expected}`}`;
  }
  if (issue.code === 'invalid_value') {
    return `${path} must be one of ${issue.values.map((value) => JSON.stringify(value)).join(', ')}`;
  }
  if (issue.code === 'unrecognized_keys') {
    return `${path}: unknown field(s) ${issue.keys
      .slice(0, 5)
      .map((key) => quote(key))
      .join(', ')}`;
  }
  if (issue.code === 'too_big') return `${path} must be at most ${String(issue.maximum)} characters`;
  return `${path}: ${issue.message}`;
}

/**
 * A command message as a device reads it (the simulator does): the message, or why not, with the
 * id when one could be read, so the device can still answer `rejected` to that id. Never throws.
 */
export function parseCommandMessage(
  raw: string | Uint8Array,
): { ok: true; message: CommandMessage } | { ok: false; detail: string; id?: string } {
  const text = typeof raw === 'string' ? raw : UTF8.decode(raw);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return {
      ok: false,
      detail: `malformed JSON: ${printable(String((error as Error).message).slice(0, 200))}`,
    };
  }
  const parsed = commandMessageSchema.safeParse(json, { reportInput: true });
  if (parsed.success) return { ok: true, message: parsed.data };
  const issue = parsed.error.issues[0];
  const rawId = typeof json === 'object' && json !== null ? (json as { id?: unknown }).id : undefined;
  const path = issue && issue.path.length > 0 ? issue.path.map(String).join('.') : '(payload)';
  return {
    ok: false,
    detail: `${path}: ${issue?.message ?? 'not a command message'}`,
    ...(typeof rawId === 'string' && COMMAND_ID_PATTERN.test(rawId) ? { id: rawId } : {}),
  };
}
