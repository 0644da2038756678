import './device-panel.css';
import { bandRecord } from '@ioc/aqi';
import {
  ALERT_STATE_LABELS,
  type ApiClient,
  DEVICE_TYPE_LABELS,
  type DeviceView,
  type I18n,
  SEVERITY_LABELS,
  STATUS_LABELS,
  formatDateTime,
  labelOf,
  withReading,
} from '@ioc/console-data';
import {
  type AlertEvent,
  type CommandRecordBody,
  METRIC_CATALOGUE,
  METRIC_NAMES,
  type Reading,
} from '@ioc/contracts';
import { createCommandSection, type CommandSection } from './device-commands-view';
import {
  type AlertRow,
  RECENT_ALERTS_LIMIT,
  alertRowFromBody,
  alertRowFromEvent,
  alertRowValueText,
  mergeAlertRow,
} from './device-alerts';
import { el, errorText, setText } from './device-dom';
import { DEVICE_PANEL_MESSAGES as M } from './device-messages';
import { createHistoryChart, type HistoryChart } from './history-chart';
import { formatRelativeTime, latestRows } from './value-format';

/** The device panel (public API: the console's main wires it to the stores and the live feed). */
export interface DevicePanel {
  /** Shows `view`'s device (builds the panel; loads its history, alerts and commands). */
  show(view: DeviceView): void;
  /** A newer view of the shown device: status and latest values change in place (focus stays). */
  update(view: DeviceView): void;
  /** A live reading: latest values of the shown device and its chart. Readings of others are ignored. */
  applyReading(reading: Reading): void;
  /** A live `command` event of the shown device: its record moves on (acknowledged, failed, timed-out). */
  applyCommand(command: CommandRecordBody): void;
  /** A live alert transition of the shown device: its recent alerts list changes. */
  applyAlert(event: AlertEvent): void;
  /** Empties the panel (no device shown). */
  hide(): void;
  /**
   * Shows "no such device in your scope" (`[data-testid=device-not-found]`) instead of a device:
   * the same words whether the id is unknown or outside the principal's scope.
   */
  showNotFound(): void;
  /** The device shown, null when none. */
  readonly deviceId: string | null;
  /** Hides it and stops its timers and listeners. */
  destroy(): void;
}

export interface DevicePanelDeps {
  api: ApiClient;
  i18n: I18n;
  role: 'viewer' | 'operator' | 'admin';
  /** The area's name from the area tree (the id itself when unknown). */
  areaName: (areaId: string) => string;
  /** The close button was pressed (or Escape in the panel). */
  onClose: () => void;
}

/** Display units of the metric catalogue, for withReading. */
const UNITS: Readonly<Record<string, string>> = Object.fromEntries(
  METRIC_NAMES.map((name) => [name, METRIC_CATALOGUE[name].unit]),
);

/** How often the relative times ("2 phút trước") are refreshed, ms. */
const RELATIVE_TICK_MS = 15_000;

type Key = keyof (typeof M)['vi'];

/**
 * The device panel (`[data-testid=device-panel][data-device-id]`): name, id, type, area, registry
 * state when not active, status with since and last seen (absolute in Vietnam time and relative),
 * the clock-suspect warning; the latest values (`[data-metric]` rows: label, value, unit, time,
 * camera event); an air-quality station's VN_AQI with band name, colour and advice; the history
 * chart with CSV link; the device's recent alerts (open and past, live); its commands (form for
 * operator and admin only) and their acknowledgements. Texts in the I18n's language; a language
 * change rebuilds the panel. Built with createElement/textContent only.
 */
export function createDevicePanel(container: HTMLElement, deps: DevicePanelDeps): DevicePanel {
  const { api, i18n } = deps;
  const t = (key: Key, params?: Record<string, string | number>): string => i18n.t(M, key, params);
  const root = el('section', {
    className: 'ioc-device-panel',
    attrs: { 'data-testid': 'device-panel', tabindex: '-1' },
  });
  root.hidden = true;
  container.append(root);

  let view: DeviceView | null = null;
  let chart: HistoryChart | null = null;
  let commands: CommandSection | null = null;
  let alerts: AlertRow[] = [];
  let alive = 0; // incremented on each show/hide: answers for an earlier device are dropped
  let parts: {
    title: HTMLElement;
    facts: HTMLElement;
    status: HTMLElement;
    statusSince: HTMLElement;
    lastSeen: HTMLElement;
    clock: HTMLElement;
    registry: HTMLElement;
    aqi: HTMLElement;
    latestBody: HTMLTableSectionElement;
    latestEmpty: HTMLElement;
    alertList: HTMLUListElement;
    alertStatus: HTMLElement;
  } | null = null;

  const timer = setInterval(() => {
    if (view !== null) renderStatus(view);
  }, RELATIVE_TICK_MS);
  const stopLocale = i18n.onChange(() => {
    if (view !== null) build(view);
  });

  function teardown(): void {
    chart?.destroy();
    commands?.destroy();
    chart = null;
    commands = null;
    parts = null;
    root.replaceChildren();
  }

  function build(next: DeviceView): void {
    teardown();
    const session = ++alive;
    view = next;
    root.hidden = false;
    root.dataset['deviceId'] = next.id;
    root.setAttribute('aria-label', t('panelLabel', { name: next.name }));

    const close = el('button', {
      className: 'ioc-device-close',
      text: '×',
      attrs: { type: 'button', 'aria-label': t('close'), title: t('close'), 'data-testid': 'device-close' },
    });
    close.addEventListener('click', () => deps.onClose());
    const title = el('h2', { className: 'ioc-device-title', attrs: { 'data-testid': 'device-name' } });
    const facts = el('dl', { className: 'ioc-device-facts' });
    const status = el('span', { className: 'ioc-device-status', attrs: { 'data-testid': 'device-status' } });
    const statusSince = el('span', { className: 'ioc-device-since' });
    const lastSeen = el('p', {
      className: 'ioc-device-lastseen',
      attrs: { 'data-testid': 'device-last-seen' },
    });
    const clock = el('p', {
      className: 'ioc-device-warning',
      text: t('clockSuspect'),
      attrs: { role: 'note' },
    });
    const registry = el('p', { className: 'ioc-device-registry' });
    const aqi = el('div', { className: 'ioc-device-aqi', attrs: { 'data-testid': 'device-aqi' } });

    const latestTable = el('table', { className: 'ioc-latest', attrs: { 'data-testid': 'latest-values' } });
    const head = el('thead');
    head.append(
      el('tr', {
        children: [
          el('th', { text: t('metric'), attrs: { scope: 'col' } }),
          el('th', { text: t('value'), attrs: { scope: 'col' } }),
          el('th', { text: t('unit'), attrs: { scope: 'col' } }),
          el('th', { text: t('time'), attrs: { scope: 'col' } }),
        ],
      }),
    );
    const latestBody = el('tbody');
    latestTable.append(head, latestBody);
    const latestEmpty = el('p', { className: 'ioc-device-muted', text: t('noValues') });

    const alertSection = el('section', {
      className: 'ioc-device-alerts',
      attrs: { 'data-testid': 'device-alerts' },
    });
    const alertList = el('ul', { className: 'ioc-device-alert-list' });
    const alertStatus = el('p', { className: 'ioc-device-muted', attrs: { role: 'status' } });
    alertSection.append(
      el('h3', { className: 'ioc-device-section-title', text: t('alertsTitle') }),
      alertStatus,
      alertList,
    );

    const chartBox = el('div', { className: 'ioc-device-chart' });
    const commandBox = el('div', { className: 'ioc-device-commands' });

    root.append(
      el('header', { className: 'ioc-device-header', children: [title, close] }),
      facts,
      registry,
      el('p', { className: 'ioc-device-statusline', children: [status, statusSince] }),
      lastSeen,
      clock,
      aqi,
      el('section', {
        className: 'ioc-device-latest',
        children: [
          el('h3', { className: 'ioc-device-section-title', text: t('latestTitle') }),
          latestEmpty,
          latestTable,
        ],
      }),
      chartBox,
      alertSection,
      commandBox,
    );
    parts = {
      title,
      facts,
      status,
      statusSince,
      lastSeen,
      clock,
      registry,
      aqi,
      latestBody,
      latestEmpty,
      alertList,
      alertStatus,
    };
    render(next);

    chart = createHistoryChart(chartBox, {
      api,
      i18n,
      deviceId: next.id,
      type: next.type,
      reported: Object.keys(next.latest),
    });
    commands = createCommandSection(commandBox, {
      api,
      i18n,
      deviceId: next.id,
      type: next.type,
      canCommand: deps.role === 'operator' || deps.role === 'admin',
    });

    alerts = [];
    renderAlerts();
    setText(alertStatus, '…');
    api
      .alerts({ deviceId: [next.id], limit: RECENT_ALERTS_LIMIT })
      .then((body) => {
        if (session !== alive) return;
        for (const alert of body.alerts) alerts = mergeAlertRow(alerts, alertRowFromBody(alert));
        renderAlerts();
      })
      .catch((error: unknown) => {
        if (session !== alive || parts === null) return;
        setText(parts.alertStatus, t('alertsError', { detail: errorText(error) }));
      });
  }

  function render(current: DeviceView): void {
    if (parts === null) return;
    const locale = i18n.locale;
    setText(parts.title, current.name);
    parts.facts.replaceChildren(
      ...fact(t('id'), current.id),
      ...fact(t('type'), labelOf(DEVICE_TYPE_LABELS, current.type, locale)),
      ...fact(t('area'), deps.areaName(current.areaId)),
    );
    parts.registry.hidden = current.state === 'active';
    setText(parts.registry, `${t('registryState')}: ${t(current.state)}`);
    parts.clock.hidden = !current.clockSuspect;
    renderStatus(current);
    renderAqi(current);
    renderLatest(current);
  }

  function fact(term: string, value: string): HTMLElement[] {
    return [el('dt', { text: term }), el('dd', { text: value })];
  }

  function renderStatus(current: DeviceView): void {
    if (parts === null) return;
    const locale = i18n.locale;
    const now = Date.now();
    setText(parts.status, `${t('status')}: ${labelOf(STATUS_LABELS, current.status, locale)}`);
    parts.status.dataset['status'] = current.status;
    setText(
      parts.statusSince,
      current.statusSince === null
        ? ''
        : ` ${t('since', { time: `${formatDateTime(current.statusSince, locale)} (${formatRelativeTime(current.statusSince, now, locale)})` })}`,
    );
    setText(
      parts.lastSeen,
      `${t('lastSeen')}: ${
        current.lastSeen === null
          ? t('never')
          : `${formatDateTime(current.lastSeen, locale)} (${formatRelativeTime(current.lastSeen, now, locale)})`
      }`,
    );
  }

  function renderAqi(current: DeviceView): void {
    if (parts === null) return;
    const box = parts.aqi;
    if (current.aqi === null) {
      box.hidden = true;
      box.replaceChildren();
      return;
    }
    const locale = i18n.locale;
    const record = bandRecord(current.aqi.band);
    box.hidden = false;
    box.dataset['aqiBand'] = record.band;
    const swatch = el('span', { className: 'ioc-aqi-swatch', attrs: { 'aria-hidden': 'true' } });
    swatch.style.backgroundColor = record.colour;
    box.replaceChildren(
      el('h3', { className: 'ioc-device-section-title', text: t('aqiTitle') }),
      el('p', {
        className: 'ioc-aqi-value',
        children: [
          swatch,
          el('strong', { text: String(current.aqi.value) }),
          el('span', { text: ` ${t('aqiBand', { band: record.name[locale] })}` }),
        ],
      }),
      el('p', { text: t('aqiAdvice', { advice: record.adviceGeneral[locale] }) }),
      el('p', { text: t('aqiAdviceSensitive', { advice: record.adviceSensitive[locale] }) }),
    );
  }

  function renderLatest(current: DeviceView): void {
    if (parts === null) return;
    const rows = latestRows(current.type, current.latest, i18n.locale);
    const body = parts.latestBody;
    const existing = new Map<string, HTMLTableRowElement>();
    for (const row of Array.from(body.rows)) existing.set(row.dataset['metric'] ?? '', row);
    rows.forEach((row, index) => {
      let tr = existing.get(row.metric);
      if (tr === undefined) {
        tr = el('tr', { attrs: { 'data-metric': row.metric } });
        tr.append(
          el('th', { attrs: { scope: 'row' } }),
          el('td', { className: 'ioc-latest-value' }),
          el('td'),
          el('td'),
        );
      }
      if (body.rows[index] !== tr) body.insertBefore(tr, body.rows[index] ?? null);
      const [label, value, unit, time] = Array.from(tr.cells);
      setText(label, row.label);
      setText(value, row.event === null ? row.value : `${row.value} (${t('eventOf', { event: row.event })})`);
      setText(unit, row.unit);
      setText(time, row.time);
    });
    parts.latestEmpty.hidden = rows.length > 0;
  }

  function renderAlerts(): void {
    if (parts === null) return;
    const locale = i18n.locale;
    const list = parts.alertList;
    list.replaceChildren(
      ...alerts.map((row) => {
        const item = el('li', {
          className: 'ioc-device-alert',
          attrs: { 'data-alert-id': row.id, 'data-severity': row.severity, 'data-state': row.state },
        });
        item.append(
          el('span', {
            className: 'ioc-device-alert-severity',
            text: labelOf(SEVERITY_LABELS, row.severity, locale),
          }),
          el('span', {
            className: 'ioc-device-alert-state',
            text: labelOf(ALERT_STATE_LABELS, row.state, locale),
          }),
          el('span', { className: 'ioc-device-alert-message', text: row.message[locale] }),
          el('span', {
            className: 'ioc-device-alert-time',
            text: [formatDateTime(row.startedAt, locale), alertRowValueText(row, locale)]
              .filter((part) => part !== null)
              .join(' · '),
          }),
        );
        return item;
      }),
    );
    setText(parts.alertStatus, alerts.length === 0 ? t('alertsEmpty') : '');
    parts.alertStatus.hidden = alerts.length > 0;
  }

  root.addEventListener('keydown', (event) => {
    if (event.key === 'Escape') deps.onClose();
  });

  const panel: DevicePanel = {
    show(next) {
      build(next);
    },
    update(next) {
      if (view === null || next.id !== view.id) return;
      const previous = view;
      view = next;
      if (
        previous.name !== next.name ||
        previous.state !== next.state ||
        previous.areaId !== next.areaId ||
        previous.clockSuspect !== next.clockSuspect
      ) {
        render(next);
        return;
      }
      renderStatus(next);
      if (previous.aqi?.value !== next.aqi?.value) renderAqi(next);
      if (previous.latest !== next.latest) renderLatest(next);
    },
    applyReading(reading) {
      if (view === null || reading.deviceId !== view.id) return;
      const next = withReading(view, reading, UNITS);
      chart?.applyReading(reading);
      if (next !== view) panel.update(next);
    },
    applyCommand(command) {
      if (view !== null && command.deviceId === view.id) commands?.applyCommand(command);
    },
    applyAlert(event) {
      if (view === null || event.alert.deviceId !== view.id) return;
      const next = mergeAlertRow(alerts, alertRowFromEvent(event));
      if (next === alerts) return;
      alerts = next;
      renderAlerts();
    },
    hide() {
      alive++;
      teardown();
      view = null;
      root.hidden = true;
      delete root.dataset['deviceId'];
    },
    showNotFound() {
      panel.hide();
      root.hidden = false;
      root.removeAttribute('aria-label');
      root.append(
        el('p', {
          className: 'ioc-device-muted',
          text: t('notFound'),
          attrs: { role: 'status', 'data-testid': 'device-not-found' },
        }),
      );
    },
    get deviceId() {
      return view?.id ?? null;
    },
    destroy() {
      panel.hide();
      clearInterval(timer);
      stopLocale();
      root.remove();
    },
  };
  return panel;
}
