import type { AreaBody, AreaListBody } from '@ioc/contracts';
import { searchEntries, searchKey, type SearchEntry } from './text-search';

/**
 * The area tree of `GET /api/v1/areas` (a flat list linked by `parentId`), indexed for the map:
 * paths root first, subtree membership, depth (0 = a root, such as the province; 1 = its
 * districts; 2 = wards, communes and townships). An area whose parent is missing counts as a root;
 * a cycle is cut where it closes.
 */
export class AreaTree {
  private readonly byId = new Map<string, AreaBody>();
  private readonly paths = new Map<string, readonly string[]>();

  constructor(areas: AreaListBody = []) {
    for (const area of areas) this.byId.set(area.id, area);
  }

  get size(): number {
    return this.byId.size;
  }

  get(id: string): AreaBody | undefined {
    return this.byId.get(id);
  }

  /** Every area, in the list's order. */
  all(): IterableIterator<AreaBody> {
    return this.byId.values();
  }

  /** Area ids from the root to `areaId` (inclusive); [areaId] for an unknown area. */
  pathOf(areaId: string): readonly string[] {
    const cached = this.paths.get(areaId);
    if (cached !== undefined) return cached;
    const reversed: string[] = [];
    const seen = new Set<string>();
    let id: string | null = areaId;
    while (id !== null && !seen.has(id)) {
      seen.add(id);
      reversed.push(id);
      id = this.byId.get(id)?.parentId ?? null;
    }
    const path = reversed.reverse();
    this.paths.set(areaId, path);
    return path;
  }

  /** Depth of an area: 0 for a root. */
  depthOf(areaId: string): number {
    return this.pathOf(areaId).length - 1;
  }

  /**
   * True when a device in `areaId` (with area path `areaPath`, root first, or [] when unknown)
   * lies in the subtree of `ancestorId` (the area itself included).
   */
  isWithin(areaId: string, areaPath: readonly string[], ancestorId: string): boolean {
    if (areaId === ancestorId) return true;
    const path = areaPath.length > 0 ? areaPath : this.pathOf(areaId);
    return path.includes(ancestorId);
  }

  /** The areas at `depth` that have a location (map labels). */
  atDepth(depth: number): AreaBody[] {
    return [...this.byId.values()].filter((a) => a.location !== undefined && this.depthOf(a.id) === depth);
  }

  /**
   * Area ids whose id or name matches `query` diacritics-insensitively, as devices are searched
   * (searchEntries: "hoa thanh" finds "Thị xã Hòa Thành"), best first, at most `limit`.
   */
  search(query: string, limit = 5): string[] {
    this.entries ??= [...this.byId.values()].map((a) => ({ id: a.id, key: searchKey(a.id, a.name) }));
    return searchEntries(this.entries, query, limit);
  }

  private entries: SearchEntry[] | null = null;

  /** Areas in tree order (each followed by its children), with their depth: the filter's select. */
  ordered(): Array<{ area: AreaBody; depth: number }> {
    const children = new Map<string | null, AreaBody[]>();
    for (const area of this.byId.values()) {
      const parent = area.parentId !== null && this.byId.has(area.parentId) ? area.parentId : null;
      const list = children.get(parent) ?? [];
      list.push(area);
      children.set(parent, list);
    }
    const out: Array<{ area: AreaBody; depth: number }> = [];
    const seen = new Set<string>();
    const visit = (parent: string | null, depth: number): void => {
      for (const area of children.get(parent) ?? []) {
        if (seen.has(area.id)) continue;
        seen.add(area.id);
        out.push({ area, depth });
        visit(area.id, depth + 1);
      }
    };
    visit(null, 0);
    return out;
  }
}

/**
 * The area depth labelled at a zoom level: the province's districts (depth 1) up to zoom 11,
 * wards and communes (depth 2) from zoom 12. At zoom 11 a 1366-px-wide map spans ~ 90 km (Web
 * Mercator at 11° N: 156 543 m/px ÷ 2^11 × cos 11° × 1366 px), a district's scale; at zoom 12,
 * ~ 45 km, where the labels of ~ 50 communes no longer overlap.
 */
export function labelDepthForZoom(zoom: number): number {
  return zoom <= 11 ? 1 : 2;
}

/**
 * Where the map goes when an area is picked in the search: the positions (lat, lon in degrees) of
 * the devices in its subtree (AreaTree.isWithin), or, when it holds none, its centre from the area
 * tree (`location`) as one point; [] when it has neither.
 */
export function areaFocusPoints(
  tree: AreaTree,
  areaId: string,
  devices: Iterable<{ areaId: string; areaPath: readonly string[]; lat: number; lon: number }>,
): Array<[number, number]> {
  const points: Array<[number, number]> = [];
  for (const device of devices)
    if (tree.isWithin(device.areaId, device.areaPath, areaId)) points.push([device.lat, device.lon]);
  if (points.length > 0) return points;
  const location = tree.get(areaId)?.location;
  return location === undefined ? [] : [[location.lat, location.lon]];
}
