import type { AreaListBody, BasemapBody } from '@ioc/contracts';
import type { I18n } from '@ioc/console-data';
import L from 'leaflet';
import 'leaflet/dist/leaflet.css';
import { AreaLabels } from './area-labels';
import { AreaTree, areaFocusPoints } from './area-tree';
import { PLAIN_MAX_ZOOM, addBasemap } from './basemap';
import { CLUSTER_MAX_ZOOM } from './cluster-index';
import { ClusterLayer } from './cluster-layer';
import { keepTooltipInMap } from './markers/tooltip-fit';
import { createFilterControl } from './controls/filter-control';
import { createLegendControl } from './controls/legend-control';
import { createSearchControl } from './controls/search-control';
import { MapDeviceSet } from './map-device-set';
import type { MapDevice, MapFilter } from './map-device';
import type { ValueFormatter } from './markers/marker-text';
import { MAP_MESSAGES, MARKER_STATE_LABELS } from './messages';
import './map.css';

/** Options of `createDeviceMap`. */
export interface DeviceMapOptions {
  /** The deployment's basemap (`GET /api/v1/console/config`). */
  basemap: BasemapBody;
  i18n: I18n;
  /** A device was picked: its marker clicked or activated with Enter/Space, or a search result picked. */
  onSelect: (deviceId: string) => void;
  /**
   * Formats the tooltip's main value (optional; console-ui's `formatValueWithUnit` fits and shows
   * fractions as %, enumerations by name). Default: `defaultValueFormatter`.
   */
  formatValue?: ValueFormatter;
}

/** The live device map. Every method is cheap to call often: drawing happens once per animation frame. */
export interface DeviceMap {
  /** The area tree (`GET /api/v1/areas`): area centre labels, the filter's area select, device area paths. */
  setAreas(areas: AreaListBody): void;
  /** Replaces every device (first paint; after a reconnection). Fits the view to them the first time. */
  setDevices(devices: MapDevice[]): void;
  /** Adds or replaces these devices (live updates; call as often as wanted, even every frame). */
  updateDevices(devices: MapDevice[]): void;
  removeDevices(ids: string[]): void;
  /** Shows only what `filter` keeps (the filter control shows it too). */
  setFilter(filter: MapFilter): void;
  readonly filter: MapFilter;
  /** Centres the device, zoomed in far enough that it is its own marker, and focuses its marker. */
  focus(deviceId: string): void;
  /** Fits the view to every device kept by the filter (all devices when it keeps none). */
  fitToDevices(): void;
  /** Tells Leaflet the container's size changed (a side panel opened). */
  invalidateSize(): void;
  destroy(): void;
}

/** Where the map looks before it knows any device or area: Tây Ninh province (its former capital). */
const DEFAULT_VIEW = { lat: 11.31, lon: 106.1, zoom: 9 };

/**
 * Creates the device map in `container` (which should have a size; the map fills it). Leaflet
 * 1.9.4 without WebGL; the deployment's basemap (`none`, `xyz` or `pmtiles`); clustered markers by
 * domain, type and state; area centre labels; legend, filter and search controls; texts in the
 * i18n's language (switching language redraws them). Fetches nothing but the basemap's URL.
 */
export function createDeviceMap(container: HTMLElement, options: DeviceMapOptions): DeviceMap {
  const { i18n, onSelect } = options;
  container.classList.add('ioc-map');
  container.dataset['testid'] ??= 'map';
  // At least 3 levels past the last clustered one, whatever the basemap's tiles go to (they are magnified).
  const maxZoom = Math.max(
    options.basemap.kind === 'none' ? PLAIN_MAX_ZOOM : options.basemap.maxZoom,
    CLUSTER_MAX_ZOOM + 3,
  );
  const map = L.map(container, {
    center: [DEFAULT_VIEW.lat, DEFAULT_VIEW.lon],
    zoom: DEFAULT_VIEW.zoom,
    maxZoom,
    minZoom: 5,
    zoomControl: false,
    attributionControl: false,
    worldCopyJump: false,
  });
  L.control.attribution({ position: 'bottomleft' }).addTo(map);
  L.control.zoom({ position: 'topleft' }).addTo(map);
  const removeBasemap = addBasemap(map, container, options.basemap, (error) =>
    console.error('basemap could not be loaded', error),
  );

  const store = new MapDeviceSet();
  const labels = new AreaLabels(map);
  const layer = new ClusterLayer(
    map,
    store,
    () => i18n.locale,
    (id) => onSelect(id),
    (shown) => filterControl.setCounts(shown, store.devices.size),
    options.formatValue,
  );
  const stopTooltipFit = keepTooltipInMap(map.getContainer());
  const filterControl = createFilterControl(i18n, (filter) => {
    store.setFilter(filter);
    layer.schedule();
  });
  let areaTree = new AreaTree();
  const search = createSearchControl(
    i18n,
    (query) => [
      ...areaTree.search(query).flatMap((id) => {
        const area = areaTree.get(id);
        return area === undefined
          ? []
          : [{ kind: 'area' as const, id, name: area.name, detail: MAP_MESSAGES[i18n.locale].searchArea }];
      }),
      ...store.search(query).flatMap((id) => {
        const device = store.devices.get(id);
        return device === undefined
          ? []
          : [
              {
                kind: 'device' as const,
                id,
                name: device.name,
                detail: MARKER_STATE_LABELS[device.state][i18n.locale],
              },
            ];
      }),
    ],
    (hit) => {
      if (hit.kind === 'area') {
        showPoints(areaFocusPoints(areaTree, hit.id, store.devices.values()));
        return;
      }
      layer.focus(hit.id);
      onSelect(hit.id);
    },
  );
  search.control.addTo(map);
  filterControl.control.addTo(map);
  const legend = createLegendControl(i18n);
  legend.control.addTo(map);

  const localise = (): void => {
    const t = MAP_MESSAGES[i18n.locale];
    container.setAttribute('aria-label', t.mapLabel);
    const zoomIn = container.querySelector('.leaflet-control-zoom-in');
    const zoomOut = container.querySelector('.leaflet-control-zoom-out');
    zoomIn?.setAttribute('title', t.zoomIn);
    zoomIn?.setAttribute('aria-label', t.zoomIn);
    zoomOut?.setAttribute('title', t.zoomOut);
    zoomOut?.setAttribute('aria-label', t.zoomOut);
    layer.relabel();
  };
  localise();
  const stopLocale = i18n.onChange(localise);

  let fitted = false;
  /** True while the map moves by itself (fit, resize); a move outside it is the person's. */
  let moving = false;
  /** The person has moved or zoomed the map since the last fit: a resize then keeps their view. */
  let moved = false;
  const fit = (): boolean => {
    const devices = store.filtered();
    const points = (devices.length > 0 ? devices : [...store.devices.values()]).map(
      (d) => [d.lat, d.lon] as [number, number],
    );
    if (points.length === 0) return false;
    moving = true;
    try {
      map.fitBounds(L.latLngBounds(points), { padding: [40, 40], maxZoom: 15, animate: false });
    } finally {
      moving = false;
    }
    moved = false;
    return true;
  };
  /** Brings points into view (an area picked in the search): the person's view from then on. */
  const showPoints = (points: Array<[number, number]>): void => {
    if (points.length === 0) return;
    if (points.length === 1) map.setView(points[0], Math.max(map.getZoom(), 14));
    else map.fitBounds(L.latLngBounds(points), { padding: [40, 40], maxZoom: 15 });
  };
  map.on('movestart zoomstart', () => {
    if (!moving) moved = true;
  });
  // Leaflet follows the window's size only; the container also changes when the page around it
  // does (the overview strip filling in after the first fit made the map shorter, cutting off the
  // southern devices). Follow it, and refit while the person has not moved the map.
  const resize = new ResizeObserver(() => {
    moving = true;
    try {
      map.invalidateSize({ pan: false });
    } finally {
      moving = false;
    }
    if (fitted && !moved) fit();
  });
  resize.observe(container);

  return {
    setAreas(areas) {
      const tree = new AreaTree(areas);
      areaTree = tree;
      store.setAreas(tree);
      labels.setAreas(tree);
      filterControl.setAreas(tree);
      if (!fitted && store.devices.size === 0) {
        const root = areas.find((a) => a.parentId === null && a.location !== undefined);
        if (root?.location) map.setView([root.location.lat, root.location.lon], DEFAULT_VIEW.zoom);
      }
      layer.schedule();
    },
    setDevices(devices) {
      store.setAll(devices);
      layer.prune();
      if (!fitted) fitted = fit();
      layer.schedule();
    },
    updateDevices(devices) {
      if (devices.length === 0) return;
      store.update(devices);
      layer.schedule();
    },
    removeDevices(ids) {
      store.remove(ids);
      layer.forget(ids);
      layer.schedule();
    },
    setFilter(filter) {
      store.setFilter(filter);
      filterControl.show(store.filter);
      layer.schedule();
    },
    get filter() {
      return store.filter;
    },
    focus(deviceId) {
      layer.focus(deviceId);
    },
    fitToDevices() {
      fitted = fit() || fitted;
    },
    invalidateSize() {
      map.invalidateSize();
    },
    destroy() {
      resize.disconnect();
      stopTooltipFit();
      stopLocale();
      search.dispose();
      filterControl.dispose();
      legend.dispose();
      layer.destroy();
      labels.destroy();
      removeBasemap();
      map.remove();
      container.classList.remove('ioc-map');
    },
  };
}
