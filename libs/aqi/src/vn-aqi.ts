/**
 * VN_AQI calculations of Decision 1459/QĐ-TCMT (12 Nov 2019): sub-indices, the PM NowCast, the
 * hourly and the daily station AQI. Pure and synchronous; every concentration is µg/m³ (CO
 * included), every timestamp epoch milliseconds UTC.
 */
import { AQI_MAX, aqiBand, roundAqi, type AqiBandRecord } from './bands';
import {
  INDEX_BREAKPOINTS,
  PARTICULATES,
  POLLUTANTS,
  breakpointsOf,
  type Averaging,
  type Pollutant,
} from './breakpoints';

/** One hour, ms. */
export const HOUR_MS = 3_600_000;

/**
 * Vietnam's offset from UTC, ms: +7 h all year (Indochina Time, no daylight saving). The daily
 * VN_AQI's day is the local day (hours 01:00–24:00); the platform's other local-time rules use
 * the same offset (contracts may re-export it).
 */
export const VIETNAM_UTC_OFFSET_MS = 7 * HOUR_MS;

/** A concentration the calculations accept: a finite number ≥ 0. Anything else is a missing value. */
function isConcentration(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0;
}

/**
 * The unrounded sub-index of one concentration by linear interpolation in the breakpoint table
 * (Decision 1459/QĐ-TCMT, hourly and daily calculation: AQIx = (Iᵢ₊₁ − Iᵢ) / (BPᵢ₊₁ − BPᵢ) ×
 * (Cx − BPᵢ) + Iᵢ, with BPᵢ ≤ Cx ≤ BPᵢ₊₁ in Bảng 2). `undefined` when the column ends below
 * Cx and the decision gives no value (O₃ 8-hour above 400 µg/m³); 500 (AQI_MAX) for any other
 * concentration above the column's last breakpoint, the top of the scale.
 */
export function subIndexUnrounded(
  pollutant: Pollutant,
  averaging: Averaging,
  concentration: number,
): number | undefined {
  if (!isConcentration(concentration)) {
    throw new RangeError(`concentration must be a finite number ≥ 0 µg/m³, got ${concentration}`);
  }
  const bp = breakpointsOf(pollutant, averaging);
  const top = bp.length - 1;
  if (concentration > bp[top]) return top === INDEX_BREAKPOINTS.length - 1 ? AQI_MAX : undefined;
  let i = 0;
  while (concentration > bp[i + 1]) i += 1;
  const [iLow, iHigh] = [INDEX_BREAKPOINTS[i], INDEX_BREAKPOINTS[i + 1]];
  return ((iHigh - iLow) / (bp[i + 1] - bp[i])) * (concentration - bp[i]) + iLow;
}

/**
 * The VN_AQI sub-index (an integer 0–500) of one pollutant's concentration (µg/m³) averaged over
 * `averaging` (Decision 1459/QĐ-TCMT; columns in `AVERAGINGS_OF`): linear interpolation in the
 * breakpoint table (Bảng 2), rounded UP to an integer (`roundAqi`, which says why).
 *
 * - Above the column's last breakpoint the sub-index is 500, the top of the scale (e.g. PM2.5
 *   above 500 µg/m³, CO above 150,000 µg/m³): the scale ends at 500 and the decision extrapolates
 *   nothing.
 * - O₃ 8-hour: the column ends at 400 µg/m³ (I = 300); above it the decision's note to the table
 *   says to use the 1-hour value, so this returns `undefined` and the caller uses the O₃ 1-hour
 *   sub-index (`dailyAqi` does).
 *
 * Throws RangeError for a column the table does not have (e.g. `('pm25', '1h')`) and for a
 * negative or non-finite concentration.
 */
export function subIndex(
  pollutant: Pollutant,
  averaging: Averaging,
  concentration: number,
): number | undefined {
  const value = subIndexUnrounded(pollutant, averaging, concentration);
  return value === undefined ? undefined : roundAqi(value);
}

/** Hours the PM NowCast looks back over (Decision 1459/QĐ-TCMT, hourly VN_AQI: 12 hours). */
export const NOWCAST_HOURS = 12;

/**
 * The NowCast's completeness rule (Decision 1459/QĐ-TCMT, hourly VN_AQI): of the 3 latest hours
 * (c₁, c₂, c₃), at least 2 must have a value.
 */
export const NOWCAST_RECENT_HOURS = 3;
export const NOWCAST_MIN_RECENT_HOURS = 2;

export type NowCastResult =
  | {
      ok: true;
      /** The NowCast concentration, µg/m³ (unrounded). */
      value: number;
      /** The weight w = max(Cmin / Cmax, ½) used. */
      weight: number;
      /** How many of the 12 hours had a value. */
      hours: number;
    }
  | { ok: false; reason: 'too-few-recent-hours'; detail: string };

/**
 * The 12-hour NowCast of PM2.5 or PM10 (Decision 1459/QĐ-TCMT, hourly VN_AQI, step 1), µg/m³.
 *
 * `hourlyMeans` holds 1-hour means, LATEST FIRST (c₁ is the hour the AQI is for, c₂ the hour
 * before…); entries past the 12th are ignored; `undefined`, `null`, NaN, infinities and negative
 * numbers are missing hours.
 *
 * - Refused (`ok: false`, `too-few-recent-hours`) unless at least 2 of c₁, c₂, c₃ exist.
 * - w* = Cmin / Cmax over the hours present; w = ½ if w* ≤ ½, else w = w*.
 * - w > ½: NowCast = Σ wⁱ⁻¹·cᵢ / Σ wⁱ⁻¹; w = ½: NowCast = Σ (½)ⁱ·cᵢ (i = 1…12).
 * - A missing hour is left out of every sum (numerator and denominator) — it contributes no term;
 *   the remaining hours keep their own exponent i.
 * - All hours 0 µg/m³ (Cmax = 0): NowCast 0 (w* is undefined there; any w gives 0).
 */
export function nowCast(hourlyMeans: readonly (number | null | undefined)[]): NowCastResult {
  const hours = hourlyMeans.slice(0, NOWCAST_HOURS);
  const recent = hours.slice(0, NOWCAST_RECENT_HOURS).filter(isConcentration).length;
  if (recent < NOWCAST_MIN_RECENT_HOURS) {
    return {
      ok: false,
      reason: 'too-few-recent-hours',
      detail: `NowCast needs at least ${NOWCAST_MIN_RECENT_HOURS} of the ${NOWCAST_RECENT_HOURS} latest hourly means, got ${recent}`,
    };
  }
  const present = hours.flatMap((c, index) => (isConcentration(c) ? [{ c, i: index + 1 }] : []));
  const cMax = Math.max(...present.map((h) => h.c));
  const cMin = Math.min(...present.map((h) => h.c));
  if (cMax === 0) return { ok: true, value: 0, weight: 0.5, hours: present.length };
  const w = Math.max(cMin / cMax, 0.5);
  if (w > 0.5) {
    let numerator = 0;
    let denominator = 0;
    for (const { c, i } of present) {
      numerator += w ** (i - 1) * c;
      denominator += w ** (i - 1);
    }
    return { ok: true, value: numerator / denominator, weight: w, hours: present.length };
  }
  let value = 0;
  for (const { c, i } of present) value += 0.5 ** i * c;
  return { ok: true, value, weight: 0.5, hours: present.length };
}

/** A station AQI: the highest sub-index, its pollutant and its band. */
export interface AqiOk {
  ok: true;
  /** The station AQI: the highest sub-index, an integer 0–500. */
  aqi: number;
  /** The pollutant whose sub-index is the AQI (ties: the first in POLLUTANTS order). */
  dominant: Pollutant;
  /** Integer sub-index of each pollutant that had a value. */
  subIndices: Partial<Record<Pollutant, number>>;
  /**
   * The concentration each sub-index was computed from, µg/m³: the NowCast (hourly PM), the
   * 24-hour mean (daily PM), the 1-hour mean or the daily max 1-hour mean (gases), the daily max
   * 1-hour mean (O₃ daily; `o3Max8h` holds the 8-hour one).
   */
  concentrations: Partial<Record<Pollutant, number>>;
  band: AqiBandRecord;
}

/** Why no AQI: the decision requires a particulate sub-index (PM10 or PM2.5) in every VN_AQI. */
export interface AqiRefused {
  ok: false;
  reason: 'no-particulate';
  detail: string;
}

export type HourlyAqiResult = AqiOk | AqiRefused;

/**
 * The inputs of one hour's VN_AQI, µg/m³. PM series are hourly means LATEST FIRST (the hour the AQI
 * is for first, up to 12), as `nowCast` takes them; gases are the 1-hour mean of that hour. Missing
 * values: omit the field or use `undefined` / NaN.
 */
export interface HourlyAqiInput {
  pm25?: readonly (number | null | undefined)[];
  pm10?: readonly (number | null | undefined)[];
  o3?: number | null;
  co?: number | null;
  so2?: number | null;
  no2?: number | null;
}

function stationAqi(
  subIndices: Partial<Record<Pollutant, number>>,
  concentrations: Partial<Record<Pollutant, number>>,
): AqiOk {
  // Callers only get here with at least one particulate sub-index, so `best` is set.
  let best: { pollutant: Pollutant; value: number } = { pollutant: 'pm25', value: -1 };
  for (const pollutant of POLLUTANTS) {
    const value = subIndices[pollutant];
    if (value !== undefined && value > best.value) best = { pollutant, value };
  }
  return {
    ok: true,
    aqi: best.value,
    dominant: best.pollutant,
    subIndices,
    concentrations,
    band: aqiBand(best.value),
  };
}

/**
 * The hourly VN_AQI of a station (Decision 1459/QĐ-TCMT, hourly VN_AQI): O₃, CO, SO₂ and NO₂ from
 * their 1-hour mean (`subIndex(p, '1h', …)`), PM2.5 and PM10 from their 12-hour NowCast
 * (`nowCast`, `subIndex(p, 'nowcast', …)`); the station AQI is the highest sub-index, with the
 * pollutant that gave it (`dominant`) and its band.
 *
 * Refused (`ok: false`, `no-particulate`) when neither PM2.5 nor PM10 yields a NowCast (absent, or
 * fewer than 2 of its 3 latest hours): the decision requires at least one of them in every VN_AQI.
 */
export function hourlyAqi(input: HourlyAqiInput): HourlyAqiResult {
  const subIndices: Partial<Record<Pollutant, number>> = {};
  const concentrations: Partial<Record<Pollutant, number>> = {};
  const pmProblems: string[] = [];
  for (const p of PARTICULATES) {
    const series = input[p];
    if (series === undefined) continue;
    const result = nowCast(series);
    if (!result.ok) {
      pmProblems.push(`${p}: ${result.detail}`);
      continue;
    }
    concentrations[p] = result.value;
    subIndices[p] = subIndex(p, 'nowcast', result.value);
  }
  if (subIndices.pm25 === undefined && subIndices.pm10 === undefined) {
    return {
      ok: false,
      reason: 'no-particulate',
      detail: `VN_AQI needs PM2.5 or PM10 (Decision 1459/QĐ-TCMT)${pmProblems.length > 0 ? `; ${pmProblems.join('; ')}` : ': neither was given'}`,
    };
  }
  for (const p of ['o3', 'co', 'so2', 'no2'] as const) {
    const c = input[p];
    if (!isConcentration(c)) continue;
    concentrations[p] = c;
    subIndices[p] = subIndex(p, '1h', c);
  }
  return stationAqi(subIndices, concentrations);
}

/** Hourly means in a local day (hours ending 01:00 … 24:00). */
export const HOURS_PER_DAY = 24;

/**
 * Hourly means a daily value needs, by default: 18 of 24 (75 %). The decision requires enough
 * data for a day to be representative; 75 % is the completeness criterion Vietnamese continuous
 * monitoring data are held to (and US EPA's for 24-hour and 8-hour means). Configurable per call
 * (`DailyAqiOptions.minHours`) — see the README's note on this rule.
 */
export const DEFAULT_DAILY_MIN_HOURS = 18;

/** Hourly means an 8-hour O₃ mean needs, by default: 6 of 8 (75 %, as DEFAULT_DAILY_MIN_HOURS). */
export const DEFAULT_8H_MIN_HOURS = 6;

/**
 * One local day's hourly means, µg/m³: index 0 is the hour ending 01:00 local (00:00–01:00),
 * index 23 the hour ending 24:00 (23:00–24:00) — the decision's day of hours 01:00…24:00 (hour
 * values labelled by their end). Missing hours: `undefined` / NaN; arrays may be shorter than 24
 * (the tail is missing). `o3Before` optionally holds the 7 hourly O₃ means before the day
 * (hours ending 18:00…24:00 of the day before, OLDEST first) so the 8-hour means ending at
 * 01:00…07:00 can be formed; without it those means have only this day's hours.
 */
export interface DailyAqiInput {
  pm25?: readonly (number | null | undefined)[];
  pm10?: readonly (number | null | undefined)[];
  o3?: readonly (number | null | undefined)[];
  o3Before?: readonly (number | null | undefined)[];
  co?: readonly (number | null | undefined)[];
  so2?: readonly (number | null | undefined)[];
  no2?: readonly (number | null | undefined)[];
}

export interface DailyAqiOptions {
  /** Hourly means a pollutant needs in the day to count (default DEFAULT_DAILY_MIN_HOURS, 18). */
  minHours?: number;
  /** Hourly means an 8-hour O₃ mean needs (default DEFAULT_8H_MIN_HOURS, 6). */
  min8hHours?: number;
}

export type DailyAqiResult = (AqiOk & { o3Max8h?: number }) | AqiRefused;

function presentValues(series: readonly (number | null | undefined)[] | undefined): number[] {
  return (series ?? []).slice(0, HOURS_PER_DAY).filter(isConcentration);
}

/**
 * The daily VN_AQI of a station (Decision 1459/QĐ-TCMT, daily VN_AQI) from one local day's hourly
 * means (`DailyAqiInput`):
 * - PM2.5, PM10: the 24-hour mean of the day's hourly means → `subIndex(p, '24h', …)`;
 * - O₃: the larger of the sub-index of the day's max 1-hour mean and that of its max 8-hour mean
 *   (8-hour means ending at each hour of the day; above 400 µg/m³ the 8-hour column gives no value
 *   and the 1-hour sub-index stands, per the table's note);
 * - SO₂, NO₂, CO: the sub-index of the day's max 1-hour mean.
 * A pollutant counts only with at least `minHours` hourly means in the day (default 18 of 24); an
 * 8-hour mean only with `min8hHours` of its 8 hours (default 6).
 *
 * Refused (`no-particulate`) when neither PM2.5 nor PM10 has enough hours. Throws RangeError for
 * options outside 1–24 / 1–8.
 */
export function dailyAqi(input: DailyAqiInput, options: DailyAqiOptions = {}): DailyAqiResult {
  const minHours = options.minHours ?? DEFAULT_DAILY_MIN_HOURS;
  const min8h = options.min8hHours ?? DEFAULT_8H_MIN_HOURS;
  if (!Number.isInteger(minHours) || minHours < 1 || minHours > HOURS_PER_DAY) {
    throw new RangeError(`minHours must be an integer 1–24, got ${minHours}`);
  }
  if (!Number.isInteger(min8h) || min8h < 1 || min8h > 8) {
    throw new RangeError(`min8hHours must be an integer 1–8, got ${min8h}`);
  }
  const subIndices: Partial<Record<Pollutant, number>> = {};
  const concentrations: Partial<Record<Pollutant, number>> = {};
  const pmProblems: string[] = [];
  for (const p of PARTICULATES) {
    if (input[p] === undefined) continue;
    const values = presentValues(input[p]);
    if (values.length < minHours) {
      pmProblems.push(`${p}: ${values.length} of ${HOURS_PER_DAY} hourly means, ${minHours} needed`);
      continue;
    }
    const mean = values.reduce((sum, c) => sum + c, 0) / values.length;
    concentrations[p] = mean;
    subIndices[p] = subIndex(p, '24h', mean);
  }
  if (subIndices.pm25 === undefined && subIndices.pm10 === undefined) {
    return {
      ok: false,
      reason: 'no-particulate',
      detail: `VN_AQI needs PM2.5 or PM10 (Decision 1459/QĐ-TCMT)${pmProblems.length > 0 ? `; ${pmProblems.join('; ')}` : ': neither was given'}`,
    };
  }
  for (const p of ['co', 'so2', 'no2'] as const) {
    const values = presentValues(input[p]);
    if (values.length < minHours) continue;
    const max = Math.max(...values);
    concentrations[p] = max;
    subIndices[p] = subIndex(p, '1h', max);
  }
  let o3Max8h: number | undefined;
  const o3Values = presentValues(input.o3);
  if (o3Values.length >= minHours) {
    const max1h = Math.max(...o3Values);
    concentrations.o3 = max1h;
    // The 1-hour column reaches 500, so this is always defined.
    let o3Index = subIndex('o3', '1h', max1h) ?? AQI_MAX;
    const before = (input.o3Before ?? []).slice(-7);
    const series = [
      ...Array.from({ length: 7 - before.length }, () => undefined),
      ...before,
      ...(input.o3 ?? []).slice(0, HOURS_PER_DAY),
    ];
    for (let end = 7; end < series.length; end += 1) {
      const window = series.slice(end - 7, end + 1).filter(isConcentration);
      if (window.length < min8h) continue;
      const mean = window.reduce((sum, c) => sum + c, 0) / window.length;
      if (o3Max8h === undefined || mean > o3Max8h) o3Max8h = mean;
    }
    if (o3Max8h !== undefined) {
      const index8h = subIndex('o3', '8h', o3Max8h);
      if (index8h !== undefined && index8h > o3Index) o3Index = index8h;
    }
    subIndices.o3 = o3Index;
  }
  const result = stationAqi(subIndices, concentrations);
  return o3Max8h === undefined ? result : { ...result, o3Max8h };
}

/**
 * The local day and hour of an hour's END in Vietnam (UTC+7), the labels the decision's daily
 * VN_AQI uses: the hour ending at 01:00 local is hour 1 of its day, the hour ending at 24:00
 * (00:00 of the next day) is hour 24 of the day before. `hourEndMs` must be a whole hour (epoch
 * ms); returns `{ day: 'YYYY-MM-DD', hour: 1…24, index: 0…23 }` (`index` for DailyAqiInput arrays).
 */
export function vietnamDayHourOf(hourEndMs: number): { day: string; hour: number; index: number } {
  if (!Number.isSafeInteger(hourEndMs) || hourEndMs % HOUR_MS !== 0) {
    throw new RangeError(`hourEndMs must be a whole hour in epoch ms, got ${hourEndMs}`);
  }
  const hourStartLocal = new Date(hourEndMs - HOUR_MS + VIETNAM_UTC_OFFSET_MS);
  const hour = hourStartLocal.getUTCHours() + 1;
  return { day: hourStartLocal.toISOString().slice(0, 10), hour, index: hour - 1 };
}
