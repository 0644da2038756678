import {
  type AccessScope,
  type Alert,
  type AlertTransition,
  type NotificationType,
  scopeHoldsArea,
  severityAtLeast,
  type SubscriptionFilters,
} from '@ioc/contracts';

/**
 * The notification policy, after Alertmanager's (route `group_by`, `group_wait`, `group_interval`,
 * `repeat_interval`; https://prometheus.io/docs/alerting/latest/configuration/#route): pure — state
 * in, state out, the clock passed in — so the planner can persist it and tests can move time.
 *
 * - Alerts group by subscription and `groupKey` = rule + area (groupKeyOf).
 * - A group's first notification waits `groupWait` after its first firing alert (more alerts of
 *   the group arriving meanwhile go in the same notification); later changes (a new firing alert,
 *   an escalation, a resolution) wait until `groupInterval` after the group's last notification.
 * - A notification carries the whole group: its firing alerts and the resolutions being announced.
 * - An alert still firing (not acknowledged) is repeated every `repeatInterval` after the last
 *   notification that carried it (`alert.reminder`). Acknowledged alerts are not repeated.
 * - Pending alerts are never notified.
 * - Resolutions: sent for every alert this subscription was notified of as firing — always, even
 *   while a silence matches it (the receiver must not be left with an alert it believes open).
 *   An alert never notified as firing (it resolved while pending, during group wait, or while
 *   silenced) gets no resolution either: Alertmanager's dedup stage does the same (a resolved-only
 *   group with no notification log entry is not sent).
 * - Silences suppress firing notifications and reminders of the alerts they match (not their
 *   state); a firing alert silenced at its flush is looked at again every `groupInterval`, and is
 *   notified when the silence has ended and it still fires.
 */

/** Durations of one subscription's policy, milliseconds. */
export interface PolicyTimings {
  groupWaitMs: number;
  groupIntervalMs: number;
  repeatIntervalMs: number;
}

/** One alert as a group holds it. */
export interface GroupedAlert {
  /** The alert as of the last transition the policy saw. */
  alert: Alert;
  /** Whether this subscription has been sent it as firing (and not yet its resolution). */
  notifiedFiring: boolean;
  /** It changed since the last notification that carried it (new, escalated, resolved). */
  changed: boolean;
}

/** A group's persisted state (notification_groups.state). */
export interface GroupState {
  alerts: Record<string, GroupedAlert>;
  /** When the pending changes are flushed, or null: none pending. */
  flushAt: number | null;
  /** When the group last sent a notification, or null: never. */
  lastNotifiedAt: number | null;
  /** When the firing alerts are next repeated, or null. */
  reminderAt: number | null;
}

/** What a flush sends. */
export interface PlannedNotification {
  type: Exclude<NotificationType, 'ping'>;
  /** Firing ones first (by firing time), then resolved ones. */
  alerts: Alert[];
}

/** `{ruleId}|{areaId}`: alerts of one rule in one area go together. */
export function groupKeyOf(alert: Alert): string {
  return `${alert.ruleId}|${alert.areaId}`;
}

export function emptyGroup(): GroupState {
  return { alerts: {}, flushAt: null, lastNotifiedAt: null, reminderAt: null };
}

/** When the group must next be looked at, or null (nothing to do until a transition). */
export function nextDueAt(group: GroupState): number | null {
  const times = [group.flushAt, group.reminderAt].filter((t): t is number => t !== null);
  return times.length === 0 ? null : Math.min(...times);
}

/** Whether the group holds nothing worth keeping (its row can go). */
export function isIdle(group: GroupState): boolean {
  return Object.keys(group.alerts).length === 0 && group.flushAt === null;
}

/**
 * Whether `alert` is one the subscription hears: inside the agency's scope (domains × area
 * subtrees; an alert without a domain — an area aggregate — passes a domain restriction only
 * when it has none) AND every filter given (domains, areaIds subtrees, ruleIds, minSeverity).
 */
export function subscriptionHolds(
  scope: AccessScope | null,
  filters: SubscriptionFilters,
  alert: Pick<Alert, 'domain' | 'areaPath' | 'ruleId' | 'severity'>,
): boolean {
  if (scope?.domains && (alert.domain === null || !scope.domains.includes(alert.domain))) return false;
  if (!scopeHoldsArea(scope, alert.areaPath)) return false;
  if (filters.domains && (alert.domain === null || !filters.domains.includes(alert.domain))) return false;
  if (filters.areaIds && !filters.areaIds.some((area) => alert.areaPath.includes(area))) return false;
  if (filters.ruleIds && !filters.ruleIds.includes(alert.ruleId)) return false;
  return severityAtLeast(alert.severity, filters.minSeverity);
}

/** A subscription filter value that can never match inside the agency's scope. */
export interface SubscriptionScopeIssue {
  /** `filters.domains` or `filters.areaIds`. */
  field: 'filters.domains' | 'filters.areaIds';
  message: string;
}

/**
 * Which filter values of a subscription could never match an alert inside the agency's `scope`
 * (null: the whole province): a domain the scope does not hold, an area that does not exist
 * (`areaPathOf` answers undefined) or whose subtree neither lies inside nor holds any area of the
 * scope (an area wider than the scope is fine: subscriptionHolds intersects it with the scope).
 * Empty when every value can match. `areaPathOf(id)` is the area's path, root first, itself last.
 */
export function subscriptionScopeIssues(
  scope: AccessScope | null,
  filters: Pick<SubscriptionFilters, 'domains' | 'areaIds'>,
  areaPathOf: (areaId: string) => readonly string[] | undefined,
): SubscriptionScopeIssue[] {
  const issues: SubscriptionScopeIssue[] = [];
  const domains = scope?.domains;
  const outsideDomains = domains ? (filters.domains ?? []).filter((d) => !domains.includes(d)) : [];
  if (outsideDomains.length > 0) {
    issues.push({
      field: 'filters.domains',
      message: `domain(s) ${outsideDomains.map((d) => `"${d}"`).join(', ')} lie outside the agency's scope (domains ${domains?.map((d) => `"${d}"`).join(', ')}): the subscription could never match`,
    });
  }
  const unknown: string[] = [];
  const outside: string[] = [];
  for (const area of filters.areaIds ?? []) {
    const path = areaPathOf(area);
    if (path === undefined) unknown.push(area);
    else if (
      scope?.areas !== undefined &&
      scope !== null &&
      !scopeHoldsArea(scope, path) &&
      !scope.areas.some((a) => areaPathOf(a)?.includes(area))
    )
      outside.push(area);
  }
  if (unknown.length > 0) {
    issues.push({
      field: 'filters.areaIds',
      message: `area(s) ${unknown.map((a) => `"${a}"`).join(', ')} do not exist`,
    });
  }
  if (outside.length > 0) {
    issues.push({
      field: 'filters.areaIds',
      message: `area(s) ${outside.map((a) => `"${a}"`).join(', ')} lie outside the agency's scope (areas ${scope?.areas?.map((a) => `"${a}"`).join(', ')}): the subscription could never match`,
    });
  }
  return issues;
}

/**
 * Applies one committed transition of an alert the subscription hears (or holds already) to its
 * group. `now` is the policy's clock (when the notifier saw it), which times the group.
 * @returns the new state (the input is not changed)
 */
export function applyTransition(
  input: GroupState,
  alert: Alert,
  transition: AlertTransition,
  timings: PolicyTimings,
  now: number,
): GroupState {
  const group = cloneGroup(input);
  const held = group.alerts[alert.id];
  switch (transition.kind) {
    case 'opened':
      // Pending: never notified (a `for` rule may still not fire).
      return group;
    case 'fired':
    case 'escalated':
      group.alerts[alert.id] = { alert, notifiedFiring: held?.notifiedFiring ?? false, changed: true };
      schedule(group, timings, now);
      return group;
    case 'acknowledged':
      // Acknowledging is no news for receivers; it stops reminders.
      if (held) group.alerts[alert.id] = { ...held, alert };
      return group;
    case 'resolved':
      if (held?.notifiedFiring) {
        group.alerts[alert.id] = { alert, notifiedFiring: true, changed: true };
        schedule(group, timings, now);
      } else {
        delete group.alerts[alert.id];
      }
      return group;
  }
}

/**
 * Looks at a group at `now`: flushes pending changes when `flushAt` has come, else repeats
 * still-firing alerts when `reminderAt` has come. `silenced` tells whether a silence matches an
 * alert now.
 * @returns the new state and the notification to send, if any
 */
export function flushGroup(
  input: GroupState,
  timings: PolicyTimings,
  now: number,
  silenced: (alert: Alert) => boolean,
): { group: GroupState; notification: PlannedNotification | null } {
  const group = cloneGroup(input);
  const entries = Object.values(group.alerts);
  const isFiring = (g: GroupedAlert): boolean =>
    g.alert.state === 'firing' || g.alert.state === 'acknowledged';
  if (group.flushAt !== null && now >= group.flushAt) {
    group.flushAt = null;
    const firing = entries.filter((g) => isFiring(g) && !silenced(g.alert));
    const resolving = entries.filter((g) => g.alert.state === 'resolved' && g.notifiedFiring);
    const news = [...firing.filter((g) => !g.notifiedFiring || g.changed), ...resolving];
    // Firing but silenced and never sent: look again once the silence may have ended.
    if (entries.some((g) => isFiring(g) && !g.notifiedFiring && silenced(g.alert)))
      group.flushAt = now + Math.max(timings.groupIntervalMs, 1000);
    if (news.length > 0) {
      for (const g of firing) group.alerts[g.alert.id] = { ...g, notifiedFiring: true, changed: false };
      for (const g of resolving) delete group.alerts[g.alert.id];
      for (const g of entries)
        if (g.alert.state === 'resolved' && !g.notifiedFiring) delete group.alerts[g.alert.id];
      group.lastNotifiedAt = now;
      group.reminderAt =
        firing.length > 0 ? now + timings.repeatIntervalMs : reminderOrNull(group, now, timings);
      return {
        group,
        notification: {
          type: firing.some((g) => !g.notifiedFiring || g.changed) ? 'alert.firing' : 'alert.resolved',
          alerts: [...sortByFiring(firing.map((g) => g.alert)), ...resolving.map((g) => g.alert)],
        },
      };
    }
  }
  if (group.reminderAt !== null && now >= group.reminderAt) {
    const due = Object.values(group.alerts).filter(
      (g) => g.alert.state === 'firing' && g.notifiedFiring && !silenced(g.alert),
    );
    group.reminderAt = reminderOrNull(group, now, timings);
    if (due.length > 0) {
      group.lastNotifiedAt = now;
      return {
        group,
        notification: { type: 'alert.reminder', alerts: sortByFiring(due.map((g) => g.alert)) },
      };
    }
  }
  return { group, notification: null };
}

/** The next reminder while the group holds notified firing alerts (acknowledged ones may resolve later). */
function reminderOrNull(group: GroupState, now: number, timings: PolicyTimings): number | null {
  return Object.values(group.alerts).some((g) => g.notifiedFiring && g.alert.state !== 'resolved')
    ? now + timings.repeatIntervalMs
    : null;
}

function schedule(group: GroupState, timings: PolicyTimings, now: number): void {
  if (group.flushAt !== null) return;
  group.flushAt =
    group.lastNotifiedAt === null
      ? now + timings.groupWaitMs
      : Math.max(now, group.lastNotifiedAt + timings.groupIntervalMs);
}

function sortByFiring(alerts: Alert[]): Alert[] {
  return [...alerts].sort((a, b) => (a.firingAt ?? 0) - (b.firingAt ?? 0) || a.id.localeCompare(b.id));
}

function cloneGroup(group: GroupState): GroupState {
  return { ...group, alerts: { ...group.alerts } };
}
