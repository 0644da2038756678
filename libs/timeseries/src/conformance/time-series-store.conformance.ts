import type { MetricValue, Reading } from '@ioc/contracts';
import { MAX_TIMESTAMP_MS, MIN_TIMESTAMP_MS } from '../reading-validation';
import type { Aggregation, HistoryPoint, RetentionPolicy, TimeSeriesStore } from '../time-series-store';
import { deviceId, HOSTILE_NAMES, nth, random, reading, shuffled } from './helpers';
import { describeSeriesConformance } from './series.conformance';

/**
 * The one behavioural test suite every TimeSeriesStore adapter passes; an adapter's spec calls
 * `describeTimeSeriesStoreConformance` with a setup that returns a FRESH, not yet initialised store
 * (and how to dispose of it). Expected values are always derived from the readings the test
 * itself wrote, never typed in.
 */
export interface ConformanceSubject {
  store: TimeSeriesStore;
  teardown: () => Promise<void>;
}

/**
 * Retention for conformance stores: keep everything, since the suite writes points from 1970 to
 * 2262. Adapter specs test retention itself.
 */
export const KEEP_EVERYTHING: RetentionPolicy = {
  rawMs: Number.POSITIVE_INFINITY,
  oneMinuteMs: Number.POSITIVE_INFINITY,
  oneHourMs: Number.POSITIVE_INFINITY,
};

/** 2026-11-27T08:00:00Z — a whole minute, so minute windows start here. */
const T0 = Date.UTC(2026, 10, 27, 8, 0, 0);

/** Reference implementation of windowed aggregation, straight from the port's definition. */
function expectedWindows(
  points: readonly { ts: number; value: MetricValue }[],
  from: number,
  to: number,
  everyMs: number,
  fn: Aggregation,
): HistoryPoint[] {
  const windows = new Map<number, { ts: number; value: MetricValue }[]>();
  for (const point of points) {
    if (point.ts < from || point.ts >= to) continue;
    const start = Math.floor(point.ts / everyMs) * everyMs;
    const bucket = windows.get(start) ?? [];
    bucket.push(point);
    windows.set(start, bucket);
  }
  return [...windows.entries()]
    .sort(([a], [b]) => a - b)
    .map(([start, bucket]) => {
      const values = bucket.map((p) => p.value as number);
      switch (fn) {
        case 'mean':
          return { ts: start, value: values.reduce((sum, v) => sum + v, 0) / values.length };
        case 'min':
          return { ts: start, value: Math.min(...values) };
        case 'max':
          return { ts: start, value: Math.max(...values) };
        case 'last': {
          const newest = bucket.reduce((a, b) => (b.ts > a.ts ? b : a));
          return { ts: start, value: newest.value };
        }
      }
    });
}

/** Means may differ in the last bits between summation orders; everything else is exact. */
function expectPointsClose(actual: HistoryPoint[], expected: HistoryPoint[]): void {
  expect(actual.map((p) => p.ts)).toEqual(expected.map((p) => p.ts));
  actual.forEach((point, i) => {
    expect(typeof point.value).toBe('number');
    expect(point.value as number).toBeCloseTo(nth(expected, i).value as number, 9);
  });
}

export function describeTimeSeriesStoreConformance(
  name: string,
  setup: () => Promise<ConformanceSubject>,
): void {
  describe(`TimeSeriesStore conformance: ${name}`, () => {
    let subject: ConformanceSubject | undefined;
    let store: TimeSeriesStore;

    beforeEach(async () => {
      subject = await setup();
      store = subject.store;
      await store.init();
    }, 30_000);

    afterEach(async () => {
      const current = subject;
      subject = undefined;
      await current?.teardown();
    }, 30_000);

    it('answers ping() and tolerates a second init()', async () => {
      await store.init();
      await expect(store.ping()).resolves.toBe(true);
      await expect(store.write([])).resolves.toBeUndefined();
    });

    it('round-trips numbers, booleans and strings with their exact JS types', async () => {
      const device = deviceId('types');
      const metrics: Record<string, MetricValue> = {
        pm25: 31.2,
        intensity: 42,
        rssi: -87.25,
        zero: 0,
        tiny: 5e-324,
        huge: Number.MAX_VALUE,
        third: 1 / 3,
        on: true,
        doorOpen: false,
        signalMode: 'adaptive',
        empty: '',
        firmwareVersion: 'v1.2 "beta" \\ \'q\' ;,= ü 日本 😀\nsecond line',
      };
      const ts = T0 + 1234;
      await store.write([reading(device, ts, metrics)]);

      const names = Object.keys(metrics);
      const latest = await store.latest(device, [...names, 'neverReported']);
      expect(latest).toStrictEqual(Object.fromEntries(names.map((m) => [m, { value: metrics[m], ts }])));
      for (const metric of names) {
        expect(typeof latest[metric]?.value).toBe(typeof metrics[metric]);
        const history = await store.history({ deviceId: device, metric, from: T0, to: T0 + 60_000 });
        expect(history).toStrictEqual([{ ts, value: metrics[metric] }]);
      }
      await expect(store.latest(deviceId('unknown'), names)).resolves.toStrictEqual({});
      await expect(store.latest(device, [])).resolves.toStrictEqual({});
    });

    it('latest() gives each metric its own newest value and time, whatever the write order', async () => {
      const device = deviceId('latest');
      const rnd = random(7);
      const readings = Array.from({ length: 40 }, (_, i) =>
        reading(device, T0 + i * 1000, {
          pm25: Math.round(rnd() * 5000) / 10,
          // pm10 stops reporting halfway: its latest is older than pm25's.
          ...(i < 20 ? { pm10: Math.round(rnd() * 5000) / 10 } : {}),
          ...(i % 3 === 0 ? { online: i % 2 === 0 } : {}),
        }),
      );
      await store.write(shuffled(readings, rnd));

      const newest = (metric: string) => {
        const withMetric = readings.filter((r) => metric in r.metrics);
        const last = withMetric.reduce((a, b) => (b.ts > a.ts ? b : a));
        return { value: last.metrics[metric], ts: last.ts };
      };
      await expect(store.latest(device, ['pm25', 'pm10', 'online'])).resolves.toStrictEqual({
        pm25: newest('pm25'),
        pm10: newest('pm10'),
        online: newest('online'),
      });
    });

    it('keeps one point when the same reading is written twice, in two calls or in one batch', async () => {
      const device = deviceId('dup');
      const first = reading(device, T0 + 5000, { pm25: 12.5, on: true, signalMode: 'manual' }, { seq: 7 });
      await store.write([first]);
      await store.write([first]);
      await store.write([first, first, { ...first }]);
      for (const metric of Object.keys(first.metrics)) {
        const history = await store.history({ deviceId: device, metric, from: T0, to: T0 + 10_000 });
        expect(history).toStrictEqual([{ ts: first.ts, value: first.metrics[metric] }]);
      }

      // Same identity, new values: the last write wins, still one point.
      const corrected: Reading = { ...first, metrics: { pm25: 13.75, on: false, signalMode: 'adaptive' } };
      await store.write([corrected]);
      for (const metric of Object.keys(corrected.metrics)) {
        const history = await store.history({ deviceId: device, metric, from: T0, to: T0 + 10_000 });
        expect(history).toStrictEqual([{ ts: corrected.ts, value: corrected.metrics[metric] }]);
      }
    });

    it('returns raw history oldest first within [from, to), honouring limit', async () => {
      const device = deviceId('raw');
      const rnd = random(11);
      const points = Array.from({ length: 30 }, (_, i) => ({
        ts: T0 + i * 1000,
        value: Math.round(rnd() * 1e6) / 1e3,
      }));
      // Written in random order and in two calls: storage order must not leak into answers.
      const readings = shuffled(points, rnd).map((p) => reading(device, p.ts, { no2: p.value }));
      await store.write(readings.slice(0, 13));
      await store.write(readings.slice(13));

      const all = await store.history({ deviceId: device, metric: 'no2', from: T0, to: T0 + 30_000 });
      expect(all).toStrictEqual(points);

      // from is inclusive, to exclusive — both exactly on a point.
      const from = nth(points, 5).ts;
      const to = nth(points, 17).ts;
      const expected = points.filter((p) => p.ts >= from && p.ts < to);
      const ranged = await store.history({ deviceId: device, metric: 'no2', from, to });
      expect(ranged).toStrictEqual(expected);
      expect(nth(ranged, 0).ts).toBe(from);
      expect(nth(ranged, -1).ts).toBe(to - 1000);

      const limited = await store.history({ deviceId: device, metric: 'no2', from, to, limit: 4 });
      expect(limited).toStrictEqual(expected.slice(0, 4));
      await expect(
        store.history({ deviceId: device, metric: 'no2', from, to, limit: 0 }),
      ).resolves.toStrictEqual([]);
      await expect(
        store.history({ deviceId: device, metric: 'no2', from: to, to: from }),
      ).resolves.toStrictEqual([]);
      await expect(store.history({ deviceId: device, metric: 'no2', from, to: from })).resolves.toStrictEqual(
        [],
      );
    });

    it('answers a range covering all storable time, 1970 to 2262', async () => {
      const device = deviceId('range');
      const points = [MIN_TIMESTAMP_MS, 1, T0, MAX_TIMESTAMP_MS].map((ts, i) => ({ ts, value: i + 0.5 }));
      await store.write(points.map((p) => reading(device, p.ts, { co: p.value })));
      const everything = {
        deviceId: device,
        metric: 'co',
        from: Number.MIN_SAFE_INTEGER,
        to: Number.MAX_SAFE_INTEGER,
      };
      await expect(store.history(everything)).resolves.toStrictEqual(points);
      const everyMs = 3_600_000;
      await expect(store.history({ ...everything, everyMs, fn: 'max' })).resolves.toStrictEqual(
        expectedWindows(points, everything.from, everything.to, everyMs, 'max'),
      );
      await expect(store.latest(device, ['co'])).resolves.toStrictEqual({ co: nth(points, -1) });
    });

    describe('aggregated history', () => {
      const everyMs = 45_000; // not a divisor of T0's minute offset: windows must align to the epoch
      const windowCount = 12;
      const emptyWindows = new Set([2, 3, 7]);
      let device: string;
      let points: { ts: number; value: number }[];
      let flags: { ts: number; value: boolean }[];
      let modes: { ts: number; value: string }[];
      let from: number;
      let to: number;

      beforeEach(async () => {
        device = deviceId('agg');
        const rnd = random(23);
        const firstWindow = Math.floor(T0 / everyMs) * everyMs;
        points = [];
        for (let w = 0; w < windowCount; w++) {
          if (emptyWindows.has(w)) continue;
          const count = 1 + Math.floor(rnd() * 6);
          const offsets = new Set<number>();
          while (offsets.size < count) offsets.add(Math.floor(rnd() * everyMs));
          for (const offset of offsets) {
            points.push({
              ts: firstWindow + w * everyMs + offset,
              value: Math.round((rnd() * 400 - 100) * 1000) / 1000,
            });
          }
        }
        flags = points.map((p, i) => ({ ts: p.ts, value: i % 3 !== 0 }));
        modes = points.map((p, i) => ({
          ts: p.ts,
          value: nth(['fixedTime', 'actuated', 'adaptive'], i % 3),
        }));
        const readings = points.map((p, i) =>
          reading(device, p.ts, {
            temperature: p.value,
            online: nth(flags, i).value,
            signalMode: nth(modes, i).value,
          }),
        );
        await store.write(shuffled(readings, rnd));
        // A range whose ends fall inside windows: the first window is stamped before `from`
        // but only holds points at or after it.
        from = nth(points, 1).ts;
        to = nth(points, -2).ts;
      });

      it.each(['mean', 'min', 'max'] as const)(
        'computes %s per epoch-aligned window, omitting empty ones',
        async (fn) => {
          const expected = expectedWindows(points, from, to, everyMs, fn);
          expect(expected.length).toBeGreaterThan(4);
          expect(expected.length).toBeLessThan(windowCount); // the empty windows are really empty
          const actual = await store.history({
            deviceId: device,
            metric: 'temperature',
            from,
            to,
            everyMs,
            fn,
          });
          expectPointsClose(actual, expected);
          for (const point of actual) expect(point.ts % everyMs).toBe(0);

          const limited = await store.history({
            deviceId: device,
            metric: 'temperature',
            from,
            to,
            everyMs,
            fn,
            limit: 3,
          });
          expectPointsClose(limited, expected.slice(0, 3));
        },
      );

      it('computes last per window for numbers, booleans and strings, keeping their types', async () => {
        for (const [metric, series] of [
          ['temperature', points],
          ['online', flags],
          ['signalMode', modes],
        ] as const) {
          const expected = expectedWindows(series, from, to, everyMs, 'last');
          const actual = await store.history({ deviceId: device, metric, from, to, everyMs, fn: 'last' });
          expect(actual).toStrictEqual(expected);
        }
      });

      it('refuses mean/min/max of boolean and string metrics with a clear error', async () => {
        for (const metric of ['online', 'signalMode']) {
          for (const fn of ['mean', 'min', 'max'] as const) {
            await expect(store.history({ deviceId: device, metric, from, to, everyMs, fn })).rejects.toThrow(
              /non-numeric/,
            );
          }
        }
      });
    });

    it('never returns another device’s points', async () => {
      const a = deviceId('iso');
      const others = [`${a}0`, a.slice(0, -1), a.toUpperCase(), `${a} `, ` ${a}`];
      const ts = [T0, T0 + 1000, T0 + 2000];
      await store.write([
        ...ts.map((t, i) => reading(a, t, { pm25: i + 1, signalMode: `a${i}` })),
        ...others.flatMap((other, o) =>
          ts.map((t, i) => reading(other, t, { pm25: 100 * (o + 1) + i, signalMode: `o${o}` })),
        ),
      ]);
      await expect(
        store.history({ deviceId: a, metric: 'pm25', from: T0, to: T0 + 3000 }),
      ).resolves.toStrictEqual(ts.map((t, i) => ({ ts: t, value: i + 1 })));
      await expect(
        store.history({ deviceId: a, metric: 'pm25', from: T0, to: T0 + 3000, everyMs: 60_000, fn: 'max' }),
      ).resolves.toStrictEqual([{ ts: Math.floor(T0 / 60_000) * 60_000, value: ts.length }]);
      await expect(store.latest(a, ['pm25', 'signalMode'])).resolves.toStrictEqual({
        pm25: { value: ts.length, ts: ts.at(-1) },
        signalMode: { value: `a${ts.length - 1}`, ts: ts.at(-1) },
      });
    });

    it('stores and finds device ids and metric names with quotes, spaces and punctuation', async () => {
      const device = deviceId(`it's "quoted" ;,= .* /x/ ü 日本`);
      const metric = `weird "metric" 'name';,=.*`;
      await store.write([
        reading(device, T0, { [metric]: 1.5 }),
        reading(device, T0 + 1000, { [metric]: 2.5 }),
      ]);
      await expect(
        store.history({ deviceId: device, metric, from: T0, to: T0 + 2000 }),
      ).resolves.toStrictEqual([
        { ts: T0, value: 1.5 },
        { ts: T0 + 1000, value: 2.5 },
      ]);
      await expect(store.latest(device, [metric])).resolves.toStrictEqual({
        [metric]: { value: 2.5, ts: T0 + 1000 },
      });
    });

    it('answers hostile device ids and metric names with empty results, never an error or a leak', async () => {
      const victim = 'victim';
      const victimReadings = Array.from({ length: 5 }, (_, i) =>
        reading(victim, T0 + i * 1000, { pm25: 10 + i, on: i % 2 === 0, signalMode: 'manual' }),
      );
      await store.write(victimReadings);
      const range = { from: T0, to: T0 + 60_000 };

      // Every answer is checked, and all problems are reported together with the name that caused them.
      const problems: string[] = [];
      const check = async (what: string, run: () => Promise<unknown>, expected: unknown): Promise<void> => {
        let answer: unknown;
        try {
          answer = await run();
        } catch (err) {
          problems.push(`${what}: threw ${String(err).slice(0, 300)}`);
          return;
        }
        try {
          expect(answer).toStrictEqual(expected);
        } catch {
          problems.push(
            `${what}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(answer).slice(0, 200)}`,
          );
        }
      };
      for (const hostile of HOSTILE_NAMES) {
        const label = JSON.stringify(
          hostile.length > 40 ? `${hostile.slice(0, 40)}…(${hostile.length})` : hostile,
        );
        // As a device id, with real metric names.
        await check(
          `history(device ${label})`,
          () => store.history({ deviceId: hostile, metric: 'pm25', ...range }),
          [],
        );
        await check(
          `history(device ${label}, mean)`,
          () => store.history({ deviceId: hostile, metric: 'pm25', ...range, everyMs: 60_000, fn: 'mean' }),
          [],
        );
        await check(`latest(device ${label})`, () => store.latest(hostile, ['pm25', 'on', 'signalMode']), {});
        // As a metric name of a device that has data.
        await check(
          `history(metric ${label})`,
          () => store.history({ deviceId: victim, metric: hostile, ...range }),
          [],
        );
        await check(
          `history(metric ${label}, last)`,
          () => store.history({ deviceId: victim, metric: hostile, ...range, everyMs: 60_000, fn: 'last' }),
          [],
        );
        // Mixed with a real metric name in one latest() call: the real one still answers.
        await check(`latest(metric ${label})`, () => store.latest(victim, [hostile, 'pm25']), {
          pm25: { value: nth(victimReadings, -1).metrics['pm25'], ts: nth(victimReadings, -1).ts },
        });
      }
      // Reserved and structural names are not metrics either.
      for (const metric of ['time', 'seq', 'deviceId', 'kind', 'areaId', 'value']) {
        await check(
          `history(metric ${metric})`,
          () => store.history({ deviceId: victim, metric, ...range }),
          [],
        );
      }
      expect(problems).toEqual([]);

      // Nothing was dropped or changed by any of it.
      await expect(store.history({ deviceId: victim, metric: 'pm25', ...range })).resolves.toStrictEqual(
        victimReadings.map((r) => ({ ts: r.ts, value: r.metrics['pm25'] })),
      );
    });

    it('refuses a batch with an unstorable reading and writes none of it', async () => {
      const device = deviceId('atomic');
      const good = reading(device, T0, { pm25: 1 });
      for (const bad of [
        reading(device, T0 + 1000, { pm25: Number.NaN }),
        reading(device, T0 + 1000, { pm25: Number.POSITIVE_INFINITY }),
        reading(device, T0 + 1000.5, { pm25: 2 }),
        reading(device, MIN_TIMESTAMP_MS - 1, { pm25: 2 }),
        reading(device, MAX_TIMESTAMP_MS + 1, { pm25: 2 }),
        reading(device, T0 + 1000, { time: 2 }),
        reading('', T0 + 1000, { pm25: 2 }),
      ]) {
        await expect(store.write([good, bad])).rejects.toThrow();
      }
      await expect(
        store.history({ deviceId: device, metric: 'pm25', from: T0, to: T0 + 60_000 }),
      ).resolves.toStrictEqual([]);
      await expect(store.latest(device, ['pm25'])).resolves.toStrictEqual({});
    });

    it('refuses nonsensical history arguments the same way', async () => {
      const base = { deviceId: 'any', metric: 'pm25', from: T0, to: T0 + 60_000 };
      for (const query of [
        { ...base, from: T0 + 0.5 },
        { ...base, to: Number.NaN },
        { ...base, limit: -1 },
        { ...base, limit: 2.5 },
        { ...base, everyMs: 0, fn: 'mean' as const },
        { ...base, everyMs: 1.5, fn: 'mean' as const },
        { ...base, everyMs: 1000, fn: 'median' as unknown as 'mean' },
      ]) {
        await expect(store.history(query)).rejects.toThrow(RangeError);
      }
    });

    it('stores a batch of 5 000 readings written in one call', async () => {
      const devices = Array.from({ length: 5 }, () => deviceId('bulk'));
      const rnd = random(99);
      const readings = Array.from({ length: 5000 }, (_, i) =>
        reading(
          nth(devices, i % devices.length),
          T0 + Math.floor(i / devices.length) * 1000,
          { pm25: Math.round(rnd() * 1e5) / 100, pm10: i, online: i % 7 !== 0 },
          { seq: i },
        ),
      );
      await store.write(readings);
      const to = T0 + 1000 * 1000;
      for (const device of devices) {
        const mine = readings.filter((r) => r.deviceId === device);
        await expect(
          store.history({ deviceId: device, metric: 'pm25', from: T0, to }),
        ).resolves.toStrictEqual(mine.map((r) => ({ ts: r.ts, value: r.metrics['pm25'] })));
        const online = await store.history({ deviceId: device, metric: 'online', from: T0, to });
        expect(online).toHaveLength(mine.length);
        await expect(store.latest(device, ['pm10'])).resolves.toStrictEqual({
          pm10: { value: nth(mine, -1).metrics['pm10'], ts: nth(mine, -1).ts },
        });
      }
    }, 30_000);

    describeSeriesConformance(() => store);
  });
}
