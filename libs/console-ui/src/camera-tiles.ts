import './camera-tiles.css';
import {
  type ApiClient,
  type DeviceView,
  type I18n,
  STATUS_LABELS,
  defineMessages,
  formatNumber,
  labelOf,
} from '@ioc/console-data';
import type { Reading } from '@ioc/contracts';
import {
  type CameraEvent,
  describeCameraEvent,
  eventFromReading,
  eventsFromLatest,
  linkText,
  mergeCameraEvents,
  safeLink,
} from './camera-model';
import {
  CAMERA_PAGE_SIZE,
  type CameraFilter,
  type CameraStatus,
  foldText,
  pageOfCameras,
} from './camera-page';
import { el, setText } from './device-dom';
import { CAMERA_TILES_MESSAGES as M } from './device-messages';

/** The camera tiles (public API: the console's main wires them to the device store and the live feed). */
export interface CameraTiles {
  /** The cameras in scope (views of type `camera`; others are ignored): tiles added and removed. */
  setCameras(views: DeviceView[]): void;
  /** Newer views of cameras already shown: status, fps, bitrate and events change in place. */
  update(views: DeviceView[]): void;
  /** A live reading: a camera's event (`kind: 'event'`) joins its tile's latest events. */
  applyReading(reading: Reading): void;
  /**
   * Whether the tiles are on screen (their tab selected). Hidden tiles render nothing: updates
   * only mark them stale, and showing them draws the current page once.
   */
  setVisible(visible: boolean): void;
  destroy(): void;
}

/** What the tiles know of one camera, shown or not. */
interface Camera {
  view: DeviceView;
  events: CameraEvent[];
  /** Folded name, id and area name (search), computed on first use and when the name changes. */
  key: string | null;
  /** The tile's DOM while the camera is on the shown page. */
  tile: Tile | null;
}

interface Tile {
  camera: Camera;
  element: HTMLElement;
  name: HTMLElement;
  status: HTMLElement;
  stream: HTMLElement;
  events_: HTMLUListElement;
  links: HTMLElement;
}

type Key = keyof (typeof M)['vi'];

/** Texts of the list controls (filter, pages). */
const LIST_MESSAGES = defineMessages({
  vi: {
    search: 'Tìm camera (tên, mã, khu vực)',
    status: 'Trạng thái',
    all: 'Tất cả',
    inactive: 'Không hoạt động',
    previous: 'Trang trước',
    next: 'Trang sau',
    page: 'Trang {page}/{pages} · {total} camera',
    none: 'Không có camera nào khớp bộ lọc.',
  },
  en: {
    search: 'Find a camera (name, id, area)',
    status: 'Status',
    all: 'All',
    inactive: 'Inactive',
    previous: 'Previous page',
    next: 'Next page',
    page: 'Page {page} of {pages} · {total} cameras',
    none: 'No camera matches the filter.',
  },
});
type ListKey = keyof (typeof LIST_MESSAGES)['vi'];
const STATUS_CHOICES: readonly (CameraStatus | 'all')[] = ['all', 'online', 'offline', 'unknown', 'inactive'];

/**
 * Camera tiles (`[data-testid=camera-tiles]`, each `.ioc-camera-tile[data-device-id]`): name,
 * status (colour and text), fps and bitrate when known, the last five detection events (from the
 * views' latest values and live event readings), and links to the registry attributes
 * `streamUrl` ("Xem trực tiếp") and `snapshotUrl` ("Ảnh chụp") read with
 * `GET /api/v1/devices?type=camera` — only http, https and rtsp URLs are links (safeLink), opened
 * in a new tab with `rel="noopener noreferrer"`; the platform does not proxy video. A click on a
 * tile (not on a link), Enter or Space selects its camera (`onSelect`).
 *
 * Cameras are listed by name, CAMERA_PAGE_SIZE tiles a page, with a search field
 * (`[data-testid=camera-search]`: name, id or area name, diacritics-insensitive), a status select
 * (`[data-testid=camera-status-filter]`) and previous/next page buttons
 * (`[data-testid=camera-page-prev|next]`, position in `[data-testid=camera-page]`). Only the shown
 * page has DOM; live changes update its tiles in place, and nothing is drawn while the tiles are
 * hidden (`setVisible(false)`, or `deps.visible` false at creation).
 */
export function createCameraTiles(
  container: HTMLElement,
  deps: {
    api: ApiClient;
    i18n: I18n;
    onSelect: (deviceId: string) => void;
    /** Name of an area id, for the search (default: the id). */
    areaName?: (areaId: string) => string;
    /** Whether the tiles start on screen (default true). */
    visible?: boolean;
  },
): CameraTiles {
  const { api, i18n } = deps;
  const t = (key: Key, params?: Record<string, string | number>): string => i18n.t(M, key, params);
  const tl = (key: ListKey, params?: Record<string, string | number>): string =>
    i18n.t(LIST_MESSAGES, key, params);
  const areaName = deps.areaName ?? ((id: string) => id);
  const root = el('section', { className: 'ioc-camera-tiles', attrs: { 'data-testid': 'camera-tiles' } });
  const search = el('input', {
    className: 'ioc-camera-search',
    attrs: { type: 'search', 'data-testid': 'camera-search', autocomplete: 'off' },
  });
  const statusSelect = el('select', {
    className: 'ioc-camera-status-filter',
    attrs: { 'data-testid': 'camera-status-filter' },
  });
  const statusLabel = el('label', { className: 'ioc-camera-filter-label' });
  const statusText = el('span');
  statusLabel.append(statusText, statusSelect);
  const controls = el('div', { className: 'ioc-camera-controls', children: [search, statusLabel] });
  const prev = el('button', {
    className: 'ioc-button ioc-camera-page-button',
    attrs: { type: 'button', 'data-testid': 'camera-page-prev' },
  });
  const next = el('button', {
    className: 'ioc-button ioc-camera-page-button',
    attrs: { type: 'button', 'data-testid': 'camera-page-next' },
  });
  const pageText = el('span', {
    className: 'ioc-camera-page',
    attrs: { 'data-testid': 'camera-page', 'aria-live': 'polite' },
  });
  const pager = el('div', { className: 'ioc-camera-pager', children: [prev, pageText, next] });
  const empty = el('p', { className: 'ioc-camera-empty', text: t('empty') });
  const grid = el('div', { className: 'ioc-camera-grid', attrs: { role: 'list' } });
  root.append(controls, pager, empty, grid);
  container.append(root);

  /** Every camera in scope, by id, and sorted by name. */
  const cameras = new Map<string, Camera>();
  let ordered: Camera[] = [];
  const filter: CameraFilter = { text: '', status: 'all' };
  let page = 0;
  let visible = deps.visible ?? true;
  /** Something shown changed while hidden (or the page must be recomputed): redraw when shown. */
  let stale = true;
  /** Registry attributes of each camera, by id (undefined until loaded). */
  let attributes: Map<string, Readonly<Record<string, string>>> | undefined;
  let loading: Promise<void> | null = null;
  let destroyed = false;

  const collator = new Intl.Collator('vi');
  const byName = (a: Camera, b: Camera): number => collator.compare(a.view.name, b.view.name);
  const keyOf = (camera: Camera): string =>
    (camera.key ??= foldText(`${camera.view.name} ${camera.view.id} ${areaName(camera.view.areaId)}`));

  function loadAttributes(): void {
    if (loading !== null) return;
    loading = api
      .devices({ type: 'camera', limit: 5000 })
      .then((body) => {
        attributes = new Map(body.items.map((item) => [item.id, item.attributes ?? {}]));
      })
      .catch(() => {
        attributes = attributes ?? new Map();
      })
      .finally(() => {
        if (destroyed) return;
        if (!visible) stale = true;
        else for (const camera of cameras.values()) if (camera.tile !== null) renderLinks(camera.tile);
      });
  }

  function makeTile(camera: Camera): Tile {
    const element = el('article', {
      className: 'ioc-camera-tile',
      attrs: { 'data-device-id': camera.view.id, tabindex: '0', role: 'listitem' },
    });
    const name = el('h3', { className: 'ioc-camera-name' });
    const status = el('p', { className: 'ioc-camera-status' });
    const stream = el('p', { className: 'ioc-camera-stream' });
    const events_ = el('ul', { className: 'ioc-camera-events' });
    const links = el('p', { className: 'ioc-camera-links' });
    element.append(name, status, stream, events_, links);
    const id = camera.view.id;
    element.addEventListener('click', (event) => {
      if ((event.target as Element | null)?.closest('a') !== null) return;
      deps.onSelect(id);
    });
    element.addEventListener('keydown', (event) => {
      if (event.target !== element) return;
      if (event.key === 'Enter' || event.key === ' ') {
        event.preventDefault();
        deps.onSelect(id);
      }
    });
    return { camera, element, name, status, stream, events_, links };
  }

  function renderTile(tile: Tile): void {
    const { view } = tile.camera;
    const locale = i18n.locale;
    setText(tile.name, view.name);
    const label = t('select', { name: view.name });
    if (tile.element.getAttribute('aria-label') !== label) tile.element.setAttribute('aria-label', label);
    const state = view.state === 'active' ? view.status : 'inactive';
    if (tile.element.dataset['status'] !== state) tile.element.dataset['status'] = state;
    setText(tile.status, state === 'inactive' ? t('inactive') : labelOf(STATUS_LABELS, view.status, locale));
    const parts: string[] = [];
    const fps = view.latest['fps']?.value;
    const bitrate = view.latest['bitrate']?.value;
    if (typeof fps === 'number') parts.push(t('fps', { fps: formatNumber(fps, locale, 1) }));
    if (typeof bitrate === 'number') parts.push(t('bitrate', { bitrate: formatNumber(bitrate, locale, 0) }));
    setText(tile.stream, parts.join(' · '));
    tile.stream.hidden = parts.length === 0;
    renderEvents(tile);
  }

  /** The event rows, updated in place: rows are reused, only changed texts are set. */
  function renderEvents(tile: Tile): void {
    const locale = i18n.locale;
    const list = tile.events_;
    const { events } = tile.camera;
    if (events.length === 0) {
      const first = list.firstElementChild;
      if (list.childElementCount !== 1 || first?.className !== 'ioc-camera-noevents')
        list.replaceChildren(el('li', { className: 'ioc-camera-noevents', text: t('noEvents') }));
      else setText(first, t('noEvents'));
      return;
    }
    if (list.firstElementChild?.className === 'ioc-camera-noevents') list.replaceChildren();
    events.forEach((event, index) => {
      let row = list.children[index] as HTMLElement | undefined;
      if (row === undefined) {
        row = el('li', {
          className: 'ioc-camera-event',
          children: [
            el('span', { className: 'ioc-camera-event-label' }),
            el('span', { className: 'ioc-camera-event-value' }),
            el('span', { className: 'ioc-camera-event-time' }),
          ],
        });
        list.append(row);
      }
      const described = describeCameraEvent(event, locale);
      if (row.dataset['event'] !== event.event) row.dataset['event'] = event.event;
      const [label, value, time] = row.children as unknown as [Element, Element, Element];
      setText(label, described.label);
      setText(value, described.value);
      setText(time, described.time);
    });
    while (list.childElementCount > events.length) list.lastElementChild?.remove();
  }

  function linkOrText(raw: string | undefined, label: string, kind: 'stream' | 'snapshot'): HTMLElement {
    const link = safeLink(raw);
    if (link.kind === 'link') {
      return el('a', {
        className: 'ioc-camera-link',
        text: linkText(label, link, t('credentialsHidden')),
        attrs: { href: link.href, target: '_blank', rel: 'noopener noreferrer', 'data-link': kind },
      });
    }
    return el('span', {
      className: 'ioc-camera-link-text',
      text: `${label}: ${link.kind === 'invalid' ? t('invalidLink') : t('noLink')}`,
      attrs: { 'data-link': kind, 'data-link-state': link.kind },
    });
  }

  function renderLinks(tile: Tile): void {
    if (attributes === undefined) {
      tile.links.replaceChildren();
      return;
    }
    const attrs = attributes.get(tile.camera.view.id) ?? {};
    tile.links.replaceChildren(
      linkOrText(attrs['streamUrl'], t('live'), 'stream'),
      linkOrText(attrs['snapshotUrl'], t('snapshot'), 'snapshot'),
    );
  }

  function renderControls(): void {
    search.placeholder = tl('search');
    search.setAttribute('aria-label', tl('search'));
    setText(statusText, tl('status'));
    const locale = i18n.locale;
    statusSelect.replaceChildren(
      ...STATUS_CHOICES.map((choice) => {
        const text =
          choice === 'all'
            ? tl('all')
            : choice === 'inactive'
              ? tl('inactive')
              : labelOf(STATUS_LABELS, choice, locale);
        return el('option', { text, attrs: { value: choice } });
      }),
    );
    statusSelect.value = filter.status;
    setText(prev, tl('previous'));
    setText(next, tl('next'));
  }

  /** Draws the current page: tiles that left it are dropped, the others are updated in place. */
  function renderPage(): void {
    stale = false;
    const shown = pageOfCameras(ordered, filter, page, keyOf, CAMERA_PAGE_SIZE);
    page = shown.page;
    const keep = new Set(shown.items);
    for (const camera of cameras.values()) {
      if (camera.tile !== null && !keep.has(camera)) {
        camera.tile.element.remove();
        camera.tile = null;
      }
    }
    shown.items.forEach((camera, index) => {
      if (camera.tile === null) {
        camera.tile = makeTile(camera);
        renderLinks(camera.tile);
      }
      renderTile(camera.tile);
      if (grid.children[index] !== camera.tile.element)
        grid.insertBefore(camera.tile.element, grid.children[index] ?? null);
    });
    setText(pageText, tl('page', { page: shown.page + 1, pages: shown.pages, total: shown.total }));
    prev.disabled = shown.page === 0;
    next.disabled = shown.page >= shown.pages - 1;
    empty.hidden = shown.total > 0;
    setText(empty, cameras.size === 0 ? t('empty') : tl('none'));
    pager.hidden = cameras.size === 0;
  }

  /** Redraws when on screen, else remembers to. */
  function invalidate(): void {
    if (visible) renderPage();
    else stale = true;
  }

  search.addEventListener('input', () => {
    filter.text = search.value;
    page = 0;
    invalidate();
  });
  statusSelect.addEventListener('change', () => {
    const value = statusSelect.value as CameraStatus | 'all';
    filter.status = STATUS_CHOICES.includes(value) ? value : 'all';
    page = 0;
    invalidate();
  });
  prev.addEventListener('click', () => {
    page = Math.max(0, page - 1);
    invalidate();
  });
  next.addEventListener('click', () => {
    page += 1;
    invalidate();
  });

  function setCameras(views: DeviceView[]): void {
    const ids = new Set<string>();
    let unknown = false;
    for (const view of views) {
      if (view.type !== 'camera') continue;
      ids.add(view.id);
      const camera = cameras.get(view.id);
      if (camera === undefined) {
        cameras.set(view.id, {
          view,
          events: mergeCameraEvents([], eventsFromLatest(view.latest)),
          key: null,
          tile: null,
        });
        unknown ||= attributes !== undefined && !attributes.has(view.id);
      } else if (camera.view !== view) updateCamera(camera, view);
    }
    for (const [id, camera] of cameras) {
      if (ids.has(id)) continue;
      camera.tile?.element.remove();
      cameras.delete(id);
    }
    ordered = [...cameras.values()].sort(byName);
    invalidate();
    if (unknown) loading = null; // a camera registered since: read the attributes again
    if (cameras.size > 0) loadAttributes();
  }

  function updateCamera(camera: Camera, view: DeviceView): void {
    if (camera.view.latest !== view.latest)
      camera.events = mergeCameraEvents(camera.events, eventsFromLatest(view.latest));
    if (camera.view.name !== view.name || camera.view.areaId !== view.areaId) camera.key = null;
    camera.view = view;
  }

  const stopLocale = i18n.onChange(() => {
    renderControls();
    if (!visible) {
      stale = true;
      return;
    }
    for (const camera of cameras.values()) if (camera.tile !== null) renderLinks(camera.tile);
    renderPage();
  });
  renderControls();
  if (visible) renderPage();

  return {
    setCameras,
    update(views) {
      let refilter = false;
      let renamed = false;
      for (const view of views) {
        const camera = cameras.get(view.id);
        if (camera === undefined || camera.view === view) continue;
        const before = camera.view;
        updateCamera(camera, view);
        renamed ||= before.name !== view.name;
        // A status or name change can move the camera in or out of the filtered page.
        if (
          (filter.status !== 'all' && before.status !== view.status) ||
          before.state !== view.state ||
          (filter.text !== '' && camera.key === null) ||
          before.name !== view.name
        )
          refilter = true;
        if (visible && !refilter && camera.tile !== null) renderTile(camera.tile);
        else if (!visible) stale = true;
      }
      if (renamed) ordered.sort(byName);
      if (refilter || renamed) {
        invalidate();
      }
    },
    applyReading(reading) {
      const camera = cameras.get(reading.deviceId);
      if (camera === undefined) return;
      const event = eventFromReading(reading);
      if (event === null) return;
      camera.events = mergeCameraEvents(camera.events, [event]);
      if (camera.tile === null) return;
      if (visible) renderEvents(camera.tile);
      else stale = true;
    },
    setVisible(on) {
      visible = on;
      if (on && stale) renderPage();
    },
    destroy() {
      destroyed = true;
      stopLocale();
      cameras.clear();
      root.remove();
    },
  };
}
