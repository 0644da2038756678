import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { MetricValue, Reading } from '@ioc/contracts';
import { InvalidQueryError } from './errors';
import { nonNumericAggregationMessage, planHistoryQuery } from './history-query';
import { assertStorableReadings } from './reading-validation';
import type { HistoryPoint, HistoryQuery, LatestValue, TimeSeriesStore } from './time-series-store';

export interface EmbeddedTimeSeriesStoreOptions {
  /** Directory for `timeseries.sqlite` (and its -wal/-shm files); created if missing. */
  dataDir: string;
}

export const EMBEDDED_DB_FILE = 'timeseries.sqlite';

/**
 * Schema. One row per (device, metric, ts) — the point identity of the port — in a WITHOUT ROWID
 * table, so the primary key IS the storage order: a device's metric history is one contiguous
 * b-tree range, and latest()/history() are range scans with no separate index.
 *
 * A value lives in exactly one of num/bool/str, so its JS type comes back as it went in.
 * kind/event/seq are per reading; what describes the device (type, domain, area) goes to the
 * small `devices` side table, one row per device, which is what area grouping will join on.
 */
const SCHEMA = `
  CREATE TABLE IF NOT EXISTS points (
    device_id TEXT    NOT NULL,
    metric    TEXT    NOT NULL,
    ts        INTEGER NOT NULL,
    num       REAL,
    bool      INTEGER,
    str       TEXT,
    kind      TEXT    NOT NULL,
    event     TEXT,
    seq       INTEGER,
    PRIMARY KEY (device_id, metric, ts),
    CHECK ((num IS NOT NULL) + (bool IS NOT NULL) + (str IS NOT NULL) = 1)
  ) WITHOUT ROWID;

  CREATE TABLE IF NOT EXISTS devices (
    device_id   TEXT    NOT NULL PRIMARY KEY,
    device_type TEXT    NOT NULL,
    domain      TEXT    NOT NULL,
    area_id     TEXT    NOT NULL,
    area_path   TEXT    NOT NULL, -- JSON array of area ids, root first
    last_ts     INTEGER NOT NULL
  ) WITHOUT ROWID;
`;

interface ValueRow {
  num: number | null;
  bool: number | null;
  str: string | null;
}
interface PointRow extends ValueRow {
  ts: number;
}

/** Time-series store in one SQLite file: the zero-dependency default for a single host. */
export class EmbeddedTimeSeriesStore implements TimeSeriesStore {
  readonly kind = 'embedded';
  private db: Database.Database | undefined;
  private statements: ReturnType<typeof prepareStatements> | undefined;
  private closed = false;

  constructor(private readonly options: EmbeddedTimeSeriesStoreOptions) {}

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
      db.exec(SCHEMA);
      this.statements = prepareStatements(db);
    } catch (err) {
      db.close();
      throw err;
    }
    this.db = db;
  }

  async write(readings: readonly Reading[]): Promise<void> {
    const { db, statements } = this.open();
    if (readings.length === 0) return;
    assertStorableReadings(readings);
    // One transaction per call: all or nothing, and one fsync for the whole batch.
    db.transaction(() => {
      const devices = new Map<string, Reading>();
      for (const reading of readings) {
        for (const [metric, value] of Object.entries(reading.metrics)) {
          statements.upsertPoint.run({
            deviceId: reading.deviceId,
            metric,
            ts: reading.ts,
            num: typeof value === 'number' ? value : null,
            bool: typeof value === 'boolean' ? (value ? 1 : 0) : null,
            str: typeof value === 'string' ? value : null,
            kind: reading.kind,
            event: reading.event ?? null,
            seq: reading.seq ?? null,
          });
        }
        const known = devices.get(reading.deviceId);
        if (known === undefined || known.ts <= reading.ts) devices.set(reading.deviceId, reading);
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
    })();
  }

  async latest(deviceId: string, metrics: readonly string[]): Promise<Record<string, LatestValue>> {
    const { statements } = this.open();
    const result: Record<string, LatestValue> = {};
    for (const metric of new Set(metrics)) {
      const row = statements.latest.get({ deviceId, metric }) as PointRow | undefined;
      if (row !== undefined) result[metric] = { value: valueOf(row), ts: row.ts };
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
        return (statements.raw.all(range) as PointRow[]).map((row) => ({ ts: row.ts, value: valueOf(row) }));
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
    const db = this.db;
    this.db = undefined;
    this.statements = undefined;
    db?.close();
  }

  private open(): { db: Database.Database; statements: ReturnType<typeof prepareStatements> } {
    if (this.db === undefined || this.statements === undefined) {
      throw new Error(
        this.closed ? 'EmbeddedTimeSeriesStore is closed' : 'EmbeddedTimeSeriesStore: call init() first',
      );
    }
    return { db: this.db, statements: this.statements };
  }
}

function valueOf(row: ValueRow): MetricValue {
  if (row.num !== null) return row.num;
  if (row.bool !== null) return row.bool !== 0;
  if (row.str !== null) return row.str;
  // The CHECK constraint makes this unreachable unless the file was edited by hand.
  throw new Error('corrupt point: no value column set');
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
       VALUES (@deviceId, @metric, @ts, @num, @bool, @str, @kind, @event, @seq)
       ON CONFLICT (device_id, metric, ts) DO UPDATE SET
         num = excluded.num, bool = excluded.bool, str = excluded.str,
         kind = excluded.kind, event = excluded.event, seq = excluded.seq`,
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
    latest: db.prepare(
      `SELECT ts, num, bool, str FROM points WHERE device_id = @deviceId AND metric = @metric
       ORDER BY ts DESC LIMIT 1`,
    ),
    raw: db.prepare(`SELECT ts, num, bool, str FROM points WHERE ${RANGE} ORDER BY ts LIMIT @limit`),
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
