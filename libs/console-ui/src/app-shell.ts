import type { AreaBody, MeBody } from '@ioc/contracts';
import {
  DOMAIN_LABELS,
  ROLE_LABELS,
  defineMessages,
  labelOf,
  type I18n,
  type LiveConnectionState,
} from '@ioc/console-data';
import { h, replaceChildren } from './dom-builder';
import { createLocaleSwitch } from './locale-switch';
import './app-shell.css';

export const SHELL_MESSAGES = defineMessages({
  vi: {
    title: 'Trung tâm giám sát, điều hành đô thị thông minh tỉnh Tây Ninh',
    logout: 'Đăng xuất',
    soundOn: 'Âm báo: bật',
    soundOff: 'Âm báo: tắt',
    soundLabel: 'Âm báo khi có cảnh báo nghiêm trọng',
    connecting: 'Đang kết nối…',
    connected: 'Trực tuyến',
    reconnecting: 'Mất kết nối, đang kết nối lại…',
    ended: 'Phiên đã kết thúc',
    connectionLabel: 'Dữ liệu trực tiếp: {state}',
    scopeAll: 'Toàn tỉnh',
    scopeAgency: 'Đơn vị: {agency}',
    scopeDomains: 'Lĩnh vực: {domains}',
    scopeAreas: 'Địa bàn: {areas}',
    tabs: 'Bảng bên',
    tabAlerts: 'Cảnh báo',
    tabDevice: 'Thiết bị',
    tabCameras: 'Camera',
    map: 'Bản đồ thiết bị',
    overview: 'Tổng quan toàn tỉnh',
  },
  en: {
    title: 'Tay Ninh Province Smart City Monitoring and Operations Centre',
    logout: 'Log out',
    soundOn: 'Sound: on',
    soundOff: 'Sound: off',
    soundLabel: 'Sound for critical alerts',
    connecting: 'Connecting…',
    connected: 'Live',
    reconnecting: 'Connection lost, reconnecting…',
    ended: 'Session ended',
    connectionLabel: 'Live data: {state}',
    scopeAll: 'Whole province',
    scopeAgency: 'Agency: {agency}',
    scopeDomains: 'Domains: {domains}',
    scopeAreas: 'Areas: {areas}',
    tabs: 'Side panels',
    tabAlerts: 'Alerts',
    tabDevice: 'Device',
    tabCameras: 'Cameras',
    map: 'Device map',
    overview: 'Province overview',
  },
});

/** The side column's tabs, in order. */
export const SHELL_TABS = ['alerts', 'device', 'cameras'] as const;
export type ShellTab = (typeof SHELL_TABS)[number];

/**
 * The tab a key press moves to in a tablist (WAI-ARIA Authoring Practices, Tabs: Left/Right wrap
 * around, Home/End go to the ends), or undefined for another key.
 */
export function tabAfterKey(current: ShellTab, key: string): ShellTab | undefined {
  const index = SHELL_TABS.indexOf(current);
  const n = SHELL_TABS.length;
  switch (key) {
    case 'ArrowRight':
    case 'ArrowDown':
      return SHELL_TABS[(index + 1) % n];
    case 'ArrowLeft':
    case 'ArrowUp':
      return SHELL_TABS[(index - 1 + n) % n];
    case 'Home':
      return SHELL_TABS[0];
    case 'End':
      return SHELL_TABS[n - 1];
    default:
      return undefined;
  }
}

/**
 * A scoped principal's scope in words: its agency, its domains and its areas (area names from the
 * area tree); the whole province when it has no scope.
 */
export function scopeSummary(
  i18n: I18n,
  me: Pick<MeBody, 'scope' | 'agencyId'>,
  areaName: (id: string) => string,
): string {
  const parts: string[] = [];
  if (me.agencyId) parts.push(i18n.t(SHELL_MESSAGES, 'scopeAgency', { agency: me.agencyId }));
  if (me.scope?.domains)
    parts.push(
      i18n.t(SHELL_MESSAGES, 'scopeDomains', {
        domains: me.scope.domains.map((d) => labelOf(DOMAIN_LABELS, d, i18n.locale)).join(', '),
      }),
    );
  if (me.scope?.areas)
    parts.push(i18n.t(SHELL_MESSAGES, 'scopeAreas', { areas: me.scope.areas.map(areaName).join(', ') }));
  return parts.length === 0 ? i18n.t(SHELL_MESSAGES, 'scopeAll') : parts.join(' · ');
}

export interface AppShellDeps {
  i18n: I18n;
  me: MeBody;
  /** The area tree, for the scope summary's area names. */
  areas: readonly AreaBody[];
  /** Whether alert sound is offered (ConsoleConfigBody.alerts.sound). */
  soundAvailable: boolean;
  /** The sound toggle's initial position. */
  soundOn: boolean;
  /** The toggle was pressed (a user gesture: the moment a browser lets a page start audio). */
  onSoundChange(on: boolean): void;
  onLogout(): void;
}

/** The shell's regions, filled by the other components. */
export interface ShellRegions {
  overview: HTMLElement;
  map: HTMLElement;
  alerts: HTMLElement;
  device: HTMLElement;
  cameras: HTMLElement;
}

export interface AppShell {
  regions: ShellRegions;
  /** Shows a side tab (a device selected → `device`). `focus` moves keyboard focus to the tab. */
  selectTab(tab: ShellTab, focus?: boolean): void;
  readonly tab: ShellTab;
  /** Calls `listener` when the person switches tab. */
  onTab(listener: (tab: ShellTab) => void): () => void;
  setConnection(state: LiveConnectionState): void;
  destroy(): void;
}

/**
 * The page once logged in: a header (title, `[data-testid=user]` name and role, scope, live
 * connection with text, sound toggle, `[data-testid=locale-switch]`, `[data-testid=logout]`),
 * the overview region, the map region (`[data-testid=map]` is the map library's container) and
 * the side column with the tabs Alerts / Device / Cameras (a WAI-ARIA tablist: arrow keys, Home, End).
 */
export function createAppShell(container: HTMLElement, deps: AppShellDeps): AppShell {
  const { i18n, me } = deps;
  const areaNames = new Map(deps.areas.map((a) => [a.id, a.name]));
  const areaName = (id: string): string => areaNames.get(id) ?? id;

  const title = h('h1', { class: 'ioc-header__title' });
  const userName = h('span', { class: 'ioc-header__name' });
  const userRole = h('span', { class: 'ioc-header__role' });
  const user = h('div', { class: 'ioc-header__user', 'data-testid': 'user' }, userName, ' ', userRole);
  const scope = h('div', { class: 'ioc-header__scope', 'data-testid': 'scope' });
  const connectionText = h('span', { class: 'ioc-connection__text' });
  const connection = h(
    'div',
    { class: 'ioc-connection', role: 'status', 'data-testid': 'connection', 'data-state': 'connecting' },
    h('span', { class: 'ioc-connection__dot', 'aria-hidden': 'true' }),
    connectionText,
  );
  const sound = deps.soundAvailable
    ? h('button', { type: 'button', class: 'ioc-button ioc-sound-toggle', 'data-testid': 'sound-toggle' })
    : null;
  let soundOn = deps.soundOn;
  const localeSwitch = createLocaleSwitch(i18n);
  const logout = h('button', { type: 'button', class: 'ioc-button', 'data-testid': 'logout' });
  const header = h(
    'header',
    { class: 'ioc-header' },
    title,
    h('div', { class: 'ioc-header__who' }, user, scope),
    h('div', { class: 'ioc-header__tools' }, connection, sound, localeSwitch.element, logout),
  );

  const overview = h('section', { class: 'ioc-shell__overview' });
  // The map library draws into this element: it is the DOM contract's `[data-testid=map]`.
  const map = h('section', { class: 'ioc-shell__map', 'data-testid': 'map' });

  const makeTab = (tab: ShellTab): { button: HTMLButtonElement; panel: HTMLElement } => ({
    button: h('button', {
      type: 'button',
      role: 'tab',
      class: 'ioc-tab',
      id: `ioc-tab-${tab}`,
      'aria-controls': `ioc-panel-${tab}`,
      'data-testid': `tab-${tab}`,
    }),
    panel: h('div', {
      class: 'ioc-tabpanel',
      role: 'tabpanel',
      id: `ioc-panel-${tab}`,
      'aria-labelledby': `ioc-tab-${tab}`,
    }),
  });
  const tabs: Readonly<Record<ShellTab, { button: HTMLButtonElement; panel: HTMLElement }>> = {
    alerts: makeTab('alerts'),
    device: makeTab('device'),
    cameras: makeTab('cameras'),
  };
  const tablist = h('div', { class: 'ioc-tabs', role: 'tablist' }, ...SHELL_TABS.map((t) => tabs[t].button));
  const side = h('aside', { class: 'ioc-shell__side' }, tablist, ...SHELL_TABS.map((t) => tabs[t].panel));
  const body = h('div', { class: 'ioc-shell__body' }, map, side);
  const root = h('div', { class: 'ioc-shell' }, header, overview, body);
  replaceChildren(container, root);

  let current: ShellTab = 'alerts';
  let connectionState: LiveConnectionState = 'connecting';
  const tabListeners = new Set<(tab: ShellTab) => void>();

  const selectTab = (tab: ShellTab, focus = false): void => {
    const changed = tab !== current;
    current = tab;
    for (const name of SHELL_TABS) {
      const selected = name === tab;
      tabs[name].button.setAttribute('aria-selected', String(selected));
      tabs[name].button.tabIndex = selected ? 0 : -1;
      tabs[name].panel.hidden = !selected;
    }
    if (focus) tabs[tab].button.focus();
    if (changed) for (const listener of tabListeners) listener(tab);
  };

  for (const tab of SHELL_TABS) {
    const button = tabs[tab].button;
    button.addEventListener('click', () => selectTab(tab));
    button.addEventListener('keydown', (event) => {
      const next = tabAfterKey(current, event.key);
      if (next === undefined) return;
      event.preventDefault();
      selectTab(next, true);
    });
  }
  sound?.addEventListener('click', () => {
    soundOn = !soundOn;
    render();
    deps.onSoundChange(soundOn);
  });
  logout.addEventListener('click', () => deps.onLogout());

  function render(): void {
    title.textContent = i18n.t(SHELL_MESSAGES, 'title');
    userName.textContent = me.displayName ?? me.name;
    userRole.textContent = `(${labelOf(ROLE_LABELS, me.role, i18n.locale)})`;
    scope.textContent = scopeSummary(i18n, me, areaName);
    const stateText = i18n.t(SHELL_MESSAGES, connectionState);
    connectionText.textContent = stateText;
    connection.setAttribute('aria-label', i18n.t(SHELL_MESSAGES, 'connectionLabel', { state: stateText }));
    if (sound) {
      sound.textContent = i18n.t(SHELL_MESSAGES, soundOn ? 'soundOn' : 'soundOff');
      sound.setAttribute('aria-pressed', String(soundOn));
      sound.title = i18n.t(SHELL_MESSAGES, 'soundLabel');
    }
    logout.textContent = i18n.t(SHELL_MESSAGES, 'logout');
    overview.setAttribute('aria-label', i18n.t(SHELL_MESSAGES, 'overview'));
    map.setAttribute('aria-label', i18n.t(SHELL_MESSAGES, 'map'));
    tablist.setAttribute('aria-label', i18n.t(SHELL_MESSAGES, 'tabs'));
    tabs.alerts.button.textContent = i18n.t(SHELL_MESSAGES, 'tabAlerts');
    tabs.device.button.textContent = i18n.t(SHELL_MESSAGES, 'tabDevice');
    tabs.cameras.button.textContent = i18n.t(SHELL_MESSAGES, 'tabCameras');
  }

  render();
  selectTab('alerts');
  const stop = i18n.onChange(render);
  return {
    regions: {
      overview,
      map,
      alerts: tabs.alerts.panel,
      device: tabs.device.panel,
      cameras: tabs.cameras.panel,
    },
    selectTab,
    get tab() {
      return current;
    },
    onTab(listener) {
      tabListeners.add(listener);
      return () => tabListeners.delete(listener);
    },
    setConnection(state) {
      connectionState = state;
      connection.dataset['state'] = state;
      render();
    },
    destroy() {
      stop();
      localeSwitch.destroy();
      root.remove();
    },
  };
}
