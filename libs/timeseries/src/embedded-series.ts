import type Database from 'better-sqlite3';
import type { MetricValue } from '@ioc/contracts';
import type { DirtyBucket } from './embedded-rollups';
import type { LastOfWindow, RawRecord, WindowAggregates, WindowFn } from './window-aggregates';

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
 * The one partial aggregate each window needs besides its count (see WindowAggregates): from raw
 * points, from rollup buckets grouped into windows, and from a single bucket.
 */
const RAW_PARTIAL: Record<WindowFn, string> = { mean: 'sum(num)', min: 'min(num)', max: 'max(num)' };
const ROLLUP_PARTIAL: Record<WindowFn, string> = { mean: 'sum(sum)', min: 'min(min)', max: 'max(max)' };
const BUCKET_PARTIAL: Record<WindowFn, string> = { mean: 'sum', min: 'min', max: 'max' };

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

  /** Raw records of these devices' metric in [from, to), each chunk's oldest `limit` (see rawPointsInOrder). */
  rawPoints(
    deviceIds: readonly string[],
    metric: string,
    from: number,
    to: number,
    limit: number | undefined,
  ): RawRecord[] {
    const records: RawRecord[] = [];
    for (const chunk of chunks(deviceIds)) {
      const rows = this.statement(
        'raw',
        chunk.length,
        (devices) =>
          `SELECT device_id, ts, num, bool, str, kind, event FROM points
         WHERE device_id IN (${devices}) AND ${RAW_RANGE} ORDER BY ts LIMIT @limit`,
      ).all(...chunk, { metric, from, to, limit: limit ?? -1 }) as (ValueRow & {
        device_id: string;
        ts: number;
        kind: string;
        event: string;
      })[];
      for (const row of rows) {
        records.push({
          ts: row.ts,
          value: valueOf(row),
          deviceId: row.device_id,
          kind: row.kind,
          event: row.event,
        });
      }
    }
    return records;
  }

  /**
   * Adds the windows of the numeric points of a raw stretch to `windows`; returns whether any point
   * of the stretch was not a number (count(*) > count(num)): mean/min/max of booleans or text is
   * refused, not skipped.
   */
  rawWindows(query: StretchQuery, windows: WindowAggregates): { nonNumeric: boolean } {
    let nonNumeric = false;
    const partial = RAW_PARTIAL[windows.fn];
    for (const chunk of chunks(query.deviceIds)) {
      const rows = this.statement(
        `rawWindows:${windows.fn}`,
        chunk.length,
        (devices) =>
          `SELECT ${windowOf('ts')}, ${partial}, count(num), count(*)
         FROM points WHERE device_id IN (${devices}) AND ${RAW_RANGE}
         GROUP BY 1 ORDER BY 1 LIMIT @limit`,
        'raw',
      ).all(...chunk, params(query)) as [
        start: number,
        partial: number | null,
        count: number,
        points: number,
      ][];
      for (const [start, value, count, points] of rows) {
        if (points > count) nonNumeric = true;
        if (value !== null) windows.add(start, value, count);
      }
    }
    return { nonNumeric };
  }

  /**
   * Adds the windows of a stretch read from a rollup table to `windows`: sums of sums and counts,
   * min of mins, max of maxes per window.
   */
  rollupWindows(table: 'rollup_1m' | 'rollup_1h', query: StretchQuery, windows: WindowAggregates): void {
    const bucketMs = table === 'rollup_1m' ? 60_000 : 3_600_000;
    if (query.deviceIds.length === 1 && query.everyMs === bucketMs && query.offsetMs % bucketMs === 0) {
      this.rollupBuckets(table, query, windows);
      return;
    }
    // `table` is one of two constants, never input; so are the partial aggregates.
    const partial = ROLLUP_PARTIAL[windows.fn];
    for (const chunk of chunks(query.deviceIds)) {
      const rows = this.statement(
        `${table}:${windows.fn}`,
        chunk.length,
        (devices) =>
          `SELECT ${windowOf('bucket_start')}, ${partial}, sum(count)
         FROM ${table} WHERE device_id IN (${devices}) AND ${ROLLUP_RANGE}
         GROUP BY 1 ORDER BY 1 LIMIT @limit`,
        'raw',
      ).all(...chunk, params(query)) as [start: number, partial: number, count: number][];
      for (const [start, value, count] of rows) windows.add(start, value, count);
    }
  }

  /**
   * The windows are the stored buckets of one device (the common "one sensor, 30 days at 1
   * minute" chart): a range scan of the primary key, no grouping, read column by column. Turning
   * a row into a JS object or array costs better-sqlite3 more than SQLite takes to find it, so
   * three single-column statements (pluck) are about twice as fast as one three-column one; a
   * read transaction makes them see the same rows even while another process writes.
   */
  private rollupBuckets(
    table: 'rollup_1m' | 'rollup_1h',
    query: StretchQuery,
    windows: WindowAggregates,
  ): void {
    const column = (name: string) =>
      this.statement(
        `${table}:buckets:${name}`,
        1,
        (devices) =>
          `SELECT ${name} FROM ${table} WHERE device_id IN (${devices}) AND ${ROLLUP_RANGE}
           ORDER BY bucket_start LIMIT @limit`,
        'pluck',
      ).all(query.deviceIds[0], params(query)) as number[];
    const { starts, partials, counts } = this.db.transaction(() => ({
      starts: column('bucket_start'),
      partials: column(BUCKET_PARTIAL[windows.fn]),
      counts: column('count'),
    }))();
    for (let i = 0; i < starts.length; i++) windows.add(starts[i], partials[i], counts[i]);
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

  /**
   * A prepared statement per shape and list length. `raw` statements return each row as an array
   * and `pluck` ones the first column's value, instead of an object per row: cheaper, for the
   * statements that return a row per window or bucket.
   */
  private statement(
    shape: string,
    devices: number,
    sql: (placeholders: string) => string,
    rows: 'objects' | 'raw' | 'pluck' = 'objects',
  ): Database.Statement {
    const key = `${shape}/${devices}`;
    let statement = this.statements.get(key);
    if (statement === undefined) {
      statement = this.db.prepare(sql(Array.from({ length: devices }, () => '?').join(', ')));
      if (rows === 'raw') statement.raw(true);
      if (rows === 'pluck') statement.pluck(true);
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
