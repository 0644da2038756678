import './camera-tiles.css';
import {
  type ApiClient,
  type DeviceView,
  type I18n,
  STATUS_LABELS,
  formatNumber,
  labelOf,
} from '@ioc/console-data';
import type { Reading } from '@ioc/contracts';
import {
  type CameraEvent,
  describeCameraEvent,
  eventFromReading,
  eventsFromLatest,
  mergeCameraEvents,
  safeLink,
} from './camera-model';
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
  destroy(): void;
}

interface Tile {
  view: DeviceView;
  events: CameraEvent[];
  element: HTMLElement;
  name: HTMLElement;
  status: HTMLElement;
  stream: HTMLElement;
  events_: HTMLUListElement;
  links: HTMLElement;
}

type Key = keyof (typeof M)['vi'];

/**
 * Camera tiles (`[data-testid=camera-tiles]`, each `.ioc-camera-tile[data-device-id]`): name,
 * status (colour and text), fps and bitrate when known, the last five detection events (from the
 * views' latest values and live event readings), and links to the registry attributes
 * `streamUrl` ("Xem trực tiếp") and `snapshotUrl` ("Ảnh chụp") read with
 * `GET /api/v1/devices?type=camera` — only http, https and rtsp URLs are links (safeLink), opened
 * in a new tab with `rel="noopener noreferrer"`; the platform does not proxy video. A click on a
 * tile (not on a link), Enter or Space selects its camera (`onSelect`).
 */
export function createCameraTiles(
  container: HTMLElement,
  deps: { api: ApiClient; i18n: I18n; onSelect: (deviceId: string) => void },
): CameraTiles {
  const { api, i18n } = deps;
  const t = (key: Key, params?: Record<string, string | number>): string => i18n.t(M, key, params);
  const root = el('section', { className: 'ioc-camera-tiles', attrs: { 'data-testid': 'camera-tiles' } });
  const empty = el('p', { className: 'ioc-camera-empty', text: t('empty') });
  const grid = el('div', { className: 'ioc-camera-grid', attrs: { role: 'list' } });
  root.append(empty, grid);
  container.append(root);

  const tiles = new Map<string, Tile>();
  /** Registry attributes of each camera, by id (undefined until loaded). */
  let attributes: Map<string, Readonly<Record<string, string>>> | undefined;
  let loading: Promise<void> | null = null;
  let destroyed = false;

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
        for (const tile of tiles.values()) renderLinks(tile);
      });
  }

  function makeTile(view: DeviceView): Tile {
    const element = el('article', {
      className: 'ioc-camera-tile',
      attrs: { 'data-device-id': view.id, tabindex: '0', role: 'listitem' },
    });
    const name = el('h3', { className: 'ioc-camera-name' });
    const status = el('p', { className: 'ioc-camera-status' });
    const stream = el('p', { className: 'ioc-camera-stream' });
    const events_ = el('ul', { className: 'ioc-camera-events' });
    const links = el('p', { className: 'ioc-camera-links' });
    element.append(name, status, stream, events_, links);
    element.addEventListener('click', (event) => {
      if ((event.target as Element | null)?.closest('a') !== null) return;
      deps.onSelect(view.id);
    });
    element.addEventListener('keydown', (event) => {
      if (event.target !== element) return;
      if (event.key === 'Enter' || event.key === ' ') {
        event.preventDefault();
        deps.onSelect(element.dataset['deviceId'] ?? view.id);
      }
    });
    return {
      view,
      events: mergeCameraEvents([], eventsFromLatest(view.latest)),
      element,
      name,
      status,
      stream,
      events_,
      links,
    };
  }

  function renderTile(tile: Tile): void {
    const { view } = tile;
    const locale = i18n.locale;
    setText(tile.name, view.name);
    tile.element.setAttribute('aria-label', t('select', { name: view.name }));
    const state = view.state === 'active' ? view.status : 'inactive';
    tile.element.dataset['status'] = state;
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

  function renderEvents(tile: Tile): void {
    const locale = i18n.locale;
    if (tile.events.length === 0) {
      tile.events_.replaceChildren(el('li', { className: 'ioc-camera-noevents', text: t('noEvents') }));
      return;
    }
    tile.events_.replaceChildren(
      ...tile.events.map((event) => {
        const described = describeCameraEvent(event, locale);
        return el('li', {
          className: 'ioc-camera-event',
          attrs: { 'data-event': event.event },
          children: [
            el('span', { className: 'ioc-camera-event-label', text: described.label }),
            el('span', { className: 'ioc-camera-event-value', text: described.value }),
            el('span', { className: 'ioc-camera-event-time', text: described.time }),
          ],
        });
      }),
    );
  }

  function linkOrText(raw: string | undefined, label: string, kind: 'stream' | 'snapshot'): HTMLElement {
    const link = safeLink(raw);
    if (link.kind === 'link') {
      return el('a', {
        className: 'ioc-camera-link',
        text: label,
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
    const attrs = attributes.get(tile.view.id) ?? {};
    tile.links.replaceChildren(
      linkOrText(attrs['streamUrl'], t('live'), 'stream'),
      linkOrText(attrs['snapshotUrl'], t('snapshot'), 'snapshot'),
    );
  }

  function sync(views: DeviceView[], removeMissing: boolean): void {
    const cameras = views.filter((view) => view.type === 'camera');
    const ids = new Set(cameras.map((view) => view.id));
    if (removeMissing) {
      for (const [id, tile] of tiles) {
        if (!ids.has(id)) {
          tile.element.remove();
          tiles.delete(id);
        }
      }
    }
    let unknown = false;
    for (const view of cameras) {
      let tile = tiles.get(view.id);
      if (tile === undefined) {
        if (!removeMissing) continue;
        tile = makeTile(view);
        tiles.set(view.id, tile);
        unknown ||= attributes !== undefined && !attributes.has(view.id);
        renderLinks(tile);
      } else if (tile.view !== view) {
        tile.events = mergeCameraEvents(tile.events, eventsFromLatest(view.latest));
        tile.view = view;
      } else continue;
      renderTile(tile);
    }
    if (removeMissing) {
      const ordered = [...tiles.values()].sort((a, b) => a.view.name.localeCompare(b.view.name, 'vi'));
      ordered.forEach((tile, index) => {
        if (grid.children[index] !== tile.element)
          grid.insertBefore(tile.element, grid.children[index] ?? null);
      });
    }
    empty.hidden = tiles.size > 0;
    if (unknown) loading = null; // a camera registered since: read the attributes again
    if (tiles.size > 0) loadAttributes();
  }

  const stopLocale = i18n.onChange(() => {
    setText(empty, t('empty'));
    for (const tile of tiles.values()) {
      renderTile(tile);
      renderLinks(tile);
    }
  });

  return {
    setCameras(views) {
      sync(views, true);
    },
    update(views) {
      sync(views, false);
    },
    applyReading(reading) {
      const tile = tiles.get(reading.deviceId);
      if (tile === undefined) return;
      const event = eventFromReading(reading);
      if (event === null) return;
      tile.events = mergeCameraEvents(tile.events, [event]);
      renderEvents(tile);
    },
    destroy() {
      destroyed = true;
      stopLocale();
      tiles.clear();
      root.remove();
    },
  };
}
