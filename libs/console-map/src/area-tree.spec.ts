import type { AreaListBody } from '@ioc/contracts';
import { AreaTree, areaFocusPoints, labelDepthForZoom } from './area-tree';

const areas: AreaListBody = [
  { id: 'tn', name: 'Tây Ninh', level: 'province', parentId: null, location: { lat: 11.3, lon: 106.1 } },
  {
    id: 'ht',
    name: 'Thị xã Hòa Thành',
    level: 'district',
    parentId: 'tn',
    location: { lat: 11.28, lon: 106.13 },
  },
  { id: 'ht-1', name: 'Phường 1', level: 'ward', parentId: 'ht', location: { lat: 11.27, lon: 106.12 } },
  { id: 'ht-2', name: 'Phường 2', level: 'ward', parentId: 'ht' },
  { id: 'tb', name: 'Trảng Bàng', level: 'district', parentId: 'tn', location: { lat: 11.03, lon: 106.36 } },
  { id: 'orphan', name: 'Mồ côi', level: 'ward', parentId: 'missing' },
  { id: 'loop-a', name: 'A', level: 'ward', parentId: 'loop-b' },
  { id: 'loop-b', name: 'B', level: 'ward', parentId: 'loop-a' },
];

describe('AreaTree', () => {
  const tree = new AreaTree(areas);

  it('finds areas by name without diacritics, as devices are found', () => {
    expect(tree.search('hoa thanh')).toEqual(['ht']);
    expect(tree.search('HÒA THÀNH')).toEqual(['ht']);
    expect(tree.search('trang bang')).toEqual(['tb']);
    expect(tree.search('phuong')).toEqual(['ht-1', 'ht-2']);
    expect(tree.search('')).toEqual([]);
  });

  it('focuses an area on its devices (its subtree), else on its centre', () => {
    const devices = [
      { areaId: 'ht-1', areaPath: ['tn', 'ht', 'ht-1'], lat: 11.27, lon: 106.12 },
      { areaId: 'ht-2', areaPath: [], lat: 11.29, lon: 106.14 },
      { areaId: 'tb', areaPath: ['tn', 'tb'], lat: 11.03, lon: 106.36 },
    ];
    expect(areaFocusPoints(tree, 'ht', devices)).toEqual([
      [11.27, 106.12],
      [11.29, 106.14],
    ]);
    expect(areaFocusPoints(tree, 'ht-1', [])).toEqual([[11.27, 106.12]]);
    expect(areaFocusPoints(tree, 'ht-2', [])).toEqual([]);
  });

  it('computes paths root first from the flat list', () => {
    expect(tree.pathOf('ht-1')).toEqual(['tn', 'ht', 'ht-1']);
    expect(tree.pathOf('tn')).toEqual(['tn']);
    expect(tree.pathOf('unknown')).toEqual(['unknown']);
    expect(tree.depthOf('ht-2')).toBe(2);
  });

  it('survives a missing parent and a cycle', () => {
    expect(tree.pathOf('orphan')).toEqual(['missing', 'orphan']);
    expect(tree.pathOf('loop-a')).toEqual(['loop-b', 'loop-a']);
  });

  it('tells subtree membership from the device area path, or from the tree when the path is empty', () => {
    expect(tree.isWithin('ht-1', [], 'ht')).toBe(true);
    expect(tree.isWithin('ht-1', [], 'tn')).toBe(true);
    expect(tree.isWithin('ht-1', [], 'tb')).toBe(false);
    expect(tree.isWithin('ht', [], 'ht')).toBe(true);
    expect(tree.isWithin('x-9', ['tn', 'tb', 'x-9'], 'tb')).toBe(true);
    expect(tree.isWithin('x-9', ['tn', 'tb', 'x-9'], 'ht')).toBe(false);
  });

  it('lists labelled areas per depth and in tree order', () => {
    expect(tree.atDepth(1).map((a) => a.id)).toEqual(['ht', 'tb']);
    expect(tree.atDepth(2).map((a) => a.id)).toEqual(['ht-1']);
    expect(
      tree
        .ordered()
        .slice(0, 5)
        .map(({ area, depth }) => `${depth}:${area.id}`),
    ).toEqual(['0:tn', '1:ht', '2:ht-1', '2:ht-2', '1:tb']);
  });

  it('labels districts at low zoom and wards when zoomed in', () => {
    expect(labelDepthForZoom(9)).toBe(1);
    expect(labelDepthForZoom(11)).toBe(1);
    expect(labelDepthForZoom(12)).toBe(2);
  });
});
