import type { MetricValue, Reading } from '@ioc/contracts';

/** Aggregations a history query may ask for over each window. */
export const AGGREGATIONS = ['mean', 'min', 'max', 'last'] as const;
export type Aggregation = (typeof AGGREGATIONS)[number];

export interface LatestValue {
  value: MetricValue;
  /** Observation time of that value, epoch ms. */
  ts: number;
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
}

/**
 * The port every time-series adapter implements; `conformance` holds the one test suite they all
 * pass. A point is identified by (device, metric, ts): writing the same reading twice keeps one.
 */
export interface TimeSeriesStore {
  readonly kind: 'embedded' | 'influxdb';
  /** Prepares the store (creates files, databases); idempotent. */
  init(): Promise<void>;
  /** Writes a batch; resolves once the store has it durably. Rejects on failure, writing nothing or all. */
  write(readings: readonly Reading[]): Promise<void>;
  /** Latest value of each of the given metrics of a device; metrics never reported are absent. */
  latest(deviceId: string, metrics: readonly string[]): Promise<Record<string, LatestValue>>;
  /** Points of one metric of one device, oldest first. */
  history(query: HistoryQuery): Promise<HistoryPoint[]>;
  /** True when the store answers now. */
  ping(): Promise<boolean>;
  close(): Promise<void>;
}
