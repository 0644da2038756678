import type { DeviceType } from './device-types';
import type { Domain } from './domains';

/** A metric's value: numbers for measurements, booleans for states, strings for enumerations. */
export type MetricValue = number | boolean | string;

/** What a device sent: periodic measurements, a discrete event, or its connection status. */
export const READING_KINDS = ['telemetry', 'event', 'status'] as const;
export type ReadingKind = (typeof READING_KINDS)[number];

export interface GeoPoint {
  lat: number;
  lon: number;
}

/**
 * One validated message from one device, enriched from the device registry (never from the
 * payload): the unit that is stored, pushed live and evaluated by alert rules.
 */
export interface Reading {
  deviceId: string;
  deviceType: DeviceType;
  domain: Domain;
  kind: ReadingKind;
  /** The device's own area (a leaf or inner node of the area tree). */
  areaId: string;
  /** Area ids from the root to `areaId`, so subscribers to any ancestor area match. */
  areaPath: readonly string[];
  location: GeoPoint;
  /** Observation time, epoch milliseconds (UTC). */
  ts: number;
  /** Device-side sequence number, when the device sends one. */
  seq?: number;
  /** For `kind: 'event'`: which event (e.g. `accident`). */
  event?: string;
  metrics: Record<string, MetricValue>;
}
