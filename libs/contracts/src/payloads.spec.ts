import {
  DEVICE_TYPE_CONTRACTS,
  DEVICE_TYPES,
  type DeviceType,
  type DeviceTypeContract,
} from './device-types';
import {
  METRIC_CATALOGUE,
  type MetricDefinition,
  type MetricName,
  type NumericMetric,
} from './metric-catalogue';
import {
  DEFAULT_MAX_FUTURE_SKEW_MS,
  EARLIEST_TIMESTAMP_MS,
  PAYLOAD_SCHEMAS,
  parsePayload,
  type PayloadResult,
} from './payloads';
import type { MetricValue } from './reading';
import { REJECTION_REASONS, type RejectionReason } from './rejections';
import type { DeviceChannel } from './topics';
import { KINDS, type MessageKind } from './spec-support';

// ---------------------------------------------------------------------------------------------
// Examples generated from the catalogue, so a new device type or metric is covered without edits.
// ---------------------------------------------------------------------------------------------

/** 2026-11-27T08:00:00+07:00, derived without Date.parse so the parser is really checked. */
const TS_MS = Date.UTC(2026, 10, 27, 1, 0, 0);
const TS_ISO = '2026-11-27T08:00:00+07:00';
/** Receipt time: five minutes after the observation. */
const NOW = TS_MS + 5 * 60_000;
const SEQ = 42;

const TYPES_WITHOUT_EVENTS = DEVICE_TYPES.filter(
  (type) => Object.keys((DEVICE_TYPE_CONTRACTS[type] as DeviceTypeContract).events).length === 0,
);
const TYPES_WITH_EVENTS = DEVICE_TYPES.filter((type) => !TYPES_WITHOUT_EVENTS.includes(type));

function definitionOf(name: MetricName): MetricDefinition {
  return METRIC_CATALOGUE[name];
}

/** Midpoint of a numeric range, first enum value, true, or the longest text the pattern allows. */
function exampleValue(definition: MetricDefinition): MetricValue {
  switch (definition.kind) {
    case 'number':
      return (definition.min + definition.max) / 2;
    case 'integer':
      return Math.floor((definition.min + definition.max) / 2);
    case 'boolean':
      return true;
    case 'enum':
      return definition.values[0]!;
    case 'text':
      return 'A'.repeat(definition.maxLength);
  }
}

function exampleMetrics(names: readonly MetricName[]): Record<string, MetricValue> {
  return Object.fromEntries(names.map((name) => [name, exampleValue(definitionOf(name))]));
}

function allMetrics(kind: MessageKind): Record<string, MetricValue> {
  return exampleMetrics([...kind.required, ...kind.optional]);
}

function message(kind: MessageKind, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    ts: TS_ISO,
    seq: SEQ,
    ...(kind.event === undefined ? {} : { event: kind.event }),
    metrics: allMetrics(kind),
    ...overrides,
  };
}

function withMetrics(kind: MessageKind, metrics: Record<string, unknown>): string {
  return JSON.stringify(message(kind, { metrics: { ...allMetrics(kind), ...metrics } }));
}

function parse(
  kind: MessageKind,
  raw: string | Uint8Array,
  now = NOW,
  maxFutureSkewMs?: number,
): PayloadResult {
  return parsePayload(kind.type, kind.channel, raw, {
    now,
    ...(maxFutureSkewMs === undefined ? {} : { maxFutureSkewMs }),
  });
}

/**
 * The first refusal: of the whole message, or of the first part refused next to accepted ones
 * (a bad metric is refused alone; the specs below that build one check the rest is kept).
 */
function rejection(result: PayloadResult): { reason: RejectionReason; detail: string } {
  if (result.ok) {
    const first = result.rejections[0];
    if (!first) throw new Error(`expected a rejection, got ${JSON.stringify(result.readings)}`);
    return { reason: first.reason, detail: first.detail };
  }
  return { reason: result.reason, detail: result.detail };
}

/** The one reading of a single message accepted whole, nothing refused. */
function accepted(result: PayloadResult) {
  if (!result.ok) throw new Error(`expected acceptance, got ${result.reason}: ${result.detail}`);
  expect(result.rejections).toEqual([]);
  expect(result.readings).toHaveLength(1);
  return result.readings[0]!;
}

const numericCases = KINDS.flatMap((kind) =>
  [...kind.required, ...kind.optional].flatMap((name) => {
    const definition = definitionOf(name);
    return definition.kind === 'number' || definition.kind === 'integer'
      ? [[kind.label, name, kind, definition] as [string, MetricName, MessageKind, NumericMetric]]
      : [];
  }),
);

const metricCases = KINDS.flatMap((kind) =>
  [...kind.required, ...kind.optional].map(
    (name) =>
      [kind.label, name, kind, definitionOf(name)] as [string, MetricName, MessageKind, MetricDefinition],
  ),
);

const requiredCases = KINDS.flatMap((kind) =>
  kind.required.map((name) => [kind.label, name, kind] as [string, MetricName, MessageKind]),
);

const telemetryOf = (type: DeviceType) => KINDS.find((k) => k.type === type && k.channel === 'telemetry')!;
const statusOf = (type: DeviceType) => KINDS.find((k) => k.type === type && k.channel === 'status')!;
const AQ = telemetryOf('air-quality-station');
const CAMERA_EVENTS = KINDS.filter((kind) => kind.channel === 'event');

// ---------------------------------------------------------------------------------------------

describe('PAYLOAD_SCHEMAS', () => {
  it.each(DEVICE_TYPES)(
    '%s has telemetry and status schemas, and an event schema iff it has events',
    (type) => {
      const schemas = PAYLOAD_SCHEMAS[type];
      expect(schemas.telemetry).toBeDefined();
      expect(schemas.status).toBeDefined();
      expect(schemas.event === undefined).toBe(TYPES_WITHOUT_EVENTS.includes(type));
    },
  );

  it('the generated kinds cover every device type and every camera event', () => {
    expect(new Set(KINDS.map((k) => k.type))).toEqual(new Set(DEVICE_TYPES));
    const events = DEVICE_TYPES.flatMap((type) =>
      Object.keys((DEVICE_TYPE_CONTRACTS[type] as DeviceTypeContract).events),
    );
    expect(CAMERA_EVENTS.map((k) => k.event)).toEqual(events);
    expect(TYPES_WITH_EVENTS.length).toBeGreaterThan(0);
  });
});

describe('parsePayload: valid payloads', () => {
  describe.each(KINDS.map((kind) => [kind.label, kind] as const))('%s', (_label, kind) => {
    const expected = {
      ts: TS_MS,
      seq: SEQ,
      ...(kind.event === undefined ? {} : { event: kind.event }),
      metrics: allMetrics(kind),
    };

    it('accepts a payload with every metric, ts as ISO-8601 with an offset', () => {
      expect(accepted(parse(kind, JSON.stringify(message(kind))))).toEqual(expected);
    });

    it('gives the same ms for ts as epoch milliseconds', () => {
      expect(accepted(parse(kind, JSON.stringify(message(kind, { ts: TS_MS }))))).toEqual(expected);
    });

    it('reads UTF-8 bytes as it reads a string', () => {
      const bytes = new TextEncoder().encode(JSON.stringify(message(kind)));
      expect(accepted(parse(kind, bytes))).toEqual(expected);
      expect(accepted(parse(kind, Buffer.from(bytes)))).toEqual(expected);
    });

    it('accepts only the required metrics and adds no key for absent optional ones', () => {
      const payload = accepted(
        parse(kind, JSON.stringify(message(kind, { metrics: exampleMetrics(kind.required) }))),
      );
      expect(Object.keys(payload.metrics).sort()).toEqual([...kind.required].sort());
    });

    it('accepts the exact ends of every numeric range', () => {
      const metrics = (edge: 'min' | 'max') =>
        Object.fromEntries(
          [...kind.required, ...kind.optional].flatMap((name) => {
            const d = definitionOf(name);
            return d.kind === 'number' || d.kind === 'integer' ? [[name, d[edge]]] : [];
          }),
        );
      expect(accepted(parse(kind, withMetrics(kind, metrics('min')))).metrics).toMatchObject(metrics('min'));
      expect(accepted(parse(kind, withMetrics(kind, metrics('max')))).metrics).toMatchObject(metrics('max'));
    });
  });

  it.each([
    ['Z', '2026-11-27T01:00:00Z', TS_MS],
    ['+07:00', '2026-11-27T08:00:00+07:00', TS_MS],
    ['-03:30', '2026-11-26T21:30:00-03:30', TS_MS],
    ['+00:00', '2026-11-27T01:00:00+00:00', TS_MS],
    ['milliseconds', '2026-11-27T08:00:00.250+07:00', TS_MS + 250],
    ['one fractional digit', '2026-11-27T08:00:00.5+07:00', TS_MS + 500],
    ['a leap day', '2024-02-29T12:00:00Z', Date.UTC(2024, 1, 29, 12)],
  ])('normalises an ISO-8601 ts with %s', (_label, ts, ms) => {
    expect(accepted(parse(AQ, JSON.stringify(message(AQ, { ts })))).ts).toBe(ms);
  });

  it.each([0, 1, 2 ** 31, Number.MAX_SAFE_INTEGER])('keeps seq %d', (seq) => {
    expect(accepted(parse(AQ, JSON.stringify(message(AQ, { seq })))).seq).toBe(seq);
  });

  it('adds no seq key when the device sends none', () => {
    const { seq: _seq, ...rest } = message(AQ);
    expect(accepted(parse(AQ, JSON.stringify(rest)))).not.toHaveProperty('seq');
  });

  it('accepts insignificant whitespace and key order', () => {
    const raw = `\n\t {  "metrics" : { "pm10": 40, "pm25" : 20 } ,\r\n "ts":${TS_MS} }  `;
    expect(accepted(parse(AQ, raw))).toEqual({ ts: TS_MS, metrics: { pm10: 40, pm25: 20 } });
  });
});

describe('parsePayload: out of range', () => {
  /** ε: one step for integers; for reals, small but large enough to change the value. */
  const epsilon = (d: NumericMetric) => (d.kind === 'integer' ? 1 : Math.max(1e-9, (d.max - d.min) * 1e-6));

  it.each(numericCases)('%s: %s', (_label, name, kind, definition) => {
    const e = epsilon(definition);
    for (const value of [definition.min - e, definition.max + e]) {
      expect(value < definition.min || value > definition.max).toBe(true);
      const { reason, detail } = rejection(parse(kind, withMetrics(kind, { [name]: value })));
      expect(reason).toBe('out-of-range');
      expect(detail).toContain(`metrics.${name}`);
      expect(detail).toContain(`[${definition.min}, ${definition.max}]`);
      if (definition.unit) expect(detail).toContain(definition.unit);
    }
  });

  it('gives a precise detail', () => {
    expect(rejection(parse(AQ, withMetrics(AQ, { pm25: 1000.5 })))).toEqual({
      reason: 'out-of-range',
      detail: 'metrics.pm25 is outside its physical range [0, 1000] µg/m³',
    });
  });

  it('does not call a too-long text out of range', () => {
    const status = statusOf('camera');
    const tooLong = 'A'.repeat(METRIC_CATALOGUE.firmwareVersion.maxLength + 1);
    const { reason, detail } = rejection(parse(status, withMetrics(status, { firmwareVersion: tooLong })));
    expect(reason).toBe('schema-violation');
    expect(detail).toContain('metrics.firmwareVersion');
  });
});

describe('parsePayload: wrong types', () => {
  function wrongValues(definition: MetricDefinition): unknown[] {
    switch (definition.kind) {
      case 'number':
      case 'integer':
        return [String(exampleValue(definition)), true, null, [], {}];
      case 'boolean':
        return ['true', 1, 0, null];
      case 'enum':
        return [0, null, `${definition.values[0]}x`, definition.values[0]!.toUpperCase() + '!'];
      case 'text':
        return [5, false, null, ['1.0']];
    }
  }

  it.each(metricCases)('%s: %s', (_label, name, kind, definition) => {
    for (const value of wrongValues(definition)) {
      const { reason, detail } = rejection(parse(kind, withMetrics(kind, { [name]: value })));
      expect(reason).toBe('schema-violation');
      expect(detail).toContain(`metrics.${name}`);
      // null is a wrong value, not a missing one.
      expect(detail).not.toContain('is required');
    }
  });

  it.each(numericCases.filter(([, , , d]) => d.kind === 'integer'))(
    '%s: %s must be an integer',
    (_label, name, kind, definition) => {
      const value = Math.floor((definition.min + definition.max) / 2) + 0.5;
      expect(rejection(parse(kind, withMetrics(kind, { [name]: value })))).toEqual({
        reason: 'schema-violation',
        detail: `metrics.${name} must be an integer`,
      });
    },
  );

  it.each([
    ['ts', true],
    ['ts', {}],
    ['ts', [TS_MS]],
    ['ts', null],
    ['ts', -1],
    ['ts', TS_MS + 0.5],
    ['seq', '1'],
    ['seq', -1],
    ['seq', 1.5],
    ['seq', null],
    ['seq', Number.MAX_SAFE_INTEGER + 2],
    ['metrics', []],
    ['metrics', null],
    ['metrics', 'pm25=1'],
    ['metrics', 5],
  ])('names the top-level field %s when it is %j', (field, value) => {
    const { reason, detail } = rejection(parse(AQ, JSON.stringify(message(AQ, { [field]: value }))));
    expect(reason).toBe('schema-violation');
    expect(detail.startsWith(field)).toBe(true);
  });

  it.each([null, 42, 'text', true])('rejects a whole payload of %j', (payload) => {
    const { reason, detail } = rejection(parse(AQ, JSON.stringify(payload)));
    expect(reason).toBe('schema-violation');
    expect(detail).toMatch(/^\(payload\): .*expected object/);
  });
});

describe('parsePayload: unknown and missing fields', () => {
  it.each(KINDS.map((kind) => [kind.label, kind] as const))(
    '%s: an unknown metric is named',
    (_label, kind) => {
      const { reason, detail } = rejection(parse(kind, withMetrics(kind, { pm25Typo: 1 })));
      expect(reason).toBe('schema-violation');
      expect(detail).toBe('metrics: unknown field(s) "pm25Typo"');
    },
  );

  it.each(KINDS.map((kind) => [kind.label, kind] as const))(
    '%s: a catalogue metric that belongs to other device types is named',
    (_label, kind) => {
      const allowed = new Set<string>([...kind.required, ...kind.optional]);
      const foreign = Object.keys(METRIC_CATALOGUE).find((name) => !allowed.has(name))!;
      const value = exampleValue(definitionOf(foreign as MetricName));
      const { reason, detail } = rejection(parse(kind, withMetrics(kind, { [foreign]: value })));
      expect(reason).toBe('schema-violation');
      expect(detail).toContain(`"${foreign}"`);
    },
  );

  it('refuses a metric the platform derives (aqi, aqiDominant) from the device itself, keeping its measurements', () => {
    // DeviceTypeContract.derived: the hourly VN_AQI is computed by the platform, never taken from a device.
    const result = parse(
      AQ,
      JSON.stringify({ ts: TS_MS, metrics: { pm25: 31.2, aqi: 90, aqiDominant: 'pm25' } }),
    );
    expect(result).toMatchObject({ ok: true, readings: [{ ts: TS_MS, metrics: { pm25: 31.2 } }] });
    expect(result.ok && result.readings[0]!.metrics).toEqual({ pm25: 31.2 });
    expect(result.rejections).toEqual([
      { reason: 'schema-violation', detail: 'metrics: unknown field(s) "aqi", "aqiDominant"', metric: 'aqi' },
    ]);
    // The same in a SenML pack.
    const senml = parsePayload(
      'air-quality-station',
      'telemetry',
      JSON.stringify([
        { bt: TS_MS / 1000, n: 'pm25', u: 'ug/m3', v: 31.2 },
        { n: 'aqi', v: 90 },
      ]),
      { now: NOW },
    );
    expect(senml.ok && senml.readings).toEqual([{ ts: TS_MS, metrics: { pm25: 31.2 } }]);
    expect(senml.rejections).toMatchObject([{ index: 1, metric: 'aqi' }]);
  });

  it.each(['extra', 'deviceId', 'district', 'areaId', 'location', 'type', 'unit', 'TS'])(
    'an unknown top-level field %s is named (the registry, not the payload, says where a device is)',
    (field) => {
      const { reason, detail } = rejection(parse(AQ, JSON.stringify(message(AQ, { [field]: 'x' }))));
      expect(reason).toBe('schema-violation');
      expect(detail).toBe(`(payload): unknown field(s) "${field}"`);
    },
  );

  it('refuses an event field on telemetry', () => {
    const { detail } = rejection(parse(AQ, JSON.stringify(message(AQ, { event: 'accident' }))));
    expect(detail).toContain('"event"');
  });

  it('lists a handful of unknown fields and counts the rest', () => {
    const metrics = {
      ...allMetrics(AQ),
      ...Object.fromEntries(Array.from({ length: 10_000 }, (_, i) => [`x${i}`, i])),
    };
    const { reason, detail } = rejection(parse(AQ, JSON.stringify(message(AQ, { metrics }))));
    expect(reason).toBe('schema-violation');
    expect(detail).toBe('metrics: unknown field(s) "x0", "x1", "x2", "x3", "x4" and 9995 more');
  });

  it.each(requiredCases)(
    '%s: without %s (an analyser down) the other metrics are kept, nothing refused',
    (_label, name, kind) => {
      const metrics = allMetrics(kind);
      delete metrics[name];
      expect(accepted(parse(kind, JSON.stringify(message(kind, { metrics }))))).toEqual({
        ts: TS_MS,
        seq: SEQ,
        ...(kind.event === undefined ? {} : { event: kind.event }),
        metrics,
      });
    },
  );

  it.each(
    KINDS.flatMap((kind) =>
      [...kind.required, ...kind.optional].map((name) => [kind.label, name, kind] as const),
    ),
  )('%s: %s alone is a reading', (_label, name, kind) => {
    const metrics = exampleMetrics([name]);
    expect(accepted(parse(kind, JSON.stringify(message(kind, { metrics })))).metrics).toEqual(metrics);
  });

  it.each(KINDS.map((kind) => [kind.label, kind] as const))(
    '%s: an empty metrics object is refused whole',
    (_label, kind) => {
      expect(rejection(parse(kind, JSON.stringify(message(kind, { metrics: {} }))))).toEqual({
        reason: 'schema-violation',
        detail: 'metrics must hold at least one metric',
      });
    },
  );

  it.each(KINDS.filter((k) => k.channel !== 'status').map((kind) => [kind.label, kind] as const))(
    '%s: missing ts is named as required',
    (_label, kind) => {
      const { ts: _ts, ...rest } = message(kind);
      expect(rejection(parse(kind, JSON.stringify(rest)))).toEqual({
        reason: 'schema-violation',
        detail: 'ts is required',
      });
    },
  );

  it.each(KINDS.map((kind) => [kind.label, kind] as const))(
    '%s: missing metrics is named',
    (_label, kind) => {
      const { metrics: _metrics, ...rest } = message(kind);
      expect(rejection(parse(kind, JSON.stringify(rest))).detail).toBe('metrics is required');
    },
  );
});

describe('parsePayload: malformed JSON', () => {
  const valid = JSON.stringify(message(AQ));
  it.each([
    ['truncated', valid.slice(0, -1)],
    ['truncated mid-value', valid.slice(0, valid.indexOf('"pm25":') + 8)],
    ['NaN', `{"ts":${TS_MS},"metrics":{"pm25":NaN,"pm10":1}}`],
    ['Infinity', `{"ts":${TS_MS},"metrics":{"pm25":Infinity,"pm10":1}}`],
    ['a trailing comma', `{"ts":${TS_MS},"metrics":{"pm25":1,"pm10":1},}`],
    ['a trailing comma in metrics', `{"ts":${TS_MS},"metrics":{"pm25":1,"pm10":1,}}`],
    ['an empty string', ''],
    ['whitespace only', ' \n\t '],
    ['single quotes', `{'ts':${TS_MS},'metrics':{'pm25':1,'pm10':1}}`],
    ['unquoted keys', `{ts:${TS_MS},metrics:{pm25:1,pm10:1}}`],
    ['a comment', `{"ts":${TS_MS},/* x */"metrics":{"pm25":1,"pm10":1}}`],
    ['two documents', `${valid}${valid}`],
    ['a byte-order mark', `\uFEFF${valid}`],
    ['undefined', 'undefined'],
    ['a hex number', `{"ts":${TS_MS},"metrics":{"pm25":0x10,"pm10":1}}`],
    ['a raw control character in a string', `{"ts":"2026-11-27T08:00:00\u0000+07:00"}`],
    ['binary garbage as text', '\u0000\u0001\u00ff\ufffd\u0080'],
  ])('%s', (_label, raw) => {
    const { reason, detail } = rejection(parse(AQ, raw));
    expect(reason).toBe('malformed-json');
    expect(detail.length).toBeGreaterThan(0);
    expect(detail.length).toBeLessThanOrEqual(400);
    // eslint-disable-next-line no-control-regex
    expect(detail).not.toMatch(/[\u0000-\u001f\u007f-\u009f]/);
  });

  it.each([
    ['invalid UTF-8', [0xff, 0xfe, 0x00, 0x80, 0xc3]],
    ['NUL bytes', [0, 0, 0, 0]],
    ['a lone continuation byte inside JSON', [...Buffer.from('{"ts":'), 0x80, ...Buffer.from('}')]],
    ['a gzip header', [0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00]],
    ['an empty buffer', []],
  ])('binary garbage: %s', (_label, bytes) => {
    const { reason, detail } = rejection(parse(AQ, Uint8Array.from(bytes)));
    expect(reason).toBe('malformed-json');
    // eslint-disable-next-line no-control-regex
    expect(detail).not.toMatch(/[\u0000-\u001f\u007f-\u009f]/);
  });
});

describe('parsePayload: timestamps', () => {
  const at = (ts: string | number, now = NOW, skew?: number) =>
    parse(AQ, JSON.stringify(message(AQ, { ts })), now, skew);

  it('accepts a ts exactly the allowed skew ahead and refuses one ms more', () => {
    const edge = NOW + DEFAULT_MAX_FUTURE_SKEW_MS;
    expect(accepted(at(edge)).ts).toBe(edge);
    expect(accepted(at(new Date(edge).toISOString())).ts).toBe(edge);
    const { reason, detail } = rejection(at(edge + 1));
    expect(reason).toBe('timestamp-in-future');
    expect(detail).toContain(new Date(edge + 1).toISOString());
    expect(detail).toContain(`${DEFAULT_MAX_FUTURE_SKEW_MS / 1000} s`);
  });

  it('honours maxFutureSkewMs', () => {
    expect(rejection(at(NOW + 1, NOW, 0)).reason).toBe('timestamp-in-future');
    expect(accepted(at(NOW, NOW, 0)).ts).toBe(NOW);
    expect(accepted(at(NOW + 30 * 60_000, NOW, 60 * 60_000)).ts).toBe(NOW + 30 * 60_000);
    expect(rejection(at(NOW + 61 * 60_000, NOW, 60 * 60_000)).detail).toContain('3600 s');
  });

  it.each([
    '2099-01-01T00:00:00Z',
    '2026-11-27T09:00:00+07:00',
    '2026-11-27T01:10:00.001Z',
    '9999-12-31T23:59:59Z',
  ])('refuses %s as in the future', (ts) => {
    expect(rejection(at(ts)).reason).toBe('timestamp-in-future');
  });

  it.each([8.64e15, 8.64e15 + 1, 9e15, Number.MAX_SAFE_INTEGER])(
    'refuses epoch %d, beyond what a Date can hold, without throwing',
    (ts) => {
      const { reason, detail } = rejection(at(ts));
      expect(reason).toBe('timestamp-in-future');
      expect(detail).toContain('ts ');
    },
  );

  it('accepts 2000-01-01T00:00:00Z exactly and refuses one ms before', () => {
    expect(accepted(at(EARLIEST_TIMESTAMP_MS, EARLIEST_TIMESTAMP_MS)).ts).toBe(Date.UTC(2000, 0, 1));
    const { reason, detail } = rejection(at(EARLIEST_TIMESTAMP_MS - 1));
    expect(reason).toBe('timestamp-too-old');
    expect(detail).toBe('ts 1999-12-31T23:59:59.999Z is before 2000-01-01');
  });

  it.each([
    ['the epoch', 0],
    ['epoch seconds instead of milliseconds', Math.floor(TS_MS / 1000)],
    ['the last ms of 1999', '1999-12-31T23:59:59.999Z'],
    ['1999 in a negative offset', '1999-12-31T22:00:00-01:00'],
    ['year 0', '0000-01-01T00:00:00Z'],
    ['1970', '1970-01-01T00:00:00+07:00'],
  ])('refuses %s as too old', (_label, ts) => {
    expect(rejection(at(ts)).reason).toBe('timestamp-too-old');
  });

  it('compares the instant, not the local date (1999-12-31 23:59:59 at -01:00 is in 2000 UTC)', () => {
    expect(accepted(at('1999-12-31T23:59:59-01:00', NOW)).ts).toBe(Date.UTC(2000, 0, 1, 0, 59, 59));
  });

  it.each([
    ['no offset', '2026-11-27T08:00:00'],
    ['a date only', '2026-11-27'],
    ['a space for T', '2026-11-27 08:00:00+07:00'],
    ['no seconds', '2026-11-27T08:00+07:00'],
    ['a compact offset', '2026-11-27T08:00:00+0700'],
    ['an hour-only offset', '2026-11-27T08:00:00+07'],
    ['hour 24', '2026-11-27T24:00:00Z'],
    ['minute 60', '2026-11-27T08:60:00Z'],
    ['second 60', '2026-11-27T08:00:60Z'],
    ['month 13', '2026-13-01T08:00:00Z'],
    ['30 February', '2026-02-30T08:00:00Z'],
    ['29 February in a common year', '2026-02-29T08:00:00Z'],
    ['offset +24:00', '2026-11-27T08:00:00+24:00'],
    ['a lowercase t and z', '2026-11-27t01:00:00z'],
    ['RFC 2822', 'Fri, 27 Nov 2026 01:00:00 GMT'],
    ['a numeric string', String(TS_MS)],
    ['an empty string', ''],
    ['words', 'now'],
    ['a 10 kB string', `2026-11-27T08:00:00+07:00${' '.repeat(10_000)}`],
  ])('refuses an invalid ISO string: %s', (_label, ts) => {
    const { reason, detail } = rejection(at(ts));
    expect(reason).toBe('schema-violation');
    expect(detail).toMatch(/^ts must be an ISO-8601 date-time with a UTC offset/);
  });
});

describe('parsePayload: camera events', () => {
  const camera = CAMERA_EVENTS[0]!;

  it.each(CAMERA_EVENTS.map((kind) => [kind.event!, kind] as const))(
    '%s is accepted with its required metrics only',
    (event, kind) => {
      const raw = JSON.stringify({ ts: TS_MS, event, metrics: exampleMetrics(kind.required) });
      expect(accepted(parse(kind, raw))).toEqual({
        ts: TS_MS,
        event,
        metrics: exampleMetrics(kind.required),
      });
    },
  );

  it.each(['explosion', 'Accident', 'ACCIDENT', 'accident ', '', 'constructor', '__proto__', 'toString'])(
    'refuses the unknown event %j and lists the known ones',
    (event) => {
      const { reason, detail } = rejection(parse(camera, JSON.stringify(message(camera, { event }))));
      expect(reason).toBe('schema-violation');
      expect(detail.startsWith('event must be one of ')).toBe(true);
      for (const known of CAMERA_EVENTS) expect(detail).toContain(`"${known.event}"`);
    },
  );

  it.each([5, true, null, ['accident'], { name: 'accident' }])('refuses an event of %j', (event) => {
    const { reason, detail } = rejection(parse(camera, JSON.stringify(message(camera, { event }))));
    expect(reason).toBe('schema-violation');
    expect(detail.startsWith('event')).toBe(true);
    expect(detail).not.toContain('required');
  });

  it('names a missing event as required', () => {
    const { event: _event, ...rest } = message(camera);
    expect(rejection(parse(camera, JSON.stringify(rest))).detail).toBe('event is required');
  });

  it.each(CAMERA_EVENTS.map((kind) => [kind.event!, kind] as const))(
    '%s refuses a metric of another event or of telemetry',
    (_event, kind) => {
      const own = new Set<string>([...kind.required, ...kind.optional]);
      const others = [
        ...CAMERA_EVENTS.flatMap((k) => [...k.required, ...k.optional]),
        ...telemetryOf(kind.type).required,
      ].filter((name) => !own.has(name));
      expect(others.length).toBeGreaterThan(0);
      for (const name of others) {
        const { detail } = rejection(
          parse(kind, withMetrics(kind, { [name]: exampleValue(definitionOf(name)) })),
        );
        expect(detail).toContain(`"${name}"`);
      }
    },
  );

  it.each(TYPES_WITHOUT_EVENTS)('%s refuses anything on .../event, even a valid camera event', (type) => {
    for (const raw of [JSON.stringify(message(camera)), JSON.stringify(message(telemetryOf(type))), '{}']) {
      const detail = `a ${type} sends no messages on "event"`;
      expect(parsePayload(type, 'event', raw, { now: NOW })).toEqual({
        ok: false,
        reason: 'schema-violation',
        detail,
        rejections: [{ reason: 'schema-violation', detail }],
      });
    }
  });
});

describe('parsePayload: status', () => {
  it.each(DEVICE_TYPES)('%s: a status without ts takes the receipt time', (type) => {
    const kind = statusOf(type);
    for (const now of [NOW, EARLIEST_TIMESTAMP_MS, NOW + 123_456]) {
      const payload = accepted(parse(kind, '{"metrics":{"online":false}}', now));
      expect(payload).toEqual({ ts: now, metrics: { online: false } });
    }
  });

  it('keeps a ts the device sends, and checks it like any other', () => {
    const kind = statusOf('street-light');
    expect(accepted(parse(kind, `{"ts":"${TS_ISO}","metrics":{"online":true}}`)).ts).toBe(TS_MS);
    expect(rejection(parse(kind, '{"ts":"2099-01-01T00:00:00Z","metrics":{"online":true}}')).reason).toBe(
      'timestamp-in-future',
    );
  });

  it('refuses telemetry metrics on status', () => {
    const kind = statusOf('air-quality-station');
    const { detail } = rejection(parse(kind, '{"metrics":{"online":true,"pm25":3}}'));
    expect(detail).toBe('metrics: unknown field(s) "pm25"');
  });

  it.each(['1.4.2', 'v2.0.0-rc.1+b7', 'FW 3.1 (build 45)', '2024.10.01_r3', 'A'])(
    'accepts the firmware version %j',
    (firmwareVersion) => {
      const kind = statusOf('camera');
      expect(accepted(parse(kind, withMetrics(kind, { firmwareVersion }))).metrics.firmwareVersion).toBe(
        firmwareVersion,
      );
    },
  );
});

describe('parsePayload: hostile input', () => {
  const HUGE = 'x'.repeat(10_000);
  const HOSTILE_STRINGS = [
    '"',
    '"quoted"',
    "it's",
    '\\',
    '<script>alert(1)</script>',
    '<img src=x onerror=alert(1)>',
    "'; DROP TABLE readings; --",
    'pm25 value=1 1795741200000000000\n',
    '${7*7}',
    HUGE,
    '\u0000',
    'a\u0000b',
    '1.0\u0000<script>',
    '\r\n',
    '\u001b[31mred',
    '\ud800',
    '\u202eevil',
    '',
  ];
  const HOSTILE_KEYS = [
    ...HOSTILE_STRINGS,
    '__proto__',
    'constructor',
    'prototype',
    'toString',
    'hasOwnProperty',
  ];

  const camera = CAMERA_EVENTS[0]!;
  const cameraStatus = statusOf('camera');
  const signal = telemetryOf('traffic-signal');
  const counter = telemetryOf('traffic-counter');

  /** Every place a device-controlled string can go, as [label, kind, raw payload]. */
  const placements = (s: string): [string, MessageKind, string][] => [
    ['a number metric value', AQ, withMetrics(AQ, { pm25: s })],
    ['an integer metric value', counter, withMetrics(counter, { intensity: s })],
    ['a boolean metric value', signal, withMetrics(signal, { signalFault: s })],
    ['an enum metric value', signal, withMetrics(signal, { signalMode: s })],
    ['a text metric value', cameraStatus, withMetrics(cameraStatus, { firmwareVersion: s })],
    ['the ts', AQ, JSON.stringify(message(AQ, { ts: s }))],
    ['the seq', AQ, JSON.stringify(message(AQ, { seq: s }))],
    ['the metrics', AQ, JSON.stringify(message(AQ, { metrics: s }))],
    ['the event name', camera, JSON.stringify(message(camera, { event: s }))],
    ['the whole payload', AQ, JSON.stringify(s)],
    ['the whole payload, raw', AQ, s],
  ];
  const keyPlacements = (key: string): [string, MessageKind, string][] => [
    ['a metric key', AQ, withMetrics(AQ, { [key]: 1 })],
    ['a top-level key', AQ, JSON.stringify(message(AQ, { [key]: 1 }))],
    ['an event metric key', camera, withMetrics(camera, { [key]: 1 })],
    ['a status metric key', cameraStatus, withMetrics(cameraStatus, { [key]: true })],
  ];

  function expectSafeRejection(kind: MessageKind, raw: string, input: string): void {
    let result: PayloadResult | undefined;
    expect(() => {
      result = parse(kind, raw);
    }).not.toThrow();
    const { reason, detail } = rejection(result!);
    expect(REJECTION_REASONS).toContain(reason);
    expect(detail.length).toBeGreaterThan(0);
    expect(detail.length).toBeLessThanOrEqual(400);
    if (input.length > 100) expect(detail).not.toContain(input.slice(0, 100));
    // eslint-disable-next-line no-control-regex
    expect(detail).not.toMatch(/[\u0000-\u001f\u007f-\u009f]/);
  }

  it.each(HOSTILE_STRINGS.map((s) => [JSON.stringify(s).slice(0, 40), s]))(
    'the string %s is refused wherever it is placed',
    (_label, s) => {
      for (const [, kind, raw] of placements(s)) expectSafeRejection(kind, raw, s);
    },
  );

  it.each(HOSTILE_KEYS.map((k) => [JSON.stringify(k).slice(0, 40), k]))(
    'the key %s is refused wherever it is placed',
    (_label, key) => {
      for (const [, kind, raw] of keyPlacements(key)) expectSafeRejection(kind, raw, key);
    },
  );

  it('names a hostile key escaped and cut short', () => {
    const { detail } = rejection(parse(AQ, withMetrics(AQ, { 'a"\u0000<b>': 1, [HUGE]: 2 })));
    expect(detail).toBe(`metrics: unknown field(s) "a\\"\\u0000<b>", "${'x'.repeat(40)}…"`);
  });

  describe('prototype pollution', () => {
    const validMetrics = JSON.stringify(allMetrics(AQ)).slice(1, -1);
    const attempts: [string, MessageKind, string][] = [
      [
        'top-level __proto__',
        AQ,
        `{"__proto__":{"polluted":"yes"},"ts":${TS_MS},"metrics":{${validMetrics}}}`,
      ],
      ['metrics __proto__', AQ, `{"ts":${TS_MS},"metrics":{"__proto__":{"polluted":"yes"},${validMetrics}}}`],
      ['metrics as __proto__ only', AQ, `{"ts":${TS_MS},"metrics":{"__proto__":{${validMetrics}}}}`],
      [
        'constructor.prototype',
        AQ,
        `{"constructor":{"prototype":{"polluted":"yes"}},"ts":${TS_MS},"metrics":{${validMetrics}}}`,
      ],
      [
        'event __proto__',
        camera,
        `{"ts":${TS_MS},"event":"__proto__","metrics":{"__proto__":{"polluted":"yes"}}}`,
      ],
      ['status __proto__', cameraStatus, `{"__proto__":{"polluted":"yes"},"metrics":{"online":true}}`],
    ];

    afterEach(() => {
      delete (Object.prototype as Record<string, unknown>)['polluted'];
    });

    it.each(attempts)('%s is refused and pollutes nothing', (_label, kind, raw) => {
      const result = parse(kind, raw);
      // A __proto__ among valid metrics is refused alone; the valid metrics are kept, as they are.
      if (result.ok) {
        expect(result.readings).toEqual([{ ts: TS_MS, metrics: allMetrics(AQ) }]);
        expect(result.rejections).toEqual([
          {
            reason: 'schema-violation',
            detail: 'metrics: unknown field(s) "__proto__"',
            metric: '__proto__',
          },
        ]);
        expect(Object.getPrototypeOf(result.readings[0]!.metrics)).toBe(Object.prototype);
      }
      expect(REJECTION_REASONS).toContain(rejection(result).reason);
      expect(Object.prototype.hasOwnProperty.call(Object.prototype, 'polluted')).toBe(false);
      expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
    });

    it('the check above can fail: it sees real pollution', () => {
      (Object.prototype as Record<string, unknown>)['polluted'] = 'yes';
      expect(({} as Record<string, unknown>)['polluted']).toBe('yes');
    });
  });

  it('never throws on random bytes', () => {
    // Deterministic xorshift, so a failure reproduces.
    let state = 0x9e3779b9;
    const next = () => {
      state ^= state << 13;
      state ^= state >>> 17;
      state ^= state << 5;
      return state >>> 0;
    };
    const alphabet = Buffer.from('{}[]":,0123456789.-+eE tfnrua\\"metricsts');
    for (let i = 0; i < 2_000; i++) {
      const length = next() % 64;
      const bytes = Uint8Array.from({ length }, () =>
        i % 2 === 0 ? next() & 0xff : alphabet[next() % alphabet.length]!,
      );
      for (const kind of [AQ, camera, cameraStatus]) {
        const result = parse(kind, bytes);
        if (!result.ok) expect(REJECTION_REASONS).toContain(result.reason);
      }
    }
  });
});

describe('parsePayload: device type and channel outside the contract', () => {
  it.each(['toaster', 'constructor', '__proto__', 'toString', ''])('refuses the device type %j', (type) => {
    const result = parsePayload(type as DeviceType, 'telemetry', JSON.stringify(message(AQ)), { now: NOW });
    const detail = `unknown device type "${type}"`;
    expect(result).toEqual({
      ok: false,
      reason: 'schema-violation',
      detail,
      rejections: [{ reason: 'schema-violation', detail }],
    });
  });

  it.each(['command', 'error', 'constructor', '__proto__'])('refuses the channel %j', (channel) => {
    const result = parsePayload('camera', channel as DeviceChannel, JSON.stringify(message(AQ)), {
      now: NOW,
    });
    const detail = `a camera sends no messages on "${channel}"`;
    expect(result).toEqual({
      ok: false,
      reason: 'schema-violation',
      detail,
      rejections: [{ reason: 'schema-violation', detail }],
    });
  });
});
