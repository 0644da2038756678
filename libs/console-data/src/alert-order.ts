import type { Alert, Severity } from '@ioc/contracts';

/** What the alert list orders by: the contracts' Alert fields plus the console's fading flag. */
export type OrderedAlert = Pick<Alert, 'id' | 'state' | 'updatedAt'> & { fadingSince: number | null };

/**
 * The group an alert is listed in, most urgent first: 0 firing (not acknowledged), 1 acknowledged,
 * 2 pending (waiting for its `for` duration), 3 resolved (fading out). An alert the console saw
 * resolved (`fadingSince` set) is in group 3 whatever its last state.
 */
export function alertGroupOf(alert: Pick<OrderedAlert, 'state' | 'fadingSince'>): 0 | 1 | 2 | 3 {
  if (alert.fadingSince !== null || alert.state === 'resolved') return 3;
  if (alert.state === 'firing') return 0;
  if (alert.state === 'acknowledged') return 1;
  return 2;
}

/**
 * The alerts panel's order (Array.prototype.sort comparator): by group (alertGroupOf), then newest
 * first by the time of the last transition (`updatedAt`, epoch ms) so what just happened is on
 * top — not by the alert's own `firingAt`/`pendingAt`, which for a windowed rule (an hourly VN_AQI
 * alert) is the start of the hour it covers — then by id for a stable order.
 */
export function compareAlertsForList(a: OrderedAlert, b: OrderedAlert): number {
  return (
    alertGroupOf(a) - alertGroupOf(b) || b.updatedAt - a.updatedAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)
  );
}

/** How long an alert that arrived or changed live is marked new ("Mới"/"New"), ms. */
export const NEW_ALERT_MS = 60_000;

/**
 * Whether an alert is marked new at `now`: it arrived or changed live (not at first paint) at
 * `liveChangedAt` (epoch ms, undefined: never live) less than NEW_ALERT_MS ago.
 */
export function isNewAlert(liveChangedAt: number | undefined, now: number): boolean {
  return liveChangedAt !== undefined && now - liveChangedAt < NEW_ALERT_MS && now >= liveChangedAt;
}

/** Open alerts of one severity: all of them (`open`: pending, firing, acknowledged) and the pending among them. */
export interface SeverityCount {
  open: number;
  pending: number;
}

/**
 * The overview's open alerts by severity: every alert not resolved and not fading counts toward
 * its severity, pending ones included (10 pending warnings read "10 Cảnh báo (10 đang chờ)", not
 * "0"), with the pending ones also counted apart.
 */
export function openAlertCountsBySeverity(
  alerts: Iterable<Pick<Alert, 'severity' | 'state'> & { fadingSince: number | null }>,
): Record<Severity, SeverityCount> {
  const counts: Record<Severity, SeverityCount> = {
    info: { open: 0, pending: 0 },
    warning: { open: 0, pending: 0 },
    critical: { open: 0, pending: 0 },
  };
  for (const alert of alerts) {
    if (alert.fadingSince !== null || alert.state === 'resolved') continue;
    counts[alert.severity].open += 1;
    if (alert.state === 'pending') counts[alert.severity].pending += 1;
  }
  return counts;
}
