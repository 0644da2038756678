import type { Alert, AlertTransition, DeviceType, Domain } from '@ioc/contracts';

/** What the engine needs to know of a device (the broker's DeviceRegistry serves it). */
export interface EngineDevice {
  id: string;
  type: DeviceType;
  domain: Domain;
  name: string;
  /** The device's own area. */
  areaId: string;
  /** Root first, ending with `areaId`. */
  areaPath: readonly string[];
  attributes: Readonly<Record<string, unknown>>;
  /** Silence after which the device counts as offline, seconds (`silenceTimeoutSecondsOf`). */
  silenceTimeoutSeconds: number;
  /**
   * How often it reports, seconds (DEVICE_TYPE_CONTRACTS[type].reportingIntervalSeconds): sizes the
   * buckets of its windows. Default: `silenceTimeoutSeconds / SILENCE_TIMEOUT_INTERVALS`.
   */
  reportingIntervalSeconds?: number;
}

/** An area of the area tree. */
export interface EngineArea {
  id: string;
  name: string;
  /** Root first, ending with `id`. */
  path: readonly string[];
}

/** The device and area directory the engine reads (synchronously; it keeps no copy). */
export interface EngineDirectory {
  device(id: string): EngineDevice | undefined;
  area(id: string): EngineArea | undefined;
  /** Every device (area aggregates and no-data rules enumerate the devices they cover). */
  devices(): Iterable<EngineDevice>;
}

/** One step of an alert: `alert` is its state AFTER the step (a copy the caller may keep). */
export interface AlertChange {
  alert: Alert;
  transition: AlertTransition;
}

/** An open alert as the host loads it from the database, with the `seq` of its last transition. */
export interface LoadedAlert {
  alert: Alert;
  lastSeq: number;
}
