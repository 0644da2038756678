import {
  METRIC_CATALOGUE,
  type DeviceStatus,
  type DeviceStatusListBody,
  type Reading,
  type Severity,
} from '@ioc/contracts';
import { applyReadingTo, deviceViewFromStatus, readingChanges, type DeviceView } from './device-view';
import type { LatestValueBody } from '@ioc/contracts';
import { FrameBatch, type FrameScheduler } from './frame-scheduler';

/** Display unit of every catalogue metric (`''` when dimensionless), for `applyReadingTo`. */
export const METRIC_UNITS: Readonly<Record<string, string>> = Object.fromEntries(
  Object.entries(METRIC_CATALOGUE).map(([name, definition]) => [name, definition.unit]),
);

/**
 * Wait after the first reading or status of an unknown device before reloading the statuses, ms:
 * a batch of newly provisioned devices (an import of hundreds) costs one reload, not hundreds.
 */
export const UNKNOWN_DEVICE_RELOAD_DEBOUNCE_MS = 2000;

/** What the device store needs from its page. */
export interface DeviceStoreOptions {
  /** When onChange listeners run (one delivery per frame). */
  scheduler: FrameScheduler;
  /**
   * Reloads every status (`GET /api/v1/devices/status`) and calls `load` with it: asked for,
   * debounced, when the live feed names a device the store does not know (newly provisioned).
   */
  reload?: () => Promise<void>;
  /** Debounce of `reload`, ms (default UNKNOWN_DEVICE_RELOAD_DEBOUNCE_MS). */
  reloadDebounceMs?: number;
}

/** Counters of the live feed as the store saw it (the overview's fallback ingest rate). */
export interface DeviceStoreCounters {
  /** Live readings received since the page loaded. */
  readings: number;
  /** Of which for a device the store did not know (dropped; they trigger a reload). */
  unknownDeviceReadings: number;
  /** Reloads asked for because of unknown devices. */
  unknownDeviceReloads: number;
}

/** Called once per frame with the views that changed and the ids that left since the last one. */
export type DeviceChangeListener = (changed: DeviceView[], removed: string[]) => void;

/**
 * Every device of the principal's scope as the console shows it (DeviceView), kept current by the
 * live feed. Changes are coalesced: listeners run at most once per frame with the latest view of
 * each device that changed, so 5,000 readings/s cost at most ~60 deliveries/s.
 *
 * Readings cost one copy of a device's view per frame, not one per reading: the first reading of a
 * device in a frame copies its view (and its `latest` record) into a draft the store owns, and
 * later readings of that frame mutate the draft in place. A draft is sealed — never mutated again —
 * as soon as anyone can see it: at the frame's delivery, and when `get` or `all` hands it out.
 */
export class DeviceStore {
  private views = new Map<string, DeviceView>();
  /** Views copied this frame that nobody has seen yet: readings mutate these in place. */
  private readonly drafts = new Map<string, DeviceView & { latest: Record<string, LatestValueBody> }>();
  /** Worst open alert severity by device id, kept across `load` (the alert store owns it). */
  private readonly severities = new Map<string, Severity>();
  /** Ids the feed named that no load held: each asks for a reload once. */
  private readonly unknown = new Set<string>();
  private reloadTimer: ReturnType<typeof setTimeout> | null = null;
  private readonly batch: FrameBatch<string, DeviceView | string>;
  readonly counters: DeviceStoreCounters = { readings: 0, unknownDeviceReadings: 0, unknownDeviceReloads: 0 };

  constructor(private readonly options: DeviceStoreOptions) {
    this.batch = new FrameBatch(options.scheduler, () => this.drafts.clear());
  }

  /**
   * Replaces every device with the answer of `GET /api/v1/devices/status` (first paint, after a
   * reconnect, after a reload for unknown devices). Alert severities are kept. Devices no longer
   * in the answer are reported as removed; every device in it as changed.
   */
  load(body: DeviceStatusListBody): void {
    const next = new Map<string, DeviceView>();
    for (const entry of body.items) {
      const view = deviceViewFromStatus(entry);
      const severity = this.severities.get(entry.id);
      const previous = this.views.get(entry.id);
      next.set(entry.id, {
        ...view,
        alertSeverity: severity ?? null,
        areaPath: previous?.areaPath ?? view.areaPath,
      });
    }
    for (const id of this.views.keys()) if (!next.has(id)) this.batch.mark(id, id);
    this.views = next;
    this.drafts.clear();
    for (const view of next.values()) this.batch.mark(view.id, view);
  }

  /**
   * A live reading: its metrics become the device's latest values (an older reading leaves newer
   * values alone), units from the metric catalogue. Returns false for a device the store does not
   * know (counted; a reload is scheduled).
   */
  applyReading(reading: Reading): boolean {
    this.counters.readings += 1;
    const view = this.views.get(reading.deviceId);
    if (view === undefined) {
      this.counters.unknownDeviceReadings += 1;
      this.noteUnknown(reading.deviceId);
      return false;
    }
    let draft = this.drafts.get(reading.deviceId);
    if (draft === undefined) {
      if (!readingChanges(view, reading)) return true;
      draft = { ...view, latest: { ...view.latest } };
      this.drafts.set(draft.id, draft);
      this.views.set(draft.id, draft);
      this.batch.mark(draft.id, draft);
    }
    applyReadingTo(draft, reading, METRIC_UNITS);
    return true;
  }

  /** A live status change (`deviceStatus`). Returns false for an unknown device (reload scheduled). */
  applyStatus(status: DeviceStatus): boolean {
    const view = this.views.get(status.deviceId);
    if (view === undefined) {
      this.noteUnknown(status.deviceId);
      return false;
    }
    const lastSeen = status.lastSeen === undefined ? view.lastSeen : Date.parse(status.lastSeen);
    this.put({
      ...view,
      status: status.status,
      statusSince: status.since === null ? null : Date.parse(status.since),
      lastSeen: lastSeen === null ? null : Math.max(lastSeen, view.lastSeen ?? 0),
      clockSuspect: status.clockSuspect,
    });
    return true;
  }

  /** The worst open alert severity of a device (null: none), from the alert store. */
  setAlertSeverity(deviceId: string, severity: Severity | null): void {
    if (severity === null) this.severities.delete(deviceId);
    else this.severities.set(deviceId, severity);
    const view = this.views.get(deviceId);
    if (view !== undefined && view.alertSeverity !== severity) this.put({ ...view, alertSeverity: severity });
  }

  /** The current view of a device (never mutated afterwards: a later reading makes a new one). */
  get(id: string): DeviceView | undefined {
    this.drafts.delete(id);
    return this.views.get(id);
  }

  /** Every device, in the order of the last load (views never mutated afterwards). */
  all(): DeviceView[] {
    this.drafts.clear();
    return [...this.views.values()];
  }

  get size(): number {
    return this.views.size;
  }

  /** Calls `listener` at most once per frame with what changed; returns the function that stops it. */
  onChange(listener: DeviceChangeListener): () => void {
    return this.batch.listen((values) => {
      const changed: DeviceView[] = [];
      const removed: string[] = [];
      for (const value of values) {
        if (typeof value === 'string') removed.push(value);
        else changed.push(value);
      }
      listener(changed, removed);
    });
  }

  /** Stops the pending reload timer. */
  destroy(): void {
    if (this.reloadTimer !== null) clearTimeout(this.reloadTimer);
    this.reloadTimer = null;
  }

  private put(view: DeviceView): void {
    this.drafts.delete(view.id);
    this.views.set(view.id, view);
    this.batch.mark(view.id, view);
  }

  private noteUnknown(id: string): void {
    if (this.unknown.has(id) || this.options.reload === undefined) return;
    this.unknown.add(id);
    if (this.reloadTimer !== null) return;
    this.counters.unknownDeviceReloads += 1;
    const reload = this.options.reload;
    this.reloadTimer = setTimeout(() => {
      this.reloadTimer = null;
      // A failed reload forgets the ids it was for, so their next reading asks again.
      reload().catch(() => {
        for (const unknown of this.unknown) if (!this.views.has(unknown)) this.unknown.delete(unknown);
      });
    }, this.options.reloadDebounceMs ?? UNKNOWN_DEVICE_RELOAD_DEBOUNCE_MS);
  }
}
