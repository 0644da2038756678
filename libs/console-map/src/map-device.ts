import type { AqiBand } from '@ioc/aqi';
import type { DeviceType, Domain, Severity } from '@ioc/contracts';
import { MARKER_STATES, markerStateOf, type DeviceView, type MarkerState } from '@ioc/console-data';

/**
 * What the map needs of one device: where it is, what it is and how to show it. The map knows no
 * transport: the console's device store turns `DeviceView`s into these (`toMapDevice`).
 */
export interface MapDevice {
  id: string;
  name: string;
  domain: Domain;
  type: DeviceType;
  /** WGS 84 degrees. */
  lat: number;
  lon: number;
  /** Area ids root first, ending with `areaId`; may be [] (the map then derives it from the area tree). */
  areaPath: readonly string[];
  areaId: string;
  state: MarkerState;
  /** Hourly VN_AQI and its band, for an air-quality station that has one. */
  aqi: { value: number; band: AqiBand } | null;
  /** Worst severity among the device's open alerts, null when none. */
  alertSeverity: Severity | null;
  /** The device's headline value for the tooltip (optional: absent means none shown). */
  main?: MainValue | null;
}

/** One latest value shown in a marker's tooltip: metric name (labelled via METRIC_LABELS), value, unit. */
export interface MainValue {
  metric: string;
  value: number | string | boolean;
  unit: string;
}

/**
 * What the map shows; every field is optional and an absent or empty list means "all".
 * `areaId` keeps the devices of that area and of every area below it (its subtree); `text` keeps
 * devices whose id or name contains it, ignoring case and Vietnamese diacritics.
 */
export interface MapFilter {
  domains?: Domain[];
  types?: DeviceType[];
  areaId?: string;
  states?: MarkerState[];
  text?: string;
}

/** The metric a device type's tooltip shows when it has no AQI (first one the device reported). */
export const MAIN_METRICS: Readonly<Record<DeviceType, readonly string[]>> = {
  'air-quality-station': ['aqi', 'pm25', 'pm10'],
  'water-quality-station': ['ph', 'dissolvedOxygen', 'turbidity'],
  'noise-meter': ['laeq', 'lamax'],
  'weather-station': ['temperature', 'relativeHumidity', 'windSpeed'],
  'traffic-counter': ['intensity', 'averageVehicleSpeed', 'occupancy'],
  'traffic-signal': ['signalMode', 'phase', 'signalFault'],
  'street-light': ['illuminanceLevel', 'on', 'lampFault'],
  'lighting-cabinet': ['cabinetActivePower', 'circuitsOn', 'doorOpen'],
  camera: ['fps', 'online', 'bitrate'],
};

/** The map's view model of a console device view (state by `markerStateOf`, main value by `MAIN_METRICS`). */
export function toMapDevice(view: DeviceView): MapDevice {
  let main: MainValue | null = null;
  for (const metric of MAIN_METRICS[view.type] ?? []) {
    const latest = view.latest[metric];
    if (latest === undefined) continue;
    main = { metric, value: latest.value, unit: latest.unit };
    break;
  }
  return {
    id: view.id,
    name: view.name,
    domain: view.domain,
    type: view.type,
    lat: view.lat,
    lon: view.lon,
    areaPath: view.areaPath,
    areaId: view.areaId,
    state: markerStateOf(view),
    aqi: view.aqi,
    alertSeverity: view.alertSeverity,
    main,
  };
}

/** Urgency rank of a marker state: 0 is the most urgent (alerting), as in MARKER_STATES. */
export const STATE_RANK: Readonly<Record<MarkerState, number>> = Object.fromEntries(
  MARKER_STATES.map((state, rank) => [state, rank]),
) as Record<MarkerState, number>;

/**
 * The most urgent state among `states` (alerting > offline > unknown > online > inactive), or
 * null for none. Stops at the first `alerting`.
 */
export function worstState(states: Iterable<MarkerState>): MarkerState | null {
  let best: number = MARKER_STATES.length;
  for (const state of states) {
    const rank = STATE_RANK[state];
    if (rank < best) {
      best = rank;
      if (rank === 0) break;
    }
  }
  return (MARKER_STATES as readonly MarkerState[])[best] ?? null;
}

/** True when `a` and `b` look different on a marker (state, AQI, severity, name, main value). */
export function differsVisibly(a: MapDevice, b: MapDevice): boolean {
  return (
    a.state !== b.state ||
    a.alertSeverity !== b.alertSeverity ||
    a.name !== b.name ||
    a.aqi?.value !== b.aqi?.value ||
    a.aqi?.band !== b.aqi?.band ||
    a.main?.value !== b.main?.value ||
    a.main?.metric !== b.main?.metric
  );
}
