import type { Alert, AlertBody, AlertEvent, AlertListBody, Severity } from '@ioc/contracts';
import type { ApiClient } from './api-client';
import { compareAlertsForList } from './alert-order';
import { FrameBatch, type FrameScheduler } from './frame-scheduler';

/**
 * One alert as the console keeps it, whatever brought it: the contracts' Alert (times epoch ms,
 * as live `alert` events carry them; REST's ISO-8601 times are converted), plus what the console
 * adds.
 */
export interface ConsoleAlert extends Alert {
  /**
   * The optimistic-concurrency version (`AlertBody.version`) of the state shown, for acknowledge;
   * null when a live event changed the alert after the last REST answer (live events carry no
   * version: `versionOf` then asks the API).
   */
  version: number | null;
  /** When the console saw it resolved (epoch ms): it fades out and leaves FADE_OUT_MS later. Null while open. */
  fadingSince: number | null;
}

/** How long a resolved alert stays in the panel, flagged as fading, ms. */
export const FADE_OUT_MS = 60_000;

/** Severities from the least to the most urgent. */
export const SEVERITY_ORDER: readonly Severity[] = ['info', 'warning', 'critical'];

/** The worse of two severities (null: none). */
export function worseSeverity(a: Severity | null, b: Severity | null): Severity | null {
  if (a === null) return b;
  if (b === null) return a;
  return SEVERITY_ORDER.indexOf(a) >= SEVERITY_ORDER.indexOf(b) ? a : b;
}

const parseTime = (iso: string | null): number | null => (iso === null ? null : Date.parse(iso));

/** A REST alert (`AlertBody`, ISO-8601 times) in the console's shape (epoch ms, its version). */
export function alertFromBody(body: AlertBody): ConsoleAlert {
  const { version, ...rest } = body;
  return {
    ...rest,
    pendingAt: Date.parse(body.pendingAt),
    firingAt: parseTime(body.firingAt),
    acknowledgedAt: parseTime(body.acknowledgedAt),
    resolvedAt: parseTime(body.resolvedAt),
    updatedAt: Date.parse(body.updatedAt),
    version,
    fadingSince: null,
  };
}

/** The instant an alert is ordered by (newest first): when it fired, else when it opened. */
export function alertTimeOf(alert: Pick<Alert, 'firingAt' | 'pendingAt'>): number {
  return alert.firingAt ?? alert.pendingAt;
}

/** Whether an alert counts toward its device's marker and the overview: firing or acknowledged. */
export function alertIsActive(alert: Pick<ConsoleAlert, 'state' | 'fadingSince'>): boolean {
  return alert.fadingSince === null && (alert.state === 'firing' || alert.state === 'acknowledged');
}

/** Open alerts by severity (firing or acknowledged), and pending ones apart. */
export interface AlertCounts {
  info: number;
  warning: number;
  critical: number;
  pending: number;
}

/** Where the store pushes each device's worst active severity (the device store). */
export interface AlertSeveritySink {
  setAlertSeverity(deviceId: string, severity: Severity | null): void;
}

export interface AlertStoreOptions {
  scheduler: FrameScheduler;
  /** Receives each device's worst firing-or-acknowledged severity when it changes. */
  devices?: AlertSeveritySink;
  /** Clock, epoch ms (default Date.now). */
  now?: () => number;
  /** How long a resolved alert fades, ms (default FADE_OUT_MS). */
  fadeOutMs?: number;
}

/**
 * The open alerts of the principal's scope: from `GET /api/v1/alerts?open=true` (`load`) and the
 * live `alert` events (`applyEvent`), by id, in the panel's order (compareAlertsForList). A resolved alert stays FADE_OUT_MS
 * flagged `fadingSince`, then leaves. The worst active severity of each device is pushed into
 * the device store. Listeners run at most once per frame.
 */
export class AlertStore {
  private readonly alerts = new Map<string, ConsoleAlert>();
  private readonly fadeTimers = new Map<string, ReturnType<typeof setTimeout>>();
  private readonly deviceSeverity = new Map<string, Severity>();
  private sorted: ConsoleAlert[] | null = null;
  private readonly batch: FrameBatch<string, ConsoleAlert>;
  private readonly now: () => number;

  constructor(private readonly options: AlertStoreOptions) {
    this.batch = new FrameBatch(options.scheduler);
    this.now = options.now ?? Date.now;
  }

  /**
   * Replaces the open set with a REST answer (first paint, or after a reconnect to fill the gap):
   * alerts in it are taken (unless the store holds a newer state), open alerts not in it were
   * resolved meanwhile and start fading.
   */
  load(bodies: readonly AlertBody[]): void {
    const seen = new Set<string>();
    for (const body of bodies) {
      seen.add(body.id);
      const alert = alertFromBody(body);
      const known = this.alerts.get(alert.id);
      if (known !== undefined && known.updatedAt > alert.updatedAt) continue;
      this.take(alert);
    }
    for (const alert of [...this.alerts.values()])
      if (!seen.has(alert.id) && alert.fadingSince === null)
        this.take({ ...alert, state: 'resolved', resolvedAt: alert.resolvedAt ?? this.now() });
  }

  /** One REST alert (an acknowledge answer, a reload of one alert after a 409). */
  applyBody(body: AlertBody): void {
    const alert = alertFromBody(body);
    const known = this.alerts.get(alert.id);
    if (known !== undefined && known.updatedAt > alert.updatedAt) return;
    this.take(alert);
  }

  /**
   * A live transition. An older state than the one held is ignored (events and a reload can
   * cross); a resolution of an alert never shown is ignored.
   */
  applyEvent(event: AlertEvent): void {
    const known = this.alerts.get(event.alert.id);
    if (known !== undefined && known.updatedAt > event.alert.updatedAt) return;
    if (known === undefined && event.alert.state === 'resolved') return;
    const sameState = known !== undefined && known.updatedAt === event.alert.updatedAt;
    this.take({ ...event.alert, version: sameState ? known.version : null, fadingSince: null });
  }

  get(id: string): ConsoleAlert | undefined {
    return this.alerts.get(id);
  }

  /**
   * Every alert held (open and fading) in the panel's order (compareAlertsForList): firing, then
   * acknowledged, pending, fading; each group newest first by its last transition.
   */
  list(): readonly ConsoleAlert[] {
    this.sorted ??= [...this.alerts.values()].sort(compareAlertsForList);
    return this.sorted;
  }

  /** Open alerts by severity (firing or acknowledged) and pending ones. */
  counts(): AlertCounts {
    const counts: AlertCounts = { info: 0, warning: 0, critical: 0, pending: 0 };
    for (const alert of this.alerts.values()) {
      if (alert.fadingSince !== null) continue;
      if (alert.state === 'pending') counts.pending += 1;
      else if (alertIsActive(alert)) counts[alert.severity] += 1;
    }
    return counts;
  }

  /** The worst firing-or-acknowledged severity of a device, null when none. */
  severityOf(deviceId: string): Severity | null {
    return this.deviceSeverity.get(deviceId) ?? null;
  }

  /** Calls `listener` at most once per frame with the alerts that changed (a left one has `state: 'resolved'`). */
  onChange(listener: (changed: ConsoleAlert[]) => void): () => void {
    return this.batch.listen(listener);
  }

  /** Stops the fade timers. */
  destroy(): void {
    for (const timer of this.fadeTimers.values()) clearTimeout(timer);
    this.fadeTimers.clear();
  }

  private take(incoming: ConsoleAlert): void {
    let alert = incoming;
    const known = this.alerts.get(alert.id);
    if (alert.state === 'resolved') {
      alert = { ...alert, fadingSince: known?.fadingSince ?? this.now() };
      if (!this.fadeTimers.has(alert.id)) {
        const id = alert.id;
        this.fadeTimers.set(
          id,
          setTimeout(() => this.leave(id), this.options.fadeOutMs ?? FADE_OUT_MS),
        );
      }
    }
    this.alerts.set(alert.id, alert);
    this.sorted = null;
    this.batch.mark(alert.id, alert);
    if (known?.deviceId) this.refreshDevice(known.deviceId);
    if (alert.deviceId && alert.deviceId !== known?.deviceId) this.refreshDevice(alert.deviceId);
  }

  private leave(id: string): void {
    this.fadeTimers.delete(id);
    const alert = this.alerts.get(id);
    if (alert === undefined) return;
    this.alerts.delete(id);
    this.sorted = null;
    this.batch.mark(id, alert);
  }

  private refreshDevice(deviceId: string): void {
    let worst: Severity | null = null;
    for (const alert of this.alerts.values())
      if (alert.deviceId === deviceId && alertIsActive(alert)) worst = worseSeverity(worst, alert.severity);
    const previous = this.deviceSeverity.get(deviceId) ?? null;
    if (worst === previous) return;
    if (worst === null) this.deviceSeverity.delete(deviceId);
    else this.deviceSeverity.set(deviceId, worst);
    this.options.devices?.setAlertSeverity(deviceId, worst);
  }
}

/** Most pages `loadOpenAlerts` reads (at the API's page size this is far beyond any real backlog). */
export const MAX_OPEN_ALERT_PAGES = 50;

/** Every open alert of the scope (`GET /api/v1/alerts?open=true`, following `nextCursor`). */
export async function loadOpenAlerts(api: Pick<ApiClient, 'alerts'>): Promise<AlertBody[]> {
  const all: AlertBody[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < MAX_OPEN_ALERT_PAGES; page++) {
    const body: AlertListBody = await api.alerts({ open: true, ...(cursor ? { cursor } : {}) });
    all.push(...body.alerts);
    if (body.nextCursor === null) break;
    cursor = body.nextCursor;
  }
  return all;
}

/**
 * The version to acknowledge `alert` with: the one held when it is current, else the API's
 * (`GET /api/v1/alerts/{id}`) provided the API's alert is the state shown (same `updatedAt`);
 * null when the alert changed since it was shown (the panel says so and shows the new state).
 */
export async function versionOf(
  alert: ConsoleAlert,
  api: Pick<ApiClient, 'alert'>,
  store?: AlertStore,
): Promise<number | null> {
  if (alert.version !== null) return alert.version;
  const detail = await api.alert(alert.id);
  store?.applyBody(detail.alert);
  return Date.parse(detail.alert.updatedAt) === alert.updatedAt ? detail.alert.version : null;
}
