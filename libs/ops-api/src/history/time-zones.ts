import {
  DEFAULT_HISTORY_TIME_ZONE,
  HISTORY_TIME_ZONE_NAMES,
  HISTORY_TIME_ZONES,
  type HistoryTimeZone,
} from '@ioc/contracts';

/** Time zones for windowed figures (defined in the contracts, HISTORY_TIME_ZONES: fixed offsets). */
export const TIME_ZONES = HISTORY_TIME_ZONES;
export type TimeZoneName = HistoryTimeZone;
export const TIME_ZONE_NAMES = HISTORY_TIME_ZONE_NAMES;
export const DEFAULT_TIME_ZONE: TimeZoneName = DEFAULT_HISTORY_TIME_ZONE;

/** Window alignment offset for `every` in zone `tz`: the zone's offset modulo the window. */
export function windowOffsetMs(tz: TimeZoneName, everyMs: number): number {
  return TIME_ZONES[tz] % everyMs;
}

/** ISO-8601 local time with the zone's offset, e.g. `2026-11-27T08:00:00.000+07:00`. */
export function formatInZone(ts: number, tz: TimeZoneName): string {
  const offset = TIME_ZONES[tz];
  if (offset === 0) return new Date(ts).toISOString();
  const local = new Date(ts + offset).toISOString().slice(0, -1);
  const hours = Math.floor(Math.abs(offset) / 3_600_000);
  const minutes = Math.floor((Math.abs(offset) % 3_600_000) / 60_000);
  return `${local}${offset < 0 ? '-' : '+'}${String(hours).padStart(2, '0')}:${String(minutes).padStart(2, '0')}`;
}
