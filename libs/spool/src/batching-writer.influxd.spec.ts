import type { Reading } from '@ioc/contracts';
import { describeWithInfluxd, type InfluxdHandle, startInfluxd } from '@ioc/testing';
import { InfluxTimeSeriesStore } from '@ioc/timeseries';
import { BatchingWriter } from './batching-writer';

const T0 = Date.UTC(2026, 10, 27, 8, 0, 0);
function reading(deviceId: string, ts: number, metrics: Reading['metrics']): Reading {
  return {
    deviceId,
    deviceType: 'noise-meter',
    domain: 'env',
    kind: 'telemetry',
    areaId: 'ward-3',
    areaPath: ['province', 'ward-3'],
    location: { lat: 21, lon: 105 },
    ts,
    metrics,
  };
}

describeWithInfluxd('BatchingWriter against a real influxd', () => {
  let influxd: InfluxdHandle | undefined;
  const server = (): InfluxdHandle => {
    if (influxd === undefined) throw new Error('influxd did not start (see beforeAll)');
    return influxd;
  };
  beforeAll(async () => {
    influxd = await startInfluxd();
  }, 30_000);
  afterAll(async () => {
    await influxd?.stop();
  }, 30_000);

  it('loses nothing queued in a BatchingWriter while influxd is down, and catches up after restart', async () => {
    const store = new InfluxTimeSeriesStore({
      url: server().url,
      database: 'ioc_spool_test',
      timeoutMs: 2000,
    });
    await store.init();
    const writer = new BatchingWriter(store, {
      maxBatch: 50,
      maxDelayMs: 10,
      retryInitialMs: 50,
      retryMaxMs: 200,
    });
    const readings = Array.from({ length: 300 }, (_, i) =>
      reading('fault', T0 + i * 1000, { laeq: 40 + (i % 50) }),
    );
    try {
      readings.slice(0, 100).forEach((r) => writer.add(r));
      await writer.flush();

      await server().stopProcess();
      await expect(store.ping()).resolves.toBe(false);
      readings.slice(100).forEach((r) => writer.add(r));
      // Let the writer fail against the dead server a few times.
      const deadline = Date.now() + 5000;
      while (writer.stats().failedWrites < 2 && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 25));
      expect(writer.stats()).toMatchObject({ queued: 200, written: 100 });
      expect(writer.stats().failedWrites).toBeGreaterThanOrEqual(2);
      expect(writer.stats().lastError).toMatch(/^InfluxDB POST \/write at .* failed: .*ECONNREFUSED/);

      await server().startProcess(); // same port, same data directory
      await writer.flush();
      expect(writer.stats()).toMatchObject({ queued: 0, written: 300 });
      await expect(
        store.history({ deviceId: 'fault', metric: 'laeq', from: T0, to: T0 + 300_000 }),
      ).resolves.toStrictEqual(readings.map((r) => ({ ts: r.ts, value: r.metrics['laeq'] })));
    } finally {
      if (!server().running) await server().startProcess();
      await writer.close();
      await store.close();
    }
  }, 30_000);
});
