import type { Area, Device, DeviceType, Domain } from '@ioc/contracts';

/** What the API reads from the device registry. */
export interface RegistryReader {
  getDevice(id: string): Device | undefined;
  getArea(id: string): Area | undefined;
  listAreas(): Area[];
  listDevices(filter: { domain?: Domain; type?: DeviceType; areaId?: string }): Device[];
  areaPath(areaId: string): readonly string[];
}
