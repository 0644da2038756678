import { type Area, type Device, DOMAINS } from '@ioc/contracts';
import { DeviceRegistry } from './device-registry';
import { loadSeeds } from './seed-loader';
import { SeedValidationError } from './seed-validation';

/** Independent reference: walks parents the slow way, to compare with the registry's precomputation. */
function ancestorsOf(areas: readonly Area[], areaId: string): string[] {
  const byId = new Map(areas.map((a) => [a.id, a]));
  const path: string[] = [];
  for (
    let area = byId.get(areaId);
    area;
    area = area.parentId === null ? undefined : byId.get(area.parentId)
  ) {
    path.unshift(area.id);
  }
  return path;
}

const point = { lat: 11.3, lon: 106.1 };
const areas: Area[] = [
  { id: 'p', name: 'Tỉnh', level: 'province', parentId: null },
  { id: 'd1', name: 'Huyện 1', level: 'district', parentId: 'p' },
  { id: 'd2', name: 'Huyện 2', level: 'district', parentId: 'p' },
  { id: 'd1-a', name: 'Xã A', level: 'commune', parentId: 'd1' },
  { id: 'd1-b', name: 'Xã B', level: 'commune', parentId: 'd1' },
  { id: 'd1-a-hamlet', name: 'Ấp', level: 'hamlet', parentId: 'd1-a' },
  { id: 'd2-c', name: 'Xã C', level: 'commune', parentId: 'd2' },
];
const device = (id: string, type: Device['type'], domain: Device['domain'], areaId: string): Device => ({
  id,
  type,
  domain,
  name: id,
  areaId,
  location: point,
});
const devices: Device[] = [
  device('aq-1', 'air-quality-station', 'env', 'd1-a'),
  device('nm-1', 'noise-meter', 'env', 'd1-a-hamlet'),
  device('sl-1', 'street-light', 'lighting', 'd1-b'),
  device('sl-2', 'street-light', 'lighting', 'd2-c'),
  device('cam-1', 'camera', 'camera', 'd1'),
  device('tc-1', 'traffic-counter', 'traffic', 'd2'),
];

describe('DeviceRegistry on a small tree', () => {
  const registry = new DeviceRegistry({ areas, devices });
  const ids = (list: readonly Device[]) => list.map((d) => d.id).sort();

  it('looks devices and areas up by id', () => {
    expect(registry.getDevice('sl-2')).toEqual(devices[3]);
    expect(registry.getDevice('nope')).toBeUndefined();
    expect(registry.getArea('d1-b')).toEqual(areas[4]);
    expect(registry.getArea('nope')).toBeUndefined();
    expect(registry.listAreas().map((a) => a.id)).toEqual(areas.map((a) => a.id));
    expect(registry.deviceCount).toBe(devices.length);
  });

  it('filters by domain and by type', () => {
    for (const domain of DOMAINS) {
      expect(ids(registry.listDevices({ domain }))).toEqual(ids(devices.filter((d) => d.domain === domain)));
    }
    expect(ids(registry.listDevices({ type: 'street-light' }))).toEqual(['sl-1', 'sl-2']);
    expect(ids(registry.listDevices())).toEqual(ids(devices));
  });

  it('filters by area including every descendant, at any depth', () => {
    for (const area of areas) {
      const expected = devices.filter((d) => ancestorsOf(areas, d.areaId).includes(area.id));
      expect(ids(registry.listDevices({ areaId: area.id }))).toEqual(ids(expected));
    }
    expect(ids(registry.listDevices({ areaId: 'd1' }))).toEqual(['aq-1', 'cam-1', 'nm-1', 'sl-1']);
    expect(registry.listDevices({ areaId: 'unknown' })).toEqual([]);
  });

  it('combines area, domain and type filters', () => {
    expect(ids(registry.listDevices({ areaId: 'd1', domain: 'env' }))).toEqual(['aq-1', 'nm-1']);
    expect(ids(registry.listDevices({ areaId: 'd1', type: 'noise-meter' }))).toEqual(['nm-1']);
    expect(registry.listDevices({ areaId: 'd2', domain: 'env' })).toEqual([]);
  });

  it('gives area paths from the root', () => {
    expect(registry.areaPath('d1-a-hamlet')).toEqual(['p', 'd1', 'd1-a', 'd1-a-hamlet']);
    expect(registry.areaPath('p')).toEqual(['p']);
    expect(() => registry.areaPath('nope')).toThrow(/unknown area "nope"/);
  });

  it('returns a copy of the path, so callers cannot corrupt the precomputed one', () => {
    registry.areaPath('d1-a').push('junk');
    expect(registry.areaPath('d1-a')).toEqual(['p', 'd1', 'd1-a']);
  });

  it('shares one frozen path per area with the ingest hot path, computed once', () => {
    const shared = registry.sharedAreaPath('d1-a-hamlet');
    expect(shared).toEqual(registry.areaPath('d1-a-hamlet'));
    expect(registry.sharedAreaPath('d1-a-hamlet')).toBe(shared);
    expect(Object.isFrozen(shared)).toBe(true);
    expect(() => registry.sharedAreaPath('nope')).toThrow(/unknown area "nope"/);
  });

  it('lists descendant areas', () => {
    expect(registry.descendantAreaIds('d1').sort()).toEqual(['d1-a', 'd1-a-hamlet', 'd1-b']);
    expect(registry.descendantAreaIds('p').sort()).toEqual(
      areas
        .slice(1)
        .map((a) => a.id)
        .sort(),
    );
    expect(registry.descendantAreaIds('d2-c')).toEqual([]);
    expect(() => registry.descendantAreaIds('nope')).toThrow(/unknown area/);
  });

  it('refuses to be built from an invalid tree', () => {
    expect(() => new DeviceRegistry({ areas, devices: [device('x-1', 'camera', 'camera', 'mars')] })).toThrow(
      SeedValidationError,
    );
  });
});

describe('DeviceRegistry on the repository seeds', () => {
  const seeds = loadSeeds();
  const registry = DeviceRegistry.fromSeeds();

  it('holds every seed device and area', () => {
    expect(registry.deviceCount).toBe(seeds.devices.length);
    expect(registry.listAreas()).toHaveLength(seeds.areas.length);
  });

  it('precomputes every area path to match a parent walk', () => {
    for (const area of seeds.areas)
      expect(registry.areaPath(area.id)).toEqual(ancestorsOf(seeds.areas, area.id));
  });

  it('finds each district’s devices through its communes and wards', () => {
    for (const district of seeds.areas.filter((a) => a.level === 'district')) {
      const expected = seeds.devices
        .filter((d) => ancestorsOf(seeds.areas, d.areaId).includes(district.id))
        .map((d) => d.id)
        .sort();
      expect(
        registry
          .listDevices({ areaId: district.id })
          .map((d) => d.id)
          .sort(),
      ).toEqual(expected);
    }
    expect(registry.listDevices({ areaId: 'tay-ninh' })).toHaveLength(seeds.devices.length);
  });
});
