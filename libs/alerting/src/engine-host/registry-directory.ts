import type { EngineDevice, EngineDirectory } from '@ioc/alert-engine';
import { DEVICE_TYPE_CONTRACTS, type Device, silenceTimeoutSecondsOf } from '@ioc/contracts';
import type { DeviceRegistry } from '@ioc/registry';
import type { ReadingBase } from './alert-engine-host';

/** The engine's view of the broker's DeviceRegistry, and the stations' reading enrichment. */
export interface RegistryEngineDirectory extends EngineDirectory {
  /** What a derived reading of `deviceId` carries from the registry (as ingest enriches readings). */
  readingBase(deviceId: string): ReadingBase | undefined;
}

/**
 * An EngineDirectory over a live DeviceRegistry (kept current by RegistrySync): each device is
 * converted once per registry object (the registry replaces the object when the device changes,
 * so a change is seen at once; call the engine's `deviceChanged` to drop its caches). Suspended and
 * retired devices are left out: rules do not cover them (no "no data" for a retired station).
 */
export function registryEngineDirectory(registry: DeviceRegistry): RegistryEngineDirectory {
  const converted = new WeakMap<Device, EngineDevice>();
  const active = (d: Device | undefined): d is Device =>
    d !== undefined && (d.state ?? 'active') === 'active';
  const convert = (d: Device): EngineDevice => {
    let e = converted.get(d);
    if (!e) {
      e = {
        id: d.id,
        type: d.type,
        domain: d.domain,
        name: d.name,
        areaId: d.areaId,
        areaPath: registry.sharedAreaPath(d.areaId),
        attributes: d.attributes ?? {},
        silenceTimeoutSeconds: silenceTimeoutSecondsOf(d),
        reportingIntervalSeconds: DEVICE_TYPE_CONTRACTS[d.type].reportingIntervalSeconds,
      };
      converted.set(d, e);
    }
    return e;
  };
  return {
    device(id) {
      const d = registry.getDevice(id);
      return active(d) ? convert(d) : undefined;
    },
    area(id) {
      const area = registry.getArea(id);
      return area ? { id: area.id, name: area.name, path: registry.sharedAreaPath(id) } : undefined;
    },
    *devices() {
      for (const d of registry.listDevices()) if (active(d)) yield convert(d);
    },
    readingBase(id) {
      const d = registry.getDevice(id);
      if (!active(d)) return undefined;
      return {
        deviceId: d.id,
        deviceType: d.type,
        domain: d.domain,
        areaId: d.areaId,
        areaPath: registry.sharedAreaPath(d.areaId),
        location: d.location,
      };
    },
  };
}
