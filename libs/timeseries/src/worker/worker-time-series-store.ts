import { join } from 'node:path';
import { serialize } from 'node:v8';
import { Worker } from 'node:worker_threads';
import type { Reading } from '@ioc/contracts';
import type {
  HistoryPoint,
  HistoryQuery,
  LatestValue,
  SeriesQuery,
  SeriesResult,
  TimeSeriesStore,
} from '../time-series-store';
import { fromWireError, type StoreAnswer, type StoreCall, type StoreMethod } from './store-worker-protocol';

/** What the worker builds its store from: plain data only, since it is cloned to the thread. */
export interface WorkerStoreConfig {
  storage: 'embedded' | 'influxdb';
  [option: string]: unknown;
}

interface PendingCall {
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
}

const WORKER_MODULE = join(__dirname, 'store-worker.ts');
const TSCONFIG = join(__dirname, '..', '..', '..', '..', 'tsconfig.base.json');

/**
 * A worker thread starts without the parent's module hooks (jest's among them), so it registers
 * the TypeScript loader itself unless it inherited one through `--require`.
 */
const BOOTSTRAP = `
  if (!require.extensions['.ts']) {
    process.env.SWC_NODE_PROJECT ??= ${JSON.stringify(TSCONFIG)};
    require(${JSON.stringify(require.resolve('@swc-node/register'))});
  }
  require(${JSON.stringify(WORKER_MODULE)});
`;

/**
 * The configured store run on its own worker thread. Every call is forwarded and answered
 * asynchronously, so the caller's event loop never waits for SQLite (whose calls are
 * synchronous: a 5 000-reading write held the broker's loop for ~280 ms) nor spends its CPU on
 * line protocol, rollups or retention — the broker's thread is left to MQTT and the spool.
 *
 * Errors come back as the same classes (InvalidReadingError with its index, InvalidQueryError).
 * If the thread dies, the calls in flight fail and the next call starts a new one, initialised
 * again if it had been: the BatchingWriter's retry then carries on as after any failed write.
 */
export class WorkerTimeSeriesStore implements TimeSeriesStore {
  readonly kind: 'embedded' | 'influxdb';
  private worker: Worker | undefined;
  private ready: Promise<Worker> | undefined;
  private readonly pending = new Map<number, PendingCall>();
  private nextId = 1;
  private initialised = false;
  private closed = false;

  constructor(private readonly config: WorkerStoreConfig) {
    for (const [key, value] of Object.entries(config)) {
      if (typeof value === 'function')
        throw new TypeError(
          `WorkerTimeSeriesStore: option "${key}" is a function and cannot reach a worker thread`,
        );
    }
    this.kind = config.storage;
  }

  async init(): Promise<void> {
    if (this.closed) throw new Error('WorkerTimeSeriesStore: init() after close()');
    await this.call('init', []);
    this.initialised = true;
  }

  async write(readings: readonly Reading[]): Promise<void> {
    if (readings.length === 0) return;
    const bytes = serialize(readings);
    // A buffer of its own (not a slice of a pool), so its memory can be handed over, not copied.
    const body = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    await this.call(
      'write',
      [body],
      bytes.byteOffset === 0 && bytes.buffer.byteLength === bytes.byteLength ? [bytes.buffer] : [],
    );
  }

  latest(deviceId: string, metrics: readonly string[]): Promise<Record<string, LatestValue>> {
    return this.call('latest', [deviceId, metrics]) as Promise<Record<string, LatestValue>>;
  }

  latestOfDevices(
    deviceIds: readonly string[],
    metrics: readonly string[],
  ): Promise<Map<string, Record<string, LatestValue>>> {
    // A Map crosses the thread boundary whole (structured clone).
    return this.call('latestOfDevices', [deviceIds, metrics]) as Promise<
      Map<string, Record<string, LatestValue>>
    >;
  }

  history(query: HistoryQuery): Promise<HistoryPoint[]> {
    return this.call('history', [query]) as Promise<HistoryPoint[]>;
  }

  series(query: SeriesQuery): Promise<SeriesResult> {
    return this.call('series', [query]) as Promise<SeriesResult>;
  }

  async compact(): Promise<void> {
    await this.call('compact', []);
  }

  async ping(): Promise<boolean> {
    if (this.closed || !this.initialised) return false;
    try {
      return (await this.call('ping', [])) === true;
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const worker = this.worker;
    if (worker === undefined) return;
    try {
      await this.send(worker, 'close', []);
    } finally {
      this.worker = undefined;
      this.ready = undefined;
      await worker.terminate();
      this.failPending(new Error('WorkerTimeSeriesStore is closed'));
    }
  }

  private async call(method: StoreMethod, args: unknown[], transfer: ArrayBuffer[] = []): Promise<unknown> {
    if (this.closed) throw new Error('WorkerTimeSeriesStore is closed');
    const worker = await this.running();
    return this.send(worker, method, args, transfer);
  }

  private send(
    worker: Worker,
    method: StoreMethod,
    args: unknown[],
    transfer: ArrayBuffer[] = [],
  ): Promise<unknown> {
    const id = this.nextId++;
    const answer = new Promise<unknown>((resolve, reject) => this.pending.set(id, { resolve, reject }));
    // Only while calls are outstanding does the thread keep the process alive.
    if (this.pending.size === 1) worker.ref();
    worker.postMessage({ id, method, args } satisfies StoreCall, transfer);
    return answer;
  }

  /**
   * The thread, started on first need — and after a crash initialised again before any other
   * call reaches it (calls made meanwhile wait for that), so nothing runs on an uninitialised store.
   */
  private running(): Promise<Worker> {
    this.ready ??= this.start();
    return this.ready;
  }

  private async start(): Promise<Worker> {
    const worker = this.worker ?? this.spawn();
    if (this.initialised) {
      try {
        await this.send(worker, 'init', []);
      } catch (error) {
        // Not ready (the database may be down): the next call tries again.
        if (this.ready !== undefined && this.worker === worker) this.ready = undefined;
        throw error;
      }
    }
    return worker;
  }

  private spawn(): Worker {
    const worker = new Worker(BOOTSTRAP, { eval: true, workerData: this.config });
    worker.unref();
    this.worker = worker;
    worker.on('message', (answer: StoreAnswer) => this.settle(answer, worker));
    worker.on('error', (error) => this.lost(worker, `failed: ${error.message}`));
    worker.on('exit', (code) => this.lost(worker, `exited with code ${code}`));
    return worker;
  }

  private settle(answer: StoreAnswer, worker: Worker): void {
    const call = this.pending.get(answer.id);
    if (call === undefined) return;
    this.pending.delete(answer.id);
    if (this.pending.size === 0) worker.unref();
    if (answer.ok) call.resolve(answer.value);
    else call.reject(fromWireError(answer.error));
  }

  private lost(worker: Worker, what: string): void {
    if (this.worker !== worker) return;
    this.worker = undefined;
    this.ready = undefined;
    this.failPending(new Error(`time-series store worker ${what}`));
  }

  private failPending(error: Error): void {
    for (const call of this.pending.values()) call.reject(error);
    this.pending.clear();
  }
}
