import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Reading } from '@ioc/contracts';
import { BatchingWriter, type BatchingWriterOptions } from './batching-writer';
import { EmbeddedTimeSeriesStore } from '@ioc/timeseries';
import { InvalidReadingError } from '@ioc/timeseries';
import type { HistoryPoint, LatestValue, SeriesResult, TimeSeriesStore } from '@ioc/timeseries';

const T0 = Date.UTC(2026, 10, 27, 8, 0, 0);
function reading(i: number, metrics: Reading['metrics'] = { pm25: i }): Reading {
  return {
    deviceId: `dev-${i % 3}`,
    deviceType: 'air-quality-station',
    domain: 'env',
    kind: 'telemetry',
    areaId: 'ward-1',
    areaPath: ['ward-1'],
    location: { lat: 21, lon: 105 },
    ts: T0 + i * 1000,
    metrics,
  };
}

const sleep = (ms: number) => new Promise<void>((done) => setTimeout(done, ms));

async function until(condition: () => boolean, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(2);
  }
}

/**
 * A fake of the port, to drive failure timings the real stores cannot produce on demand. It
 * records every attempt and every batch it accepted.
 */
class FakeStore implements TimeSeriesStore {
  readonly kind = 'embedded';
  readonly batches: Reading[][] = [];
  readonly attempts: { at: number; size: number; ok: boolean }[] = [];
  down = false;
  failuresLeft = 0;
  writeDelayMs = 0;
  inFlight = 0;
  maxInFlight = 0;

  async init(): Promise<void> {
    // nothing to prepare
  }
  async write(readings: readonly Reading[]): Promise<void> {
    this.inFlight += 1;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      if (this.writeDelayMs > 0) await sleep(this.writeDelayMs);
      const poisoned = readings.findIndex((r) => 'poison' in r.metrics);
      if (poisoned >= 0) throw new InvalidReadingError(`poison at ${poisoned}`, poisoned);
      const fail = this.down || this.failuresLeft > 0;
      this.attempts.push({ at: performance.now(), size: readings.length, ok: !fail });
      if (fail) {
        this.failuresLeft -= 1;
        throw new Error('store down');
      }
      this.batches.push([...readings]);
    } finally {
      this.inFlight -= 1;
    }
  }
  async latest(): Promise<Record<string, LatestValue>> {
    return {};
  }
  async latestOfDevices(): Promise<Map<string, Record<string, LatestValue>>> {
    return new Map();
  }
  async history(): Promise<HistoryPoint[]> {
    return [];
  }
  async series(): Promise<SeriesResult> {
    return { resolution: 'raw', points: [] };
  }
  async compact(): Promise<void> {
    // nothing to roll up
  }
  async ping(): Promise<boolean> {
    return !this.down;
  }
  async close(): Promise<void> {
    // nothing to release
  }

  written(): Reading[] {
    return this.batches.flat();
  }
}

describe('BatchingWriter', () => {
  const writers: BatchingWriter[] = [];
  const make = (store: TimeSeriesStore, options: BatchingWriterOptions) => {
    const writer = new BatchingWriter(store, options);
    writers.push(writer);
    return writer;
  };
  afterEach(async () => {
    // Every writer is closed, so no timer outlives its test (close() waits for the store).
    await Promise.all(writers.splice(0).map((w) => w.close()));
  });

  it('writes as soon as maxBatch readings are queued, without waiting for maxDelayMs', async () => {
    const store = new FakeStore();
    const writer = make(store, { maxBatch: 10, maxDelayMs: 60_000 });
    const readings = Array.from({ length: 25 }, (_, i) => reading(i));
    readings.forEach((r) => writer.add(r));
    await until(() => store.batches.length === 2);
    expect(store.batches.map((b) => b.length)).toEqual([10, 10]);
    expect(writer.stats()).toMatchObject({ queued: 5, written: 20, failedWrites: 0 });

    await writer.flush(); // the remainder goes now, not in a minute
    expect(store.batches.map((b) => b.length)).toEqual([10, 10, 5]);
    expect(store.written()).toEqual(readings);
  });

  it('writes a partial batch maxDelayMs after the first queued reading', async () => {
    const store = new FakeStore();
    const maxDelayMs = 80;
    const writer = make(store, { maxBatch: 100, maxDelayMs });
    const started = performance.now();
    writer.add(reading(0));
    await sleep(20);
    writer.add(reading(1)); // does not restart the clock
    await sleep(20);
    expect(store.attempts).toHaveLength(0);
    await until(() => store.batches.length === 1);
    // Node timers never fire early; allow 1 ms of clock granularity.
    expect(store.attempts[0]!.at - started).toBeGreaterThanOrEqual(maxDelayMs - 1);
    expect(store.batches[0]).toEqual([reading(0), reading(1)]);
  });

  it('keeps one write in flight and the order of add()', async () => {
    const store = new FakeStore();
    store.writeDelayMs = 3;
    const writer = make(store, { maxBatch: 7, maxDelayMs: 1 });
    const readings = Array.from({ length: 200 }, (_, i) => reading(i));
    for (const [i, r] of readings.entries()) {
      writer.add(r);
      if (i % 37 === 0) await sleep(1); // interleave adds with writes in flight
    }
    await writer.flush();
    expect(store.maxInFlight).toBe(1);
    expect(store.written()).toEqual(readings);
    expect(store.batches.every((b) => b.length <= 7)).toBe(true);
    expect(writer.stats()).toMatchObject({ queued: 0, written: 200, failedWrites: 0, rejected: 0 });
  });

  it('retries a failed batch with capped exponential backoff and writes everything once', async () => {
    const store = new FakeStore();
    store.failuresLeft = 5;
    const retryInitialMs = 20;
    const retryMaxMs = 80;
    const errors: { message: string; attempt: number; retryInMs: number }[] = [];
    const writer = make(store, {
      maxBatch: 10,
      maxDelayMs: 0,
      retryInitialMs,
      retryMaxMs,
      onError: (error, info) => errors.push({ message: error.message, ...info }),
    });
    const readings = Array.from({ length: 30 }, (_, i) => reading(i));
    readings.forEach((r) => writer.add(r));
    await writer.flush();

    expect(store.written()).toEqual(readings);
    const failed = store.attempts.filter((a) => !a.ok);
    expect(failed).toHaveLength(5);
    // Delays between consecutive attempts of the first batch: 20, 40, 80, then capped at 80.
    const firstBatchAttempts = store.attempts.slice(0, 6);
    const gaps = firstBatchAttempts.slice(1).map((a, i) => a.at - firstBatchAttempts[i]!.at);
    const expectedGaps = [1, 2, 3, 4, 5].map((n) => Math.min(retryMaxMs, retryInitialMs * 2 ** (n - 1)));
    gaps.forEach((gap, i) => {
      expect(gap).toBeGreaterThanOrEqual(expectedGaps[i]! - 1);
      expect(gap).toBeLessThan(expectedGaps[i]! + 150);
    });
    expect(errors).toEqual(
      expectedGaps.map((retryInMs, i) => ({ message: 'store down', attempt: i + 1, retryInMs })),
    );
    expect(writer.stats()).toMatchObject({ queued: 0, written: 30, failedWrites: 5 });
    expect(writer.stats().lastError).toBe('store down');
  });

  it('loses nothing while the store is down, and flush() waits for it to come back', async () => {
    const store = new FakeStore();
    store.down = true;
    const writer = make(store, { maxBatch: 4, maxDelayMs: 0, retryInitialMs: 5, retryMaxMs: 20 });
    const readings = Array.from({ length: 10 }, (_, i) => reading(i));
    readings.slice(0, 6).forEach((r) => writer.add(r));
    let flushed = false;
    const flushing = writer.flush().then(() => {
      flushed = true;
    });
    await sleep(60);
    readings.slice(6).forEach((r) => writer.add(r)); // more arrive during the outage
    await sleep(60);
    expect(flushed).toBe(false);
    expect(store.batches).toHaveLength(0);
    expect(writer.stats()).toMatchObject({ queued: 10, written: 0 });
    expect(writer.stats().failedWrites).toBeGreaterThanOrEqual(3);

    store.down = false;
    await flushing; // covered the first 6 …
    await writer.flush(); // … and this one the rest
    expect(store.written()).toEqual(readings);
    expect(writer.stats()).toMatchObject({ queued: 0, written: 10 });
  });

  it('reports each written batch to onWritten, in order', async () => {
    const store = new FakeStore();
    const seen: Reading[][] = [];
    const writer = make(store, { maxBatch: 3, maxDelayMs: 1, onWritten: (batch) => seen.push([...batch]) });
    const readings = Array.from({ length: 8 }, (_, i) => reading(i));
    readings.forEach((r) => writer.add(r));
    await writer.flush();
    expect(seen).toEqual(store.batches);
    expect(seen.flat()).toEqual(readings);
  });

  it('sets aside a reading the store refuses as unstorable and writes the rest', async () => {
    const store = new FakeStore();
    const rejected: Reading[] = [];
    const rejectedRefs: number[] = [];
    const writtenRefs: number[][] = [];
    const writer = make(store, {
      maxBatch: 5,
      maxDelayMs: 1,
      onRejected: (r, _error, ref) => {
        rejected.push(r);
        rejectedRefs.push(ref);
      },
      onWritten: (batch, refs) => {
        expect(refs).toHaveLength(batch.length);
        writtenRefs.push([...refs]);
      },
    });
    const readings = Array.from({ length: 12 }, (_, i) =>
      i === 3 || i === 8 ? reading(i, { poison: 1 }) : reading(i),
    );
    // Each reading's ref is its position + 100: what comes back must name exactly these readings.
    readings.forEach((r, i) => writer.add(r, i + 100));
    await writer.flush();
    const poisoned = readings.filter((r) => 'poison' in r.metrics);
    expect(rejected).toEqual(poisoned);
    expect(rejectedRefs).toEqual(poisoned.map((r) => readings.indexOf(r) + 100));
    // Refs of written readings: exactly those the store wrote, batch by batch, never a refused one.
    expect(writtenRefs).toEqual(store.batches.map((batch) => batch.map((r) => readings.indexOf(r) + 100)));
    expect(store.written()).toEqual(readings.filter((r) => !poisoned.includes(r)));
    expect(writer.stats()).toMatchObject({ queued: 0, written: 10, rejected: 2, failedWrites: 0 });
  });

  it('close() flushes what is queued, then refuses new readings', async () => {
    const store = new FakeStore();
    const writer = new BatchingWriter(store, { maxBatch: 100, maxDelayMs: 60_000 });
    const readings = Array.from({ length: 5 }, (_, i) => reading(i));
    readings.forEach((r) => writer.add(r));
    await writer.close();
    expect(store.written()).toEqual(readings);
    expect(() => writer.add(reading(99))).toThrow(/closed/);
    await sleep(20);
    expect(store.attempts).toHaveLength(1);
  });

  it('validates its options', () => {
    const store = new FakeStore();
    expect(() => new BatchingWriter(store, { maxBatch: 0 })).toThrow(RangeError);
    expect(() => new BatchingWriter(store, { maxBatch: 2.5 })).toThrow(RangeError);
    expect(() => new BatchingWriter(store, { maxDelayMs: -1 })).toThrow(RangeError);
    expect(() => new BatchingWriter(store, { retryInitialMs: 0 })).toThrow(RangeError);
  });

  describe('in front of the embedded store', () => {
    let dir: string;
    beforeEach(async () => {
      dir = await mkdtemp(join(tmpdir(), 'ioc-writer-'));
    });
    afterEach(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    it('stores every reading, in batches, even when the store only becomes ready later', async () => {
      const store = new EmbeddedTimeSeriesStore({ dataDir: dir });
      const writer = make(store, { maxBatch: 500, maxDelayMs: 5, retryInitialMs: 5, retryMaxMs: 20 });
      const readings = Array.from({ length: 10_000 }, (_, i) =>
        reading(i, { pm25: i / 10, online: i % 2 === 0 }),
      );
      try {
        // Not initialised yet: the first writes fail for real and must be retried, not dropped.
        readings.slice(0, 1000).forEach((r) => writer.add(r));
        await until(() => writer.stats().failedWrites >= 2);
        expect(writer.stats().written).toBe(0);
        await store.init();
        readings.slice(1000).forEach((r) => writer.add(r));
        await writer.flush();
        expect(writer.stats()).toMatchObject({ queued: 0, written: readings.length });

        for (const device of ['dev-0', 'dev-1', 'dev-2']) {
          const mine = readings.filter((r) => r.deviceId === device);
          await expect(
            store.history({ deviceId: device, metric: 'pm25', from: T0, to: T0 + readings.length * 1000 }),
          ).resolves.toStrictEqual(mine.map((r) => ({ ts: r.ts, value: r.metrics['pm25'] })));
        }
      } finally {
        await writer.close();
        await store.close();
      }
    }, 20_000);
  });
});
