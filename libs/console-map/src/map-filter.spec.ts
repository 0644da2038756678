import type { AreaListBody } from '@ioc/contracts';
import { AreaTree } from './area-tree';
import { compileFilter, isEmptyFilter } from './map-filter';
import { mapDevice } from './test-devices';

const tree = new AreaTree([
  { id: 'tn', name: 'Tây Ninh', level: 'province', parentId: null },
  { id: 'ht', name: 'Hòa Thành', level: 'district', parentId: 'tn' },
  { id: 'ht-1', name: 'Phường 1', level: 'ward', parentId: 'ht' },
  { id: 'tb', name: 'Trảng Bàng', level: 'district', parentId: 'tn' },
] satisfies AreaListBody);

const light = mapDevice({ id: 'sl-1', name: 'Đèn đường Hòa Thành' });
const station = mapDevice({
  id: 'aq-1',
  name: 'Trạm Trảng Bàng',
  domain: 'env',
  type: 'air-quality-station',
  areaId: 'tb',
  state: 'alerting',
  alertSeverity: 'critical',
});
const camera = mapDevice({ id: 'cam-1', domain: 'camera', type: 'camera', areaId: 'x', areaPath: ['tn', 'tb', 'x'], state: 'offline' });
const all = [light, station, camera];
const kept = (filter: Parameters<typeof compileFilter>[0]): string[] => {
  const compiled = compileFilter(filter, tree);
  return all.filter((d) => compiled.matches(d)).map((d) => d.id);
};

describe('compileFilter', () => {
  it('keeps everything with an empty filter or empty lists', () => {
    expect(kept({})).toEqual(['sl-1', 'aq-1', 'cam-1']);
    expect(kept({ domains: [], types: [], states: [], areaId: '', text: ' ' })).toEqual(['sl-1', 'aq-1', 'cam-1']);
    expect(compileFilter({ domains: [] }, tree).keepsAll).toBe(true);
  });

  it('filters by domain, type and state', () => {
    expect(kept({ domains: ['env', 'camera'] })).toEqual(['aq-1', 'cam-1']);
    expect(kept({ types: ['street-light'] })).toEqual(['sl-1']);
    expect(kept({ states: ['alerting', 'offline'] })).toEqual(['aq-1', 'cam-1']);
    expect(compileFilter({ states: ['online'] }, tree).usesState).toBe(true);
  });

  it('keeps an area subtree, from the tree or the device area path', () => {
    expect(kept({ areaId: 'ht' })).toEqual(['sl-1']);
    expect(kept({ areaId: 'tb' })).toEqual(['aq-1', 'cam-1']);
    expect(kept({ areaId: 'tn' })).toEqual(['sl-1', 'aq-1', 'cam-1']);
  });

  it('filters by id or name text without diacritics, and combines criteria with AND', () => {
    expect(kept({ text: 'hoa thanh' })).toEqual(['sl-1']);
    expect(kept({ text: 'CAM-1' })).toEqual(['cam-1']);
    expect(kept({ areaId: 'tb', domains: ['env'], states: ['alerting'] })).toEqual(['aq-1']);
    expect(kept({ areaId: 'tb', domains: ['lighting'] })).toEqual([]);
  });

  it('isEmptyFilter', () => {
    expect(isEmptyFilter({})).toBe(true);
    expect(isEmptyFilter({ domains: [], text: '  ' })).toBe(true);
    expect(isEmptyFilter({ areaId: 'tb' })).toBe(false);
  });
});
