import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { Reading } from '@ioc/contracts';
import {
  EmbeddedRollups,
  MARK_EXISTING_POINTS_DIRTY,
  ROLLUP_SCHEMA,
  ROLLUP_SCHEMA_VERSION,
  type RetentionCursor,
} from './embedded-rollups';
import { EmbeddedSeriesReader, type StretchQuery, type ValueRow, valueOf } from './embedded-series';
import { InvalidQueryError } from './errors';
import { nonNumericAggregationMessage, planHistoryQuery } from './history-query';
import { PeriodicTask, warnMaintenanceError } from './periodic-task';
import { assertStorableReadings } from './reading-validation';
import { floorTo, HOUR_MS, MINUTE_MS, resolveRetention } from './retention';
import { nonNumericSeriesMessage, planSeriesQuery, splitIntoSegments } from './series-query';
import type {
  HistoryPoint,
  HistoryQuery,
  LatestValue,
  RetentionPolicy,
  SeriesQuery,
  SeriesResult,
  TimeSeriesStore,
} from './time-series-store';
import { LastOfWindows, rawPointsInOrder, WindowAggregates } from './window-aggregates';

export interface EmbeddedTimeSeriesStoreOptions {
  /** Directory for `timeseries.sqlite` (and its -wal/-shm files); created if missing. */
  dataDir: string;
  /** How long raw points and rollups are kept; DEFAULT_RETENTION for what is not given. */
  retention?: Partial<RetentionPolicy>;
  /**
   * Period of the background job rolling up finished minutes; 2 s by default. 0 turns background
   * maintenance off (compact() then does all of it; series() still rolls up what it reads).
   */
  maintenanceIntervalMs?: number;
  /** How often the background job applies retention; 10 min by default (and on every compact()). */
  retentionIntervalMs?: number;
  /** Clock, epoch ms, that retention and "finished minute" are measured against; Date.now by default. */
  now?: () => number;
  /** Called when background maintenance fails (it is retried at the next tick); a process warning by default. */
  onMaintenanceError?: (error: Error) => void;
}

export const EMBEDDED_DB_FILE = 'timeseries.sqlite';

/**
 * The raw points table. One row per (device, metric, ts, kind, event) — the record identity of
 * the port (see TimeSeriesStore): a telemetry and a status message of one device in the same
 * millisecond, or two camera events of different types, are distinct rows, while the same reading
 * written twice (a spool replay) is one. `event` is `''` for readings without one, because a
 * primary-key column of a WITHOUT ROWID table cannot be NULL. WITHOUT ROWID, so the primary key
 * IS the storage order: a device's metric history is one contiguous b-tree range, and
 * latest()/history() are range scans with no separate index, already in the port's order of
 * records sharing a timestamp (kind, then event).
 *
 * A value lives in exactly one of num/bool/str, so its JS type comes back as it went in. `seq` is
 * per reading; what describes the device (type, domain, area) goes to the small `devices` side
 * table, one row per device, which is what area grouping will join on.
 */
const pointsTable = (name: string): string => `
  CREATE TABLE IF NOT EXISTS ${name} (
    device_id TEXT    NOT NULL,
    metric    TEXT    NOT NULL,
    ts        INTEGER NOT NULL,
    num       REAL,
    bool      INTEGER,
    str       TEXT,
    kind      TEXT    NOT NULL,
    event     TEXT    NOT NULL DEFAULT '',
    seq       INTEGER,
    PRIMARY KEY (device_id, metric, ts, kind, event),
    CHECK ((num IS NOT NULL) + (bool IS NOT NULL) + (str IS NOT NULL) = 1)
  ) WITHOUT ROWID;
`;

const SCHEMA = `
  ${pointsTable('points')}

  CREATE TABLE IF NOT EXISTS devices (
    device_id   TEXT    NOT NULL PRIMARY KEY,
    device_type TEXT    NOT NULL,
    domain      TEXT    NOT NULL,
    area_id     TEXT    NOT NULL,
    area_path   TEXT    NOT NULL, -- JSON array of area ids, root first
    last_ts     INTEGER NOT NULL
  ) WITHOUT ROWID;
`;

/**
 * Schema version (SQLite `user_version`) from which `points` is keyed by the whole record identity
 * (device, metric, ts, kind, event). Files of version 0–1 have the key (device, metric, ts) and a
 * nullable `event`: migrate() copies their rows into the new layout once, on first open.
 */
export const POINTS_IDENTITY_SCHEMA_VERSION = 2;

/**
 * Rebuilds a version-1 `points` table in the current layout. Every old row is kept (the old key
 * is stricter than the new one, so no two rows collide); NULL events become `''`. Rollups are
 * unchanged: the rows, and so their sums and counts, are the same.
 */
const REKEY_POINTS = `
  ${pointsTable('points_rekeyed')}
  INSERT INTO points_rekeyed (device_id, metric, ts, num, bool, str, kind, event, seq)
    SELECT device_id, metric, ts, num, bool, str, kind, coalesce(event, ''), seq FROM points;
  DROP TABLE points;
  ALTER TABLE points_rekeyed RENAME TO points;
`;

interface PointRow extends ValueRow {
  ts: number;
  event: string;
}

/** Page cache per connection, KiB (SQLite's default is 2 MiB). */
const PAGE_CACHE_KIB = 64 * 1024;
/** WAL pages after which a commit checkpoints (SQLite's default is 1 000, ~4 MB). */
const WAL_CHECKPOINT_PAGES = 16_384;
/** Dirty buckets rolled up per transaction: large enough to be efficient, small enough not to stall writes. */
const ROLLUP_BATCH = 2_000;
/** Series handled per retention transaction, for the same reason. */
const RETENTION_BATCH = 1_000;
/** After a minute ends, how long background maintenance waits for late points before rolling it up. */
const SETTLE_GRACE_MS = 5_000;

type MaintenanceReason = 'tick' | 'compact';

/**
 * Time-series store in one SQLite file: the zero-dependency default for a single host. Several
 * processes (broker and API) may open the same file; rollup maintenance is safe to run in all.
 */
export class EmbeddedTimeSeriesStore implements TimeSeriesStore {
  readonly kind = 'embedded';
  readonly retention: RetentionPolicy;
  private db: Database.Database | undefined;
  private statements: ReturnType<typeof prepareStatements> | undefined;
  private rollups: EmbeddedRollups | undefined;
  private reader: EmbeddedSeriesReader | undefined;
  private readonly now: () => number;
  private readonly maintenance: PeriodicTask<MaintenanceReason>;
  private lastRetentionAt = performance.now();
  /** Newest reading time this process wrote, and when (see maintain()). */
  private newestWritten = Number.POSITIVE_INFINITY;
  private newestWrittenAt = 0;
  private closed = false;

  constructor(private readonly options: EmbeddedTimeSeriesStoreOptions) {
    this.retention = resolveRetention(options.retention);
    this.now = options.now ?? Date.now;
    this.maintenance = new PeriodicTask(
      (reason) => this.maintain(reason),
      options.onMaintenanceError ?? warnMaintenanceError,
    );
  }

  get path(): string {
    return join(this.options.dataDir, EMBEDDED_DB_FILE);
  }

  async init(): Promise<void> {
    if (this.closed) throw new Error('EmbeddedTimeSeriesStore: init() after close()');
    if (this.db !== undefined) return;
    mkdirSync(this.options.dataDir, { recursive: true });
    const db = new Database(this.path);
    try {
      db.pragma('journal_mode = WAL');
      // FULL, not NORMAL: in WAL mode NORMAL skips the fsync at commit, so a power cut can lose the
      // last transactions although write() already resolved. We promise that an acknowledged
      // reading is kept; the cost is one fsync per write() call, and callers batch.
      db.pragma('synchronous = FULL');
      // Another connection (a backup, an admin shell) may briefly hold the lock.
      db.pragma('busy_timeout = 5000');
      // Writes land all over the file (one b-tree range per device and metric), so each commit
      // rewrites a page for nearly every series it touches. A larger page cache keeps those pages
      // in memory (with the default 2 MiB, the cost of a write per reading doubled as the file grew
      // past ~100 MB), and a larger WAL lets a page modified by many commits be copied back to the
      // database file once per checkpoint instead of once per few commits: 8.8 → 5.8 KB of disk
      // writes per reading in batches of 5 000 (measured with a 20 000-page WAL). Disk bandwidth
      // is what the spool's fdatasync, and so every PUBACK, competes with.
      db.pragma(`cache_size = ${-PAGE_CACHE_KIB}`);
      db.pragma(`wal_autocheckpoint = ${WAL_CHECKPOINT_PAGES}`);
      db.exec(SCHEMA);
      migrate(db);
      this.statements = prepareStatements(db);
      this.rollups = new EmbeddedRollups(db, this.retention, this.now);
      this.reader = new EmbeddedSeriesReader(db);
    } catch (err) {
      db.close();
      throw err;
    }
    this.db = db;
    this.maintenance.start(this.options.maintenanceIntervalMs ?? 2_000, 'tick');
  }

  async write(readings: readonly Reading[]): Promise<void> {
    const { db, statements, rollups } = this.open();
    if (readings.length === 0) return;
    assertStorableReadings(readings);
    // One transaction per call: all or nothing, and one fsync for the whole batch. IMMEDIATE: it
    // reads the dirty generation first, and a deferred transaction upgrading from read to write
    // would fail instead of waiting when another process wrote in between.
    const marked: [number, string, string][] = [];
    try {
      db.transaction(() => {
        rollups.syncGeneration();
        const devices = new Map<string, Reading>();
        let newest = Number.NEGATIVE_INFINITY;
        for (const reading of readings) {
          if (reading.ts > newest) newest = reading.ts;
          const bucket = reading.ts - (reading.ts % MINUTE_MS);
          const event = reading.event ?? '';
          const seq = reading.seq ?? null;
          for (const metric of Object.keys(reading.metrics)) {
            const value = reading.metrics[metric];
            // Positional parameters: a named-parameter object per row cost ~1.6 µs of ~5.7.
            statements.upsertPoint.run(
              reading.deviceId,
              metric,
              reading.ts,
              typeof value === 'number' ? value : null,
              typeof value === 'boolean' ? (value ? 1 : 0) : null,
              typeof value === 'string' ? value : null,
              reading.kind,
              event,
              seq,
            );
            // Booleans and text too: a point rewritten from a number to text must leave its minute's
            // rollup. Cheap: one mark per (device, metric, minute), not per point.
            if (rollups.markDirty(bucket, reading.deviceId, metric))
              marked.push([bucket, reading.deviceId, metric]);
          }
          const known = devices.get(reading.deviceId);
          if (known === undefined || known.ts <= reading.ts) devices.set(reading.deviceId, reading);
        }
        if (this.newestWritten === Number.POSITIVE_INFINITY || newest >= this.newestWritten) {
          this.newestWritten = newest;
          this.newestWrittenAt = this.now();
        }
        for (const reading of devices.values()) {
          statements.upsertDevice.run({
            deviceId: reading.deviceId,
            deviceType: reading.deviceType,
            domain: reading.domain,
            areaId: reading.areaId,
            areaPath: JSON.stringify(reading.areaPath),
            ts: reading.ts,
          });
        }
      }).immediate();
    } catch (err) {
      // Rolled back: those marks are not in the table, so the cache must not claim them.
      for (const [bucket, deviceId, metric] of marked) rollups.marks.remove(bucket, deviceId, metric);
      throw err;
    }
  }

  async latest(deviceId: string, metrics: readonly string[]): Promise<Record<string, LatestValue>> {
    const { statements } = this.open();
    const result: Record<string, LatestValue> = {};
    for (const metric of new Set(metrics)) {
      const row = statements.latest.get({ deviceId, metric }) as PointRow | undefined;
      if (row === undefined) continue;
      const value: LatestValue = { value: valueOf(row), ts: row.ts };
      if (row.event !== '') value.event = row.event;
      result[metric] = value;
    }
    return result;
  }

  async latestOfDevices(
    deviceIds: readonly string[],
    metrics: readonly string[],
  ): Promise<Map<string, Record<string, LatestValue>>> {
    const { statements } = this.open();
    const result = new Map<string, Record<string, LatestValue>>();
    if (deviceIds.length === 0 || metrics.length === 0) return result;
    // One statement: each (device, metric) pair's newest ts by a seek on the primary key, then the
    // records at that ts in the port's order (kind, event): the last one read wins, as in latest().
    const rows = statements.latestOfDevices.all({
      devices: JSON.stringify([...new Set(deviceIds)]),
      metrics: JSON.stringify([...new Set(metrics)]),
    }) as (PointRow & { device_id: string; metric: string })[];
    for (const row of rows) {
      let values = result.get(row.device_id);
      if (values === undefined) {
        values = {};
        result.set(row.device_id, values);
      }
      const value: LatestValue = { value: valueOf(row), ts: row.ts };
      if (row.event !== '') value.event = row.event;
      values[row.metric] = value;
    }
    return result;
  }

  async history(query: HistoryQuery): Promise<HistoryPoint[]> {
    const { statements } = this.open();
    const plan = planHistoryQuery(query);
    const range = {
      deviceId: query.deviceId,
      metric: query.metric,
      from: query.from,
      to: query.to,
      // SQLite reads a negative LIMIT as "no limit".
      limit: plan.mode === 'empty' ? 0 : (plan.limit ?? -1),
    };
    switch (plan.mode) {
      case 'empty':
        return [];
      case 'raw':
        return (statements.raw.all(range) as PointRow[]).map((row) => {
          const point: HistoryPoint = { ts: row.ts, value: valueOf(row) };
          if (row.event !== '') point.event = row.event;
          return point;
        });
      case 'aggregate': {
        const params = { ...range, every: plan.everyMs };
        if (plan.fn === 'last') {
          const rows = statements.last.all(params) as (ValueRow & { window_start: number })[];
          return rows.map((row) => ({ ts: row.window_start, value: valueOf(row) }));
        }
        if (statements.hasNonNumeric.get(range) !== undefined) {
          throw new InvalidQueryError(nonNumericAggregationMessage(query));
        }
        const rows = statements[plan.fn].all(params) as { window_start: number; value: number }[];
        return rows.map((row) => ({ ts: row.window_start, value: row.value }));
      }
    }
  }

  async series(query: SeriesQuery): Promise<SeriesResult> {
    const { rollups, reader } = this.open();
    const plan = planSeriesQuery(query, { retention: this.retention, now: this.now() });
    if (plan.mode === 'empty') return { resolution: plan.resolution, points: [] };
    const { deviceIds, metric, from, to, limit } = plan;
    if (plan.mode === 'raw') {
      const points = await rawPointsInOrder(
        async (a, b, n) => reader.rawPoints(deviceIds, metric, a, b, n),
        from,
        to,
        limit,
        true,
      );
      return { resolution: 'raw', points };
    }
    const stretch = (segment: { from: number; to: number }): StretchQuery => ({ ...plan, ...segment });
    if (plan.mode === 'last') {
      const windows = new LastOfWindows();
      for (const piece of reader.lastWindows(stretch(plan))) windows.add(piece);
      return { resolution: 'raw', points: windows.points(limit) };
    }

    if (plan.resolution !== 'raw') {
      // Roll up first whatever of this query is still dirty (the current minute, a late write
      // another process made): rollups then hold exactly what raw points would give.
      rollups.rollUp(reader.dirtyBuckets(deviceIds, metric, floorTo(from, HOUR_MS), to));
    }
    const windows = new WindowAggregates(plan.fn);
    let nonNumeric = false;
    for (const segment of splitIntoSegments(plan.resolution, from, to, () => Number.POSITIVE_INFINITY)) {
      if (segment.resolution === 'raw') {
        nonNumeric ||= reader.rawWindows(stretch(segment), windows).nonNumeric;
      } else {
        const table = segment.resolution === '1m' ? 'rollup_1m' : 'rollup_1h';
        reader.rollupWindows(table, stretch(segment), windows);
      }
    }
    // Rollups skip booleans and text, so an empty answer from them may hide a non-numeric metric:
    // one raw point tells, and the query is refused as it is from raw points.
    if (!nonNumeric && windows.size === 0 && plan.resolution !== 'raw') {
      const probe = reader.anyPoint(deviceIds, metric, from, to);
      nonNumeric = probe !== undefined && probe.num === null;
    }
    if (nonNumeric) throw new InvalidQueryError(nonNumericSeriesMessage(plan.fn, metric));
    return { resolution: plan.resolution, points: windows.points(limit) };
  }

  async compact(): Promise<void> {
    this.open();
    await this.maintenance.runNow('compact');
  }

  async ping(): Promise<boolean> {
    if (this.db === undefined) return false;
    try {
      this.db.prepare('SELECT 1').get();
      return true;
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.maintenance.stop();
    const db = this.db;
    this.db = undefined;
    this.statements = undefined;
    this.rollups = undefined;
    this.reader = undefined;
    db?.close();
  }

  /**
   * Background ticks roll up the minutes that are over and, every retentionIntervalMs, apply
   * retention; compact() rolls up everything dirty and applies retention now. Work is done in
   * batches with a turn of the event loop between them, so writes and queries interleave.
   */
  private async maintain(reason: MaintenanceReason): Promise<void> {
    // A tick rolls up the minutes that are over — over by the clock, or, while this process is
    // writing older data (replaying a backlog), over by the newest time it wrote (advancing with
    // the clock since): otherwise a minute being replayed would be recomputed on every tick while
    // it fills up.
    const now = this.now();
    const dataNow = this.newestWritten + (now - this.newestWrittenAt);
    const settledBefore =
      reason === 'compact' ? Number.POSITIVE_INFINITY : Math.min(now, dataNow) - MINUTE_MS - SETTLE_GRACE_MS;
    for (;;) {
      const rollups = this.rollups;
      if (rollups === undefined || this.closed) return; // closed meanwhile: the marks stay for next time
      if (rollups.rollUpDirty(ROLLUP_BATCH, settledBefore) < ROLLUP_BATCH) break;
      await yieldToEventLoop();
    }
    const retentionDue =
      performance.now() - this.lastRetentionAt >= (this.options.retentionIntervalMs ?? 600_000);
    if (reason === 'compact' || retentionDue) {
      this.lastRetentionAt = performance.now();
      const cursor: RetentionCursor = { table: 0, after: undefined };
      for (;;) {
        const rollups = this.rollups;
        if (rollups === undefined || this.closed || !rollups.retentionStep(cursor, RETENTION_BATCH)) break;
        await yieldToEventLoop();
      }
    }
  }

  private open() {
    const { db, statements, rollups, reader } = this;
    if (db === undefined || statements === undefined || rollups === undefined || reader === undefined) {
      throw new Error(
        this.closed ? 'EmbeddedTimeSeriesStore is closed' : 'EmbeddedTimeSeriesStore: call init() first',
      );
    }
    return { db, statements, rollups, reader };
  }
}

/**
 * Brings a store file up to the current schema, once, in one transaction (the broker and the API
 * may open the file at the same time). Version 1 added the rollups: a file written before has its
 * existing points marked dirty, so maintenance rolls up its history as well. Version 2 keys points
 * by the whole record identity (REKEY_POINTS; one copy of the table, so the first open of a large
 * old file takes a while). A new file goes through the same steps on empty tables.
 */
function migrate(db: Database.Database): void {
  // Read first: an up-to-date file needs no write lock to open, so a store opens while another
  // connection holds a long write transaction (a backup, a bulk import, the other process).
  if ((db.pragma('user_version', { simple: true }) as number) >= POINTS_IDENTITY_SCHEMA_VERSION) return;
  db.transaction(() => {
    const version = db.pragma('user_version', { simple: true }) as number;
    if (version >= POINTS_IDENTITY_SCHEMA_VERSION) return;
    if (version < ROLLUP_SCHEMA_VERSION) {
      db.exec(ROLLUP_SCHEMA);
      db.exec(MARK_EXISTING_POINTS_DIRTY);
    }
    db.exec(REKEY_POINTS);
    db.pragma(`user_version = ${POINTS_IDENTITY_SCHEMA_VERSION}`);
  }).immediate();
}

function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Window start = floor(ts / every) * every, written so it also floors for negative ts. */
const WINDOW = '(ts - (((ts % @every) + @every) % @every))';
const RANGE = 'device_id = @deviceId AND metric = @metric AND ts >= @from AND ts < @to';

function prepareStatements(db: Database.Database) {
  const aggregate = (sqlFn: 'avg' | 'min' | 'max') =>
    db.prepare(
      `SELECT ${WINDOW} AS window_start, ${sqlFn}(num) AS value FROM points WHERE ${RANGE}
       GROUP BY 1 ORDER BY 1 LIMIT @limit`,
    );
  return {
    upsertPoint: db.prepare(
      `INSERT INTO points (device_id, metric, ts, num, bool, str, kind, event, seq)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (device_id, metric, ts, kind, event) DO UPDATE SET
         num = excluded.num, bool = excluded.bool, str = excluded.str, seq = excluded.seq`,
    ),
    // Keeps the device's newest description: an older reading arriving late must not undo a move.
    upsertDevice: db.prepare(
      `INSERT INTO devices (device_id, device_type, domain, area_id, area_path, last_ts)
       VALUES (@deviceId, @deviceType, @domain, @areaId, @areaPath, @ts)
       ON CONFLICT (device_id) DO UPDATE SET
         device_type = excluded.device_type, domain = excluded.domain, area_id = excluded.area_id,
         area_path = excluded.area_path, last_ts = excluded.last_ts
       WHERE excluded.last_ts >= devices.last_ts`,
    ),
    // The last record in the port's order (ts, kind, event): the primary key read backwards.
    latest: db.prepare(
      `SELECT ts, num, bool, str, event FROM points WHERE device_id = @deviceId AND metric = @metric
       ORDER BY ts DESC, kind DESC, event DESC LIMIT 1`,
    ),
    latestOfDevices: db.prepare(
      `WITH wanted AS (
         SELECT d.value AS device_id, m.value AS metric,
                (SELECT max(ts) FROM points q WHERE q.device_id = d.value AND q.metric = m.value) AS newest
         FROM json_each(@devices) d, json_each(@metrics) m
       )
       SELECT p.device_id, p.metric, p.ts, p.num, p.bool, p.str, p.event
       FROM wanted w JOIN points p ON p.device_id = w.device_id AND p.metric = w.metric AND p.ts = w.newest
       ORDER BY p.device_id, p.metric, p.kind, p.event`,
    ),
    raw: db.prepare(
      `SELECT ts, num, bool, str, event FROM points WHERE ${RANGE} ORDER BY ts, kind, event LIMIT @limit`,
    ),
    hasNonNumeric: db.prepare(`SELECT 1 FROM points WHERE ${RANGE} AND num IS NULL LIMIT 1`),
    mean: aggregate('avg'),
    min: aggregate('min'),
    max: aggregate('max'),
    // SQLite documents that with a single max() the bare columns come from the row holding the
    // maximum: here the newest point of each window.
    last: db.prepare(
      `SELECT ${WINDOW} AS window_start, max(ts) AS newest, num, bool, str FROM points WHERE ${RANGE}
       GROUP BY 1 ORDER BY 1 LIMIT @limit`,
    ),
  };
}
