import type { MetricValue, Reading } from '@ioc/contracts';

/** Aggregations a history query may ask for over each window. */
export const AGGREGATIONS = ['mean', 'min', 'max', 'last'] as const;
export type Aggregation = (typeof AGGREGATIONS)[number];

export interface LatestValue {
  value: MetricValue;
  /** Observation time of that value, epoch ms. */
  ts: number;
  /**
   * Which event the value came from (`accident`, `wrongWay`, …: `Reading.event`), present only
   * when the newest record of the metric was a `kind: 'event'` reading with an event name.
   */
  event?: string;
}

export interface HistoryQuery {
  deviceId: string;
  metric: string;
  /** Inclusive start, epoch ms. */
  from: number;
  /** Exclusive end, epoch ms. */
  to: number;
  /**
   * Window length in ms; with `fn`, one point per non-empty window, stamped with the window's
   * start (windows aligned to the Unix epoch, UTC). Without both, raw points.
   */
  everyMs?: number;
  fn?: Aggregation;
  /** Upper bound on points returned (oldest first). */
  limit?: number;
}

export interface HistoryPoint {
  ts: number;
  value: MetricValue;
  /**
   * Raw points only: the event the record was (`Reading.event`, e.g. `accident`), present only
   * for records of `kind: 'event'` that name one. Never on aggregates (a window mixes events).
   */
  event?: string;
}

/** Resolutions a store keeps: raw points, and 1-minute and 1-hour rollups (mean, min, max, count). */
export const RESOLUTIONS = ['raw', '1m', '1h'] as const;
export type Resolution = (typeof RESOLUTIONS)[number];
export const RESOLUTION_MS: Record<Exclude<Resolution, 'raw'>, number> = { '1m': 60_000, '1h': 3_600_000 };

/**
 * How long each resolution is kept, in ms (`Infinity`: forever); older data is deleted (embedded)
 * or expired (InfluxDB retention policies). Cut at whole hours, so a bucket is kept whole or not.
 */
export interface RetentionPolicy {
  rawMs: number;
  oneMinuteMs: number;
  oneHourMs: number;
}

/**
 * One metric over one or several devices. With `fn` and `everyMs`: one aggregate per window over
 * all listed devices together (the mean is weighted by point count, as if computed over the raw
 * points). Without: raw points of all listed devices, oldest first, each with its device id.
 */
export interface SeriesQuery {
  deviceIds: readonly string[];
  metric: string;
  /** Inclusive start, epoch ms. */
  from: number;
  /** Exclusive end, epoch ms. */
  to: number;
  everyMs?: number;
  fn?: Aggregation;
  /**
   * A time zone's UTC offset: windows start where ts + offsetMs is a multiple of everyMs, i.e. at
   * k·everyMs − offsetMs. 7 h (25 200 000) aligns daily windows on midnight in Asia/Ho_Chi_Minh
   * (UTC+7, no daylight saving), which is 17:00 UTC. Default 0 (UTC). (InfluxQL's own
   * `GROUP BY time(every, offset)` counts the other way: there it is `-offsetMs`.)
   */
  offsetMs?: number;
  /** `auto` (default): the coarsest resolution that answers the query exactly (see pickResolution). */
  resolution?: Resolution | 'auto';
  limit?: number;
}

export interface SeriesPoint extends HistoryPoint {
  /** Present on raw points; absent on aggregates (one aggregate covers all listed devices). */
  deviceId?: string;
  /**
   * Points the aggregate was computed from (aggregates only): numeric points for mean/min/max,
   * all points of the window for `last` (whose value is the newest point of any listed device;
   * between devices reporting at the very same ms, any one of them).
   */
  count?: number;
}

export interface SeriesResult {
  /** The resolution the answer was computed from. */
  resolution: Resolution;
  points: SeriesPoint[];
}

/**
 * The port every time-series adapter implements; `conformance` holds the one test suite they all
 * pass.
 *
 * A point is identified by (device, metric, ts, kind, event). Writing the same
 * reading twice (a redelivery, a spool replay after a crash) keeps one point, the last written;
 * two distinct records of one device in the same millisecond — a telemetry message and a status
 * message both carrying `online`, two camera events of different types both carrying
 * `confidence` — are two points, and history() returns both.
 *
 * Order of raw points sharing a timestamp (every adapter, so their answers are identical): by
 * device id, then kind, then event name (absent first), each compared as JS strings (UTF-16 code
 * units; for the ASCII names of the contracts the same as SQLite's byte order). latest() answers
 * the LAST point in that order: at a tie in ts, `telemetry` wins over `status`, which wins over
 * `event` (alphabetical order of the kinds). The `last` aggregation of a window whose newest
 * records share their ts takes any one of them (InfluxDB's last() cannot be told which), while
 * `count` and mean/min/max include every record.
 */
export interface TimeSeriesStore {
  readonly kind: 'embedded' | 'influxdb';
  /** Prepares the store (creates files, databases); idempotent. */
  init(): Promise<void>;
  /** Writes a batch; resolves once the store has it durably. Rejects on failure, writing nothing or all. */
  write(readings: readonly Reading[]): Promise<void>;
  /** Latest value of each of the given metrics of a device; metrics never reported are absent. */
  latest(deviceId: string, metrics: readonly string[]): Promise<Record<string, LatestValue>>;
  /**
   * latest() of many devices in one go (a map's first paint): for each listed device that has any
   * of the metrics, its latest value of each, as latest() answers it; devices with none are
   * absent. One statement per call (embedded) or one request per 500 devices (InfluxDB), never
   * one per device.
   */
  latestOfDevices(
    deviceIds: readonly string[],
    metrics: readonly string[],
  ): Promise<Map<string, Record<string, LatestValue>>>;
  /** Points of one metric of one device, oldest first, from raw data. */
  history(query: HistoryQuery): Promise<HistoryPoint[]>;
  /** One metric over one or several devices, from the coarsest resolution that answers it. */
  series(query: SeriesQuery): Promise<SeriesResult>;
  /**
   * Brings rollups up to date with everything written so far (they are also maintained in the
   * background) and applies retention. Tests and benchmarks call it; operators need not.
   */
  compact(): Promise<void>;
  /** True when the store answers now. */
  ping(): Promise<boolean>;
  close(): Promise<void>;
}
