import {
  addWindowRows,
  groupByTime,
  type InfluxWindowQuery,
  windowIsBucket,
  windowStatement,
} from './influx-window-statements';
import { quoteIdentifier } from './influxql';
import { WindowAggregates } from './window-aggregates';

const MINUTE = 60_000;
const HOUR = 3_600_000;
const T = Date.UTC(2026, 10, 27, 0, 0, 0);

const query = (over: Partial<InfluxWindowQuery> = {}): InfluxWindowQuery => ({
  metric: 'pm25',
  fn: 'mean',
  everyMs: MINUTE,
  offsetMs: 0,
  devices: `("deviceId"::tag = 'a')`,
  deviceCount: 1,
  limit: undefined,
  ...over,
});

describe('windowStatement', () => {
  it('reads a rollup stretch whose windows are its buckets without grouping, series by series', () => {
    expect(windowStatement({ resolution: '1m', from: T, to: T + HOUR }, query({ limit: 10 }))).toBe(
      `SELECT "sum_pm25" AS "partial", "count_pm25" AS "count" FROM "rp_1m"."readings_1m" ` +
        `WHERE ("deviceId"::tag = 'a') AND time >= ${T}ms AND time <= ${T + HOUR - 1}ms GROUP BY * LIMIT 10`,
    );
    // Hourly windows offset by whole hours (days at midnight UTC+7, one hour at a time) too.
    expect(
      windowStatement({ resolution: '1h', from: T, to: T + 24 * HOUR }, query({ everyMs: HOUR, fn: 'max' })),
    ).toBe(
      `SELECT "max_max_pm25" AS "partial", "sum_count_pm25" AS "count" FROM "rp_1h"."readings_1h" ` +
        `WHERE ("deviceId"::tag = 'a') AND time >= ${T}ms AND time <= ${T + 24 * HOUR - 1}ms GROUP BY *`,
    );
  });

  it('groups rollup buckets into longer or offset windows, asking only for what fn needs', () => {
    expect(
      windowStatement(
        { resolution: '1m', from: T, to: T + HOUR },
        query({ everyMs: HOUR, offsetMs: 30 * MINUTE, fn: 'min' }),
      ),
    ).toBe(
      `SELECT min("min_pm25") AS "partial", sum("count_pm25") AS "count" FROM "rp_1m"."readings_1m" ` +
        `WHERE ("deviceId"::tag = 'a') AND time >= ${T}ms AND time <= ${T + HOUR - 1}ms ` +
        `GROUP BY time(3600000ms, 1800000ms) fill(none)`,
    );
    // Several devices' hourly windows: summed per window by InfluxDB, not read bucket by bucket.
    expect(
      windowStatement({ resolution: '1h', from: T, to: T + HOUR }, query({ everyMs: HOUR, deviceCount: 10 })),
    ).toMatch(/^SELECT sum\("sum_sum_pm25"\) AS "partial", .* GROUP BY time\(3600000ms\) fill\(none\)$/);
    expect(
      windowStatement({ resolution: '1h', from: T, to: T + HOUR }, query({ everyMs: 24 * HOUR })),
    ).toMatch(
      /^SELECT sum\("sum_sum_pm25"\) AS "partial", sum\("sum_count_pm25"\) AS "count" FROM "rp_1h"\."readings_1h" .* GROUP BY time\(86400000ms\) fill\(none\)$/,
    );
  });

  it('aggregates raw stretches per window', () => {
    expect(windowStatement({ resolution: 'raw', from: T, to: T + 30_000 }, query({ limit: 3 }))).toBe(
      `SELECT sum("pm25"::field) AS "partial", count("pm25"::field) AS "count" FROM "readings" ` +
        `WHERE ("deviceId"::tag = 'a') AND time >= ${T}ms AND time <= ${T + 30_000 - 1}ms ` +
        `GROUP BY time(60000ms) fill(none) LIMIT 3`,
    );
  });

  it('quotes the metric in every column name it builds from it', () => {
    const hostile = `x" FROM "readings"; DROP DATABASE "ioc`;
    for (const resolution of ['raw', '1m', '1h'] as const) {
      for (const everyMs of [MINUTE, HOUR]) {
        const statement = windowStatement(
          { resolution, from: T, to: T + HOUR },
          query({ metric: hostile, everyMs }),
        );
        const names =
          resolution === 'raw'
            ? [`${quoteIdentifier(hostile)}::field`]
            : resolution === '1m'
              ? [quoteIdentifier(`sum_${hostile}`), quoteIdentifier(`count_${hostile}`)]
              : [quoteIdentifier(`sum_sum_${hostile}`), quoteIdentifier(`sum_count_${hostile}`)];
        // Removing the quoted names leaves nothing of the hostile value.
        let rest = statement;
        for (const name of names) rest = rest.split(name).join('');
        expect(rest).not.toContain('DROP');
      }
    }
  });
});

describe('windowIsBucket', () => {
  it("holds when windows are exactly the buckets of one device's rollup", () => {
    const one = { deviceCount: 1, offsetMs: 0 };
    expect(windowIsBucket('1m', { ...one, everyMs: MINUTE })).toBe(true);
    expect(windowIsBucket('1h', { ...one, everyMs: HOUR })).toBe(true);
    expect(windowIsBucket('1m', { ...one, everyMs: HOUR })).toBe(false);
    expect(windowIsBucket('1m', { ...one, everyMs: MINUTE, offsetMs: 30_000 })).toBe(false);
    expect(windowIsBucket('raw', { ...one, everyMs: MINUTE })).toBe(false);
    expect(windowIsBucket('1m', { ...one, everyMs: MINUTE, deviceCount: 2 })).toBe(false);
  });
});

describe('groupByTime', () => {
  it("turns the port's offset into InfluxDB's", () => {
    expect(groupByTime({ everyMs: HOUR, offsetMs: 0 })).toBe(' GROUP BY time(3600000ms) fill(none)');
    expect(groupByTime({ everyMs: 24 * HOUR, offsetMs: 7 * HOUR })).toBe(
      ' GROUP BY time(86400000ms, 61200000ms) fill(none)',
    );
  });
});

describe('addWindowRows', () => {
  it('reads columns by name from every series, skipping rows without numeric data', () => {
    const windows = new WindowAggregates('mean');
    const { nonNumeric } = addWindowRows(
      {
        series: [
          {
            columns: ['time', 'partial', 'count'],
            values: [
              [0, 10, 2],
              [MINUTE, null, 3], // a boolean's count in a rollup: no numeric data
              [2 * MINUTE, 6, 3],
            ],
          },
          // Another series of the same windows, columns in another order.
          { columns: ['count', 'time', 'partial'], values: [[1, 0, 5]] },
        ],
      },
      windows,
    );
    expect(nonNumeric).toBe(false);
    expect(windows.points(undefined)).toEqual([
      { ts: 0, value: 5, count: 3 },
      { ts: 2 * MINUTE, value: 2, count: 3 },
    ]);
  });

  it('reports values that are not numbers (min/max of booleans) instead of skipping them', () => {
    const windows = new WindowAggregates('min');
    const rows = { series: [{ columns: ['time', 'partial', 'count'], values: [[0, false, 2]] }] };
    expect(addWindowRows(rows, windows)).toEqual({ nonNumeric: true });
    expect(addWindowRows(undefined, windows)).toEqual({ nonNumeric: false });
    expect(windows.size).toBe(0);
  });
});
