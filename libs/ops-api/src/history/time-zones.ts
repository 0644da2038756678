/**
 * Time zones for windowed figures. Vietnam keeps UTC+7 all year (no daylight saving), so a
 * fixed offset aligns daily windows on local midnight exactly; zones with DST would need
 * calendar-aware windows and are not offered.
 */
export const TIME_ZONES = { UTC: 0, 'Asia/Ho_Chi_Minh': 7 * 3_600_000 } as const;
export type TimeZoneName = keyof typeof TIME_ZONES;
export const TIME_ZONE_NAMES = Object.keys(TIME_ZONES) as TimeZoneName[];
export const DEFAULT_TIME_ZONE: TimeZoneName = 'Asia/Ho_Chi_Minh';

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
