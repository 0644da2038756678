import { join } from 'node:path';
import type { Reading } from '@ioc/contracts';
import { createLogger } from '@ioc/runtime';
import { freePort, TempDirs } from '@ioc/testing';
import { EmbeddedTimeSeriesStore, InfluxTimeSeriesStore, type TimeSeriesStore } from '@ioc/timeseries';
import { DurableReadingSink } from './durable-reading-sink';
import { DurableSpool } from './durable-spool';

const T0 = Date.UTC(2026, 10, 27, 8, 0, 0);
function reading(i: number, metrics: Reading['metrics'] = { intensity: i }): Reading {
  return {
    deviceId: 'tc-sink-1',
    deviceType: 'traffic-counter',
    domain: 'traffic',
    kind: 'telemetry',
    areaId: 'ward-1',
    areaPath: ['province', 'ward-1'],
    location: { lat: 11.3, lon: 106.1 },
    ts: T0 + i * 1000,
    metrics,
  };
}

const tempDirs = new TempDirs('ioc-sink-');
afterAll(() => tempDirs.removeAll());

async function until<T>(probe: () => T | undefined, what: string, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what} not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const openSink = (store: TimeSeriesStore, spoolDir: string) =>
  DurableReadingSink.open({
    store,
    spoolDir,
    spoolMaxBytes: 1 << 20,
    fullWaitMs: 0,
    writeBatchSize: 100,
    writeBatchDelayMs: 1,
    onDurable: () => undefined,
    logger: createLogger('sink-spec', { level: 'silent' }),
  });

describe('DurableReadingSink', () => {
  it('releases exactly the records the store wrote: a reading refused mid-batch releases no valid one early', async () => {
    const dir = await tempDirs.make();
    const spoolDir = join(dir, 'spool');
    // `time` is a metric name every store refuses (RESERVED_METRIC_NAMES): InvalidReadingError
    // for reading #2 of the batch, before any I/O.
    const readings = [reading(0), reading(1), reading(2, { time: 2 }), reading(3), reading(4)];
    const valid = readings.filter((r) => !('time' in r.metrics));

    // A real InfluxDB client against a port nobody listens on: the refused reading is set aside at
    // once, and every write of the rest fails (connection refused) and is retried.
    const down = new InfluxTimeSeriesStore({
      url: `http://127.0.0.1:${await freePort()}`,
      database: 'sink_spec',
      rollups: 'none',
      maintenanceIntervalMs: 0,
    });
    const first = await openSink(down, spoolDir);
    // One turn of the event loop: one group commit, one batch.
    await Promise.all(readings.map((r) => first.accept(r)));
    const during = await until(() => {
      const stats = first.stats();
      return stats.storage.rejected === 1 && stats.storage.failedWrites >= 1 ? stats : undefined;
    }, 'the refusal and a failed write of the rest');
    // The refused record is released, the four valid ones wait for the store.
    expect(during.spool.records).toBe(valid.length);
    // Stop as a crash would leave it (the checkpoint holds whatever was released).
    await first.close(0);
    await down.close();

    const reopened = await DurableSpool.open<Reading>(
      { dir: spoolDir, maxBytes: 1 << 20 },
      { encode: (r) => JSON.stringify(r), decode: (body) => JSON.parse(body.toString('utf8')) as Reading },
    );
    // Every valid reading is still spooled (with counting, reading 0 was released in place of the
    // refused one and would be lost here).
    for (const r of valid) expect(reopened.pending).toContainEqual(r);
    await reopened.spool.close();

    // The store is back: the replay writes every valid reading, the refused one is refused again,
    // and the spool is then empty.
    const store = new EmbeddedTimeSeriesStore({ dataDir: join(dir, 'store'), maintenanceIntervalMs: 0 });
    await store.init();
    try {
      const second = await openSink(store, spoolDir);
      await second.close(10_000);
      expect(second.stats().storage).toMatchObject({ rejected: 1, written: valid.length, queued: 0 });
      await expect(
        store.history({ deviceId: 'tc-sink-1', metric: 'intensity', from: T0, to: T0 + 60_000 }),
      ).resolves.toStrictEqual(valid.map((r) => ({ ts: r.ts, value: r.metrics['intensity'] })));
      const drained = await DurableSpool.open<Reading>(
        { dir: spoolDir, maxBytes: 1 << 20 },
        { encode: (r) => JSON.stringify(r), decode: (body) => JSON.parse(body.toString('utf8')) as Reading },
      );
      expect(drained.pending).toEqual([]);
      await drained.spool.close();
    } finally {
      await store.close();
    }
  });
});
