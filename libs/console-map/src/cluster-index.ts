import Supercluster from 'supercluster';
import type { MarkerState } from '@ioc/console-data';
import { STATE_RANK, type MapDevice } from './map-device';

/** A visible item: a cluster of several devices or one device. */
export type ClusterItem =
  | { kind: 'cluster'; clusterId: number; count: number; lat: number; lon: number }
  | { kind: 'device'; id: string; lat: number; lon: number };

/**
 * Clustering options: `radius` 60 px; clusters up to zoom 15, so from zoom 16 (~2.3 m/px at 11° N:
 * 156 543 m/px ÷ 2^16 × cos 11°) every device is its own marker (street lights ~30 m apart are
 * 13 px apart). Each clustered zoom level costs a pass over the points: loading 10,000 points took
 * ~45 ms with maxZoom 14 and ~100 ms with 16 (supercluster 8.0.1, Node 20, 10,000 random points
 * over Tây Ninh, on the project's shared 2-core machine), so levels where almost nothing clusters
 * any more are left out.
 */
export const CLUSTER_RADIUS_PX = 60;
export const CLUSTER_MAX_ZOOM = 15;

/**
 * Positions of the filtered devices in a supercluster index (KD-tree per zoom). Built when the
 * clustered set changes (devices added, removed, moved, filter); a state change never rebuilds it:
 * a cluster's worst state is computed from its leaves' current states (`leafIds`, cached per index).
 */
export class ClusterIndex {
  private index = new Supercluster<{ i: number }>({ radius: CLUSTER_RADIUS_PX, maxZoom: CLUSTER_MAX_ZOOM });
  private ids: string[] = [];
  private readonly leafCache = new Map<number, readonly string[]>();

  /** Rebuilds the index from `devices` (their ids and positions). */
  load(devices: readonly MapDevice[]): void {
    this.ids = devices.map((d) => d.id);
    this.leafCache.clear();
    this.index = new Supercluster<{ i: number }>({ radius: CLUSTER_RADIUS_PX, maxZoom: CLUSTER_MAX_ZOOM });
    this.index.load(
      devices.map((d, i) => ({
        type: 'Feature' as const,
        properties: { i },
        geometry: { type: 'Point' as const, coordinates: [d.lon, d.lat] },
      })),
    );
  }

  get size(): number {
    return this.ids.length;
  }

  /** Clusters and single devices inside `[west, south, east, north]` (degrees) at integer `zoom`. */
  items(bbox: [number, number, number, number], zoom: number): ClusterItem[] {
    if (this.ids.length === 0) return [];
    return this.index.getClusters(bbox, zoom).map((feature): ClusterItem => {
      const [lon, lat] = feature.geometry.coordinates as [number, number];
      const props = feature.properties as {
        cluster?: boolean;
        cluster_id?: number;
        point_count?: number;
        i?: number;
      };
      if (props.cluster === true) {
        return {
          kind: 'cluster',
          clusterId: props.cluster_id ?? -1,
          count: props.point_count ?? 0,
          lat,
          lon,
        };
      }
      return { kind: 'device', id: this.ids[props.i ?? 0], lat, lon };
    });
  }

  /** The ids of every device in a cluster (cached until the next `load`). */
  leafIds(clusterId: number): readonly string[] {
    let leaves = this.leafCache.get(clusterId);
    if (leaves === undefined) {
      leaves = this.index.getLeaves(clusterId, Infinity).map((f) => this.ids[f.properties.i]);
      this.leafCache.set(clusterId, leaves);
    }
    return leaves;
  }

  /**
   * The most urgent current state among a cluster's devices (alerting > offline > unknown > online
   * > inactive), read through `stateOf` at call time: a state change needs no rebuild. Stops at the
   * first alerting device; `inactive` when no leaf is known.
   */
  worstState(clusterId: number, stateOf: (id: string) => MarkerState | undefined): MarkerState {
    let best: MarkerState = 'inactive';
    for (const id of this.leafIds(clusterId)) {
      const state = stateOf(id);
      if (state === undefined || STATE_RANK[state] >= STATE_RANK[best]) continue;
      best = state;
      if (best === 'alerting') break;
    }
    return best;
  }

  /** The zoom at which a cluster splits (clicking it zooms there). */
  expansionZoom(clusterId: number): number {
    return this.index.getClusterExpansionZoom(clusterId);
  }
}
