import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Reading } from '@ioc/contracts';
import { createLogger } from '@ioc/runtime';
import { freePort, TempDirs } from '@ioc/testing';
import { EmbeddedTimeSeriesStore, InfluxTimeSeriesStore, type TimeSeriesStore } from '@ioc/timeseries';
import {
  DurableReadingSink,
  REPLAY_BATCH,
  type SpoolConsumer,
  type SpoolConsumerLink,
} from './durable-reading-sink';
import { DurableSpool, SpoolFullError, type SpoolStats } from './durable-spool';
import { SINK_SPEC_T0 as T0, sinkSpecReading as reading } from './test-support/sink-readings';

const ROOT = join(__dirname, '../../..');
const REGISTER = join(ROOT, 'scripts/register.js');
const CHILD = join(__dirname, 'test-support/sink-child.ts');

const tempDirs = new TempDirs('ioc-sink-');
afterAll(() => tempDirs.removeAll());

async function until<T>(
  probe: () => T | undefined | Promise<T | undefined>,
  what: string,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what} not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const openSink = (
  store: TimeSeriesStore,
  spoolDir: string,
  extra: {
    consumers?: SpoolConsumer[];
    onDurable?: (readings: Reading[]) => void;
    spoolMaxBytes?: number;
    fullWaitMs?: number;
    logger?: ReturnType<typeof createLogger>;
  } = {},
) =>
  DurableReadingSink.open({
    store,
    spoolDir,
    spoolMaxBytes: extra.spoolMaxBytes ?? 1 << 20,
    fullWaitMs: extra.fullWaitMs ?? 0,
    writeBatchSize: 100,
    writeBatchDelayMs: 1,
    onDurable: extra.onDurable ?? (() => undefined),
    ...(extra.consumers ? { consumers: extra.consumers } : {}),
    logger: extra.logger ?? createLogger('sink-spec', { level: 'silent' }),
  });

/** What a test consumer was handed: one entry per onRecords call. */
interface ConsumerCall {
  firstIndex: number;
  readings: Reading[];
  bodies: Reading[];
  replay: boolean;
}

/** A consumer that records its calls and keeps its link to release and append with. */
function recordingConsumer(
  name: string,
): SpoolConsumer & { calls: ConsumerCall[]; link: () => SpoolConsumerLink } {
  const calls: ConsumerCall[] = [];
  let link: SpoolConsumerLink | undefined;
  return {
    name,
    calls,
    link: () => {
      if (link === undefined) throw new Error(`${name} was never attached`);
      return link;
    },
    attach: (given) => {
      // attach comes before any records.
      expect(calls).toEqual([]);
      link = given;
    },
    onRecords: (readings, bodies, firstIndex, replay) =>
      calls.push({
        firstIndex,
        readings,
        bodies: bodies.map((b) => JSON.parse(b.toString('utf8')) as Reading),
        replay,
      }),
  };
}

const consumerStats = (stats: SpoolStats, name: string) => stats.consumers.find((c) => c.consumer === name);

/** The sink-child process (test-support/sink-child.ts): one JSON line per request. */
function startSinkChild(spoolDir: string, storeDir: string) {
  const child = spawn(process.execPath, ['-r', REGISTER, CHILD, spoolDir, storeDir], {
    cwd: ROOT,
    stdio: ['pipe', 'pipe', 'pipe'],
  }) as ChildProcessWithoutNullStreams;
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const lines: unknown[] = [];
  let wake: (() => void) | undefined;
  createInterface({ input: child.stdout }).on('line', (line) => {
    lines.push(JSON.parse(line));
    wake?.();
  });
  const exited = new Promise<NodeJS.Signals | null>((resolve) =>
    child.once('exit', (_code, signal) => resolve(signal)),
  );
  const next = async (): Promise<unknown> => {
    for (;;) {
      const line = lines.shift();
      if (line !== undefined) return line;
      if (child.exitCode !== null) throw new Error(`sink child exited: ${stderr}`);
      await Promise.race([new Promise<void>((resolve) => (wake = resolve)), exited]);
    }
  };
  const ask = async <T>(request: unknown): Promise<T> => {
    child.stdin.write(`${JSON.stringify(request)}\n`);
    const answer = (await next()) as T & { error?: string };
    if (answer.error !== undefined) throw new Error(`sink child: ${answer.error}`);
    return answer;
  };
  return { child, next, ask, exited };
}

/** The spool directory's checkpoint: every record before it is released by every consumer. */
function checkpointOf(spoolDir: string): number {
  try {
    return (JSON.parse(readFileSync(join(spoolDir, 'checkpoint.json'), 'utf8')) as { releasedIndex: number })
      .releasedIndex;
  } catch {
    return -1;
  }
}

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

describe('DurableReadingSink with spool consumers', () => {
  it('replays what a consumer held at a SIGKILL to it with replay: true, in order, before any new record', async () => {
    const dir = await tempDirs.make();
    const spoolDir = join(dir, 'spool');
    const broker = startSinkChild(spoolDir, join(dir, 'store-before'));
    try {
      expect(await broker.next()).toBe('ready');
      await broker.ask({ op: 'accept', from: 0, count: 100 });
      await broker.ask({ op: 'accept', from: 100, count: 50 });
      // The store has written all 150; the consumer was handed every one of them, live.
      type ChildStats = {
        stats: { spool: SpoolStats };
        calls: Array<{ firstIndex: number; count: number; replay: boolean }>;
      };
      const before = await until(async () => {
        const answer = await broker.ask<ChildStats>({ op: 'stats' });
        return consumerStats(answer.stats.spool, 'store')?.lag === 0 ? answer : undefined;
      }, 'the store writing all 150 readings');
      expect(before.calls.every((c) => !c.replay)).toBe(true);
      expect(before.calls.reduce((n, c) => n + c.count, 0)).toBe(150);
      // The consumer is done with 0–59 and, ahead of its prefix, with 80–89.
      await broker.ask({ op: 'release', first: 0, count: 60 });
      await broker.ask({ op: 'release', first: 80, count: 10 });
      const held = (await broker.ask<ChildStats>({ op: 'stats' })).stats.spool;
      expect(consumerStats(held, 'alerts')).toEqual({
        consumer: 'alerts',
        released: 70,
        oldestHeld: 60,
        lag: 80,
      });
      expect(held.records).toBe(80);
      await until(() => (checkpointOf(spoolDir) === 60 ? true : undefined), 'the checkpoint at 60');
      broker.child.kill('SIGKILL');
      expect(await broker.exited).toBe('SIGKILL');
    } finally {
      if (broker.child.exitCode === null && broker.child.signalCode === null) broker.child.kill('SIGKILL');
    }

    const store = new EmbeddedTimeSeriesStore({
      dataDir: join(dir, 'store-after'),
      maintenanceIntervalMs: 0,
    });
    await store.init();
    try {
      const alerts = recordingConsumer('alerts');
      const sink = await openSink(store, spoolDir, { consumers: [alerts] });
      // Handed over within open(): 60–149 (80–89 again: the consumer's own cursor skips them).
      expect(alerts.calls.every((c) => c.replay)).toBe(true);
      const replayed = alerts.calls.flatMap((c) => c.readings);
      expect(replayed).toEqual(Array.from({ length: 90 }, (_, k) => reading(60 + k)));
      expect(alerts.calls.flatMap((c) => c.bodies)).toEqual(replayed);
      expect(alerts.calls.map((c) => c.firstIndex)).toEqual([60]);
      // New readings come after, numbered on.
      await Promise.all([150, 151, 152].map((i) => sink.accept(reading(i))));
      const live = alerts.calls.filter((c) => !c.replay);
      expect(live.map((c) => c.firstIndex)).toEqual([150]);
      expect(live[0]?.readings).toEqual([reading(150), reading(151), reading(152)]);
      expect(alerts.calls.findIndex((c) => !c.replay)).toBe(alerts.calls.length - 1);
      // The consumer catches up; once the store has written them too, nothing is left.
      alerts.link().release(60, 93);
      await sink.close(10_000);
      expect(consumerStats(sink.stats().spool, 'alerts')).toMatchObject({
        lag: 0,
        oldestHeld: null,
        released: 93,
      });
      const drained = await DurableSpool.open<Reading>(
        { dir: spoolDir, maxBytes: 1 << 20 },
        { encode: (r) => JSON.stringify(r), decode: (body) => JSON.parse(body.toString('utf8')) as Reading },
      );
      expect(drained.pending).toEqual([]);
      expect(drained.firstPendingIndex).toBe(153);
      await drained.spool.close();
    } finally {
      await store.close();
    }
  }, 60_000);

  it('replays in calls of at most REPLAY_BATCH, and close() keeps what a consumer holds', async () => {
    const dir = await tempDirs.make();
    const spoolDir = join(dir, 'spool');
    const store = new EmbeddedTimeSeriesStore({ dataDir: join(dir, 'store'), maintenanceIntervalMs: 0 });
    await store.init();
    try {
      const total = REPLAY_BATCH * 2 + 7;
      const first = await openSink(store, spoolDir, { consumers: [recordingConsumer('alerts')] });
      await Promise.all(Array.from({ length: total }, (_, i) => first.accept(reading(i))));
      // A graceful close: the store writes everything, the consumer released nothing.
      await first.close(10_000);
      expect(first.stats().storage.written).toBe(total);
      expect(first.stats().spool.records).toBe(total);
      const alerts = recordingConsumer('alerts');
      const second = await openSink(store, spoolDir, { consumers: [alerts] });
      expect(alerts.calls.map((c) => [c.firstIndex, c.readings.length, c.replay])).toEqual([
        [0, REPLAY_BATCH, true],
        [REPLAY_BATCH, REPLAY_BATCH, true],
        [REPLAY_BATCH * 2, 7, true],
      ]);
      alerts.link().release(0, total);
      await second.close(10_000);
    } finally {
      await store.close();
    }
  });

  it('appendDerived goes through the store, the live relay and every consumer, and refuses at once when full', async () => {
    const dir = await tempDirs.make();
    const spoolDir = join(dir, 'spool');
    const store = new EmbeddedTimeSeriesStore({ dataDir: join(dir, 'store'), maintenanceIntervalMs: 0 });
    await store.init();
    try {
      const alerts = recordingConsumer('alerts');
      const relayed: Reading[] = [];
      const sink = await openSink(store, spoolDir, {
        consumers: [alerts],
        onDurable: (readings) => relayed.push(...readings),
        spoolMaxBytes: 4000,
        fullWaitMs: 60_000,
      });
      const derived: Reading = { ...reading(0, { aqi: 57 }), deviceId: 'aq-sink-1', domain: 'env' };
      await alerts.link().appendDerived(derived);
      expect(relayed).toEqual([derived]);
      expect(alerts.calls).toEqual([
        { firstIndex: 0, readings: [derived], bodies: [derived], replay: false },
      ]);
      await until(
        () => (consumerStats(sink.stats().spool, 'store')?.lag === 0 ? true : undefined),
        'the store write',
      );
      await expect(
        store.history({ deviceId: 'aq-sink-1', metric: 'aqi', from: T0, to: T0 + 1000 }),
      ).resolves.toStrictEqual([{ ts: T0, value: 57 }]);
      // The consumer holds record 0 and more: fill the spool with derived readings until one is refused.
      let accepted = 1;
      let refused: unknown;
      // 4000 bytes hold about a dozen of these records: a bound so a spool that never fills fails here.
      while (refused === undefined && accepted < 1000) {
        await sink.appendDerived({ ...derived, ts: T0 + accepted * 1000 }).then(
          () => accepted++,
          (error: unknown) => (refused = error),
        );
      }
      expect(refused).toBeInstanceOf(SpoolFullError);
      await until(
        () => (consumerStats(sink.stats().spool, 'store')?.lag === 0 ? true : undefined),
        'the store catching up',
      );
      // The store wrote all: only the consumer holds the spool full.
      expect(sink.stats().spool.consumers).toEqual([
        { consumer: 'store', released: accepted, oldestHeld: null, lag: 0 },
        { consumer: 'alerts', released: 0, oldestHeld: 0, lag: accepted },
      ]);
      // A device's reading would wait up to fullWaitMs (60 s) for room; a derived one is refused
      // at once: its promise is settled before the next turn of the event loop.
      const outcome = sink.appendDerived(derived).then(
        () => 'stored',
        (error: unknown) => (error instanceof SpoolFullError ? 'refused' : String(error)),
      );
      const nextTurn = new Promise<string>((resolve) => setImmediate(() => resolve('still waiting')));
      await expect(Promise.race([outcome, nextTurn])).resolves.toBe('refused');
      sink.release('alerts', 0, accepted);
      await expect(sink.appendDerived({ ...derived, ts: T0 + 3_600_000 })).resolves.toBeUndefined();
      await sink.close(10_000);
    } finally {
      await store.close();
    }
  });

  it('refuses bad releases and consumer names, and a throwing consumer fails no commit nor the consumers after it', async () => {
    const dir = await tempDirs.make();
    const spoolDir = join(dir, 'spool');
    const store = new EmbeddedTimeSeriesStore({ dataDir: join(dir, 'store'), maintenanceIntervalMs: 0 });
    await store.init();
    const logged: string[] = [];
    const logger = createLogger('sink-spec', { level: 'error' });
    logger.error = ((obj: unknown, msg?: string) =>
      void logged.push(`${msg} ${JSON.stringify(obj)}`)) as never;
    try {
      await expect(openSink(store, spoolDir, { consumers: [recordingConsumer('store')] })).rejects.toThrow(
        RangeError,
      );
      await expect(
        openSink(store, spoolDir, { consumers: [recordingConsumer('alerts'), recordingConsumer('alerts')] }),
      ).rejects.toThrow(RangeError);
      const after = recordingConsumer('audit');
      const failing: SpoolConsumer = {
        name: 'alerts',
        onRecords: () => {
          throw new Error('engine not ready');
        },
      };
      const sink = await openSink(store, spoolDir, { consumers: [failing, after], logger });
      await Promise.all([0, 1, 2].map((i) => sink.accept(reading(i))));
      expect(after.calls.flatMap((c) => c.readings)).toEqual([reading(0), reading(1), reading(2)]);
      expect(
        logged.some((line) => line.includes('spool consumer failed') && line.includes('engine not ready')),
      ).toBe(true);
      // The failing consumer still holds its records.
      expect(consumerStats(sink.stats().spool, 'alerts')).toMatchObject({ lag: 3, oldestHeld: 0 });
      expect(() => sink.release('store', 0, 1)).toThrow(RangeError);
      expect(() => sink.release('notifier', 0, 1)).toThrow(RangeError);
      expect(() => sink.release('audit', 0, 4)).toThrow(RangeError);
      sink.release('audit', 0, 3);
      expect(() => sink.release('audit', 2, 1)).toThrow(RangeError);
      sink.release('alerts', 0, 3);
      await sink.close(10_000);
      expect(sink.stats().spool.records).toBe(0);
    } finally {
      await store.close();
    }
  });
});
