import { bandRecord } from '@ioc/aqi';
import type { ConsoleLocale } from '@ioc/contracts';
import type { MapDevice } from '../map-device';
import { STATE_SYMBOLS } from '../messages';
import { MARKER_KINDS } from './marker-kinds';
import { markerLabel, severityBadge } from './marker-text';
import './markers.css';

/** VN_AQI bands dark enough that the AQI number is drawn in white (Xấu, Rất xấu, Nguy hại). */
const DARK_BANDS = new Set(['bad', 'veryBad', 'hazardous']);

/**
 * A device marker element, built with DOM APIs only (no innerHTML, no image URL). DOM contract:
 * `.ioc-marker[data-device-id][data-state][data-domain][data-type]` (+ `data-aqi-band`),
 * `tabindex=0`, `role=button`, `aria-label`. The map positions it and handles its events.
 */
export function createMarkerElement(device: MapDevice, locale: ConsoleLocale): HTMLElement {
  const el = document.createElement('div');
  const kind = MARKER_KINDS[device.domain];
  el.className = `ioc-marker ioc-marker--${kind?.shape ?? 'circle'}`;
  el.tabIndex = 0;
  el.setAttribute('role', 'button');
  el.dataset['deviceId'] = device.id;
  const body = document.createElement('span');
  body.className = 'ioc-marker__body';
  const glyph = document.createElement('span');
  glyph.className = 'ioc-marker__glyph';
  body.append(glyph);
  const badge = document.createElement('span');
  badge.className = 'ioc-marker__badge';
  badge.setAttribute('aria-hidden', 'true');
  el.append(body, badge);
  updateMarkerElement(el, device, locale);
  return el;
}

/**
 * Brings `el` up to date with `device`, touching only what changed (the element is reused for the
 * device's whole life on the map).
 */
export function updateMarkerElement(el: HTMLElement, device: MapDevice, locale: ConsoleLocale): void {
  const kind = MARKER_KINDS[device.domain];
  setData(el, 'state', device.state);
  setData(el, 'domain', device.domain);
  setData(el, 'type', device.type);
  setData(el, 'severity', device.state === 'alerting' ? (device.alertSeverity ?? undefined) : undefined);
  setData(el, 'aqiBand', device.aqi?.band);
  const label = markerLabel(device, locale);
  if (el.getAttribute('aria-label') !== label) el.setAttribute('aria-label', label);
  const glyph = el.firstElementChild?.firstElementChild as HTMLElement;
  const text = device.aqi !== null ? String(Math.round(device.aqi.value)) : (kind?.glyph(device.type) ?? '?');
  if (glyph.textContent !== text) glyph.textContent = text;
  const fill = device.aqi !== null ? bandRecord(device.aqi.band).colour : '';
  if (el.style.getPropertyValue('--ioc-fill') !== fill) {
    if (fill === '') el.style.removeProperty('--ioc-fill');
    else el.style.setProperty('--ioc-fill', fill);
  }
  el.classList.toggle('ioc-marker--aqi', device.aqi !== null);
  el.classList.toggle('ioc-marker--aqi-dark', device.aqi !== null && DARK_BANDS.has(device.aqi.band));
  const badge = el.lastElementChild as HTMLElement;
  const symbol = device.state === 'alerting' ? severityBadge(device) : STATE_SYMBOLS[device.state];
  if (badge.textContent !== symbol) badge.textContent = symbol;
}

function setData(el: HTMLElement, key: string, value: string | undefined): void {
  if (value === undefined) {
    if (key in el.dataset) delete el.dataset[key];
  } else if (el.dataset[key] !== value) el.dataset[key] = value;
}
