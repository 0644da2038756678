import type { Alert, AlertTransition } from '@ioc/contracts';
import {
  applyTransition,
  emptyGroup,
  flushGroup,
  type GroupState,
  nextDueAt,
  type PolicyTimings,
  subscriptionHolds,
} from './notification-policy';

const T: PolicyTimings = { groupWaitMs: 30_000, groupIntervalMs: 300_000, repeatIntervalMs: 4 * 3600_000 };
const T0 = Date.UTC(2026, 10, 30, 3, 0, 0);

function alert(id: string, over: Partial<Alert> = {}): Alert {
  return {
    id,
    ruleId: 'pm25-high',
    ruleVersion: 1,
    ruleKind: 'threshold',
    subjectKind: 'device',
    subjectId: `dev-${id}`,
    deviceId: `dev-${id}`,
    deviceType: 'air-quality-station',
    domain: 'env',
    areaId: 'hn-hoan-kiem',
    areaPath: ['hn', 'hn-hoan-kiem'],
    metric: 'pm25',
    event: null,
    severity: 'warning',
    state: 'firing',
    value: 80,
    limit: 50,
    unit: 'µg/m³',
    message: { vi: 'PM2.5 cao', en: 'PM2.5 high' },
    pendingAt: T0,
    firingAt: T0,
    acknowledgedAt: null,
    acknowledgedBy: null,
    acknowledgementNote: null,
    resolvedAt: null,
    resolvedBy: null,
    resolution: null,
    updatedAt: T0,
    ...over,
  };
}

function step(a: Alert, kind: AlertTransition['kind']): AlertTransition {
  return {
    alertId: a.id,
    seq: 1,
    at: T0,
    from: null,
    to: a.state,
    kind,
    severity: a.severity,
    value: a.value,
    by: { kind: 'engine' },
    note: null,
    resolution: a.resolution,
  };
}

const none = (): boolean => false;

/** Runs the group forward to `now`, collecting what it sends. */
function at(group: GroupState, now: number, silenced: (a: Alert) => boolean = none) {
  const { group: next, notification } = flushGroup(group, T, now, silenced);
  return { group: next, notification };
}

describe('notification policy', () => {
  it('waits group_wait for the first notification and gathers the group meanwhile', () => {
    let g = applyTransition(emptyGroup(), alert('a'), step(alert('a'), 'fired'), T, T0);
    expect(nextDueAt(g)).toBe(T0 + 30_000);
    g = applyTransition(g, alert('b'), step(alert('b'), 'fired'), T, T0 + 10_000);
    expect(at(g, T0 + 29_999).notification).toBeNull();
    const sent = at(g, T0 + 30_000);
    expect(sent.notification?.type).toBe('alert.firing');
    expect(sent.notification?.alerts.map((x) => x.id)).toEqual(['a', 'b']);
    // Nothing new: nothing sent until the reminder.
    expect(nextDueAt(sent.group)).toBe(T0 + 30_000 + T.repeatIntervalMs);
  });

  it('never notifies a pending alert, nor the resolution of one that never fired', () => {
    const pending = alert('p', { state: 'pending', firingAt: null });
    let g = applyTransition(emptyGroup(), pending, step(pending, 'opened'), T, T0);
    expect(nextDueAt(g)).toBeNull();
    const resolved = alert('p', {
      state: 'resolved',
      firingAt: null,
      resolution: 'not-fired',
      resolvedAt: T0 + 5,
    });
    g = applyTransition(g, resolved, step(resolved, 'resolved'), T, T0 + 5);
    expect(g.alerts).toEqual({});
    expect(nextDueAt(g)).toBeNull();
  });

  it('a later change waits group_interval after the last notification', () => {
    let g = applyTransition(emptyGroup(), alert('a'), step(alert('a'), 'fired'), T, T0);
    g = at(g, T0 + 30_000).group;
    g = applyTransition(g, alert('b'), step(alert('b'), 'fired'), T, T0 + 60_000);
    expect(nextDueAt(g)).toBe(T0 + 30_000 + 300_000);
    expect(at(g, T0 + 329_999).notification).toBeNull();
    const sent = at(g, T0 + 330_000).notification;
    expect(sent?.type).toBe('alert.firing');
    // The whole group: a (already sent) and b (new).
    expect(sent?.alerts.map((x) => x.id)).toEqual(['a', 'b']);
  });

  it('always sends the resolution of an alert notified as firing, even while silenced', () => {
    let g = applyTransition(emptyGroup(), alert('a'), step(alert('a'), 'fired'), T, T0);
    g = at(g, T0 + 30_000).group;
    const resolved = alert('a', { state: 'resolved', resolvedAt: T0 + 60_000, resolution: 'cleared' });
    g = applyTransition(g, resolved, step(resolved, 'resolved'), T, T0 + 60_000);
    const sent = at(g, T0 + 330_000, () => true);
    expect(sent.notification?.type).toBe('alert.resolved');
    expect(sent.notification?.alerts.map((x) => [x.id, x.state])).toEqual([['a', 'resolved']]);
    expect(sent.group.alerts).toEqual({});
    expect(nextDueAt(sent.group)).toBeNull();
  });

  it('a resolution within group_wait cancels the firing: nothing is sent', () => {
    let g = applyTransition(emptyGroup(), alert('a'), step(alert('a'), 'fired'), T, T0);
    const resolved = alert('a', { state: 'resolved', resolvedAt: T0 + 10_000, resolution: 'cleared' });
    g = applyTransition(g, resolved, step(resolved, 'resolved'), T, T0 + 10_000);
    expect(at(g, T0 + 30_000).notification).toBeNull();
  });

  it('repeats a still-firing alert every repeat_interval, not an acknowledged one', () => {
    let g = applyTransition(emptyGroup(), alert('a'), step(alert('a'), 'fired'), T, T0);
    g = applyTransition(g, alert('b'), step(alert('b'), 'fired'), T, T0);
    g = at(g, T0 + 30_000).group;
    const acked = alert('b', { state: 'acknowledged', acknowledgedAt: T0 + 60_000 });
    g = applyTransition(g, acked, step(acked, 'acknowledged'), T, T0 + 60_000);
    expect(nextDueAt(g)).toBe(T0 + 30_000 + T.repeatIntervalMs);
    const first = at(g, T0 + 30_000 + T.repeatIntervalMs);
    expect(first.notification?.type).toBe('alert.reminder');
    expect(first.notification?.alerts.map((x) => x.id)).toEqual(['a']);
    const second = at(first.group, T0 + 30_000 + 2 * T.repeatIntervalMs);
    expect(second.notification?.type).toBe('alert.reminder');
    // Silenced: no reminder, but it stays scheduled.
    const silenced = at(second.group, T0 + 30_000 + 3 * T.repeatIntervalMs, () => true);
    expect(silenced.notification).toBeNull();
    expect(nextDueAt(silenced.group)).toBe(T0 + 30_000 + 4 * T.repeatIntervalMs);
  });

  it('an escalation is news: sent at the next group interval as firing', () => {
    let g = applyTransition(emptyGroup(), alert('a'), step(alert('a'), 'fired'), T, T0);
    g = at(g, T0 + 30_000).group;
    const critical = alert('a', { severity: 'critical', value: 300 });
    g = applyTransition(g, critical, step(critical, 'escalated'), T, T0 + 40_000);
    const sent = at(g, T0 + 330_000).notification;
    expect(sent?.type).toBe('alert.firing');
    expect(sent?.alerts[0]?.severity).toBe('critical');
  });

  it('a firing alert silenced at its flush is not sent, and is sent once the silence has ended', () => {
    let g = applyTransition(emptyGroup(), alert('a'), step(alert('a'), 'fired'), T, T0);
    const held = at(g, T0 + 30_000, () => true);
    expect(held.notification).toBeNull();
    g = held.group;
    expect(nextDueAt(g)).toBe(T0 + 30_000 + T.groupIntervalMs);
    const after = at(g, T0 + 30_000 + T.groupIntervalMs);
    expect(after.notification?.type).toBe('alert.firing');
    // …and one silenced throughout that resolves gets no resolution.
    let s = applyTransition(emptyGroup(), alert('s'), step(alert('s'), 'fired'), T, T0);
    s = at(s, T0 + 30_000, () => true).group;
    const resolved = alert('s', { state: 'resolved', resolution: 'cleared', resolvedAt: T0 + 40_000 });
    s = applyTransition(s, resolved, step(resolved, 'resolved'), T, T0 + 40_000);
    expect(at(s, T0 + 30_000 + T.groupIntervalMs).notification).toBeNull();
  });

  it('hears only alerts in the agency scope and the filters', () => {
    const env = alert('a');
    const filters = { minSeverity: 'warning' as const };
    expect(subscriptionHolds({ domains: ['traffic'] }, filters, env)).toBe(false);
    expect(subscriptionHolds({ domains: ['env'], areas: ['hn'] }, filters, env)).toBe(true);
    expect(subscriptionHolds({ areas: ['hcm'] }, filters, env)).toBe(false);
    expect(subscriptionHolds(null, { minSeverity: 'critical' }, env)).toBe(false);
    expect(subscriptionHolds(null, { minSeverity: 'info', ruleIds: ['other'] }, env)).toBe(false);
    expect(subscriptionHolds(null, { minSeverity: 'info', areaIds: ['hn-hoan-kiem'] }, env)).toBe(true);
    expect(subscriptionHolds(null, { minSeverity: 'info', domains: ['lighting'] }, env)).toBe(false);
    // An area aggregate (no domain) is not heard by an agency restricted to domains.
    expect(subscriptionHolds({ domains: ['env'] }, filters, alert('x', { domain: null }))).toBe(false);
  });
});
