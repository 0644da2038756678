import type { AreaBody, Domain, Severity } from '@ioc/contracts';
import { DOMAINS, findUnsafeCharacter } from '@ioc/contracts';
import {
  ALERT_STATE_LABELS,
  ApiError,
  DOMAIN_LABELS,
  SEVERITY_LABELS,
  SEVERITY_ORDER,
  defineMessages,
  formatDateTime,
  formatNumber,
  isNewAlert,
  labelOf,
  NEW_ALERT_MS,
  versionOf,
  type AlertStore,
  type ApiClient,
  type ConsoleAlert,
  type I18n,
} from '@ioc/console-data';
import type { AlertSound } from './alert-sound';
import { h, replaceChildren } from './dom-builder';
import './alerts-panel.css';

export const ALERTS_MESSAGES = defineMessages({
  vi: {
    heading: 'Cảnh báo',
    filters: 'Lọc cảnh báo',
    area: 'Địa bàn',
    domain: 'Lĩnh vực',
    severity: 'Mức độ',
    all: 'Tất cả',
    empty: 'Không có cảnh báo nào đang mở.',
    emptyFiltered: 'Không có cảnh báo nào khớp bộ lọc.',
    count: '{shown}/{total} cảnh báo',
    ack: 'Tiếp nhận',
    ackNote: 'Ghi chú (không bắt buộc, tối đa 1000 ký tự)',
    ackConfirm: 'Xác nhận tiếp nhận',
    ackCancel: 'Hủy',
    acking: 'Đang gửi…',
    acknowledgedBy: 'Đã tiếp nhận bởi {who} lúc {at}',
    note: 'Ghi chú: {note}',
    changed: 'Cảnh báo vừa thay đổi; đã tải lại trạng thái mới. Vui lòng xem lại.',
    refused: 'Không tiếp nhận được: {message}',
    forbidden: 'Bạn không có quyền tiếp nhận cảnh báo này.',
    network: 'Không kết nối được máy chủ. Thử lại.',
    resolved: 'Đã kết thúc',
    pending: 'Đang chờ xác nhận',
    value: 'Giá trị: {value}',
    limit: 'ngưỡng {limit}',
    areaAlert: 'Toàn địa bàn {area}',
    notifyAsk: 'Bật thông báo trình duyệt',
    notifyOn: 'Thông báo trình duyệt: đã bật',
    notifyDenied: 'Thông báo trình duyệt bị chặn',
    notificationTitle: 'Cảnh báo nghiêm trọng',
    rowLabel: '{severity}: {message} — {subject}',
    newBadge: 'Mới',
  },
  en: {
    heading: 'Alerts',
    filters: 'Filter alerts',
    area: 'Area',
    domain: 'Domain',
    severity: 'Severity',
    all: 'All',
    empty: 'No open alerts.',
    emptyFiltered: 'No alert matches the filters.',
    count: '{shown}/{total} alerts',
    ack: 'Acknowledge',
    ackNote: 'Note (optional, up to 1000 characters)',
    ackConfirm: 'Confirm acknowledgement',
    ackCancel: 'Cancel',
    acking: 'Sending…',
    acknowledgedBy: 'Acknowledged by {who} at {at}',
    note: 'Note: {note}',
    changed: 'The alert has just changed; its new state is shown. Please check it again.',
    refused: 'Could not acknowledge: {message}',
    forbidden: 'You may not acknowledge this alert.',
    network: 'Cannot reach the server. Try again.',
    resolved: 'Resolved',
    pending: 'Pending confirmation',
    value: 'Value: {value}',
    limit: 'limit {limit}',
    areaAlert: 'Whole area {area}',
    notifyAsk: 'Turn on browser notifications',
    notifyOn: 'Browser notifications: on',
    notifyDenied: 'Browser notifications are blocked',
    notificationTitle: 'Critical alert',
    rowLabel: '{severity}: {message} — {subject}',
    newBadge: 'New',
  },
});

/** The panel's filters; null: any. */
export interface AlertFilter {
  area: string | null;
  domain: Domain | null;
  severity: Severity | null;
}

/** Whether an alert passes the filters: its area or an ancestor is the area chosen (areaPath). */
export function alertMatchesFilter(
  alert: Pick<ConsoleAlert, 'areaId' | 'areaPath' | 'domain' | 'severity'>,
  filter: AlertFilter,
): boolean {
  if (filter.severity !== null && alert.severity !== filter.severity) return false;
  if (filter.domain !== null && alert.domain !== filter.domain) return false;
  if (filter.area !== null && alert.areaId !== filter.area && !alert.areaPath.includes(filter.area))
    return false;
  return true;
}

/**
 * The area filter's choices: the top-level areas of the tree the principal sees (those whose
 * parent is absent from it) and their children, each child after its parent, by name.
 */
export function areaFilterOptions(
  areas: readonly AreaBody[],
): Array<{ id: string; name: string; depth: 0 | 1 }> {
  const ids = new Set(areas.map((a) => a.id));
  const byName = (a: AreaBody, b: AreaBody): number => a.name.localeCompare(b.name, 'vi');
  const tops = areas.filter((a) => a.parentId === null || !ids.has(a.parentId)).sort(byName);
  const options: Array<{ id: string; name: string; depth: 0 | 1 }> = [];
  for (const top of tops) {
    options.push({ id: top.id, name: top.name, depth: 0 });
    for (const child of areas.filter((a) => a.parentId === top.id).sort(byName))
      options.push({ id: child.id, name: child.name, depth: 1 });
  }
  return options;
}

/**
 * Whether a changed alert calls for the critical signal (tone, browser notification): critical,
 * firing, and not signalled before (`signalled` holds the ids already signalled or present at
 * first paint).
 */
export function needsCriticalSignal(
  alert: Pick<ConsoleAlert, 'id' | 'severity' | 'state'>,
  signalled: ReadonlySet<string>,
): boolean {
  return alert.severity === 'critical' && alert.state === 'firing' && !signalled.has(alert.id);
}

/** Longest acknowledgement note the API takes (alertActionBody: safeTextSchema(0, 1000)). */
export const MAX_ACK_NOTE = 1000;

/**
 * Why an acknowledgement note would be refused, in `locale`, checked before sending with the
 * contracts' text-safety rule the API applies (findUnsafeCharacter: control and bidirectional
 * characters, CVE-2021-42574) and MAX_ACK_NOTE; null when it may be sent. Positions count from 1.
 */
export function ackNoteRefusal(note: string, locale: 'vi' | 'en'): string | null {
  const found = findUnsafeCharacter(note);
  if (found !== undefined) {
    const bidi = found.codePoint >= 0x200e;
    return locale === 'vi'
      ? `Ghi chú chứa ký tự ${bidi ? 'điều khiển hướng chữ' : 'điều khiển'} ${found.label} ở vị trí ${found.index + 1}; hãy xoá ký tự đó.`
      : `The note contains the ${bidi ? 'bidirectional control' : 'control'} character ${found.label} at position ${found.index + 1}; remove it.`;
  }
  if (note.length > MAX_ACK_NOTE)
    return locale === 'vi'
      ? `Ghi chú dài quá ${MAX_ACK_NOTE} ký tự.`
      : `The note is longer than ${MAX_ACK_NOTE} characters.`;
  return null;
}

export interface AlertsPanelDeps {
  i18n: I18n;
  alerts: AlertStore;
  api: Pick<ApiClient, 'acknowledgeAlert' | 'alert'>;
  /** operator or admin: firing alerts get an acknowledge button. */
  canAcknowledge: boolean;
  /** The domain filter's choices (a principal scoped to some domains sees only those); default every domain. */
  domains?: readonly Domain[];
  /** The area tree the principal sees (filter choices, area names). */
  areas: readonly AreaBody[];
  /** The logged-in account (an acknowledgement by it shows its name, not its id). */
  me: { id: string; name: string };
  /** A row was clicked or Enter pressed on it: select its device. */
  onSelectDevice(deviceId: string): void;
  /** ConsoleConfigBody.alerts. */
  config: { sound: boolean; browserNotifications: boolean };
  /** The header's sound toggle. */
  soundOn(): boolean;
  sound: AlertSound;
}

export interface AlertsPanel {
  destroy(): void;
}

interface Row {
  alert: ConsoleAlert;
  element: HTMLElement;
  body: HTMLElement;
  actions: HTMLElement;
  form: HTMLFormElement | null;
  message: string | null;
}

/**
 * The alerts panel `[data-testid=alerts-panel]`: open alerts in the store's order (firing, then
 * acknowledged, pending, fading; each newest transition first — compareAlertsForList), an alert
 * that arrived or changed live in the last NEW_ALERT_MS badged "Mới"/"New"
 * `[data-testid=alert-new]`, each row
 * `[data-alert-id][data-severity][data-state]` (severity by icon shape, text and colour; the
 * rule's message in the current language; device or area; area; value and unit; time); filters
 * by area, domain, severity; for operators an acknowledge button `[data-testid=ack]` on firing
 * alerts → note `[data-testid=ack-note]` → `[data-testid=ack-confirm]`. Resolved alerts fade out
 * and leave (the store's FADE_OUT_MS). A critical alert that fires plays the tone and shows a
 * browser notification when configured and allowed. Enter or a click on a row selects its device.
 */
export function createAlertsPanel(container: HTMLElement, deps: AlertsPanelDeps): AlertsPanel {
  const { i18n, alerts } = deps;
  const areaNames = new Map(deps.areas.map((a) => [a.id, a.name]));
  const areaName = (id: string): string => areaNames.get(id) ?? id;
  const filter: AlertFilter = { area: null, domain: null, severity: null };
  const rows = new Map<string, Row>();
  const signalled = new Set(alerts.list().map((a) => a.id));
  /** When each alert last arrived or changed live (epoch ms): the "new" badge (isNewAlert). */
  const liveChangedAt = new Map<string, number>();
  const newTimers = new Map<string, ReturnType<typeof setTimeout>>();

  const heading = h('h2', { class: 'ioc-alerts__heading', id: 'ioc-alerts-heading' });
  const count = h('span', { class: 'ioc-alerts__count', 'aria-live': 'polite' });

  const areaLabel = h('label', { for: 'ioc-alerts-area' });
  const areaSelect = h('select', { id: 'ioc-alerts-area', 'data-testid': 'alerts-filter-area' });
  const domainLabel = h('label', { for: 'ioc-alerts-domain' });
  const domainSelect = h('select', { id: 'ioc-alerts-domain', 'data-testid': 'alerts-filter-domain' });
  const severityLabel = h('label', { for: 'ioc-alerts-severity' });
  const severitySelect = h('select', { id: 'ioc-alerts-severity', 'data-testid': 'alerts-filter-severity' });
  const filters = h(
    'div',
    { class: 'ioc-alerts__filters', role: 'group' },
    h('div', { class: 'ioc-field' }, areaLabel, areaSelect),
    h('div', { class: 'ioc-field' }, domainLabel, domainSelect),
    h('div', { class: 'ioc-field' }, severityLabel, severitySelect),
  );
  const notifyButton =
    deps.config.browserNotifications && typeof Notification !== 'undefined'
      ? h('button', {
          type: 'button',
          class: 'ioc-button ioc-alerts__notify',
          'data-testid': 'notify-permission',
        })
      : null;
  const list = h('ul', { class: 'ioc-alerts__list', 'aria-labelledby': 'ioc-alerts-heading' });
  const empty = h('p', { class: 'ioc-alerts__empty' });
  const root = h(
    'section',
    { class: 'ioc-alerts', 'data-testid': 'alerts-panel' },
    h('div', { class: 'ioc-alerts__top' }, heading, count, notifyButton),
    filters,
    empty,
    list,
  );
  replaceChildren(container, root);

  const option = (value: string, text: string): HTMLOptionElement => h('option', { value }, text);

  function renderFilterOptions(): void {
    const all = i18n.t(ALERTS_MESSAGES, 'all');
    replaceChildren(
      areaSelect,
      option('', all),
      ...areaFilterOptions(deps.areas).map((a) =>
        option(a.id, `${a.depth === 1 ? '\u00a0\u00a0– ' : ''}${a.name}`),
      ),
    );
    replaceChildren(
      domainSelect,
      option('', all),
      ...(deps.domains ?? DOMAINS).map((d) => option(d, labelOf(DOMAIN_LABELS, d, i18n.locale))),
    );
    replaceChildren(
      severitySelect,
      option('', all),
      ...[...SEVERITY_ORDER].reverse().map((s) => option(s, labelOf(SEVERITY_LABELS, s, i18n.locale))),
    );
    areaSelect.value = filter.area ?? '';
    domainSelect.value = filter.domain ?? '';
    severitySelect.value = filter.severity ?? '';
  }

  function whoAcknowledged(alert: ConsoleAlert): string {
    if (alert.acknowledgedBy === deps.me.id) return deps.me.name;
    return alert.acknowledgedBy ?? '?';
  }

  function valueText(alert: ConsoleAlert): string | null {
    if (alert.value === null) return null;
    const value =
      typeof alert.value === 'number' ? formatNumber(alert.value, i18n.locale) : String(alert.value);
    const unit = alert.unit === '' ? '' : ` ${alert.unit}`;
    let text = i18n.t(ALERTS_MESSAGES, 'value', { value: `${value}${unit}` });
    if (alert.limit !== null)
      text += ` (${i18n.t(ALERTS_MESSAGES, 'limit', { limit: `${formatNumber(alert.limit, i18n.locale)}${unit}` })})`;
    return text;
  }

  /**
   * The card's secondary line's subject: for a device alert its id and area (the rule's message
   * already names the device, and the seeded names carry their ward), for an area alert the area.
   */
  function subjectOf(alert: ConsoleAlert): string {
    if (alert.subjectKind === 'area')
      return i18n.t(ALERTS_MESSAGES, 'areaAlert', { area: areaName(alert.subjectId) });
    return `${alert.deviceId ?? alert.subjectId} · ${areaName(alert.areaId)}`;
  }

  function renderBody(row: Row): void {
    const { alert } = row;
    const severityText = labelOf(SEVERITY_LABELS, alert.severity, i18n.locale);
    const message = alert.message[i18n.locale];
    const subject = subjectOf(alert);
    const stateText =
      alert.state === 'pending'
        ? i18n.t(ALERTS_MESSAGES, 'pending')
        : alert.state === 'resolved'
          ? i18n.t(ALERTS_MESSAGES, 'resolved')
          : labelOf(ALERT_STATE_LABELS, alert.state, i18n.locale);
    const value = valueText(alert);
    const lines: Array<HTMLElement | null> = [
      h(
        'div',
        { class: 'ioc-alert__head' },
        h('span', { class: 'ioc-severity-icon', 'aria-hidden': 'true' }),
        h('span', { class: 'ioc-alert__severity' }, severityText),
        h('span', { class: 'ioc-alert__state', 'data-testid': 'alert-state' }, stateText),
        isNewAlert(liveChangedAt.get(alert.id), Date.now())
          ? h(
              'span',
              { class: 'ioc-alert__new', 'data-testid': 'alert-new' },
              i18n.t(ALERTS_MESSAGES, 'newBadge'),
            )
          : null,
        h(
          'time',
          { class: 'ioc-alert__time', datetime: new Date(alert.firingAt ?? alert.pendingAt).toISOString() },
          formatDateTime(alert.firingAt ?? alert.pendingAt, i18n.locale),
        ),
      ),
      h('div', { class: 'ioc-alert__message' }, message),
      h(
        'div',
        { class: 'ioc-alert__where' },
        h('span', { class: 'ioc-alert__subject' }, subject),
        alert.domain ? ` · ${labelOf(DOMAIN_LABELS, alert.domain, i18n.locale)}` : '',
      ),
      value === null ? null : h('div', { class: 'ioc-alert__value' }, value),
      alert.acknowledgedAt === null
        ? null
        : h(
            'div',
            { class: 'ioc-alert__ack', 'data-testid': 'ack-by' },
            i18n.t(ALERTS_MESSAGES, 'acknowledgedBy', {
              who: whoAcknowledged(alert),
              at: formatDateTime(alert.acknowledgedAt, i18n.locale),
            }),
          ),
      alert.acknowledgementNote
        ? h(
            'div',
            { class: 'ioc-alert__note' },
            i18n.t(ALERTS_MESSAGES, 'note', { note: alert.acknowledgementNote }),
          )
        : null,
      row.message === null ? null : h('div', { class: 'ioc-alert__error', role: 'alert' }, row.message),
    ];
    replaceChildren(row.body, ...lines);
    row.element.setAttribute(
      'aria-label',
      i18n.t(ALERTS_MESSAGES, 'rowLabel', { severity: severityText, message, subject }),
    );
  }

  function renderActions(row: Row): void {
    const firing = row.alert.state === 'firing' && row.alert.fadingSince === null;
    if (!deps.canAcknowledge || !firing) {
      row.form = null;
      replaceChildren(row.actions);
      return;
    }
    if (row.form !== null) {
      relabelForm(row.form);
      return;
    }
    const ack = h(
      'button',
      { type: 'button', class: 'ioc-button ioc-button--primary', 'data-testid': 'ack' },
      i18n.t(ALERTS_MESSAGES, 'ack'),
    );
    ack.addEventListener('click', () => openForm(row));
    replaceChildren(row.actions, ack);
  }

  function relabelForm(form: HTMLFormElement): void {
    const label = form.querySelector('label');
    if (label) label.textContent = i18n.t(ALERTS_MESSAGES, 'ackNote');
    const confirm = form.querySelector<HTMLButtonElement>('[data-testid=ack-confirm]');
    if (confirm && !confirm.disabled) confirm.textContent = i18n.t(ALERTS_MESSAGES, 'ackConfirm');
    const cancel = form.querySelector<HTMLButtonElement>('[data-role=cancel]');
    if (cancel) cancel.textContent = i18n.t(ALERTS_MESSAGES, 'ackCancel');
  }

  function openForm(row: Row): void {
    const noteId = `ioc-ack-note-${row.alert.id}`;
    const note = h('input', {
      type: 'text',
      id: noteId,
      class: 'ioc-alert__note-input',
      'data-testid': 'ack-note',
      maxlength: MAX_ACK_NOTE,
      autocomplete: 'off',
    });
    const confirm = h('button', {
      type: 'submit',
      class: 'ioc-button ioc-button--primary',
      'data-testid': 'ack-confirm',
    });
    const cancel = h('button', { type: 'button', class: 'ioc-button', 'data-role': 'cancel' });
    const form = h(
      'form',
      { class: 'ioc-alert__ack-form' },
      h('label', { for: noteId }),
      note,
      h('div', { class: 'ioc-alert__ack-buttons' }, confirm, cancel),
    );
    relabelForm(form);
    cancel.addEventListener('click', () => {
      row.form = null;
      renderActions(row);
      row.element.focus();
    });
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      void acknowledge(row, note.value, confirm);
    });
    row.form = form;
    replaceChildren(row.actions, form);
    note.focus();
  }

  async function acknowledge(row: Row, noteText: string, confirm: HTMLButtonElement): Promise<void> {
    confirm.disabled = true;
    confirm.textContent = i18n.t(ALERTS_MESSAGES, 'acking');
    const alert = row.alert;
    const note = noteText.trim();
    const refusal = ackNoteRefusal(note, i18n.locale);
    if (refusal !== null) {
      row.message = refusal;
      confirm.disabled = false;
      if (confirm.form) relabelForm(confirm.form);
      const current = rows.get(alert.id);
      if (current) renderBody(current);
      return;
    }
    try {
      const version = await versionOf(alert, deps.api, alerts);
      if (version === null) {
        row.message = i18n.t(ALERTS_MESSAGES, 'changed');
      } else {
        const answer = await deps.api.acknowledgeAlert(alert.id, {
          ...(note === '' ? {} : { note }),
          version,
        });
        row.message = null;
        row.form = null;
        alerts.applyBody(answer);
      }
    } catch (error) {
      if (error instanceof ApiError && error.status === 409) {
        row.message = i18n.t(ALERTS_MESSAGES, 'changed');
        row.form = null;
        try {
          alerts.applyBody((await deps.api.alert(alert.id)).alert);
        } catch {
          /* the live feed will bring it */
        }
      } else if (error instanceof ApiError && error.status === 403) {
        row.message = i18n.t(ALERTS_MESSAGES, 'forbidden');
      } else if (error instanceof ApiError) {
        row.message = i18n.t(ALERTS_MESSAGES, 'refused', { message: error.body.message ?? error.message });
      } else {
        row.message = i18n.t(ALERTS_MESSAGES, 'network');
      }
    }
    confirm.disabled = false;
    if (confirm.form) relabelForm(confirm.form);
    const current = rows.get(alert.id);
    const latest = alerts.get(alert.id);
    if (current && latest) updateRow(current, latest);
  }

  function makeRow(alert: ConsoleAlert): Row {
    const body = h('div', { class: 'ioc-alert__body' });
    const actions = h('div', { class: 'ioc-alert__actions' });
    const element = h('li', { class: 'ioc-alert', tabindex: 0 }, body, actions);
    const row: Row = { alert, element, body, actions, form: null, message: null };
    const select = (): void => {
      const deviceId = row.alert.deviceId;
      if (deviceId) deps.onSelectDevice(deviceId);
    };
    element.addEventListener('click', (event) => {
      if ((event.target as Element).closest('button, input, form, select, a')) return;
      select();
    });
    element.addEventListener('keydown', (event) => {
      if (event.target !== element || event.key !== 'Enter') return;
      event.preventDefault();
      select();
    });
    return row;
  }

  function updateRow(row: Row, alert: ConsoleAlert): void {
    row.alert = alert;
    const el = row.element;
    el.dataset['alertId'] = alert.id;
    el.dataset['severity'] = alert.severity;
    el.dataset['state'] = alert.state;
    if (alert.deviceId) el.dataset['deviceId'] = alert.deviceId;
    el.classList.toggle('ioc-alert--fading', alert.fadingSince !== null);
    el.classList.toggle('ioc-alert--pending', alert.state === 'pending');
    el.classList.add(`ioc-severity--${alert.severity}`);
    for (const s of SEVERITY_ORDER) if (s !== alert.severity) el.classList.remove(`ioc-severity--${s}`);
    renderBody(row);
    renderActions(row);
  }

  /** Brings the list in line with the store: rows kept (an open note survives), added, removed, reordered. */
  function sync(changed: readonly ConsoleAlert[]): void {
    for (const alert of changed) {
      const current = alerts.get(alert.id);
      const row = rows.get(alert.id);
      if (current === undefined) {
        row?.element.remove();
        rows.delete(alert.id);
      } else if (row === undefined) {
        const created = makeRow(current);
        rows.set(current.id, created);
        updateRow(created, current);
      } else updateRow(row, current);
    }
    layout();
  }

  function layout(): void {
    const all = alerts.list();
    let shown = 0;
    let previous: Element | null = null;
    for (const alert of all) {
      const row = rows.get(alert.id);
      if (row === undefined) continue;
      const visible = alertMatchesFilter(alert, filter);
      row.element.hidden = !visible;
      if (visible) shown += 1;
      // Insert in order without moving rows already in place (moving would drop focus).
      const expected: ChildNode | null = previous === null ? list.firstChild : previous.nextSibling;
      if (expected !== row.element) list.insertBefore(row.element, expected);
      previous = row.element;
    }
    const total = all.filter((a) => a.fadingSince === null).length;
    count.textContent = i18n.t(ALERTS_MESSAGES, 'count', { shown, total });
    empty.hidden = shown > 0;
    empty.textContent = i18n.t(ALERTS_MESSAGES, all.length === 0 ? 'empty' : 'emptyFiltered');
  }

  function signal(changed: readonly ConsoleAlert[]): void {
    for (const alert of changed) {
      if (!needsCriticalSignal(alert, signalled)) continue;
      signalled.add(alert.id);
      if (deps.config.sound && deps.soundOn()) deps.sound.play();
      if (
        deps.config.browserNotifications &&
        typeof Notification !== 'undefined' &&
        Notification.permission === 'granted'
      ) {
        try {
          new Notification(i18n.t(ALERTS_MESSAGES, 'notificationTitle'), {
            body: `${alert.message[i18n.locale]} — ${subjectOf(alert)}`,
            tag: alert.id,
            lang: i18n.locale,
          });
        } catch {
          /* some browsers allow notifications only from a service worker */
        }
      }
    }
  }

  function renderNotify(): void {
    if (notifyButton === null) return;
    const permission = Notification.permission;
    notifyButton.textContent = i18n.t(
      ALERTS_MESSAGES,
      permission === 'granted' ? 'notifyOn' : permission === 'denied' ? 'notifyDenied' : 'notifyAsk',
    );
    notifyButton.disabled = permission !== 'default';
  }

  function renderAll(): void {
    heading.textContent = i18n.t(ALERTS_MESSAGES, 'heading');
    filters.setAttribute('aria-label', i18n.t(ALERTS_MESSAGES, 'filters'));
    areaLabel.textContent = i18n.t(ALERTS_MESSAGES, 'area');
    domainLabel.textContent = i18n.t(ALERTS_MESSAGES, 'domain');
    severityLabel.textContent = i18n.t(ALERTS_MESSAGES, 'severity');
    renderFilterOptions();
    renderNotify();
    for (const row of rows.values()) {
      renderBody(row);
      renderActions(row);
    }
    layout();
  }

  areaSelect.addEventListener('change', () => {
    filter.area = areaSelect.value === '' ? null : areaSelect.value;
    layout();
  });
  domainSelect.addEventListener('change', () => {
    filter.domain = domainSelect.value === '' ? null : (domainSelect.value as Domain);
    layout();
  });
  severitySelect.addEventListener('change', () => {
    filter.severity = severitySelect.value === '' ? null : (severitySelect.value as Severity);
    layout();
  });
  notifyButton?.addEventListener('click', () => {
    void Notification.requestPermission().then(renderNotify, renderNotify);
  });

  sync(alerts.list());
  renderAll();
  /** Marks live arrivals/changes new and takes the badge off NEW_ALERT_MS later. */
  function markNew(changed: readonly ConsoleAlert[]): void {
    const now = Date.now();
    for (const alert of changed) {
      clearTimeout(newTimers.get(alert.id));
      if (alerts.get(alert.id) === undefined) {
        liveChangedAt.delete(alert.id);
        newTimers.delete(alert.id);
        continue;
      }
      liveChangedAt.set(alert.id, now);
      newTimers.set(
        alert.id,
        setTimeout(() => {
          newTimers.delete(alert.id);
          liveChangedAt.delete(alert.id);
          const row = rows.get(alert.id);
          if (row) renderBody(row);
        }, NEW_ALERT_MS),
      );
    }
  }

  const stopAlerts = alerts.onChange((changed) => {
    markNew(changed);
    sync(changed);
    signal(changed);
  });
  const stopLocale = i18n.onChange(renderAll);
  return {
    destroy() {
      stopAlerts();
      stopLocale();
      for (const timer of newTimers.values()) clearTimeout(timer);
      root.remove();
    },
  };
}
