import {
  type FileHandle,
  mkdir,
  open,
  readdir,
  readFile,
  rename,
  truncate,
  unlink,
  writeFile,
} from 'node:fs/promises';
import { join } from 'node:path';
import { decodeSegment, encodeRecord, RECORD_HEADER_BYTES } from './spool-records';
import { acquireSpoolLock, type SpoolLock } from './spool-lock';

export interface DurableSpoolOptions {
  dir: string;
  /** Bound on bytes appended but not yet released; appends beyond it are refused. */
  maxBytes: number;
  /** A new segment file starts once the current one is this large. */
  segmentBytes?: number;
  /**
   * The names of the consumers that each release every record (default `['store']`): a record is
   * released — no longer counted in `records`/`bytes`, checkpointed, its segment reclaimable — only
   * once every one of them has released it. Fixed for the life of the open spool; 1 to
   * MAX_SPOOL_CONSUMERS distinct, non-empty names. The directory on disk does not record them: a
   * restart with other consumers simply hands the pending records to those.
   */
  consumers?: readonly string[];
}

/** Most consumers one spool takes: each record keeps a bitmask of its holders in a small integer. */
export const MAX_SPOOL_CONSUMERS = 30;

/** The consumer a spool has when none are named (the store writer of DurableReadingSink). */
export const DEFAULT_SPOOL_CONSUMER = 'store';

export interface DurableSpoolHooks<T> {
  /** The record body of an item; text is stored as UTF-8. */
  encode: (item: T) => Buffer | string;
  decode: (body: Buffer) => T;
  /**
   * Called after each group commit with its items, in append order, before the appenders'
   * promises resolve: the place to hand items on to whatever releases them. `items[i]` is record
   * number `firstIndex + i` (the number releaseRecords() takes); `bodies[i]` is what `encode(items[i])`
   * made, for callers that need the items encoded again.
   */
  onCommitted?: (items: T[], bodies: Buffer[], firstIndex: number) => void;
  /** Background housekeeping (checkpoint, segment deletion) failed; the spool goes on. */
  onError?: (error: Error) => void;
}

/** Where one consumer of a spool stands (SpoolStats.consumers). */
export interface SpoolConsumerStats {
  consumer: string;
  /** Records this consumer released since the spool was opened. */
  released: number;
  /**
   * The lowest record number this consumer still holds, or null when it holds none: a number
   * that does not move while `lag` grows is a stalled consumer holding the spool.
   */
  oldestHeld: number | null;
  /** Records appended (committed) and not yet released by this consumer. */
  lag: number;
}

export interface SpoolStats {
  /** Records appended and not yet released by every consumer (waiting for the slowest). */
  records: number;
  /** Bytes of those records plus of appends queued for the next commit; what maxBytes bounds. */
  bytes: number;
  maxBytes: number;
  segments: number;
  /** Group commits (write + fdatasync) done since open, and records they carried. */
  commits: number;
  committedRecords: number;
  full: boolean;
  /** One entry per consumer, in the order the spool was opened with. */
  consumers: SpoolConsumerStats[];
}

/** Thrown by append() when the spool holds `maxBytes` already: the caller must refuse the message. */
export class SpoolFullError extends Error {
  constructor(
    readonly bytes: number,
    readonly maxBytes: number,
  ) {
    super(`spool full: ${bytes} of ${maxBytes} bytes wait for the store`);
    this.name = 'SpoolFullError';
  }
}

interface Segment {
  path: string;
  firstIndex: number;
  records: number;
  bytes: number;
}

const CHECKPOINT_FILE = 'checkpoint.json';
const SEGMENT_SUFFIX = '.seg';
const segmentName = (firstIndex: number): string =>
  `${String(firstIndex).padStart(16, '0')}${SEGMENT_SUFFIX}`;

/**
 * An append-only, crash-safe queue on disk: the broker appends each accepted reading and
 * acknowledges the publish only once the append is on disk; the store writer releases records
 * once they are stored. Appends made in the same moment share one write and one fdatasync
 * (group commit), so durability costs one disk flush per batch, not per message.
 *
 * Every record has a number, its index: 0, 1, 2… in append order for the life of the spool
 * directory (kept across restarts). Records are released by index, in any order — a record the
 * store refused is released before the valid records ahead of it are written — and the spool
 * forgets (checkpoints, reclaims segments up to) only the longest prefix of released records.
 *
 * After a crash, `open` returns every record of that prefix's end onwards, in order (records
 * released out of order beyond it come again); replaying them is safe because the stores keep
 * one point per record identity (device, metric, ts, kind, event).
 *
 * Several consumers (`consumers` option; e.g. the store writer and the alert engine) each release
 * every record on their own; the prefix, the bound and the checkpoint follow the records released
 * by all of them. After a restart every consumer receives every pending record again, including
 * those it had released ahead of the prefix: each consumer's own durable cursor tells it what to
 * skip.
 */
export class DurableSpool<T> {
  private segments: Segment[] = [];
  private active: FileHandle | undefined;
  /** The directory's lock (acquireSpoolLock), held from open to close. */
  private lock: SpoolLock | undefined;
  private nextIndex = 0;
  /** Records before this index are all released: the checkpoint, and where recovery starts. */
  private releasedIndex = 0;
  /**
   * Sizes of the records from releasedIndex on, oldest first (head index avoids O(n) shifts):
   * record `releasedIndex + k` is `sizes[sizesHead + k]`, and `holders[sizesHead + k]` the bitmask
   * of the consumers still holding it (bit i: `consumers[i]`); 0 once every consumer released it.
   */
  private sizes: number[] = [];
  private holders: number[] = [];
  private sizesHead = 0;
  /** Names of the consumers; bit i of a holders mask is consumers[i]. */
  private readonly consumers: readonly string[];
  /** The mask of a record no consumer has released yet. */
  private readonly allHolders: number;
  /** Per consumer (same order): records released since open, records held, lowest record possibly held. */
  private readonly consumerReleased: number[];
  private readonly consumerHeld: number[];
  private readonly consumerCursor: number[];
  /** Records appended and not released, and their bytes (released ones ahead of the prefix excluded). */
  private unreleasedRecords = 0;
  private unreleasedBytes = 0;
  private queued: Buffer[] = [];
  private queuedItems: T[] = [];
  private queuedBytes = 0;
  private waiters: Array<{ resolve: () => void; reject: (error: Error) => void }> = [];
  private committing = false;
  private commits = 0;
  private committedRecords = 0;
  private checkpointTimer: NodeJS.Timeout | undefined;
  private checkpointing: Promise<void> | undefined;
  private checkpointedIndex = 0;
  private closed = false;

  private readonly encode: (item: T) => Buffer | string;

  private constructor(
    private readonly options: Required<DurableSpoolOptions>,
    private readonly hooks: DurableSpoolHooks<T>,
  ) {
    this.encode = hooks.encode;
    const consumers = options.consumers;
    if (
      consumers.length === 0 ||
      consumers.length > MAX_SPOOL_CONSUMERS ||
      new Set(consumers).size !== consumers.length ||
      consumers.some((name) => typeof name !== 'string' || name.length === 0)
    ) {
      throw new RangeError(
        `DurableSpool: consumers must be 1 to ${MAX_SPOOL_CONSUMERS} distinct non-empty names, got ${JSON.stringify(consumers)}`,
      );
    }
    this.consumers = [...consumers];
    this.allHolders = 2 ** consumers.length - 1;
    this.consumerReleased = consumers.map(() => 0);
    this.consumerHeld = consumers.map(() => 0);
    this.consumerCursor = consumers.map(() => 0);
  }

  /**
   * Opens (or creates) the spool and returns the records that were not released by every
   * consumer, in append order: `pending[i]` is record number `firstPendingIndex + i`, and
   * `pendingBodies[i]` its body as stored (what `encode` made; views of the segment files read,
   * so drop them once handed on). Every consumer holds every pending record. Throws RangeError for
   * a bad `consumers` list, and SpoolInUseError when another live process holds the directory's lock (SPOOL_LOCK_FILE), released by close().
   */
  static async open<T>(
    options: DurableSpoolOptions,
    hooks: DurableSpoolHooks<T>,
  ): Promise<{ spool: DurableSpool<T>; pending: T[]; pendingBodies: Buffer[]; firstPendingIndex: number }> {
    const spool = new DurableSpool<T>(
      {
        ...options,
        segmentBytes: options.segmentBytes ?? 16 * 1024 * 1024,
        consumers: options.consumers ?? [DEFAULT_SPOOL_CONSUMER],
      },
      hooks,
    );
    await mkdir(options.dir, { recursive: true });
    spool.lock = await acquireSpoolLock(options.dir);
    const pendingBodies: Buffer[] = [];
    const pending = await spool.recover(hooks.decode, pendingBodies).catch(async (error: unknown) => {
      await spool.lock?.release();
      throw error;
    });
    return { spool, pending, pendingBodies, firstPendingIndex: spool.releasedIndex };
  }

  /**
   * Queues the item for the next group commit. The promise resolves once it is on disk; it
   * rejects if the disk write fails. Throws SpoolFullError at once when the bound is reached.
   */
  append(item: T): Promise<void> {
    if (this.closed) return Promise.reject(new Error('spool closed'));
    const record = encodeRecord(this.encode(item));
    const bytes = this.unreleasedBytes + this.queuedBytes;
    if (bytes + record.length > this.options.maxBytes) throw new SpoolFullError(bytes, this.options.maxBytes);
    this.queued.push(record);
    this.queuedItems.push(item);
    this.queuedBytes += record.length;
    const done = new Promise<void>((resolve, reject) => this.waiters.push({ resolve, reject }));
    if (!this.committing) {
      this.committing = true;
      // Let every append of this turn of the event loop join the same commit.
      setImmediate(() => void this.commitLoop());
    }
    return done;
  }

  /**
   * Consumer `consumer` (default DEFAULT_SPOOL_CONSUMER) is done with records `firstIndex` …
   * `firstIndex + count − 1` (stored, refused and reported, evaluated…). A record every consumer
   * released is forgotten, and its segment reclaimed once every record before it is forgotten too.
   * Any order; O(1) per record and consumer (amortised). Throws RangeError, changing nothing, for a
   * consumer the spool was not opened with, a record never appended (committed), or one this
   * consumer released already — a caller's bookkeeping error, never to be papered over.
   * After close() releases are still taken but no longer checkpointed: those records come again at
   * the next open.
   */
  releaseRecords(firstIndex: number, count = 1, consumer: string = DEFAULT_SPOOL_CONSUMER): void {
    const end = firstIndex + count;
    const slot = this.consumers.indexOf(consumer);
    if (slot < 0) {
      throw new RangeError(
        `DurableSpool.releaseRecords: unknown consumer ${JSON.stringify(consumer)} (opened with ${this.consumers.join(', ')})`,
      );
    }
    if (
      !Number.isSafeInteger(firstIndex) ||
      !Number.isSafeInteger(count) ||
      count < 0 ||
      firstIndex < 0 ||
      end > this.nextIndex
    ) {
      throw new RangeError(
        `DurableSpool.releaseRecords(${firstIndex}, ${count}, ${consumer}): records up to ${this.nextIndex - 1} were appended`,
      );
    }
    const bit = 2 ** slot;
    // Checked before anything changes, so a refused call leaves the spool as it was.
    for (let index = firstIndex; index < end; index++) {
      const mask =
        index < this.releasedIndex
          ? 0
          : (this.holders[this.sizesHead + (index - this.releasedIndex)] as number);
      if ((mask & bit) === 0) {
        throw new RangeError(
          `DurableSpool.releaseRecords: record ${index} was released by ${consumer} already`,
        );
      }
    }
    for (let index = firstIndex; index < end; index++) {
      const at = this.sizesHead + (index - this.releasedIndex);
      const mask = (this.holders[at] as number) & ~bit;
      this.holders[at] = mask;
      if (mask === 0) {
        this.unreleasedBytes -= this.sizes[at] as number;
        this.unreleasedRecords--;
      }
    }
    this.consumerReleased[slot] = (this.consumerReleased[slot] as number) + count;
    this.consumerHeld[slot] = (this.consumerHeld[slot] as number) - count;
    // This consumer's lowest held record: each record is passed once per consumer.
    let cursor = Math.max(this.consumerCursor[slot] as number, this.releasedIndex);
    while (
      cursor < this.nextIndex &&
      ((this.holders[this.sizesHead + (cursor - this.releasedIndex)] as number) & bit) === 0
    ) {
      cursor++;
    }
    this.consumerCursor[slot] = cursor;
    const before = this.releasedIndex;
    while (this.sizesHead < this.holders.length && this.holders[this.sizesHead] === 0) {
      this.sizesHead++;
      this.releasedIndex++;
    }
    if (this.sizesHead > 4096 && this.sizesHead * 2 > this.sizes.length) {
      this.sizes = this.sizes.slice(this.sizesHead);
      this.holders = this.holders.slice(this.sizesHead);
      this.sizesHead = 0;
    }
    if (this.releasedIndex !== before) this.scheduleCheckpoint();
  }

  /** The consumers' names, in the order given to open() (the order of `stats().consumers`). */
  consumerNames(): readonly string[] {
    return this.consumers;
  }

  isFull(): boolean {
    return this.unreleasedBytes + this.queuedBytes >= this.options.maxBytes * 0.999;
  }

  stats(): SpoolStats {
    return {
      records: this.unreleasedRecords,
      bytes: this.unreleasedBytes + this.queuedBytes,
      maxBytes: this.options.maxBytes,
      segments: this.segments.length,
      commits: this.commits,
      committedRecords: this.committedRecords,
      full: this.isFull(),
      consumers: this.consumers.map((consumer, slot) => {
        const lag = this.consumerHeld[slot] as number;
        return {
          consumer,
          released: this.consumerReleased[slot] as number,
          oldestHeld: lag === 0 ? null : Math.max(this.consumerCursor[slot] as number, this.releasedIndex),
          lag,
        };
      }),
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    while (this.committing) await new Promise((r) => setImmediate(r));
    if (this.checkpointTimer) clearTimeout(this.checkpointTimer);
    await this.checkpointing;
    await this.writeCheckpoint();
    await this.active?.close();
    this.active = undefined;
    await this.lock?.release();
  }

  private async commitLoop(): Promise<void> {
    try {
      while (this.queued.length > 0) {
        const records = this.queued;
        const waiters = this.waiters;
        const items = this.queuedItems;
        this.queued = [];
        this.queuedItems = [];
        this.waiters = [];
        this.queuedBytes = 0;
        try {
          const segment = await this.segmentFor();
          const buffer = records.length === 1 ? (records[0] as Buffer) : Buffer.concat(records);
          await (this.active as FileHandle).write(buffer, 0, buffer.length, segment.bytes);
          await (this.active as FileHandle).datasync();
          segment.bytes += buffer.length;
          segment.records += records.length;
          const firstIndex = this.nextIndex;
          this.nextIndex += records.length;
          for (const record of records) {
            this.sizes.push(record.length);
            this.holders.push(this.allHolders);
          }
          for (let slot = 0; slot < this.consumers.length; slot++) {
            this.consumerHeld[slot] = (this.consumerHeld[slot] as number) + records.length;
          }
          this.unreleasedRecords += records.length;
          this.unreleasedBytes += buffer.length;
          this.commits++;
          this.committedRecords += records.length;
          if (this.hooks.onCommitted !== undefined) {
            const bodies = records.map((record) => record.subarray(RECORD_HEADER_BYTES));
            this.hooks.onCommitted(items, bodies, firstIndex);
          }
          for (const waiter of waiters) waiter.resolve();
        } catch (error) {
          for (const waiter of waiters) waiter.reject(error as Error);
        }
      }
    } finally {
      this.committing = false;
    }
  }

  private async segmentFor(): Promise<Segment> {
    const current = this.segments[this.segments.length - 1];
    if (current && this.active && current.bytes < this.options.segmentBytes) return current;
    await this.active?.close();
    const segment: Segment = {
      path: join(this.options.dir, segmentName(this.nextIndex)),
      firstIndex: this.nextIndex,
      records: 0,
      bytes: 0,
    };
    this.active = await open(segment.path, 'w');
    // The new file's directory entry must survive a crash too.
    const dir = await open(this.options.dir, 'r');
    await dir.sync().finally(() => dir.close());
    this.segments.push(segment);
    return segment;
  }

  private scheduleCheckpoint(): void {
    if (this.checkpointTimer || this.checkpointing || this.closed) return;
    this.checkpointTimer = setTimeout(() => {
      this.checkpointTimer = undefined;
      // One checkpoint write at a time: two would race on the same temporary file.
      this.checkpointing = this.writeCheckpoint()
        .then(() => this.reclaimSegments())
        .catch((error: unknown) => this.hooks.onError?.(error as Error))
        .finally(() => {
          this.checkpointing = undefined;
          if (this.releasedIndex !== this.checkpointedIndex && !this.closed) this.scheduleCheckpoint();
        });
    }, 200);
  }

  /**
   * The checkpoint need not be fsynced: if it is lost, recovery replays records that were
   * already stored, and the stores' record identity absorbs the duplicates.
   */
  private async writeCheckpoint(): Promise<void> {
    const index = this.releasedIndex;
    const path = join(this.options.dir, CHECKPOINT_FILE);
    await writeFile(`${path}.tmp`, JSON.stringify({ releasedIndex: index }));
    await rename(`${path}.tmp`, path);
    this.checkpointedIndex = index;
  }

  private async reclaimSegments(): Promise<void> {
    // The segment being appended to stays, even when all its records are released.
    while (this.segments.length > (this.active ? 1 : 0)) {
      const oldest = this.segments[0] as Segment;
      if (oldest.firstIndex + oldest.records > this.releasedIndex) break;
      this.segments.shift();
      await unlink(oldest.path).catch(() => undefined);
    }
  }

  private async recover(decode: (body: Buffer) => T, pendingBodies: Buffer[]): Promise<T[]> {
    await mkdir(this.options.dir, { recursive: true });
    const checkpoint = await readFile(join(this.options.dir, CHECKPOINT_FILE), 'utf8').then(
      (text) => (JSON.parse(text) as { releasedIndex: number }).releasedIndex,
      () => 0,
    );
    const names = (await readdir(this.options.dir)).filter((n) => n.endsWith(SEGMENT_SUFFIX)).sort();
    const pending: T[] = [];
    let index = names.length > 0 ? Number.parseInt(names[0] as string, 10) : checkpoint;
    for (const name of names) {
      const path = join(this.options.dir, name);
      const firstIndex = Number.parseInt(name, 10);
      const data = await readFile(path);
      const { bodies, validBytes } = decodeSegment(data);
      if (bodies.length === 0) {
        await unlink(path);
        continue;
      }
      if (validBytes < data.length) await truncate(path, validBytes);
      index = firstIndex;
      for (const body of bodies) {
        if (index >= checkpoint) {
          pending.push(decode(body));
          pendingBodies.push(body);
          // The record's size as it is on disk: no need to encode the item again.
          this.sizes.push(RECORD_HEADER_BYTES + body.length);
          this.holders.push(this.allHolders);
          this.unreleasedRecords++;
          this.unreleasedBytes += RECORD_HEADER_BYTES + body.length;
        }
        index++;
      }
      this.segments.push({ path, firstIndex, records: bodies.length, bytes: validBytes });
    }
    this.nextIndex = Math.max(index, checkpoint);
    this.releasedIndex = this.nextIndex - pending.length;
    this.checkpointedIndex = this.releasedIndex;
    // Every consumer holds every pending record again.
    for (let slot = 0; slot < this.consumers.length; slot++) {
      this.consumerHeld[slot] = pending.length;
      this.consumerCursor[slot] = this.releasedIndex;
    }
    // Recovered segments are never appended to (no active handle): the next commit starts a
    // fresh segment, so a torn tail can never sit between two intact records.
    await this.reclaimSegments();
    return pending;
  }
}
