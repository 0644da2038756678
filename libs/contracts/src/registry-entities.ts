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

export interface Device {
  id: string;
  type: DeviceType;
  domain: Domain;
  name: string;
  areaId: string;
  location: GeoPoint;
  /** Free-form descriptive attributes (road name, river, lamp model, …). */
  attributes?: Record<string, string>;
}
