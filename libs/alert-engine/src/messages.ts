import {
  METRIC_CATALOGUE,
  type Language,
  type LocalizedText,
  type MetricValue,
  type Severity,
  isMetricName,
} from '@ioc/contracts';

/**
 * Placeholders a rule's message template may use (the list in contracts' `ruleCommon.message`):
 * `{device}` device name, `{deviceId}`, `{area}` area name, `{areaId}`, `{metric}` metric label,
 * `{value}` the value that caused the step (number only, see `formatValue`), `{unit}` the metric's
 * display unit (METRIC_CATALOGUE), `{limit}` the condition's number, `{window}` the window in words
 * ("24 giờ" / "24 h"), `{standard}` the rule source's standard, `{severity}`, `{event}`,
 * `{silentFor}` the no-data silence in words, `{band}` the named band of `{value}` on its metric's
 * scale as AlertEngineOptions.valueBand gives it (the platform: VN_AQI bands of metric `aqi`,
 * Decision 1459/QĐ-TCMT § 1.4 Bảng 1 via @ioc/aqi's `aqiValueBand`: "Kém" / "Poor" for 101–150,
 * "Xấu" / "Bad" for 151–200 …). A placeholder that does not apply renders as ''.
 */
export const TEMPLATE_PLACEHOLDERS = [
  'device',
  'deviceId',
  'area',
  'areaId',
  'metric',
  'value',
  'unit',
  'limit',
  'window',
  'standard',
  'severity',
  'event',
  'silentFor',
  'band',
] as const;
export type TemplatePlaceholder = (typeof TEMPLATE_PLACEHOLDERS)[number];

const KNOWN = new Set<string>(TEMPLATE_PLACEHOLDERS);
const PLACEHOLDER = /\{([^{}]*)\}/g;

/**
 * The placeholders of `rule.message` (both languages) that are not in TEMPLATE_PLACEHOLDERS,
 * each once, in order of appearance — REST refuses a rule with any. Text in braces that is not a
 * plain name (`{ }`, `{a b}`) counts as unknown too.
 */
export function validateTemplates(rule: { message: LocalizedText }): string[] {
  const unknown: string[] = [];
  for (const text of [rule.message.vi, rule.message.en]) {
    for (const m of text.matchAll(PLACEHOLDER)) {
      const name = m[1];
      if (!KNOWN.has(name) && !unknown.includes(name)) unknown.push(name);
    }
  }
  return unknown;
}

/** Values for one rendering; `null`/`undefined` render as ''. */
export interface MessageContext {
  deviceName?: string | null;
  deviceId?: string | null;
  areaName?: string | null;
  areaId?: string | null;
  metric?: string | null;
  value?: MetricValue | null;
  limit?: number | null;
  windowSeconds?: number | null;
  standard?: string | null;
  severity?: Severity | null;
  event?: string | null;
  silentForSeconds?: number | null;
  /** The named band of `value` on its metric's scale (`{band}`), e.g. VN_AQI's `Kém` / `Poor`. */
  band?: LocalizedText | null;
}

/** Renders `template` in `language`; unknown placeholders stay as written. */
export function renderTemplate(template: string, language: Language, ctx: MessageContext): string {
  return template.replace(PLACEHOLDER, (whole, name: string) => {
    switch (name) {
      case 'device':
        return ctx.deviceName ?? '';
      case 'deviceId':
        return ctx.deviceId ?? '';
      case 'area':
        return ctx.areaName ?? '';
      case 'areaId':
        return ctx.areaId ?? '';
      case 'metric':
        return ctx.metric ? metricLabel(ctx.metric, language) : '';
      case 'value':
        return ctx.value === null || ctx.value === undefined
          ? ''
          : formatValue(ctx.value, ctx.metric ?? null, language);
      case 'unit':
        return ctx.metric ? unitOf(ctx.metric) : '';
      case 'limit':
        return ctx.limit === null || ctx.limit === undefined
          ? ''
          : formatValue(ctx.limit, ctx.metric ?? null, language);
      case 'window':
        return ctx.windowSeconds ? formatDuration(ctx.windowSeconds, language) : '';
      case 'standard':
        return ctx.standard ?? '';
      case 'severity':
        return ctx.severity ? SEVERITY_LABELS[ctx.severity][language] : '';
      case 'event':
        return ctx.event ? eventLabel(ctx.event, language) : '';
      case 'silentFor':
        return ctx.silentForSeconds ? formatDuration(ctx.silentForSeconds, language) : '';
      case 'band':
        return ctx.band ? ctx.band[language] : '';
      default:
        return whole;
    }
  });
}

/** Renders both languages of a rule's message. */
export function renderMessage(message: LocalizedText, ctx: MessageContext): { vi: string; en: string } {
  return { vi: renderTemplate(message.vi, 'vi', ctx), en: renderTemplate(message.en, 'en', ctx) };
}

/** Display unit of a metric (METRIC_CATALOGUE), '' for metrics it does not list (e.g. `aqi`). */
export function unitOf(metric: string): string {
  return isMetricName(metric) ? METRIC_CATALOGUE[metric].unit : '';
}

/**
 * A value as text, without its unit: integers as they are (integer metrics rounded); other
 * numbers with 0 decimals from 100, 1 from 10, else 2 (trailing zeros dropped); Vietnamese uses a
 * decimal comma (TCVN convention), English a point; no thousands separators. Booleans: có/không,
 * yes/no. Strings as they are.
 */
export function formatValue(value: MetricValue, metric: string | null, language: Language): string {
  if (typeof value === 'boolean')
    return value ? (language === 'vi' ? 'có' : 'yes') : language === 'vi' ? 'không' : 'no';
  if (typeof value === 'string') return value;
  let v = value;
  if (metric && isMetricName(metric) && METRIC_CATALOGUE[metric].kind === 'integer') v = Math.round(v);
  const abs = Math.abs(v);
  const digits = Number.isInteger(v) || abs >= 100 ? 0 : abs >= 10 ? 1 : 2;
  let text = v.toFixed(digits);
  if (digits > 0) text = text.replace(/\.?0+$/, '');
  if (text === '-0') text = '0';
  return language === 'vi' ? text.replace('.', ',') : text;
}

/**
 * A duration in words: whole days from 2 days ("3 ngày" / "3 d"), else whole hours ("24 giờ" /
 * "24 h"), whole minutes ("30 phút" / "30 min"), else seconds ("45 giây" / "45 s").
 */
export function formatDuration(seconds: number, language: Language): string {
  const unit = (vi: string, en: string) => (language === 'vi' ? vi : en);
  if (seconds >= 2 * 86_400 && seconds % 86_400 === 0) return `${seconds / 86_400} ${unit('ngày', 'd')}`;
  if (seconds >= 3600 && seconds % 3600 === 0) return `${seconds / 3600} ${unit('giờ', 'h')}`;
  if (seconds >= 60 && seconds % 60 === 0) return `${seconds / 60} ${unit('phút', 'min')}`;
  return `${seconds} ${unit('giây', 's')}`;
}

const SEVERITY_LABELS: Record<Severity, LocalizedText> = {
  info: { vi: 'thông tin', en: 'info' },
  warning: { vi: 'cảnh báo', en: 'warning' },
  critical: { vi: 'nghiêm trọng', en: 'critical' },
};

/** Labels of the metrics rules usually watch; others show their name. */
const METRIC_LABELS: Record<string, LocalizedText> = {
  pm25: { vi: 'PM2.5', en: 'PM2.5' },
  pm10: { vi: 'PM10', en: 'PM10' },
  no2: { vi: 'NO₂', en: 'NO₂' },
  so2: { vi: 'SO₂', en: 'SO₂' },
  co: { vi: 'CO', en: 'CO' },
  o3: { vi: 'O₃', en: 'O₃' },
  aqi: { vi: 'VN_AQI', en: 'VN_AQI' },
  temperature: { vi: 'nhiệt độ', en: 'temperature' },
  ph: { vi: 'pH', en: 'pH' },
  dissolvedOxygen: { vi: 'oxy hòa tan (DO)', en: 'dissolved oxygen (DO)' },
  turbidity: { vi: 'độ đục', en: 'turbidity' },
  cod: { vi: 'COD', en: 'COD' },
  laeq: { vi: 'mức âm LAeq', en: 'LAeq' },
  lamax: { vi: 'mức âm LAmax', en: 'LAmax' },
  averageVehicleSpeed: { vi: 'tốc độ trung bình', en: 'mean speed' },
  occupancy: { vi: 'độ chiếm dụng', en: 'occupancy' },
  intensity: { vi: 'lưu lượng xe', en: 'traffic volume' },
  lampFault: { vi: 'lỗi đèn', en: 'lamp fault' },
  doorOpen: { vi: 'cửa tủ mở', en: 'cabinet door open' },
  signalFault: { vi: 'lỗi đèn tín hiệu', en: 'signal fault' },
  confidence: { vi: 'độ tin cậy', en: 'confidence' },
  congestionLevel: { vi: 'mức ùn tắc', en: 'congestion level' },
};

const EVENT_LABELS: Record<string, LocalizedText> = {
  accident: { vi: 'tai nạn', en: 'accident' },
  wrongWay: { vi: 'đi ngược chiều', en: 'wrong-way driving' },
  congestion: { vi: 'ùn tắc', en: 'congestion' },
  crowd: { vi: 'tụ tập đông người', en: 'crowd' },
};

/** A metric's label in `language` (its name when there is none). */
export function metricLabel(metric: string, language: Language): string {
  return METRIC_LABELS[metric]?.[language] ?? metric;
}

/** An event's label in `language` (its name when there is none). */
export function eventLabel(event: string, language: Language): string {
  return EVENT_LABELS[event]?.[language] ?? event;
}
