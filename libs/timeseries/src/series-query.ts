import { pickResolution, type ResolutionContext, type RollupResolution } from './pick-resolution';
import { MAX_TIMESTAMP_MS, MIN_TIMESTAMP_MS } from './reading-validation';
import { ceilTo, floorTo } from './retention';
import {
  AGGREGATIONS,
  RESOLUTION_MS,
  RESOLUTIONS,
  type Resolution,
  type SeriesQuery,
} from './time-series-store';

interface PlannedRange {
  /** Distinct ids, in the order given. */
  deviceIds: string[];
  metric: string;
  /** Clamped to what a store can hold, so no adapter ever sees a time it cannot express. */
  from: number;
  to: number;
  limit: number | undefined;
}

interface PlannedWindows extends PlannedRange {
  everyMs: number;
  /** Normalised to [0, everyMs): a window starts at every ts where (ts + offsetMs) % everyMs === 0. */
  offsetMs: number;
}

/** A SeriesQuery checked and reduced to what an adapter has to do. */
export type SeriesPlan =
  | { mode: 'empty'; resolution: Resolution }
  | ({ mode: 'raw'; resolution: 'raw' } & PlannedRange)
  | ({ mode: 'last'; resolution: 'raw' } & PlannedWindows)
  | ({ mode: 'aggregate'; resolution: Resolution; fn: 'mean' | 'min' | 'max' } & PlannedWindows);

/**
 * Shared argument checks and resolution choice for `series()`, so every adapter refuses the same
 * nonsense (RangeError, as history() does), refuses an unanswerable resolution the same way
 * (InvalidQueryError) and answers the degenerate cases (no devices, empty range, limit 0) alike.
 */
export function planSeriesQuery(query: SeriesQuery, context: ResolutionContext): SeriesPlan {
  const { from, to, everyMs, fn, limit } = query;
  if (!Array.isArray(query.deviceIds) || query.deviceIds.some((id) => typeof id !== 'string')) {
    throw new RangeError('series: deviceIds must be an array of strings');
  }
  if (typeof query.metric !== 'string') throw new RangeError('series: metric must be a string');
  if (!Number.isSafeInteger(from) || !Number.isSafeInteger(to)) {
    throw new RangeError(`series: from and to must be integer epoch ms, got ${from} and ${to}`);
  }
  if (limit !== undefined && (!Number.isSafeInteger(limit) || limit < 0)) {
    throw new RangeError(`series: limit must be a non-negative integer, got ${limit}`);
  }
  const windowed = everyMs !== undefined && fn !== undefined;
  if (windowed && !(AGGREGATIONS as readonly string[]).includes(fn)) {
    throw new RangeError(`series: unknown aggregation ${JSON.stringify(fn)}`);
  }
  const requested = query.resolution ?? 'auto';
  if (requested !== 'auto' && !(RESOLUTIONS as readonly string[]).includes(requested)) {
    throw new RangeError(`series: unknown resolution ${JSON.stringify(requested)}`);
  }
  // Also checks everyMs and offsetMs; throws InvalidQueryError for a resolution that cannot answer.
  const resolution = pickResolution(windowed ? query : { ...query, fn: undefined }, context);

  const range: PlannedRange = {
    deviceIds: [...new Set(query.deviceIds)],
    metric: query.metric,
    from: Math.max(from, MIN_TIMESTAMP_MS),
    to: Math.min(to, MAX_TIMESTAMP_MS + 1),
    limit,
  };
  if (range.to <= range.from || limit === 0 || range.deviceIds.length === 0) {
    return { mode: 'empty', resolution };
  }
  if (!windowed) return { mode: 'raw', resolution: 'raw', ...range };
  const offsetMs = (((query.offsetMs ?? 0) % everyMs) + everyMs) % everyMs;
  if (fn === 'last') return { mode: 'last', resolution: 'raw', ...range, everyMs, offsetMs };
  return { mode: 'aggregate', resolution, fn, ...range, everyMs, offsetMs };
}

/** Start of the window holding `ts`: windows start where (start + offsetMs) % everyMs === 0. */
export function windowStartOf(ts: number, everyMs: number, offsetMs: number): number {
  return floorTo(ts + offsetMs, everyMs) - offsetMs;
}

/** One stretch of a query's time range and the resolution it is read from. */
export interface Segment {
  resolution: Resolution;
  from: number;
  to: number;
}

/**
 * Splits [from, to) between a rollup and the finer resolutions: the rollup answers the whole
 * buckets it has complete, the finer ones the partial buckets at either end — a `from` of 08:37
 * on a 1h rollup reads 08:37–09:00 from the 1-minute rollup (and 08:37:12–08:38 raw) — and the
 * recent stretch the rollup does not hold yet (`completeBefore`). Windows are whole multiples of
 * the chosen rollup's buckets, so every piece belongs to exactly one window and summing the
 * pieces' sums and counts per window gives exactly what raw points would.
 */
export function splitIntoSegments(
  resolution: Resolution,
  from: number,
  to: number,
  completeBefore: (rollup: RollupResolution) => number,
): Segment[] {
  if (from >= to) return [];
  if (resolution === 'raw') return [{ resolution, from, to }];
  const step = RESOLUTION_MS[resolution];
  const finer: Resolution = resolution === '1h' ? '1m' : 'raw';
  const complete = completeBefore(resolution);
  const start = ceilTo(from, step);
  const end = Math.min(floorTo(to, step), Number.isFinite(complete) ? floorTo(complete, step) : to);
  if (start >= end) return splitIntoSegments(finer, from, to, completeBefore);
  return [
    ...splitIntoSegments(finer, from, start, completeBefore),
    { resolution, from: start, to: end },
    ...splitIntoSegments(finer, end, to, completeBefore),
  ];
}

/** The error every adapter throws for mean/min/max over booleans or text. */
export function nonNumericSeriesMessage(fn: string, metric: string): string {
  return (
    `series: cannot compute ${fn} of non-numeric metric ${JSON.stringify(metric)}; ` +
    "only 'last' works on booleans and strings"
  );
}

/**
 * splitIntoSegments around hours a rollup is known not to hold correctly yet (late writes not
 * rolled up): those are read from raw points, the rest as usual.
 */
export function splitAroundPendingHours(
  resolution: Resolution,
  from: number,
  to: number,
  completeBefore: (rollup: RollupResolution) => number,
  pendingHours: readonly number[],
): Segment[] {
  if (resolution === 'raw' || pendingHours.length === 0) {
    return splitIntoSegments(resolution, from, to, completeBefore);
  }
  const hour = RESOLUTION_MS['1h'];
  const segments: Segment[] = [];
  let cursor = from;
  for (const pending of [...pendingHours].sort((a, b) => a - b)) {
    const start = Math.max(pending, cursor);
    const end = Math.min(pending + hour, to);
    if (end <= start) continue;
    segments.push(...splitIntoSegments(resolution, cursor, start, completeBefore));
    segments.push({ resolution: 'raw', from: start, to: end });
    cursor = end;
  }
  segments.push(...splitIntoSegments(resolution, cursor, to, completeBefore));
  return segments;
}
