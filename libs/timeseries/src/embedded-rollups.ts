import type Database from 'better-sqlite3';
import { floorTo, HOUR_MS, MINUTE_MS, retentionCutoff } from './retention';
import type { RetentionPolicy } from './time-series-store';

/**
 * Rollups of the embedded store: per (device, metric, bucket) the sum, count, min and max of the
 * numeric points, for 1-minute and 1-hour buckets. Booleans and strings are not rolled up.
 *
 * They are never updated incrementally — a duplicate or a rewritten point would then be counted
 * twice — but recomputed: write() only records which 1-minute buckets it touched in
 * `dirty_buckets` (in the same transaction as the points, so a crash cannot lose the mark), and
 * maintenance recomputes each dirty minute from the raw points (INSERT OR REPLACE … SELECT) and
 * each hour holding one from the minute rollups. Recomputing is idempotent, so it does not matter
 * how often a bucket is marked, which process recomputes it, or whether it is done twice.
 */
export const ROLLUP_SCHEMA = `
  CREATE TABLE IF NOT EXISTS rollup_1m (
    device_id    TEXT    NOT NULL,
    metric       TEXT    NOT NULL,
    bucket_start INTEGER NOT NULL,
    sum          REAL    NOT NULL,
    count        INTEGER NOT NULL,
    min          REAL    NOT NULL,
    max          REAL    NOT NULL,
    PRIMARY KEY (device_id, metric, bucket_start)
  ) WITHOUT ROWID;

  CREATE TABLE IF NOT EXISTS rollup_1h (
    device_id    TEXT    NOT NULL,
    metric       TEXT    NOT NULL,
    bucket_start INTEGER NOT NULL,
    sum          REAL    NOT NULL,
    count        INTEGER NOT NULL,
    min          REAL    NOT NULL,
    max          REAL    NOT NULL,
    PRIMARY KEY (device_id, metric, bucket_start)
  ) WITHOUT ROWID;

  -- 1-minute buckets whose raw points changed since they were last rolled up.
  CREATE TABLE IF NOT EXISTS dirty_buckets (
    device_id    TEXT    NOT NULL,
    metric       TEXT    NOT NULL,
    bucket_start INTEGER NOT NULL,
    PRIMARY KEY (device_id, metric, bucket_start)
  ) WITHOUT ROWID;
  -- Maintenance picks the buckets whose minute is over; series() those of its devices (the key).
  CREATE INDEX IF NOT EXISTS dirty_buckets_by_time ON dirty_buckets (bucket_start);

  -- 'dirty_generation' grows whenever marks are removed; see DirtyMarks.
  CREATE TABLE IF NOT EXISTS rollup_state (
    name  TEXT    NOT NULL PRIMARY KEY,
    value INTEGER NOT NULL
  ) WITHOUT ROWID;
  INSERT OR IGNORE INTO rollup_state (name, value) VALUES ('dirty_generation', 0);
`;

/** Schema version in PRAGMA user_version: 1 = rollups exist. */
export const ROLLUP_SCHEMA_VERSION = 1;

/**
 * Run once when a store file written before rollups existed is opened: every bucket holding raw
 * points is marked dirty, so maintenance rolls up the history too. One full scan of the points.
 */
export const MARK_EXISTING_POINTS_DIRTY = `
  INSERT OR IGNORE INTO dirty_buckets (device_id, metric, bucket_start)
  SELECT DISTINCT device_id, metric, ts - (ts % ${MINUTE_MS}) FROM points
`;

export interface DirtyBucket {
  device_id: string;
  metric: string;
  bucket_start: number;
}

/**
 * What this process knows is already marked in `dirty_buckets`, so write() inserts a mark once per
 * (device, metric, minute) instead of once per point. Nested maps: no key string is built on the
 * hot path, and any device id or metric name is a key as it is.
 *
 * Another process (the API next to the broker, a second writer) may recompute buckets and remove
 * their marks; this cache would then wrongly believe them marked and skip marking new points. So
 * every removal of marks increments `dirty_generation`, and a writer that sees it changed by
 * someone else forgets its cache.
 */
export class DirtyMarks {
  private readonly byBucket = new Map<number, Map<string, Set<string>>>();
  /** The dirty_generation this cache is valid for. */
  generation = -1;

  has(bucket: number, deviceId: string, metric: string): boolean {
    return this.byBucket.get(bucket)?.get(deviceId)?.has(metric) === true;
  }

  add(bucket: number, deviceId: string, metric: string): void {
    let devices = this.byBucket.get(bucket);
    if (devices === undefined) {
      devices = new Map();
      this.byBucket.set(bucket, devices);
    }
    let metrics = devices.get(deviceId);
    if (metrics === undefined) {
      metrics = new Set();
      devices.set(deviceId, metrics);
    }
    metrics.add(metric);
  }

  remove(bucket: number, deviceId: string, metric: string): void {
    const devices = this.byBucket.get(bucket);
    const metrics = devices?.get(deviceId);
    if (devices === undefined || metrics === undefined) return;
    metrics.delete(metric);
    if (metrics.size === 0) devices.delete(deviceId);
    if (devices.size === 0) this.byBucket.delete(bucket);
  }

  clear(): void {
    this.byBucket.clear();
  }
}

type Statement = Database.Statement;

interface SeriesKey {
  device_id: string;
  metric: string;
}

/**
 * Recomputes rollups and applies retention on one SQLite connection. Every method that writes
 * runs in an IMMEDIATE transaction: it takes the write lock before reading, so two processes
 * recomputing the same bucket are serialised and the last one sees the newest points.
 */
export class EmbeddedRollups {
  readonly marks = new DirtyMarks();
  private readonly sql: ReturnType<typeof prepareRollupStatements>;

  constructor(
    private readonly db: Database.Database,
    private readonly retention: RetentionPolicy,
    private readonly now: () => number,
  ) {
    this.sql = prepareRollupStatements(db);
  }

  /** Inside write()'s transaction, before marking: forget the cache if another process removed marks. */
  syncGeneration(): void {
    const generation = (this.sql.generation.get() as { value: number }).value;
    if (generation !== this.marks.generation) {
      this.marks.clear();
      this.marks.generation = generation;
    }
  }

  /** Inside write()'s transaction: the point at ts of (device, metric) changed. */
  markDirty(bucket: number, deviceId: string, metric: string): boolean {
    if (this.marks.has(bucket, deviceId, metric)) return false;
    this.sql.mark.run(deviceId, metric, bucket);
    this.marks.add(bucket, deviceId, metric);
    return true;
  }

  /**
   * Rolls up at most `max` dirty buckets starting at or before `settledBefore`: a tick leaves alone
   * the minutes still being written, since recomputing the current minute on every tick would cost
   * a recompute per active series every two seconds instead of about one per minute. compact()
   * passes +Infinity, and series() rolls up what it reads regardless. Returns how many were handled.
   */
  rollUpDirty(max: number, settledBefore: number): number {
    return this.db
      .transaction(() => {
        const rows = (
          settledBefore === Number.POSITIVE_INFINITY
            ? this.sql.anyDirty.all({ max })
            : this.sql.settledDirty.all({ before: settledBefore, max })
        ) as DirtyBucket[];
        this.recompute(rows);
        return rows.length;
      })
      .immediate();
  }

  /** Rolls up the given dirty buckets now (series() calls it for the buckets it is about to read). */
  rollUp(rows: readonly DirtyBucket[]): void {
    if (rows.length === 0) return;
    this.db.transaction(() => this.recompute(rows)).immediate();
  }

  /**
   * Retention, one batch of series at a time so writes interleave: each call deletes what is older
   * than the cutoffs in up to `maxSeries` series of one table and returns false once all tables are
   * done. Points, minute and hour rollups age out independently (raw first by default); a series is
   * found by skip-scanning the primary key, so no index on time is needed (none is kept on the
   * points: it would cost every write a second b-tree insert).
   */
  retentionStep(cursor: RetentionCursor, maxSeries: number): boolean {
    const now = this.now();
    return this.db
      .transaction((): boolean => {
        const table = RETAINED_TABLES[cursor.table];
        const statements = this.sql.retention[cursor.table];
        if (table === undefined || statements === undefined) {
          // Marks of buckets raw retention has deleted can never be rolled up: drop them.
          const rawCutoff = retentionCutoff(now, this.retention.rawMs);
          if (rawCutoff !== Number.NEGATIVE_INFINITY && this.sql.dropDirtyBefore.run(rawCutoff).changes > 0) {
            this.bumpGeneration(false);
          }
          return false;
        }
        const cutoff = retentionCutoff(now, this.retention[table.retention]);
        for (let i = 0; cutoff !== Number.NEGATIVE_INFINITY && i < maxSeries; i++) {
          const next = nextSeries(statements, cursor.after);
          if (next === undefined) break;
          statements.deleteOlder.run(next.device_id, next.metric, cutoff);
          cursor.after = next;
        }
        if (cutoff === Number.NEGATIVE_INFINITY || nextSeries(statements, cursor.after) === undefined) {
          cursor.table += 1;
          cursor.after = undefined;
        }
        return true;
      })
      .immediate();
  }

  private recompute(rows: readonly DirtyBucket[]): void {
    const now = this.now();
    // A minute is recomputed only while all its raw points are kept, and an hour only while all
    // its minutes are: recomputing from what retention left would replace a complete rollup with
    // a partial one. (Cutoffs are whole hours, so a bucket is either all kept or all gone.)
    const rawCutoff = retentionCutoff(now, this.retention.rawMs);
    const minuteCutoff = retentionCutoff(now, this.retention.oneMinuteMs);
    const hours = new Map<string, DirtyBucket>();
    for (const row of rows) {
      if (row.bucket_start >= rawCutoff) {
        if (this.sql.minuteFromRaw.run(row).changes === 0) this.sql.deleteMinute.run(row);
        const hour = floorTo(row.bucket_start, HOUR_MS);
        if (hour >= minuteCutoff) {
          hours.set(JSON.stringify([row.device_id, row.metric, hour]), { ...row, bucket_start: hour });
        }
      }
      this.sql.unmark.run(row);
    }
    for (const hour of hours.values()) {
      if (this.sql.hourFromMinutes.run(hour).changes === 0) this.sql.deleteHour.run(hour);
    }
    this.bumpGeneration(true, rows);
  }

  /** Marks were removed: a new generation, so other processes' caches know (see DirtyMarks). */
  private bumpGeneration(ours: boolean, removed: readonly DirtyBucket[] = []): void {
    const before = (this.sql.generation.get() as { value: number }).value;
    this.sql.setGeneration.run(before + 1);
    if (ours && before === this.marks.generation) {
      for (const row of removed) this.marks.remove(row.bucket_start, row.device_id, row.metric);
    } else {
      this.marks.clear();
    }
    this.marks.generation = before + 1;
  }
}

const RETAINED_TABLES = [
  { name: 'points', time: 'ts', retention: 'rawMs' },
  { name: 'rollup_1m', time: 'bucket_start', retention: 'oneMinuteMs' },
  { name: 'rollup_1h', time: 'bucket_start', retention: 'oneHourMs' },
] as const;

/** Where a retention pass is: which table, and the last series done in it. */
export interface RetentionCursor {
  table: number;
  after: SeriesKey | undefined;
}

interface RetentionStatements {
  firstDevice: Statement;
  nextDevice: Statement;
  nextMetric: Statement;
  deleteOlder: Statement;
}

/** The series after `after` in primary-key order: two index seeks, no scan. */
function nextSeries(statements: RetentionStatements, after: SeriesKey | undefined): SeriesKey | undefined {
  let deviceId: string | undefined;
  if (after !== undefined) {
    const metric = statements.nextMetric.get(after.device_id, after.metric) as { metric: string } | undefined;
    if (metric !== undefined) return { device_id: after.device_id, metric: metric.metric };
    deviceId = (statements.nextDevice.get(after.device_id) as { device_id: string } | undefined)?.device_id;
  } else {
    deviceId = (statements.firstDevice.get() as { device_id: string } | undefined)?.device_id;
  }
  while (deviceId !== undefined) {
    // Device ids and metric names are never empty, so '' sorts before all of them.
    const metric = statements.nextMetric.get(deviceId, '') as { metric: string } | undefined;
    if (metric !== undefined) return { device_id: deviceId, metric: metric.metric };
    deviceId = (statements.nextDevice.get(deviceId) as { device_id: string } | undefined)?.device_id;
  }
  return undefined;
}

function prepareRollupStatements(db: Database.Database) {
  const KEY = 'device_id = @device_id AND metric = @metric AND bucket_start = @bucket_start';
  return {
    generation: db.prepare(`SELECT value FROM rollup_state WHERE name = 'dirty_generation'`),
    setGeneration: db.prepare(`UPDATE rollup_state SET value = ? WHERE name = 'dirty_generation'`),
    mark: db.prepare(
      `INSERT OR IGNORE INTO dirty_buckets (device_id, metric, bucket_start) VALUES (?, ?, ?)`,
    ),
    unmark: db.prepare(`DELETE FROM dirty_buckets WHERE ${KEY}`),
    settledDirty: db.prepare(
      `SELECT device_id, metric, bucket_start FROM dirty_buckets WHERE bucket_start <= @before
       ORDER BY bucket_start LIMIT @max`,
    ),
    anyDirty: db.prepare(`SELECT device_id, metric, bucket_start FROM dirty_buckets LIMIT @max`),
    dropDirtyBefore: db.prepare(`DELETE FROM dirty_buckets WHERE bucket_start < ?`),
    // HAVING: a minute left with no numeric point (all rewritten to text, say) yields no row, and
    // changes = 0 tells the caller to delete the stale rollup instead.
    minuteFromRaw: db.prepare(
      `INSERT OR REPLACE INTO rollup_1m (device_id, metric, bucket_start, sum, count, min, max)
       SELECT @device_id, @metric, @bucket_start, sum(num), count(num), min(num), max(num) FROM points
       WHERE device_id = @device_id AND metric = @metric
         AND ts >= @bucket_start AND ts < @bucket_start + ${MINUTE_MS} AND num IS NOT NULL
       HAVING count(num) > 0`,
    ),
    deleteMinute: db.prepare(`DELETE FROM rollup_1m WHERE ${KEY}`),
    hourFromMinutes: db.prepare(
      `INSERT OR REPLACE INTO rollup_1h (device_id, metric, bucket_start, sum, count, min, max)
       SELECT @device_id, @metric, @bucket_start, sum(sum), sum(count), min(min), max(max) FROM rollup_1m
       WHERE device_id = @device_id AND metric = @metric
         AND bucket_start >= @bucket_start AND bucket_start < @bucket_start + ${HOUR_MS}
       HAVING count(*) > 0`,
    ),
    deleteHour: db.prepare(`DELETE FROM rollup_1h WHERE ${KEY}`),
    // Table and column names are the constants above, never input.
    retention: RETAINED_TABLES.map(({ name, time }): RetentionStatements => ({
      firstDevice: db.prepare(`SELECT device_id FROM ${name} ORDER BY device_id LIMIT 1`),
      nextDevice: db.prepare(`SELECT device_id FROM ${name} WHERE device_id > ? ORDER BY device_id LIMIT 1`),
      nextMetric: db.prepare(
        `SELECT metric FROM ${name} WHERE device_id = ? AND metric > ? ORDER BY device_id, metric LIMIT 1`,
      ),
      deleteOlder: db.prepare(`DELETE FROM ${name} WHERE device_id = ? AND metric = ? AND ${time} < ?`),
    })),
  };
}
