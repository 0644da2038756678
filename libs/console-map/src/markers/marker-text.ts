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

/** The lines of a marker's tooltip: name; type and id; state (and severity); AQI or the main value. */
export function tooltipLines(device: MapDevice, locale: ConsoleLocale): string[] {
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
    const text = typeof value === 'number' ? formatNumber(value, locale) : String(value);
    lines.push(`${labelOf(METRIC_LABELS, metric, locale)}: ${text}${unit === '' ? '' : ` ${unit}`}`);
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
