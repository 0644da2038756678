export * from './time-series-store';
export {
  pickResolution,
  rollupAligns,
  type ResolutionContext,
  type RollupResolution,
} from './pick-resolution';
export { DEFAULT_RETENTION } from './retention';
export * from './storage-env';
export * from './errors';
export { RESERVED_METRIC_NAMES, MIN_TIMESTAMP_MS, MAX_TIMESTAMP_MS } from './reading-validation';
export * from './embedded-time-series.store';
export * from './influx-time-series.store';
export { quoteIdentifier, quoteString, canQuote } from './influxql';
export * from './create-time-series-store';
export * from './init-with-retry';
export { INFLUX_MEASUREMENT } from './influx-line-protocol';
export { BACKLOG_MEASUREMENT, backlogLines, ROLLUP_TARGETS } from './influx-rollups';
