import type { Kysely, Selectable } from 'kysely';
import { DEVICE_STATUS_REASONS, type DeviceStatus, type DeviceStatusReason } from '@ioc/contracts';
import { type DatabaseSchema, type DeviceStatusTable, transaction } from '@ioc/database';

/** A device's stored status (`device_status` row); times are epoch ms. */
export interface DeviceStatusRecord {
  deviceId: string;
  status: 'online' | 'offline';
  reason: DeviceStatusReason;
  /** When the current status began. */
  since: number;
  /** When the platform last heard from the device (connect or accepted message). */
  lastSeen?: number;
  /** Receive time minus the device's newest reading timestamp, ms. */
  clockOffsetMs?: number;
  clockSuspect: boolean;
}

/** One stored change of a device's status (`device_status_history` row). */
export interface DeviceStatusTransition {
  deviceId: string;
  status: 'online' | 'offline';
  reason: DeviceStatusReason;
  /** Epoch ms. */
  at: number;
}

/** What the API reads of device statuses (DeviceStatusRepository implements it). */
export interface DeviceStatusReader {
  /** The stored status of each listed device that has one; of every device when `deviceIds` is omitted. */
  latestOf(deviceIds?: readonly string[]): Promise<Map<string, DeviceStatusRecord>>;
  /** Changes of one device with `from <= at < to` (epoch ms), oldest first, at most `limit`. */
  historyOf(deviceId: string, from: number, to: number, limit: number): Promise<DeviceStatusTransition[]>;
}

/** Rows per multi-row INSERT: 8 columns × 500 = 4 000 parameters, under SQLite's 32 766 and pg's 65 535. */
const ROWS_PER_INSERT = 500;

type StatusRow = Selectable<DeviceStatusTable>;

/**
 * Device statuses in the registry database: the latest status of each device (`device_status`,
 * upserted) and every change (`device_status_history`, appended). Writes come in batches from
 * the broker's DeviceStatusTracker (one transaction per batch, never per message); reads serve
 * the API. Works on SQLite and PostgreSQL alike.
 */
export class DeviceStatusRepository implements DeviceStatusReader {
  constructor(
    private readonly db: Kysely<DatabaseSchema>,
    private readonly clock: () => number = Date.now,
  ) {}

  /**
   * Upserts the latest statuses and appends the changes, in one transaction. Rows of devices not
   * (or no longer) in `devices` are skipped — the tracker may know a device the database does not,
   * e.g. a broker running from seed files — and counted in the answer, so one such device never
   * fails the batch of the others. A latest row whose `since` is earlier than the stored row's is
   * not applied (its change still goes to the history): the later transition wins.
   * @returns how many latest rows and changes were written, and how many were skipped
   */
  async writeBatch(batch: {
    latest: readonly DeviceStatusRecord[];
    history: readonly DeviceStatusTransition[];
  }): Promise<{ latest: number; history: number; skipped: number }> {
    if (batch.latest.length === 0 && batch.history.length === 0) return { latest: 0, history: 0, skipped: 0 };
    return transaction(this.db, async (trx) => {
      const known = await knownDevices(trx, [
        ...new Set([...batch.latest.map((r) => r.deviceId), ...batch.history.map((c) => c.deviceId)]),
      ]);
      const latest = batch.latest.filter((r) => known.has(r.deviceId));
      const history = batch.history.filter((c) => known.has(c.deviceId));
      const now = this.clock();
      for (let i = 0; i < latest.length; i += ROWS_PER_INSERT) {
        await trx
          .insertInto('device_status')
          .values(latest.slice(i, i + ROWS_PER_INSERT).map((r) => toRow(r, now)))
          .onConflict((oc) =>
            oc
              .column('device_id')
              .doUpdateSet((eb) => ({
                status: eb.ref('excluded.status'),
                reason: eb.ref('excluded.reason'),
                since: eb.ref('excluded.since'),
                last_seen: eb.ref('excluded.last_seen'),
                clock_offset_ms: eb.ref('excluded.clock_offset_ms'),
                clock_suspect: eb.ref('excluded.clock_suspect'),
                updated_at: eb.ref('excluded.updated_at'),
              }))
              // Never back in time: with several broker nodes, the offline of a device's old
              // session (seen by one node) may be written after the online of its new session
              // (written by another); the later transition wins, whichever commits last.
              .where('device_status.since', '<=', (eb) => eb.ref('excluded.since')),
          )
          .execute();
      }
      for (let i = 0; i < history.length; i += ROWS_PER_INSERT) {
        await trx
          .insertInto('device_status_history')
          .values(
            history.slice(i, i + ROWS_PER_INSERT).map((c) => ({
              device_id: c.deviceId,
              status: c.status,
              reason: c.reason,
              at: c.at,
            })),
          )
          .execute();
      }
      const skipped = batch.latest.length - latest.length + batch.history.length - history.length;
      return { latest: latest.length, history: history.length, skipped };
    });
  }

  async latestOf(deviceIds?: readonly string[]): Promise<Map<string, DeviceStatusRecord>> {
    const found = new Map<string, DeviceStatusRecord>();
    const add = (rows: StatusRow[]): void => {
      for (const row of rows) found.set(row.device_id, toRecord(row));
    };
    if (deviceIds === undefined) {
      add(await this.db.selectFrom('device_status').selectAll().execute());
      return found;
    }
    for (let i = 0; i < deviceIds.length; i += ROWS_PER_INSERT) {
      add(
        await this.db
          .selectFrom('device_status')
          .selectAll()
          .where('device_id', 'in', deviceIds.slice(i, i + ROWS_PER_INSERT))
          .execute(),
      );
    }
    return found;
  }

  async historyOf(
    deviceId: string,
    from: number,
    to: number,
    limit: number,
  ): Promise<DeviceStatusTransition[]> {
    const rows = await this.db
      .selectFrom('device_status_history')
      .select(['device_id', 'status', 'reason', 'at'])
      .where('device_id', '=', deviceId)
      .where('at', '>=', from)
      .where('at', '<', to)
      .orderBy('at')
      .orderBy('id')
      .limit(limit)
      .execute();
    return rows.map((row) => ({
      deviceId: row.device_id,
      status: row.status === 'online' ? 'online' : 'offline',
      reason: reasonOf(row.reason),
      at: Number(row.at),
    }));
  }
}

/** The ids among `ids` that are registered devices (chunked IN lists). */
async function knownDevices(db: Kysely<DatabaseSchema>, ids: readonly string[]): Promise<Set<string>> {
  const known = new Set<string>();
  for (let i = 0; i < ids.length; i += ROWS_PER_INSERT) {
    const rows = await db
      .selectFrom('devices')
      .select('id')
      .where('id', 'in', ids.slice(i, i + ROWS_PER_INSERT))
      .execute();
    for (const row of rows) known.add(row.id);
  }
  return known;
}

function toRow(record: DeviceStatusRecord, now: number) {
  return {
    device_id: record.deviceId,
    status: record.status,
    reason: record.reason,
    since: record.since,
    last_seen: record.lastSeen ?? null,
    clock_offset_ms: record.clockOffsetMs ?? null,
    clock_suspect: record.clockSuspect ? 1 : 0,
    updated_at: now,
  };
}

function toRecord(row: StatusRow): DeviceStatusRecord {
  const record: DeviceStatusRecord = {
    deviceId: row.device_id,
    status: row.status === 'online' ? 'online' : 'offline',
    reason: reasonOf(row.reason),
    since: Number(row.since),
    clockSuspect: Number(row.clock_suspect) === 1,
  };
  if (row.last_seen !== null) record.lastSeen = Number(row.last_seen);
  if (row.clock_offset_ms !== null) record.clockOffsetMs = Number(row.clock_offset_ms);
  return record;
}

/** A stored reason, or `connection-lost` for one this version does not know (written by a newer one). */
function reasonOf(value: string): DeviceStatusReason {
  return (DEVICE_STATUS_REASONS as readonly string[]).includes(value)
    ? (value as DeviceStatusReason)
    : 'connection-lost';
}

/** The contracts' DeviceStatus of a stored record (ISO times), or `unknown` when there is none. */
export function toDeviceStatus(deviceId: string, record: DeviceStatusRecord | undefined): DeviceStatus {
  if (record === undefined)
    return { deviceId, status: 'unknown', reason: 'never-seen', since: null, clockSuspect: false };
  const status: DeviceStatus = {
    deviceId,
    status: record.status,
    reason: record.reason,
    since: new Date(record.since).toISOString(),
    clockSuspect: record.clockSuspect,
  };
  if (record.lastSeen !== undefined) status.lastSeen = new Date(record.lastSeen).toISOString();
  if (record.clockOffsetMs !== undefined) status.clockOffsetMs = record.clockOffsetMs;
  return status;
}
