import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTimeSeriesStore } from './create-time-series-store';
import { EmbeddedTimeSeriesStore } from './embedded-time-series.store';
import { InfluxTimeSeriesStore } from './influx-time-series.store';

describe('createTimeSeriesStore', () => {
  it('builds the embedded store on the configured data directory', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ioc-factory-'));
    const store = createTimeSeriesStore({ storage: 'embedded', dataDir: join(dir, 'ts') });
    try {
      expect(store).toBeInstanceOf(EmbeddedTimeSeriesStore);
      expect(store.kind).toBe('embedded');
      await store.init();
      expect(existsSync(join(dir, 'ts', 'timeseries.sqlite'))).toBe(true);
    } finally {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('builds the InfluxDB store without touching the network', async () => {
    const store = createTimeSeriesStore({
      storage: 'influxdb',
      url: 'http://127.0.0.1:1',
      database: 'ioc',
      token: 't',
    });
    expect(store).toBeInstanceOf(InfluxTimeSeriesStore);
    expect(store.kind).toBe('influxdb');
    await store.close();
  });
});
