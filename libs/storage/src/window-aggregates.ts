import type { MetricValue } from '@ioc/contracts';
import type { SeriesPoint } from './time-series-store';

/**
 * Sum, count, min and max of the numeric points of one window, from one piece of the answer (a
 * chunk of devices, a stretch read from one resolution). Pieces of the same window merge
 * exactly, which is what lets a mean over many devices and resolutions be the count-weighted
 * mean of the raw points.
 */
export interface WindowAggregate {
  start: number;
  sum: number;
  count: number;
  min: number;
  max: number;
}

/** Merges window pieces and turns them into mean/min/max points, oldest window first. */
export class WindowAggregates {
  private readonly windows = new Map<number, WindowAggregate>();

  add(piece: WindowAggregate): void {
    if (piece.count <= 0) return;
    const known = this.windows.get(piece.start);
    if (known === undefined) {
      this.windows.set(piece.start, { ...piece });
      return;
    }
    known.sum += piece.sum;
    known.count += piece.count;
    known.min = Math.min(known.min, piece.min);
    known.max = Math.max(known.max, piece.max);
  }

  get size(): number {
    return this.windows.size;
  }

  points(fn: 'mean' | 'min' | 'max', limit: number | undefined): SeriesPoint[] {
    const ordered = [...this.windows.values()].sort((a, b) => a.start - b.start);
    return ordered.slice(0, limit ?? ordered.length).map((w) => ({
      ts: w.start,
      value: fn === 'mean' ? w.sum / w.count : fn === 'min' ? w.min : w.max,
      count: w.count,
    }));
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

/** Raw points of several devices in the port's order: by time, then by device id. */
export function compareRawPoints(a: SeriesPoint, b: SeriesPoint): number {
  if (a.ts !== b.ts) return a.ts - b.ts;
  const da = a.deviceId ?? '';
  const db = b.deviceId ?? '';
  return da < db ? -1 : da > db ? 1 : 0;
}

/**
 * Raw points of [from, to) in the port's order, at most `limit`. `fetch` returns every point of
 * its range, or with a limit at least the `limit` oldest ones (more is fine: chunked queries
 * each return their own oldest). A store sorts by time but breaks ties its own way (SQLite by
 * UTF-8 bytes, InfluxDB by series key), so when the limit cuts through points sharing one
 * timestamp, all points at that timestamp are fetched and the cut is made here: the answer is the
 * same on every adapter.
 */
export async function rawPointsInOrder(
  fetch: (from: number, to: number, limit: number | undefined) => Promise<SeriesPoint[]>,
  from: number,
  to: number,
  limit: number | undefined,
): Promise<SeriesPoint[]> {
  const points = (await fetch(from, to, limit)).sort(compareRawPoints);
  if (limit === undefined || points.length < limit) return points;
  const boundary = points[limit - 1]?.ts;
  if (boundary === undefined) return [];
  const before = points.filter((p) => p.ts < boundary);
  const atBoundary = await fetch(boundary, boundary + 1, undefined);
  return [...before, ...atBoundary].sort(compareRawPoints).slice(0, limit);
}
