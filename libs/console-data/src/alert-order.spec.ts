import { AlertStore, alertFromBody } from './alert-store';
import {
  NEW_ALERT_MS,
  alertGroupOf,
  compareAlertsForList,
  isNewAlert,
  openAlertCountsBySeverity,
} from './alert-order';
import { ManualFrameScheduler } from './frame-scheduler';
import { T0, alertBody, alertEvent } from './spec-support';

const iso = (ms: number) => new Date(ms).toISOString();
const HOUR = 3_600_000;

describe('alert list order', () => {
  it('puts a critical alert that just fired above older pending warnings, though its own time is the hour it covers', () => {
    const store = new AlertStore({ scheduler: new ManualFrameScheduler() });
    // 10 pending warnings opened over the last minutes (their pendingAt is later than the hour start).
    const warnings = Array.from({ length: 10 }, (_, i) =>
      alertBody(`w-${i}`, {
        severity: 'warning',
        state: 'pending',
        firingAt: null,
        pendingAt: iso(T0 + HOUR - 600_000 + i * 1000),
        updatedAt: iso(T0 + HOUR - 600_000 + i * 1000),
      }),
    );
    const acknowledged = alertBody('ack-1', {
      state: 'acknowledged',
      acknowledgedAt: iso(T0 + HOUR - 300_000),
      updatedAt: iso(T0 + HOUR - 300_000),
    });
    const olderFiring = alertBody('f-old', { updatedAt: iso(T0 + HOUR - 900_000) });
    store.load([...warnings, acknowledged, olderFiring]);
    // The hourly VN_AQI alert for the hour that just closed: stamped with that hour's start.
    const critical = alertBody('aqi-critical', {
      severity: 'critical',
      pendingAt: iso(T0),
      firingAt: iso(T0),
      updatedAt: iso(T0 + HOUR + 5_000),
    });
    store.applyEvent(alertEvent(critical));
    const ids = store.list().map((a) => a.id);
    expect(ids.slice(0, 3)).toEqual(['aqi-critical', 'f-old', 'ack-1']);
    expect(ids.slice(3)).toEqual(warnings.map((w) => w.id).reverse());
    store.destroy();
  });

  it('lists fading resolved alerts last, newest transition first', () => {
    const base = alertFromBody(alertBody('x'));
    const fading = { ...base, id: 'gone', state: 'resolved' as const, fadingSince: T0, updatedAt: T0 + 9e6 };
    const pending = { ...base, id: 'p', state: 'pending' as const, updatedAt: T0 };
    const ackd = { ...base, id: 'a', state: 'acknowledged' as const, updatedAt: T0 };
    const firing = { ...base, id: 'f', updatedAt: T0 };
    const sorted = [fading, pending, ackd, firing].sort(compareAlertsForList).map((a) => a.id);
    expect(sorted).toEqual(['f', 'a', 'p', 'gone']);
    expect(alertGroupOf({ state: 'firing', fadingSince: T0 })).toBe(3);
  });

  it('marks an alert new for NEW_ALERT_MS after it arrived or changed live', () => {
    expect(isNewAlert(undefined, T0)).toBe(false);
    expect(isNewAlert(T0, T0)).toBe(true);
    expect(isNewAlert(T0, T0 + NEW_ALERT_MS - 1)).toBe(true);
    expect(isNewAlert(T0, T0 + NEW_ALERT_MS)).toBe(false);
  });
});

describe('openAlertCountsBySeverity', () => {
  it('counts pending alerts under their severity too, and apart', () => {
    const store = new AlertStore({ scheduler: new ManualFrameScheduler() });
    store.load([
      ...Array.from({ length: 10 }, (_, i) =>
        alertBody(`w-${i}`, { severity: 'warning', state: 'pending', firingAt: null }),
      ),
      alertBody('c-1', { severity: 'critical' }),
      alertBody('c-2', { severity: 'critical', state: 'acknowledged' }),
      alertBody('gone', { severity: 'info', state: 'resolved' }),
    ]);
    expect(openAlertCountsBySeverity(store.list())).toEqual({
      info: { open: 0, pending: 0 },
      warning: { open: 10, pending: 10 },
      critical: { open: 2, pending: 0 },
    });
    store.destroy();
  });
});
