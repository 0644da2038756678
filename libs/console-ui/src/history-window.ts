import type { DeviceHistoryQuery } from '@ioc/console-data';
import {
  type DeviceHistoryBody,
  type DeviceType,
  HISTORY_TIME_ZONES,
  METRIC_CATALOGUE,
  isMetricName,
} from '@ioc/contracts';
import { metricOrderOf } from './value-format';

/*
 * The history chart's choice of window per range, and its series: pure functions (no DOM, no
 * uPlot) so they are unit-tested in node.
 */

/** The ranges the chart offers. */
export const HISTORY_RANGES = ['6h', '24h', '7d', '30d'] as const;
export type HistoryRange = (typeof HISTORY_RANGES)[number];

const HOUR_MS = 3_600_000;

/**
 * Each range's length and the window the chart asks for (`every`, mean per window), chosen so the
 * API's `resolution=auto` (libs/timeseries pickResolution) answers from the stored resolution
 * that fits, with the default retention (raw 24 h, 1-minute rollups 7 days, 1-hour rollups 30 days,
 * DEFAULT_RETENTION) and well under the API's default point limit (IOC_HISTORY_MAX_POINTS 10 000):
 * - 6 h: raw points (the device's own cadence; 720 at the simulator's 30 s), falling back to
 *   1-minute windows (360) when the API refuses too many raw points (historyQueryFallback);
 * - 24 h: 5-minute windows (288) — whole minutes, answered from the 1-minute rollup;
 * - 7 days: 1-hour windows (168) — whole hours aligned on Vietnam midnight, from the 1-hour rollup;
 * - 30 days: 3-hour windows (240) — from the 1-hour rollup (the only one kept 30 days).
 */
export const RANGE_WINDOWS: Readonly<Record<HistoryRange, { ms: number; every: string | null }>> = {
  '6h': { ms: 6 * HOUR_MS, every: null },
  '24h': { ms: 24 * HOUR_MS, every: '5m' },
  '7d': { ms: 7 * 24 * HOUR_MS, every: '1h' },
  '30d': { ms: 30 * 24 * HOUR_MS, every: '3h' },
};

/** The history query of `metric` over the `range` ending at `now` (epoch ms). */
export function historyQueryFor(range: HistoryRange, metric: string, now: number): DeviceHistoryQuery {
  const { ms, every } = RANGE_WINDOWS[range];
  return {
    metric,
    from: now - ms,
    to: now,
    ...(every === null ? {} : { every, fn: 'mean' as const }),
  };
}

/**
 * The query to retry with when the API refused `query` for holding too many raw points (a 400
 * naming `to`): 1-minute means over the same period. Undefined when `query` was already windowed.
 */
export function historyQueryFallback(query: DeviceHistoryQuery): DeviceHistoryQuery | undefined {
  return query.every === undefined ? { ...query, every: '1m', fn: 'mean' } : undefined;
}

/**
 * The metrics the chart offers for a device type: its numeric ones (catalogue kind `number` or
 * `integer`: telemetry, event values, status and derived metrics such as `aqi`), in the type's
 * order. Booleans, enumerations and text are not charted (their table row shows them).
 */
export function chartableMetrics(type: DeviceType): string[] {
  return metricOrderOf(type).filter((metric) => {
    if (!isMetricName(metric)) return false;
    const kind = METRIC_CATALOGUE[metric].kind;
    return kind === 'number' || kind === 'integer';
  });
}

/**
 * The metric the chart shows first: the first chartable one the device has reported (`reported`:
 * its latest values' names), else the type's first chartable one; null when it has none.
 */
export function defaultChartMetric(type: DeviceType, reported: readonly string[]): string | null {
  const metrics = chartableMetrics(type);
  return metrics.find((metric) => reported.includes(metric)) ?? metrics[0] ?? null;
}

/** A series as uPlot takes it: x in epoch SECONDS (uPlot's default time scale), y numbers. */
export interface ChartSeries {
  xs: number[];
  ys: (number | null)[];
  /** Window length in ms, null for raw points. */
  everyMs: number | null;
}

/** The numeric points of a history answer as a chart series, oldest first (non-numbers left out). */
export function seriesFromHistory(body: Pick<DeviceHistoryBody, 'points' | 'every'>): ChartSeries {
  const points = body.points
    .filter((point): point is typeof point & { value: number } => typeof point.value === 'number')
    .sort((a, b) => a.ts - b.ts);
  return { xs: points.map((p) => p.ts / 1000), ys: points.map((p) => p.value), everyMs: body.every };
}

/**
 * The series after a live reading of its metric at `ts` (epoch ms): raw points get the point
 * appended; windowed series get a new window (aligned on Vietnam midnight, as the API aligns
 * them) when the reading starts one after the last, and are left alone when it falls in a
 * window already shown (its stored mean is the better number). A reading older than the last
 * point (a store-and-forward backlog) is left out: the series stays sorted. Returns the same
 * object when nothing changed.
 */
export function appendLivePoint(series: ChartSeries, ts: number, value: number): ChartSeries {
  if (!Number.isFinite(value)) return series;
  const lastMs = series.xs.length === 0 ? -Infinity : series.xs[series.xs.length - 1] * 1000;
  if (series.everyMs === null) {
    if (ts <= lastMs) return series;
    return { ...series, xs: [...series.xs, ts / 1000], ys: [...series.ys, value] };
  }
  const offset = HISTORY_TIME_ZONES['Asia/Ho_Chi_Minh'] % series.everyMs;
  const start = Math.floor((ts + offset) / series.everyMs) * series.everyMs - offset;
  if (start <= lastMs) return series;
  return { ...series, xs: [...series.xs, start / 1000], ys: [...series.ys, value] };
}

/** `every` as the API echoes it (ms) in words for the resolution note: `5 phút`, `1 giờ` (vi); `5 min`, `3 h` (en). */
export function describeEvery(everyMs: number, locale: 'vi' | 'en' = 'vi'): string {
  const [hour, minute, second] = locale === 'vi' ? ['giờ', 'phút', 'giây'] : ['h', 'min', 's'];
  if (everyMs % HOUR_MS === 0) return `${everyMs / HOUR_MS} ${hour}`;
  if (everyMs % 60_000 === 0) return `${everyMs / 60_000} ${minute}`;
  return `${everyMs / 1000} ${second}`;
}

const tickFormats = new Map<string, Intl.DateTimeFormat>();

/**
 * A time-axis label in Vietnam time: `HH:MM` when the axis steps less than a day
 * (`incrementSeconds`, uPlot's found increment), else `dd/MM` (both languages; vi-VN's own
 * day-month form is `30-11`, less familiar on a chart than `30/11`).
 */
export function axisTick(seconds: number, incrementSeconds: number, locale: 'vi' | 'en'): string {
  const daily = incrementSeconds >= 86_400;
  const key = `${locale}/${daily}`;
  let format = tickFormats.get(key);
  if (format === undefined) {
    format = new Intl.DateTimeFormat(locale === 'vi' ? 'vi-VN' : 'en-GB', {
      timeZone: 'Asia/Ho_Chi_Minh',
      hour12: false,
      ...(daily ? { day: '2-digit', month: '2-digit' } : { hour: '2-digit', minute: '2-digit' }),
    });
    tickFormats.set(key, format);
  }
  const parts = Object.fromEntries(format.formatToParts(seconds * 1000).map((p) => [p.type, p.value]));
  return daily ? `${parts['day']}/${parts['month']}` : `${parts['hour']}:${parts['minute']}`;
}

/**
 * The x range a chart shows, epoch seconds: the queried window [from, to], stretched to the
 * newest point when live readings went past `to` (so the window is the range asked for, not
 * uPlot's auto range around the few points there are).
 */
export function chartXRange(fromMs: number, toMs: number, dataMax: number | null): [number, number] {
  const to = toMs / 1000;
  return [fromMs / 1000, dataMax !== null && dataMax > to ? dataMax : to];
}

/** A time as a file-name stamp in Vietnam time (UTC+7, no daylight saving): `20261130-1405`. */
function fileStamp(ms: number): string {
  const d = new Date(ms + 7 * HOUR_MS);
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${d.getUTCFullYear()}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}-${p(d.getUTCHours())}${p(d.getUTCMinutes())}`;
}

/**
 * The CSV download of the chart at the moment it is clicked (`now`, epoch ms — not when the panel
 * opened): the query of `range` ending now (windowed like the chart, 1-minute means when the chart
 * had to fall back, historyQueryFallback) and its file name
 * `<deviceId>_<metric>_<from>_<to>.csv`, times in Vietnam time (`20261130-0805`), characters other
 * than letters, digits, `.`, `-` and `_` replaced by `_`.
 */
export function csvDownloadFor(
  deviceId: string,
  range: HistoryRange,
  metric: string,
  now: number,
  fellBack: boolean,
): { query: DeviceHistoryQuery; fileName: string } {
  const base = historyQueryFor(range, metric, now);
  const query = fellBack ? (historyQueryFallback(base) ?? base) : base;
  const safe = (text: string): string => text.replace(/[^A-Za-z0-9._-]/g, '_');
  return {
    query,
    fileName: `${safe(deviceId)}_${safe(metric)}_${fileStamp(now - RANGE_WINDOWS[range].ms)}_${fileStamp(now)}.csv`,
  };
}
