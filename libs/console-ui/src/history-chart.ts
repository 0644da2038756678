import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import './history-chart.css';
import {
  ApiError,
  type ApiClient,
  CONSOLE_TIME_ZONE,
  type DeviceHistoryQuery,
  type I18n,
  METRIC_LABELS,
  formatNumber,
  labelOf,
} from '@ioc/console-data';
import { type DeviceType, METRIC_CATALOGUE, type Reading, isMetricName } from '@ioc/contracts';
import { DEVICE_PANEL_MESSAGES as M } from './device-messages';
import { el, errorText, setText } from './device-dom';
import {
  type ChartSeries,
  HISTORY_RANGES,
  type HistoryRange,
  appendLivePoint,
  axisTick,
  chartXRange,
  chartableMetrics,
  defaultChartMetric,
  describeEvery,
  historyQueryFallback,
  csvDownloadFor,
  historyQueryFor,
  seriesFromHistory,
} from './history-window';
import { FRACTION_METRICS } from './value-format';

/** The device panel's history chart. */
export interface HistoryChart {
  /** A live reading of the device: a point of the shown metric is appended. */
  applyReading(reading: Reading): void;
  destroy(): void;
}

const RANGE_KEYS = { '6h': 'range6h', '24h': 'range24h', '7d': 'range7d', '30d': 'range30d' } as const;
const RESOLUTION_KEYS = { raw: 'resolutionRaw', '1m': 'resolution1m', '1h': 'resolution1h' } as const;

/**
 * The history of one metric of one device as a uPlot line chart (`[data-testid=history-chart]`):
 * a metric select (the type's numeric metrics, chartableMetrics) and a range select (6 h, 24 h,
 * 7 days, 30 days: historyQueryFor picks the window so the API's `resolution=auto` answers from
 * raw points, the 1-minute or the 1-hour rollup; the answer's `resolution` is shown), times on
 * the axis in Vietnam time (uPlot tzDate, Asia/Ho_Chi_Minh), the unit on the y axis, live
 * readings appended, an empty state, errors (400, 503 storage-unavailable) as text, and a CSV
 * link (`a[data-testid=history-csv]`, the same query with format=csv ending when it is clicked,
 * saved as `<deviceId>_<metric>_<from>_<to>.csv` — csvDownloadFor; the session cookie
 * authenticates the download).
 */
export function createHistoryChart(
  container: HTMLElement,
  deps: { api: ApiClient; i18n: I18n; deviceId: string; type: DeviceType; reported: readonly string[] },
): HistoryChart {
  const { api, i18n, deviceId, type } = deps;
  const t = (key: keyof (typeof M)['vi'], params?: Record<string, string | number>): string =>
    i18n.t(M, key, params);
  const metrics = chartableMetrics(type);
  let metric = defaultChartMetric(type, deps.reported);
  let range: HistoryRange = '24h';
  let series: ChartSeries | null = null;
  /** The chart had to ask for 1-minute means (too many raw points): the CSV does the same. */
  let fellBack = false;
  /** The window of the shown answer, epoch ms. */
  let shownWindow = { from: 0, to: 0 };
  let plot: uPlot | null = null;
  let sequence = 0;
  let destroyed = false;

  const root = el('section', { className: 'ioc-history', attrs: { 'data-testid': 'history-chart' } });
  const heading = el('h3', { className: 'ioc-device-section-title', text: t('historyTitle') });
  const controls = el('div', { className: 'ioc-history-controls' });
  const metricSelect = el('select', { attrs: { name: 'history-metric', 'data-testid': 'history-metric' } });
  const rangeSelect = el('select', { attrs: { name: 'history-range', 'data-testid': 'history-range' } });
  for (const name of metrics) {
    metricSelect.append(
      el('option', { text: labelOf(METRIC_LABELS, name, i18n.locale), attrs: { value: name } }),
    );
  }
  for (const r of HISTORY_RANGES)
    rangeSelect.append(el('option', { text: t(RANGE_KEYS[r]), attrs: { value: r } }));
  rangeSelect.value = range;
  if (metric !== null) metricSelect.value = metric;
  const metricLabel = el('label', {
    className: 'ioc-history-field',
    children: [el('span', { text: t('historyMetric') }), metricSelect],
  });
  const rangeLabel = el('label', {
    className: 'ioc-history-field',
    children: [el('span', { text: t('historyRange') }), rangeSelect],
  });
  const csv = el('a', {
    className: 'ioc-history-csv',
    text: t('csv'),
    attrs: { 'data-testid': 'history-csv', download: '' },
  });
  controls.append(metricLabel, rangeLabel, csv);
  const note = el('p', { className: 'ioc-history-note', attrs: { 'data-testid': 'history-resolution' } });
  const status = el('p', {
    className: 'ioc-history-status',
    attrs: { role: 'status', 'data-testid': 'history-status' },
  });
  const plotBox = el('div', { className: 'ioc-history-plot', attrs: { role: 'img' } });
  root.append(heading, controls, note, status, plotBox);
  container.append(root);

  const unitOf = (name: string): string => {
    if (FRACTION_METRICS.has(name)) return '%';
    return isMetricName(name) ? METRIC_CATALOGUE[name].unit : '';
  };

  function dropPlot(): void {
    plot?.destroy();
    plot = null;
  }

  function draw(): void {
    dropPlot();
    if (series === null || metric === null || series.xs.length === 0) return;
    const shown = metric;
    const scale = FRACTION_METRICS.has(shown) ? 100 : 1;
    const locale = i18n.locale;
    const xWindow = shownWindow;
    const options: uPlot.Options = {
      width: Math.max(280, plotBox.clientWidth || container.clientWidth || 360),
      height: 220,
      // Splits on Vietnam hours and days whatever the PC's zone (uPlot docs: "tzDate").
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), CONSOLE_TIME_ZONE),
      legend: { show: false },
      cursor: { drag: { x: false, y: false } },
      scales: {
        x: {
          time: true,
          range: (_u, _min, max) => chartXRange(xWindow.from, xWindow.to, Number.isFinite(max) ? max : null),
        },
      },
      series: [
        {},
        {
          label: labelOf(METRIC_LABELS, shown, locale),
          stroke: '#1d4f91',
          width: 2,
          fill: 'rgba(29, 79, 145, 0.08)',
          points: { show: series.xs.length < 60 },
        },
      ],
      axes: [
        {
          stroke: '#222',
          values: (_u, splits, _axis, _space, increment) => splits.map((s) => axisTick(s, increment, locale)),
        },
        {
          stroke: '#222',
          label: unitOf(shown),
          size: 64,
          values: (_u, splits) => splits.map((v) => formatNumber(v * scale, locale, 2)),
        },
      ],
    };
    plot = new uPlot(options, [series.xs, series.ys], plotBox);
  }

  /** The CSV link for the range ending at `now` (csvDownloadFor): its href and download file name. */
  function setCsvLink(now: number): void {
    if (metric === null) return;
    const download = csvDownloadFor(deviceId, range, metric, now, fellBack);
    csv.href = api.deviceHistoryCsvUrl(deviceId, download.query);
    csv.download = download.fileName;
  }
  // The window ends when the link is clicked, not when the panel opened (set before the browser follows it).
  csv.addEventListener('click', () => setCsvLink(Date.now()));

  function showState(text: string, kind: 'info' | 'error'): void {
    setText(status, text);
    status.dataset['kind'] = kind;
    status.hidden = text === '';
  }

  async function load(): Promise<void> {
    const mine = ++sequence;
    series = null;
    dropPlot();
    setText(note, '');
    if (metric === null) {
      showState(t('historyNoMetric'), 'info');
      csv.hidden = true;
      return;
    }
    showState(t('historyLoading'), 'info');
    let query: DeviceHistoryQuery = historyQueryFor(range, metric, Date.now());
    fellBack = false;
    setCsvLink(Date.now());
    plotBox.setAttribute(
      'aria-label',
      t('chartLabel', { metric: labelOf(METRIC_LABELS, metric, i18n.locale), range: t(RANGE_KEYS[range]) }),
    );
    try {
      let body;
      try {
        body = await api.deviceHistory(deviceId, query);
      } catch (error) {
        const fallback = historyQueryFallback(query);
        // Too many raw points for the API's limit: the same period as 1-minute means.
        if (!(error instanceof ApiError && error.status === 400 && error.body.parameter === 'to' && fallback))
          throw error;
        query = fallback;
        fellBack = true;
        setCsvLink(Date.now());
        body = await api.deviceHistory(deviceId, query);
      }
      if (mine !== sequence || destroyed) return;
      series = seriesFromHistory(body);
      shownWindow = { from: body.from, to: body.to };
      const resolution = t(RESOLUTION_KEYS[body.resolution]);
      setText(
        note,
        t('resolution', {
          resolution:
            body.every === null
              ? resolution
              : `${resolution}, ${t('windowEvery', { every: describeEvery(body.every, i18n.locale) })}`,
        }),
      );
      note.dataset['resolution'] = body.resolution;
      if (series.xs.length === 0) showState(t('historyEmpty'), 'info');
      else showState('', 'info');
      draw();
    } catch (error) {
      if (mine !== sequence || destroyed) return;
      const detail =
        error instanceof ApiError && error.reason === 'storage-unavailable'
          ? t('storageUnavailable')
          : errorText(error);
      showState(t('historyError', { detail }), 'error');
    }
  }

  metricSelect.addEventListener('change', () => {
    metric = metricSelect.value;
    void load();
  });
  rangeSelect.addEventListener('change', () => {
    range = rangeSelect.value as HistoryRange;
    void load();
  });
  const resize = new ResizeObserver(() => {
    if (plot !== null && plotBox.clientWidth > 0 && Math.abs(plot.width - plotBox.clientWidth) > 4) {
      plot.setSize({ width: plotBox.clientWidth, height: 220 });
    }
  });
  resize.observe(plotBox);
  void load();

  return {
    applyReading(reading) {
      if (reading.deviceId !== deviceId || series === null || metric === null) return;
      const value = reading.metrics[metric];
      if (typeof value !== 'number') return;
      const next = appendLivePoint(series, reading.ts, value);
      if (next === series) return;
      const wasEmpty = series.xs.length === 0;
      series = next;
      if (wasEmpty || plot === null) {
        showState('', 'info');
        draw();
      } else plot.setData([series.xs, series.ys]);
    },
    destroy() {
      destroyed = true;
      sequence++;
      resize.disconnect();
      dropPlot();
      root.remove();
    },
  };
}
