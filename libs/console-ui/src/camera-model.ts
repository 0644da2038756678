import { CAMERA_EVENT_LABELS, formatDateTime, labelOf } from '@ioc/console-data';
import type { ConsoleLocale, LatestValueBody, MetricValue, Reading } from '@ioc/contracts';
import { formatValueWithUnit } from './value-format';

/*
 * The camera tiles' model: links from the registry's attributes made safe, and the latest
 * detection events. Pure functions, unit-tested in node.
 */

/** Most detection events a tile lists. */
export const CAMERA_EVENTS_LIMIT = 5;

/** URL schemes a camera link may have: web pages and images, and RTSP streams for a video player. */
export const SAFE_LINK_PROTOCOLS: ReadonlySet<string> = new Set(['http:', 'https:', 'rtsp:']);

/** A camera link as the tiles may show it (safeLink). */
export type SafeLink =
  { kind: 'link'; href: string; credentialsHidden: boolean } | { kind: 'invalid' } | { kind: 'absent' };

/**
 * A registry attribute as a link: the URL as the browser reads it (`new URL`, absolute only)
 * when its scheme is http, https or rtsp; `invalid` for anything else (`javascript:`, `data:`,
 * relative or malformed text), which is shown as text, never as a link; `absent` when not set.
 * A user name or password in the URL (`rtsp://user:pass@host/…`, RFC 3986 §3.2.1 userinfo) is
 * removed from the href and `credentialsHidden` is true: the console never shows or links a
 * credential (the operator's player asks for it instead).
 */
export function safeLink(raw: string | undefined): SafeLink {
  if (raw === undefined || raw.trim() === '') return { kind: 'absent' };
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    return { kind: 'invalid' };
  }
  if (!SAFE_LINK_PROTOCOLS.has(url.protocol)) return { kind: 'invalid' };
  const credentialsHidden = url.username !== '' || url.password !== '';
  url.username = '';
  url.password = '';
  return { kind: 'link', href: url.href, credentialsHidden };
}

/**
 * A link's visible text: its label, followed by `hiddenNote` ("(thông tin đăng nhập đã ẩn)" /
 * "(login details hidden)") when safeLink removed credentials from it.
 */
export function linkText(label: string, link: SafeLink, hiddenNote: string): string {
  return link.kind === 'link' && link.credentialsHidden ? `${label} ${hiddenNote}` : label;
}

/** One detection event of a camera. */
export interface CameraEvent {
  /** accident, wrongWay, congestion, crowd, vehicleCount (DEVICE_TYPE_CONTRACTS.camera.events). */
  event: string;
  /** Observation time, epoch ms. */
  ts: number;
  metrics: Readonly<Record<string, MetricValue>>;
}

/**
 * The events a device view's latest values hold: the latest value of each event metric carries
 * the event it came from (`event`); values of the same event and time are one event.
 */
export function eventsFromLatest(latest: Readonly<Record<string, LatestValueBody>>): CameraEvent[] {
  const byKey = new Map<string, { event: string; ts: number; metrics: Record<string, MetricValue> }>();
  for (const [metric, entry] of Object.entries(latest)) {
    if (entry.event === undefined) continue;
    const key = `${entry.ts}/${entry.event}`;
    let event = byKey.get(key);
    if (event === undefined) {
      event = { event: entry.event, ts: entry.ts, metrics: {} };
      byKey.set(key, event);
    }
    event.metrics[metric] = entry.value;
  }
  return [...byKey.values()];
}

/** A live reading as an event, when it is one (`kind: 'event'` with its event name). */
export function eventFromReading(
  reading: Pick<Reading, 'kind' | 'event' | 'ts' | 'metrics'>,
): CameraEvent | null {
  if (reading.kind !== 'event' || reading.event === undefined) return null;
  return { event: reading.event, ts: reading.ts, metrics: { ...reading.metrics } };
}

/**
 * The events after new ones: newest first, one per (event, ts) — a newer copy of the same event
 * adds its metrics — at most `limit`.
 */
export function mergeCameraEvents(
  events: readonly CameraEvent[],
  incoming: readonly CameraEvent[],
  limit = CAMERA_EVENTS_LIMIT,
): CameraEvent[] {
  const byKey = new Map<string, CameraEvent>();
  for (const event of [...events, ...incoming]) {
    const key = `${event.ts}/${event.event}`;
    const previous = byKey.get(key);
    byKey.set(
      key,
      previous === undefined ? event : { ...event, metrics: { ...previous.metrics, ...event.metrics } },
    );
  }
  return [...byKey.values()].sort((a, b) => b.ts - a.ts || a.event.localeCompare(b.event)).slice(0, limit);
}

/** The metric that says most about each event: its key value. */
const KEY_METRIC: Readonly<Record<string, readonly string[]>> = {
  accident: ['confidence'],
  wrongWay: ['confidence'],
  congestion: ['congestionLevel'],
  crowd: ['peopleCount', 'confidence'],
  vehicleCount: ['count'],
};

/** An event as a tile line: its label, its time (Vietnam time, time of day) and its key value. */
export function describeCameraEvent(
  event: CameraEvent,
  locale: ConsoleLocale,
): { label: string; time: string; value: string } {
  const metric = (KEY_METRIC[event.event] ?? Object.keys(event.metrics)).find(
    (m) => event.metrics[m] !== undefined,
  );
  const raw = metric === undefined ? undefined : event.metrics[metric];
  let value = '';
  if (metric !== undefined && raw !== undefined) {
    value = formatValueWithUnit(metric, raw, locale);
  }
  return {
    label: labelOf(CAMERA_EVENT_LABELS, event.event, locale),
    time: formatDateTime(event.ts, locale),
    value,
  };
}
