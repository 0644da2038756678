import { AreaTree } from './area-tree';
import { MapDeviceSet } from './map-device-set';
import { mapDevice } from './test-devices';

function loaded(): MapDeviceSet {
  const store = new MapDeviceSet();
  store.setAreas(
    new AreaTree([
      { id: 'tn', name: 'Tây Ninh', level: 'province', parentId: null },
      { id: 'ht-1', name: 'Phường 1', level: 'ward', parentId: 'tn' },
    ]),
  );
  store.setAll([
    mapDevice({ id: 'a', name: 'Đèn Hòa Thành' }),
    mapDevice({ id: 'b', state: 'offline' }),
    mapDevice({ id: 'c', domain: 'env', type: 'noise-meter' }),
  ]);
  store.indexDirty = false;
  return store;
}

describe('MapDeviceSet', () => {
  it('a state change marks the marker, never the cluster index', () => {
    const store = loaded();
    store.update([
      mapDevice({ id: 'a', name: 'Đèn Hòa Thành', state: 'alerting', alertSeverity: 'critical' }),
    ]);
    expect([...store.visualDirty]).toEqual(['a']);
    expect(store.indexDirty).toBe(false);
    expect(store.indexDirtySoft).toBe(false);
  });

  it('an unchanged copy marks nothing', () => {
    const store = loaded();
    store.update([mapDevice({ id: 'b', state: 'offline' })]);
    expect(store.visualDirty.size).toBe(0);
    expect(store.indexDirty).toBe(false);
  });

  it('a move, a new device or a removal dirties the index', () => {
    let store = loaded();
    store.update([mapDevice({ id: 'b', state: 'offline', lat: 11.5 })]);
    expect(store.indexDirty).toBe(true);
    store = loaded();
    store.update([mapDevice({ id: 'd' })]);
    expect(store.indexDirty).toBe(true);
    expect(store.devices.size).toBe(4);
    store = loaded();
    store.remove(['nope']);
    expect(store.indexDirty).toBe(false);
    store.remove(['a']);
    expect(store.indexDirty).toBe(true);
    expect(store.devices.has('a')).toBe(false);
  });

  it('under a state filter, crossing it asks for a (rate-limited) soft rebuild', () => {
    const store = loaded();
    store.setFilter({ states: ['offline'] });
    store.indexDirty = false;
    expect(store.filtered().map((d) => d.id)).toEqual(['b']);
    store.update([mapDevice({ id: 'c', domain: 'env', type: 'noise-meter', state: 'unknown' })]);
    expect(store.indexDirtySoft).toBe(false);
    store.update([mapDevice({ id: 'a', name: 'Đèn Hòa Thành', state: 'offline' })]);
    expect(store.indexDirtySoft).toBe(true);
    expect(store.indexDirty).toBe(false);
    expect(store.filtered().map((d) => d.id)).toEqual(['a', 'b']);
  });

  it('searches all devices (not only the filtered), by the current name', () => {
    const store = loaded();
    store.setFilter({ domains: ['env'] });
    expect(store.search('hoa thanh')).toEqual(['a']);
    store.update([mapDevice({ id: 'a', name: 'Đèn Trảng Bàng' })]);
    expect(store.search('hoa thanh')).toEqual([]);
    expect(store.search('trang bang')).toEqual(['a']);
    expect(store.filtered().map((d) => d.id)).toEqual(['c']);
  });

  it('filters by text with the cached keys', () => {
    const store = loaded();
    store.setFilter({ text: 'den hoa' });
    expect(store.filtered().map((d) => d.id)).toEqual(['a']);
    expect(store.filter).toEqual({ text: 'den hoa' });
  });

  it('setAll applies a difference: the same positions leave the index alone, a missing device leaves', () => {
    const store = loaded();
    store.setAll([
      mapDevice({ id: 'a', name: 'Đèn Hòa Thành' }),
      mapDevice({ id: 'b', state: 'online' }),
      mapDevice({ id: 'c', domain: 'env', type: 'noise-meter' }),
    ]);
    expect(store.indexDirty).toBe(false);
    expect([...store.visualDirty]).toEqual(['b']);
    store.setAll([mapDevice({ id: 'a', name: 'Đèn Hòa Thành' })]);
    expect(store.indexDirty).toBe(true);
    expect([...store.devices.keys()]).toEqual(['a']);
  });
});
