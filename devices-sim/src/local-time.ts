/**
 * Vietnam keeps UTC+7 all year (no daylight saving), so local time is a fixed offset and needs no
 * time-zone database.
 */
export const VIETNAM_UTC_OFFSET_MS = 7 * 3_600_000;
export const HOUR_MS = 3_600_000;
export const DAY_MS = 24 * HOUR_MS;

const localMs = (tMs: number): number => tMs + VIETNAM_UTC_OFFSET_MS;

/** Hour of the local day as a fraction, 0 ≤ h < 24 (e.g. 17.5 for 17:30). */
export function localHour(tMs: number): number {
  const ms = ((localMs(tMs) % DAY_MS) + DAY_MS) % DAY_MS;
  return ms / HOUR_MS;
}

/** Days since 1970-01-01 counted in local time. */
export function localDayIndex(tMs: number): number {
  return Math.floor(localMs(tMs) / DAY_MS);
}

/** 0 = Sunday … 6 = Saturday, in local time. */
export function localWeekday(tMs: number): number {
  return (((localDayIndex(tMs) + 4) % 7) + 7) % 7; // 1970-01-01 was a Thursday
}

/** Day of the year, 0–365, in local time. */
export function localDayOfYear(tMs: number): number {
  const date = new Date(localMs(tMs));
  return Math.floor((localMs(tMs) - Date.UTC(date.getUTCFullYear(), 0, 1)) / DAY_MS);
}

/** Epoch ms of a local wall-clock time in Vietnam, e.g. `vietnamTime(2026, 3, 14, 17, 30)`. */
export function vietnamTime(year: number, month: number, day: number, hour = 0, minute = 0): number {
  return Date.UTC(year, month - 1, day, hour, minute) - VIETNAM_UTC_OFFSET_MS;
}
