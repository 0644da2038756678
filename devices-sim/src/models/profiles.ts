import { localDayOfYear, localHour, localWeekday } from '../local-time';
import { clamp } from './clamp';

const bump = (h: number, centre: number, width: number): number =>
  Math.exp(-0.5 * ((h - centre) / width) ** 2);
const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));

/**
 * Relative traffic demand, 0–1, for Tây Ninh's roads: quiet nights, a daytime plateau and two
 * peaks, morning 7–9 h (school and work) and evening 16:30–18:30 h, local time. Weekends keep the
 * plateau but lose most of the commuting peaks.
 */
export function trafficFactor(tMs: number): number {
  const h = localHour(tMs);
  const weekday = localWeekday(tMs);
  const peakScale = weekday === 0 || weekday === 6 ? 0.45 : 1;
  const plateau = sigmoid((h - 6) / 0.45) * sigmoid((21.5 - h) / 0.6);
  const peaks = 0.44 * bump(h, 7.75, 0.6) + 0.5 * bump(h, 17.5, 0.65);
  return clamp(0.05 + 0.5 * plateau + peakScale * peaks, 0, 1);
}

/** Dry season (Dec–Apr) 0 … wet season (peak in September, south-west monsoon) 1. */
export function wetSeason(tMs: number): number {
  return 0.5 + 0.5 * Math.sin((2 * Math.PI * (localDayOfYear(tMs) - 165)) / 365);
}

/** Local sunrise and sunset hours at about 11° N: days are 11.5–12.7 h long through the year. */
export function sunTimes(tMs: number): { sunrise: number; sunset: number } {
  const seasonal = Math.cos((2 * Math.PI * (localDayOfYear(tMs) - 172)) / 365);
  return { sunrise: 5.95 - 0.25 * seasonal, sunset: 17.95 + 0.25 * seasonal };
}

/** Relative height of the sun, 0 at night, 1 at solar noon; `lagHours` delays it (heating, ozone). */
export function sunFactor(tMs: number, lagHours = 0): number {
  const { sunrise, sunset } = sunTimes(tMs);
  const h = localHour(tMs) - lagHours;
  if (h <= sunrise || h >= sunset) return 0;
  return Math.sin((Math.PI * (h - sunrise)) / (sunset - sunrise));
}
