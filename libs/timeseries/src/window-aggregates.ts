import type { MetricValue } from '@ioc/contracts';
import type { SeriesPoint } from './time-series-store';

/** The aggregations a window merge computes; `last` is LastOfWindows' job. */
export type WindowFn = 'mean' | 'min' | 'max';

/**
 * Merges window pieces into mean/min/max points, oldest window first. A piece is one window's
 * share of the answer from one source (a chunk of devices, a stretch read from one resolution, one
 * InfluxDB series): its numeric points' count and the one partial aggregate `fn` needs — the sum
 * for a mean, else the min or max. Pieces of the same window merge exactly (sums and counts add,
 * min of mins, max of maxes), which is what lets a mean over many devices and resolutions be the
 * count-weighted mean of the raw points.
 *
 * Kept as parallel columns, not an object per window: a month of 1-minute windows is 43 200
 * pieces, and almost always they arrive in window order (one ordered statement per stretch,
 * stretches oldest first), so each piece either extends the last window or appends a new one —
 * no lookup, no allocation per piece, no sort. The first piece arriving out of order (device
 * chunks, several series) switches to an index by window start and a sort at the end.
 */
export class WindowAggregates {
  private readonly starts: number[] = [];
  private readonly partials: number[] = [];
  private readonly counts: number[] = [];
  /** Window start → position in the columns; built at the first piece arriving out of order. */
  private byStart: Map<number, number> | undefined;

  constructor(readonly fn: WindowFn) {}

  /** Adds one piece; a piece without numeric points (count 0) is not a window. */
  add(start: number, partial: number, count: number): void {
    if (!(count > 0)) return;
    const last = this.starts.length - 1;
    if (this.byStart === undefined) {
      const lastStart = last < 0 ? Number.NEGATIVE_INFINITY : this.starts[last];
      if (start > lastStart) return this.append(start, partial, count);
      if (start === lastStart) return this.merge(last, partial, count);
      this.byStart = new Map(this.starts.map((s, i) => [s, i]));
    }
    const known = this.byStart.get(start);
    if (known !== undefined) return this.merge(known, partial, count);
    this.byStart.set(start, this.starts.length);
    this.append(start, partial, count);
  }

  get size(): number {
    return this.starts.length;
  }

  points(limit: number | undefined): SeriesPoint[] {
    const n = Math.min(this.starts.length, limit ?? this.starts.length);
    const order = this.byStart === undefined ? undefined : this.orderByStart();
    const mean = this.fn === 'mean';
    const points: SeriesPoint[] = new Array(n);
    for (let k = 0; k < n; k++) {
      const i = order === undefined ? k : order[k];
      const partial = this.partials[i];
      const count = this.counts[i];
      points[k] = { ts: this.starts[i], value: mean ? partial / count : partial, count };
    }
    return points;
  }

  private append(start: number, partial: number, count: number): void {
    this.starts.push(start);
    this.partials.push(partial);
    this.counts.push(count);
  }

  private merge(i: number, partial: number, count: number): void {
    const known = this.partials[i];
    this.partials[i] =
      this.fn === 'mean'
        ? known + partial
        : this.fn === 'min'
          ? Math.min(known, partial)
          : Math.max(known, partial);
    this.counts[i] += count;
  }

  private orderByStart(): number[] {
    const starts = this.starts;
    return Array.from(starts.keys()).sort((a, b) => starts[a] - starts[b]);
  }
}

/** The newest point of one window in one piece of the answer, and how many points it had. */
export interface LastOfWindow {
  start: number;
  /** Time of the newest point; undefined when the store only knows the window (InfluxDB). */
  ts: number | undefined;
  value: MetricValue;
  count: number;
}

/** Merges per-piece `last` answers: the newest point wins, counts add up. */
export class LastOfWindows {
  private readonly windows = new Map<number, LastOfWindow>();

  add(piece: LastOfWindow): void {
    const known = this.windows.get(piece.start);
    if (known === undefined) {
      this.windows.set(piece.start, { ...piece });
      return;
    }
    if (piece.ts !== undefined && (known.ts === undefined || piece.ts > known.ts)) {
      known.ts = piece.ts;
      known.value = piece.value;
    }
    known.count += piece.count;
  }

  points(limit: number | undefined): SeriesPoint[] {
    const ordered = [...this.windows.values()].sort((a, b) => a.start - b.start);
    return ordered
      .slice(0, limit ?? ordered.length)
      .map((w) => ({ ts: w.start, value: w.value, count: w.count }));
  }
}

/**
 * A raw point as an adapter reads it, with everything that orders points sharing one timestamp:
 * the record's identity besides metric and ts (see TimeSeriesStore). `event` is `''` for records
 * without one (the embedded store's column default and InfluxDB's answer for a missing tag).
 */
export interface RawRecord {
  ts: number;
  value: MetricValue;
  deviceId: string;
  kind: string;
  event: string;
}

const compareText = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** The port's order of raw points: by time, then device id, kind and event name (JS string order). */
export function compareRawRecords(a: RawRecord, b: RawRecord): number {
  return (
    a.ts - b.ts ||
    compareText(a.deviceId, b.deviceId) ||
    compareText(a.kind, b.kind) ||
    compareText(a.event, b.event)
  );
}

/**
 * The answer's point for a record: `deviceId` for series() (several devices), not for history();
 * `event` only when the record has one.
 */
export function rawPointOf(record: RawRecord, withDevice: boolean): SeriesPoint {
  const point: SeriesPoint = { ts: record.ts, value: record.value };
  if (withDevice) point.deviceId = record.deviceId;
  if (record.event !== '') point.event = record.event;
  return point;
}

/**
 * Raw points of [from, to) in the port's order (compareRawRecords), at most `limit`. `fetch`
 * returns every record of its range, or with a limit at least the `limit` oldest ones (more is
 * fine: chunked queries each return their own oldest). A store sorts by time but breaks ties its
 * own way (SQLite by UTF-8 bytes, InfluxDB by series key), so when the limit cuts through records
 * sharing one timestamp, all records at that timestamp are fetched and the cut is made here: the
 * answer is the same on every adapter.
 */
export async function rawPointsInOrder(
  fetch: (from: number, to: number, limit: number | undefined) => Promise<RawRecord[]>,
  from: number,
  to: number,
  limit: number | undefined,
  withDevice: boolean,
): Promise<SeriesPoint[]> {
  let records = (await fetch(from, to, limit)).sort(compareRawRecords);
  if (limit !== undefined && records.length >= limit) {
    const boundary = records[limit - 1]?.ts;
    if (boundary === undefined) return [];
    const before = records.filter((r) => r.ts < boundary);
    const atBoundary = await fetch(boundary, boundary + 1, undefined);
    records = [...before, ...atBoundary].sort(compareRawRecords).slice(0, limit);
  }
  const points: SeriesPoint[] = new Array(records.length);
  for (let i = 0; i < records.length; i++) points[i] = rawPointOf(records[i] as RawRecord, withDevice);
  return points;
}
