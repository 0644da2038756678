import type { RollupResolution } from './pick-resolution';
import { INFLUX_MEASUREMENT } from './influx-line-protocol';
import { epochMsLiteral, quoteIdentifier } from './influxql';
import { MAX_TIMESTAMP_MS } from './reading-validation';
import { floorTo, HOUR_MS, MINUTE_MS } from './retention';

/**
 * Rollup layout on InfluxDB 1.x, maintained by InfluxDB itself (continuous queries) and, for what
 * they cannot see, by the adapter (the same SELECT … INTO over the hours late writes touched).
 *
 *   raw:  <raw RP>."readings"      fields <metric>                       (autogen by default)
 *   1m:   "rp_1m"."readings_1m"    fields sum_<m>, count_<m>, min_<m>, max_<m>
 *   1h:   "rp_1h"."readings_1h"    fields sum_sum_<m>, sum_count_<m>, min_min_<m>, max_max_<m>
 *
 * Tags are carried over unchanged (GROUP BY time(…), *), so a rollup series is a raw series.
 * The names are what InfluxQL's wildcard aggregation produces — `sum(*)` names its columns
 * `sum_<field>`, and the hour rollup aggregates the minute rollup's columns again — so the
 * statements need not know the metrics: new metrics are rolled up without touching the CQs.
 * `sum(*)` skips string and boolean fields (InfluxDB expands the wildcard to the fields the
 * function accepts) and `min/max(*)` skip strings; `count(*)` and `min/max(*)` do produce
 * count_/min_/max_ columns for booleans (and count_ for strings), which are never read: series()
 * takes a window without a numeric sum as "no numeric data".
 */
export const ROLLUP_TARGETS: Record<RollupResolution, { retentionPolicy: string; measurement: string }> = {
  '1m': { retentionPolicy: 'rp_1m', measurement: `${INFLUX_MEASUREMENT}_1m` },
  '1h': { retentionPolicy: 'rp_1h', measurement: `${INFLUX_MEASUREMENT}_1h` },
};

export const CONTINUOUS_QUERY_NAMES: Record<RollupResolution, string> = {
  '1m': 'ioc_rollup_1m',
  '1h': 'ioc_rollup_1h',
};

/** Names of the four columns holding a metric's sum, count, min and max in a rollup. */
export function rollupFields(resolution: RollupResolution, metric: string) {
  return resolution === '1m'
    ? { sum: `sum_${metric}`, count: `count_${metric}`, min: `min_${metric}`, max: `max_${metric}` }
    : {
        sum: `sum_sum_${metric}`,
        count: `sum_count_${metric}`,
        min: `min_min_${metric}`,
        max: `max_max_${metric}`,
      };
}

const qualified = (database: string, retentionPolicy: string, measurement: string) =>
  `${quoteIdentifier(database)}.${quoteIdentifier(retentionPolicy)}.${quoteIdentifier(measurement)}`;

/**
 * The one statement that computes a rollup: the body of its continuous query, and — with a WHERE
 * on time — what compact() runs for the hours late writes touched.
 */
export function rollupSelect(
  resolution: RollupResolution,
  database: string,
  rawRetentionPolicy: string,
  range?: { from: number; to: number },
): string {
  const where =
    range === undefined
      ? ''
      : ` WHERE time >= ${epochMsLiteral(range.from)} AND time <= ${epochMsLiteral(Math.min(range.to - 1, MAX_TIMESTAMP_MS))}`;
  const into = ROLLUP_TARGETS[resolution];
  if (resolution === '1m') {
    return (
      `SELECT sum(*), count(*), min(*), max(*) INTO ${qualified(database, into.retentionPolicy, into.measurement)} ` +
      `FROM ${qualified(database, rawRetentionPolicy, INFLUX_MEASUREMENT)}${where} GROUP BY time(1m), *`
    );
  }
  const from = ROLLUP_TARGETS['1m'];
  // Regular expressions on the minute rollup's column names: sums of sums and counts, min of
  // mins, max of maxes — giving sum_sum_<m>, sum_count_<m>, min_min_<m>, max_max_<m>.
  return (
    `SELECT sum(/^(sum|count)_/), min(/^min_/), max(/^max_/) ` +
    `INTO ${qualified(database, into.retentionPolicy, into.measurement)} ` +
    `FROM ${qualified(database, from.retentionPolicy, from.measurement)}${where} GROUP BY time(1h), *`
  );
}

/**
 * Continuous-query schedules. The minute CQ runs every minute over the last 10 minutes, so points
 * arriving up to ~9 minutes late still reach it; the hour CQ runs every 10 minutes over the last
 * 2 hours of minute rollups, so it sees those corrections too. Later writes are the adapter's.
 */
const SCHEDULES: Record<RollupResolution, { every: string; for: string }> = {
  '1m': { every: '1m', for: '10m' },
  '1h': { every: '10m', for: '2h' },
};

/** A point this much older than the time it is written at is too late for the minute CQ to see. */
export const CQ_REACH_MS = 8 * MINUTE_MS;
/** After this long, both CQs have run over a point that was not too late. */
const CQ_SETTLE_MS = 15 * MINUTE_MS;
/** How long after its scheduled time a CQ run is assumed to have finished. */
const CQ_RUN_MS = 30_000;

export function createContinuousQuery(
  resolution: RollupResolution,
  database: string,
  rawRetentionPolicy: string,
): string {
  const schedule = SCHEDULES[resolution];
  return (
    `CREATE CONTINUOUS QUERY ${quoteIdentifier(CONTINUOUS_QUERY_NAMES[resolution])} ON ${quoteIdentifier(database)} ` +
    `RESAMPLE EVERY ${schedule.every} FOR ${schedule.for} ` +
    `BEGIN ${rollupSelect(resolution, database, rawRetentionPolicy)} END`
  );
}

/**
 * Until when the CQs have certainly rolled up everything written before it (as far as CQs see):
 * minute buckets up to the last minute boundary (plus time for the run), hours once the hour CQ
 * ran after the hour's last minute was rolled up. series() reads newer stretches from finer data.
 */
export function continuousQueriesCompleteBefore(resolution: RollupResolution, now: number): number {
  return resolution === '1m'
    ? floorTo(now - CQ_RUN_MS, MINUTE_MS)
    : floorTo(now - 10 * MINUTE_MS - CQ_RUN_MS, HOUR_MS);
}

/** InfluxQL duration of a retention period: `INF` for keep-forever, else whole ms. */
export function retentionDuration(ms: number): string {
  return ms === Number.POSITIVE_INFINITY ? 'INF' : `${ms}ms`;
}

/**
 * Shard-group length for a retention period, after InfluxDB's own guidance: short enough that
 * expiry (which drops whole shard groups) is not much later than asked, long enough that a long
 * history is not thousands of shards. Never longer than the retention itself.
 */
export function shardGroupDuration(retainMs: number): string {
  const day = 24 * HOUR_MS;
  if (retainMs < 2 * day) return '1h';
  if (retainMs <= 183 * day) return '1d';
  if (retainMs <= 3 * 365 * day) return '7d';
  return '30d';
}

export function retentionPolicyStatement(
  verb: 'CREATE' | 'ALTER',
  name: string,
  database: string,
  retainMs: number,
): string {
  return (
    `${verb} RETENTION POLICY ${quoteIdentifier(name)} ON ${quoteIdentifier(database)} ` +
    `DURATION ${retentionDuration(retainMs)}${verb === 'CREATE' ? ' REPLICATION 1' : ''} ` +
    `SHARD DURATION ${shardGroupDuration(retainMs)}`
  );
}

/** InfluxDB's answer when some points of a write are older than the retention policy keeps. */
export function isBeyondRetention(influxMessage: string | undefined): boolean {
  return /^partial write: points beyond retention policy dropped=\d+$/.test(influxMessage ?? '');
}

/**
 * The hours this process wrote into that still need rolling up by the adapter: `late` ones the
 * CQs will never see (written more than CQ_REACH_MS after their time: a backlog replayed after an
 * outage, a backfill), and `recent` ones the CQs will handle within CQ_SETTLE_MS — kept only so
 * compact() can bring those up to date at once.
 */
export class RollupBacklog {
  private readonly late = new Set<number>();
  private readonly recent = new Map<number, number>();

  /** Records a point written at `now`; returns the hour when it is one the CQs will not see. */
  record(ts: number, now: number): number | undefined {
    const hour = floorTo(ts, HOUR_MS);
    if (ts < now - CQ_REACH_MS) {
      this.late.add(hour);
      return hour;
    }
    this.recent.set(hour, Math.max(this.recent.get(hour) ?? 0, now + CQ_SETTLE_MS));
    return undefined;
  }

  /** Takes the hours to roll up now, oldest first: the late ones, or with `all` every one. */
  take(all: boolean, now: number): number[] {
    for (const [hour, settled] of this.recent) if (settled <= now) this.recent.delete(hour);
    const hours = new Set(this.late);
    this.late.clear();
    if (all) {
      for (const hour of this.recent.keys()) hours.add(hour);
      this.recent.clear();
    }
    return [...hours].sort((a, b) => a - b);
  }

  /** Hours whose rolling up failed, to be tried again. */
  putBack(hours: Iterable<number>): void {
    for (const hour of hours) this.late.add(hour);
  }

  get size(): number {
    return this.late.size + this.recent.size;
  }
}

/**
 * Late hours are also recorded in InfluxDB itself, one point per hour in this measurement (in the
 * raw retention policy, so markers expire with the points they are about):
 *   `written` — when a write last touched the hour (sent in the same request as the points);
 *   `rolled`  — when the adapter last began rolling it up.
 * An hour is pending while written > rolled (or nothing rolled it up yet). That survives a crash
 * of the writing process (init() takes the pending hours back into its backlog), and lets every
 * other process reading the database (the API next to the broker) read pending hours from raw
 * points instead of from a rollup that does not hold them yet. Only writes, no DELETE: a write
 * arriving while an hour is being rolled up leaves it pending, so no race loses it.
 */
export const BACKLOG_MEASUREMENT = 'rollup_backlog';

/** Line protocol for backlog markers (ms precision); no user data in them. */
export function backlogLines(field: 'written' | 'rolled', at: number, hours: Iterable<number>): string[] {
  return [...hours].map((hour) => `${BACKLOG_MEASUREMENT} ${field}=${Math.trunc(at)}i ${hour}`);
}

/** The pending hours among backlog marker rows (`time`, `written`, `rolled`). */
export function pendingHoursOf(rows: readonly Record<string, unknown>[]): number[] {
  const hours: number[] = [];
  for (const { time, written, rolled } of rows) {
    if (typeof time !== 'number' || typeof written !== 'number') continue;
    if (typeof rolled !== 'number' || written >= rolled) hours.push(time);
  }
  return hours.sort((a, b) => a - b);
}

/** Consecutive hours as [from, to) ranges of at most `maxHours`, so one statement stays bounded. */
export function hourRanges(hours: readonly number[], maxHours: number): { from: number; to: number }[] {
  const ranges: { from: number; to: number }[] = [];
  for (const hour of hours) {
    const last = ranges.at(-1);
    if (last !== undefined && last.to === hour && last.to - last.from < maxHours * HOUR_MS) {
      last.to = hour + HOUR_MS;
    } else {
      ranges.push({ from: hour, to: hour + HOUR_MS });
    }
  }
  return ranges;
}
