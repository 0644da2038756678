import { AreaTree } from './area-tree';
import { compileFilter, type CompiledFilter } from './map-filter';
import { differsVisibly, type MapDevice, type MapFilter } from './map-device';
import { searchEntries, searchKey, type SearchEntry } from './text-search';

/**
 * The map's devices and what changed since the last frame, without Leaflet or DOM (unit-tested in
 * node). Two kinds of change: `visualDirty` (ids whose marker looks different: state, AQI, alert,
 * name) and `indexDirty` (the clustered set changed: a device added, removed or moved, or a filter
 * change moved one in or out). A state change alone never dirties the index unless the filter
 * selects by state and the device crossed it (`indexDirtySoft`: the map rebuilds those at a lower
 * rate).
 */
export class MapDeviceSet {
  readonly devices = new Map<string, MapDevice>();
  private readonly keys = new Map<string, string>();
  private tree = new AreaTree();
  private filterValue: MapFilter = {};
  private compiled: CompiledFilter = compileFilter({}, this.tree);
  /** Ids whose marker must be redrawn. */
  readonly visualDirty = new Set<string>();
  /** The clustered set changed structurally (added, removed, moved, filter changed). */
  indexDirty = true;
  /** A state change moved a device across a state filter (rebuild, but not necessarily this frame). */
  indexDirtySoft = false;

  get filter(): MapFilter {
    return this.filterValue;
  }

  get areas(): AreaTree {
    return this.tree;
  }

  setAreas(tree: AreaTree): void {
    this.tree = tree;
    this.compiled = compileFilter(this.filterValue, tree);
    if (this.filterValue.areaId) this.indexDirty = true;
  }

  setFilter(filter: MapFilter): void {
    this.filterValue = { ...filter };
    this.compiled = compileFilter(this.filterValue, this.tree);
    this.indexDirty = true;
  }

  /**
   * Replaces every device. Applied as a difference (devices missing from `devices` removed, the
   * rest updated), so reloading the same devices after a reconnection marks only the markers that
   * look different and leaves the cluster index alone unless a device appeared, left or moved.
   */
  setAll(devices: readonly MapDevice[]): void {
    const incoming = new Set<string>();
    for (const device of devices) incoming.add(device.id);
    const gone: string[] = [];
    for (const id of this.devices.keys()) if (!incoming.has(id)) gone.push(id);
    this.remove(gone);
    this.update(devices);
  }

  /** Adds or replaces devices by id, recording what changed. */
  update(devices: readonly MapDevice[]): void {
    for (const device of devices) {
      const previous = this.devices.get(device.id);
      this.devices.set(device.id, device);
      if (previous === undefined) {
        this.indexDirty = true;
        continue;
      }
      if (previous.name !== device.name) this.keys.delete(device.id);
      if (previous.lat !== device.lat || previous.lon !== device.lon) this.indexDirty = true;
      else if (
        previous.domain !== device.domain ||
        previous.type !== device.type ||
        previous.areaId !== device.areaId ||
        previous.name !== device.name
      ) {
        if (this.matches(previous) !== this.matches(device)) this.indexDirty = true;
      } else if (
        this.compiled.usesState &&
        previous.state !== device.state &&
        this.matches(previous) !== this.matches(device)
      ) {
        this.indexDirtySoft = true;
      }
      if (differsVisibly(previous, device)) this.visualDirty.add(device.id);
    }
  }

  remove(ids: readonly string[]): void {
    for (const id of ids) {
      if (!this.devices.delete(id)) continue;
      this.keys.delete(id);
      this.visualDirty.delete(id);
      this.indexDirty = true;
    }
  }

  /** True when the current filter keeps `device`. */
  matches(device: MapDevice): boolean {
    return this.compiled.matches(device, this.compiled.usesText ? this.keyOf(device) : undefined);
  }

  /** The folded search text of a device, computed on first use (folding 10,000 names costs ~50 ms). */
  private keyOf(device: MapDevice): string {
    let key = this.keys.get(device.id);
    if (key === undefined) {
      key = searchKey(device.id, device.name);
      this.keys.set(device.id, key);
    }
    return key;
  }

  /** The devices the filter keeps, in insertion order. */
  filtered(): MapDevice[] {
    if (this.compiled.keepsAll) return [...this.devices.values()];
    const out: MapDevice[] = [];
    for (const device of this.devices.values()) if (this.matches(device)) out.push(device);
    return out;
  }

  /** Ids matching a search query (id or name, diacritics-insensitive), best first; all devices, not only the filtered. */
  search(query: string, limit = 20): string[] {
    return searchEntries(this.entries(), query, limit);
  }

  private *entries(): Iterable<SearchEntry> {
    for (const device of this.devices.values()) yield { id: device.id, key: this.keyOf(device) };
  }
}
