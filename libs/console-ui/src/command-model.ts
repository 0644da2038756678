import {
  type CommandRecordBody,
  type CommandState,
  type CommandValidation,
  type DeviceType,
  commandDefinition,
  commandsOf,
  validateCommand,
} from '@ioc/contracts';
import { z } from 'zod';

/*
 * The command form's model: the inputs a command's params schema (DEVICE_COMMANDS) asks for, the
 * params read back from what was typed (checked by the contracts' validateCommand before
 * anything is sent), and the command history merged with live `command` events. Pure functions,
 * unit-tested in node.
 */

/** Most commands the device panel lists. */
export const RECENT_COMMANDS_LIMIT = 10;

/** One input of a command form. */
export type CommandField =
  | {
      kind: 'number';
      /** Dotted path in params (`level`, `schedule.on`). */
      path: string;
      required: boolean;
      min?: number;
      max?: number;
      integer: boolean;
      /** Display unit from the definition's paramUnits (`%`, `s`, `kbit/s`). */
      unit?: string;
    }
  | { kind: 'boolean'; path: string; required: boolean }
  | { kind: 'enum'; path: string; required: boolean; options: readonly string[] }
  | { kind: 'time'; path: string; required: boolean }
  | { kind: 'text'; path: string; required: boolean };

function fieldsOf(
  schema: z.ZodType,
  prefix: string,
  required: boolean,
  units: Readonly<Record<string, string>>,
  out: CommandField[],
): void {
  if (schema instanceof z.ZodOptional) {
    fieldsOf(schema.unwrap() as z.ZodType, prefix, false, units, out);
    return;
  }
  if (schema instanceof z.ZodObject) {
    for (const [key, child] of Object.entries(schema.shape as Record<string, z.ZodType>)) {
      fieldsOf(child, prefix === '' ? key : `${prefix}.${key}`, required, units, out);
    }
    return;
  }
  const last = prefix.split('.').pop() ?? prefix;
  if (schema instanceof z.ZodNumber) {
    out.push({
      kind: 'number',
      path: prefix,
      required,
      ...(schema.minValue === null || !Number.isFinite(schema.minValue) ? {} : { min: schema.minValue }),
      ...(schema.maxValue === null || !Number.isFinite(schema.maxValue) ? {} : { max: schema.maxValue }),
      integer: schema.isInt,
      ...(units[last] === undefined ? {} : { unit: units[last] }),
    });
  } else if (schema instanceof z.ZodBoolean) {
    out.push({ kind: 'boolean', path: prefix, required });
  } else if (schema instanceof z.ZodEnum) {
    out.push({ kind: 'enum', path: prefix, required, options: schema.options.map(String) });
  } else if (schema instanceof z.ZodString) {
    // A string param that takes `18:30` and refuses other text is a local time HH:MM (a cabinet's schedule).
    const isTime = schema.safeParse('18:30').success && !schema.safeParse('x').success;
    out.push({ kind: isTime ? 'time' : 'text', path: prefix, required });
  } else {
    out.push({ kind: 'text', path: prefix, required });
  }
}

/**
 * The inputs of `command` for a device of `type`, read from its params schema: numbers with
 * their bounds and unit, booleans, enumerations with their options, local times (HH:MM); nested
 * objects flattened to dotted paths (`schedule.on`). [] for a command without params or unknown.
 */
export function commandFields(type: DeviceType, command: string): CommandField[] {
  const definition = commandDefinition(type, command);
  if (definition === undefined) return [];
  const out: CommandField[] = [];
  fieldsOf(definition.params, '', true, definition.paramUnits ?? {}, out);
  return out;
}

/** Names of command parameters in each language (the contract's field name otherwise). */
const PARAM_LABELS: Readonly<Record<string, Readonly<Record<'vi' | 'en', string>>>> = {
  level: { vi: 'Mức sáng', en: 'Level' },
  durationSeconds: { vi: 'Thời gian giữ', en: 'Duration' },
  on: { vi: 'Bật/tắt', en: 'On/off' },
  plan: { vi: 'Kế hoạch pha', en: 'Plan' },
  mode: { vi: 'Chế độ', en: 'Mode' },
  seconds: { vi: 'Chu kỳ gửi', en: 'Interval' },
  fps: { vi: 'Khung hình/giây', en: 'Frame rate' },
  bitrate: { vi: 'Tốc độ bit', en: 'Bitrate' },
  'schedule.on': { vi: 'Giờ bật', en: 'On at' },
  'schedule.off': { vi: 'Giờ tắt', en: 'Off at' },
};

/** A parameter's name for its input: `Mức sáng` for `level` in vi; the path itself when unnamed. */
export function paramLabel(path: string, locale: 'vi' | 'en'): string {
  return PARAM_LABELS[path]?.[locale] ?? path;
}

/** The commands of a type with their label in `locale` (contract order). */
export function commandChoices(type: DeviceType, locale: 'vi' | 'en'): { name: string; label: string }[] {
  return commandsOf(type).map((name) => ({
    name,
    label: commandDefinition(type, name)?.label[locale] ?? name,
  }));
}

/**
 * The params typed into a form (`values`: path → the input's text; booleans `'true'`/`'false'`):
 * empty inputs left out (an optional param absent; a required one then refused by the contract),
 * numbers parsed (`40`, `40,5` — a Vietnamese decimal comma — and anything else passed on as
 * NaN so the contract refuses it naming the field), nested paths rebuilt as objects.
 */
export function paramsFromForm(
  fields: readonly CommandField[],
  values: Readonly<Record<string, string>>,
): Record<string, unknown> {
  const params: Record<string, unknown> = {};
  for (const field of fields) {
    const raw = (values[field.path] ?? '').trim();
    if (raw === '') continue;
    let value: unknown = raw;
    if (field.kind === 'number') {
      const text = raw.replace(',', '.');
      value = /^-?\d+(\.\d+)?$/.test(text) ? Number(text) : Number.NaN;
    } else if (field.kind === 'boolean') {
      value = raw === 'true' ? true : raw === 'false' ? false : raw;
    }
    const keys = field.path.split('.');
    let target = params;
    for (const key of keys.slice(0, -1)) {
      target[key] ??= {};
      target = target[key] as Record<string, unknown>;
    }
    target[keys[keys.length - 1]] = value;
  }
  return params;
}

/** The form's values checked against the contract (validateCommand) before sending. */
export function checkCommandForm(
  type: DeviceType,
  command: string,
  values: Readonly<Record<string, string>>,
): CommandValidation {
  return validateCommand(type, command, paramsFromForm(commandFields(type, command), values));
}

/** States a command can only leave, never return to (an answer beats `sent`). */
const STATE_RANK: Readonly<Record<CommandState, number>> = {
  sent: 0,
  acknowledged: 1,
  failed: 1,
  'timed-out': 1,
};

/**
 * The command list after `record` (the 202 answer of a send, or a live `command` event): it
 * replaces the record of the same id unless that one is further along (a live acknowledgement
 * that arrived before the POST's answer is kept; a late acknowledgement after `timed-out` does
 * replace it, as the server records it); newest first (createdAt), at most `limit`. Returns the
 * same array when nothing changed.
 */
export function mergeCommandRecord(
  records: readonly CommandRecordBody[],
  record: CommandRecordBody,
  limit = RECENT_COMMANDS_LIMIT,
): CommandRecordBody[] {
  const index = records.findIndex((r) => r.id === record.id);
  if (index !== -1 && STATE_RANK[records[index].state] > STATE_RANK[record.state]) {
    return records as CommandRecordBody[];
  }
  const next = index === -1 ? [...records, record] : records.map((r, i) => (i === index ? record : r));
  return next
    .sort((a, b) => Date.parse(b.createdAt) - Date.parse(a.createdAt) || a.id.localeCompare(b.id))
    .slice(0, limit);
}

/** A command's params in one line for the history list: `level=40, durationSeconds=600`. */
export function describeParams(params: Readonly<Record<string, unknown>>): string {
  const parts: string[] = [];
  const walk = (value: unknown, path: string): void => {
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
      for (const [key, child] of Object.entries(value)) walk(child, path === '' ? key : `${path}.${key}`);
    } else parts.push(`${path}=${typeof value === 'string' ? value : JSON.stringify(value)}`);
  };
  walk(params, '');
  return parts.join(', ');
}

/** Why a command asks for a confirmation step before it is sent (see confirmationOf). */
export type CommandConfirmation = 'cabinet-off' | 'restart' | 'signal-off' | 'signal-flashing';

/**
 * Whether `command` with `params` needs an explicit confirmation before it is sent, and why:
 * commands that put out a whole area's lighting, interrupt a device, or take a junction's signals
 * out of normal control. Judged from DEVICE_COMMANDS (the contracts mark none): a lighting
 * cabinet's `switch { on: false }` (every circuit of the cabinet off), any `restart` (the device
 * stops reporting while it restarts; a signal controller goes dark), a traffic signal's
 * `set-mode { mode: 'off' }` or `'flashing'`. Null: send at once.
 */
export function confirmationOf(
  type: DeviceType,
  command: string,
  params: Readonly<Record<string, unknown>>,
): CommandConfirmation | null {
  if (command === 'restart') return 'restart';
  if (type === 'lighting-cabinet' && command === 'switch' && params['on'] === false) return 'cabinet-off';
  if (type === 'traffic-signal' && command === 'set-mode') {
    if (params['mode'] === 'off') return 'signal-off';
    if (params['mode'] === 'flashing') return 'signal-flashing';
  }
  return null;
}

/** The confirmation question of each CommandConfirmation, by language. */
export const CONFIRMATION_QUESTIONS: Readonly<
  Record<CommandConfirmation, Readonly<Record<'vi' | 'en', string>>>
> = {
  'cabinet-off': {
    vi: 'Xác nhận tắt toàn bộ tủ?',
    en: 'Switch off every circuit of this cabinet?',
  },
  restart: { vi: 'Xác nhận khởi động lại thiết bị?', en: 'Restart this device?' },
  'signal-off': {
    vi: 'Xác nhận tắt đèn tín hiệu tại nút giao?',
    en: 'Switch the signals at this junction off?',
  },
  'signal-flashing': {
    vi: 'Xác nhận chuyển đèn tín hiệu sang chế độ nhấp nháy vàng?',
    en: 'Switch the signals at this junction to amber flashing?',
  },
};

const FORM_TEXT = {
  vi: {
    required: '{field}: bắt buộc nhập.',
    number: '{field}: phải là một số.',
    integer: '{field}: phải là số nguyên.',
    min: '{field}: tối thiểu {limit}.',
    max: '{field}: tối đa {limit}.',
    choose: '{field}: chọn một giá trị trong danh sách.',
    time: '{field}: nhập giờ dạng HH:MM.',
  },
  en: {
    required: '{field} is required.',
    number: '{field} must be a number.',
    integer: '{field} must be a whole number.',
    min: '{field} must be at least {limit}.',
    max: '{field} must be at most {limit}.',
    choose: '{field}: choose a value from the list.',
    time: '{field}: enter a time as HH:MM.',
  },
} as const;

/**
 * The form's values checked in the browser before anything is sent, each refusal in `locale`
 * naming the field by its label (paramLabel) with the limit and unit — `Mức sáng: tối đa 100 %.`
 * — for what the field list knows: required, number, integer, min/max (the params schema's
 * bounds), enumeration, HH:MM. Null when these pass (the contract's validateCommand then checks
 * the whole, its English detail shown only as a fallback for rules across fields).
 */
export function localFormRefusal(
  fields: readonly CommandField[],
  values: Readonly<Record<string, string>>,
  locale: 'vi' | 'en',
): { path: string; message: string } | null {
  const text = FORM_TEXT[locale];
  for (const field of fields) {
    const raw = (values[field.path] ?? '').trim();
    const say = (key: keyof typeof text, limit?: number) => ({
      path: field.path,
      message: text[key]
        .replace('{field}', paramLabel(field.path, locale))
        .replace(
          '{limit}',
          limit === undefined
            ? ''
            : `${limit.toLocaleString(locale === 'vi' ? 'vi-VN' : 'en-GB')}${
                field.kind === 'number' && field.unit !== undefined ? ` ${field.unit}` : ''
              }`,
        ),
    });
    if (raw === '') {
      if (field.required) return say('required');
      continue;
    }
    if (field.kind === 'number') {
      const value = paramsFromForm([field], { [field.path]: raw });
      const number = field.path
        .split('.')
        .reduce<unknown>((o, k) => (o as Record<string, unknown>)[k], value);
      if (typeof number !== 'number' || Number.isNaN(number)) return say('number');
      if (field.integer && !Number.isInteger(number)) return say('integer');
      if (field.min !== undefined && number < field.min) return say('min', field.min);
      if (field.max !== undefined && number > field.max) return say('max', field.max);
    } else if (field.kind === 'boolean') {
      if (raw !== 'true' && raw !== 'false') return say('choose');
    } else if (field.kind === 'enum') {
      if (!field.options.includes(raw)) return say('choose');
    } else if (field.kind === 'time') {
      if (!/^([01]\d|2[0-3]):[0-5]\d$/.test(raw)) return say('time');
    }
  }
  return null;
}
