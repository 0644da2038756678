import type { AlertDetailBody, AlertListBody } from '@ioc/contracts';
import { AlertStore, FADE_OUT_MS, loadOpenAlerts, versionOf, type ConsoleAlert } from './alert-store';
import { DeviceStore } from './device-store';
import { ManualFrameScheduler } from './frame-scheduler';
import { T0, alertBody, alertEvent, statusEntry, statusList } from './spec-support';

const created: AlertStore[] = [];

function setup() {
  const scheduler = new ManualFrameScheduler();
  const devices = new DeviceStore({ scheduler });
  devices.load(statusList(statusEntry('aq-1'), statusEntry('aq-2')));
  const alerts = new AlertStore({ scheduler, devices });
  created.push(alerts);
  const deliveries: ConsoleAlert[][] = [];
  alerts.onChange((changed) => deliveries.push(changed));
  return { scheduler, devices, alerts, deliveries };
}

afterEach(() => {
  for (const store of created.splice(0)) store.destroy();
  jest.useRealTimers();
});

describe('AlertStore', () => {
  it('normalises REST (ISO times, version) and live (epoch ms) alerts to one shape, firing before pending', () => {
    const { alerts } = setup();
    alerts.load([
      alertBody('a-old'),
      alertBody('a-new', {
        firingAt: new Date(T0 + 120_000).toISOString(),
        updatedAt: new Date(T0 + 120_000).toISOString(),
      }),
    ]);
    const live = alertBody('a-live', {
      state: 'pending',
      firingAt: null,
      pendingAt: new Date(T0 + 90_000).toISOString(),
      updatedAt: new Date(T0 + 90_000).toISOString(),
    });
    alerts.applyEvent(alertEvent(live));
    expect(alerts.list().map((a) => a.id)).toEqual(['a-new', 'a-old', 'a-live']);
    const rest = alerts.get('a-old')!;
    expect(rest.firingAt).toBe(T0 + 60_000);
    expect(rest.pendingAt).toBe(T0);
    expect(rest.version).toBe(2);
    expect(alerts.get('a-live')!.version).toBeNull();
    expect(alerts.get('a-live')!.pendingAt).toBe(T0 + 90_000);
  });

  it('pushes each device’s worst firing-or-acknowledged severity into the device store (pending excluded)', () => {
    const { alerts, devices } = setup();
    alerts.load([alertBody('w', { severity: 'warning' })]);
    expect(devices.get('aq-1')!.alertSeverity).toBe('warning');
    alerts.applyEvent(alertEvent(alertBody('c', { severity: 'critical', state: 'pending', firingAt: null })));
    expect(devices.get('aq-1')!.alertSeverity).toBe('warning');
    alerts.applyEvent(
      alertEvent(alertBody('c', { severity: 'critical', updatedAt: new Date(T0 + 70_000).toISOString() })),
    );
    expect(devices.get('aq-1')!.alertSeverity).toBe('critical');
    expect(alerts.counts()).toEqual({ info: 0, warning: 1, critical: 1, pending: 0 });
    alerts.applyEvent(
      alertEvent(
        alertBody('c', {
          severity: 'critical',
          state: 'resolved',
          resolvedAt: new Date(T0 + 80_000).toISOString(),
          updatedAt: new Date(T0 + 80_000).toISOString(),
        }),
      ),
    );
    expect(devices.get('aq-1')!.alertSeverity).toBe('warning');
    expect(alerts.counts().critical).toBe(0);
  });

  it('keeps a resolved alert fading for 60 s, then it leaves', () => {
    jest.useFakeTimers({ now: T0 + 200_000 });
    const { alerts, scheduler, deliveries } = setup();
    alerts.load([alertBody('a1')]);
    scheduler.flush();
    alerts.applyEvent(
      alertEvent(
        alertBody('a1', {
          state: 'resolved',
          resolvedAt: new Date(T0 + 100_000).toISOString(),
          updatedAt: new Date(T0 + 100_000).toISOString(),
        }),
      ),
    );
    scheduler.flush();
    expect(alerts.get('a1')!.fadingSince).toBe(T0 + 200_000);
    expect(deliveries.at(-1)!.map((a) => a.state)).toEqual(['resolved']);
    jest.advanceTimersByTime(FADE_OUT_MS - 1);
    expect(alerts.get('a1')).toBeDefined();
    jest.advanceTimersByTime(1);
    expect(alerts.get('a1')).toBeUndefined();
    expect(alerts.list()).toEqual([]);
    scheduler.flush();
    expect(deliveries).toHaveLength(3);
  });

  it('ignores an older state than the one held, and the resolution of an alert it never showed', () => {
    const { alerts } = setup();
    alerts.load([alertBody('a1', { state: 'acknowledged', updatedAt: new Date(T0 + 90_000).toISOString() })]);
    alerts.applyEvent(alertEvent(alertBody('a1')));
    expect(alerts.get('a1')!.state).toBe('acknowledged');
    alerts.applyEvent(alertEvent(alertBody('ghost', { state: 'resolved' })));
    expect(alerts.get('ghost')).toBeUndefined();
  });

  it('a reload fills the gap: alerts resolved while disconnected start fading, new ones appear', () => {
    const { alerts } = setup();
    alerts.load([alertBody('gone'), alertBody('kept')]);
    alerts.load([alertBody('kept'), alertBody('new', { deviceId: 'aq-2', subjectId: 'aq-2' })]);
    expect(alerts.get('gone')!.state).toBe('resolved');
    expect(alerts.get('gone')!.fadingSince).not.toBeNull();
    expect(alerts.get('new')).toBeDefined();
    expect(alerts.counts().warning).toBe(2);
    alerts.destroy();
  });

  it('coalesces changes to one delivery per frame', () => {
    const { alerts, scheduler, deliveries } = setup();
    for (let i = 0; i < 100; i++) alerts.applyEvent(alertEvent(alertBody(`a${i % 10}`)));
    scheduler.flush();
    expect(deliveries).toHaveLength(1);
    expect(deliveries[0]).toHaveLength(10);
  });
});

describe('loadOpenAlerts', () => {
  it('follows nextCursor until the last page', async () => {
    const asked: Array<string | undefined> = [];
    const pages: Record<string, AlertListBody> = {
      first: { alerts: [alertBody('a1')], nextCursor: 'c2' },
      c2: { alerts: [alertBody('a2')], nextCursor: null },
    };
    const all = await loadOpenAlerts({
      alerts: async (query = {}) => {
        asked.push(query.cursor);
        expect(query.open).toBe(true);
        return pages[query.cursor ?? 'first']!;
      },
    });
    expect(all.map((a) => a.id)).toEqual(['a1', 'a2']);
    expect(asked).toEqual([undefined, 'c2']);
  });
});

describe('versionOf', () => {
  const detail = (over = {}): AlertDetailBody => ({
    alert: alertBody('a1', { version: 5, ...over }),
    transitions: [],
  });

  it('uses the version held when the shown state came from REST', async () => {
    const { alerts } = setup();
    alerts.load([alertBody('a1')]);
    const api = {
      alert: async (): Promise<AlertDetailBody> => {
        throw new Error('the API is not asked');
      },
    };
    expect(await versionOf(alerts.get('a1')!, api)).toBe(2);
  });

  it('asks the API after a live change, and gives its version only when it is the state shown', async () => {
    const { alerts } = setup();
    alerts.applyEvent(alertEvent(alertBody('a1')));
    const shown = alerts.get('a1')!;
    expect(await versionOf(shown, { alert: async () => detail() }, alerts)).toBe(5);
    expect(alerts.get('a1')!.version).toBe(5);
    const moved = detail({ state: 'acknowledged', updatedAt: new Date(T0 + 99_000).toISOString() });
    expect(await versionOf(shown, { alert: async () => moved })).toBeNull();
  });
});
