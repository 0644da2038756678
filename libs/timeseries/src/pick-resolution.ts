import { InvalidQueryError } from './errors';
import { retentionCutoff } from './retention';
import { RESOLUTION_MS, type Resolution, type RetentionPolicy, type SeriesQuery } from './time-series-store';

export type RollupResolution = Exclude<Resolution, 'raw'>;

export interface ResolutionContext {
  retention: RetentionPolicy;
  /** Current time, epoch ms: what retention has already deleted depends on it. */
  now: number;
  /** Rollups the store keeps; both by default. A store without rollups answers everything raw. */
  rollups?: readonly RollupResolution[];
}

const ROLLUPS_COARSEST_FIRST: readonly RollupResolution[] = ['1h', '1m'];

/**
 * Whether every window of `everyMs`, offset by `offsetMs`, is a whole number of `rollup` buckets:
 * only then is an aggregate over the rollup's buckets exactly the aggregate over the raw points.
 */
export function rollupAligns(rollup: RollupResolution, everyMs: number, offsetMs: number): boolean {
  const step = RESOLUTION_MS[rollup];
  return everyMs % step === 0 && Math.abs(offsetMs % step) === 0;
}

function retentionMs(resolution: Resolution, retention: RetentionPolicy): number {
  switch (resolution) {
    case 'raw':
      return retention.rawMs;
    case '1m':
      return retention.oneMinuteMs;
    case '1h':
      return retention.oneHourMs;
  }
}

/**
 * The resolution a series query is answered from.
 *
 * - Raw points (no `fn`/`everyMs`) and `fn: 'last'` come from raw data: rollups keep only
 *   sum, count, min and max per bucket.
 * - mean/min/max per window: the coarsest resolution whose buckets tile the windows exactly
 *   (`1h` when everyMs and offsetMs are whole hours, else `1m` when whole minutes, else raw) —
 *   the same numbers as from raw points, read from 60 or 3 600 times fewer rows. Among those,
 *   the coarsest one whose retention still covers `from`; when none does, the one keeping the
 *   longest history. So an aggregate over a period raw retention has already deleted is answered
 *   from the rollups that still hold it — but never by a rollup whose buckets straddle windows:
 *   that would be a different answer, not a coarser one.
 * - An explicit `resolution` is honoured, or refused with InvalidQueryError when it cannot
 *   answer the query (a rollup for raw points or `last`, or buckets that do not tile the windows).
 */
export function pickResolution(
  query: Pick<SeriesQuery, 'from' | 'everyMs' | 'fn' | 'offsetMs' | 'resolution'>,
  context: ResolutionContext,
): Resolution {
  const requested = query.resolution ?? 'auto';
  const rollups = context.rollups ?? ROLLUPS_COARSEST_FIRST;
  const { everyMs, fn } = query;
  const offsetMs = query.offsetMs ?? 0;
  if (everyMs !== undefined && (!Number.isSafeInteger(everyMs) || everyMs <= 0)) {
    throw new RangeError(`series: everyMs must be a positive integer, got ${everyMs}`);
  }
  if (!Number.isSafeInteger(offsetMs)) {
    throw new RangeError(`series: offsetMs must be an integer, got ${offsetMs}`);
  }
  const windowed = everyMs !== undefined && (fn === 'mean' || fn === 'min' || fn === 'max');

  if (requested === 'raw') return 'raw';
  if (requested !== 'auto') {
    if (!rollups.includes(requested)) {
      throw new InvalidQueryError(`resolution ${requested}: this store keeps no ${requested} rollups`);
    }
    if (!windowed) {
      throw new InvalidQueryError(
        `resolution ${requested} holds only mean, min, max and count per bucket: ` +
          'raw points and fn=last need resolution raw (or auto)',
      );
    }
    if (!rollupAligns(requested, everyMs, offsetMs)) {
      throw new InvalidQueryError(
        `resolution ${requested} cannot answer windows of ${everyMs} ms offset by ${offsetMs} ms: ` +
          `both must be whole multiples of ${RESOLUTION_MS[requested]} ms`,
      );
    }
    return requested;
  }

  if (!windowed) return 'raw';
  const candidates: Resolution[] = [
    ...ROLLUPS_COARSEST_FIRST.filter((r) => rollups.includes(r) && rollupAligns(r, everyMs, offsetMs)),
    'raw',
  ];
  const covering = candidates.find(
    (r) => query.from >= retentionCutoff(context.now, retentionMs(r, context.retention)),
  );
  if (covering !== undefined) return covering;
  return candidates.reduce((best, r) =>
    retentionMs(r, context.retention) > retentionMs(best, context.retention) ? r : best,
  );
}
