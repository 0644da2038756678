import { EmbeddedTimeSeriesStore } from './embedded-time-series.store';
import { InfluxTimeSeriesStore, type InfluxTimeSeriesStoreOptions } from './influx-time-series.store';
import type { TimeSeriesStore } from './time-series-store';

export type TimeSeriesStoreConfig =
  { storage: 'embedded'; dataDir: string } | ({ storage: 'influxdb' } & InfluxTimeSeriesStoreOptions);

/** The configured adapter, not yet initialised: call `init()` before use. */
export function createTimeSeriesStore(config: TimeSeriesStoreConfig): TimeSeriesStore {
  switch (config.storage) {
    case 'embedded':
      return new EmbeddedTimeSeriesStore({ dataDir: config.dataDir });
    case 'influxdb': {
      const { storage: _storage, ...options } = config;
      return new InfluxTimeSeriesStore(options);
    }
  }
}
