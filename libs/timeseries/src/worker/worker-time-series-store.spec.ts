import { TempDirs } from '@ioc/testing';
import { join } from 'node:path';
import type { Reading } from '@ioc/contracts';
import {
  describeTimeSeriesStoreConformance,
  KEEP_EVERYTHING,
} from '../conformance/time-series-store.conformance';
import { deviceId, reading } from '../conformance/helpers';
import { createTimeSeriesStore } from '../create-time-series-store';
import { InvalidQueryError, InvalidReadingError } from '../errors';
import { WorkerTimeSeriesStore } from './worker-time-series-store';

const tempDirs = new TempDirs('ioc-worker-ts-');
const tempDir = (): Promise<string> => tempDirs.make();
afterAll(async () => {
  await tempDirs.removeAll();
});

async function embeddedInWorker(): Promise<WorkerTimeSeriesStore> {
  const store = createTimeSeriesStore({
    storage: 'embedded',
    thread: 'worker',
    dataDir: join(await tempDir(), 'data'),
    retention: KEEP_EVERYTHING,
  });
  expect(store).toBeInstanceOf(WorkerTimeSeriesStore);
  return store as WorkerTimeSeriesStore;
}

// The same behaviour as the store on the caller's thread, through the thread boundary.
describeTimeSeriesStoreConformance('embedded (SQLite) on a worker thread', async () => {
  const store = await embeddedInWorker();
  return { store, teardown: () => store.close() };
});

const T0 = Date.UTC(2026, 10, 27, 8, 0, 0);

describe('WorkerTimeSeriesStore', () => {
  let store: WorkerTimeSeriesStore;
  beforeEach(async () => {
    store = await embeddedInWorker();
    await store.init();
  }, 30_000);
  afterEach(() => store.close());

  it('keeps the calling thread free while a large batch is written', async () => {
    const device = deviceId('loop');
    const batch: Reading[] = Array.from({ length: 50_000 }, (_, i) =>
      reading(device, T0 + i * 1000, { pm25: i % 500, pm10: i % 600, no2: i % 400 }),
    );
    let turns = 0;
    let counting = true;
    const tick = (): void => {
      turns++;
      if (counting) setImmediate(tick);
    };
    setImmediate(tick);
    await store.write(batch);
    counting = false;
    // On the caller's thread a write is one synchronous SQLite transaction: no turn at all
    // (50 000 readings take well over 100 ms, in which an idle loop turns thousands of times).
    expect(turns).toBeGreaterThan(10);
    const latest = await store.latest(device, ['pm25']);
    expect(latest.pm25?.ts).toBe(T0 + 49_999 * 1000);
  });

  it('rebuilds the error classes callers act on', async () => {
    const device = deviceId('errors');
    const good = reading(device, T0, { pm25: 1 });
    const bad = reading(device, Number.NaN, { pm25: 2 });
    const refused = store.write([good, good, bad]);
    await expect(refused).rejects.toBeInstanceOf(InvalidReadingError);
    await expect(refused).rejects.toMatchObject({ readingIndex: 2 });
    await store.write([reading(device, T0, { flag: true })]);
    await expect(
      store.series({
        deviceIds: [device],
        metric: 'flag',
        from: T0,
        to: T0 + 60_000,
        everyMs: 60_000,
        fn: 'mean',
      }),
    ).rejects.toBeInstanceOf(InvalidQueryError);
  });

  it('starts a new thread after the old one died, initialised again, and keeps what was written', async () => {
    const device = deviceId('crash');
    await store.write([reading(device, T0, { pm25: 7 })]);
    const thread = (store as unknown as { worker: { terminate(): Promise<number> } }).worker;
    const inFlight = store.write([reading(device, T0 + 1000, { pm25: 8 })]);
    await thread.terminate();
    // The write may have landed before the thread stopped or not; either way the caller hears.
    await inFlight.catch((error: Error) => expect(error.message).toMatch(/worker exited/));
    await store.write([reading(device, T0 + 2000, { pm25: 9 })]);
    await expect(store.latest(device, ['pm25'])).resolves.toEqual({ pm25: { value: 9, ts: T0 + 2000 } });
    await expect(store.ping()).resolves.toBe(true);
  });

  it('refuses options that cannot be cloned to a thread', () => {
    expect(() => new WorkerTimeSeriesStore({ storage: 'embedded', dataDir: '/tmp/x', now: () => 0 })).toThrow(
      /"now" is a function/,
    );
  });

  it('answers nothing after close()', async () => {
    await store.close();
    await expect(store.latest('x', ['pm25'])).rejects.toThrow(/closed/);
    await expect(store.ping()).resolves.toBe(false);
  });
});
