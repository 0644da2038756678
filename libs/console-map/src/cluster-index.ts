import Supercluster from 'supercluster';
import type { MapDevice } from './map-device';

/** A visible item: a cluster of several devices or one device. */
export type ClusterItem =
  | { kind: 'cluster'; clusterId: number; count: number; lat: number; lon: number }
  | { kind: 'device'; id: string; lat: number; lon: number };

/**
 * Clustering options. `radius` 60 px and clusters up to zoom 16 (at 17, ~1.2 m/px at 11° N, devices
 * of one junction are 10+ px apart): above `maxZoom` every device is its own marker.
 */
export const CLUSTER_RADIUS_PX = 60;
export const CLUSTER_MAX_ZOOM = 16;

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
      const props = feature.properties as { cluster?: boolean; cluster_id?: number; point_count?: number; i?: number };
      if (props.cluster === true) {
        return { kind: 'cluster', clusterId: props.cluster_id ?? -1, count: props.point_count ?? 0, lat, lon };
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

  /** The zoom at which a cluster splits (clicking it zooms there). */
  expansionZoom(clusterId: number): number {
    return this.index.getClusterExpansionZoom(clusterId);
  }
}
