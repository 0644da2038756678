import { aqiBand, type AqiBand } from '@ioc/aqi';
import type {
  DeviceState,
  DeviceStatusEntryBody,
  DeviceStatusValue,
  DeviceType,
  Domain,
  LatestValueBody,
  Reading,
  Severity,
} from '@ioc/contracts';

/**
 * What the console knows of one device at this moment: the registry's facts, its connectivity
 * status, the latest value of each metric and its worst open alert. Built from the first-paint
 * endpoint (`GET /api/v1/devices/status`, `deviceViewFromStatus`) and kept current by the live
 * feed (`withReading`, and the device store's status and alert events).
 */
export interface DeviceView {
  id: string;
  name: string;
  type: DeviceType;
  domain: Domain;
  areaId: string;
  /** Root first, ending with `areaId` (known once a reading or an alert named it; [] before). */
  areaPath: readonly string[];
  lat: number;
  lon: number;
  /** Registry life-cycle state. */
  state: DeviceState;
  status: DeviceStatusValue;
  /** When the current status began (epoch ms), null when unknown. */
  statusSince: number | null;
  /** Newest observation time of any metric (epoch ms), null when never seen. */
  lastSeen: number | null;
  clockSuspect: boolean;
  /** Latest value of each metric reported, by metric name (units from the metric catalogue). */
  latest: Readonly<Record<string, LatestValueBody>>;
  /** The hourly VN_AQI and its band, for an air-quality station that has one. */
  aqi: { value: number; band: AqiBand } | null;
  /** Worst severity among the device's open alerts (pending excluded), null when none. */
  alertSeverity: Severity | null;
}

/** How a marker shows a device, most urgent first: an open alert beats connectivity. */
export const MARKER_STATES = ['alerting', 'offline', 'unknown', 'online', 'inactive'] as const;
export type MarkerState = (typeof MARKER_STATES)[number];

/**
 * The marker state of a device: `inactive` (suspended or retired in the registry), `alerting`
 * (an open alert that is firing or acknowledged), else its connectivity status.
 */
export function markerStateOf(view: Pick<DeviceView, 'state' | 'status' | 'alertSeverity'>): MarkerState {
  if (view.state !== 'active') return 'inactive';
  if (view.alertSeverity !== null) return 'alerting';
  return view.status;
}

function aqiOf(latest: Readonly<Record<string, LatestValueBody>>): DeviceView['aqi'] {
  const value = latest['aqi']?.value;
  return typeof value === 'number' && Number.isFinite(value) && value >= 0
    ? { value, band: aqiBand(value).band }
    : null;
}

/** A device view from one entry of `GET /api/v1/devices/status` (no alert yet: the alert store adds it). */
export function deviceViewFromStatus(entry: DeviceStatusEntryBody): DeviceView {
  const lastSeen = entry.status.lastSeen === undefined ? null : Date.parse(entry.status.lastSeen);
  return {
    id: entry.id,
    name: entry.name,
    type: entry.type,
    domain: entry.domain,
    areaId: entry.areaId,
    areaPath: [],
    lat: entry.location.lat,
    lon: entry.location.lon,
    state: entry.state,
    status: entry.status.status,
    statusSince: entry.status.since === null ? null : Date.parse(entry.status.since),
    lastSeen,
    clockSuspect: entry.status.clockSuspect,
    latest: entry.metrics,
    aqi: aqiOf(entry.metrics),
    alertSeverity: null,
  };
}

/**
 * True when `reading` would change `view` (`withReading` / `applyReadingTo`): a metric newer than
 * (or as new as) its latest value, or the first area path. Allocates nothing.
 */
export function readingChanges(
  view: DeviceView,
  reading: Pick<Reading, 'ts' | 'metrics' | 'areaPath'>,
): boolean {
  if (view.areaPath.length === 0 && reading.areaPath.length > 0) return true;
  for (const metric in reading.metrics) {
    const previous = view.latest[metric];
    if (previous === undefined || previous.ts <= reading.ts) return true;
  }
  return false;
}

/**
 * Applies a live reading to a view the caller owns and has not handed out (the device store's
 * per-frame draft): the same rules as `withReading`, but `draft` and `draft.latest` are mutated in
 * place (so `draft.latest` must be the caller's own copy). Returns true when anything changed.
 */
export function applyReadingTo(
  draft: DeviceView & { latest: Record<string, LatestValueBody> },
  reading: Pick<Reading, 'ts' | 'metrics' | 'event' | 'areaPath'>,
  units: Readonly<Record<string, string>>,
): boolean {
  let changed = false;
  let aqiChanged = false;
  const latest = draft.latest;
  for (const metric in reading.metrics) {
    const value = reading.metrics[metric];
    if (value === undefined) continue;
    const previous = latest[metric];
    if (previous !== undefined && previous.ts > reading.ts) continue;
    latest[metric] =
      reading.event === undefined
        ? { value, ts: reading.ts, unit: units[metric] ?? '' }
        : { value, ts: reading.ts, unit: units[metric] ?? '', event: reading.event };
    changed = true;
    if (metric === 'aqi') aqiChanged = true;
  }
  if (draft.areaPath.length === 0 && reading.areaPath.length > 0) {
    draft.areaPath = reading.areaPath;
    changed = true;
  }
  if (changed) {
    draft.lastSeen = Math.max(draft.lastSeen ?? 0, reading.ts);
    if (aqiChanged) draft.aqi = aqiOf(latest);
  }
  return changed;
}

/**
 * The view after a live reading: each metric it carries replaces an older latest value (an older
 * reading — a store-and-forward backlog — leaves newer values alone). Units come from `units`
 * (metric name → display unit, the metric catalogue's). Returns the same object when nothing changed.
 */
export function withReading(
  view: DeviceView,
  reading: Pick<Reading, 'ts' | 'metrics' | 'event' | 'areaPath'>,
  units: Readonly<Record<string, string>>,
): DeviceView {
  if (!readingChanges(view, reading)) return view;
  const draft = { ...view, latest: { ...view.latest } };
  applyReadingTo(draft, reading, units);
  return draft;
}
