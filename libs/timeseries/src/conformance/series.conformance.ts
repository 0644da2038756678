import type { MetricValue } from '@ioc/contracts';
import { InvalidQueryError } from '../errors';
import type {
  Aggregation,
  Resolution,
  SeriesPoint,
  SeriesQuery,
  TimeSeriesStore,
} from '../time-series-store';
import { deviceId, HOSTILE_NAMES, nth, random, reading, shuffled } from './helpers';

const MINUTE = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;

/** One point as the test wrote it (all telemetry, so the last write of a (device, metric, ts) wins). */
interface Written {
  deviceId: string;
  ts: number;
  value: MetricValue;
}

/** Written points keyed by identity, so duplicates and rewrites leave exactly what the store keeps. */
class WrittenPoints {
  private readonly points = new Map<string, Written>();

  record(point: Written): void {
    this.points.set(JSON.stringify([point.deviceId, point.ts]), point);
  }

  all(): Written[] {
    return [...this.points.values()];
  }
}

const mod = (a: number, b: number) => ((a % b) + b) % b;

/**
 * Reference implementation of series() from the port's definition: windows start where
 * ts + offsetMs is a multiple of everyMs; one aggregate over all listed devices' points.
 */
function expectedSeries(
  points: readonly Written[],
  query: Required<Pick<SeriesQuery, 'deviceIds' | 'from' | 'to'>> & {
    everyMs?: number;
    offsetMs?: number;
    fn?: Aggregation;
    limit?: number;
  },
): SeriesPoint[] {
  const devices = new Set(query.deviceIds);
  const inRange = points.filter((p) => devices.has(p.deviceId) && p.ts >= query.from && p.ts < query.to);
  const { everyMs, fn } = query;
  if (everyMs === undefined || fn === undefined) {
    return inRange
      .map((p) => ({ ts: p.ts, value: p.value, deviceId: p.deviceId }))
      .sort((a, b) => a.ts - b.ts || (a.deviceId < b.deviceId ? -1 : a.deviceId > b.deviceId ? 1 : 0))
      .slice(0, query.limit);
  }
  const windows = new Map<number, Written[]>();
  for (const p of inRange) {
    const start = p.ts - mod(p.ts + (query.offsetMs ?? 0), everyMs);
    windows.set(start, [...(windows.get(start) ?? []), p]);
  }
  return [...windows.entries()]
    .sort(([a], [b]) => a - b)
    .slice(0, query.limit)
    .map(([ts, bucket]) => {
      const values = bucket.map((p) => p.value as number);
      const value =
        fn === 'mean'
          ? values.reduce((sum, v) => sum + v, 0) / values.length
          : fn === 'min'
            ? Math.min(...values)
            : fn === 'max'
              ? Math.max(...values)
              : bucket.reduce((a, b) => (b.ts > a.ts ? b : a)).value;
      return { ts, value, count: bucket.length };
    });
}

/** Same windows and counts; values equal up to summation order (1e-9). */
function expectSeriesClose(actual: readonly SeriesPoint[], expected: readonly SeriesPoint[]): void {
  expect(actual.map((p) => [p.ts, p.count])).toEqual(expected.map((p) => [p.ts, p.count]));
  actual.forEach((point, i) => {
    const want = nth(expected, i).value;
    if (typeof want === 'number') expect(point.value as number).toBeCloseTo(want, 9);
    else expect(point.value).toStrictEqual(want);
  });
}

/**
 * series() and the rollups behind it, for every adapter: numbers must be the same whichever
 * resolution answers, so each expectation is computed here from the points written.
 */
export function describeSeriesConformance(getStore: () => TimeSeriesStore): void {
  describe('series() and rollups', () => {
    let store: TimeSeriesStore;
    /** 00:00 UTC four days ago: old enough that every rollup of it is complete, young enough to be kept. */
    let day0: number;
    let devices: string[];
    let written: WrittenPoints;
    let flags: WrittenPoints;

    beforeEach(async () => {
      store = getStore();
      day0 = Math.floor(Date.now() / DAY) * DAY - 4 * DAY;
      devices = [deviceId('series-a'), deviceId('series-b'), deviceId('series-c')];
      written = new WrittenPoints();
      flags = new WrittenPoints();
      const rnd = random(4242);
      // Each device reports at its own pace over three days, so a plain mean of per-device means
      // would differ from the count-weighted mean the port promises.
      const paceMs = [5 * MINUTE, 17 * MINUTE, 2 * MINUTE + 30_000];
      const levels = [100, 0, 40];
      const readings = devices.flatMap((device, d) => {
        const out = [];
        for (let t = day0 + Math.floor(rnd() * 60_000); t < day0 + 3 * DAY; t += nth(paceMs, d)) {
          const ts = t + Math.floor(rnd() * 1000);
          const value = Math.round((nth(levels, d) + rnd() * 20) * 1000) / 1000;
          const online = rnd() < 0.9;
          written.record({ deviceId: device, ts, value });
          flags.record({ deviceId: device, ts, value: online });
          out.push(reading(device, ts, { pm25: value, online, mode: online ? 'auto' : 'manual' }));
        }
        return out;
      });
      const order = shuffled(readings, rnd);
      for (let i = 0; i < order.length; i += 700) await store.write(order.slice(i, i + 700));
      // Duplicates: a whole batch again, and single readings twice in one call.
      await store.write(order.slice(100, 400));
      await store.write([nth(order, 5), nth(order, 5), nth(order, 6)]);
      // A rewrite: same identity, a new value — the old one must leave every rollup.
      const target = nth(order, 17);
      const corrected = reading(target.deviceId, target.ts, { pm25: 987.654, online: false, mode: 'manual' });
      await store.write([corrected]);
      written.record({ deviceId: target.deviceId, ts: target.ts, value: 987.654 });
      flags.record({ deviceId: target.deviceId, ts: target.ts, value: false });
      await store.compact();
    }, 60_000);

    const aligned = () => ({ from: day0, to: day0 + 3 * DAY });

    it('answers mean, min and max identically from raw points, 1m and 1h rollups', async () => {
      for (const fn of ['mean', 'min', 'max'] as const) {
        for (const ids of [devices, [nth(devices, 1)]]) {
          const query = { deviceIds: ids, metric: 'pm25', ...aligned(), everyMs: HOUR, fn };
          const expected = expectedSeries(written.all(), query);
          expect(expected.length).toBeGreaterThan(60);
          for (const resolution of ['raw', '1m', '1h', 'auto'] as const) {
            const result = await store.series({ ...query, resolution });
            expect(result.resolution).toBe(resolution === 'auto' ? '1h' : resolution);
            expectSeriesClose(result.points, expected);
          }
        }
      }
    });

    it('picks the coarsest resolution that answers exactly, and says which', async () => {
      const ids = devices;
      const { from, to } = {
        from: day0 + 3 * HOUR + 7 * MINUTE + 12_345,
        to: day0 + 2 * DAY + 5 * HOUR + 23_456,
      };
      const cases: [Partial<SeriesQuery>, Resolution][] = [
        [{ everyMs: HOUR, fn: 'mean' }, '1h'],
        [{ everyMs: 15 * MINUTE, fn: 'max' }, '1m'],
        [{ everyMs: 30_000, fn: 'min' }, 'raw'],
        [{ everyMs: 90 * MINUTE, fn: 'mean' }, '1m'],
        [{ everyMs: HOUR, fn: 'mean', offsetMs: 30 * MINUTE }, '1m'],
        [{ everyMs: HOUR, fn: 'last' }, 'raw'],
        [{}, 'raw'],
      ];
      for (const [windows, resolution] of cases) {
        // An unaligned range: its partial first and last buckets must come from finer data.
        const query = { deviceIds: ids, metric: 'pm25', from, to, ...windows };
        const result = await store.series(query);
        expect([windows, result.resolution]).toEqual([windows, resolution]);
        const expected = expectedSeries(written.all(), query);
        expect(expected.length).toBeGreaterThan(10);
        if (windows.fn === 'last' || windows.fn === undefined) expect(result.points).toStrictEqual(expected);
        else expectSeriesClose(result.points, expected);
      }
    });

    it('reads windows that are exactly the rollup buckets like any others: offsets, partial ends, limit', async () => {
      // An unaligned range: partial first and last buckets come from finer data, next to the
      // buckets read as they are.
      const ranges = [
        { from: day0, to: day0 + DAY },
        { from: day0 + 3 * HOUR + 7 * MINUTE + 12_345, to: day0 + DAY + 5 * HOUR + 23_456 },
      ];
      const windows: [Partial<SeriesQuery>, Resolution][] = [
        [{ everyMs: MINUTE }, '1m'],
        [{ everyMs: HOUR }, '1h'],
        [{ everyMs: HOUR, offsetMs: 7 * HOUR }, '1h'],
        [{ everyMs: HOUR, offsetMs: -HOUR }, '1h'],
        [{ everyMs: MINUTE, offsetMs: 30_000 }, 'raw'],
        [{ everyMs: HOUR, offsetMs: 30 * MINUTE }, '1m'],
      ];
      for (const ids of [[nth(devices, 2)], devices]) {
        for (const range of ranges) {
          for (const [shape, resolution] of windows) {
            for (const fn of ['mean', 'min', 'max'] as const) {
              const query = { deviceIds: ids, metric: 'pm25', ...range, ...shape, fn };
              const expected = expectedSeries(written.all(), query);
              expect(expected.length).toBeGreaterThan(10);
              const result = await store.series(query);
              expect([shape, result.resolution]).toEqual([shape, resolution]);
              expectSeriesClose(result.points, expected);
              // The limit cuts the windows, not the rows of one device among several.
              for (const limit of [1, 7]) {
                const limited = await store.series({ ...query, limit });
                expectSeriesClose(limited.points, expected.slice(0, limit));
              }
            }
          }
        }
      }
    }, 60_000);

    it('merges the windows of a device that moved to another area in the middle of a bucket', async () => {
      // On InfluxDB the area is a tag: the device then has two series, both holding minute 4 and
      // the hour, and a window's pieces must be merged — also when a limit cuts the answer.
      const device = deviceId('mover');
      const points = new WrittenPoints();
      const start = day0 + 6 * HOUR;
      const moved = { areaId: 'ward-9', areaPath: ['province', 'district-2', 'ward-9'] };
      const readings = Array.from({ length: 30 }, (_, i) => {
        const ts = start + i * 20_000;
        points.record({ deviceId: device, ts, value: i });
        return reading(device, ts, { pm25: i }, i >= 13 ? moved : {});
      });
      await store.write(readings);
      await store.compact();
      for (const everyMs of [MINUTE, HOUR]) {
        for (const fn of ['mean', 'min', 'max'] as const) {
          for (const limit of [undefined, 3, 5]) {
            const query = {
              deviceIds: [device],
              metric: 'pm25',
              from: start,
              to: start + HOUR,
              everyMs,
              fn,
              limit,
            };
            const result = await store.series(query);
            expect(result.resolution).toBe(everyMs === MINUTE ? '1m' : '1h');
            expectSeriesClose(result.points, expectedSeries(points.all(), query));
          }
        }
      }
    });

    it('includes points written after the rollups were built, without compact()', async () => {
      const device = nth(devices, 0);
      const minute = day0 + 2 * DAY + 10 * HOUR + 17 * MINUTE;
      const late = [
        // Into a minute already rolled up (a rewrite of its first point and a new one), and into an
        // empty minute of the same hour.
        ...written
          .all()
          .filter((p) => p.deviceId === device && p.ts >= day0 + 2 * DAY + 10 * HOUR)
          .slice(0, 1)
          .map((p) => ({ ...p, value: 4321.5 })),
        { deviceId: device, ts: minute + 1234, value: -77.25 },
        { deviceId: device, ts: minute + 3 * MINUTE + 59_999, value: 12.5 },
      ];
      await store.write(late.map((p) => reading(p.deviceId, p.ts, { pm25: p.value })));
      for (const p of late) written.record(p);
      const range = { from: day0 + 2 * DAY + 9 * HOUR, to: day0 + 2 * DAY + 12 * HOUR };
      for (const everyMs of [MINUTE, HOUR]) {
        for (const fn of ['mean', 'min', 'max'] as const) {
          const query = { deviceIds: [device], metric: 'pm25', ...range, everyMs, fn };
          expectSeriesClose((await store.series(query)).points, expectedSeries(written.all(), query));
        }
      }
    });

    it('aligns windows with offsetMs: 7 h gives days starting at 17:00 UTC (midnight UTC+7)', async () => {
      const query = {
        deviceIds: devices,
        metric: 'pm25',
        from: day0 - 7 * HOUR,
        to: day0 + 3 * DAY,
        everyMs: DAY,
        offsetMs: 7 * HOUR,
        fn: 'mean' as const,
      };
      const result = await store.series(query);
      expect(result.resolution).toBe('1h');
      expect(result.points.length).toBeGreaterThanOrEqual(3);
      for (const point of result.points) expect(new Date(point.ts).getUTCHours()).toBe(17);
      expectSeriesClose(result.points, expectedSeries(written.all(), query));
      expectSeriesClose((await store.series({ ...query, resolution: 'raw' })).points, result.points);
    });

    it('weights a mean over several devices by their point counts', async () => {
      const query = { deviceIds: devices, metric: 'pm25', ...aligned(), everyMs: DAY, fn: 'mean' as const };
      const result = await store.series(query);
      expectSeriesClose(result.points, expectedSeries(written.all(), query));
      const perDevice = await Promise.all(devices.map((id) => store.series({ ...query, deviceIds: [id] })));
      result.points.forEach((point, i) => {
        const parts = perDevice.map((r) => nth(r.points, i));
        expect(point.count).toBe(parts.reduce((sum, p) => sum + (p.count ?? 0), 0));
        const weighted =
          parts.reduce((sum, p) => sum + (p.value as number) * (p.count ?? 0), 0) / (point.count ?? 1);
        expect(point.value as number).toBeCloseTo(weighted, 9);
        const unweighted = parts.reduce((sum, p) => sum + (p.value as number), 0) / parts.length;
        expect(Math.abs((point.value as number) - unweighted)).toBeGreaterThan(1);
      });
    });

    it('brings a late write into an old window into the rollups on compact()', async () => {
      const hour = day0 + 5 * HOUR;
      const query = {
        deviceIds: devices,
        metric: 'pm25',
        from: hour - HOUR,
        to: hour + 2 * HOUR,
        everyMs: HOUR,
        fn: 'mean' as const,
        resolution: '1h' as const,
      };
      expectSeriesClose((await store.series(query)).points, expectedSeries(written.all(), query));
      // Days late: new points, and a rewrite of an existing one, in an hour rolled up long ago.
      const victim = written.all().find((p) => p.ts >= hour && p.ts < hour + HOUR);
      if (victim === undefined) throw new Error('test data has no point in the late hour');
      const late = [
        { deviceId: nth(devices, 0), ts: hour + 12 * MINUTE + 345, value: 5000.5 },
        { deviceId: nth(devices, 2), ts: hour + 59 * MINUTE + 59_999, value: -250.25 },
        { ...victim, value: 1234.5 },
      ];
      await store.write(late.map((p) => reading(p.deviceId, p.ts, { pm25: p.value })));
      for (const p of late) written.record(p);
      await store.compact();
      for (const resolution of ['1h', '1m'] as const) {
        for (const fn of ['mean', 'min', 'max'] as const) {
          const q = { ...query, resolution, fn };
          expectSeriesClose((await store.series(q)).points, expectedSeries(written.all(), q));
        }
      }
    });

    it('returns raw points of several devices by time, then device id, with limit', async () => {
      const ids = [deviceId('raw-z'), deviceId('raw-a'), deviceId('raw-m')];
      const ts = [day0 + HOUR, day0 + HOUR + 1000, day0 + HOUR + 2000];
      const points = new WrittenPoints();
      // Every device at every ts: ties the order must break by device id on every adapter.
      const readings = ts.flatMap((t, i) =>
        ids.map((id, d) => {
          points.record({ deviceId: id, ts: t, value: i * 10 + d });
          return reading(id, t, { pm10: i * 10 + d });
        }),
      );
      await store.write(shuffled(readings, random(5)));
      const query = { deviceIds: ids, metric: 'pm10', from: day0, to: day0 + DAY };
      const all = await store.series(query);
      expect(all).toStrictEqual({ resolution: 'raw', points: expectedSeries(points.all(), query) });
      expect(all.points.every((p) => p.deviceId !== undefined && p.count === undefined)).toBe(true);
      for (const limit of [1, 2, 4, 5]) {
        // The limit cuts through points sharing one timestamp.
        await expect(store.series({ ...query, limit })).resolves.toStrictEqual({
          resolution: 'raw',
          points: expectedSeries(points.all(), { ...query, limit }),
        });
      }
    });

    it('computes last per window over several devices, for numbers and booleans, with counts', async () => {
      for (const [metric, points] of [
        ['pm25', written],
        ['online', flags],
      ] as const) {
        const query = { deviceIds: devices, metric, ...aligned(), everyMs: 3 * HOUR, fn: 'last' as const };
        const result = await store.series(query);
        expect(result.resolution).toBe('raw');
        expect(result.points).toStrictEqual(expectedSeries(points.all(), query));
        const limited = await store.series({ ...query, limit: 3 });
        expect(limited.points).toStrictEqual(expectedSeries(points.all(), { ...query, limit: 3 }));
      }
    });

    it('honours limit on aggregates and answers degenerate queries with nothing', async () => {
      const query = { deviceIds: devices, metric: 'pm25', ...aligned(), everyMs: HOUR, fn: 'max' as const };
      for (const resolution of ['raw', '1m', '1h'] as const) {
        const limited = await store.series({ ...query, resolution, limit: 5 });
        expectSeriesClose(limited.points, expectedSeries(written.all(), { ...query, limit: 5 }));
      }
      for (const empty of [
        { ...query, deviceIds: [] },
        { ...query, limit: 0 },
        { ...query, to: query.from },
        { ...query, from: query.to, to: query.from },
        { ...query, metric: 'neverReported' },
        { ...query, deviceIds: [deviceId('nobody')] },
      ]) {
        await expect(store.series(empty)).resolves.toMatchObject({ points: [] });
      }
    });

    it('refuses a resolution that cannot answer, and mean/min/max of non-numeric metrics', async () => {
      const base = { deviceIds: devices, metric: 'pm25', ...aligned() };
      for (const query of [
        { ...base, everyMs: 5 * MINUTE, fn: 'mean' as const, resolution: '1h' as const },
        { ...base, everyMs: 30_000, fn: 'mean' as const, resolution: '1m' as const },
        { ...base, everyMs: HOUR, fn: 'mean' as const, offsetMs: 30 * MINUTE, resolution: '1h' as const },
        { ...base, everyMs: HOUR, fn: 'last' as const, resolution: '1m' as const },
        { ...base, resolution: '1h' as const },
      ]) {
        await expect(store.series(query)).rejects.toBeInstanceOf(InvalidQueryError);
      }
      for (const metric of ['online', 'mode']) {
        for (const fn of ['mean', 'min', 'max'] as const) {
          for (const resolution of ['auto', 'raw', '1m'] as const) {
            await expect(store.series({ ...base, metric, everyMs: HOUR, fn, resolution })).rejects.toThrow(
              /non-numeric/,
            );
          }
          // Windows that are the rollup's buckets, on one device and on several.
          for (const deviceIds of [[nth(devices, 1)], devices]) {
            await expect(store.series({ ...base, deviceIds, metric, everyMs: MINUTE, fn })).rejects.toThrow(
              /non-numeric/,
            );
          }
        }
      }
      for (const bad of [
        { ...base, from: 0.5 },
        { ...base, limit: -1 },
        { ...base, everyMs: 0, fn: 'mean' as const },
        { ...base, everyMs: HOUR, fn: 'median' as unknown as 'mean' },
        { ...base, everyMs: HOUR, fn: 'mean' as const, offsetMs: 0.5 },
        { ...base, resolution: '5m' as unknown as 'raw' },
      ]) {
        await expect(store.series(bad)).rejects.toThrow(RangeError);
      }
    });

    it('answers hostile device ids and metric names with empty results, never an error or a leak', async () => {
      const victim = nth(devices, 0);
      const range = { from: day0, to: day0 + 6 * HOUR };
      const shapes: Partial<SeriesQuery>[] = [
        {},
        { everyMs: HOUR, fn: 'mean' },
        { everyMs: 15 * MINUTE, fn: 'max' },
        { everyMs: 30_000, fn: 'min' },
        { everyMs: HOUR, fn: 'last' },
      ];
      const problems: string[] = [];
      const check = async (what: string, query: SeriesQuery, expected: SeriesPoint[]): Promise<void> => {
        try {
          const answer = await store.series(query);
          if (JSON.stringify(answer.points) !== JSON.stringify(expected)) {
            problems.push(`${what}: got ${JSON.stringify(answer.points).slice(0, 200)}`);
          }
        } catch (err) {
          problems.push(`${what}: threw ${String(err).slice(0, 300)}`);
        }
      };
      // 300 device ids: every hostile name, and variants aimed at the victim's id.
      const manyHostile = [
        ...HOSTILE_NAMES,
        ...Array.from(
          { length: 300 - HOSTILE_NAMES.length },
          (_, i) =>
            nth(
              [
                `${victim}'`,
                `${victim}"`,
                `${victim}\\`,
                `${victim}.*`,
                `/${victim}/`,
                `${victim}' OR 1=1 --`,
              ],
              i % 6,
            ) + ` ${i}`,
        ),
      ];
      expect(manyHostile).toHaveLength(300);
      for (const shape of shapes) {
        const label = JSON.stringify(shape);
        for (const hostile of HOSTILE_NAMES) {
          const name = JSON.stringify(
            hostile.length > 40 ? `${hostile.slice(0, 40)}…(${hostile.length})` : hostile,
          );
          await check(
            `${label} device ${name}`,
            { deviceIds: [hostile], metric: 'pm25', ...range, ...shape },
            [],
          );
          await check(
            `${label} metric ${name}`,
            { deviceIds: [victim], metric: hostile, ...range, ...shape },
            [],
          );
        }
        await check(
          `${label} 300 hostile ids`,
          { deviceIds: manyHostile, metric: 'pm25', ...range, ...shape },
          [],
        );
        // With the victim among them, exactly the victim's answer: nothing more, nothing less.
        const victimOnly = await store.series({ deviceIds: [victim], metric: 'pm25', ...range, ...shape });
        expect(victimOnly.points.length).toBeGreaterThan(0);
        await check(
          `${label} 300 hostile ids and the victim`,
          { deviceIds: [...manyHostile, victim], metric: 'pm25', ...range, ...shape },
          victimOnly.points,
        );
      }
      expect(problems).toEqual([]);
      // Nothing was dropped or changed by any of it.
      const rawQuery = { deviceIds: [victim], metric: 'pm25', ...range };
      await expect(store.series(rawQuery)).resolves.toStrictEqual({
        resolution: 'raw',
        points: expectedSeries(written.all(), rawQuery),
      });
    }, 60_000);
  });
}
