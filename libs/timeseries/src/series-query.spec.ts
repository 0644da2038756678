import { MAX_TIMESTAMP_MS } from './reading-validation';
import { DEFAULT_RETENTION } from './retention';
import {
  planSeriesQuery,
  type Segment,
  splitAroundPendingHours,
  splitIntoSegments,
  windowStartOf,
} from './series-query';
import { compareRawRecords, type RawRecord, rawPointsInOrder } from './window-aggregates';

const MINUTE = 60_000;
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const NOW = Date.UTC(2026, 10, 27, 12, 0, 0);
const context = { retention: DEFAULT_RETENTION, now: NOW };

describe('windowStartOf', () => {
  it('starts windows where ts + offset is a multiple of every', () => {
    const ts = Date.UTC(2026, 10, 27, 3, 15);
    expect(windowStartOf(ts, DAY, 0)).toBe(Date.UTC(2026, 10, 27));
    // UTC+7: local midnight is 17:00 UTC the day before.
    expect(windowStartOf(ts, DAY, 7 * HOUR)).toBe(Date.UTC(2026, 10, 26, 17));
    expect(windowStartOf(Date.UTC(2026, 10, 27, 17), DAY, 7 * HOUR)).toBe(Date.UTC(2026, 10, 27, 17));
    expect(windowStartOf(59_999, MINUTE, 0)).toBe(0);
    expect(windowStartOf(0, HOUR, 30 * MINUTE)).toBe(-30 * MINUTE);
  });
});

describe('splitIntoSegments', () => {
  const never = () => Number.POSITIVE_INFINITY;

  it('reads whole buckets from the rollup and the partial ends from finer data', () => {
    const from = Date.UTC(2026, 10, 27, 8, 37, 12, 345);
    const to = Date.UTC(2026, 10, 27, 11, 5, 30);
    expect(splitIntoSegments('1h', from, to, never)).toEqual<Segment[]>([
      { resolution: 'raw', from, to: Date.UTC(2026, 10, 27, 8, 38) },
      { resolution: '1m', from: Date.UTC(2026, 10, 27, 8, 38), to: Date.UTC(2026, 10, 27, 9) },
      { resolution: '1h', from: Date.UTC(2026, 10, 27, 9), to: Date.UTC(2026, 10, 27, 11) },
      { resolution: '1m', from: Date.UTC(2026, 10, 27, 11), to: Date.UTC(2026, 10, 27, 11, 5) },
      { resolution: 'raw', from: Date.UTC(2026, 10, 27, 11, 5), to },
    ]);
  });

  it('covers [from, to) exactly once, in order', () => {
    for (const [from, to] of [
      [0, 1],
      [123_456, 7 * DAY + 1],
      [HOUR, 2 * HOUR],
      [HOUR - 1, 2 * HOUR + 1],
    ] as const) {
      for (const resolution of ['raw', '1m', '1h'] as const) {
        const segments = splitIntoSegments(resolution, from, to, never);
        expect(segments[0]?.from).toBe(from);
        expect(segments.at(-1)?.to).toBe(to);
        segments.slice(1).forEach((s, i) => expect(s.from).toBe(segments[i]?.to));
        for (const s of segments) {
          expect(s.from).toBeLessThan(s.to);
          if (s.resolution !== 'raw') {
            const step = s.resolution === '1m' ? MINUTE : HOUR;
            expect([s.from % step, s.to % step]).toEqual([0, 0]);
          }
        }
      }
    }
  });

  it('reads what a rollup does not hold yet from finer data', () => {
    const from = Date.UTC(2026, 10, 27, 0);
    const to = Date.UTC(2026, 10, 27, 12);
    const complete = { '1m': Date.UTC(2026, 10, 27, 11, 58, 30), '1h': Date.UTC(2026, 10, 27, 10, 40) };
    expect(splitIntoSegments('1h', from, to, (r) => complete[r])).toEqual<Segment[]>([
      { resolution: '1h', from, to: Date.UTC(2026, 10, 27, 10) },
      { resolution: '1m', from: Date.UTC(2026, 10, 27, 10), to: Date.UTC(2026, 10, 27, 11, 58) },
      { resolution: 'raw', from: Date.UTC(2026, 10, 27, 11, 58), to },
    ]);
  });
});

describe('splitAroundPendingHours', () => {
  it('reads hours not rolled up yet from raw points and the rest as usual', () => {
    const day = Date.UTC(2026, 10, 20);
    const never = () => Number.POSITIVE_INFINITY;
    expect(
      splitAroundPendingHours('1h', day + 30 * MINUTE, day + 6 * HOUR, never, [
        day + 4 * HOUR,
        day,
        day + 2 * HOUR,
        day + 9 * HOUR,
      ]),
    ).toEqual<Segment[]>([
      { resolution: 'raw', from: day + 30 * MINUTE, to: day + HOUR },
      { resolution: '1h', from: day + HOUR, to: day + 2 * HOUR },
      { resolution: 'raw', from: day + 2 * HOUR, to: day + 3 * HOUR },
      { resolution: '1h', from: day + 3 * HOUR, to: day + 4 * HOUR },
      { resolution: 'raw', from: day + 4 * HOUR, to: day + 5 * HOUR },
      { resolution: '1h', from: day + 5 * HOUR, to: day + 6 * HOUR },
    ]);
    expect(splitAroundPendingHours('1m', day, day + HOUR, never, [])).toEqual([
      { resolution: '1m', from: day, to: day + HOUR },
    ]);
  });
});

describe('planSeriesQuery', () => {
  const base = { deviceIds: ['a', 'b', 'a'], metric: 'pm25', from: NOW - DAY, to: NOW };

  it('dedupes devices, normalises the offset and keeps the resolution choice', () => {
    expect(
      planSeriesQuery({ ...base, everyMs: DAY, fn: 'mean', offsetMs: -17 * HOUR }, context),
    ).toMatchObject({
      mode: 'aggregate',
      resolution: '1h',
      deviceIds: ['a', 'b'],
      offsetMs: 7 * HOUR,
    });
    expect(planSeriesQuery({ ...base, everyMs: HOUR, fn: 'last' }, context)).toMatchObject({
      mode: 'last',
      resolution: 'raw',
    });
    // fn without everyMs (or the reverse) asks for raw points, as history() does.
    expect(planSeriesQuery({ ...base, fn: 'mean' }, context)).toMatchObject({ mode: 'raw' });
  });

  it('clamps the range to storable time and answers degenerate queries with empty', () => {
    expect(
      planSeriesQuery({ ...base, from: Number.MIN_SAFE_INTEGER, to: Number.MAX_SAFE_INTEGER }, context),
    ).toMatchObject({ mode: 'raw', from: 0, to: MAX_TIMESTAMP_MS + 1 });
    for (const query of [
      { ...base, deviceIds: [] },
      { ...base, limit: 0 },
      { ...base, to: base.from },
      { ...base, from: -10, to: -1 },
    ]) {
      expect(planSeriesQuery(query, context)).toMatchObject({ mode: 'empty' });
    }
  });
});

describe('rawPointsInOrder', () => {
  const records: RawRecord[] = [
    { ts: 1, value: 1, deviceId: 'b', kind: 'telemetry', event: '' },
    { ts: 2, value: 2, deviceId: 'c', kind: 'telemetry', event: '' },
    { ts: 2, value: 3, deviceId: 'a', kind: 'telemetry', event: '' },
    { ts: 2, value: 4, deviceId: 'b', kind: 'telemetry', event: '' },
    { ts: 2, value: 6, deviceId: 'b', kind: 'status', event: '' },
    { ts: 2, value: 7, deviceId: 'b', kind: 'event', event: 'wrongWay' },
    { ts: 2, value: 8, deviceId: 'b', kind: 'event', event: 'accident' },
    { ts: 3, value: 5, deviceId: 'a', kind: 'telemetry', event: '' },
  ];
  /** A store that breaks ties its own way (here: the reverse of the port's order). */
  const fetch = async (from: number, to: number, limit: number | undefined) =>
    records
      .filter((r) => r.ts >= from && r.ts < to)
      .sort((x, y) => x.ts - y.ts || compareRawRecords(y, x))
      .slice(0, limit);
  const text = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  /** The port's order written out independently: ts, device id, kind, event. */
  const ordered = [...records].sort(
    (x, y) => x.ts - y.ts || text(x.deviceId, y.deviceId) || text(x.kind, y.kind) || text(x.event, y.event),
  );

  it('orders by time, device id, kind and event, and cuts at the limit the same way on every store', async () => {
    const expected = (withDevice: boolean) =>
      ordered.map((r) => ({
        ts: r.ts,
        value: r.value,
        ...(withDevice ? { deviceId: r.deviceId } : {}),
        ...(r.event === '' ? {} : { event: r.event }),
      }));
    for (let limit = 1; limit <= records.length + 1; limit++) {
      await expect(rawPointsInOrder(fetch, 0, 10, limit, true)).resolves.toStrictEqual(
        expected(true).slice(0, limit),
      );
    }
    await expect(rawPointsInOrder(fetch, 0, 10, undefined, true)).resolves.toStrictEqual(expected(true));
    await expect(rawPointsInOrder(fetch, 0, 10, undefined, false)).resolves.toStrictEqual(expected(false));
  });
});
