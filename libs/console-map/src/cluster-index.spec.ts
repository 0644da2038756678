import type { MarkerState } from '@ioc/console-data';
import { CLUSTER_MAX_ZOOM, ClusterIndex } from './cluster-index';
import { mapDevice } from './test-devices';

// 20 devices within ~200 m of a point in Hòa Thành, and one 40 km away in Trảng Bàng.
const near = Array.from({ length: 20 }, (_, i) =>
  mapDevice({ id: `sl-${i}`, lat: 11.28 + (i % 5) * 0.0004, lon: 106.13 + Math.floor(i / 5) * 0.0004 }),
);
const far = mapDevice({ id: 'far', lat: 11.03, lon: 106.36 });
const WORLD: [number, number, number, number] = [-180, -85, 180, 85];

describe('ClusterIndex', () => {
  const index = new ClusterIndex();
  index.load([...near, far]);

  it('clusters nearby devices at low zoom and shows each device on its own past CLUSTER_MAX_ZOOM', () => {
    const low = index.items(WORLD, 10);
    expect(low).toHaveLength(2);
    const cluster = low.find((item) => item.kind === 'cluster');
    expect(cluster).toMatchObject({ kind: 'cluster', count: 20 });
    expect(low.find((item) => item.kind === 'device')).toMatchObject({ id: 'far' });
    const high = index.items(WORLD, CLUSTER_MAX_ZOOM + 1);
    expect(high.every((item) => item.kind === 'device')).toBe(true);
    expect(high).toHaveLength(21);
  });

  it('a cluster knows its leaves and where it splits', () => {
    const cluster = index.items(WORLD, 10).find((item) => item.kind === 'cluster');
    if (cluster?.kind !== 'cluster') throw new Error('no cluster');
    expect([...index.leafIds(cluster.clusterId)].sort()).toEqual(near.map((d) => d.id).sort());
    expect(index.expansionZoom(cluster.clusterId)).toBeGreaterThan(10);
  });

  it("a cluster's worst state follows its leaves' current states without a rebuild", () => {
    const cluster = index.items(WORLD, 10).find((item) => item.kind === 'cluster');
    if (cluster?.kind !== 'cluster') throw new Error('no cluster');
    const states = new Map<string, MarkerState>(near.map((d) => [d.id, 'online']));
    states.set('sl-3', 'inactive');
    expect(index.worstState(cluster.clusterId, (id) => states.get(id))).toBe('online');
    states.set('sl-7', 'unknown');
    expect(index.worstState(cluster.clusterId, (id) => states.get(id))).toBe('unknown');
    states.set('sl-12', 'offline');
    expect(index.worstState(cluster.clusterId, (id) => states.get(id))).toBe('offline');
    states.set('sl-19', 'alerting');
    expect(index.worstState(cluster.clusterId, (id) => states.get(id))).toBe('alerting');
    states.set('far', 'alerting');
    states.set('sl-19', 'online');
    expect(index.worstState(cluster.clusterId, (id) => states.get(id))).toBe('offline');
    expect(index.worstState(cluster.clusterId, () => undefined)).toBe('inactive');
  });

  it('an empty index has no items', () => {
    const empty = new ClusterIndex();
    empty.load([]);
    expect(empty.items(WORLD, 5)).toEqual([]);
  });
});
