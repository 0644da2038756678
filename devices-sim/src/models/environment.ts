import type { Device } from '@ioc/contracts';
import { HOUR_MS, localHour } from '../local-time';
import { gaussian, prngFor, smoothNoise } from '../prng';
import { clamp, metric } from './clamp';
import type { ModelContext, ModelOutput } from './model-types';
import { sunFactor, trafficFactor, wetSeason } from './profiles';
import { ambientWeather } from './weather';

const isHighwayRoad = (device: Device): boolean =>
  device.attributes?.['roadClass'] === 'highway' || (device.attributes?.['road'] ?? '').startsWith('Quốc lộ');

/**
 * Ambient air: a background that is worse in the dry season (dust, cane-field burning), raised by
 * traffic at rush hour (PM, NO₂, CO) — strongly at roadside stations, less at background ones —
 * and ozone that builds with sunshine into the early afternoon.
 */
export function airQuality(device: Device, tMs: number, ctx: ModelContext): ModelOutput {
  const rng = prngFor(ctx.seed, device.id, tMs);
  const traffic = trafficFactor(tMs) * (device.attributes?.['site'] === 'background' ? 0.45 : 1);
  const dry = 1 - wetSeason(tMs);
  const drift = smoothNoise(ctx.seed, `${device.id}:pm`, tMs, 6 * HOUR_MS);
  const h = localHour(tMs);
  // Shallow night-time boundary layer keeps the evening's particles near the ground.
  const inversion = h >= 21 || h < 3 ? 1.15 : 1;
  const pm25 = (18 + 14 * dry) * (0.75 + 0.8 * traffic) * (1 + 0.2 * drift) * inversion + 1.5 * gaussian(rng);
  const pm10 =
    pm25 * (1.6 + 0.2 * smoothNoise(ctx.seed, `${device.id}:pm10`, tMs, 8 * HOUR_MS)) + 6 * traffic;
  const no2 = 12 + 60 * traffic + 3 * gaussian(rng);
  const co = 450 + 2300 * traffic + 80 * gaussian(rng);
  const so2 = 6 + 3 * (1 + smoothNoise(ctx.seed, `${device.id}:so2`, tMs, 12 * HOUR_MS)) + 2 * traffic;
  // NO from exhaust titrates ozone, so heavy traffic lowers it a little.
  const o3 = 15 + 95 * sunFactor(tMs, 1.5) ** 1.5 * (1 - 0.3 * traffic) + 4 * gaussian(rng);
  const weather = ambientWeather(ctx.seed, device.areaId, tMs);
  return {
    channel: 'telemetry',
    metrics: {
      pm25: metric('pm25', Math.max(2, pm25), 1),
      pm10: metric('pm10', Math.max(4, pm10), 1),
      no2: metric('no2', Math.max(1, no2), 1),
      so2: metric('so2', Math.max(0.5, so2), 1),
      co: metric('co', Math.max(100, co), 0),
      o3: metric('o3', Math.max(1, o3), 1),
      temperature: metric('temperature', weather.temperature + 0.2 * gaussian(rng), 1),
      relativeHumidity: metric('relativeHumidity', weather.relativeHumidity, 3),
    },
  };
}

/**
 * Surface water changes slowly: drifts over days, photosynthesis raising dissolved oxygen and pH
 * in the afternoon, and wet-season run-off making the river turbid. The Dầu Tiếng reservoir is
 * clearer and better oxygenated than the Vàm Cỏ Đông.
 */
export function waterQuality(device: Device, tMs: number, ctx: ModelContext): ModelOutput {
  const reservoir = device.attributes?.['waterBody'] === 'reservoir';
  const wet = wetSeason(tMs);
  const photosynthesis = sunFactor(tMs, 2);
  const slow = (name: string, hours: number) =>
    smoothNoise(ctx.seed, `${device.id}:${name}`, tMs, hours * HOUR_MS);
  const ph = (reservoir ? 7.3 : 7.0) + 0.25 * slow('ph', 36) + 0.15 * photosynthesis;
  const dissolvedOxygen = (reservoir ? 6.4 : 4.8) + 1.3 * photosynthesis + 0.6 * slow('do', 24) - 0.5 * wet;
  const turbidity = reservoir
    ? 6 + 8 * wet + 3 * (1 + slow('turb', 48))
    : 30 + 60 * wet * (0.6 + 0.4 * slow('turb', 48)) + 8 * (1 + slow('turb2', 12));
  const cod = (reservoir ? 8 : 13) + 3 * slow('cod', 72) + 4 * wet;
  const temperature =
    28.5 + 1.2 * Math.sin((2 * Math.PI * (localHour(tMs) - 10)) / 24) + 0.8 * slow('temp', 96);
  return {
    channel: 'telemetry',
    metrics: {
      ph: metric('ph', ph, 2),
      dissolvedOxygen: metric('dissolvedOxygen', Math.max(0.5, dissolvedOxygen), 2),
      turbidity: metric('turbidity', Math.max(1, turbidity), 1),
      cod: metric('cod', Math.max(2, cod), 1),
      temperature: metric('temperature', temperature, 1),
    },
  };
}

/** Background LAeq of a Vietnamese town at night with no traffic nearby (insects, distant hum), dBA. */
export const NOISE_BACKGROUND_DBA = 38;
/** How much quieter a night hour is than its traffic alone would make it (fewer lorries and horns, lower speeds), dB. */
export const NOISE_NIGHT_REDUCTION_DB = 8;
/**
 * A special zone's meter (QCVN 26:2010/BTNMT "khu vực đặc biệt": hospitals, schools, libraries,
 * `noiseZone: "special"`) stands back from the road behind the grounds they guard: this much quieter, dB.
 */
export const NOISE_SPECIAL_ZONE_OFFSET_DB = -12;

/**
 * 0 by day … 1 at night for QCVN 26:2010/BTNMT's hours (day 06:00–21:00, night 21:00–06:00, local
 * UTC+7): 1 throughout the night, ramping up over 20:30–21:00 and down over 06:00–06:30 (so both
 * ends of the night are fully quiet).
 */
export function noiseNightFactor(tMs: number): number {
  const h = localHour(tMs);
  if (h >= 21 || h < 6) return 1;
  if (h >= 20.5) return (h - 20.5) / 0.5;
  if (h < 6.5) return (6.5 - h) / 0.5;
  return 0;
}

/**
 * Road noise follows the traffic (an energy sum, hence the logarithm), horns adding peaks on top;
 * highways carry more heavy vehicles and are louder. It follows QCVN 26's day and night: at night
 * (21–06 h local) the road is NOISE_NIGHT_REDUCTION_DB quieter, so a normal-zone meter stays under
 * the 55 dBA night limit (≈ 51–53 dBA at 21 h, ≈ 46–48 late at night) and a special-zone meter
 * (NOISE_SPECIAL_ZONE_OFFSET_DB) under 45 dBA at night and 55 dBA by day, most of the time; the
 * road adds to a NOISE_BACKGROUND_DBA floor. Day values (normal zone ≈ 60–68 dBA at rush hour)
 * stay under the 70 dBA day limit.
 */
export function noise(device: Device, tMs: number, ctx: ModelContext): ModelOutput {
  const rng = prngFor(ctx.seed, device.id, tMs);
  const loudness = isHighwayRoad(device) ? 1.6 : 1;
  const zone = device.attributes?.['noiseZone'] === 'special' ? NOISE_SPECIAL_ZONE_OFFSET_DB : 0;
  const road =
    48 +
    10 * Math.log10(1 + 60 * trafficFactor(tMs) * loudness) -
    NOISE_NIGHT_REDUCTION_DB * noiseNightFactor(tMs) +
    zone;
  const laeq = 10 * Math.log10(10 ** (road / 10) + 10 ** (NOISE_BACKGROUND_DBA / 10)) + gaussian(rng);
  const lamax = laeq + 8 + 12 * rng();
  return {
    channel: 'telemetry',
    metrics: { laeq: metric('laeq', laeq, 1), lamax: metric('lamax', lamax, 1) },
  };
}

/** An automatic weather station reporting the area's weather with its own sensor noise. */
export function weather(device: Device, tMs: number, ctx: ModelContext): ModelOutput {
  const rng = prngFor(ctx.seed, device.id, tMs);
  const w = ambientWeather(ctx.seed, device.areaId, tMs);
  return {
    channel: 'telemetry',
    metrics: {
      temperature: metric('temperature', w.temperature + 0.1 * gaussian(rng), 1),
      relativeHumidity: metric(
        'relativeHumidity',
        clamp(w.relativeHumidity + 0.005 * gaussian(rng), 0, 1),
        3,
      ),
      windSpeed: metric('windSpeed', Math.max(0, w.windSpeed + 0.2 * gaussian(rng)), 1),
      windDirection: metric('windDirection', w.windDirection, 0),
      precipitation: metric('precipitation', (w.rainRate * ctx.periodSeconds) / 3600, 1),
      atmosphericPressure: metric('atmosphericPressure', w.atmosphericPressure + 0.1 * gaussian(rng), 1),
      solarRadiation: metric('solarRadiation', Math.max(0, w.solarRadiation * (1 + 0.02 * gaussian(rng))), 0),
    },
  };
}
