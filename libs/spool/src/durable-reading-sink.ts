import type { Reading } from '@ioc/contracts';
import type { Logger } from '@ioc/runtime';
import type { TimeSeriesStore } from '@ioc/timeseries';
import { BatchingWriter, type BatchingWriterStats } from './batching-writer';
import { DEFAULT_SPOOL_CONSUMER, DurableSpool, SpoolFullError, type SpoolStats } from './durable-spool';
import { ReadingJsonEncoder } from './reading-json';

/** The sink's own consumer of the spool: the batching writer into the store. */
export const STORE_CONSUMER = DEFAULT_SPOOL_CONSUMER;

/** Most records one replay call hands a consumer at open (a bound on one call's work). */
export const REPLAY_BATCH = 1000;

/**
 * A second (third…) reader of the spool beside the store writer, e.g. the alert engine host.
 * Each spool record is released only once the store writer and every consumer have released it.
 */
export interface SpoolConsumer {
  /** Its name in the spool (stats, releases): non-empty, unique, not STORE_CONSUMER (`store`). */
  readonly name: string;
  /**
   * Given the sink once, during DurableReadingSink.open, before any onRecords call: where the
   * consumer releases records and appends derived readings (the same as the sink's `release` /
   * `appendDerived` for this consumer's name). Optional: a consumer may use the sink open()
   * returns instead (but then cannot release during the replay at open).
   */
  attach?(link: SpoolConsumerLink): void;
  /**
   * Records `firstIndex` … `firstIndex + readings.length − 1`, in spool order, with their JSON
   * bodies (the spool records' bodies). First, during open(), the records pending from before
   * the restart with `replay: true` (those the consumer may have processed already: its own
   * durable cursor says which to skip), in calls of at most REPLAY_BATCH; then each group commit
   * once it is durable with `replay: false`, always after every replayed record. Synchronous:
   * queue the work, do not throw (an error is logged and the records stay held — the spool fills
   * up until the consumer releases them or the process restarts, which replays them).
   */
  onRecords(readings: Reading[], bodies: Buffer[], firstIndex: number, replay: boolean): void;
}

/** What a SpoolConsumer is given by attach(): its own releases and derived readings. */
export interface SpoolConsumerLink {
  /** This consumer is done with records `firstIndex` … `firstIndex + count − 1`: see DurableReadingSink.release. */
  release(firstIndex: number, count: number): void;
  /** See DurableReadingSink.appendDerived. */
  appendDerived(reading: Reading): Promise<void>;
}

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
  /**
   * Readers of the spool beside the store writer (e.g. the alert engine host); none by default.
   * Their names must be distinct and not `store`; the spool directory does not remember them.
   */
  consumers?: readonly SpoolConsumer[];
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
 *
 * The spool is the platform's commit log: `consumers` (the alert engine…) receive every record
 * too, in order, and a record stays in the spool until the store writer and each of them have
 * released it (`release`), so a consumer that is down or slow loses nothing — it holds the spool,
 * which shows in `stats().spool.consumers`.
 */
export class DurableReadingSink {
  private readonly consumerNames: ReadonlySet<string>;

  private constructor(
    private readonly spool: DurableSpool<Reading>,
    private readonly writer: BatchingWriter,
    private readonly fullWaitMs: number,
    consumers: readonly SpoolConsumer[],
  ) {
    this.consumerNames = new Set(consumers.map((c) => c.name));
  }

  /**
   * Opens the spool, hands its pending records to the writer and (with `replay: true`) to every
   * consumer, and returns the sink. Throws RangeError for consumer names that are empty, repeated
   * or `store`, or more than MAX_SPOOL_CONSUMERS − 1 consumers.
   */
  static async open(options: DurableReadingSinkOptions): Promise<DurableReadingSink> {
    const { logger } = options;
    const consumers = options.consumers ?? [];
    for (const consumer of consumers) {
      if (consumer.name === STORE_CONSUMER) {
        throw new RangeError(
          `DurableReadingSink: a consumer may not be named ${STORE_CONSUMER} (the store writer's)`,
        );
      }
    }
    // A consumer that throws must not fail the commit (the appenders' promises) nor starve the
    // consumers after it: its records stay held, and are replayed at the next start.
    const deliver = (readings: Reading[], bodies: Buffer[], firstIndex: number, replay: boolean): void => {
      for (const consumer of consumers) {
        try {
          consumer.onRecords(readings, bodies, firstIndex, replay);
        } catch (error) {
          logger.error(
            { consumer: consumer.name, firstIndex, count: readings.length, err: (error as Error).message },
            'spool consumer failed on records; they stay spooled until it releases them',
          );
        }
      }
    };
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
      {
        dir: options.spoolDir,
        maxBytes: options.spoolMaxBytes,
        consumers: [STORE_CONSUMER, ...consumers.map((c) => c.name)],
      },
      {
        encode: (reading) => json.encode(reading),
        decode: (body) => JSON.parse(body.toString('utf8')) as Reading,
        onError: (error) => logger.error({ err: error.message }, 'spool housekeeping failed; retrying'),
        onCommitted: (readings, bodies, firstIndex) => {
          for (let i = 0; i < readings.length; i++) writer.add(readings[i] as Reading, firstIndex + i);
          options.onDurable(readings, bodies);
          if (consumers.length > 0) deliver(readings, bodies, firstIndex, false);
        },
      },
    );
    const { spool, pending, pendingBodies, firstPendingIndex } = opened;
    ref.spool = spool;
    const sink = new DurableReadingSink(spool, writer, options.fullWaitMs, consumers);
    for (const consumer of consumers) {
      consumer.attach?.({
        release: (firstIndex, count) => sink.release(consumer.name, firstIndex, count),
        appendDerived: (reading) => sink.appendDerived(reading),
      });
    }
    if (pending.length > 0)
      logger.info(
        { readings: pending.length, firstIndex: firstPendingIndex, consumers: spool.consumerNames() },
        'replaying spooled readings into the store and the spool consumers',
      );
    for (let i = 0; i < pending.length; i++) writer.add(pending[i] as Reading, firstPendingIndex + i);
    // Synchronously, before open() returns: nothing new can be committed before the replay is handed over.
    for (let start = 0; consumers.length > 0 && start < pending.length; start += REPLAY_BATCH) {
      const end = Math.min(pending.length, start + REPLAY_BATCH);
      deliver(pending.slice(start, end), pendingBodies.slice(start, end), firstPendingIndex + start, true);
    }
    return sink;
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

  /**
   * Consumer `consumer` (one of `options.consumers`) is done with records `firstIndex` …
   * `firstIndex + count − 1`; each is forgotten once the store writer and every other consumer
   * are done with it too. Any order. Throws RangeError (changing nothing) for an unknown
   * consumer or `store` (the writer releases its own), a record not yet committed, or one this
   * consumer released already. After close() a release is taken but not checkpointed: the
   * records come again at the next start.
   */
  release(consumer: string, firstIndex: number, count: number): void {
    if (!this.consumerNames.has(consumer)) {
      throw new RangeError(
        `DurableReadingSink.release: ${JSON.stringify(consumer)} is not a consumer of this sink (${[...this.consumerNames].join(', ') || 'none'})`,
      );
    }
    this.spool.releaseRecords(firstIndex, count, consumer);
  }

  /**
   * Appends a reading the platform derived (not from a device: e.g. an hourly VN_AQI) with the
   * same durability as a device's: resolves once it is on disk, after it went through the same
   * path as every record (store writer, `onDurable` live relay, every consumer — the one that
   * made it included, with `replay: false`). Never waits for room: a full spool rejects at once
   * with SpoolFullError (the caller retries later); a closed spool rejects with an Error. The
   * reading is not validated here: one the store refuses is logged, counted in
   * `stats().storage.rejected` and released by the writer, like any.
   */
  appendDerived(reading: Reading): Promise<void> {
    try {
      return this.spool.append(reading);
    } catch (error) {
      return Promise.reject(error as Error);
    }
  }

  stats(): SinkStats {
    return { spool: this.spool.stats(), storage: this.writer.stats() };
  }

  /**
   * Writes what the store will take and closes the spool; what it won't stays spooled for the
   * next start, and so does every record a consumer has not released (they are replayed to it
   * then). Stop the consumers' hosts first: releases after close are not checkpointed.
   */
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
