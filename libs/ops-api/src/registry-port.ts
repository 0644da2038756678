import type { Area, Device, DeviceType, Domain } from '@ioc/contracts';
import type { RegistryRepository } from '@ioc/registry';

/** What the API reads from the device registry. */
export interface RegistryReader {
  getDevice(id: string): Device | undefined;
  getArea(id: string): Area | undefined;
  listAreas(): Area[];
  listDevices(filter: { domain?: Domain; type?: DeviceType; areaId?: string }): Device[];
  areaPath(areaId: string): readonly string[];
}

/**
 * What the API writes the registry through (provisioning): the registry database's repository,
 * the server's device-credential key, and this process's RegistrySync. Absent (an API without a
 * database, as in read-only tests): every write route answers 503 `registry-unavailable`.
 */
export interface RegistryProvisioning {
  readonly repository: RegistryRepository;
  /** The key device secrets are hashed under (loadCredentialKey): 32 bytes. */
  readonly credentialKey: Buffer;
  /** Applies committed changes to this process's in-memory registry now (RegistrySync.refresh). */
  refresh(): Promise<void>;
  /** A change notice arrived on the internal bus (RegistrySync.notify: refresh shortly). */
  notify(): void;
}
