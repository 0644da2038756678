import type { DeviceType } from './device-types';
import type { Domain } from './domains';
import type { GeoPoint } from './reading';

/**
 * Administrative areas form a tree held as data: Vietnam's 2025 reform removed the district level
 * and merged provinces, so levels and parents change without code changes.
 */
export interface Area {
  id: string;
  name: string;
  /** Free-form level: `province`, `district` (pre-2025 grouping), `commune`, `ward`, … */
  level: string;
  parentId: string | null;
  location?: GeoPoint;
  /** Notes on validity, e.g. "pre-2025 district grouping (abolished 1 July 2025)". */
  note?: string;
}

/**
 * A device's life-cycle state in the registry. `active` devices may connect; `suspended` ones are
 * refused (CONNACK 5) until resumed; `retired` ones are refused for good and kept only so their
 * history keeps its name and place.
 */
export const DEVICE_STATES = ['active', 'suspended', 'retired'] as const;
export type DeviceState = (typeof DEVICE_STATES)[number];

export interface Device {
  id: string;
  type: DeviceType;
  domain: Domain;
  name: string;
  areaId: string;
  location: GeoPoint;
  /** Free-form descriptive attributes (road name, river, lamp model, …). */
  attributes?: Record<string, string>;
  /** Life-cycle state; absent means `active` (seed files written before the registry database). */
  state?: DeviceState;
  /**
   * Silence after which a connected device counts as offline, overriding its type's default
   * (DEVICE_TYPE_CONTRACTS[type].silenceTimeoutSeconds). Seconds.
   */
  silenceTimeoutSeconds?: number;
}
