import {
  HISTORY_RANGES,
  RANGE_WINDOWS,
  appendLivePoint,
  chartableMetrics,
  defaultChartMetric,
  axisTick,
  chartXRange,
  describeEvery,
  historyQueryFallback,
  historyQueryFor,
  csvDownloadFor,
  seriesFromHistory,
} from './history-window';

const HOUR = 3_600_000;

describe('historyQueryFor', () => {
  const now = Date.UTC(2026, 10, 30, 7, 0, 0);
  it('asks raw points for 6 h and windows that tile the stored rollups for longer ranges', () => {
    expect(historyQueryFor('6h', 'pm25', now)).toEqual({ metric: 'pm25', from: now - 6 * HOUR, to: now });
    expect(historyQueryFor('24h', 'pm25', now)).toEqual({
      metric: 'pm25',
      from: now - 24 * HOUR,
      to: now,
      every: '5m',
      fn: 'mean',
    });
    expect(historyQueryFor('7d', 'aqi', now)).toMatchObject({ every: '1h', from: now - 7 * 24 * HOUR });
    expect(historyQueryFor('30d', 'aqi', now)).toMatchObject({ every: '3h', from: now - 30 * 24 * HOUR });
  });

  it('keeps every range within the default 10 000-point limit', () => {
    for (const range of HISTORY_RANGES) {
      const { ms, every } = RANGE_WINDOWS[range];
      if (every === null) continue;
      const everyMs = Number(every.slice(0, -1)) * (every.endsWith('h') ? HOUR : 60_000);
      expect(ms / everyMs).toBeLessThanOrEqual(10_000);
      // whole minutes (1m rollup) at least, whole hours (1h rollup) beyond 7 days of raw-less history
      expect(everyMs % 60_000).toBe(0);
      if (ms > 7 * 24 * HOUR) expect(everyMs % HOUR).toBe(0);
    }
  });

  it('falls back to 1-minute means when raw points were refused, and only then', () => {
    const raw = historyQueryFor('6h', 'pm25', 0);
    expect(historyQueryFallback(raw)).toEqual({ ...raw, every: '1m', fn: 'mean' });
    expect(historyQueryFallback(historyQueryFor('24h', 'pm25', 0))).toBeUndefined();
  });
});

describe('chartable metrics', () => {
  it('offers the numeric metrics of the type, derived and status ones included', () => {
    const metrics = chartableMetrics('air-quality-station');
    expect(metrics.slice(0, 2)).toEqual(['pm25', 'pm10']);
    expect(metrics).toContain('aqi');
    expect(metrics).toContain('batteryLevel');
    expect(metrics).not.toContain('aqiDominant');
    expect(metrics).not.toContain('online');
    expect(chartableMetrics('street-light')).not.toContain('on');
    expect(chartableMetrics('street-light')).toContain('illuminanceLevel');
  });
  it('shows first a metric the device reported', () => {
    expect(defaultChartMetric('street-light', ['on', 'activePower'])).toBe('activePower');
    expect(defaultChartMetric('air-quality-station', [])).toBe('pm25');
  });
});

describe('series', () => {
  it('takes numeric points oldest first, in epoch seconds', () => {
    const series = seriesFromHistory({
      every: null,
      points: [
        { ts: 2000, value: 2 },
        { ts: 1000, value: 1 },
        { ts: 3000, value: 'text' },
      ],
    });
    expect(series).toEqual({ xs: [1, 2], ys: [1, 2], everyMs: null });
  });

  it('appends live raw points in order and ignores older ones', () => {
    const series = { xs: [10], ys: [1], everyMs: null };
    expect(appendLivePoint(series, 11_000, 2)).toEqual({ xs: [10, 11], ys: [1, 2], everyMs: null });
    expect(appendLivePoint(series, 9_000, 2)).toBe(series);
    expect(appendLivePoint(series, 12_000, Number.NaN)).toBe(series);
  });

  it('starts a new window aligned on Vietnam midnight, and leaves a window already shown alone', () => {
    const every = 3 * HOUR;
    // windows start at k·3h − 7h mod 3h = k·3h − 1h: …, 02:00, 05:00 UTC (09:00, 12:00 Vietnam)
    const series = { xs: [Date.UTC(2026, 10, 30, 2) / 1000], ys: [5], everyMs: every };
    expect(appendLivePoint(series, Date.UTC(2026, 10, 30, 4, 59), 9)).toBe(series);
    const next = appendLivePoint(series, Date.UTC(2026, 10, 30, 5, 30), 9);
    expect(next.xs).toEqual([Date.UTC(2026, 10, 30, 2) / 1000, Date.UTC(2026, 10, 30, 5) / 1000]);
    expect(next.ys).toEqual([5, 9]);
  });
});

describe('describeEvery', () => {
  it('names the window in the language', () => {
    expect(describeEvery(5 * 60_000, 'vi')).toBe('5 phút');
    expect(describeEvery(3 * HOUR, 'en')).toBe('3 h');
    expect(describeEvery(30_000, 'vi')).toBe('30 giây');
  });
});

describe('axis', () => {
  const t = Date.UTC(2026, 10, 30, 16, 5) / 1000; // 23:05 on 30/11 in Vietnam
  it('labels ticks in Vietnam time: hours within a day, else day/month', () => {
    expect(axisTick(t, 3600, 'vi')).toBe('23:05');
    expect(axisTick(t, 86_400, 'vi')).toBe('30/11');
    expect(axisTick(t + 3600, 86_400, 'en')).toBe('01/12');
  });
  it('shows the queried window, stretched to live points past its end', () => {
    expect(chartXRange(1000, 5000, 4)).toEqual([1, 5]);
    expect(chartXRange(1000, 5000, 7)).toEqual([1, 7]);
    expect(chartXRange(1000, 5000, null)).toEqual([1, 5]);
  });
});

describe('csvDownloadFor', () => {
  it('names the file <deviceId>_<metric>_<from>_<to>.csv in Vietnam time, for the window ending at the click', () => {
    const opened = Date.UTC(2026, 10, 30, 1, 5); // 08:05 in Vietnam
    const clicked = opened + 47 * 60_000; // the panel stayed open 47 minutes
    const download = csvDownloadFor('aq-001', '24h', 'pm25', clicked, false);
    expect(download.fileName).toBe('aq-001_pm25_20261129-0852_20261130-0852.csv');
    expect(download.query).toEqual({
      metric: 'pm25',
      from: clicked - 86_400_000,
      to: clicked,
      every: '5m',
      fn: 'mean',
    });
    expect(csvDownloadFor('aq/../x', '6h', 'pm25', clicked, true)).toMatchObject({
      fileName: 'aq_.._x_pm25_20261130-0252_20261130-0852.csv',
      query: { every: '1m', fn: 'mean' },
    });
  });
});
