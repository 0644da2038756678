import {
  type DeviceStatus,
  type DeviceStatusReason,
  MAX_DEVICE_STATUS_NOTICE,
  silenceTimeoutSecondsOf,
} from '@ioc/contracts';
import { DatabaseTaskLog, isDatabaseUnavailable } from '@ioc/database';
import type { DeviceStatusRecord, DeviceStatusTransition } from '@ioc/registry';
import { toDeviceStatus } from '@ioc/registry';
import type { Logger } from '@ioc/runtime';
import type { DeviceDirectory } from './device-directory';

/**
 * Default IOC_CLOCK_SUSPECT_MS, 120 000 ms (2 min). A device synchronised by NTP is within tens
 * of ms (RFC 5905 §1); an unsynchronised quartz RTC drifts about ±20 ppm, ≈ 1.7 s a day, so two
 * minutes means months without a time sync or a clock set by hand — and it catches the usual
 * gross errors (a device in UTC+7 local time sending it as UTC is 25 200 000 ms off, a clock reset
 * to 1970 or 2000 is years off). It lies below IOC_MAX_CLOCK_SKEW_MS (300 000), so a clock running
 * ahead is flagged before its readings are refused as `timestamp-in-future`, and well above MQTT
 * delivery delays (a QoS 1 retry after a reconnect takes seconds).
 */
export const DEFAULT_CLOCK_SUSPECT_MS = 120_000;

/**
 * How long a device's readings must keep arriving late by more than the clock limit before it is
 * flagged for a slow clock, ms (10 min). A device uploading its backlog after an outage sends old
 * readings as fast as its link allows and is done within minutes, then its newest timestamp is
 * current again; a clock that is behind stays behind.
 */
export const CLOCK_LAG_PERSIST_MS = 600_000;

/** Default grace after the broker starts for devices recorded online by its previous run, ms. */
export const DEFAULT_RESTART_GRACE_MS = 60_000;

/** Status changes are written (one transaction) and announced at most this often, ms. */
export const STATUS_FLUSH_INTERVAL_MS = 500;
/** lastSeen of devices whose status did not change is written this often, ms. */
export const LAST_SEEN_FLUSH_INTERVAL_MS = 10_000;
/** How often silent devices are looked for, ms (a silence timeout is at least seconds). */
export const SILENCE_SWEEP_INTERVAL_MS = 1_000;
/** Changes kept for a database that does not answer; beyond it the oldest are dropped (and counted). */
const MAX_PENDING_CHANGES = 100_000;

/** Where the tracker keeps statuses: DeviceStatusRepository (libs/registry) implements it. */
export interface DeviceStatusStore {
  writeBatch(batch: {
    latest: readonly DeviceStatusRecord[];
    history: readonly DeviceStatusTransition[];
  }): Promise<unknown>;
  latestOf(deviceIds?: readonly string[]): Promise<Map<string, DeviceStatusRecord>>;
}

/** What the ingest path tells the tracker: a message was accepted from a device. */
export interface DeviceActivityObserver {
  /**
   * An accepted message of `deviceId` arrived at `at` (epoch ms); `deviceTs` is the newest reading
   * timestamp it carried (epoch ms), for the clock check. O(1), allocation-free for a known device.
   */
  seen(deviceId: string, at: number, deviceTs?: number): void;
  /**
   * The device said it is offline at `at`: a status message `{"metrics":{"online":false}}` of its
   * own before a clean stop (`disconnected`), or its will, published by the broker after an
   * unclean end of its session (`connection-lost`). How statuses follow sessions when devices do
   * not authenticate (IOC_MQTT_AUTH=off).
   */
  announcedOffline(deviceId: string, at: number, reason: 'disconnected' | 'connection-lost'): void;
  /** An authenticated session of the device began (credentials mode: the broker knows who connected). */
  connected?(deviceId: string, at: number): void;
  /** An authenticated session ended; `clean` when the client sent DISCONNECT (or the platform closed it). */
  disconnected?(deviceId: string, at: number, clean: boolean): void;
  /**
   * Several broker nodes (IOC_REDIS_URL): another node holds a live session of the device. Its
   * status is that node's to judge until releasedElsewhere.
   */
  connectedElsewhere?(deviceId: string): void;
  /** Several broker nodes: no other node holds a session of the device any more. */
  releasedElsewhere?(deviceId: string): void;
}

export interface DeviceStatusTrackerOptions {
  store: DeviceStatusStore;
  /** The registry as ingest sees it: each device's silence timeout (its own, else its type's). */
  directory: DeviceDirectory;
  /**
   * Announces changed statuses (one per device, its current status), at most
   * MAX_DEVICE_STATUS_NOTICE per call; the broker publishes them on INTERNAL_DEVICE_STATUS_TOPIC.
   */
  publish: (statuses: DeviceStatus[]) => void;
  logger: Logger;
  /** IOC_CLOCK_SUSPECT_MS; DEFAULT_CLOCK_SUSPECT_MS by default. */
  clockSuspectMs?: number;
  /** CLOCK_LAG_PERSIST_MS by default. */
  clockLagPersistMs?: number;
  /** IOC_STATUS_RESTART_GRACE_MS; DEFAULT_RESTART_GRACE_MS by default. */
  restartGraceMs?: number;
  /** Epoch-ms clock (Date.now by default); tests drive a controllable one. */
  now?: () => number;
  /**
   * Whether start() runs the flush and sweep timers (default true). Without them the caller calls
   * sweep(), flushChanges() and flushLastSeen() itself (tests with a controllable clock).
   */
  timers?: boolean;
}

/** Counters of the tracker's work. */
export interface DeviceStatusTrackerStats {
  devices: number;
  online: number;
  batchesWritten: number;
  writeFailures: number;
  changesDropped: number;
}

/** One device's status as the tracker keeps it (a class: one hidden class, fields set in place). */
class TrackedDevice {
  status: 'online' | 'offline' = 'offline';
  reason: DeviceStatusReason = 'never-seen';
  since = 0;
  /** 0: never. */
  lastSeen = 0;
  clockOffsetMs: number | undefined = undefined;
  clockSuspect = false;
  /** Receive time of the first of the current run of late messages, or -1. */
  lagSince = -1;
  /** Live authenticated sessions (connected − disconnected). */
  connections = 0;
  /** Recorded online by the previous run of the broker, not heard from since this one started. */
  pendingRestart = false;
  /**
   * Another broker node holds a live session of the device (connectedElsewhere): that node writes
   * its status; this one neither sweeps it nor marks it offline when its own session ends.
   */
  elsewhere = false;
  /** In the queue of changed statuses not yet written. */
  changed = false;
  /** lastSeen or the clock moved since the status was last written. */
  seenDirty = false;
  /** Known to the store (written or loaded): an unseen device is never written. */
  constructor(readonly deviceId: string) {}
}

/**
 * Each device's connectivity status, kept in memory by the broker and written to the registry
 * database in batches. Framework-free; one per broker process.
 *
 * - Online on `connected` (an authenticated session: reason `connected`) or on any accepted
 *   message while offline (`reading`), so with IOC_MQTT_AUTH=off statuses come from readings alone.
 * - Offline on the last session's end (`disconnected` when clean, `connection-lost` otherwise), on
 *   an `online: false` status of the device's own (`disconnected`) or its will (`connection-lost`),
 *   on `closedByRegistry` (suspended, retired, revoked), or by the sweep after the device's silence
 *   timeout without a message (`silence-timeout`, at lastSeen + timeout), connected or not.
 * - At start(), devices recorded online by the previous run stay online for the restart grace;
 *   those not heard from by then become offline (`broker-restart`, since this run's start).
 * - Clock (clockSuspect): judged on the newest reading timestamp of each message, offset = receive
 *   time − timestamp. Flagged at once when the device is ahead (offset < −limit); flagged for
 *   lagging (offset > limit) only when every message has lagged for CLOCK_LAG_PERSIST_MS, so a
 *   backlog of old readings uploaded after an outage is not taken for a slow clock. Cleared by the
 *   first message within the limit.
 * - Several broker nodes (IOC_REDIS_URL), one tracker each: while another node holds a live
 *   session of a device (connectedElsewhere … releasedElsewhere), this node leaves the device's
 *   status to that node — its own session's end (a takeover from the other node, or a connection
 *   it notices dead only later), its sweeps and its restart grace do not mark it offline; a new
 *   session here makes it online again (`connected`, even if this node last saw it online).
 *   A device that moves from node A to node B therefore ends `online`, whichever node notices
 *   what first; the registry keeps the later `since` when the two nodes' writes cross.
 * - Changes are written in one transaction every STATUS_FLUSH_INTERVAL_MS (never per message) and
 *   then announced through `publish`; lastSeen alone is written every LAST_SEEN_FLUSH_INTERVAL_MS
 *   for the devices heard from since. A failed write is retried at the next flush.
 */
export class DeviceStatusTracker implements DeviceActivityObserver {
  private readonly devices = new Map<string, TrackedDevice>();
  private changedQueue: TrackedDevice[] = [];
  private history: DeviceStatusTransition[] = [];
  private readonly now: () => number;
  private readonly clockSuspectMs: number;
  private readonly clockLagPersistMs: number;
  private readonly restartGraceMs: number;
  private startedAt = 0;
  private timers: NodeJS.Timeout[] = [];
  private changesFlush: Promise<void> | undefined;
  private seenFlush: Promise<void> | undefined;
  private readonly counters = { batchesWritten: 0, writeFailures: 0, changesDropped: 0 };

  /** The status writes' failures: a database outage logged once (and its end), not at every flush. */
  private readonly writeLog: DatabaseTaskLog;

  constructor(private readonly options: DeviceStatusTrackerOptions) {
    this.writeLog = new DatabaseTaskLog(options.logger, 'device status write');
    this.now = options.now ?? Date.now;
    this.clockSuspectMs = options.clockSuspectMs ?? DEFAULT_CLOCK_SUSPECT_MS;
    this.clockLagPersistMs = options.clockLagPersistMs ?? CLOCK_LAG_PERSIST_MS;
    this.restartGraceMs = options.restartGraceMs ?? DEFAULT_RESTART_GRACE_MS;
  }

  /** Loads the stored statuses (devices recorded online wait for the restart grace) and starts the timers. */
  async start(): Promise<void> {
    this.startedAt = this.now();
    const stored = await this.options.store.latestOf();
    for (const record of stored.values()) {
      const device = new TrackedDevice(record.deviceId);
      device.status = record.status;
      device.reason = record.reason;
      device.since = record.since;
      device.lastSeen = record.lastSeen ?? 0;
      device.clockOffsetMs = record.clockOffsetMs;
      device.clockSuspect = record.clockSuspect;
      device.pendingRestart = record.status === 'online';
      this.devices.set(record.deviceId, device);
    }
    if (this.options.timers === false) return;
    const every = (ms: number, task: () => unknown): void => {
      const timer = setInterval(task, ms);
      timer.unref();
      this.timers.push(timer);
    };
    every(SILENCE_SWEEP_INTERVAL_MS, () => this.sweep());
    every(STATUS_FLUSH_INTERVAL_MS, () => this.flushChanges());
    every(LAST_SEEN_FLUSH_INTERVAL_MS, () => this.flushLastSeen());
  }

  /** An authenticated session of the device opened at `at` (epoch ms): online, reason `connected`. */
  connected(deviceId: string, at: number): void {
    const device = this.tracked(deviceId);
    device.connections++;
    this.heard(device, at);
    // Back from another node: what this node last knew of it is stale, the session is new.
    const back = device.elsewhere;
    device.elsewhere = false;
    if (device.status !== 'online' || back) this.transition(device, 'online', 'connected', at);
  }

  connectedElsewhere(deviceId: string): void {
    const device = this.tracked(deviceId);
    device.elsewhere = true;
    device.pendingRestart = false;
  }

  /**
   * No other node holds a session of the device any more: that node recorded how it ended, so
   * unless it has a session here this node takes it as offline (in memory only; nothing written).
   */
  releasedElsewhere(deviceId: string): void {
    const device = this.devices.get(deviceId);
    if (device === undefined || !device.elsewhere) return;
    device.elsewhere = false;
    if (device.connections === 0) device.status = 'offline';
  }

  /**
   * A session of the device ended at `at`: when it was the last one, offline with `disconnected`
   * (clean: the client sent DISCONNECT) or `connection-lost` (keep-alive, socket error, takeover
   * without a new session). A device already offline stays as it is.
   */
  disconnected(deviceId: string, at: number, clean: boolean): void {
    const device = this.devices.get(deviceId);
    if (device === undefined) return;
    device.connections = Math.max(0, device.connections - 1);
    if (device.connections > 0 || device.status !== 'online' || device.elsewhere) return;
    this.transition(device, 'offline', clean ? 'disconnected' : 'connection-lost', at);
  }

  /**
   * The registry closed the device's sessions (call it before IngestBroker.disconnectDevice):
   * offline with that reason; the disconnections that follow change nothing more.
   */
  closedByRegistry(deviceId: string, at: number, reason: 'suspended' | 'retired' | 'revoked'): void {
    const device = this.devices.get(deviceId);
    if (device === undefined || device.status !== 'online') return;
    this.transition(device, 'offline', reason, at);
  }

  seen(deviceId: string, at: number, deviceTs?: number): void {
    let device = this.devices.get(deviceId);
    if (device === undefined) {
      device = new TrackedDevice(deviceId);
      this.devices.set(deviceId, device);
    }
    this.heard(device, at);
    if (deviceTs !== undefined) this.judgeClock(device, at, deviceTs);
    if (device.status !== 'online') this.transition(device, 'online', 'reading', at);
  }

  announcedOffline(deviceId: string, at: number, reason: 'disconnected' | 'connection-lost'): void {
    const device = this.devices.get(deviceId);
    // Another authenticated session of the device is still up (the one ending is still counted:
    // aedes publishes a will before it reports the disconnection): the device is not offline.
    if (device === undefined || device.status !== 'online' || device.connections > 1 || device.elsewhere)
      return;
    this.transition(device, 'offline', reason, at);
  }

  /**
   * Marks offline the online devices silent for longer than their timeout (`silence-timeout`,
   * since lastSeen + timeout) and, once the restart grace is over, those recorded online by the
   * previous run and not heard from since (`broker-restart`, since this run's start).
   */
  sweep(now: number = this.now()): void {
    const graceOver = now - this.startedAt >= this.restartGraceMs;
    for (const device of this.devices.values()) {
      if (device.status !== 'online' || device.elsewhere) continue;
      if (device.pendingRestart) {
        if (graceOver) {
          device.pendingRestart = false;
          this.transition(device, 'offline', 'broker-restart', this.startedAt);
        }
        continue;
      }
      const registered = this.options.directory.getDevice(device.deviceId);
      if (registered === undefined) continue;
      const timeoutMs = silenceTimeoutSecondsOf(registered) * 1000;
      if (now - device.lastSeen >= timeoutMs)
        this.transition(device, 'offline', 'silence-timeout', device.lastSeen + timeoutMs);
    }
  }

  /** Writes the changes queued since the last flush in one transaction, then announces them. */
  flushChanges(): Promise<void> {
    this.changesFlush ??= this.writeChanges().finally(() => {
      this.changesFlush = undefined;
    });
    return this.changesFlush;
  }

  /** Writes the lastSeen (and clock offset) of the devices heard from since it was last written. */
  flushLastSeen(): Promise<void> {
    this.seenFlush ??= this.writeLastSeen().finally(() => {
      this.seenFlush = undefined;
    });
    return this.seenFlush;
  }

  /** The device's status as the tracker has it now; `unknown` for a device never heard from. */
  statusOf(deviceId: string): DeviceStatus {
    const device = this.devices.get(deviceId);
    return toDeviceStatus(
      deviceId,
      device && device.reason !== 'never-seen' ? this.recordOf(device) : undefined,
    );
  }

  stats(): DeviceStatusTrackerStats {
    let online = 0;
    for (const device of this.devices.values()) if (device.status === 'online') online++;
    return { devices: this.devices.size, online, ...this.counters };
  }

  /** Stops the timers and writes what is pending. */
  async close(): Promise<void> {
    for (const timer of this.timers) clearInterval(timer);
    this.timers = [];
    await this.flushChanges();
    await this.flushLastSeen();
  }

  private tracked(deviceId: string): TrackedDevice {
    let device = this.devices.get(deviceId);
    if (device === undefined) {
      device = new TrackedDevice(deviceId);
      this.devices.set(deviceId, device);
    }
    return device;
  }

  private heard(device: TrackedDevice, at: number): void {
    // The time of this call, even if earlier than the stored one: a lastSeen left in the future
    // by a clock stepped back (or a database copied from another host) must not keep a silent
    // device online.
    device.lastSeen = at;
    device.seenDirty = true;
    device.pendingRestart = false;
  }

  private judgeClock(device: TrackedDevice, at: number, deviceTs: number): void {
    const offset = at - deviceTs;
    device.clockOffsetMs = offset;
    let suspect: boolean;
    if (offset < -this.clockSuspectMs) {
      suspect = true;
      device.lagSince = -1;
    } else if (offset > this.clockSuspectMs) {
      if (device.lagSince < 0) device.lagSince = at;
      suspect = device.clockSuspect || at - device.lagSince >= this.clockLagPersistMs;
    } else {
      device.lagSince = -1;
      suspect = false;
    }
    if (suspect !== device.clockSuspect) {
      device.clockSuspect = suspect;
      this.markChanged(device);
    }
  }

  private transition(
    device: TrackedDevice,
    status: 'online' | 'offline',
    reason: DeviceStatusReason,
    at: number,
  ): void {
    device.status = status;
    device.reason = reason;
    device.since = at;
    if (this.history.length >= MAX_PENDING_CHANGES) {
      this.history.shift();
      this.counters.changesDropped++;
    }
    this.history.push({ deviceId: device.deviceId, status, reason, at });
    this.markChanged(device);
  }

  private markChanged(device: TrackedDevice): void {
    if (device.changed) return;
    device.changed = true;
    this.changedQueue.push(device);
  }

  private recordOf(device: TrackedDevice): DeviceStatusRecord {
    const record: DeviceStatusRecord = {
      deviceId: device.deviceId,
      status: device.status,
      reason: device.reason,
      since: device.since,
      clockSuspect: device.clockSuspect,
    };
    if (device.lastSeen > 0) record.lastSeen = device.lastSeen;
    if (device.clockOffsetMs !== undefined) record.clockOffsetMs = device.clockOffsetMs;
    return record;
  }

  private async writeChanges(): Promise<void> {
    if (this.changedQueue.length === 0 && this.history.length === 0) return;
    const changed = this.changedQueue;
    const history = this.history;
    this.changedQueue = [];
    this.history = [];
    const latest: DeviceStatusRecord[] = [];
    for (const device of changed) {
      device.changed = false;
      device.seenDirty = false;
      latest.push(this.recordOf(device));
    }
    try {
      await this.options.store.writeBatch({ latest, history });
      this.counters.batchesWritten++;
      this.writeLog.succeeded();
    } catch (error) {
      this.counters.writeFailures++;
      this.writeLog.failed(error, 'device status write failed; retried at the next flush');
      // Retried in order before what came meanwhile; the devices' current state is written then.
      this.history = history.concat(this.history);
      for (const device of changed) this.markChanged(device);
    }
    // Announced even when the write failed: operators' live view stays true meanwhile.
    const statuses = latest.map((record) => toDeviceStatus(record.deviceId, record));
    for (let start = 0; start < statuses.length; start += MAX_DEVICE_STATUS_NOTICE) {
      this.options.publish(statuses.slice(start, start + MAX_DEVICE_STATUS_NOTICE));
    }
  }

  private async writeLastSeen(): Promise<void> {
    const dirty: TrackedDevice[] = [];
    for (const device of this.devices.values()) {
      if (device.seenDirty && !device.changed && device.reason !== 'never-seen') {
        device.seenDirty = false;
        dirty.push(device);
      }
    }
    if (dirty.length === 0) return;
    try {
      await this.options.store.writeBatch({ latest: dirty.map((d) => this.recordOf(d)), history: [] });
      this.counters.batchesWritten++;
      this.writeLog.succeeded();
    } catch (error) {
      this.counters.writeFailures++;
      if (isDatabaseUnavailable(error)) this.writeLog.failed(error, 'device lastSeen write failed; retried');
      else
        this.options.logger.warn({ err: (error as Error).message }, 'device lastSeen write failed; retried');
      for (const device of dirty) device.seenDirty = true;
    }
  }
}
