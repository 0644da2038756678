import { CAMERA_EVENT_LABELS, METRIC_LABELS, formatDateTime, formatNumber, labelOf } from '@ioc/console-data';
import {
  type ConsoleLocale,
  DEVICE_TYPE_CONTRACTS,
  type DeviceType,
  type LatestValueBody,
  METRIC_CATALOGUE,
  STATUS_METRICS,
  derivedMetricsOf,
  isMetricName,
  metricsOf,
} from '@ioc/contracts';

/*
 * How the device panel and the camera tiles show one metric value: pure functions (no DOM), so
 * they are unit-tested in node.
 */

/**
 * Metrics stored as a fraction 0–1 (METRIC_CATALOGUE: ucum `1`, range 0–1) that a person reads
 * as a percentage: 0.42 → `42 %`. The power factor (also 0–1) stays a ratio (0,95), as it is read.
 */
export const FRACTION_METRICS: ReadonlySet<string> = new Set([
  'relativeHumidity',
  'occupancy',
  'illuminanceLevel',
  'batteryLevel',
  'confidence',
  'congestionLevel',
]);

/** Display units of the catalogue that are English words, in each language (`vehicles` → `xe`). */
const UNIT_WORDS: Readonly<Record<string, Readonly<Record<ConsoleLocale, string>>>> = {
  vehicles: { vi: 'xe', en: 'vehicles' },
  circuits: { vi: 'mạch', en: 'circuits' },
  people: { vi: 'người', en: 'people' },
};

/** Names of enumeration values (METRIC_CATALOGUE kind `enum`) in each language; raw value otherwise. */
const ENUM_VALUE_LABELS: Readonly<
  Record<string, Readonly<Record<string, Readonly<Record<ConsoleLocale, string>>>>>
> = {
  signalMode: {
    fixedTime: { vi: 'Chu kỳ cố định', en: 'Fixed time' },
    actuated: { vi: 'Theo cảm biến', en: 'Actuated' },
    adaptive: { vi: 'Thích ứng', en: 'Adaptive' },
    manual: { vi: 'Điều khiển tay', en: 'Manual' },
    flashing: { vi: 'Nhấp nháy vàng', en: 'Amber flashing' },
    off: { vi: 'Tắt', en: 'Off' },
  },
  lampFault: {
    none: { vi: 'Không lỗi', en: 'None' },
    defectiveLamp: { vi: 'Hỏng bóng', en: 'Defective lamp' },
    columnIssue: { vi: 'Lỗi cột đèn', en: 'Column issue' },
    brokenLantern: { vi: 'Vỡ chao đèn', en: 'Broken lantern' },
    powerLoss: { vi: 'Mất điện', en: 'Power loss' },
  },
  vehicleType: {
    motorcycle: { vi: 'Xe máy', en: 'Motorcycle' },
    car: { vi: 'Ô tô', en: 'Car' },
    bus: { vi: 'Xe buýt', en: 'Bus' },
    lorry: { vi: 'Xe tải', en: 'Lorry' },
    bicycle: { vi: 'Xe đạp', en: 'Bicycle' },
    other: { vi: 'Khác', en: 'Other' },
  },
};

const YES_NO: Readonly<Record<ConsoleLocale, readonly [string, string]>> = {
  vi: ['Có', 'Không'],
  en: ['Yes', 'No'],
};

/** A value as shown: the text and the unit (empty when none; `%` for fractions). */
export interface FormattedValue {
  text: string;
  unit: string;
}

/**
 * One metric value for display in `locale`:
 * - booleans: `Có` / `Không` (`Yes` / `No`);
 * - FRACTION_METRICS: × 100 with at most one decimal, unit `%` (0.425 → `42,5` `%` in vi);
 * - other numbers: at most 2 decimals, grouped as the language groups (1234.5 → `1.234,5` in vi),
 *   with the catalogue's display unit (`unit` when the metric is not in the catalogue);
 * - enumerations (signalMode, lampFault, vehicleType): their name in the language; aqiDominant:
 *   the pollutant's metric label; any other string as it is (it is shown with textContent).
 */
export function formatMetricValue(
  metric: string,
  value: number | boolean | string,
  locale: ConsoleLocale,
  unit = '',
): FormattedValue {
  if (typeof value === 'boolean') return { text: YES_NO[locale][value ? 0 : 1], unit: '' };
  if (typeof value === 'string') {
    const label =
      ENUM_VALUE_LABELS[metric]?.[value]?.[locale] ??
      (metric === 'aqiDominant' ? labelOf(METRIC_LABELS, value, locale) : value);
    return { text: label, unit: '' };
  }
  if (FRACTION_METRICS.has(metric)) return { text: formatNumber(value * 100, locale, 1), unit: '%' };
  const catalogueUnit = isMetricName(metric) ? METRIC_CATALOGUE[metric].unit : unit;
  return { text: formatNumber(value, locale, 2), unit: UNIT_WORDS[catalogueUnit]?.[locale] ?? catalogueUnit };
}

/** `formatMetricValue` as one string: `42,5 %`, `35 µg/m³`, `Có`. */
export function formatValueWithUnit(
  metric: string,
  value: number | boolean | string,
  locale: ConsoleLocale,
  unit = '',
): string {
  const formatted = formatMetricValue(metric, value, locale, unit);
  return formatted.unit === '' ? formatted.text : `${formatted.text} ${formatted.unit}`;
}

const RELATIVE_UNITS: readonly [Intl.RelativeTimeFormatUnit, number][] = [
  ['day', 86_400_000],
  ['hour', 3_600_000],
  ['minute', 60_000],
  ['second', 1000],
];
const relativeFormats = new Map<ConsoleLocale, Intl.RelativeTimeFormat>();

/**
 * How long ago `instant` was, at `now` (epoch ms), in the largest whole unit: `2 phút trước`,
 * `3 giờ trước`, `5 giây trước` (vi) / `2 minutes ago` (en). Under one second: `bây giờ` / `now`.
 * An instant in the future (a device clock ahead) reads `sau 2 phút` / `in 2 minutes`.
 */
export function formatRelativeTime(instant: number, now: number, locale: ConsoleLocale): string {
  let format = relativeFormats.get(locale);
  if (format === undefined) {
    format = new Intl.RelativeTimeFormat(locale === 'vi' ? 'vi-VN' : 'en-GB', { numeric: 'auto' });
    relativeFormats.set(locale, format);
  }
  const delta = instant - now;
  for (const [unit, ms] of RELATIVE_UNITS) {
    const whole = Math.trunc(delta / ms);
    if (whole !== 0) return format.format(whole, unit);
  }
  return format.format(0, 'second');
}

/** One row of the latest-values table. */
export interface LatestRow {
  metric: string;
  label: string;
  value: string;
  unit: string;
  /** Camera event the value came from, as its label (`Tai nạn`), when it came from one. */
  event: string | null;
  /** Observation time in Vietnam time (`14:05:09 30/11/2026`). */
  time: string;
  ts: number;
}

/** Metric order of a device type: its telemetry and event metrics, then status, then derived ones. */
export function metricOrderOf(type: DeviceType): string[] {
  if (!Object.hasOwn(DEVICE_TYPE_CONTRACTS, type)) return [...STATUS_METRICS];
  return [...new Set<string>([...metricsOf(type), ...STATUS_METRICS, ...derivedMetricsOf(type)])];
}

/**
 * The rows of the latest-values table: one per metric reported, in the type's metric order
 * (metrics the type does not declare — a newer server's — last, by name).
 */
export function latestRows(
  type: DeviceType,
  latest: Readonly<Record<string, LatestValueBody>>,
  locale: ConsoleLocale,
): LatestRow[] {
  const order = metricOrderOf(type);
  const rank = (metric: string): number => {
    const index = order.indexOf(metric);
    return index === -1 ? order.length : index;
  };
  return Object.keys(latest)
    .sort((a, b) => rank(a) - rank(b) || a.localeCompare(b))
    .map((metric) => {
      const entry = latest[metric];
      const formatted = formatMetricValue(metric, entry.value, locale, entry.unit);
      return {
        metric,
        label: labelOf(METRIC_LABELS, metric, locale),
        value: formatted.text,
        unit: formatted.unit,
        event: entry.event === undefined ? null : labelOf(CAMERA_EVENT_LABELS, entry.event, locale),
        time: formatDateTime(entry.ts, locale),
        ts: entry.ts,
      };
    });
}
