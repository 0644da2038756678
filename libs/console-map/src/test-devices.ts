import type { MapDevice } from './map-device';

/** A map device for tests: an online street light in ward `ht-1` unless `overrides` say otherwise. */
export function mapDevice(overrides: Partial<MapDevice> & { id: string }): MapDevice {
  return {
    name: `Thiết bị ${overrides.id}`,
    domain: 'lighting',
    type: 'street-light',
    lat: 11.3,
    lon: 106.1,
    areaPath: [],
    areaId: 'ht-1',
    state: 'online',
    aqi: null,
    alertSeverity: null,
    ...overrides,
  };
}
