import { HOUR_MS, localDayOfYear, localHour } from '../local-time';
import { smoothNoise, unitHash } from '../prng';
import { clamp } from './clamp';
import { sunFactor, wetSeason } from './profiles';

export interface AmbientWeather {
  temperature: number;
  relativeHumidity: number;
  windSpeed: number;
  windDirection: number;
  /** mm/h at this instant. */
  rainRate: number;
  atmosphericPressure: number;
  solarRadiation: number;
}

/** 0 at the daily minimum (about 05:30) rising to 1 at the maximum (about 14:00), then back down. */
function diurnalShape(h: number): number {
  if (h >= 5.5 && h < 14) return (1 - Math.cos((Math.PI * (h - 5.5)) / 8.5)) / 2;
  const sinceMax = (h - 14 + 24) % 24;
  return 1 - (1 - Math.cos((Math.PI * sinceMax) / 15.5)) / 2;
}

/**
 * The weather over one place (keyed by area id, so stations in the same area agree): tropical
 * savanna climate, 24–35 °C, humid nights, afternoon showers in the wet season (May–November).
 */
export function ambientWeather(seed: number, placeKey: string, tMs: number): AmbientWeather {
  const h = localHour(tMs);
  const wet = wetSeason(tMs);
  const doy = localDayOfYear(tMs);
  const afternoon = h >= 13 && h < 19 ? 1 : 0;
  const showerChance = wet * (0.05 + 0.3 * afternoon);
  const hourIndex = Math.floor(tMs / HOUR_MS);
  const raining = unitHash(seed, placeKey, 'rain', hourIndex) < showerChance;
  const rainRate = raining ? 1 + 24 * unitHash(seed, placeKey, 'rain-rate', hourIndex) ** 2 : 0;

  const mean = 27.8 + 1.6 * Math.cos((2 * Math.PI * (doy - 105)) / 365);
  const halfRange = 4.5 - 1.5 * wet;
  const shape = diurnalShape(h);
  const temperature =
    mean -
    halfRange +
    2 * halfRange * shape +
    0.8 * smoothNoise(seed, `${placeKey}:t`, tMs, 9 * HOUR_MS) -
    (raining ? 2.5 : 0);
  const relativeHumidity = clamp(
    0.95 -
      0.4 * shape +
      0.06 * wet +
      0.04 * smoothNoise(seed, `${placeKey}:rh`, tMs, 6 * HOUR_MS) +
      (raining ? 0.08 : 0),
    0.35,
    1,
  );
  const windSpeed = Math.max(
    0,
    1 +
      2.2 * sunFactor(tMs, 2) +
      0.8 * smoothNoise(seed, `${placeKey}:ws`, tMs, 3 * HOUR_MS) +
      (raining ? 2 : 0),
  );
  // South-west monsoon in the wet season, east to north-east trade winds in the dry season.
  const prevailing = wet > 0.5 ? 225 : 70;
  const windDirection =
    (prevailing + 35 * smoothNoise(seed, `${placeKey}:wd`, tMs, 12 * HOUR_MS) + 360) % 360;
  const atmosphericPressure =
    1010 -
    2.5 * wet +
    1.2 * Math.cos((4 * Math.PI * (h - 10)) / 24) + // atmospheric tide: highs near 10 h and 22 h
    smoothNoise(seed, `${placeKey}:p`, tMs, 48 * HOUR_MS);
  const cloud = raining
    ? 0.85
    : clamp(0.15 + 0.5 * wet + 0.3 * smoothNoise(seed, `${placeKey}:c`, tMs, 4 * HOUR_MS), 0, 0.9);
  const solarRadiation = 1050 * sunFactor(tMs) ** 1.15 * (1 - 0.75 * cloud);
  return {
    temperature,
    relativeHumidity,
    windSpeed,
    windDirection,
    rainRate,
    atmosphericPressure,
    solarRadiation,
  };
}
