import type { Reading } from '@ioc/contracts';
import { InvalidReadingError } from '@ioc/timeseries';
import type { TimeSeriesStore } from '@ioc/timeseries';

export interface BatchingWriterOptions {
  /** Write as soon as this many readings are queued; 1000 by default. */
  maxBatch?: number;
  /** Write at the latest this long after the oldest queued reading arrived; 200 ms by default. */
  maxDelayMs?: number;
  /** First retry delay after a failed write; doubled on each further failure. 250 ms by default. */
  retryInitialMs?: number;
  /** Cap of the retry delay; 30 s by default. */
  retryMaxMs?: number;
  /**
   * Called after each failed write, before the retry is scheduled (e.g. to log it). The batch is
   * kept; `attempt` counts consecutive failures, `retryInMs` is the backoff chosen.
   */
  onError?: (error: Error, info: { attempt: number; retryInMs: number }) => void;
  /**
   * Called after each successful write with the readings it stored, in order, and the `ref` each
   * was added with (`refs[i]` is that of `readings[i]`): exactly the readings this write stored —
   * after a refused reading was set aside, not the same count as the batch taken. Must not throw.
   */
  onWritten?: (readings: readonly Reading[], refs: readonly number[]) => void;
  /**
   * Called when the store refuses a reading as unstorable (InvalidReadingError), with the `ref` it
   * was added with: that reading is set aside so it cannot block everything queued behind it, and
   * the rest is written (reported by onWritten once stored).
   */
  onRejected?: (reading: Reading, error: InvalidReadingError, ref: number) => void;
}

export interface BatchingWriterStats {
  /** Accepted by add() and not yet written (including a batch being written or awaiting retry). */
  queued: number;
  /** Readings the store has acknowledged. */
  written: number;
  /** Write attempts that failed (each retry that fails counts again). */
  failedWrites: number;
  /** Readings refused as unstorable and set aside (see `onRejected`). */
  rejected: number;
  /** True while the latest write attempt failed (the store is down or refusing). */
  failing: boolean;
  /** Message of the most recent write failure, kept after recovery for diagnosis. */
  lastError?: string;
}

interface Queued {
  reading: Reading;
  /** When add() accepted it (ms, monotonic clock). */
  at: number;
  /** The caller's number for it (add()'s `ref`), handed back by onWritten / onRejected. */
  ref: number;
}

interface Waiter {
  /** Resolves once this many readings (counted since construction) are settled. */
  target: number;
  resolve: () => void;
}

const now = (): number => performance.now();

/**
 * Collects readings and writes them to a TimeSeriesStore in batches: a batch goes out when
 * `maxBatch` readings are queued or `maxDelayMs` after the oldest queued one, whichever is first.
 * One write is in flight at a time, so the store sees readings in the order they were added.
 *
 * A failed write keeps its batch and is retried, with capped exponential backoff, until it
 * succeeds: while the store is down readings accumulate in memory (watch `stats().queued` for
 * back-pressure) and none is dropped. The only exception is a reading the store refuses as
 * unstorable, which is set aside and reported instead of blocking the queue forever.
 */
export class BatchingWriter {
  private readonly maxBatch: number;
  private readonly maxDelayMs: number;
  private readonly retryInitialMs: number;
  private readonly retryMaxMs: number;
  /** Waiting readings are queue[head…]; taking a batch moves `head` instead of shifting the array. */
  private queue: Queued[] = [];
  private head = 0;
  /** The batch being written, or the failed one awaiting its retry. */
  private batch: Queued[] | undefined;
  private writing = false;
  private consecutiveFailures = 0;
  private delayTimer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private added = 0;
  private settled = 0;
  private written = 0;
  private failedWrites = 0;
  private rejected = 0;
  private lastError: Error | undefined;
  private waiters: Waiter[] = [];
  private closing = false;
  private stopped = false;

  constructor(
    private readonly store: TimeSeriesStore,
    private readonly options: BatchingWriterOptions = {},
  ) {
    this.maxBatch = positive('maxBatch', options.maxBatch ?? 1000);
    if (!Number.isInteger(this.maxBatch)) throw new RangeError(`BatchingWriter: maxBatch must be an integer`);
    this.maxDelayMs = nonNegative('maxDelayMs', options.maxDelayMs ?? 200);
    this.retryInitialMs = positive('retryInitialMs', options.retryInitialMs ?? 250);
    this.retryMaxMs = Math.max(this.retryInitialMs, positive('retryMaxMs', options.retryMaxMs ?? 30_000));
  }

  /**
   * Queues a reading; never blocks and never drops it. Throws after close(). `ref` is the caller's
   * number for this reading (the DurableReadingSink passes its spool record index), given back
   * with it by onWritten and onRejected; -1 when not given.
   */
  add(reading: Reading, ref = -1): void {
    if (this.closing) throw new Error('BatchingWriter is closed');
    this.queue.push({ reading, at: now(), ref });
    this.added++;
    this.schedule();
  }

  /** Resolves when every reading added so far is written (or set aside as unstorable). */
  flush(): Promise<void> {
    if (this.settled >= this.added) return Promise.resolve();
    const done = new Promise<void>((resolve) => this.waiters.push({ target: this.added, resolve }));
    // Someone is waiting: do not sit out the batching delay. A pending retry keeps its backoff.
    this.schedule();
    return done;
  }

  stats(): BatchingWriterStats {
    return {
      queued: this.added - this.settled,
      written: this.written,
      failedWrites: this.failedWrites,
      rejected: this.rejected,
      failing: this.consecutiveFailures > 0,
      ...(this.lastError !== undefined ? { lastError: this.lastError.message } : {}),
    };
  }

  /** Flushes everything queued, then stops the timers; add() is refused from then on. */
  async close(): Promise<void> {
    this.closing = true;
    await this.flush();
    clearTimeout(this.delayTimer);
    clearTimeout(this.retryTimer);
    this.delayTimer = undefined;
    this.retryTimer = undefined;
  }

  /**
   * Stops at once without waiting for the store: for callers whose readings are also kept
   * elsewhere (the durable spool), so what is not written now is written after the next start.
   */
  stop(): void {
    this.closing = true;
    this.stopped = true;
    clearTimeout(this.delayTimer);
    clearTimeout(this.retryTimer);
    this.delayTimer = undefined;
    this.retryTimer = undefined;
    this.batch = undefined;
  }

  /** Decides whether to write now, later (timer) or not at all (busy / backing off / idle). */
  private schedule(): void {
    if (this.stopped || this.writing || this.retryTimer !== undefined) return;
    if (this.batch !== undefined) {
      // A batch whose retry delay has elapsed, or what is left of one after a rejected reading.
      this.startWrite();
      return;
    }
    const oldest = this.queue[this.head];
    if (oldest === undefined) return;
    const dueIn = oldest.at + this.maxDelayMs - now();
    if (this.queue.length - this.head >= this.maxBatch || this.waiters.length > 0 || dueIn <= 0) {
      clearTimeout(this.delayTimer);
      this.delayTimer = undefined;
      this.batch = this.takeBatch();
      this.startWrite();
      return;
    }
    if (this.delayTimer === undefined) {
      this.delayTimer = setTimeout(() => {
        this.delayTimer = undefined;
        this.schedule();
      }, dueIn);
    }
  }

  private takeBatch(): Queued[] {
    const batch = this.queue.slice(this.head, this.head + this.maxBatch);
    this.head += batch.length;
    // Drop the consumed prefix now and then (amortised O(1) per reading, even with a long
    // backlog after an outage).
    if (this.head === this.queue.length || (this.head >= 1024 && this.head * 2 >= this.queue.length)) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    return batch;
  }

  private startWrite(): void {
    const batch = this.batch;
    if (batch === undefined) return;
    this.writing = true;
    // Through then() so that a store throwing synchronously is handled like a rejected write.
    void Promise.resolve()
      .then(() => this.store.write(batch.map((entry) => entry.reading)))
      .then(
        () => this.onWriteSucceeded(batch),
        (err: unknown) => this.onWriteFailed(batch, err),
      );
  }

  private onWriteSucceeded(batch: Queued[]): void {
    this.writing = false;
    this.batch = undefined;
    this.consecutiveFailures = 0;
    this.written += batch.length;
    this.settle(batch.length);
    if (this.options.onWritten !== undefined) {
      const readings = new Array<Reading>(batch.length);
      const refs = new Array<number>(batch.length);
      for (let i = 0; i < batch.length; i++) {
        const entry = batch[i] as Queued;
        readings[i] = entry.reading;
        refs[i] = entry.ref;
      }
      try {
        this.options.onWritten(readings, refs);
      } catch {
        // A listener's bug must not make a stored batch look failed: it would be written again.
      }
    }
    this.schedule();
  }

  private onWriteFailed(batch: Queued[], err: unknown): void {
    this.writing = false;
    const rejectedEntry = err instanceof InvalidReadingError ? batch[err.readingIndex] : undefined;
    if (err instanceof InvalidReadingError && rejectedEntry !== undefined) {
      // Retrying cannot help this reading; set it aside and write the rest right away.
      this.rejected++;
      this.settle(1);
      const rest = batch.filter((entry) => entry !== rejectedEntry);
      this.batch = rest.length > 0 ? rest : undefined;
      try {
        this.options.onRejected?.(rejectedEntry.reading, err, rejectedEntry.ref);
      } catch {
        // as for onWritten: a listener must not disturb the queue
      }
      this.schedule();
      return;
    }
    this.failedWrites++;
    this.consecutiveFailures++;
    this.lastError = err instanceof Error ? err : new Error(String(err));
    this.batch = batch;
    const delay = Math.min(this.retryMaxMs, this.retryInitialMs * 2 ** (this.consecutiveFailures - 1));
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.schedule();
    }, delay);
    try {
      this.options.onError?.(this.lastError, { attempt: this.consecutiveFailures, retryInMs: delay });
    } catch {
      // as for onWritten: a listener must not disturb the queue
    }
  }

  private settle(count: number): void {
    this.settled += count;
    const stillWaiting: Waiter[] = [];
    for (const waiter of this.waiters) {
      if (this.settled >= waiter.target) waiter.resolve();
      else stillWaiting.push(waiter);
    }
    this.waiters = stillWaiting;
  }
}

function positive(name: string, value: number): number {
  if (!(Number.isFinite(value) && value > 0))
    throw new RangeError(`BatchingWriter: ${name} must be > 0, got ${value}`);
  return value;
}

function nonNegative(name: string, value: number): number {
  if (!(Number.isFinite(value) && value >= 0))
    throw new RangeError(`BatchingWriter: ${name} must be >= 0, got ${value}`);
  return value;
}
