import type { Area, Device, DeviceType, Domain } from '@ioc/contracts';
import { loadSeeds } from './seed-loader';
import { type SeedData, validateSeeds } from './seed-validation';

export interface DeviceFilter {
  domain?: Domain;
  type?: DeviceType;
  /** Matches devices in this area and in all of its descendants. */
  areaId?: string;
}

/**
 * The device and area registry, in memory. Built once from validated seeds; every lookup the
 * ingest path makes per MQTT message (device by id, its area path) is a single Map access.
 */
export class DeviceRegistry {
  private readonly devices = new Map<string, Device>();
  private readonly areas = new Map<string, Area>();
  private readonly paths = new Map<string, readonly string[]>();
  private readonly children = new Map<string, string[]>();
  /** Devices under each area, descendants included, so area filters need no tree walk. */
  private readonly devicesUnder = new Map<string, Device[]>();

  /**
   * Validates the data again, so a registry can never hold a broken tree whatever built it.
   * Without seeds it starts empty, for RegistrySync to fill from the database.
   */
  constructor(seeds?: SeedData) {
    if (seeds) this.reload(seeds);
  }

  /**
   * Replaces the whole content with `seeds` (validated first: on a SeedValidationError nothing
   * changes). Synchronous, so no lookup ever sees half of the old content and half of the new.
   * Used when the registry database changes (RegistrySync).
   */
  reload(seeds: SeedData): void {
    const { areas, devices } = validateSeeds(seeds.areas, seeds.devices);
    this.devices.clear();
    this.areas.clear();
    this.paths.clear();
    this.children.clear();
    this.devicesUnder.clear();
    for (const area of areas) {
      this.areas.set(area.id, Object.freeze({ ...area }));
      this.children.set(area.id, []);
      this.devicesUnder.set(area.id, []);
    }
    for (const area of areas) {
      if (area.parentId !== null) this.children.get(area.parentId)?.push(area.id);
    }
    for (const area of areas) this.paths.set(area.id, Object.freeze(this.computePath(area.id)));
    for (const device of devices) this.insertDevice(device);
  }

  /**
   * Adds, replaces or (with `undefined`) removes one device without rebuilding the rest: a
   * provisioning change touches one device, and the broker should not rebuild 10,000 for it.
   * @throws Error when the device's area is unknown (reload the areas first)
   */
  upsertDevice(id: string, device: Device | undefined): void {
    const previous = this.devices.get(id);
    if (previous) {
      for (const areaId of this.paths.get(previous.areaId) ?? []) {
        const list = this.devicesUnder.get(areaId);
        const at = list?.indexOf(previous) ?? -1;
        if (list && at >= 0) list.splice(at, 1);
      }
      this.devices.delete(id);
    }
    if (device === undefined) return;
    if (!this.areas.has(device.areaId)) throw new Error(`unknown area "${device.areaId}"`);
    this.insertDevice(device);
  }

  private insertDevice(device: Device): void {
    const frozen = Object.freeze({
      ...device,
      location: Object.freeze({ ...device.location }),
      ...(device.attributes ? { attributes: Object.freeze({ ...device.attributes }) } : {}),
    });
    this.devices.set(device.id, frozen);
    for (const areaId of this.paths.get(device.areaId) ?? []) this.devicesUnder.get(areaId)?.push(frozen);
  }

  /** Loads and validates the seeds directory (default: the repository's `seeds/`). */
  static fromSeeds(seedsDir?: string): DeviceRegistry {
    return new DeviceRegistry(loadSeeds(seedsDir));
  }

  get deviceCount(): number {
    return this.devices.size;
  }

  getDevice(id: string): Device | undefined {
    return this.devices.get(id);
  }

  listDevices(filter: DeviceFilter = {}): Device[] {
    const { domain, type, areaId } = filter;
    let candidates: readonly Device[];
    if (areaId === undefined) candidates = [...this.devices.values()];
    else candidates = this.devicesUnder.get(areaId) ?? [];
    return candidates.filter(
      (device) =>
        (domain === undefined || device.domain === domain) && (type === undefined || device.type === type),
    );
  }

  getArea(id: string): Area | undefined {
    return this.areas.get(id);
  }

  listAreas(): Area[] {
    return [...this.areas.values()];
  }

  /** Area ids from the root down to `areaId` inclusive, a copy of your own; throws for an unknown area. */
  areaPath(areaId: string): string[] {
    return [...this.sharedAreaPath(areaId)];
  }

  /**
   * The same path without the copy: the registry's frozen array, shared by every caller. For the
   * ingest hot path, which puts it in every Reading of the area.
   */
  sharedAreaPath(areaId: string): readonly string[] {
    const path = this.paths.get(areaId);
    if (!path) throw new Error(`unknown area "${areaId}"`);
    return path;
  }

  /** Every area below `areaId` (not including it), depth first; throws for an unknown area. */
  descendantAreaIds(areaId: string): string[] {
    if (!this.areas.has(areaId)) throw new Error(`unknown area "${areaId}"`);
    const result: string[] = [];
    const stack = [...(this.children.get(areaId) ?? [])].reverse();
    while (stack.length > 0) {
      const id = stack.pop() as string;
      result.push(id);
      stack.push(...[...(this.children.get(id) ?? [])].reverse());
    }
    return result;
  }

  private computePath(areaId: string): string[] {
    const path: string[] = [];
    let current = this.areas.get(areaId);
    while (current) {
      path.push(current.id);
      current = current.parentId === null ? undefined : this.areas.get(current.parentId);
    }
    return path.reverse();
  }
}
