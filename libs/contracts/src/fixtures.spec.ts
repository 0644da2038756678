import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { DEVICE_TYPE_CONTRACTS, DEVICE_TYPES, type DeviceTypeContract, isDeviceType } from './device-types';
import { parsePayload, type PayloadResult } from './payloads';
import { type PartRejection, REJECTION_REASONS } from './rejections';
import { DEVICE_CHANNELS } from './topics';

/**
 * Runs every example payload under ./fixtures. The files are meant for reuse by other suites
 * (simulator, broker end-to-end): see libs/contracts/README.md for their format.
 */

const FIXTURES = join(__dirname, 'fixtures');

/** Reasons only the broker can give (they need the topic, the registry or the byte count). */
const BROKER_ONLY_REASONS = [
  'payload-too-large',
  'invalid-topic',
  'unknown-device',
  'wrong-domain',
  'spool-full',
  'forbidden-topic',
];

const common = {
  description: z.string().min(1),
  deviceType: z.string().refine(isDeviceType, 'not a device type'),
  channel: z.enum(DEVICE_CHANNELS),
  payload: z.string(),
};
const expectedReading = z.strictObject({
  ts: z.number().int().optional(),
  seq: z.number().int().optional(),
  event: z.string().optional(),
  metrics: z.record(z.string(), z.union([z.number(), z.boolean(), z.string()])),
});
/** A refused part of an accepted message, or a refusal of a refused one. */
const expectedRejection = z.strictObject({
  reason: z.enum(REJECTION_REASONS),
  index: z.number().int().nonnegative().optional(),
  metric: z.string().optional(),
  detailIncludes: z.string().min(1),
});
const okFixture = z.strictObject({
  ...common,
  /** The device id the topic names (SenML names may be prefixed with it). */
  deviceId: z.string().optional(),
  /** One reading (a single message), or every reading in order (a batch or a SenML pack). */
  expected: z.union([expectedReading, z.array(expectedReading).min(1)]),
  /** The parts refused next to the accepted readings, in order; none when absent. */
  rejections: z.array(expectedRejection).optional(),
});
const notOkFixture = z.strictObject({
  ...common,
  deviceId: z.string().optional(),
  reason: z.enum(REJECTION_REASONS),
  detailIncludes: z.string().min(1),
  /** Every refusal (parts of a message none of which survived), when more than the first matters. */
  rejections: z.array(expectedRejection).optional(),
});

function load<T>(dir: 'ok' | 'not-ok', schema: z.ZodType<T>): [string, T][] {
  return readdirSync(join(FIXTURES, dir))
    .filter((file) => file.endsWith('.json'))
    .sort()
    .map((file) => {
      const parsed = schema.safeParse(JSON.parse(readFileSync(join(FIXTURES, dir, file), 'utf8')));
      if (!parsed.success) throw new Error(`fixtures/${dir}/${file}: ${z.prettifyError(parsed.error)}`);
      return [file, parsed.data];
    });
}

const OK = load('ok', okFixture);
const NOT_OK = load('not-ok', notOkFixture);

/** A fixed clock just after the fixtures' observation time (2026-11-27T08:00:00+07:00)… */
const FIXED_NOW = Date.UTC(2026, 10, 27, 1, 5, 0);
/** …and the real one: fixtures are written so that other suites can run them against a live broker. */
const CLOCKS: [string, () => number][] = [
  ['a fixed clock', () => FIXED_NOW],
  ['the real clock', () => Date.now()],
];

function run(
  fixture: {
    deviceType: string;
    channel: (typeof DEVICE_CHANNELS)[number];
    payload: string;
    deviceId?: string | undefined;
  },
  now: number,
  asBytes = false,
): PayloadResult {
  const raw = asBytes ? new TextEncoder().encode(fixture.payload) : fixture.payload;
  return parsePayload(fixture.deviceType as (typeof DEVICE_TYPES)[number], fixture.channel, raw, {
    now,
    ...(fixture.deviceId === undefined ? {} : { deviceId: fixture.deviceId }),
  });
}

/** The refusals as a fixture states them: reason, index and metric exact, detail contained. */
function matchRejections(
  actual: readonly PartRejection[],
  expected: readonly z.infer<typeof expectedRejection>[],
): void {
  expect(actual.map(({ reason, index, metric }) => ({ reason, index, metric }))).toEqual(
    expected.map(({ reason, index, metric }) => ({ reason, index, metric })),
  );
  expected.forEach((rejection, i) => expect(actual[i]?.detail).toContain(rejection.detailIncludes));
}

describe('fixtures/ok', () => {
  it('exist', () => {
    expect(OK.length).toBeGreaterThan(0);
  });

  describe.each(CLOCKS)('with %s', (_clock, clock) => {
    it.each(OK)('%s is accepted and normalised as expected', (_file, fixture) => {
      for (const asBytes of [false, true]) {
        const now = clock();
        const result = run(fixture, now, asBytes);
        if (!result.ok) throw new Error(`rejected: ${result.reason}: ${result.detail}`);
        // An expected ts left out means "the receipt time" (a status without ts).
        const expected = Array.isArray(fixture.expected) ? fixture.expected : [fixture.expected];
        expect(result.readings).toEqual(expected.map((reading) => ({ ts: now, ...reading })));
        matchRejections(result.rejections, fixture.rejections ?? []);
      }
    });
  });

  it.each(DEVICE_TYPES)('cover %s telemetry', (type) => {
    expect(OK.some(([, f]) => f.deviceType === type && f.channel === 'telemetry')).toBe(true);
  });

  it('cover every event of every device type', () => {
    const events = DEVICE_TYPES.flatMap((type) =>
      Object.keys((DEVICE_TYPE_CONTRACTS[type] as DeviceTypeContract).events).map(
        (event) => `${type}:${event}`,
      ),
    );
    const covered = new Set(
      OK.filter(([, f]) => f.channel === 'event').flatMap(([, f]) =>
        (Array.isArray(f.expected) ? f.expected : [f.expected]).map((e) => `${f.deviceType}:${e.event}`),
      ),
    );
    expect(events.filter((event) => !covered.has(event))).toEqual([]);
  });

  it('cover status with and without ts', () => {
    const status = OK.filter(([, f]) => f.channel === 'status').map(([, f]) => f.expected);
    expect(status.some((e) => !Array.isArray(e) && e.ts === undefined)).toBe(true);
    expect(status.some((e) => !Array.isArray(e) && e.ts !== undefined)).toBe(true);
  });

  it('cover a subset of metrics, partial refusals, a batch and a SenML pack', () => {
    const files = OK.map(([file]) => file);
    for (const prefix of ['partial-', 'subset-', 'batch-', 'senml-']) {
      expect(files.some((file) => file.startsWith(prefix))).toBe(true);
    }
    expect(OK.some(([, f]) => (f.rejections ?? []).some((r) => r.index !== undefined))).toBe(true);
    expect(OK.some(([, f]) => (f.rejections ?? []).some((r) => r.reason === 'unit-mismatch'))).toBe(true);
  });
});

describe('fixtures/not-ok', () => {
  describe.each(CLOCKS)('with %s', (_clock, clock) => {
    it.each(NOT_OK)('%s is rejected for its reason and detail', (_file, fixture) => {
      for (const asBytes of [false, true]) {
        const result = run(fixture, clock(), asBytes);
        expect(result).toEqual({
          ok: false,
          reason: fixture.reason,
          detail: expect.any(String),
          rejections: expect.any(Array),
        });
        if (result.ok) return;
        expect(result.detail).toContain(fixture.detailIncludes);
        expect(result.rejections[0]).toMatchObject({ reason: result.reason, detail: result.detail });
        if (fixture.rejections) matchRejections(result.rejections, fixture.rejections);
      }
    });
  });

  it.each(NOT_OK)('%s is named after its reason', (file, fixture) => {
    expect(file.startsWith(`${fixture.reason}`)).toBe(true);
  });

  it.each(REJECTION_REASONS.filter((reason) => !BROKER_ONLY_REASONS.includes(reason)))(
    'cover the payload-level reason %s',
    (reason) => {
      expect(NOT_OK.some(([, f]) => f.reason === reason)).toBe(true);
    },
  );

  it('leave Object.prototype alone', () => {
    for (const [, fixture] of NOT_OK) run(fixture, FIXED_NOW);
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  });
});

describe('fixture files', () => {
  it.each([...OK.map(([file]) => ['ok', file]), ...NOT_OK.map(([file]) => ['not-ok', file])])(
    '%s/%s has a lowercase kebab-case name',
    (_dir, file) => {
      expect(file).toMatch(/^[a-z0-9]+(-[a-z0-9]+)*\.json$/);
    },
  );
});
