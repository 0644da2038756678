import type Database from 'better-sqlite3';
import type { MetricValue } from '@ioc/contracts';
import type { DirtyBucket } from './embedded-rollups';
import type { SeriesPoint } from './time-series-store';
import type { LastOfWindow, WindowAggregate } from './window-aggregates';

/** Device ids per statement: each is one bound parameter of an `IN (…)` list. */
export const DEVICES_PER_STATEMENT = 500;

export interface ValueRow {
  num: number | null;
  bool: number | null;
  str: string | null;
}

export function valueOf(row: ValueRow): MetricValue {
  if (row.num !== null) return row.num;
  if (row.bool !== null) return row.bool !== 0;
  if (row.str !== null) return row.str;
  // The CHECK constraint makes this unreachable unless the file was edited by hand.
  throw new Error('corrupt point: no value column set');
}

/** What series() reads from raw points and rollups over a stretch [from, to). */
export interface StretchQuery {
  deviceIds: readonly string[];
  metric: string;
  from: number;
  to: number;
  /** Windows: everyMs and the offset normalised to [0, everyMs). */
  everyMs: number;
  offsetMs: number;
  limit: number | undefined;
}

/** Window start of a time column, written so it also floors for negative values. */
const windowOf = (column: string) => `(${column} - (((${column} + @offset) % @every) + @every) % @every)`;
const RAW_RANGE = 'metric = @metric AND ts >= @from AND ts < @to';
const ROLLUP_RANGE = 'metric = @metric AND bucket_start >= @from AND bucket_start < @to';

/**
 * The queries of series() on the embedded store. Device ids are bound parameters of an
 * `IN (?, ?, …)` list, at most DEVICES_PER_STATEMENT per statement; each answer is computed per
 * chunk and merged by the caller, which only works because every piece here is mergeable
 * (sum/count/min/max per window, the newest point per window, raw points ordered by time).
 * Statements are prepared once per shape and list length.
 */
export class EmbeddedSeriesReader {
  private readonly statements = new Map<string, Database.Statement>();

  constructor(private readonly db: Database.Database) {}

  rawPoints(
    deviceIds: readonly string[],
    metric: string,
    from: number,
    to: number,
    limit: number | undefined,
  ) {
    const points: SeriesPoint[] = [];
    for (const chunk of chunks(deviceIds)) {
      const rows = this.statement(
        'raw',
        chunk.length,
        (devices) =>
          `SELECT device_id, ts, num, bool, str FROM points WHERE device_id IN (${devices}) AND ${RAW_RANGE}
         ORDER BY ts LIMIT @limit`,
      ).all(...chunk, { metric, from, to, limit: limit ?? -1 }) as (ValueRow & {
        device_id: string;
        ts: number;
      })[];
      for (const row of rows) points.push({ ts: row.ts, value: valueOf(row), deviceId: row.device_id });
    }
    return points;
  }

  /**
   * Sum/count/min/max of the numeric points per window, and whether any point of the stretch was
   * not a number (count(*) > count(num)): mean/min/max of booleans or text is refused, not skipped.
   */
  rawWindows(query: StretchQuery): { windows: WindowAggregate[]; nonNumeric: boolean } {
    const windows: WindowAggregate[] = [];
    let nonNumeric = false;
    for (const chunk of chunks(query.deviceIds)) {
      const rows = this.statement(
        'rawWindows',
        chunk.length,
        (devices) =>
          `SELECT ${windowOf('ts')} AS start, sum(num) AS sum, count(num) AS count, min(num) AS min,
                max(num) AS max, count(*) AS points
         FROM points WHERE device_id IN (${devices}) AND ${RAW_RANGE}
         GROUP BY 1 ORDER BY 1 LIMIT @limit`,
      ).all(...chunk, params(query)) as (WindowAggregate & { points: number })[];
      for (const row of rows) {
        if (row.points > row.count) nonNumeric = true;
        if (row.count > 0) windows.push(row);
      }
    }
    return { windows, nonNumeric };
  }

  /** The same per window from a rollup table: sums of sums and counts, min of mins, max of maxes. */
  rollupWindows(table: 'rollup_1m' | 'rollup_1h', query: StretchQuery): WindowAggregate[] {
    const bucketMs = table === 'rollup_1m' ? 60_000 : 3_600_000;
    if (query.deviceIds.length === 1 && query.everyMs === bucketMs && query.offsetMs % bucketMs === 0) {
      // The windows are the stored buckets of one device: an index range scan, no grouping (the
      // common "one sensor, 30 days at 1 minute" chart).
      const [deviceId] = query.deviceIds;
      return this.statement(
        `${table}:buckets`,
        1,
        (devices) =>
          `SELECT bucket_start AS start, sum, count, min, max FROM ${table}
           WHERE device_id IN (${devices}) AND ${ROLLUP_RANGE} ORDER BY bucket_start LIMIT @limit`,
      ).all(deviceId, params(query)) as WindowAggregate[];
    }
    const windows: WindowAggregate[] = [];
    for (const chunk of chunks(query.deviceIds)) {
      // `table` is one of two constants, never input.
      const rows = this.statement(
        table,
        chunk.length,
        (devices) =>
          `SELECT ${windowOf('bucket_start')} AS start, sum(sum) AS sum, sum(count) AS count,
                min(min) AS min, max(max) AS max
         FROM ${table} WHERE device_id IN (${devices}) AND ${ROLLUP_RANGE}
         GROUP BY 1 ORDER BY 1 LIMIT @limit`,
      ).all(...chunk, params(query)) as WindowAggregate[];
      windows.push(...rows);
    }
    return windows;
  }

  /**
   * The newest point per window over the chunk's devices, and the window's point count. SQLite
   * documents that with a single max() aggregate the bare columns come from the row holding the
   * maximum; between devices reporting at the very same ms, any one of them.
   */
  lastWindows(query: StretchQuery): LastOfWindow[] {
    const windows: LastOfWindow[] = [];
    for (const chunk of chunks(query.deviceIds)) {
      const rows = this.statement(
        'last',
        chunk.length,
        (devices) =>
          `SELECT ${windowOf('ts')} AS start, max(ts) AS ts, num, bool, str, count(*) AS count
         FROM points WHERE device_id IN (${devices}) AND ${RAW_RANGE}
         GROUP BY 1 ORDER BY 1 LIMIT @limit`,
      ).all(...chunk, params(query)) as (ValueRow & { start: number; ts: number; count: number })[];
      for (const row of rows) {
        windows.push({ start: row.start, ts: row.ts, value: valueOf(row), count: row.count });
      }
    }
    return windows;
  }

  /** Some raw point of the stretch, to tell "no data" from "data that is not numeric". */
  anyPoint(deviceIds: readonly string[], metric: string, from: number, to: number): ValueRow | undefined {
    for (const chunk of chunks(deviceIds)) {
      const row = this.statement(
        'any',
        chunk.length,
        (devices) =>
          `SELECT num, bool, str FROM points WHERE device_id IN (${devices}) AND ${RAW_RANGE} LIMIT 1`,
      ).get(...chunk, { metric, from, to }) as ValueRow | undefined;
      if (row !== undefined) return row;
    }
    return undefined;
  }

  /** Dirty 1-minute buckets of these devices' metric in [from, to). */
  dirtyBuckets(deviceIds: readonly string[], metric: string, from: number, to: number): DirtyBucket[] {
    const rows: DirtyBucket[] = [];
    for (const chunk of chunks(deviceIds)) {
      rows.push(
        ...(this.statement(
          'dirty',
          chunk.length,
          (devices) =>
            `SELECT device_id, metric, bucket_start FROM dirty_buckets
           WHERE device_id IN (${devices}) AND ${ROLLUP_RANGE}`,
        ).all(...chunk, { metric, from, to }) as DirtyBucket[]),
      );
    }
    return rows;
  }

  private statement(
    shape: string,
    devices: number,
    sql: (placeholders: string) => string,
  ): Database.Statement {
    const key = `${shape}/${devices}`;
    let statement = this.statements.get(key);
    if (statement === undefined) {
      statement = this.db.prepare(sql(Array.from({ length: devices }, () => '?').join(', ')));
      this.statements.set(key, statement);
    }
    return statement;
  }
}

function params(query: StretchQuery) {
  return {
    metric: query.metric,
    from: query.from,
    to: query.to,
    every: query.everyMs,
    offset: query.offsetMs,
    // SQLite reads a negative LIMIT as "no limit".
    limit: query.limit ?? -1,
  };
}

/**
 * The device ids in chunks of at most DEVICES_PER_STATEMENT, each padded (by repeating its first
 * id, which changes nothing in an IN list) to a power of two or the maximum: a handful of list
 * lengths, so a handful of prepared statements per shape instead of one per length.
 */
function* chunks(ids: readonly string[]): Generator<string[]> {
  for (let i = 0; i < ids.length; i += DEVICES_PER_STATEMENT) {
    const chunk = ids.slice(i, i + DEVICES_PER_STATEMENT);
    const size = Math.min(DEVICES_PER_STATEMENT, 2 ** Math.ceil(Math.log2(chunk.length)));
    const first = chunk[0];
    if (first !== undefined) while (chunk.length < size) chunk.push(first);
    yield chunk;
  }
}
