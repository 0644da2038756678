import { deviceViewFromStatus, type DeviceView } from '@ioc/console-data';
import { differsVisibly, toMapDevice, worstState } from './map-device';
import { mapDevice } from './test-devices';

function view(overrides: Partial<DeviceView> = {}): DeviceView {
  return {
    ...deviceViewFromStatus({
      id: 'aq-1',
      name: 'Trạm Hòa Thành',
      type: 'air-quality-station',
      domain: 'env',
      areaId: 'ht-1',
      location: { lat: 11.28, lon: 106.13 },
      state: 'active',
      status: { status: 'online', since: '2026-11-30T01:00:00.000Z', clockSuspect: false, lastSeen: '2026-11-30T02:00:00.000Z' },
      metrics: {
        pm25: { value: 31.5, ts: 1, unit: 'µg/m³' },
        aqi: { value: 72, ts: 1, unit: '' },
      },
    } as Parameters<typeof deviceViewFromStatus>[0]),
    ...overrides,
  };
}

describe('toMapDevice', () => {
  it('copies position, kind, area and AQI; state by markerStateOf; the AQI as main value', () => {
    const device = toMapDevice(view());
    expect(device).toEqual({
      id: 'aq-1',
      name: 'Trạm Hòa Thành',
      domain: 'env',
      type: 'air-quality-station',
      lat: 11.28,
      lon: 106.13,
      areaPath: [],
      areaId: 'ht-1',
      state: 'online',
      aqi: { value: 72, band: 'moderate' },
      alertSeverity: null,
      main: { metric: 'aqi', value: 72, unit: '' },
    });
  });

  it('an open alert makes the marker alerting; a suspended device is inactive whatever its alerts', () => {
    expect(toMapDevice(view({ alertSeverity: 'warning' })).state).toBe('alerting');
    expect(toMapDevice(view({ status: 'offline' })).state).toBe('offline');
    expect(toMapDevice(view({ state: 'suspended', alertSeverity: 'critical' })).state).toBe('inactive');
  });

  it('picks the first main metric the device reported, none when it reported none', () => {
    const light = view({ type: 'street-light', domain: 'lighting', aqi: null, latest: { on: { value: true, ts: 1, unit: '' } } });
    expect(toMapDevice(light).main).toEqual({ metric: 'on', value: true, unit: '' });
    expect(toMapDevice(view({ latest: {} })).main).toBeNull();
  });
});

describe('worstState', () => {
  it('ranks alerting > offline > unknown > online > inactive', () => {
    expect(worstState(['online', 'inactive'])).toBe('online');
    expect(worstState(['online', 'unknown', 'inactive'])).toBe('unknown');
    expect(worstState(['unknown', 'offline', 'online'])).toBe('offline');
    expect(worstState(['inactive', 'offline', 'alerting', 'online'])).toBe('alerting');
    expect(worstState(['inactive'])).toBe('inactive');
    expect(worstState([])).toBeNull();
  });
});

describe('differsVisibly', () => {
  const base = mapDevice({ id: 'x' });
  it('sees state, severity, AQI, name and main value changes, not a same-looking copy', () => {
    expect(differsVisibly(base, { ...base })).toBe(false);
    expect(differsVisibly(base, { ...base, lat: 12 })).toBe(false);
    expect(differsVisibly(base, { ...base, state: 'offline' })).toBe(true);
    expect(differsVisibly(base, { ...base, alertSeverity: 'info' })).toBe(true);
    expect(differsVisibly(base, { ...base, aqi: { value: 10, band: 'good' } })).toBe(true);
    expect(differsVisibly(base, { ...base, name: 'Khác' })).toBe(true);
    expect(differsVisibly(base, { ...base, main: { metric: 'on', value: false, unit: '' } })).toBe(true);
  });
});
