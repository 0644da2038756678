import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { DEVICE_TYPE_CONTRACTS, type DeviceType, type DeviceTypeContract } from './device-types';
import { fastValidate } from './fast-payload-validator';
import { METRIC_CATALOGUE, METRIC_NAMES, type MetricDefinition } from './metric-catalogue';
import {
  DEFAULT_MAX_FUTURE_SKEW_MS,
  EARLIEST_TIMESTAMP_MS,
  PAYLOAD_SCHEMAS,
  parsePayload,
  parsePayloadWithZod,
  type PayloadResult,
} from './payloads';
import type { DeviceChannel } from './topics';
import { KINDS, type MessageKind, mulberry32 } from './spec-support';

/**
 * The fast path's contract: it accepts exactly what zod accepts, and parsePayload answers exactly
 * what it answered with zod alone: the same payload (values, -0, key order) or the same rejection
 * (reason and detail, byte for byte). Checked on every fixture and on a seeded corpus of mutated
 * messages per device type and channel.
 */

/** 2026-11-27T08:00:00+07:00, the fixtures' observation time. */
const TS_MS = Date.UTC(2026, 10, 27, 1, 0, 0);
const NOW = TS_MS + 5 * 60_000;

/** A difference between the two paths, with what it takes to reproduce it. */
interface Divergence {
  kind: string;
  raw: string;
  withFastPath: PayloadResult;
  withZodOnly: PayloadResult;
}

/** Both paths on one raw message; a divergence, or undefined when they answer the same. */
function compare(kind: MessageKind, raw: string | Uint8Array, now = NOW): Divergence | undefined {
  const withFastPath = parsePayload(kind.type, kind.channel, raw, { now });
  const withZodOnly = parsePayloadWithZod(kind.type, kind.channel, raw, { now });
  // isDeepStrictEqual tells -0 from 0; JSON text tells key order apart.
  const same =
    isDeepStrictEqual(withFastPath, withZodOnly) &&
    JSON.stringify(withFastPath) === JSON.stringify(withZodOnly);
  if (same) return undefined;
  return { kind: kind.label, raw: typeof raw === 'string' ? raw : '(bytes)', withFastPath, withZodOnly };
}

/** Whether fastValidate and the zod schema agree on accepting the parsed message. */
function acceptanceAgrees(kind: MessageKind, raw: string): boolean {
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    return true; // not JSON: neither validator is asked
  }
  const fast = fastValidate(kind.type, kind.channel, json, NOW) !== undefined;
  const schema = PAYLOAD_SCHEMAS[kind.type][kind.channel];
  return fast === (schema?.safeParse(json).success ?? false);
}

// ---------------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------------

const FIXTURES = join(__dirname, 'fixtures');

function fixtures(dir: 'ok' | 'not-ok'): [string, MessageKind, string][] {
  return readdirSync(join(FIXTURES, dir))
    .filter((file) => file.endsWith('.json'))
    .sort()
    .map((file) => {
      const fixture = JSON.parse(readFileSync(join(FIXTURES, dir, file), 'utf8')) as {
        deviceType: DeviceType;
        channel: DeviceChannel;
        payload: string;
      };
      const kind = {
        label: file,
        type: fixture.deviceType,
        channel: fixture.channel,
        required: [],
        optional: [],
      };
      return [`${dir}/${file}`, kind, fixture.payload];
    });
}

describe('fast path and zod alone give the same result', () => {
  it.each([...fixtures('ok'), ...fixtures('not-ok')])('for %s', (_file, kind, payload) => {
    for (const now of [NOW, Date.now()]) {
      expect(compare(kind, payload, now)).toBeUndefined();
      expect(compare(kind, new TextEncoder().encode(payload), now)).toBeUndefined();
    }
    expect(acceptanceAgrees(kind, payload)).toBe(true);
  });
});

// ---------------------------------------------------------------------------------------------
// Generated corpus: valid messages, then mutated at and beyond every limit
// ---------------------------------------------------------------------------------------------

/** JSON tokens JSON.stringify cannot write (1e999, -0.0, 1.0): a marker string replaced afterwards. */
const RAW_MARKER = '@@raw:';
const rawToken = (token: string): string => `${RAW_MARKER}${token}`;
const RAW_TOKENS = new RegExp(`"${RAW_MARKER}([^"]*)"`, 'g');

function toJsonText(value: unknown): string {
  return JSON.stringify(value).replace(RAW_TOKENS, '$1');
}

/** An own, enumerable key whatever its name: `__proto__` included, as JSON.parse makes it. */
function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

/** The nearest double above (direction 1) or below (-1) x. */
function nextDouble(x: number, direction: 1 | -1): number {
  if (x === 0) return direction * Number.MIN_VALUE;
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  const bits = view.getBigUint64(0);
  view.setBigUint64(0, x > 0 === direction > 0 ? bits + 1n : bits - 1n);
  return view.getFloat64(0);
}

/** Values at, inside and just beyond a metric's limits, and of every wrong type. */
function edgeValues(definition: MetricDefinition): unknown[] {
  const wrongTypes = [null, [], {}, 'NaN', 'Infinity', '', '1', true, rawToken('1e999')];
  switch (definition.kind) {
    case 'number':
    case 'integer': {
      const { min, max } = definition;
      const mid = Math.floor((min + max) / 2);
      return [
        min,
        max,
        mid,
        nextDouble(min, -1),
        nextDouble(max, 1),
        nextDouble(min, 1),
        nextDouble(max, -1),
        min - 1,
        max + 1,
        mid + 0.5,
        mid + 1e-9,
        -0,
        0,
        rawToken('-0.0'),
        rawToken(`${mid}.0`),
        rawToken(`${mid}e0`),
        rawToken('-1e999'),
        1e308,
        -1e308,
        2 ** 53,
        Number.MAX_SAFE_INTEGER,
        Number.MIN_VALUE,
        String(mid),
        [mid],
        ...wrongTypes,
      ];
    }
    case 'boolean':
      return [true, false, 0, 1, 'true', 'false', ...wrongTypes];
    case 'enum': {
      const first = definition.values[0]!;
      return [
        ...definition.values,
        first.toUpperCase(),
        `${first} `,
        '__proto__',
        'constructor',
        'toString',
        0,
        ...wrongTypes,
      ];
    }
    case 'text': {
      const { maxLength } = definition;
      return [
        '2.4.1',
        'v1.0.0-rc.2+b7',
        'FW 3.1 (build 45)',
        'A'.repeat(maxLength),
        'A'.repeat(maxLength + 1),
        `${'A'.repeat(maxLength - 1)}😀`,
        '😀'.repeat(Math.floor(maxLength / 2) + 1),
        ' leading space',
        '<b>1</b>',
        'a\u0000b',
        'é',
        '\ud800',
        123,
        ...wrongTypes,
      ];
    }
  }
}

const TIMESTAMP_EDGES: unknown[] = [
  TS_MS,
  0,
  -0,
  -1,
  1.5,
  EARLIEST_TIMESTAMP_MS,
  EARLIEST_TIMESTAMP_MS - 1,
  NOW + DEFAULT_MAX_FUTURE_SKEW_MS,
  NOW + DEFAULT_MAX_FUTURE_SKEW_MS + 1,
  Number.MAX_SAFE_INTEGER,
  2 ** 53,
  1e21,
  rawToken('1e999'),
  rawToken(`${TS_MS}.0`),
  Math.floor(TS_MS / 1000), // epoch seconds
  '2026-11-27T08:00:00+07:00',
  '2026-11-27T01:00:00Z',
  '2026-11-27T01:00:00.1Z',
  '2026-11-27T01:00:00.123Z',
  '2026-11-27T01:00:00.123456789Z',
  '2026-11-27T01:00:00.Z',
  '2026-11-27T01:00:00',
  '2026-11-27T01:00Z',
  '2026-11-27T01:00:00+0700',
  '2026-11-27T01:00:00+07',
  '2026-11-27T01:00:00+24:00',
  '2026-11-27T01:00:00+23:59',
  '2026-11-27T01:00:00-00:00',
  '2026-11-27T01:00:00+00:60',
  '2026-11-27 01:00:00Z',
  '2026-11-27t01:00:00z',
  '2026-11-27T24:00:00Z',
  '2016-12-31T23:59:60Z',
  '2024-02-29T00:00:00Z',
  '2023-02-29T00:00:00Z',
  '2000-02-29T00:00:00Z',
  '2100-02-29T00:00:00Z',
  '2026-04-31T00:00:00Z',
  '2026-13-01T00:00:00Z',
  '1999-12-31T23:59:59-01:00',
  '1999-12-31T23:59:59.999Z',
  '0000-01-01T00:00:00Z',
  '9999-12-31T23:59:59Z',
  '+002026-11-27T01:00:00Z',
  '2999-01-01T00:00:00Z',
  ' 2026-11-27T01:00:00Z',
  '2026-11-27T01:00:00Z\n',
  '2026-11-27',
  '1795741200000',
  '',
  null,
  [],
  {},
  true,
];

const SEQUENCE_EDGES: unknown[] = [
  0,
  -0,
  1,
  -1,
  1.5,
  Number.MAX_SAFE_INTEGER,
  2 ** 53,
  1e21,
  rawToken('1e999'),
  rawToken('7.0'),
  '1',
  null,
  [],
  {},
];

const PROTOTYPE_KEYS = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', 'prototype'];
const FOREIGN_KEYS = ['district', 'areaId', 'type', 'Ts', 'metric', 'value', ...PROTOTYPE_KEYS];

/** An ISO-8601 time near the fixtures' time, with a random offset and fraction: all valid. */
function randomIsoTimestamp(random: () => number): string {
  const instant = TS_MS - Math.floor(random() * 86_400_000);
  const offsetMinutes = Math.floor(random() * 57) * 15 - 14 * 60; // -14:00 … +14:00
  const local = new Date(instant + offsetMinutes * 60_000).toISOString().slice(0, 19);
  const digits = Math.floor(random() * 10);
  const fraction = digits === 0 ? '' : `.${String(instant % 1000).padStart(3, '0')}${'7'.repeat(digits)}`;
  const hours = String(Math.floor(Math.abs(offsetMinutes) / 60)).padStart(2, '0');
  const minutes = String(Math.abs(offsetMinutes) % 60).padStart(2, '0');
  const offset =
    offsetMinutes === 0 && random() < 0.5 ? 'Z' : `${offsetMinutes < 0 ? '-' : '+'}${hours}:${minutes}`;
  return `${local}${fraction}${offset}`;
}

function randomValidValue(definition: MetricDefinition, random: () => number): unknown {
  switch (definition.kind) {
    case 'number':
      return definition.min + random() * (definition.max - definition.min);
    case 'integer':
      return definition.min + Math.floor(random() * (definition.max - definition.min + 1));
    case 'boolean':
      return random() < 0.5;
    case 'enum':
      return definition.values[Math.floor(random() * definition.values.length)];
    case 'text':
      return `${Math.floor(random() * 10)}.${Math.floor(random() * 10)}.${Math.floor(random() * 100)}`;
  }
}

/** The raw text of one message of a kind: valid, or mutated at up to three places. */
function generateMessage(kind: MessageKind, random: () => number): string {
  const pick = <T>(values: readonly T[]): T => values[Math.floor(random() * values.length)]!;
  const names = [...kind.required, ...kind.optional];
  const metrics: Record<string, unknown> = {};
  // Contract order or shuffled: the output must come out in contract order either way.
  const present = [...kind.required, ...kind.optional.filter(() => random() < 0.5)];
  if (random() < 0.5) present.sort(() => random() - 0.5);
  for (const name of present) metrics[name] = randomValidValue(METRIC_CATALOGUE[name], random);

  const message: Record<string, unknown> = {};
  if (kind.channel !== 'status' || random() < 0.7) {
    message['ts'] = random() < 0.5 ? TS_MS - Math.floor(random() * 86_400_000) : randomIsoTimestamp(random);
  }
  if (random() < 0.7) message['seq'] = Math.floor(random() * 1_000_000);
  if (kind.event !== undefined) message['event'] = kind.event;
  message['metrics'] = metrics;

  const mutations = random() < 0.2 ? 0 : random() < 0.7 ? 1 : 2 + Math.floor(random() * 2);
  let rawPrefix = '';
  let wholePayload: unknown;
  for (let i = 0; i < mutations; i++) {
    const name = pick(names);
    switch (Math.floor(random() * 14)) {
      case 0:
      case 1:
      case 2:
        metrics[name] = pick(edgeValues(METRIC_CATALOGUE[name]));
        break;
      case 3:
        delete metrics[pick(kind.required)];
        break;
      case 4:
        metrics[pick(METRIC_NAMES.filter((other) => !names.includes(other)))] = 1;
        break;
      case 5:
        setOwn(metrics, pick(PROTOTYPE_KEYS), random() < 0.5 ? { polluted: 'yes' } : 1);
        break;
      case 6:
        message['ts'] = pick(TIMESTAMP_EDGES);
        break;
      case 7:
        delete message['ts'];
        break;
      case 8:
        message['seq'] = pick(SEQUENCE_EDGES);
        break;
      case 9: {
        const events = Object.keys((DEVICE_TYPE_CONTRACTS[kind.type] as DeviceTypeContract).events);
        const event = pick([...events, 'unknown', '', '__proto__', 'constructor', 'toString', 1, null]);
        if (random() < 0.2) delete message['event'];
        else message['event'] = event;
        break;
      }
      case 10:
        setOwn(message, pick(FOREIGN_KEYS), random() < 0.5 ? { polluted: 'yes' } : 1);
        break;
      case 11:
        message['metrics'] = pick([null, [], 'metrics', {}, [metrics], undefined, { metrics }]);
        break;
      case 12:
        // A duplicate key earlier in the text: JSON.parse keeps the last one.
        rawPrefix = pick(['"ts":"bad",', '"metrics":null,', '"seq":-1,', '"event":"accident",']);
        break;
      case 13:
        wholePayload = pick([null, [], [message], 1, 'message', true]);
        break;
    }
  }
  if (wholePayload !== undefined) return toJsonText(wholePayload);
  const text = toJsonText(message);
  return rawPrefix === '' || text === '{}' ? text : `{${rawPrefix}${text.slice(1)}`;
}

const MESSAGES_PER_KIND = 2_000;

describe('fast path and zod alone give the same result on generated messages', () => {
  it.each(KINDS.map((kind, index) => [kind.label, kind, index] as const))('%s', (_label, kind, index) => {
    const random = mulberry32(0x5eed + index);
    const divergences: Divergence[] = [];
    const disagreements: string[] = [];
    let accepted = 0;
    for (let i = 0; i < MESSAGES_PER_KIND; i++) {
      const raw = generateMessage(kind, random);
      const divergence = compare(kind, raw);
      if (divergence) divergences.push(divergence);
      if (!acceptanceAgrees(kind, raw)) disagreements.push(raw);
      if (parsePayloadWithZod(kind.type, kind.channel, raw, { now: NOW }).ok) accepted++;
    }
    expect(divergences.slice(0, 3)).toEqual([]);
    expect(disagreements.slice(0, 3)).toEqual([]);
    // The corpus means something only if it holds plenty of both outcomes.
    expect(accepted).toBeGreaterThan(MESSAGES_PER_KIND * 0.15);
    expect(accepted).toBeLessThan(MESSAGES_PER_KIND * 0.85);
  });
});

// ---------------------------------------------------------------------------------------------
// The other forms: batches of generated messages, generated SenML packs
// ---------------------------------------------------------------------------------------------

const BATCHES_PER_KIND = 150;

describe('fast path and zod alone give the same result on generated batches', () => {
  it.each(
    KINDS.filter((k) => k.channel !== 'status').map((kind, index) => [kind.label, kind, index] as const),
  )('%s', (_label, kind, index) => {
    const random = mulberry32(0xba7c4 + index);
    const divergences: Divergence[] = [];
    let partly = 0;
    for (let i = 0; i < BATCHES_PER_KIND; i++) {
      const elements = Array.from({ length: 1 + Math.floor(random() * 6) }, () =>
        generateMessage(kind, random),
      );
      const raw = `[${elements.join(',')}]`;
      const divergence = compare(kind, raw);
      if (divergence) divergences.push(divergence);
      const result = parsePayloadWithZod(kind.type, kind.channel, raw, { now: NOW });
      if (result.ok && result.rejections.length > 0) partly++;
    }
    expect(divergences.slice(0, 3)).toEqual([]);
    // Batches with both kept readings and refused parts: the case that matters here.
    expect(partly).toBeGreaterThan(BATCHES_PER_KIND * 0.2);
  });
});

/** SenML units a catalogue metric might be sent in: its own, a registry symbol, wrong ones. */
const SENML_UNITS = [
  '1',
  '/',
  'count',
  '%',
  '%RH',
  'ug/m3',
  'mg/m3',
  'Cel',
  'K',
  'hPa',
  'Pa',
  'W',
  'kW',
  'kWh',
  'dB',
  'dBm',
  'm/s',
  'km/h',
  'pH',
  '',
];

/** The raw text of a SenML pack for a telemetry kind: valid records mixed with broken ones. */
function generateSenmlPack(kind: MessageKind, random: () => number): string {
  const pick = <T>(values: readonly T[]): T => values[Math.floor(random() * values.length)]!;
  const names = [...kind.required, ...kind.optional];
  const records: Record<string, unknown>[] = [];
  const count = 1 + Math.floor(random() * 8);
  // A third of the packs are valid throughout: distinct names at up to three instants.
  if (random() < 0.35) {
    for (let i = 0; i < count; i++) {
      const name = names[i % names.length]!;
      const definition = METRIC_CATALOGUE[name];
      const value = randomValidValue(definition, random);
      const field = typeof value === 'boolean' ? 'vb' : typeof value === 'string' ? 'vs' : 'v';
      records.push({
        ...(i === 0 ? { bt: TS_MS / 1000 } : {}),
        n: name,
        ...(random() < 0.5 ? { u: definition.ucum } : {}),
        ...(i >= names.length ? { t: 60 * Math.floor(i / names.length) } : {}),
        [field]: value,
      });
    }
    return toJsonText(records);
  }
  for (let i = 0; i < count; i++) {
    const record: Record<string, unknown> = {};
    if (i === 0 || random() < 0.1) {
      if (random() < 0.5) record['bn'] = pick(['dev-001:', 'dev-002:', '', 'dev-001', 5]);
      record['bt'] = pick([TS_MS / 1000, TS_MS / 1000 + 0.5, 0, -60, 4e9, '1795741200']);
      if (random() < 0.2) record['bu'] = pick(SENML_UNITS);
      if (random() < 0.1) record['bver'] = pick([10, 11, 1.5]);
      if (random() < 0.05) record['x_'] = 1;
    }
    const name = random() < 0.85 ? pick(names) : pick([...METRIC_NAMES, 'nope', '_x', 'dev-002:pm25']);
    if (random() < 0.95) record['n'] = random() < 0.05 ? 3 : name;
    if (random() < 0.6) record['t'] = pick([0, 60, 60, 120, -30, 0.001, 'x', 3e9]);
    const definition = (METRIC_CATALOGUE as Record<string, MetricDefinition | undefined>)[name];
    if (random() < 0.4) {
      record['u'] = definition !== undefined && random() < 0.6 ? definition.ucum : pick([...SENML_UNITS, 7]);
    }
    const value =
      definition === undefined || random() < 0.15
        ? pick([1, true, 'x', null])
        : random() < 0.7
          ? randomValidValue(definition, random)
          : pick(edgeValues(definition));
    const field =
      random() < 0.9
        ? typeof value === 'boolean'
          ? 'vb'
          : typeof value === 'string'
            ? 'vs'
            : 'v'
        : pick(['v', 'vs', 'vb', 'vd', 's']);
    record[field] = value;
    if (random() < 0.03) record['vs'] = 'extra';
    records.push(record);
  }
  return toJsonText(records);
}

const PACKS_PER_KIND = 400;

describe('fast path and zod alone give the same result on generated SenML packs', () => {
  it.each(
    KINDS.filter((k) => k.channel === 'telemetry').map((kind, index) => [kind.label, kind, index] as const),
  )('%s', (_label, kind, index) => {
    const random = mulberry32(0x5e71 + index);
    const divergences: Divergence[] = [];
    const outcomes = { accepted: 0, partly: 0, refused: 0 };
    for (let i = 0; i < PACKS_PER_KIND; i++) {
      const raw = generateSenmlPack(kind, random);
      for (const deviceId of [undefined, 'dev-001']) {
        const options = { now: NOW, ...(deviceId === undefined ? {} : { deviceId }) };
        const withFastPath = parsePayload(kind.type, kind.channel, raw, options);
        const withZodOnly = parsePayloadWithZod(kind.type, kind.channel, raw, options);
        if (
          !isDeepStrictEqual(withFastPath, withZodOnly) ||
          JSON.stringify(withFastPath) !== JSON.stringify(withZodOnly)
        ) {
          divergences.push({ kind: kind.label, raw, withFastPath, withZodOnly });
        }
        if (!withZodOnly.ok) outcomes.refused++;
        else if (withZodOnly.rejections.length > 0) outcomes.partly++;
        else outcomes.accepted++;
      }
    }
    expect(divergences.slice(0, 3)).toEqual([]);
    // The corpus means something only if it holds plenty of every outcome.
    for (const count of Object.values(outcomes)) expect(count).toBeGreaterThan(PACKS_PER_KIND * 0.1);
  });
});

// ---------------------------------------------------------------------------------------------
// fastValidate itself
// ---------------------------------------------------------------------------------------------

describe('fastValidate', () => {
  const camera = 'camera' as const;

  it('returns the payload parsePayload returns for a valid message: the fast path is the one taken', () => {
    for (const kind of KINDS) {
      const metrics = Object.fromEntries(
        [...kind.required, ...kind.optional].map((name) => [name, edgeValues(METRIC_CATALOGUE[name])[0]]),
      );
      const json = {
        ts: '2026-11-27T08:00:00+07:00',
        seq: 1,
        ...(kind.event === undefined ? {} : { event: kind.event }),
        metrics,
      };
      const payload = fastValidate(kind.type, kind.channel, json, NOW);
      expect(payload).toBeDefined();
      const result = parsePayload(kind.type, kind.channel, JSON.stringify(json), { now: NOW });
      expect(result).toStrictEqual({ ok: true, readings: [payload], rejections: [] });
      expect(payload!.ts).toBe(TS_MS);
    }
  });

  it('returns the metrics in contract order, whatever order they were sent in', () => {
    const payload = fastValidate(
      'air-quality-station',
      'telemetry',
      { metrics: { temperature: 30, pm10: 2, pm25: 1 }, ts: TS_MS },
      NOW,
    );
    expect(JSON.stringify(payload)).toBe(
      JSON.stringify({ ts: TS_MS, metrics: { pm25: 1, pm10: 2, temperature: 30 } }),
    );
  });

  it('takes the receipt time for a status message without ts', () => {
    expect(fastValidate(camera, 'status', { metrics: { online: false } }, NOW)).toStrictEqual({
      ts: NOW,
      metrics: { online: false },
    });
  });

  it.each([
    ['a value out of range', { ts: TS_MS, metrics: { pm25: -1, pm10: 1 } }],
    ['no metric at all', { ts: TS_MS, metrics: {} }],
    [
      'one valid and one invalid metric (the slow path keeps the valid one)',
      { ts: TS_MS, metrics: { pm25: 1, pm10: -1 } },
    ],
    ['an unknown metric', { ts: TS_MS, metrics: { pm25: 1, pm10: 1, ph: 7 } }],
    ['an unknown field', { ts: TS_MS, district: 'x', metrics: { pm25: 1, pm10: 1 } }],
    ['a missing ts', { metrics: { pm25: 1, pm10: 1 } }],
    ['an ISO ts without offset', { ts: '2026-11-27T08:00:00', metrics: { pm25: 1, pm10: 1 } }],
    ['a fractional seq', { ts: TS_MS, seq: 1.5, metrics: { pm25: 1, pm10: 1 } }],
    ['an array', [{ ts: TS_MS, metrics: { pm25: 1, pm10: 1 } }]],
    ['null', null],
    ['a __proto__ key', JSON.parse(`{"ts":${TS_MS},"metrics":{"pm25":1,"pm10":1,"__proto__":{}}}`)],
  ])('returns undefined for %s', (_what, json) => {
    expect(fastValidate('air-quality-station', 'telemetry', json, NOW)).toBeUndefined();
  });

  it('picks the camera event variant by its name, as the discriminated union does', () => {
    const accident = { ts: TS_MS, event: 'accident', metrics: { confidence: 0.9 } };
    expect(fastValidate(camera, 'event', accident, NOW)).toStrictEqual(accident);
    expect(fastValidate(camera, 'event', { ...accident, event: 'congestion' }, NOW)).toBeUndefined();
    expect(fastValidate(camera, 'event', { ...accident, event: '__proto__' }, NOW)).toBeUndefined();
  });

  it.each([
    ['toaster', 'telemetry'],
    ['constructor', 'telemetry'],
    ['__proto__', 'telemetry'],
    ['air-quality-station', 'event'],
    ['air-quality-station', 'constructor'],
    ['air-quality-station', 'command'],
  ])('has no validator for %s on %s', (type, channel) => {
    const json = { ts: TS_MS, metrics: { pm25: 1, pm10: 1 } };
    expect(fastValidate(type as DeviceType, channel as DeviceChannel, json, NOW)).toBeUndefined();
  });
});

describe('parsePayload: bytes', () => {
  it('decodes a Uint8Array view into a larger buffer, offset included, as its string', () => {
    const text = `{"ts":${TS_MS},"metrics":{"pm25":1,"pm10":2}}`;
    const padded = new TextEncoder().encode(`xxx${text}yyy`);
    const view = new Uint8Array(padded.buffer, 3, padded.length - 6);
    const slice = Buffer.from(padded).subarray(3, padded.length - 3);
    const expected = parsePayload('air-quality-station', 'telemetry', text, { now: NOW });
    expect(expected.ok).toBe(true);
    for (const raw of [view, slice]) {
      expect(parsePayload('air-quality-station', 'telemetry', raw, { now: NOW })).toStrictEqual(expected);
    }
  });
});
