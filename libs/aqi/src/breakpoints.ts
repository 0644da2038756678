/**
 * The breakpoint table of the Vietnamese air quality index, VN_AQI: Decision 1459/QĐ-TCMT of the
 * Vietnam Environment Administration (Tổng cục Môi trường), 12 November 2019, "Hướng dẫn kỹ thuật
 * tính toán và công bố chỉ số chất lượng không khí Việt Nam (VN_AQI)", Bảng 2 (the BPᵢ values of
 * each parameter; the guideline's Bảng 1 is the band scale of § 1.4). It replaced Decision 878/QĐ-TCMT (2011), whose tables differ.
 *
 * All concentrations are µg/m³, carbon monoxide included: the decision tabulates CO in µg/m³,
 * and the platform's metric catalogue stores every gas and particulate concentration in µg/m³.
 */

/**
 * The six parameters VN_AQI is computed from (Decision 1459/QĐ-TCMT: SO₂, CO, NO₂, O₃, PM10,
 * PM2.5), named as the platform's metric catalogue names them (FIWARE AirQualityObserved). The
 * order is the tie-break of `dominant` when two sub-indices are equal: particulates first.
 */
export const POLLUTANTS = ['pm25', 'pm10', 'o3', 'co', 'so2', 'no2'] as const;
export type Pollutant = (typeof POLLUTANTS)[number];

export function isPollutant(value: string): value is Pollutant {
  return (POLLUTANTS as readonly string[]).includes(value);
}

/** The particulate parameters; the decision requires at least one of them in every VN_AQI. */
export const PARTICULATES = ['pm25', 'pm10'] as const satisfies readonly Pollutant[];

/**
 * Averaging periods the table has a column for:
 * - `1h`: a 1-hour mean (O₃, CO, SO₂, NO₂ — hourly and daily VN_AQI);
 * - `8h`: an 8-hour mean (O₃ only, daily VN_AQI);
 * - `nowcast`: the 12-hour NowCast of PM10 / PM2.5 (hourly VN_AQI);
 * - `24h`: the 24-hour mean of PM10 / PM2.5 (daily VN_AQI).
 * PM's NowCast and 24-hour mean are read against the same PM column of Bảng 2.
 */
export const AVERAGINGS = ['1h', '8h', 'nowcast', '24h'] as const;
export type Averaging = (typeof AVERAGINGS)[number];

/** Which averaging periods each pollutant has a column for in Bảng 2. */
export const AVERAGINGS_OF: Readonly<Record<Pollutant, readonly Averaging[]>> = {
  pm25: ['nowcast', '24h'],
  pm10: ['nowcast', '24h'],
  o3: ['1h', '8h'],
  co: ['1h'],
  so2: ['1h'],
  no2: ['1h'],
};

/** The index values Iᵢ of Bảng 2's rows (the first row, I = 0 at concentration 0, is implicit). */
export const INDEX_BREAKPOINTS = [0, 50, 100, 150, 200, 300, 400, 500] as const;

/**
 * Bảng 2 of Decision 1459/QĐ-TCMT: the concentration BPᵢ (µg/m³) at each index value Iᵢ of
 * INDEX_BREAKPOINTS, per column. The first entry (0 µg/m³ ↔ I = 0) is the table's origin. O₃'s
 * 8-hour column stops at I = 300 (400 µg/m³): the decision's note to the table says that above it
 * the 1-hour value is used (see `subIndex`).
 */
export const CONCENTRATION_BREAKPOINTS = {
  o3_1h: [0, 160, 200, 300, 400, 800, 1000, 1200],
  o3_8h: [0, 100, 120, 170, 210, 400],
  co_1h: [0, 10_000, 30_000, 45_000, 60_000, 90_000, 120_000, 150_000],
  so2_1h: [0, 125, 350, 550, 800, 1600, 2100, 2630],
  no2_1h: [0, 100, 200, 700, 1200, 2350, 3100, 3850],
  pm10: [0, 50, 150, 250, 350, 420, 500, 600],
  pm25: [0, 25, 50, 80, 150, 250, 350, 500],
} as const satisfies Record<string, readonly number[]>;

/** The column of Bảng 2 that `pollutant` at `averaging` is read against. */
export function breakpointsOf(pollutant: Pollutant, averaging: Averaging): readonly number[] {
  if (!AVERAGINGS_OF[pollutant].includes(averaging)) {
    throw new RangeError(
      `VN_AQI has no ${averaging} column for ${pollutant} (Decision 1459/QĐ-TCMT, Bảng 2); ` +
        `use ${AVERAGINGS_OF[pollutant].join(' or ')}`,
    );
  }
  switch (pollutant) {
    case 'pm25':
      return CONCENTRATION_BREAKPOINTS.pm25;
    case 'pm10':
      return CONCENTRATION_BREAKPOINTS.pm10;
    case 'o3':
      return averaging === '8h' ? CONCENTRATION_BREAKPOINTS.o3_8h : CONCENTRATION_BREAKPOINTS.o3_1h;
    case 'co':
      return CONCENTRATION_BREAKPOINTS.co_1h;
    case 'so2':
      return CONCENTRATION_BREAKPOINTS.so2_1h;
    case 'no2':
      return CONCENTRATION_BREAKPOINTS.no2_1h;
  }
}
