import type { CommandRecordBody, LiveEndedNotice } from '@ioc/contracts';
import { AlertStore } from './alert-store';
import { DeviceStore } from './device-store';
import { ManualFrameScheduler } from './frame-scheduler';
import { LiveFeed, type LiveConnectionState } from './live-feed';
import { alertBody, alertEvent, reading, statusEntry, statusList } from './spec-support';

/**
 * LiveFeed's routing with the real stores behind it. The transport (socket.io) is not imitated
 * here: `subscribe` and `reload` are the feed's own dependency interface, and the socket binding
 * (startLiveFeed) is covered by the browser tests against a real platform.
 */
function setup(subscribe: () => Promise<unknown> = async () => ['domain:env']) {
  const scheduler = new ManualFrameScheduler();
  const devices = new DeviceStore({ scheduler });
  devices.load(statusList(statusEntry('aq-1')));
  const alerts = new AlertStore({ scheduler, devices });
  const calls: string[] = [];
  const ended: LiveEndedNotice[] = [];
  const states: LiveConnectionState[] = [];
  const feed = new LiveFeed({
    devices,
    alerts,
    subscribe: async () => {
      calls.push('subscribe');
      return subscribe();
    },
    reload: async () => {
      calls.push('reload');
    },
    onEnded: (notice) => ended.push(notice),
    retryMs: 10,
  });
  feed.onState((state) => states.push(state));
  return { scheduler, devices, alerts, feed, calls, ended, states };
}

describe('LiveFeed', () => {
  it('subscribes on the first connection without reloading, and reloads after each reconnect', async () => {
    const { feed, calls, states } = setup();
    expect(feed.state).toBe('connecting');
    await feed.connected();
    expect(calls).toEqual(['subscribe']);
    feed.disconnected();
    expect(feed.state).toBe('reconnecting');
    await feed.connected();
    expect(calls).toEqual(['subscribe', 'subscribe', 'reload']);
    expect(states).toEqual(['connected', 'reconnecting', 'connected']);
    expect(feed.reloads).toBe(1);
  });

  it('routes readings and statuses to the device store, alerts to the alert store, commands to listeners', async () => {
    const { feed, devices, alerts } = setup();
    await feed.connected();
    feed.reading(reading('aq-1', 5, { pm25: 42 }));
    feed.deviceStatus({
      deviceId: 'aq-1',
      status: 'offline',
      reason: 'connection-lost',
      since: null,
      clockSuspect: false,
    });
    feed.alert(alertEvent(alertBody('a1', { severity: 'critical' })));
    const commands: CommandRecordBody[] = [];
    feed.onCommand((command) => commands.push(command));
    const tapped: string[] = [];
    feed.onReading((r) => tapped.push(`reading:${r.deviceId}`));
    feed.onAlert((e) => tapped.push(`alert:${e.alert.id}`));
    feed.reading(reading('aq-1', 6, { pm10: 10 }));
    feed.alert(alertEvent(alertBody('a2')));
    expect(tapped).toEqual(['reading:aq-1', 'alert:a2']);
    const command = { id: 'c1', deviceId: 'aq-1', state: 'acknowledged' } as unknown as CommandRecordBody;
    feed.command(command);
    expect(devices.get('aq-1')).toMatchObject({ status: 'offline', alertSeverity: 'critical' });
    expect(devices.get('aq-1')!.latest['pm25']!.value).toBe(42);
    expect(alerts.get('a1')!.severity).toBe('critical');
    expect(commands).toEqual([command]);
  });

  it('retries a refused subscribe while connected, and gives up on it when the socket drops', async () => {
    let refusals = 1;
    const { feed, calls } = setup(async () => {
      if (refusals-- > 0) throw new Error('timeout');
      return [];
    });
    await feed.connected();
    expect(feed.state).toBe('connecting');
    const deadline = Date.now() + 2000;
    while (feed.state !== 'connected' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    expect(feed.state).toBe('connected');
    // The retry counts as the first connection: no gap-filling reload.
    expect(calls).toEqual(['subscribe', 'subscribe']);
  });

  it('on ended: tells the page once, with the reason, and routes nothing more', async () => {
    const { feed, devices, ended, scheduler } = setup();
    await feed.connected();
    feed.ended({ reason: 'session-ended', message: 'logged out elsewhere' });
    feed.ended({ reason: 'logout', message: 'again' });
    feed.reading(reading('aq-1', 9, { pm25: 99 }));
    feed.disconnected();
    await feed.connected();
    scheduler.flush();
    expect(ended).toEqual([{ reason: 'session-ended', message: 'logged out elsewhere' }]);
    expect(feed.state).toBe('ended');
    expect(devices.get('aq-1')!.latest['pm25']).toBeUndefined();
  });
});
