import { DeviceStore } from './device-store';
import type { DeviceView } from './device-view';
import { ManualFrameScheduler } from './frame-scheduler';
import { reading, statusEntry, statusList } from './spec-support';

function storeWith(...ids: string[]) {
  const scheduler = new ManualFrameScheduler();
  const store = new DeviceStore({ scheduler });
  const deliveries: Array<{ changed: DeviceView[]; removed: string[] }> = [];
  store.onChange((changed, removed) => deliveries.push({ changed, removed }));
  store.load(statusList(...ids.map((id) => statusEntry(id))));
  scheduler.flush();
  deliveries.length = 0;
  return { scheduler, store, deliveries };
}

describe('DeviceStore', () => {
  it('loads the first paint: every device once, status and latest values as the API gave them', () => {
    const scheduler = new ManualFrameScheduler();
    const store = new DeviceStore({ scheduler });
    const seen: DeviceView[][] = [];
    store.onChange((changed) => seen.push(changed));
    store.load(
      statusList(
        statusEntry('aq-1', { metrics: { aqi: { value: 160, ts: 1, unit: '' } } }),
        statusEntry('aq-2', { status: { status: 'offline', reason: 'silence-timeout' } }),
      ),
    );
    scheduler.flush();
    expect(seen).toHaveLength(1);
    expect(seen[0]!.map((v) => v.id)).toEqual(['aq-1', 'aq-2']);
    expect(store.get('aq-1')!.aqi).toEqual({ value: 160, band: 'bad' });
    expect(store.get('aq-2')!.status).toBe('offline');
    expect(store.size).toBe(2);
  });

  it('coalesces 5,000 readings into one delivery per frame with each device’s newest view', () => {
    const { scheduler, store, deliveries } = storeWith('aq-1', 'aq-2', 'aq-3');
    const t = Date.UTC(2026, 10, 30, 8);
    for (let i = 0; i < 5000; i++) store.applyReading(reading(`aq-${(i % 3) + 1}`, t + i, { pm25: i }));
    expect(deliveries).toHaveLength(0);
    scheduler.flush();
    expect(deliveries).toHaveLength(1);
    expect(deliveries[0]!.changed).toHaveLength(3);
    expect(store.get('aq-2')!.latest['pm25']).toEqual({ value: 4999, ts: t + 4999, unit: 'µg/m³' });
    expect(store.counters.readings).toBe(5000);
    scheduler.flush();
    expect(deliveries).toHaveLength(1);
  });

  it('takes units from the metric catalogue and keeps a newer value over an older reading', () => {
    const { scheduler, store } = storeWith('aq-1');
    store.applyReading(reading('aq-1', 2000, { temperature: 31.5, relativeHumidity: 0.7 }));
    store.applyReading(reading('aq-1', 1000, { temperature: 20 }));
    scheduler.flush();
    const view = store.get('aq-1')!;
    expect(view.latest['temperature']).toEqual({ value: 31.5, ts: 2000, unit: '°C' });
    expect(view.latest['relativeHumidity']!.unit).toBe('');
    expect(view.areaPath).toEqual(['tay-ninh', 'tan-ninh']);
  });

  it('applies live statuses and keeps alert severities across a reload', () => {
    const { scheduler, store, deliveries } = storeWith('aq-1', 'aq-2');
    store.setAlertSeverity('aq-1', 'critical');
    store.applyStatus({
      deviceId: 'aq-2',
      status: 'offline',
      reason: 'connection-lost',
      since: '2026-11-30T08:00:00.000Z',
      clockSuspect: true,
    });
    scheduler.flush();
    expect(deliveries[0]!.changed.map((v) => v.id).sort()).toEqual(['aq-1', 'aq-2']);
    expect(store.get('aq-2')).toMatchObject({
      status: 'offline',
      statusSince: Date.parse('2026-11-30T08:00:00.000Z'),
      clockSuspect: true,
    });
    store.load(statusList(statusEntry('aq-1')));
    scheduler.flush();
    expect(store.get('aq-1')!.alertSeverity).toBe('critical');
    expect(deliveries[1]!.removed).toEqual(['aq-2']);
    store.setAlertSeverity('aq-1', null);
    expect(store.get('aq-1')!.alertSeverity).toBeNull();
  });

  it('a reading of an unknown (newly provisioned) device asks for one debounced reload that brings it', async () => {
    const scheduler = new ManualFrameScheduler();
    let reloads = 0;
    let reloaded!: () => void;
    const done = new Promise<void>((resolve) => (reloaded = resolve));
    const store: DeviceStore = new DeviceStore({
      scheduler,
      reloadDebounceMs: 20,
      reload: async () => {
        reloads += 1;
        store.load(statusList(statusEntry('aq-1'), statusEntry('aq-new')));
        reloaded();
      },
    });
    store.load(statusList(statusEntry('aq-1')));
    expect(store.applyReading(reading('aq-new', 1, { pm25: 5 }))).toBe(false);
    expect(store.applyReading(reading('aq-new', 2, { pm25: 6 }))).toBe(false);
    store.applyStatus({
      deviceId: 'aq-other',
      status: 'online',
      reason: 'connected',
      since: null,
      clockSuspect: false,
    });
    await done;
    expect(reloads).toBe(1);
    expect(store.get('aq-new')).toBeDefined();
    expect(store.counters).toMatchObject({ readings: 2, unknownDeviceReadings: 2, unknownDeviceReloads: 1 });
    // aq-other was not in the reload: it asks no second reload.
    store.applyStatus({
      deviceId: 'aq-other',
      status: 'online',
      reason: 'connected',
      since: null,
      clockSuspect: false,
    });
    expect(store.counters.unknownDeviceReloads).toBe(1);
    store.destroy();
  });

  it('never mutates a view it has handed out: get() and deliveries see a snapshot, later readings make a new view', () => {
    const { scheduler, store, deliveries } = storeWith('aq-1');
    const t = Date.UTC(2026, 10, 30, 8);
    store.applyReading(reading('aq-1', t, { pm25: 10 }));
    const seen = store.get('aq-1')!;
    store.applyReading(reading('aq-1', t + 1, { pm25: 11, pm10: 20 }));
    expect(seen.latest['pm25']!.value).toBe(10);
    expect(seen.latest['pm10']).toBeUndefined();
    scheduler.flush();
    const delivered = deliveries[0]!.changed[0]!;
    expect(delivered.latest['pm25']!.value).toBe(11);
    expect(delivered.latest['pm10']!.value).toBe(20);
    store.applyReading(reading('aq-1', t + 2, { pm25: 12 }));
    expect(delivered.latest['pm25']!.value).toBe(11);
    expect(delivered.lastSeen).toBe(t + 1);
    expect(store.get('aq-1')).not.toBe(delivered);
    expect(store.get('aq-1')!.latest['pm25']!.value).toBe(12);
  });

  it('copies a device once per frame however many readings it gets (later readings of the frame update the same draft)', () => {
    const { scheduler, store, deliveries } = storeWith('aq-1');
    const t = Date.UTC(2026, 10, 30, 8);
    const all0 = store.all()[0]!;
    for (let i = 0; i < 100; i++) store.applyReading(reading('aq-1', t + i, { pm25: i }));
    scheduler.flush();
    const delivered = deliveries[0]!.changed[0]!;
    expect(delivered).not.toBe(all0);
    expect(all0.latest['pm25']).toBeUndefined();
    expect(delivered.latest['pm25']!.value).toBe(99);
    expect(store.get('aq-1')).toBe(delivered);
    // An older reading changes nothing and asks for no frame.
    store.applyReading(reading('aq-1', t, { pm25: -1 }));
    scheduler.flush();
    expect(deliveries).toHaveLength(1);
  });
});
