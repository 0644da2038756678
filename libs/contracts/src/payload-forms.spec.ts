import { METRIC_CATALOGUE } from './metric-catalogue';
import { MAX_ENTRIES_PER_MESSAGE, parsePayload, type PayloadOptions, type PayloadResult } from './payloads';
import { SENML_UNIT_TO_UCUM } from './senml';

/**
 * What a message yields besides one whole reading: a reading with some metrics refused, batches
 * (each element on its own) and SenML packs (RFC 8428).
 */

/** 2026-11-27T08:00:00+07:00 */
const TS_MS = Date.UTC(2026, 10, 27, 1, 0, 0);
const NOW = TS_MS + 5 * 60_000;
const AQ = 'air-quality-station' as const;

const parse = (
  raw: unknown,
  options: Partial<PayloadOptions> = {},
  type = AQ as Parameters<typeof parsePayload>[0],
) =>
  parsePayload(type, 'telemetry', typeof raw === 'string' ? raw : JSON.stringify(raw), {
    now: NOW,
    ...options,
  });

function ok(result: PayloadResult) {
  if (!result.ok) throw new Error(`refused: ${result.reason}: ${result.detail}`);
  return result;
}

describe('a reading with some metrics refused', () => {
  it('keeps the valid metrics and refuses each invalid one with its own reason and metric', () => {
    const result = ok(
      parse({
        ts: TS_MS,
        seq: 9,
        metrics: { pm25: 31.2, pm10: -4, no2: '40', co: 900, o3: 1.5, so2: 1e9, pm2_5: 3, x: 1 },
      }),
    );
    expect(result.readings).toEqual([{ ts: TS_MS, seq: 9, metrics: { pm25: 31.2, co: 900, o3: 1.5 } }]);
    expect(result.rejections).toEqual([
      { reason: 'schema-violation', detail: 'metrics: unknown field(s) "pm2_5", "x"', metric: 'pm2_5' },
      {
        reason: 'out-of-range',
        detail: 'metrics.pm10 is outside its physical range [0, 2000] µg/m³',
        metric: 'pm10',
      },
      {
        reason: 'schema-violation',
        detail: 'metrics.no2: Invalid input: expected number, received string',
        metric: 'no2',
      },
      {
        reason: 'out-of-range',
        detail: 'metrics.so2 is outside its physical range [0, 20000] µg/m³',
        metric: 'so2',
      },
    ]);
  });

  it('refuses the message when no metric survives, listing every refusal', () => {
    const result = parse({ ts: TS_MS, metrics: { pm25: -1, pm10: 'x' } });
    expect(result).toEqual({
      ok: false,
      reason: 'out-of-range',
      detail: 'metrics.pm25 is outside its physical range [0, 1000] µg/m³',
      rejections: [
        {
          reason: 'out-of-range',
          detail: 'metrics.pm25 is outside its physical range [0, 1000] µg/m³',
          metric: 'pm25',
        },
        {
          reason: 'schema-violation',
          detail: 'metrics.pm10: Invalid input: expected number, received string',
          metric: 'pm10',
        },
      ],
    });
  });

  it('refuses the whole message for a broken structure, however good its metrics', () => {
    for (const [message, reason] of [
      [{ ts: 'yesterday', metrics: { pm25: 1 } }, 'schema-violation'],
      [{ ts: TS_MS, seq: -1, metrics: { pm25: 1 } }, 'schema-violation'],
      [{ ts: TS_MS, areaId: 'x', metrics: { pm25: 1 } }, 'schema-violation'],
      [{ ts: TS_MS, metrics: [] }, 'schema-violation'],
      [{ ts: TS_MS + 3_600_000, metrics: { pm25: 1 } }, 'timestamp-in-future'],
    ] as const) {
      const result = parse(message);
      expect(result).toMatchObject({ ok: false, reason });
      expect(result.rejections).toHaveLength(1);
    }
  });

  it('puts the ts refusal first when a reading is refused for its ts and has bad metrics too', () => {
    const result = parse({ ts: TS_MS + 3_600_000, metrics: { pm25: 1, pm10: -1 } });
    expect(result.ok).toBe(false);
    expect(result.rejections.map((r) => r.reason)).toEqual(['timestamp-in-future', 'out-of-range']);
  });
});

describe('batches', () => {
  const element = (i: number, metrics: Record<string, unknown> = { pm25: 10 + i }) => ({
    ts: TS_MS + i * 60_000 - 3_600_000,
    seq: i,
    metrics,
  });

  it('accepts every element of a valid batch as its own reading, in order', () => {
    const batch = Array.from({ length: 50 }, (_, i) => element(i));
    const result = ok(parse(batch));
    expect(result.rejections).toEqual([]);
    expect(result.readings).toEqual(batch);
  });

  it('judges each element on its own and names the refused ones by index', () => {
    const result = ok(
      parse([element(0), 7, element(2, { pm25: -1, pm10: 3 }), { metrics: { pm25: 1 } }, element(4)]),
    );
    expect(result.readings).toEqual([element(0), element(2, { pm10: 3 }), element(4)]);
    expect(result.rejections).toEqual([
      {
        reason: 'schema-violation',
        detail: '[1]: Invalid input: expected object, received number',
        index: 1,
      },
      {
        reason: 'out-of-range',
        detail: '[2].metrics.pm25 is outside its physical range [0, 1000] µg/m³',
        index: 2,
        metric: 'pm25',
      },
      { reason: 'schema-violation', detail: '[3].ts is required', index: 3 },
    ]);
  });

  it(`accepts ${MAX_ENTRIES_PER_MESSAGE} elements and refuses one more, whole`, () => {
    const batch = Array.from({ length: MAX_ENTRIES_PER_MESSAGE + 1 }, (_, i) => element(i % 60));
    expect(ok(parse(batch.slice(0, -1))).readings).toHaveLength(MAX_ENTRIES_PER_MESSAGE);
    expect(parse(batch)).toMatchObject({ ok: false, reason: 'too-many-readings' });
  });

  it('carries camera events; refuses batches on status', () => {
    const events = [
      { ts: TS_MS, event: 'accident', metrics: { confidence: 0.9 } },
      { ts: TS_MS, event: 'explosion', metrics: { confidence: 0.9 } },
    ];
    const result = parsePayload('camera', 'event', JSON.stringify(events), { now: NOW });
    expect(result).toMatchObject({ ok: true, readings: [events[0]], rejections: [{ index: 1 }] });
    expect(
      parsePayload('camera', 'status', JSON.stringify([{ metrics: { online: true } }]), { now: NOW }),
    ).toMatchObject({
      ok: false,
      reason: 'schema-violation',
    });
  });
});

describe('SenML packs (RFC 8428)', () => {
  const BT = TS_MS / 1000;

  it('resolves base name, base time, base unit and base value; groups records by time', () => {
    const result = ok(
      parse(
        [
          { bn: 'aq-1:', bt: BT, bu: 'ug/m3', bv: 10, n: 'pm25', v: 1 },
          { n: 'pm10', v: 5 },
          { n: 'pm25', t: 60, v: 2 },
          { n: 'temperature', u: 'Cel', t: 60, v: 20 },
        ],
        { deviceId: 'aq-1' },
      ),
    );
    expect(result.readings).toEqual([
      { ts: TS_MS, metrics: { pm25: 11, pm10: 15 } },
      { ts: TS_MS + 60_000, metrics: { pm25: 12, temperature: 30 } },
    ]);
    expect(result.rejections).toEqual([]);
  });

  it('takes times below 2^28 s as relative to the receipt time, and no time as now', () => {
    const result = ok(
      parse([
        { n: 'pm25', v: 1 },
        { n: 'pm10', t: -60, v: 2 },
      ]),
    );
    expect(result.readings).toEqual([
      { ts: NOW, metrics: { pm25: 1 } },
      { ts: NOW - 60_000, metrics: { pm10: 2 } },
    ]);
  });

  it('checks a device prefix against the topic device id', () => {
    const pack = [{ bn: 'aq-1:', bt: BT, n: 'pm25', v: 1 }];
    expect(ok(parse(pack, { deviceId: 'aq-1' })).readings).toHaveLength(1);
    expect(parse(pack, { deviceId: 'aq-2' })).toMatchObject({
      ok: false,
      rejections: [{ index: 0, metric: 'pm25' }],
    });
    expect(parse(pack)).toMatchObject({ ok: false, reason: 'schema-violation' });
  });

  it.each(
    Object.values(METRIC_CATALOGUE)
      .map((definition, i) => [Object.keys(METRIC_CATALOGUE)[i]!, definition.ucum] as const)
      .filter(([name]) => ['pm25', 'pm10', 'no2', 'temperature', 'relativeHumidity'].includes(name)),
  )('accepts %s in its catalogue unit %s', (name, ucum) => {
    expect(ok(parse([{ bt: BT, n: name, u: ucum, v: 0.5 }])).readings).toEqual([
      { ts: TS_MS, metrics: { [name]: 0.5 } },
    ]);
  });

  it('maps SenML symbols to UCUM codes without converting values, and refuses other units', () => {
    expect(SENML_UNIT_TO_UCUM['/']).toBe('1');
    expect(ok(parse([{ bt: BT, n: 'relativeHumidity', u: '/', v: 0.8 }])).readings[0]!.metrics).toEqual({
      relativeHumidity: 0.8,
    });
    for (const [name, unit] of [
      ['relativeHumidity', '%RH'],
      ['pm25', 'mg/m3'],
      ['temperature', 'K'],
    ] as const) {
      const result = parse([
        { bt: BT, n: name, u: unit, v: 1 },
        { n: 'no2', v: 1 },
      ]);
      expect(ok(result).rejections).toEqual([
        {
          reason: 'unit-mismatch',
          detail: expect.stringContaining(`unit "${unit}" is not the unit of ${name}`),
          index: 0,
          metric: name,
        },
      ]);
    }
  });

  it('refuses per record: unknown metric, wrong value field, out of range, same metric twice at one time', () => {
    const result = ok(
      parse([
        { bt: BT, n: 'pm25', v: 1 },
        { n: 'laeq', v: 50 },
        { n: 'pm10', vs: '3' },
        { n: 'no2', v: 1e6 },
        { n: 'pm25', v: 2 },
        { n: 'co', v: 900 },
      ]),
    );
    expect(result.readings).toEqual([{ ts: TS_MS, metrics: { pm25: 1, co: 900 } }]);
    expect(result.rejections.map(({ reason, index, metric }) => [reason, index, metric])).toEqual([
      ['schema-violation', 1, 'laeq'],
      ['schema-violation', 2, 'pm10'],
      ['out-of-range', 3, 'no2'],
      ['duplicate-key', 4, 'pm25'],
    ]);
  });

  it.each([
    ['a record that is not an object', [{ n: 'pm25', v: 1 }, 3]],
    ['a base time that is not a number', [{ bt: '1795741200', n: 'pm25', v: 1 }]],
    ['a base name that is not a string', [{ bn: 5, n: 'pm25', v: 1 }]],
    ['a must-understand field', [{ n: 'pm25', v: 1, foo_: 1 }]],
    ['a SenML version above 10', [{ bver: 11, n: 'pm25', v: 1 }]],
  ])('refuses the whole pack for %s', (_what, pack) => {
    expect(parse(pack)).toMatchObject({
      ok: false,
      reason: 'schema-violation',
      rejections: [{ reason: 'schema-violation' }],
    });
  });

  it('is accepted on telemetry only', () => {
    expect(
      parsePayload('camera', 'event', JSON.stringify([{ n: 'confidence', v: 0.5 }]), { now: NOW }),
    ).toMatchObject({ ok: false, detail: '(payload): SenML packs are accepted on telemetry only' });
  });
});

describe('hostile text', () => {
  it('refuses a payload that starts with a UTF-8 byte-order mark as malformed JSON', () => {
    const body = JSON.stringify({ ts: NOW - 1000, metrics: { pm25: 5 } });
    const withBom = new Uint8Array([0xef, 0xbb, 0xbf, ...new TextEncoder().encode(body)]);
    expect(parsePayload('air-quality-station', 'telemetry', withBom, { now: NOW })).toMatchObject({
      ok: false,
      reason: 'malformed-json',
    });
    expect(parsePayload('air-quality-station', 'telemetry', `\ufeff${body}`, { now: NOW })).toMatchObject({
      ok: false,
      reason: 'malformed-json',
    });
    expect(parsePayload('air-quality-station', 'telemetry', body, { now: NOW }).ok).toBe(true);
  });

  it('escapes control and bidirectional characters of a made-up metric name, in detail and metric', () => {
    const name = 'x\u0000\n\u001b[2J\u202e"\\y';
    const result = parsePayload(
      'air-quality-station',
      'telemetry',
      JSON.stringify({ ts: NOW - 1000, metrics: { [name]: 1, pm10: 3 } }),
      { now: NOW },
    );
    expect(result.ok).toBe(true);
    const [part] = result.rejections;
    // eslint-disable-next-line no-control-regex
    const unsafe = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/;
    expect(part?.metric).toBeDefined();
    expect(part?.metric).not.toMatch(unsafe);
    expect(part?.detail).not.toMatch(unsafe);
    expect(part?.metric).toContain('\\u202e');
  });
});
