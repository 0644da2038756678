import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeWithInfluxd, startInfluxd } from '@ioc/testing';
import { EmbeddedTimeSeriesStore } from './embedded-time-series.store';
import { InfluxTimeSeriesStore } from './influx-time-series.store';
import { initWithRetry } from './init-with-retry';

describe('initWithRetry', () => {
  it('resolves true at once when the store answers', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'init-retry-'));
    const store = new EmbeddedTimeSeriesStore({ dataDir: dir });
    const failures: Error[] = [];
    await expect(initWithRetry(store, { retryMs: 50, onRetry: (e) => failures.push(e) })).resolves.toBe(true);
    expect(failures).toEqual([]);
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
});

describeWithInfluxd('initWithRetry against a real influxd', () => {
  it('keeps trying until an influxd that was down comes up', async () => {
    const influxd = await startInfluxd();
    await influxd.stopProcess();
    const store = new InfluxTimeSeriesStore({ url: influxd.url, database: 'late' });
    const failures: Error[] = [];
    let ready!: () => void;
    const becameReady = new Promise<void>((resolve) => (ready = resolve));
    await expect(
      initWithRetry(store, { retryMs: 200, onRetry: (e) => failures.push(e), onReady: ready }),
    ).resolves.toBe(false);
    expect(failures[0]?.message).toMatch(/ECONNREFUSED/);
    await influxd.startProcess();
    try {
      await becameReady;
      expect(await store.ping()).toBe(true);
    } finally {
      await store.close();
      await influxd.stop();
    }
  }, 30_000);
});
