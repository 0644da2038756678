import { DOMAINS, type Domain, type HealthCondition } from '@ioc/contracts';
import {
  ApiError,
  DOMAIN_LABELS,
  DeviceStatusCounter,
  HEALTH_CONDITION_LABELS,
  RateMeter,
  SEVERITY_LABELS,
  defineMessages,
  formatNumber,
  labelOf,
  openAlertCountsBySeverity,
  type AlertStore,
  type ApiClient,
  type DeviceStore,
  type I18n,
} from '@ioc/console-data';
import { h, replaceChildren } from './dom-builder';
import './overview-strip.css';

export const OVERVIEW_MESSAGES = defineMessages({
  vi: {
    devices: 'Thiết bị',
    online: 'Trực tuyến',
    offline: 'Mất kết nối',
    unknown: 'Chưa rõ',
    alerts: 'Cảnh báo đang mở',
    pending: 'Đang chờ',
    pendingOf: '({n} đang chờ)',
    rate: 'Dữ liệu nhận',
    perSecond: '{n} bản tin/giây',
    rateLive: '(theo luồng trực tiếp)',
    noRate: '—',
    health: 'Tình trạng hệ thống',
    healthy: 'Bình thường',
    healthUnknown: 'Không có số liệu',
    domainLine: '{online} trực tuyến · {offline} mất kết nối',
    domainUnknown: ' · {unknown} chưa rõ',
  },
  en: {
    devices: 'Devices',
    online: 'Online',
    offline: 'Offline',
    unknown: 'Unknown',
    alerts: 'Open alerts',
    pending: 'Pending',
    pendingOf: '({n} pending)',
    rate: 'Ingest',
    perSecond: '{n} readings/s',
    rateLive: '(from the live feed)',
    noRate: '—',
    health: 'Platform health',
    healthy: 'Normal',
    healthUnknown: 'No figures',
    domainLine: '{online} online · {offline} offline',
    domainUnknown: ' · {unknown} unknown',
  },
});

/** How often the ingest stats are read, ms (the issue: every 5 s). */
export const INGEST_STATS_POLL_MS = 5000;

export interface OverviewStripDeps {
  i18n: I18n;
  devices: DeviceStore;
  alerts: AlertStore;
  api: Pick<ApiClient, 'ingestStats'>;
  /**
   * Whether the principal may read `GET /api/v1/ingest/stats` (platform-wide: a principal
   * without a scope); otherwise the rate is the live feed's own and health is not shown.
   */
  canReadIngestStats: boolean;
  /** The domains shown (a principal scoped to some domains sees only those); default every domain. */
  domains?: readonly Domain[];
}

export interface OverviewStrip {
  destroy(): void;
}

/**
 * The province overview `[data-testid=overview]`: devices online / offline / unknown per domain
 * (`overview-online`, `overview-offline`, `overview-unknown` totals; `overview-domain-<d>`), open
 * alerts by severity (`overview-alerts-critical|warning|info`, `overview-alerts-pending`), the
 * ingest rate (`overview-rate`: readings/s from the delta of `acceptedTotal` between two polls of
 * the ingest stats every INGEST_STATS_POLL_MS, else the live feed's rate) and the platform's
 * health conditions by name (`overview-health`). Updated per frame from the stores.
 */
export function createOverviewStrip(container: HTMLElement, deps: OverviewStripDeps): OverviewStrip {
  const { i18n, devices, alerts } = deps;
  const counter = new DeviceStatusCounter();
  counter.update(devices.all());
  const ingestRate = new RateMeter();
  const liveRate = new RateMeter();
  liveRate.sample(devices.counters.readings, Date.now());
  let statsAllowed = deps.canReadIngestStats;
  let health: HealthCondition[] | null = null;
  /** Whether the platform has several broker nodes (conditions then name theirs). */
  let multipleNodes = false;

  const cell = (testid: string, extra = ''): HTMLElement =>
    h('span', { class: `ioc-overview__value ${extra}`.trim(), 'data-testid': testid });
  const totals = {
    online: cell('overview-online', 'ioc-overview__value--online'),
    offline: cell('overview-offline', 'ioc-overview__value--offline'),
    unknown: cell('overview-unknown', 'ioc-overview__value--unknown'),
  };
  const totalLabels = { online: h('span'), offline: h('span'), unknown: h('span') };
  const devicesTitle = h('h2', { class: 'ioc-overview__title' });
  const domainRows = new Map<Domain, { label: HTMLElement; line: HTMLElement }>();
  const domainList = h('ul', { class: 'ioc-overview__domains' });
  for (const domain of deps.domains ?? DOMAINS) {
    const label = h('span', { class: 'ioc-overview__domain-name' });
    const line = h('span', { class: 'ioc-overview__domain-line' });
    domainRows.set(domain, { label, line });
    domainList.appendChild(
      h('li', { 'data-testid': `overview-domain-${domain}`, 'data-domain': domain }, label, ' ', line),
    );
  }
  const devicesBox = h(
    'div',
    { class: 'ioc-overview__box ioc-overview__box--devices' },
    devicesTitle,
    h(
      'div',
      { class: 'ioc-overview__totals' },
      ...(['online', 'offline', 'unknown'] as const).map((k) =>
        h('span', { class: `ioc-overview__total ioc-overview__total--${k}` }, totals[k], ' ', totalLabels[k]),
      ),
    ),
    domainList,
  );

  const alertsTitle = h('h2', { class: 'ioc-overview__title' });
  const severityCells = {
    critical: cell('overview-alerts-critical'),
    warning: cell('overview-alerts-warning'),
    info: cell('overview-alerts-info'),
    pending: cell('overview-alerts-pending'),
  };
  const severityLabels = { critical: h('span'), warning: h('span'), info: h('span'), pending: h('span') };
  const pendingNotes = {
    critical: h('span', {
      class: 'ioc-overview__pending',
      'data-testid': 'overview-alerts-critical-pending',
    }),
    warning: h('span', { class: 'ioc-overview__pending', 'data-testid': 'overview-alerts-warning-pending' }),
    info: h('span', { class: 'ioc-overview__pending', 'data-testid': 'overview-alerts-info-pending' }),
    pending: null,
  };
  const alertsBox = h(
    'div',
    { class: 'ioc-overview__box ioc-overview__box--alerts' },
    alertsTitle,
    h(
      'div',
      { class: 'ioc-overview__severities' },
      ...(['critical', 'warning', 'info', 'pending'] as const).map((k) =>
        h(
          'span',
          { class: `ioc-overview__severity ioc-severity--${k}`, 'data-severity': k },
          h('span', { class: 'ioc-severity-icon', 'aria-hidden': 'true' }),
          severityCells[k],
          ' ',
          severityLabels[k],
          pendingNotes[k] === null ? null : ' ',
          pendingNotes[k],
        ),
      ),
    ),
  );

  const rateTitle = h('h2', { class: 'ioc-overview__title' });
  const rate = h('span', { class: 'ioc-overview__rate', 'data-testid': 'overview-rate' });
  const rateNote = h('span', { class: 'ioc-overview__note' });
  const rateBox = h('div', { class: 'ioc-overview__box' }, rateTitle, rate, ' ', rateNote);
  const healthTitle = h('h2', { class: 'ioc-overview__title' });
  const healthList = h('ul', { class: 'ioc-overview__health', 'data-testid': 'overview-health' });
  const healthBox = h('div', { class: 'ioc-overview__box' }, healthTitle, healthList);

  const root = h(
    'div',
    { class: 'ioc-overview', 'data-testid': 'overview' },
    devicesBox,
    alertsBox,
    rateBox,
    healthBox,
  );
  replaceChildren(container, root);

  const n = (value: number): string => formatNumber(value, i18n.locale, 0);

  function renderDevices(): void {
    const total = counter.total();
    for (const k of ['online', 'offline', 'unknown'] as const) {
      totals[k].textContent = n(total[k]);
      totalLabels[k].textContent = i18n.t(OVERVIEW_MESSAGES, k);
    }
    for (const [domain, row] of domainRows) {
      const c = counter.domain(domain);
      row.label.textContent = `${labelOf(DOMAIN_LABELS, domain, i18n.locale)}:`;
      // Unknown (never heard from) only when there are some: keeps the strip to two lines at 1366×768.
      row.line.textContent =
        i18n.t(OVERVIEW_MESSAGES, 'domainLine', { online: n(c.online), offline: n(c.offline) }) +
        (c.unknown > 0 ? i18n.t(OVERVIEW_MESSAGES, 'domainUnknown', { unknown: n(c.unknown) }) : '');
    }
  }

  function renderAlerts(): void {
    // Every open alert by severity, pending included (openAlertCountsBySeverity), pending ones beside.
    const bySeverity = openAlertCountsBySeverity(alerts.list());
    let pending = 0;
    for (const k of ['critical', 'warning', 'info'] as const) {
      severityCells[k].textContent = n(bySeverity[k].open);
      severityLabels[k].textContent = labelOf(SEVERITY_LABELS, k, i18n.locale);
      pendingNotes[k].textContent =
        bySeverity[k].pending > 0
          ? i18n.t(OVERVIEW_MESSAGES, 'pendingOf', { n: n(bySeverity[k].pending) })
          : '';
      pending += bySeverity[k].pending;
    }
    severityCells.pending.textContent = n(pending);
    severityLabels.pending.textContent = i18n.t(OVERVIEW_MESSAGES, 'pending');
  }

  function renderRate(): void {
    const value = statsAllowed ? ingestRate.rate : liveRate.rate;
    rate.textContent =
      value === null
        ? i18n.t(OVERVIEW_MESSAGES, 'noRate')
        : i18n.t(OVERVIEW_MESSAGES, 'perSecond', { n: formatNumber(value, i18n.locale, 0) });
    rateNote.textContent = statsAllowed ? '' : i18n.t(OVERVIEW_MESSAGES, 'rateLive');
  }

  function renderHealth(): void {
    const items: HTMLElement[] = [];
    if (health === null)
      items.push(h('li', { class: 'ioc-health--unknown' }, i18n.t(OVERVIEW_MESSAGES, 'healthUnknown')));
    else if (health.length === 0)
      items.push(
        h('li', { class: 'ioc-health--ok', 'data-code': 'ok' }, i18n.t(OVERVIEW_MESSAGES, 'healthy')),
      );
    else
      for (const condition of health)
        items.push(
          h(
            'li',
            {
              class: `ioc-health--${condition.severity}`,
              'data-code': condition.code,
              title: condition.message,
              ...(condition.node ? { 'data-node': condition.node } : {}),
            },
            h('span', { class: 'ioc-severity-icon', 'aria-hidden': 'true' }),
            `${labelOf(SEVERITY_LABELS, condition.severity, i18n.locale)}: ${labelOf(HEALTH_CONDITION_LABELS, condition.code, i18n.locale)}`,
            // Several broker nodes: which one (a condition of one node is not the platform's).
            ...(condition.node && multipleNodes ? [` (${condition.node})`] : []),
          ),
        );
    replaceChildren(healthList, ...items);
  }

  function renderAll(): void {
    devicesTitle.textContent = i18n.t(OVERVIEW_MESSAGES, 'devices');
    alertsTitle.textContent = i18n.t(OVERVIEW_MESSAGES, 'alerts');
    rateTitle.textContent = i18n.t(OVERVIEW_MESSAGES, 'rate');
    healthTitle.textContent = i18n.t(OVERVIEW_MESSAGES, 'health');
    renderDevices();
    renderAlerts();
    renderRate();
    renderHealth();
  }

  async function poll(): Promise<void> {
    const now = Date.now();
    liveRate.sample(devices.counters.readings, now);
    if (statsAllowed) {
      try {
        const stats = await deps.api.ingestStats();
        ingestRate.sample(stats.acceptedTotal, Date.now());
        health = stats.healthConditions;
        multipleNodes = stats.nodes.length > 1;
      } catch (error) {
        // 403: this principal may not read them after all; fall back to the live feed's rate.
        if (error instanceof ApiError && error.status === 403) statsAllowed = false;
        health = null;
      }
    }
    renderRate();
    renderHealth();
  }

  const stopDevices = devices.onChange((changed, removed) => {
    // Readings alone move no count: redraw (and re-layout) only when one moved.
    if (counter.update(changed, removed)) renderDevices();
  });
  const stopAlerts = alerts.onChange(renderAlerts);
  const stopLocale = i18n.onChange(renderAll);
  renderAll();
  void poll();
  // A rate needs two samples: the second comes after a second, so the strip shows one at once.
  const firstRate = setTimeout(() => void poll(), 1_000);
  const timer = setInterval(() => void poll(), INGEST_STATS_POLL_MS);
  return {
    destroy() {
      clearInterval(timer);
      clearTimeout(firstRate);
      stopDevices();
      stopAlerts();
      stopLocale();
      root.remove();
    },
  };
}
