import type { Device } from '@ioc/contracts';

/** What ingest needs from the device registry: a hot-path lookup, never a query. */
export interface DeviceDirectory {
  getDevice(id: string): Device | undefined;
  /** Area ids from the root down to `areaId`: frozen and shared, computed once per area, not per message. */
  sharedAreaPath(areaId: string): readonly string[];
}
