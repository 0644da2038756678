import { INFLUX_MEASUREMENT } from './influx-line-protocol';
import { ROLLUP_TARGETS, rollupFields } from './influx-rollups';
import { durationMsLiteral, epochMsLiteral, quoteIdentifier } from './influxql';
import type { Segment } from './series-query';
import { RESOLUTION_MS, type Resolution } from './time-series-store';
import type { WindowAggregates, WindowFn } from './window-aggregates';

/** The windows of a series() query on InfluxDB, as far as the statements need them. */
export interface InfluxWindowQuery {
  metric: string;
  fn: WindowFn;
  everyMs: number;
  /** Normalised to [0, everyMs), in the port's sense (SeriesQuery.offsetMs). */
  offsetMs: number;
  /** WHERE condition on the deviceId tag, every id already quoted. */
  devices: string;
  /** How many devices that condition names. */
  deviceCount: number;
  limit: number | undefined;
}

/**
 * The InfluxQL function computing the one partial aggregate a window needs besides its count (see
 * WindowAggregates), over raw points or over a rollup's partial column: only that one and the
 * count are asked for. InfluxDB 1.6 answers `sum(), sum()` over a year of hourly rollups about
 * 3× faster than the four of `sum(), sum(), min(), max()`, and sends half the JSON.
 */
const PARTIAL_FUNCTION: Record<WindowFn, 'sum' | 'min' | 'max'> = { mean: 'sum', min: 'min', max: 'max' };

/**
 * GROUP BY time with the port's windows: InfluxDB starts them at epoch + offset + k·every, the
 * port where ts + offsetMs is a multiple of everyMs — the same windows with the opposite offset.
 * fill(none) omits empty windows, as the port does.
 */
export function groupByTime(query: Pick<InfluxWindowQuery, 'everyMs' | 'offsetMs'>): string {
  const offset = (query.everyMs - query.offsetMs) % query.everyMs;
  const offsetLiteral = offset === 0 ? '' : `, ${durationMsLiteral(offset)}`;
  return ` GROUP BY time(${durationMsLiteral(query.everyMs)}${offsetLiteral}) fill(none)`;
}

/**
 * Whether the windows are exactly the stored buckets of one device's rollup (a month of one
 * sensor's 1-minute means, say), which are then read as they are. Not for several devices:
 * their buckets would come back one row per device and window, and InfluxDB sums them per window
 * about as fast as it sends them (a year of 10 devices' hours: ~270 ms either way), so the
 * ten-times-smaller grouped answer is the cheaper one.
 */
export function windowIsBucket(
  resolution: Resolution,
  query: Pick<InfluxWindowQuery, 'everyMs' | 'offsetMs' | 'deviceCount'>,
): boolean {
  return (
    resolution !== 'raw' &&
    query.deviceCount === 1 &&
    query.everyMs === RESOLUTION_MS[resolution] &&
    query.offsetMs === 0
  );
}

/**
 * The statement reading one stretch's windows, answering columns `partial` and `count`:
 *
 * - raw stretch: the aggregates over the points, GROUP BY time;
 * - rollup stretch whose windows are one device's buckets (windowIsBucket): the stored columns
 *   themselves — a range read with no grouping, which InfluxDB 1.6 answers 3–4× faster than the
 *   same rows through GROUP BY time(1m). `GROUP BY *` keeps apart the series a device may have
 *   (its area tag changed when it moved), so that LIMIT counts windows per series rather than rows
 *   of them all, and every window of the first LIMIT ones is complete; the pieces of one window
 *   from two series are merged later;
 * - other rollup stretches: sums of sums and counts, min of mins or max of maxes, GROUP BY time.
 *
 * A raw SELECT leaves out rows whose selected fields are all null, so the bucket read does not
 * return the buckets other metrics of the device have alone.
 */
export function windowStatement(segment: Segment, query: InfluxWindowQuery): string {
  const where =
    `WHERE ${query.devices} AND time >= ${epochMsLiteral(segment.from)} ` +
    `AND time <= ${epochMsLiteral(segment.to - 1)}`;
  const limit = query.limit === undefined ? '' : ` LIMIT ${query.limit}`;
  const fn = PARTIAL_FUNCTION[query.fn];
  if (segment.resolution === 'raw') {
    const field = `${quoteIdentifier(query.metric)}::field`;
    return (
      `SELECT ${fn}(${field}) AS "partial", count(${field}) AS "count" ` +
      `FROM ${quoteIdentifier(INFLUX_MEASUREMENT)} ${where}${groupByTime(query)}${limit}`
    );
  }
  const target = ROLLUP_TARGETS[segment.resolution];
  const names = rollupFields(segment.resolution, query.metric);
  const partial = quoteIdentifier(
    query.fn === 'mean' ? names.sum : query.fn === 'min' ? names.min : names.max,
  );
  const count = quoteIdentifier(names.count);
  const from = `FROM ${quoteIdentifier(target.retentionPolicy)}.${quoteIdentifier(target.measurement)} ${where}`;
  if (windowIsBucket(segment.resolution, query)) {
    return `SELECT ${partial} AS "partial", ${count} AS "count" ${from} GROUP BY *${limit}`;
  }
  return `SELECT ${fn}(${partial}) AS "partial", sum(${count}) AS "count" ${from}${groupByTime(query)}${limit}`;
}

/** One statement's answer, as /query sends it. */
export interface InfluxSeriesResult {
  series?: { columns: string[]; values?: unknown[][] }[];
}

/**
 * Adds the rows of a windowStatement's answer to `windows`, reading the columns by position (no
 * object per row). Returns whether a value was not a number: min/max are selectors and return a
 * boolean metric's booleans as they are, and the port refuses mean/min/max of those. A rollup row
 * with a null partial (a boolean's count without a sum) is no numeric data, and is skipped.
 */
export function addWindowRows(
  result: InfluxSeriesResult | undefined,
  windows: WindowAggregates,
): { nonNumeric: boolean } {
  let nonNumeric = false;
  for (const series of result?.series ?? []) {
    const time = series.columns.indexOf('time');
    const partial = series.columns.indexOf('partial');
    const count = series.columns.indexOf('count');
    for (const row of series.values ?? []) {
      const start = row[time];
      const value = row[partial];
      const n = row[count];
      if (typeof start === 'number' && typeof value === 'number' && typeof n === 'number') {
        windows.add(start, value, n);
      } else if (value !== null && value !== undefined && typeof value !== 'number') {
        nonNumeric = true;
      }
    }
  }
  return { nonNumeric };
}
