import type { Device } from '@ioc/contracts';

/** What ingest needs from the device registry: a hot-path lookup, never a query. */
export interface DeviceDirectory {
  getDevice(id: string): Device | undefined;
  /** Area ids from the root down to `areaId`. */
  areaPath(areaId: string): readonly string[];
}
