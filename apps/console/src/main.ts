import {
  type AreaBody,
  type ConsoleConfigBody,
  type ConsoleLocale,
  type MeBody,
  roleIncludes,
} from '@ioc/contracts';
import {
  AlertStore,
  ApiError,
  DeviceStore,
  I18n,
  browserFrameScheduler,
  createApiClient,
  defineMessages,
  loadOpenAlerts,
  startLiveFeed,
  type ApiClient,
  type DeviceView,
} from '@ioc/console-data';
import { createDeviceMap, toMapDevice } from '@ioc/console-map';
import {
  LOGIN_MESSAGES,
  createAlertSound,
  createAlertsPanel,
  createAppShell,
  createCameraTiles,
  createDevicePanel,
  createLoginView,
  createOverviewStrip,
  formatValueWithUnit,
  h,
  hashForDevice,
  replaceChildren,
  routeFromHash,
} from '@ioc/console-ui';
import './styles.css';

/*
 * The console's entry point: wiring only. Reads the deployment's console config and login
 * providers, shows the shell when a session exists (`GET /auth/me`) or the login page; after
 * login, the first paint in parallel (statuses, areas, open alerts), then the live feed. A 401
 * anywhere, the live feed's `ended` or logout goes back to login (with the reason).
 */

/** localStorage keys of the person's choices on this PC. */
const LOCALE_KEY = 'ioc.console.locale';
const SOUND_KEY = 'ioc.console.sound';

/** What the page assumes when the config cannot be read (the API's defaults). */
const FALLBACK_CONFIG: ConsoleConfigBody = {
  basemap: { kind: 'none' },
  defaultLocale: 'vi',
  timeZone: 'Asia/Ho_Chi_Minh',
  alerts: { sound: true, browserNotifications: true },
};

const PAGE_MESSAGES = defineMessages({
  vi: {
    loading: 'Đang tải dữ liệu…',
    loadFailed: 'Không tải được dữ liệu: {message}',
    retry: 'Thử lại',
  },
  en: {
    loading: 'Loading…',
    loadFailed: 'Could not load the data: {message}',
    retry: 'Try again',
  },
});

function storage(): Storage | null {
  try {
    return window.localStorage;
  } catch {
    return null; // storage disabled by policy
  }
}

function storedLocale(): ConsoleLocale | null {
  const value = storage()?.getItem(LOCALE_KEY);
  return value === 'vi' || value === 'en' ? value : null;
}

/** One logged-in session's parts, torn down together. */
interface Session {
  end(reason: string | null): void;
}

async function main(): Promise<void> {
  const found = document.getElementById('app');
  if (found === null) throw new Error('the page has no #app element');
  const root: HTMLElement = found;
  let session: Session | null = null;
  const api: ApiClient = createApiClient({
    onUnauthorized: (error) => session?.end(error.reason ?? 'session-ended'),
  });
  const [config, providers] = await Promise.all([
    api.consoleConfig().catch(() => FALLBACK_CONFIG),
    api.providers().catch(() => null),
  ]);
  const i18n = new I18n(storedLocale() ?? config.defaultLocale);
  const applyLocale = (locale: ConsoleLocale): void => {
    document.documentElement.lang = locale;
    document.title = i18n.t(LOGIN_MESSAGES, 'title');
  };
  applyLocale(i18n.locale);
  i18n.onChange((locale) => {
    storage()?.setItem(LOCALE_KEY, locale);
    applyLocale(locale);
  });

  // Browsers allow audio only after a gesture: the first click or key press unlocks it.
  const sound = createAlertSound();
  const unlock = (): void => sound.unlock();
  document.addEventListener('pointerdown', unlock, { once: true, capture: true });
  document.addEventListener('keydown', unlock, { once: true, capture: true });

  function showLogin(endedReason: string | null): void {
    session = null;
    const view = createLoginView(root, {
      i18n,
      api,
      providers,
      endedReason,
      onLoggedIn: (principal) => {
        view.destroy();
        void startSession(principal);
      },
    });
    view.focus();
  }

  async function startSession(me: MeBody): Promise<void> {
    const status = h('p', { class: 'ioc-page-status', role: 'status' }, i18n.t(PAGE_MESSAGES, 'loading'));
    replaceChildren(root, status);
    let ended = false;
    const teardown: Array<() => void> = [];
    const current: Session = {
      end(reason) {
        if (ended) return;
        ended = true;
        for (const stop of teardown.reverse()) {
          try {
            stop();
          } catch {
            /* keep tearing down */
          }
        }
        showLogin(reason);
      },
    };
    session = current;

    let first: [
      Awaited<ReturnType<ApiClient['deviceStatuses']>>,
      AreaBody[],
      Awaited<ReturnType<typeof loadOpenAlerts>>,
    ];
    try {
      first = await Promise.all([api.deviceStatuses(), api.areas(), loadOpenAlerts(api)]);
    } catch (error) {
      if (ended) return;
      if (error instanceof ApiError && error.status === 401) return; // onUnauthorized took us to login
      const retry = h('button', { type: 'button', class: 'ioc-button' }, i18n.t(PAGE_MESSAGES, 'retry'));
      retry.addEventListener('click', () => {
        ended = true;
        void startSession(me);
      });
      replaceChildren(
        root,
        h(
          'div',
          { class: 'ioc-page-status', role: 'alert' },
          i18n.t(PAGE_MESSAGES, 'loadFailed', {
            message: error instanceof Error ? error.message : String(error),
          }),
          ' ',
          retry,
        ),
      );
      return;
    }
    if (ended) return;
    const [statuses, areas, openAlerts] = first;
    const areaNames = new Map(areas.map((a) => [a.id, a.name]));
    const areaName = (id: string): string => areaNames.get(id) ?? id;

    const scheduler = browserFrameScheduler();
    const devices: DeviceStore = new DeviceStore({
      scheduler,
      reload: async () => devices.load(await api.deviceStatuses()),
    });
    const alerts = new AlertStore({ scheduler, devices });
    teardown.push(
      () => devices.destroy(),
      () => alerts.destroy(),
    );
    devices.load(statuses);
    alerts.load(openAlerts);

    const soundOn = (storage()?.getItem(SOUND_KEY) ?? 'on') === 'on';
    let soundEnabled = soundOn;
    const shell = createAppShell(root, {
      i18n,
      me,
      areas,
      soundAvailable: config.alerts.sound,
      soundOn,
      onSoundChange: (on) => {
        soundEnabled = on;
        storage()?.setItem(SOUND_KEY, on ? 'on' : 'off');
        if (on) sound.unlock();
      },
      onLogout: () => {
        api.logout().then(
          (answer) => {
            if (answer?.endSessionUrl) window.location.assign(answer.endSessionUrl);
            else current.end('logout');
          },
          () => current.end('logout'),
        );
      },
    });
    teardown.push(() => shell.destroy());

    const map = createDeviceMap(shell.regions.map, {
      basemap: config.basemap,
      i18n,
      onSelect: (id) => select(id, false),
      formatValue: formatValueWithUnit,
    });
    teardown.push(() => map.destroy());
    map.setAreas(areas);
    map.setDevices(devices.all().map(toMapDevice));
    // A User Timing mark once the map's first frame of markers is drawn (the console benchmark
    // and the browser's performance panel read it; it changes nothing).
    requestAnimationFrame(() => requestAnimationFrame(() => performance.mark('ioc:map-ready')));

    const panel = createDevicePanel(shell.regions.device, {
      api,
      i18n,
      role: me.role,
      areaName,
      onClose: () => {
        panel.hide();
        shell.selectTab('alerts', true);
        // The panel's URL leaves with it (replace: Back does not reopen what was just closed).
        if (location.hash !== '') history.replaceState(null, '', location.pathname + location.search);
      },
    });
    teardown.push(() => panel.destroy());

    const isCamera = (view: DeviceView): boolean => view.type === 'camera';
    const cameraIds = new Set(
      devices
        .all()
        .filter(isCamera)
        .map((v) => v.id),
    );
    const cameras = createCameraTiles(shell.regions.cameras, {
      api,
      i18n,
      onSelect: (id) => select(id, true),
      areaName,
      // Tiles draw nothing while their tab is hidden (10,000 devices: ~1,000 cameras updating).
      visible: shell.tab === 'cameras',
    });
    teardown.push(() => cameras.destroy());
    teardown.push(shell.onTab((tab) => cameras.setVisible(tab === 'cameras')));
    cameras.setCameras(devices.all().filter(isCamera));

    /** Opens a device's panel; unless the URL brought it, `#/devices/<id>` is pushed (Back closes it). */
    function select(deviceId: string, centreMap: boolean, fromUrl = false): void {
      const view = devices.get(deviceId);
      if (view === undefined) return;
      panel.show(view);
      shell.selectTab('device');
      if (centreMap) map.focus(deviceId);
      const hash = hashForDevice(deviceId);
      if (!fromUrl && location.hash !== hash) history.pushState(null, '', hash);
    }

    /**
     * Follows the URL (loaded, typed, Back/Forward): `#/devices/<id>` opens that device when it is
     * in the principal's scope (the device store holds only those), else the same "not found"
     * notice for an unknown id and an out-of-scope one; no device hash closes the panel.
     */
    function followUrl(): void {
      const route = routeFromHash(location.hash);
      if (route.kind === 'device' && devices.get(route.id) !== undefined) {
        if (panel.deviceId !== route.id) select(route.id, true, true);
      } else if (route.kind === 'none') {
        if (panel.deviceId !== null || shell.tab === 'device') {
          panel.hide();
          shell.selectTab('alerts');
        }
      } else {
        panel.showNotFound();
        shell.selectTab('device');
      }
    }
    window.addEventListener('popstate', followUrl);
    window.addEventListener('hashchange', followUrl);
    teardown.push(() => {
      window.removeEventListener('popstate', followUrl);
      window.removeEventListener('hashchange', followUrl);
    });
    followUrl();

    teardown.push(
      devices.onChange((changed, removed) => {
        if (changed.length > 0) map.updateDevices(changed.map(toMapDevice));
        if (removed.length > 0) map.removeDevices(removed);
        const shown = panel.deviceId;
        if (shown !== null) {
          const view = changed.find((v) => v.id === shown);
          if (view) panel.update(view);
          else if (removed.includes(shown)) panel.hide();
        }
        const changedCameras = changed.filter(isCamera);
        const cameraSetChanged =
          changedCameras.some((v) => !cameraIds.has(v.id)) || removed.some((id) => cameraIds.has(id));
        if (cameraSetChanged) {
          const all = devices.all().filter(isCamera);
          cameraIds.clear();
          for (const v of all) cameraIds.add(v.id);
          cameras.setCameras(all);
        } else if (changedCameras.length > 0) cameras.update(changedCameras);
      }),
    );

    const overview = createOverviewStrip(shell.regions.overview, {
      i18n,
      devices,
      alerts,
      api,
      canReadIngestStats: me.scope === null,
      ...(me.scope?.domains ? { domains: me.scope.domains } : {}),
    });
    teardown.push(() => overview.destroy());

    const alertsPanel = createAlertsPanel(shell.regions.alerts, {
      i18n,
      alerts,
      api,
      canAcknowledge: roleIncludes(me.role, 'operator'),
      ...(me.scope?.domains ? { domains: me.scope.domains } : {}),
      areas,
      me: { id: me.id, name: me.displayName ?? me.name },
      onSelectDevice: (id) => select(id, true),
      config: config.alerts,
      soundOn: () => soundEnabled,
      sound,
    });
    teardown.push(() => alertsPanel.destroy());

    const live = startLiveFeed({
      devices,
      alerts,
      reload: async () => {
        const [nextStatuses, nextAlerts] = await Promise.all([api.deviceStatuses(), loadOpenAlerts(api)]);
        devices.load(nextStatuses);
        alerts.load(nextAlerts);
      },
      onEnded: (notice) => current.end(notice.reason),
    });
    teardown.push(() => live.close());
    shell.setConnection(live.feed.state);
    live.feed.onState((state) => shell.setConnection(state));
    live.feed.onCommand((command) => panel.applyCommand(command));
    live.feed.onAlert((event) => panel.applyAlert(event));
    live.feed.onReading((reading) => {
      if (reading.deviceId === panel.deviceId) panel.applyReading(reading);
      if (reading.kind === 'event' && reading.domain === 'camera') cameras.applyReading(reading);
    });
  }

  let me: MeBody | null = null;
  try {
    me = await api.me();
  } catch {
    me = null; // 401: nobody is logged in (or the API is unreachable: the login page says so on submit)
  }
  if (me === null) showLogin(null);
  else await startSession(me);
}

void main();
