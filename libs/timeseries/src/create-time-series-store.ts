import { EmbeddedTimeSeriesStore, type EmbeddedTimeSeriesStoreOptions } from './embedded-time-series.store';
import { InfluxTimeSeriesStore, type InfluxTimeSeriesStoreOptions } from './influx-time-series.store';
import type { TimeSeriesStore } from './time-series-store';
import { WorkerTimeSeriesStore } from './worker/worker-time-series-store';

export type TimeSeriesStoreConfig =
  | ({ storage: 'embedded' } & EmbeddedTimeSeriesStoreOptions)
  | ({ storage: 'influxdb' } & InfluxTimeSeriesStoreOptions);

/**
 * Where the store's work runs: `worker` — its own thread (WorkerTimeSeriesStore; options must
 * then be plain data), or `caller` — the calling thread.
 */
export type StoreThread = 'worker' | 'caller';

/** The configured adapter, not yet initialised: call `init()` before use. */
export function createTimeSeriesStore(
  config: TimeSeriesStoreConfig & { thread?: StoreThread },
): TimeSeriesStore {
  const { thread = 'caller', ...storeConfig } = config;
  if (thread === 'worker') return new WorkerTimeSeriesStore(storeConfig);
  switch (storeConfig.storage) {
    case 'embedded': {
      const { storage: _storage, ...options } = storeConfig;
      return new EmbeddedTimeSeriesStore(options);
    }
    case 'influxdb': {
      const { storage: _storage, ...options } = storeConfig;
      return new InfluxTimeSeriesStore(options);
    }
  }
}
