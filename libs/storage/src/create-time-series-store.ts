import { EmbeddedTimeSeriesStore, type EmbeddedTimeSeriesStoreOptions } from './embedded-time-series.store';
import { InfluxTimeSeriesStore, type InfluxTimeSeriesStoreOptions } from './influx-time-series.store';
import type { TimeSeriesStore } from './time-series-store';

export type TimeSeriesStoreConfig =
  | ({ storage: 'embedded' } & EmbeddedTimeSeriesStoreOptions)
  | ({ storage: 'influxdb' } & InfluxTimeSeriesStoreOptions);

/** The configured adapter, not yet initialised: call `init()` before use. */
export function createTimeSeriesStore(config: TimeSeriesStoreConfig): TimeSeriesStore {
  switch (config.storage) {
    case 'embedded': {
      const { storage: _storage, ...options } = config;
      return new EmbeddedTimeSeriesStore(options);
    }
    case 'influxdb': {
      const { storage: _storage, ...options } = config;
      return new InfluxTimeSeriesStore(options);
    }
  }
}
