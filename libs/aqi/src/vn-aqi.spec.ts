import { METRIC_CATALOGUE } from '@ioc/contracts';
import {
  AQI_BAND_RECORDS,
  CONCENTRATION_BREAKPOINTS,
  HOUR_MS,
  INDEX_BREAKPOINTS,
  POLLUTANTS,
  VIETNAM_UTC_OFFSET_MS,
  aqiBand,
  aqiValueBand,
  dailyAqi,
  hourlyAqi,
  nowCast,
  subIndex,
  vietnamDayHourOf,
  type Averaging,
  type Pollutant,
} from './index';

const hours = (n: number, value: number | undefined): (number | undefined)[] =>
  Array.from({ length: n }, () => value);

describe('subIndex (Decision 1459/QĐ-TCMT, Bảng 2)', () => {
  it.each([
    // The decision's worked examples.
    ['pm25', 'nowcast', 20.3, 41], // 50/25 × 20.3 = 40.6 → 41
    ['o3', '1h', 136.1, 43], // 50/160 × 136.1 = 42.53 → 43
    ['no2', '1h', 118.7, 60], // 50 + 50/100 × 18.7 = 59.35 → 60 (rounded up; nearest would give 59)
    ['pm25', '24h', 55.7, 110], // 100 + 50/30 × 5.7 = 109.5 → 110
    // By hand from the table.
    ['pm10', 'nowcast', 200, 125], // 100 + 50/100 × (200 − 150) = 125
    ['so2', '1h', 1000, 225], // 200 + 100/800 × (1000 − 800) = 225
    ['co', '1h', 20_000, 75], // 50 + 50/20000 × (20000 − 10000) = 75
    ['o3', '8h', 150, 130], // 100 + 50/50 × (150 − 120) = 130
    ['co', '1h', 100_000, 334], // 300 + 100/30000 × 10000 = 333.33 → 334
    ['no2', '1h', 3000, 387], // 300 + 100/750 × 650 = 386.67 → 387
    ['pm25', 'nowcast', 25.01, 51], // 50 + 2 × 0.01 = 50.02 → 51: just past the 'good' edge
    ['pm25', 'nowcast', 0, 0],
    // 50 + 50/40 × 0.8 = 51 exactly; in binary floating point 51.000000000000014, which must not
    // round up to 52.
    ['o3', '1h', 160.8, 51],
  ] as [Pollutant, Averaging, number, number][])('%s %s %d µg/m³ → %d', (p, averaging, c, expected) => {
    expect(subIndex(p, averaging, c)).toBe(expected);
  });

  it('gives exactly Iᵢ at every breakpoint of every column (no floating-point step into the next band)', () => {
    const columns: [Pollutant, Averaging, readonly number[]][] = [
      ['o3', '1h', CONCENTRATION_BREAKPOINTS.o3_1h],
      ['o3', '8h', CONCENTRATION_BREAKPOINTS.o3_8h],
      ['co', '1h', CONCENTRATION_BREAKPOINTS.co_1h],
      ['so2', '1h', CONCENTRATION_BREAKPOINTS.so2_1h],
      ['no2', '1h', CONCENTRATION_BREAKPOINTS.no2_1h],
      ['pm10', 'nowcast', CONCENTRATION_BREAKPOINTS.pm10],
      ['pm10', '24h', CONCENTRATION_BREAKPOINTS.pm10],
      ['pm25', 'nowcast', CONCENTRATION_BREAKPOINTS.pm25],
      ['pm25', '24h', CONCENTRATION_BREAKPOINTS.pm25],
    ];
    for (const [p, averaging, bps] of columns) {
      bps.forEach((bp, i) =>
        expect([p, averaging, bp, subIndex(p, averaging, bp)]).toEqual([
          p,
          averaging,
          bp,
          INDEX_BREAKPOINTS[i],
        ]),
      );
    }
    // The DOMAIN.md table, spot-checked: PM2.5 80 µg/m³ is 150 (50/30 × 30 is not exact in binary).
    expect(subIndex('pm25', 'nowcast', 80)).toBe(150);
    expect(subIndex('pm25', 'nowcast', 80.001)).toBe(151);
  });

  it('is 500 above the last breakpoint; O₃ 8-hour above 400 µg/m³ has no value (use the 1-hour)', () => {
    expect(subIndex('pm25', 'nowcast', 500.1)).toBe(500);
    expect(subIndex('pm25', '24h', 900)).toBe(500);
    expect(subIndex('co', '1h', 200_000)).toBe(500);
    expect(subIndex('o3', '1h', 1500)).toBe(500);
    expect(subIndex('o3', '8h', 400)).toBe(300);
    expect(subIndex('o3', '8h', 400.5)).toBeUndefined();
  });

  it('refuses a column the table lacks and a concentration that is not a finite number ≥ 0', () => {
    expect(() => subIndex('pm25', '1h', 10)).toThrow(/no 1h column for pm25/);
    expect(() => subIndex('no2', '8h', 10)).toThrow(RangeError);
    expect(() => subIndex('pm25', 'nowcast', -1)).toThrow(RangeError);
    expect(() => subIndex('pm25', 'nowcast', Number.NaN)).toThrow(RangeError);
  });
});

describe('nowCast (Decision 1459/QĐ-TCMT, hourly VN_AQI)', () => {
  it('is the plain value when every hour is equal (w = 1)', () => {
    const r = nowCast(hours(12, 30));
    expect(r).toEqual({ ok: true, value: 30, weight: 1, hours: 12 });
  });

  it('w > ½: Σ wⁱ⁻¹cᵢ / Σ wⁱ⁻¹', () => {
    // c = 40, 32, 36: w = 32/40 = 0.8; (40 + 0.8·32 + 0.64·36) / (1 + 0.8 + 0.64) = 88.64 / 2.44
    const r = nowCast([40, 32, 36]);
    expect(r.ok && r.weight).toBeCloseTo(0.8, 12);
    expect(r.ok && r.value).toBeCloseTo(88.64 / 2.44, 10);
    // → PM2.5 sub-index 50 + 2 × (36.328 − 25) = 72.66 → 73
    expect(hourlyAqi({ pm25: [40, 32, 36] })).toMatchObject({ ok: true, aqi: 73, dominant: 'pm25' });
  });

  it('w ≤ ½: Σ (½)ⁱcᵢ', () => {
    // c = 40, 30, 20: w* = 20/40 = ½ → w = ½; 40/2 + 30/4 + 20/8 = 20 + 7.5 + 2.5 = 30
    expect(nowCast([40, 30, 20])).toEqual({ ok: true, value: 30, weight: 0.5, hours: 3 });
    // c = 100, –, 20: w* = 0.2 → ½; 100/2 + 20/8 = 52.5 (the missing hour adds no term)
    expect(nowCast([100, undefined, 20])).toEqual({ ok: true, value: 52.5, weight: 0.5, hours: 2 });
  });

  it('leaves a missing hour out of both sums, keeping the other hours’ exponents', () => {
    // c = 40, –, 36: w = 36/40 = 0.9; (40 + 0.81·36) / (1 + 0.81) = 69.16 / 1.81
    const r = nowCast([40, undefined, 36, Number.NaN, null]);
    expect(r.ok && r.value).toBeCloseTo(69.16 / 1.81, 10);
    expect(r.ok && r.hours).toBe(2);
  });

  it('needs 2 of the 3 latest hours: 2 is enough, 1 is refused', () => {
    expect(nowCast([undefined, 40, 40])).toEqual({ ok: true, value: 40, weight: 1, hours: 2 });
    expect(nowCast([40, 40, undefined, 40])).toMatchObject({ ok: true, hours: 3 });
    const refused = nowCast([40, undefined, undefined, ...hours(9, 40)]);
    expect(refused).toEqual({
      ok: false,
      reason: 'too-few-recent-hours',
      detail: 'NowCast needs at least 2 of the 3 latest hourly means, got 1',
    });
    expect(nowCast([])).toMatchObject({ ok: false });
  });

  it('reads 12 hours only, and is 0 when every hour is 0', () => {
    expect(nowCast([...hours(12, 30), 1000])).toEqual({ ok: true, value: 30, weight: 1, hours: 12 });
    expect(nowCast(hours(12, 0))).toEqual({ ok: true, value: 0, weight: 0.5, hours: 12 });
  });
});

describe('hourlyAqi', () => {
  it('is the highest sub-index, with its pollutant, band and colour', () => {
    // PM2.5 20.3 (w = 1) → 41; NO₂ 118.7 → 60; O₃ 136.1 → 43
    const r = hourlyAqi({ pm25: [20.3, 20.3], no2: 118.7, o3: 136.1 });
    expect(r).toMatchObject({
      ok: true,
      aqi: 60,
      dominant: 'no2',
      subIndices: { pm25: 41, no2: 60, o3: 43 },
      concentrations: { pm25: 20.3, no2: 118.7, o3: 136.1 },
    });
    expect(r.ok && r.band.band).toBe('moderate');
    expect(r.ok && r.band.colour).toBe('#FFFF00');
    expect(r.ok && r.band.name).toEqual({ vi: 'Trung bình', en: 'Moderate' });
  });

  it('breaks a tie by POLLUTANTS order (particulates first)', () => {
    // PM2.5 25 → 50; O₃ 160 → 50
    expect(hourlyAqi({ o3: 160, pm25: [25, 25] })).toMatchObject({ aqi: 50, dominant: 'pm25' });
  });

  it('needs PM2.5 or PM10: refused without them, or when their NowCast is refused', () => {
    expect(hourlyAqi({ no2: 300 })).toEqual({
      ok: false,
      reason: 'no-particulate',
      detail: 'VN_AQI needs PM2.5 or PM10 (Decision 1459/QĐ-TCMT): neither was given',
    });
    const r = hourlyAqi({ pm25: [10], pm10: [undefined, undefined, 30], so2: 50 });
    expect(r).toMatchObject({ ok: false, reason: 'no-particulate' });
    expect(!r.ok && r.detail).toMatch(/pm25: NowCast needs .* got 1; pm10: .* got 1/);
    // PM10 alone is enough.
    expect(hourlyAqi({ pm10: [30, 30], no2: Number.NaN })).toMatchObject({
      ok: true,
      aqi: 30,
      dominant: 'pm10',
      subIndices: { pm10: 30 },
    });
  });
});

describe('dailyAqi', () => {
  it('PM: the 24-hour mean (the decision’s daily PM2.5 55.7 → 110)', () => {
    const r = dailyAqi({ pm25: hours(24, 55.7) });
    expect(r).toMatchObject({ ok: true, aqi: 110, dominant: 'pm25' });
    expect(r.ok && r.band.band).toBe('poor');
    // Mean of 12 h at 40 and 12 h at 60 = 50 → exactly 100.
    expect(dailyAqi({ pm25: [...hours(12, 40), ...hours(12, 60)] })).toMatchObject({ aqi: 100 });
  });

  it('needs 18 of 24 hourly means by default (configurable); the missing hours are left out of the mean', () => {
    const eighteen = [...hours(18, 60), ...hours(6, undefined)]; // mean 60 → 100 + 50/30 × 10 = 116.67 → 117
    expect(dailyAqi({ pm25: eighteen })).toMatchObject({ ok: true, aqi: 117 });
    const seventeen = [...hours(17, 60), ...hours(7, undefined)];
    expect(dailyAqi({ pm25: seventeen })).toMatchObject({ ok: false, reason: 'no-particulate' });
    expect(dailyAqi({ pm25: seventeen }, { minHours: 12 })).toMatchObject({ ok: true, aqi: 117 });
    // PM10 full, PM2.5 short: the AQI stands on PM10 alone (100 µg/m³ → 50 + 50/100 × 50 = 75).
    expect(dailyAqi({ pm25: seventeen, pm10: hours(24, 100) })).toMatchObject({
      ok: true,
      aqi: 75,
      subIndices: { pm10: 75 },
    });
    // A gas short of hours is left out.
    const shortGas = dailyAqi({ pm25: hours(24, 10), no2: [...hours(17, 700)] });
    expect(shortGas.ok && shortGas.subIndices).toEqual({ pm25: 20 });
    expect(() => dailyAqi({}, { minHours: 0 })).toThrow(RangeError);
  });

  it('SO₂, NO₂, CO: the daily max 1-hour value', () => {
    const no2 = hours(24, 50);
    no2[13] = 700; // → 150
    const r = dailyAqi({ pm25: hours(24, 10), no2, co: hours(24, 10_000) });
    expect(r).toMatchObject({
      ok: true,
      aqi: 150,
      dominant: 'no2',
      subIndices: { pm25: 20, no2: 150, co: 50 },
    });
  });

  it('O₃: the larger of the max 1-hour and max 8-hour sub-index', () => {
    // 8 hours at 150 µg/m³, the rest 50: max 1 h 150 → 50/160 × 150 = 46.9 → 47; max 8 h 150 → 130
    const o3 = [...hours(10, 50), ...hours(8, 150), ...hours(6, 50)];
    const r = dailyAqi({ pm25: hours(24, 10), o3 });
    expect(r).toMatchObject({ ok: true, aqi: 130, dominant: 'o3', subIndices: { o3: 130 }, o3Max8h: 150 });
    // 8-hour mean 500 > 400: the 8-hour column ends; the 1-hour sub-index stands: 200 + 100/400 × (500 − 400) = 225
    expect(dailyAqi({ pm25: hours(24, 10), o3: hours(24, 500) })).toMatchObject({
      aqi: 225,
      subIndices: { o3: 225 },
    });
  });

  it('O₃ 8-hour means reach into the day before through o3Before', () => {
    // Day: hours ending 01:00, 02:00 at 150, the rest 10. Without the day before, the best 8-hour
    // window with 6 of its 8 hours is the one ending 06:00: (150 + 150 + 4 × 10) / 6 = 56.67 →
    // 50/100 × 56.67 = 28.3 → 29, below the 1-hour 150 → 47.
    const o3 = [150, 150, ...hours(22, 10)];
    const without = dailyAqi({ pm25: hours(24, 10), o3 });
    expect(without).toMatchObject({ subIndices: { o3: 47 } });
    expect(without.ok && without.o3Max8h).toBeCloseTo(340 / 6, 10);
    // With 7 hours at 150 before midnight, the 8-hour mean ending 01:00 is 150 → 130.
    expect(dailyAqi({ pm25: hours(24, 10), o3, o3Before: hours(7, 150) })).toMatchObject({
      subIndices: { o3: 130 },
      o3Max8h: 150,
    });
  });
});

describe('aqiBand (Decision 1459/QĐ-TCMT § 1.4, Bảng 1)', () => {
  it.each([
    [0, 'good', '#00E400'],
    [50, 'good', '#00E400'],
    [50.2, 'moderate', '#FFFF00'],
    [51, 'moderate', '#FFFF00'],
    [100, 'moderate', '#FFFF00'],
    [101, 'poor', '#FF7E00'],
    [150, 'poor', '#FF7E00'],
    [151, 'bad', '#FF0000'],
    [200, 'bad', '#FF0000'],
    [201, 'veryBad', '#8F3F97'],
    [300, 'veryBad', '#8F3F97'],
    [301, 'hazardous', '#7E0023'],
    [500, 'hazardous', '#7E0023'],
    [650, 'hazardous', '#7E0023'],
  ])('%d → %s %s', (aqi, band, colour) => {
    expect(aqiBand(aqi)).toMatchObject({ band, colour });
  });

  it('has six contiguous bands with Vietnamese and English names and advice', () => {
    expect(AQI_BAND_RECORDS.map((b) => b.name.vi)).toEqual([
      'Tốt',
      'Trung bình',
      'Kém',
      'Xấu',
      'Rất xấu',
      'Nguy hại',
    ]);
    AQI_BAND_RECORDS.forEach((b, i) => {
      if (i > 0) expect(b.min).toBe(AQI_BAND_RECORDS[i - 1].max + 1);
      for (const text of [b.healthEffect, b.adviceGeneral, b.adviceSensitive]) {
        expect(text.vi.length).toBeGreaterThan(10);
        expect(text.en.length).toBeGreaterThan(10);
      }
    });
    expect(() => aqiBand(-1)).toThrow(RangeError);
    expect(() => aqiBand(Number.NaN)).toThrow(RangeError);
  });
});

describe('time', () => {
  it('Vietnam is UTC+7, and the daily hours are labelled 1–24 by their end', () => {
    expect(VIETNAM_UTC_OFFSET_MS).toBe(7 * HOUR_MS);
    // 01:00 on 1 Jan 2026 local = 2025-12-31T18:00Z: the first hour of 2026-01-01.
    expect(vietnamDayHourOf(Date.parse('2025-12-31T18:00:00Z'))).toEqual({
      day: '2026-01-01',
      hour: 1,
      index: 0,
    });
    // 24:00 on 1 Jan 2026 local = 2026-01-01T17:00Z: the last hour of 2026-01-01.
    expect(vietnamDayHourOf(Date.parse('2026-01-01T17:00:00Z'))).toEqual({
      day: '2026-01-01',
      hour: 24,
      index: 23,
    });
    expect(() => vietnamDayHourOf(Date.parse('2026-01-01T17:30:00Z'))).toThrow(RangeError);
  });
});

describe('agreement with the contracts', () => {
  it('every pollutant is a catalogue metric in µg/m³', () => {
    for (const p of POLLUTANTS) expect(METRIC_CATALOGUE[p].ucum).toBe('ug/m3');
  });
});

describe('aqiValueBand', () => {
  it('names the band of a value of metric aqi (Decision 1459 § 1.4 Bảng 1), nothing for other metrics', () => {
    expect(aqiValueBand('aqi', 128)).toEqual({ vi: 'Kém', en: 'Poor' });
    expect(aqiValueBand('aqi', 152)).toEqual({ vi: 'Xấu', en: 'Bad' });
    expect(aqiValueBand('aqi', 150)).toEqual({ vi: 'Kém', en: 'Poor' });
    expect(aqiValueBand('pm25', 152)).toBeUndefined();
    expect(aqiValueBand('aqi', -1)).toBeUndefined();
    expect(aqiValueBand('aqi', 'high')).toBeUndefined();
  });
});
