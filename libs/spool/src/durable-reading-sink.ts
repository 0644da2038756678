import type { Reading } from '@ioc/contracts';
import type { Logger } from '@ioc/runtime';
import type { TimeSeriesStore } from '@ioc/timeseries';
import { BatchingWriter, type BatchingWriterStats } from './batching-writer';
import { DurableSpool, SpoolFullError, type SpoolStats } from './durable-spool';
import { ReadingJsonEncoder } from './reading-json';

export interface DurableReadingSinkOptions {
  store: TimeSeriesStore;
  spoolDir: string;
  spoolMaxBytes: number;
  /** How long an append waits for room in a full spool before it is refused. */
  fullWaitMs: number;
  writeBatchSize: number;
  writeBatchDelayMs: number;
  /**
   * The readings of each group commit once they are durable, in spool order, with each one's
   * JSON (the spool record's body) so the live relay need not serialise them again.
   */
  onDurable: (readings: Reading[], json: Buffer[]) => void;
  logger: Logger;
}

export interface SinkStats {
  spool: SpoolStats;
  storage: BatchingWriterStats;
}

/**
 * Accepted readings → durable spool (group-committed, fdatasync) → batched store writes. A
 * reading is released from the spool only once the store has it — by its own spool record index,
 * which travels with it through the writer (its `ref`), never by counting — so a store outage, a
 * reading the store refuses in the middle of a batch, or a broker crash loses nothing that was
 * acknowledged; order is kept from spool to store. A refused reading is logged (device, ts,
 * reason), counted in `stats().storage.rejected` and released: replaying it could never succeed.
 */
export class DurableReadingSink {
  private constructor(
    private readonly spool: DurableSpool<Reading>,
    private readonly writer: BatchingWriter,
    private readonly fullWaitMs: number,
  ) {}

  static async open(options: DurableReadingSinkOptions): Promise<DurableReadingSink> {
    const { logger } = options;
    // The writer exists before the spool can commit anything, but needs the spool to release.
    const ref: { spool?: DurableSpool<Reading> } = {};
    const json = new ReadingJsonEncoder();
    const writer = new BatchingWriter(options.store, {
      maxBatch: options.writeBatchSize,
      maxDelayMs: options.writeBatchDelayMs,
      onWritten: (_readings, records) => releaseRecords(ref.spool, records, logger),
      onRejected: (reading, error, record) => {
        logger.error(
          { deviceId: reading.deviceId, ts: reading.ts, err: error.message },
          'store refused a reading',
        );
        releaseRecords(ref.spool, [record], logger);
      },
      onError: (error, info) =>
        logger.error(
          { err: error.message, attempt: info.attempt, retryInMs: info.retryInMs },
          'store write failed; retrying',
        ),
    });
    const opened = await DurableSpool.open<Reading>(
      { dir: options.spoolDir, maxBytes: options.spoolMaxBytes },
      {
        encode: (reading) => json.encode(reading),
        decode: (body) => JSON.parse(body.toString('utf8')) as Reading,
        onError: (error) => logger.error({ err: error.message }, 'spool housekeeping failed; retrying'),
        onCommitted: (readings, bodies, firstIndex) => {
          for (let i = 0; i < readings.length; i++) writer.add(readings[i] as Reading, firstIndex + i);
          options.onDurable(readings, bodies);
        },
      },
    );
    const { spool, pending, firstPendingIndex } = opened;
    ref.spool = spool;
    if (pending.length > 0)
      logger.info({ readings: pending.length }, 'replaying spooled readings into the store');
    for (let i = 0; i < pending.length; i++) writer.add(pending[i] as Reading, firstPendingIndex + i);
    return new DurableReadingSink(spool, writer, options.fullWaitMs);
  }

  /**
   * Resolves once the reading is on disk. When the spool is full it waits up to `fullWaitMs`
   * for the store to drain it (slowing the publisher), then rejects with SpoolFullError.
   */
  async accept(reading: Reading): Promise<void> {
    const deadline = Date.now() + this.fullWaitMs;
    for (;;) {
      try {
        return await this.spool.append(reading);
      } catch (error) {
        if (!(error instanceof SpoolFullError) || Date.now() >= deadline) throw error;
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    }
  }

  stats(): SinkStats {
    return { spool: this.spool.stats(), storage: this.writer.stats() };
  }

  /** Writes what the store will take and closes the spool; what it won't stays spooled for the next start. */
  async close(flushTimeoutMs = 5000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.writer.flush(),
      new Promise((resolve) => (timer = setTimeout(resolve, flushTimeoutMs))),
    ]);
    clearTimeout(timer);
    this.writer.stop();
    await this.spool.close();
  }
}

/**
 * Releases spool records by index, a run of consecutive indices per call (a written batch is one
 * run, or a few around a reading set aside). A bookkeeping error (RangeError) is logged, not
 * thrown: the writer's callbacks must not fail, and the records stay on disk to be replayed.
 */
function releaseRecords(
  spool: DurableSpool<Reading> | undefined,
  records: readonly number[],
  logger: Logger,
): void {
  if (spool === undefined) return;
  try {
    let i = 0;
    while (i < records.length) {
      const first = records[i] as number;
      let count = 1;
      while (i + count < records.length && records[i + count] === first + count) count++;
      spool.releaseRecords(first, count);
      i += count;
    }
  } catch (error) {
    logger.error({ err: (error as Error).message }, 'spool release failed; the records will be replayed');
  }
}
