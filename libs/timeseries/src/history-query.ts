import { AGGREGATIONS, type Aggregation, type HistoryQuery } from './time-series-store';

/** A HistoryQuery checked and reduced to what an adapter has to do. */
export type PlannedHistoryQuery =
  | { mode: 'empty' }
  | { mode: 'raw'; limit: number | undefined }
  | { mode: 'aggregate'; fn: Aggregation; everyMs: number; limit: number | undefined };

/**
 * Shared argument checks for `history()`, so every adapter refuses the same nonsense with the same
 * message and answers the degenerate cases (empty range, limit 0) the same way — InfluxQL, for
 * one, reads `LIMIT 0` as "no limit".
 */
export function planHistoryQuery(query: HistoryQuery): PlannedHistoryQuery {
  const { from, to, everyMs, fn, limit } = query;
  if (!Number.isSafeInteger(from) || !Number.isSafeInteger(to)) {
    throw new RangeError(`history: from and to must be integer epoch ms, got ${from} and ${to}`);
  }
  if (limit !== undefined && (!Number.isSafeInteger(limit) || limit < 0)) {
    throw new RangeError(`history: limit must be a non-negative integer, got ${limit}`);
  }
  const aggregate = everyMs !== undefined && fn !== undefined;
  if (aggregate) {
    if (!Number.isSafeInteger(everyMs) || everyMs <= 0) {
      throw new RangeError(`history: everyMs must be a positive integer, got ${everyMs}`);
    }
    if (!(AGGREGATIONS as readonly string[]).includes(fn)) {
      throw new RangeError(`history: unknown aggregation ${JSON.stringify(fn)}`);
    }
  }
  if (to <= from || limit === 0) return { mode: 'empty' };
  return aggregate ? { mode: 'aggregate', fn, everyMs, limit } : { mode: 'raw', limit };
}

/** The error both adapters throw for mean/min/max over booleans or strings. */
export function nonNumericAggregationMessage(query: HistoryQuery): string {
  return (
    `history: cannot compute ${query.fn} of non-numeric metric ${JSON.stringify(query.metric)} ` +
    `of device ${JSON.stringify(query.deviceId)}; only 'last' works on booleans and strings`
  );
}
