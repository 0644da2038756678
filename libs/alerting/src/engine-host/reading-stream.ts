import { Redis } from 'ioredis';
import type { Reading } from '@ioc/contracts';
import { type Logger, watchRedisConnection } from '@ioc/runtime';
import type { SpoolConsumer, SpoolConsumerLink } from '@ioc/spool';

/**
 * The alert engine's merged input across broker nodes (IOC_REDIS_URL set): one Redis stream of
 * every node's durable readings. Entry id `<p>-0`, where p is the platform-wide position of the
 * entry's first reading (1, 2, 3… without gaps, one per reading, across all nodes); fields `n`
 * (readings in the entry), `node` (the forwarding node), `first` (the node's spool number of the
 * first one) and `r` (the readings: a JSON array of the spool records' bodies).
 */
export const ALERT_READINGS_STREAM = 'ioc:alerts:readings';
/** Counter of the last position handed out (INCRBY by each entry's `n`). */
export const ALERT_READINGS_POSITION_KEY = 'ioc:alerts:readings:position';
/** Hash node → the last spool record number it forwarded (makes a retried forward a no-op). */
export const ALERT_READINGS_FORWARDED_KEY = 'ioc:alerts:readings:forwarded';
/** The forwarder's spool consumer name (ingest stats, `ioc_spool_consumer_*`). */
export const ALERT_STREAM_CONSUMER = 'alerts-stream';
/**
 * Most readings in one stream entry: 500 records of ~300 bytes are ~150 KB, far below Redis's
 * 512 MB bulk-string limit and small enough that one entry's XADD stays a sub-millisecond step.
 */
export const STREAM_ENTRY_MAX_READINGS = 500;
/** Default cap of the stream, in entries (XADD MAXLEN ~): the bound if no holder trims it. */
export const STREAM_DEFAULT_MAX_ENTRIES = 100_000;

/**
 * Appends one entry atomically: skipped when this node's last forwarded spool number is already
 * the entry's last (a retry whose answer was lost), else numbered from the position counter and
 * added, and the node's mark set. Returns {position of the first reading (0 if skipped), 1 if
 * skipped, 1 if the node's spool numbering went back (a replaced spool directory)}.
 * KEYS: stream, position counter, forwarded hash. ARGV: node, first spool number, n, readings
 * JSON, max entries.
 */
const FORWARD_SCRIPT = `
local mark = tonumber(redis.call('HGET', KEYS[3], ARGV[1]) or '-1')
local first = tonumber(ARGV[2])
local n = tonumber(ARGV[3])
local last = first + n - 1
if mark == last then return {0, 1, 0} end
local top = redis.call('INCRBY', KEYS[2], n)
local pos = top - n + 1
redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[5], string.format('%d-0', pos), 'n', ARGV[3], 'node', ARGV[1], 'first', ARGV[2], 'r', ARGV[4])
redis.call('HSET', KEYS[3], ARGV[1], string.format('%d', last))
local back = 0
if first <= mark then back = 1 end
return {pos, 0, back}
`;

const sleep = (ms: number): Promise<void> =>
  new Promise((resolve) => {
    setTimeout(resolve, ms).unref();
  });

/**
 * A Redis connection for the stream. A command sent while disconnected waits for the next
 * reconnection attempt and fails if that one fails too (maxRetriesPerRequest 1), so the callers'
 * own retries (with backoff, records held) take over within about one reconnection interval.
 * Its errors are logged once per outage on `logger` (watchRedisConnection), when given.
 */
export function streamRedis(url: string, logger?: Logger, connection = 'alert stream'): Redis {
  const redis = new Redis(url, {
    maxRetriesPerRequest: 1,
    // Reconnect forever, at most every 2 s (ioredis's own default curve, capped).
    retryStrategy: (times) => Math.min(times * 100, 2000),
  });
  // Without an error listener ioredis prints "[ioredis] Unhandled error event" at every failed
  // reconnection during an outage: one warn per outage instead (without a logger, silently:
  // the callers' own failures report the outage).
  if (logger) watchRedisConnection(redis, logger, connection);
  else redis.on('error', () => undefined);
  return redis;
}

/** Counters of a ReadingStreamForwarder (ingest stats `alertEngine.stream`). */
export interface ForwarderStats {
  /** Readings Redis acknowledged (released from this node's spool). */
  forwarded: number;
  /** Entries added. */
  entries: number;
  /** Forwards Redis already had (a retry after a lost answer): released without a second entry. */
  duplicates: number;
  /** Failed forwards (Redis down or refusing): retried with backoff, the records held. */
  failures: number;
  /** Readings received and not yet acknowledged by Redis. */
  queued: number;
}

export interface ReadingStreamForwarderOptions {
  /** A Redis client (streamRedis(IOC_REDIS_URL)); the forwarder does not close it. */
  redis: Redis;
  /** This node's id in the stream (`broker-<IOC_BROKER_ID>`): fixed across restarts. */
  node: string;
  logger: Logger;
  /** XADD MAXLEN ~ (default STREAM_DEFAULT_MAX_ENTRIES). */
  maxEntries?: number;
  /** Most readings per entry (default STREAM_ENTRY_MAX_READINGS). */
  entryMaxReadings?: number;
  /** First and longest wait between retries of a failed forward, ms (default 200, 5000). */
  retryInitialMs?: number;
  retryMaxMs?: number;
}

interface Pending {
  bodies: Buffer[];
  firstIndex: number;
  replay: boolean;
}

/**
 * Every broker node's spool consumer `alerts-stream` when the alert engine runs across nodes: it
 * forwards the node's durable records, in spool order, in entries of up to
 * STREAM_ENTRY_MAX_READINGS, to ALERT_READINGS_STREAM, and releases them from the spool only
 * once Redis acknowledged the entry. Redis down: the records stay held and the forward is retried
 * with backoff (the spool fills, bounded, as with any slow consumer; its appends then wait and are
 * refused: nothing acknowledged is lost). Exactly once per spool record: each node's last
 * forwarded spool number is kept in Redis with the entry (one script), so a forward retried after
 * its answer was lost adds nothing, and the records replayed at a restart that were forwarded
 * before it are released without a second entry.
 */
export class ReadingStreamForwarder implements SpoolConsumer {
  readonly name = ALERT_STREAM_CONSUMER;
  private link?: SpoolConsumerLink;
  private queue: Pending[] = [];
  private running = false;
  private closed = false;
  /** This node's mark in Redis, read before the first replayed records are sent. */
  private mark?: number;
  private loop: Promise<void> = Promise.resolve();
  private readonly counters = { forwarded: 0, entries: 0, duplicates: 0, failures: 0 };
  private queuedCount = 0;
  private readonly maxEntries: number;
  private readonly entryMaxReadings: number;
  private readonly retryInitialMs: number;
  private readonly retryMaxMs: number;

  constructor(private readonly options: ReadingStreamForwarderOptions) {
    this.maxEntries = options.maxEntries ?? STREAM_DEFAULT_MAX_ENTRIES;
    this.entryMaxReadings = options.entryMaxReadings ?? STREAM_ENTRY_MAX_READINGS;
    this.retryInitialMs = options.retryInitialMs ?? 200;
    this.retryMaxMs = options.retryMaxMs ?? 5000;
    options.redis.defineCommand('iocForwardReadings', { numberOfKeys: 3, lua: FORWARD_SCRIPT });
  }

  /** SpoolConsumer: the sink's link (releases; derived readings of the engine on this node). */
  attach(link: SpoolConsumerLink): void {
    this.link = link;
  }

  /**
   * Appends a derived reading (the engine's hourly VN_AQI) to THIS node's spool, like a device's:
   * stored by this node's writer and forwarded to the stream once (see DurableReadingSink.appendDerived).
   */
  appendDerived(reading: Reading): Promise<void> {
    if (!this.link) return Promise.reject(new Error('reading stream forwarder: not attached to the spool'));
    return this.link.appendDerived(reading);
  }

  /** SpoolConsumer: queues the records; one loop forwards them in order. Never throws. */
  onRecords(_readings: Reading[], bodies: Buffer[], firstIndex: number, replay: boolean): void {
    if (bodies.length === 0 || this.closed) return;
    this.queue.push({ bodies, firstIndex, replay });
    this.queuedCount += bodies.length;
    if (!this.running) {
      this.running = true;
      this.loop = this.drain().finally(() => {
        this.running = false;
      });
    }
  }

  stats(): ForwarderStats {
    return { ...this.counters, queued: this.queuedCount };
  }

  /** Stops forwarding after the entry in flight; what is queued stays held (replayed at the next start). */
  async close(): Promise<void> {
    this.closed = true;
    await this.loop;
  }

  private async drain(): Promise<void> {
    let wait = this.retryInitialMs;
    while (this.queue.length > 0 && !this.closed) {
      try {
        if (this.mark === undefined) {
          const stored = await this.options.redis.hget(ALERT_READINGS_FORWARDED_KEY, this.options.node);
          this.mark = stored === null ? -1 : Number(stored);
        }
        this.skipForwardedReplay();
        const batch = this.nextBatch();
        if (batch === undefined) continue;
        const { firstIndex, bodies } = batch;
        const payload = Buffer.concat([
          Buffer.from('['),
          ...bodies.flatMap((b, i) => (i === 0 ? [b] : [Buffer.from(','), b])),
          Buffer.from(']'),
        ]);
        const [, duplicate, back] = (await (
          this.options.redis as unknown as {
            iocForwardReadings(...args: Array<string | number | Buffer>): Promise<number[]>;
          }
        ).iocForwardReadings(
          ALERT_READINGS_STREAM,
          ALERT_READINGS_POSITION_KEY,
          ALERT_READINGS_FORWARDED_KEY,
          this.options.node,
          firstIndex,
          bodies.length,
          payload,
          this.maxEntries,
        )) as [number, number, number];
        if (back === 1) {
          this.options.logger.warn(
            { node: this.options.node, firstIndex },
            'alert stream: this node forwards spool numbers at or below ones it forwarded before (spool directory replaced?)',
          );
        }
        if (duplicate === 1) this.counters.duplicates++;
        else this.counters.entries++;
        this.counters.forwarded += bodies.length;
        this.mark = firstIndex + bodies.length - 1;
        this.take(bodies.length);
        this.release(firstIndex, bodies.length);
        wait = this.retryInitialMs;
      } catch (error) {
        this.counters.failures++;
        this.options.logger.warn(
          { err: (error as Error).message, queued: this.queuedCount, retryInMs: wait },
          'alert stream: forwarding readings to Redis failed; they stay in the spool',
        );
        await sleep(wait);
        wait = Math.min(wait * 2, this.retryMaxMs);
      }
    }
  }

  /** Releases the replayed records at the head that Redis already has (≤ this node's mark). */
  private skipForwardedReplay(): void {
    const mark = this.mark ?? -1;
    for (;;) {
      const head = this.queue[0];
      if (!head || !head.replay || head.firstIndex > mark) return;
      const count = Math.min(head.bodies.length, mark - head.firstIndex + 1);
      const first = head.firstIndex;
      this.take(count);
      this.release(first, count);
    }
  }

  /** The next contiguous run at the head, up to entryMaxReadings (not removed from the queue). */
  private nextBatch(): { firstIndex: number; bodies: Buffer[] } | undefined {
    const head = this.queue[0];
    if (!head) return undefined;
    const bodies: Buffer[] = [];
    let next = head.firstIndex;
    for (const item of this.queue) {
      if (item.firstIndex !== next) break;
      for (const body of item.bodies) {
        if (bodies.length >= this.entryMaxReadings) break;
        bodies.push(body);
      }
      next = item.firstIndex + item.bodies.length;
      if (bodies.length >= this.entryMaxReadings) break;
    }
    return { firstIndex: head.firstIndex, bodies };
  }

  /** Removes `count` records from the head of the queue. */
  private take(count: number): void {
    let left = count;
    while (left > 0) {
      const head = this.queue[0];
      if (!head) return;
      if (head.bodies.length <= left) {
        left -= head.bodies.length;
        this.queue.shift();
      } else {
        head.bodies = head.bodies.slice(left);
        head.firstIndex += left;
        left = 0;
      }
    }
    this.queuedCount -= count;
  }

  private release(firstIndex: number, count: number): void {
    try {
      this.link?.release(firstIndex, count);
    } catch (error) {
      this.options.logger.error(
        { err: (error as Error).message, firstIndex, count },
        'alert stream: spool release failed',
      );
    }
  }
}

/** Counters of a ReadingStreamInput (ingest stats `alertEngine.stream`). */
export interface StreamInputStats {
  /** Position of the last reading handed to the engine (−1 before any). */
  readPosition: number;
  /** The stream's last position (its counter) when last seen (−1 before). */
  streamPosition: number;
  /** streamPosition − readPosition: readings in Redis the engine has not received yet. */
  lag: number;
  /** Readings received. */
  received: number;
  /** Positions missing between entries (trimmed before the engine read them, or lost by Redis). */
  gaps: number;
  /** Failed reads or trims (retried). */
  failures: number;
}

export interface ReadingStreamInputOptions {
  /** A Redis client of its own (blocking reads); closed by close(). */
  redis: Redis;
  /** The engine (AlertEngineHost): receives the stream's readings as a spool consumer does. */
  consumer: SpoolConsumer;
  /** Where the engine's derived readings go: this node's spool (ReadingStreamForwarder.appendDerived). */
  appendDerived(reading: Reading): Promise<void>;
  /** Readings the consumer has queued and not processed: reading pauses above maxBacklog. */
  backlog(): number;
  logger: Logger;
  /** Default 20 000 (~4 s of a 5 000 readings/s ingest). */
  maxBacklog?: number;
  /** Entries per XREAD (default 50). */
  readCount?: number;
  /** XREAD BLOCK, ms (default 1000): how long a read waits for new entries. */
  blockMs?: number;
  retryInitialMs?: number;
  retryMaxMs?: number;
}

/**
 * The lease holder's input: reads ALERT_READINGS_STREAM from a position and hands the readings
 * to the engine through the SpoolConsumer seam (onRecords with the stream positions as record
 * numbers and no bodies — the engine reads the parsed readings only; `replay: true` for what the stream held when reading started — the engine's warm-up
 * and catch-up — `false` for what comes later). The engine's releases (up to its committed
 * snapshot) trim the stream (XTRIM MINID ~ the entry holding the first position still needed);
 * its derived readings go to this node's spool.
 */
export class ReadingStreamInput {
  private closed = false;
  private loop: Promise<void> = Promise.resolve();
  private lastId = '0-0';
  private replayThrough = 0;
  private nextExpected = -1;
  /** Entry start positions read and not trimmed, ascending. */
  private readonly entryStarts: number[] = [];
  private trimmedBelow = 0;
  private readonly counters = { received: 0, gaps: 0, failures: 0 };
  private readPosition = -1;
  private streamPosition = -1;
  private warnedBehind = false;

  constructor(private readonly options: ReadingStreamInputOptions) {
    options.consumer.attach?.({
      release: (firstIndex, count) => this.trimThrough(firstIndex + count - 1),
      appendDerived: (reading) => options.appendDerived(reading),
    });
  }

  /**
   * Starts reading at the entry that holds position `from` (the engine's snapshot position + 1):
   * the engine skips what its snapshot has, warms up to its cursor and evaluates the rest.
   * Resolves once reading has begun (the first read may still be retrying while Redis is down).
   */
  start(from: number): void {
    this.loop = this.run(Math.max(1, from));
  }

  stats(): StreamInputStats {
    return {
      ...this.counters,
      readPosition: this.readPosition,
      streamPosition: this.streamPosition,
      lag: this.streamPosition < 0 ? 0 : Math.max(0, this.streamPosition - this.readPosition),
    };
  }

  /** Stops reading (the read in flight is abandoned) and closes the Redis connection. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.options.redis.disconnect();
    await this.loop;
  }

  private async run(from: number): Promise<void> {
    const { redis, logger } = this.options;
    let wait = this.options.retryInitialMs ?? 200;
    let positioned = false;
    while (!this.closed) {
      try {
        if (!positioned) {
          // The entry holding `from` starts at or before it; what the stream holds now is the replay.
          const before = await redis.xrevrange(ALERT_READINGS_STREAM, `${from}-0`, '-', 'COUNT', 1);
          const start = before[0] ? entryPosition(before[0][0]) : from;
          this.lastId = `${start - 1}-0`;
          const last = await redis.xrevrange(ALERT_READINGS_STREAM, '+', '-', 'COUNT', 1);
          this.replayThrough = last[0] ? entryPosition(last[0][0]) : 0;
          this.nextExpected = start;
          positioned = true;
          logger.info(
            { from, entry: start, replayThrough: this.replayThrough },
            'alert engine: reading the readings stream',
          );
        }
        const maxBacklog = this.options.maxBacklog ?? 20_000;
        if (this.options.backlog() > maxBacklog) {
          await sleep(50);
          continue;
        }
        const reply = (await redis.xread(
          'COUNT',
          this.options.readCount ?? 50,
          'BLOCK',
          this.options.blockMs ?? 1000,
          'STREAMS',
          ALERT_READINGS_STREAM,
          this.lastId,
        )) as Array<[string, Array<[string, string[]]>]> | null;
        const top = await redis.get(ALERT_READINGS_POSITION_KEY);
        if (top !== null) this.streamPosition = Number(top);
        if (this.streamPosition < this.readPosition && !this.warnedBehind) {
          // Redis lost its data (or was replaced): new entries reuse positions the engine has
          // passed, and reading resumes only beyond them.
          this.warnedBehind = true;
          logger.error(
            { streamPosition: this.streamPosition, readPosition: this.readPosition },
            'alert engine: the readings stream is behind what the engine read (Redis lost data?): readings are missed until the stream passes the position read',
          );
        }
        for (const [, entries] of reply ?? []) {
          for (const [id, fields] of entries) this.deliver(id, fields);
        }
        wait = this.options.retryInitialMs ?? 200;
      } catch (error) {
        if (this.closed) return;
        this.counters.failures++;
        logger.warn(
          { err: (error as Error).message, retryInMs: wait },
          'alert engine: reading the readings stream failed; retrying',
        );
        await sleep(wait);
        wait = Math.min(wait * 2, this.options.retryMaxMs ?? 5000);
      }
    }
  }

  private deliver(id: string, fields: string[]): void {
    this.lastId = id;
    const position = entryPosition(id);
    const value = (name: string): string | undefined => {
      for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i] === name) return fields[i + 1];
      return undefined;
    };
    let readings: Reading[];
    try {
      readings = JSON.parse(value('r') ?? '[]') as Reading[];
      if (!Array.isArray(readings)) throw new Error('not an array');
    } catch (error) {
      this.options.logger.error(
        { id, err: (error as Error).message },
        'alert engine: unreadable stream entry skipped',
      );
      return;
    }
    if (this.nextExpected >= 0 && position > this.nextExpected) {
      this.counters.gaps += position - this.nextExpected;
      this.options.logger.error(
        { expected: this.nextExpected, got: position },
        'alert engine: positions missing in the readings stream (trimmed before they were read, or lost by Redis)',
      );
    }
    this.nextExpected = position + readings.length;
    if (readings.length === 0) return;
    this.entryStarts.push(position);
    this.counters.received += readings.length;
    this.readPosition = position + readings.length - 1;
    this.options.consumer.onRecords(readings, [], position, position <= this.replayThrough);
  }

  /** The engine's snapshot covers positions ≤ last: trim the entries wholly below last + 1. */
  private trimThrough(last: number): void {
    let keepFrom: number | undefined;
    while (this.entryStarts.length > 0 && (this.entryStarts[0] as number) <= last + 1) {
      keepFrom = this.entryStarts.shift();
    }
    if (keepFrom === undefined) return;
    // The entry starting at keepFrom may still hold positions > last: keep it.
    this.entryStarts.unshift(keepFrom);
    if (keepFrom <= this.trimmedBelow) return;
    this.trimmedBelow = keepFrom;
    this.options.redis.xtrim(ALERT_READINGS_STREAM, 'MINID', '~', `${keepFrom}-0`).catch((error: unknown) => {
      this.counters.failures++;
      this.options.logger.warn(
        { err: (error as Error).message, below: keepFrom },
        'alert engine: trimming the readings stream failed (the next snapshot trims it)',
      );
      this.trimmedBelow = 0;
    });
  }
}

/** The position of an entry id `<p>-0`. */
function entryPosition(id: string): number {
  return Number(id.slice(0, id.indexOf('-')));
}
