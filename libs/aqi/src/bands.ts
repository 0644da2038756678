/**
 * The six VN_AQI bands (Decision 1459/QĐ-TCMT, 12 Nov 2019): AQI ranges, names, colours (guideline § 1.4,
 * Bảng 1 "Khoảng giá trị AQI và đánh giá chất lượng không khí": range – quality – colour – RGB
 * code) and the health effects and advice published with them (the guideline's table of health
 * recommendations for the general public and for sensitive groups, Bảng 3).
 *
 * Provenance of the text: the ranges, Vietnamese names, colour names and RGB codes are those the
 * decision's issuer, the Centre for Environmental Monitoring (cem.gov.vn, 13 Nov 2019), published
 * with it; the health-effect sentences are as Đồng Nai's monitoring portal publishes the
 * decision's table; the English texts are this project's translations.
 */

export const AQI_BANDS = ['good', 'moderate', 'poor', 'bad', 'veryBad', 'hazardous'] as const;
export type AqiBand = (typeof AQI_BANDS)[number];

/** Bilingual text: Vietnamese (`vi`, the decision's) and English (`en`, a translation). */
export interface Bilingual {
  vi: string;
  en: string;
}

/** One band of the VN_AQI scale, with everything a map legend or a notification needs. */
export interface AqiBandRecord {
  band: AqiBand;
  /** Lowest integer AQI in the band (inclusive). */
  min: number;
  /** Highest integer AQI in the band (inclusive). */
  max: number;
  /** Colour as `#RRGGBB` (upper-case hex of the decision's RGB code). */
  colour: string;
  /** The decision's RGB code, 0–255 each. */
  rgb: readonly [number, number, number];
  /** Name of the colour (`Xanh` / green …). */
  colourName: Bilingual;
  /** Air quality level: `Tốt` / good, `Trung bình` / moderate, `Kém` / poor, `Xấu` / bad, `Rất xấu` / very bad, `Nguy hại` / hazardous. */
  name: Bilingual;
  /** What air of this quality does to health (the decision's table of effects). */
  healthEffect: Bilingual;
  /** Health recommendation for the general public ("người bình thường"). */
  adviceGeneral: Bilingual;
  /**
   * Health recommendation for sensitive groups ("nhóm người nhạy cảm": children, older people,
   * people with heart or respiratory disease, pregnant women).
   */
  adviceSensitive: Bilingual;
}

const hex = (rgb: readonly [number, number, number]): string =>
  '#' + rgb.map((c) => c.toString(16).padStart(2, '0').toUpperCase()).join('');

const band = (record: Omit<AqiBandRecord, 'colour'>): AqiBandRecord => ({
  ...record,
  colour: hex(record.rgb),
});

/** The bands in ascending order; `AQI_BAND_RECORDS[i].band === AQI_BANDS[i]`. */
export const AQI_BAND_RECORDS: readonly AqiBandRecord[] = [
  band({
    band: 'good',
    min: 0,
    max: 50,
    rgb: [0, 228, 0],
    colourName: { vi: 'Xanh', en: 'green' },
    name: { vi: 'Tốt', en: 'Good' },
    healthEffect: {
      vi: 'Chất lượng không khí tốt, không ảnh hưởng tới sức khỏe',
      en: 'Air quality is good and does not affect health',
    },
    adviceGeneral: { vi: 'Tự do thực hiện các hoạt động ngoài trời', en: 'Enjoy outdoor activities freely' },
    adviceSensitive: {
      vi: 'Tự do thực hiện các hoạt động ngoài trời',
      en: 'Enjoy outdoor activities freely',
    },
  }),
  band({
    band: 'moderate',
    min: 51,
    max: 100,
    rgb: [255, 255, 0],
    colourName: { vi: 'Vàng', en: 'yellow' },
    name: { vi: 'Trung bình', en: 'Moderate' },
    healthEffect: {
      vi: 'Chất lượng không khí ở mức chấp nhận được. Tuy nhiên, đối với những người nhạy cảm có thể chịu những tác động nhất định tới sức khỏe',
      en: 'Air quality is acceptable; sensitive people may nevertheless feel some effects on their health',
    },
    adviceGeneral: { vi: 'Tự do thực hiện các hoạt động ngoài trời', en: 'Enjoy outdoor activities freely' },
    adviceSensitive: {
      vi: 'Nên theo dõi các triệu chứng như ho hoặc khó thở, nhưng vẫn có thể hoạt động bên ngoài',
      en: 'Watch for symptoms such as coughing or shortness of breath, but outdoor activity is still possible',
    },
  }),
  band({
    band: 'poor',
    min: 101,
    max: 150,
    rgb: [255, 126, 0],
    colourName: { vi: 'Da cam', en: 'orange' },
    name: { vi: 'Kém', en: 'Poor' },
    healthEffect: {
      vi: 'Những người nhạy cảm gặp phải các vấn đề về sức khỏe, những người bình thường ít ảnh hưởng',
      en: 'Sensitive people experience health problems; the general public is little affected',
    },
    adviceGeneral: {
      vi: 'Những người thấy có triệu chứng đau mắt, ho hoặc đau họng… nên cân nhắc giảm các hoạt động ngoài trời',
      en: 'People with sore eyes, a cough or a sore throat should consider reducing outdoor activity',
    },
    adviceSensitive: {
      vi: 'Nên giảm các hoạt động mạnh và giảm thời gian hoạt động ngoài trời. Những người mắc bệnh hen suyễn có thể cần sử dụng thuốc thường xuyên hơn',
      en: 'Reduce strenuous activity and time spent outdoors. People with asthma may need their medication more often',
    },
  }),
  band({
    band: 'bad',
    min: 151,
    max: 200,
    rgb: [255, 0, 0],
    colourName: { vi: 'Đỏ', en: 'red' },
    name: { vi: 'Xấu', en: 'Bad' },
    healthEffect: {
      vi: 'Những người bình thường bắt đầu có các ảnh hưởng tới sức khỏe, nhóm người nhạy cảm có thể gặp những vấn đề sức khỏe nghiêm trọng hơn',
      en: 'The general public begins to feel health effects; sensitive groups may face more serious health problems',
    },
    adviceGeneral: {
      vi: 'Mọi người nên giảm các hoạt động mạnh khi ở ngoài trời, tránh tập thể dục thể thao ngoài trời nhất là ở các khu vực gần đường giao thông',
      en: 'Everyone should reduce strenuous outdoor activity and avoid outdoor exercise, especially near busy roads',
    },
    adviceSensitive: {
      vi: 'Nên ở trong nhà và giảm hoạt động mạnh. Nếu cần thiết phải ra ngoài, hãy đeo khẩu trang đạt tiêu chuẩn',
      en: 'Stay indoors and reduce strenuous activity. If you must go out, wear a certified mask',
    },
  }),
  band({
    band: 'veryBad',
    min: 201,
    max: 300,
    rgb: [143, 63, 151],
    colourName: { vi: 'Tím', en: 'purple' },
    name: { vi: 'Rất xấu', en: 'Very bad' },
    healthEffect: {
      vi: 'Cảnh báo ảnh hưởng tới sức khỏe: mọi người bị ảnh hưởng tới sức khỏe nghiêm trọng hơn',
      en: 'Health warning: everyone may experience more serious health effects',
    },
    adviceGeneral: {
      vi: 'Mọi người hạn chế tối đa các hoạt động ngoài trời và chuyển tất cả các hoạt động vào trong nhà. Nếu cần thiết phải ra ngoài, hãy đeo khẩu trang đạt tiêu chuẩn',
      en: 'Everyone should keep outdoor activity to a minimum and move activities indoors. If you must go out, wear a certified mask',
    },
    adviceSensitive: {
      vi: 'Nên ở trong nhà và giảm hoạt động mạnh',
      en: 'Stay indoors and reduce strenuous activity',
    },
  }),
  band({
    band: 'hazardous',
    min: 301,
    max: 500,
    rgb: [126, 0, 35],
    colourName: { vi: 'Nâu', en: 'maroon' },
    name: { vi: 'Nguy hại', en: 'Hazardous' },
    healthEffect: {
      vi: 'Cảnh báo khẩn cấp về sức khỏe: toàn bộ dân số bị ảnh hưởng tới sức khỏe tới mức nghiêm trọng',
      en: 'Health emergency: the whole population is likely to be seriously affected',
    },
    adviceGeneral: {
      vi: 'Mọi người nên ở trong nhà, đóng cửa ra vào và cửa sổ. Nếu cần thiết phải ra ngoài, hãy đeo khẩu trang đạt tiêu chuẩn',
      en: 'Everyone should stay indoors with doors and windows closed. If you must go out, wear a certified mask',
    },
    adviceSensitive: {
      vi: 'Mọi người nên ở trong nhà, đóng cửa ra vào và cửa sổ. Nếu cần thiết phải ra ngoài, hãy đeo khẩu trang đạt tiêu chuẩn',
      en: 'Everyone should stay indoors with doors and windows closed. If you must go out, wear a certified mask',
    },
  }),
];

/** The highest value of the VN_AQI scale (the breakpoint table's last row, Bảng 2; the last band, 301–500, of Bảng 1). */
export const AQI_MAX = 500;

/**
 * The band of an AQI value (Decision 1459/QĐ-TCMT, § 1.4 Bảng 1: 0–50, 51–100, 101–150, 151–200,
 * 201–300, 301–500). `aqi` should be the integer the decision publishes; a fractional value is
 * first rounded up like a sub-index (`roundAqi`), so 50.2 is `moderate`. Values above 500 are
 * `hazardous` (the scale ends there). Throws RangeError for a negative or non-finite value.
 */
export function aqiBand(aqi: number): AqiBandRecord {
  if (!Number.isFinite(aqi) || aqi < 0) throw new RangeError(`AQI must be a finite number ≥ 0, got ${aqi}`);
  const value = roundAqi(aqi);
  for (const record of AQI_BAND_RECORDS) if (value <= record.max) return record;
  return AQI_BAND_RECORDS[AQI_BAND_RECORDS.length - 1];
}

/**
 * The VN_AQI band name (`{ vi: 'Kém', en: 'Poor' }` …) of a value of metric `aqi` (aqiBand), for an
 * alert message's `{band}`; undefined for any other metric or a value that is not a finite number
 * ≥ 0. Shaped for @ioc/alert-engine's `AlertEngineOptions.valueBand`.
 */
export function aqiValueBand(metric: string, value: unknown): Bilingual | undefined {
  if (metric !== 'aqi' || typeof value !== 'number' || !Number.isFinite(value) || value < 0) return undefined;
  return aqiBand(value).name;
}

/** The band record of a band name. */
export function bandRecord(name: AqiBand): AqiBandRecord {
  return AQI_BAND_RECORDS[AQI_BANDS.indexOf(name)];
}

/**
 * Tolerance for floating-point noise before rounding up: (50 − 0) / (25 − 0) × 25 is exactly 50,
 * but other columns' slopes are not exact in binary (e.g. 50 / 30 for PM2.5 50–80 µg/m³), and a
 * result such as 100.00000000000001 must stay 100, not become 101 and change band.
 */
const ROUNDING_EPSILON = 1e-9;

/**
 * Rounds an unrounded (sub-)index to the integer VN_AQI publishes: UP to the next integer
 * (ceiling), after discarding floating-point noise below 1e-9. The decision publishes the AQI as
 * an integer; rounding up is the rule its worked examples follow: NO₂ 118.7 µg/m³ gives
 * 50 + (100 − 50) / (200 − 100) × (118.7 − 100) = 59.35 and the decision publishes 60, which
 * rounding to the nearest integer (59) would not give; PM2.5 20.3 → 40.6 → 41, O₃ 136.1 → 42.53
 * → 43 and daily PM2.5 55.7 → 109.5 → 110 agree with it. Rounding up is also the cautious
 * direction for a health index.
 */
export function roundAqi(value: number): number {
  const rounded = Math.ceil(value - ROUNDING_EPSILON);
  return rounded > 0 ? rounded : 0;
}
