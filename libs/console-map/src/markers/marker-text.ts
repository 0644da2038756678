import { bandRecord } from '@ioc/aqi';
import {
  DEVICE_TYPE_LABELS,
  METRIC_LABELS,
  SEVERITY_LABELS,
  formatNumber,
  interpolate,
  labelOf,
} from '@ioc/console-data';
import type { ConsoleLocale } from '@ioc/contracts';
import type { MapDevice } from '../map-device';
import { MAP_MESSAGES, MARKER_STATE_LABELS } from '../messages';

/**
 * A marker's accessible name: device name, state label, severity when alerting, and for a
 * station with an AQI its value and band name ("Trạm Hòa Thành, Trực tuyến, AQI 72 (Trung bình)").
 */
export function markerLabel(device: MapDevice, locale: ConsoleLocale): string {
  const parts = [device.name, MARKER_STATE_LABELS[device.state][locale]];
  if (device.state === 'alerting' && device.alertSeverity !== null) {
    parts.push(
      interpolate(MAP_MESSAGES[locale].severity, { severity: SEVERITY_LABELS[device.alertSeverity][locale] }),
    );
  }
  if (device.aqi !== null) parts.push(aqiText(device, locale));
  return parts.join(', ');
}

/** "AQI 72 (Trung bình)" for a device with an AQI, '' otherwise. */
export function aqiText(device: MapDevice, locale: ConsoleLocale): string {
  if (device.aqi === null) return '';
  return interpolate(MAP_MESSAGES[locale].aqi, {
    value: formatNumber(Math.round(device.aqi.value), locale, 0),
    band: bandRecord(device.aqi.band).name[locale],
  });
}

/**
 * Formats one metric value with its unit for display (`42,5 %`, `Có`); console-ui's
 * `formatValueWithUnit` has this signature and knows fractions and enumerations.
 */
export type ValueFormatter = (
  metric: string,
  value: number | boolean | string,
  locale: ConsoleLocale,
  unit: string,
) => string;

const YES_NO: Readonly<Record<ConsoleLocale, readonly [string, string]>> = {
  vi: ['Có', 'Không'],
  en: ['Yes', 'No'],
};

/** The map's default value format: booleans Có/Không, numbers in the language's format with the unit, strings as they are. */
export const defaultValueFormatter: ValueFormatter = (_metric, value, locale, unit) => {
  const text =
    typeof value === 'boolean'
      ? YES_NO[locale][value ? 0 : 1]
      : typeof value === 'number'
        ? formatNumber(value, locale)
        : value;
  return unit === '' || typeof value !== 'number' ? text : `${text} ${unit}`;
};

/** The lines of a marker's tooltip: name; type and id; state (and severity); AQI or the main value. */
export function tooltipLines(
  device: MapDevice,
  locale: ConsoleLocale,
  formatValue: ValueFormatter = defaultValueFormatter,
): string[] {
  const lines = [
    device.name,
    `${labelOf(DEVICE_TYPE_LABELS, device.type, locale)} · ${MAP_MESSAGES[locale].id}: ${device.id}`,
  ];
  let state = MARKER_STATE_LABELS[device.state][locale];
  if (device.state === 'alerting' && device.alertSeverity !== null) {
    state += ` (${SEVERITY_LABELS[device.alertSeverity][locale]})`;
  }
  lines.push(state);
  if (device.aqi !== null) lines.push(aqiText(device, locale));
  else if (device.main) {
    const { metric, value, unit } = device.main;
    lines.push(`${labelOf(METRIC_LABELS, metric, locale)}: ${formatValue(metric, value, locale, unit)}`);
  }
  return lines;
}

/** Severity as a text cue on an alerting marker's badge: ! info, !! warning, !!! critical. */
export function severityBadge(device: MapDevice): string {
  switch (device.alertSeverity) {
    case 'critical':
      return '!!!';
    case 'warning':
      return '!!';
    case 'info':
      return '!';
    case null:
      return '!';
  }
}
