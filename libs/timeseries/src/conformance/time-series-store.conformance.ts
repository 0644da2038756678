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

    it("latestOfDevices() answers what latest() answers for each of many devices (several requests' worth)", async () => {
      const rnd = random(11);
      const devices = Array.from({ length: 620 }, (_, i) => deviceId(`many-${i}`));
      const written: Reading[] = [];
      devices.forEach((device, i) => {
        if (i % 7 === 6) return; // a device that never reported
        const ts = T0 + Math.floor(rnd() * 100_000);
        written.push(
          reading(device, ts, { pm25: Math.round(rnd() * 1000) / 10, ...(i % 2 ? { on: true } : {}) }),
        );
        written.push(reading(device, ts - 5000, { pm25: -1, pm10: i }));
        // A status message at the same ms as the telemetry: telemetry wins (port order).
        if (i % 5 === 0) written.push(reading(device, ts, { pm25: -2, online: true }, { kind: 'status' }));
        if (i % 9 === 0)
          written.push(reading(device, ts + 1, { confidence: 0.5 }, { kind: 'event', event: 'accident' }));
      });
      await store.write(shuffled(written, rnd));
      const metrics = ['pm25', 'pm10', 'on', 'online', 'confidence', 'neverReported'];
      const asked = [...devices, nth(devices, 0), deviceId('unknown')];
      const many = await store.latestOfDevices(asked, metrics);
      const expected = new Map<string, Record<string, unknown>>();
      for (const device of devices) {
        const one = await store.latest(device, metrics);
        if (Object.keys(one).length > 0) expected.set(device, one);
      }
      expect(many.size).toBe(expected.size);
      expect(new Map([...many].sort(([a], [b]) => (a < b ? -1 : 1)))).toStrictEqual(
        new Map([...expected].sort(([a], [b]) => (a < b ? -1 : 1))),
      );
      const withEvent = nth(devices, 9);
      expect(many.get(withEvent)?.['confidence']).toMatchObject({ event: 'accident' });
      await expect(store.latestOfDevices([], metrics)).resolves.toStrictEqual(new Map());
      await expect(store.latestOfDevices(devices, [])).resolves.toStrictEqual(new Map());
      // 620 devices written and asked one by one: seconds against a real influxd on a loaded CI
      // machine (once over jest's default 5 s while other servers' tests ran beside it).
    }, 30_000);

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

    it('merges a derived reading (its own metrics, no seq) with a device reading of the same ts and kind', async () => {
      // The hourly VN_AQI (`aqi`, `aqiDominant`) is written as kind `telemetry` at the hour's end,
      // where the station may have published telemetry too: neither may overwrite the other, and a
      // redelivery of either (device retry, engine replay) keeps one point per metric.
      const device = deviceId('derived');
      const ts = T0 + 3_600_000;
      const measured = reading(device, ts, { pm25: 41.5, pm10: 60 }, { seq: 9 });
      const derived = reading(device, ts, { aqi: 117, aqiDominant: 'pm25' });
      for (const batch of [[measured], [derived], [measured], [derived], [derived, measured]])
        await store.write(batch);
      for (const written of [measured, derived]) {
        for (const [metric, value] of Object.entries(written.metrics)) {
          await expect(
            store.history({ deviceId: device, metric, from: T0, to: ts + 1 }),
          ).resolves.toStrictEqual([{ ts, value }]);
        }
      }
      const latest = await store.latest(device, ['pm25', 'aqi', 'aqiDominant']);
      expect(Object.fromEntries(Object.entries(latest).map(([m, v]) => [m, [v.ts, v.value]]))).toEqual({
        pm25: [ts, 41.5],
        aqi: [ts, 117],
        aqiDominant: [ts, 'pm25'],
      });
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

    describe('distinct records in the same millisecond', () => {
      /** A camera's readings, the way ingest makes them (kind, event from the topic and payload). */
      const camera = (
        device: string,
        ts: number,
        metrics: Record<string, MetricValue>,
        extra: Partial<Reading>,
      ) => reading(device, ts, metrics, { deviceType: 'camera', domain: 'camera', ...extra });
      const identity = (r: Reading) => JSON.stringify([r.deviceId, r.ts, r.kind, r.event ?? '']);
      const text = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
      /**
       * What the port says history() returns for `metric`, computed from the readings written:
       * one point per record identity (the last write wins), ordered by ts, kind, event.
       */
      const expectedRecords = (written: readonly Reading[], metric: string): HistoryPoint[] => {
        const kept = new Map<string, Reading>();
        for (const r of written) if (metric in r.metrics) kept.set(identity(r), r);
        return [...kept.values()]
          .sort((a, b) => a.ts - b.ts || text(a.kind, b.kind) || text(a.event ?? '', b.event ?? ''))
          .map((r) => ({
            ts: r.ts,
            value: r.metrics[metric] as MetricValue,
            ...(r.event === undefined ? {} : { event: r.event }),
          }));
      };
      /** latest() per the port: the last record of that order. */
      const expectedLatest = (written: readonly Reading[], metrics: readonly string[]) =>
        Object.fromEntries(
          metrics.flatMap((metric) => {
            const last = expectedRecords(written, metric).at(-1);
            return last === undefined ? [] : [[metric, last]];
          }),
        );

      it('keeps a telemetry and a status record, and two events of different types, at one ms', async () => {
        const device = deviceId('camera');
        const ts = T0 + 7_000;
        const written = [
          camera(device, ts, { online: true, fps: 25 }, { kind: 'telemetry', seq: 1 }),
          camera(device, ts, { online: false, batteryLevel: 0.5 }, { kind: 'status' }),
          camera(device, ts, { confidence: 0.91, lane: 2 }, { kind: 'event', event: 'accident', seq: 2 }),
          camera(
            device,
            ts,
            { confidence: 0.42, lane: 1, vehicleType: 'car' },
            { kind: 'event', event: 'wrongWay', seq: 3 },
          ),
          camera(device, ts + 1, { count: 3, lane: 1 }, { kind: 'event', event: 'vehicleCount', seq: 4 }),
        ];
        // In reverse, and the whole batch again (a spool replay): still one point per record.
        await store.write([...written].reverse());
        await store.write(written);
        const metrics = ['online', 'fps', 'batteryLevel', 'confidence', 'lane', 'vehicleType', 'count'];
        const range = { deviceId: device, from: T0, to: T0 + 60_000 };
        for (const metric of metrics) {
          await expect(store.history({ ...range, metric })).resolves.toStrictEqual(
            expectedRecords(written, metric),
          );
        }
        // Not hard-coded, but checked to be what the bug lost: both records of each pair are there.
        expect(expectedRecords(written, 'online')).toHaveLength(2);
        expect(expectedRecords(written, 'confidence').map((p) => p.event)).toEqual(['accident', 'wrongWay']);
        await expect(store.latest(device, metrics)).resolves.toStrictEqual(expectedLatest(written, metrics));

        // Aggregates count every record; series() raw points name the device and the event.
        const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;
        const confidences = expectedRecords(written, 'confidence').map((p) => p.value as number);
        const [window] = await store.history({ ...range, metric: 'confidence', everyMs: 60_000, fn: 'mean' });
        expect(window?.ts).toBe(T0);
        expect(window?.value as number).toBeCloseTo(mean(confidences), 12);
        const series = await store.series({ deviceIds: [device], metric: 'lane', ...range });
        expect(series.points).toStrictEqual(
          expectedRecords(written, 'lane').map((p) => ({ ...p, deviceId: device })),
        );
        for (const limit of [1, 2, 3]) {
          await expect(store.history({ ...range, metric: 'lane', limit })).resolves.toStrictEqual(
            expectedRecords(written, 'lane').slice(0, limit),
          );
        }
        const counted = await store.series({
          deviceIds: [device],
          metric: 'lane',
          ...range,
          everyMs: 60_000,
          fn: 'max',
          resolution: 'raw',
        });
        expect(counted.points.map((p) => p.count)).toEqual([expectedRecords(written, 'lane').length]);
      });

      it('says which event a value came from, in latest() and history(), and rewrites one event in place', async () => {
        const device = deviceId('events');
        const written = [
          camera(device, T0 + 1_000, { confidence: 0.8, lane: 3 }, { kind: 'event', event: 'accident' }),
          camera(device, T0 + 2_000, { peopleCount: 40, confidence: 0.6 }, { kind: 'event', event: 'crowd' }),
          camera(device, T0 + 3_000, { online: true }, { kind: 'telemetry' }),
        ];
        await store.write(written);
        // The same accident again with a corrected value: replaces that record, not the crowd one.
        const corrected = camera(
          device,
          T0 + 1_000,
          { confidence: 0.85, lane: 3 },
          { kind: 'event', event: 'accident' },
        );
        await store.write([corrected]);
        const all = [...written, corrected];
        const metrics = ['confidence', 'lane', 'peopleCount', 'online'];
        await expect(store.latest(device, metrics)).resolves.toStrictEqual(expectedLatest(all, metrics));
        for (const metric of metrics) {
          await expect(
            store.history({ deviceId: device, metric, from: T0, to: T0 + 60_000 }),
          ).resolves.toStrictEqual(expectedRecords(all, metric));
        }
        expect(expectedLatest(all, metrics)['confidence']).toEqual({
          ts: T0 + 2_000,
          value: 0.6,
          event: 'crowd',
        });
      });
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
