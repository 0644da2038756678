import type { ConsoleLocale } from '@ioc/contracts';
import { MARKER_STATES, type MarkerState } from '@ioc/console-data';
import { interpolate } from '@ioc/console-data';
import L from 'leaflet';
import { CLUSTER_MAX_ZOOM, ClusterIndex, type ClusterItem } from './cluster-index';
import type { MapDeviceSet } from './map-device-set';
import { createMarkerElement, updateMarkerElement } from './markers/marker-element';
import { tooltipLines, type ValueFormatter } from './markers/marker-text';
import { MAP_MESSAGES, MARKER_STATE_LABELS, STATE_SYMBOLS } from './messages';

/** Minimum time between index rebuilds caused by devices crossing a state filter (ms). */
export const SOFT_REBUILD_INTERVAL_MS = 500;

/** Index of each marker state in MARKER_STATES (most urgent first), for the per-cluster counts. */
const STATE_INDEX = Object.fromEntries(MARKER_STATES.map((state, index) => [state, index])) as Record<
  MarkerState,
  number
>;

/** Adds `delta` to the count of `state` in a cluster's per-state leaf counts. */
function countState(states: number[], state: MarkerState, delta: number): void {
  const index = STATE_INDEX[state];
  states[index] = (states[index] ?? 0) + delta;
}

/** Share of the view added on each side when clustering, so a short pan shows markers at once. */
const VIEW_PADDING = 0.3;

interface ShownCluster {
  el: HTMLElement;
  clusterId: number;
  count: number;
  lat: number;
  lon: number;
  /** Leaves in each marker state (index = rank in MARKER_STATES), kept as leaves change state. */
  states: number[];
}

/**
 * Draws the store's devices on a Leaflet map: clusters and single markers of the visible area
 * only, in a pane of their own, at most once per animation frame. Marker elements are kept by
 * device id and reused (attributes updated, never recreated); cluster elements are pooled. A
 * frame after a state change touches only the changed markers in view and, for a changed device
 * inside a visible cluster, moves that device between the cluster's per-state leaf counts (O(1);
 * the counts are taken once per layout), so a frame costs O(changed devices), not O(devices).
 */
export class ClusterLayer {
  private readonly pane: HTMLElement;
  private readonly index = new ClusterIndex();
  private readonly markers = new Map<string, HTMLElement>();
  private readonly shownPoints = new Set<string>();
  private shownClusters: ShownCluster[] = [];
  /** The visible cluster each device is inside (rebuilt on layout): a change redraws only its cluster. */
  private readonly leafToCluster = new Map<string, ShownCluster>();
  /** The state each leaf of a visible cluster is counted under in its cluster's `states`. */
  private readonly leafState = new Map<string, MarkerState>();
  /** Label inputs (count, state, language) each cluster element was last labelled for. */
  private readonly clusterLabelKeys = new WeakMap<HTMLElement, string>();
  private readonly clusterPool: HTMLElement[] = [];
  private readonly tooltip: HTMLElement;
  private frame: number | null = null;
  private softTimer: ReturnType<typeof setTimeout> | null = null;
  private lastBuild = 0;
  private needsLayout = true;
  private renderedLocale: ConsoleLocale;
  private pendingFocus: string | null = null;
  private tooltipFor: HTMLElement | null = null;
  private readonly onMapChange = (): void => {
    this.needsLayout = true;
    this.schedule();
  };
  private readonly onMoveStart = (): void => this.hideTooltip();

  constructor(
    private readonly map: L.Map,
    private readonly store: MapDeviceSet,
    private readonly locale: () => ConsoleLocale,
    private readonly onSelect: (deviceId: string) => void,
    private readonly onIndexBuilt: (shown: number) => void = () => undefined,
    private readonly formatValue?: ValueFormatter,
  ) {
    this.renderedLocale = locale();
    this.pane = map.createPane('iocDevices');
    this.pane.classList.add('leaflet-zoom-hide', 'ioc-devices-pane');
    this.pane.style.zIndex = '620';
    this.tooltip = document.createElement('div');
    this.tooltip.className = 'ioc-map-tooltip';
    this.tooltip.hidden = true;
    this.tooltip.setAttribute('role', 'tooltip');
    this.tooltip.id = `ioc-map-tooltip-${Math.random().toString(36).slice(2)}`;
    map.getContainer().append(this.tooltip);
    map.on('moveend zoomend viewreset resize', this.onMapChange);
    map.on('movestart zoomstart', this.onMoveStart);
    this.pane.addEventListener('click', this.onClick);
    this.pane.addEventListener('keydown', this.onKeyDown);
    this.pane.addEventListener('mouseover', this.onPointerOver);
    this.pane.addEventListener('mouseout', this.onPointerOut);
    this.pane.addEventListener('focusin', this.onPointerOver);
    this.pane.addEventListener('focusout', this.onPointerOut);
    L.DomEvent.disableClickPropagation(this.pane);
  }

  /** Asks for a redraw on the next animation frame (coalesces every call before it). */
  schedule(): void {
    if (this.frame !== null) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = null;
      this.render();
    });
  }

  /** Redraws everything (language changed). */
  relabel(): void {
    this.needsLayout = true;
    this.schedule();
  }

  /** Shows `deviceId` as its own marker and moves keyboard focus to it (after the next frame). */
  focus(deviceId: string): void {
    const device = this.store.devices.get(deviceId);
    if (device === undefined) return;
    const zoom = Math.min(Math.max(this.map.getZoom(), CLUSTER_MAX_ZOOM + 1), this.map.getMaxZoom());
    this.pendingFocus = deviceId;
    this.map.setView([device.lat, device.lon], zoom, { animate: false });
    this.needsLayout = true;
    this.schedule();
  }

  destroy(): void {
    if (this.frame !== null) cancelAnimationFrame(this.frame);
    if (this.softTimer !== null) clearTimeout(this.softTimer);
    this.map.off('moveend zoomend viewreset resize', this.onMapChange);
    this.map.off('movestart zoomstart', this.onMoveStart);
    this.pane.remove();
    this.tooltip.remove();
    this.markers.clear();
  }

  /** Forgets marker elements of removed devices. */
  forget(ids: readonly string[]): void {
    for (const id of ids) {
      this.markers.get(id)?.remove();
      this.markers.delete(id);
      this.shownPoints.delete(id);
    }
  }

  /** Drops cached elements of devices no longer in the store (after `setDevices`). */
  prune(): void {
    for (const id of this.markers.keys()) if (!this.store.devices.has(id)) this.forget([id]);
  }

  private render(): void {
    const store = this.store;
    const now = performance.now();
    if (store.indexDirty || (store.indexDirtySoft && now - this.lastBuild >= SOFT_REBUILD_INTERVAL_MS)) {
      this.index.load(store.filtered());
      store.indexDirty = false;
      store.indexDirtySoft = false;
      this.lastBuild = now;
      this.needsLayout = true;
      this.onIndexBuilt(this.index.size);
    } else if (store.indexDirtySoft && this.softTimer === null) {
      this.softTimer = setTimeout(
        () => {
          this.softTimer = null;
          this.schedule();
        },
        SOFT_REBUILD_INTERVAL_MS - (now - this.lastBuild),
      );
    }
    const locale = this.locale();
    if (locale !== this.renderedLocale) {
      this.renderedLocale = locale;
      this.needsLayout = true;
    }
    if (this.needsLayout) {
      this.needsLayout = false;
      this.layout(locale);
    } else if (store.visualDirty.size > 0) {
      const touched = new Set<ShownCluster>();
      for (const id of store.visualDirty) {
        const device = store.devices.get(id);
        const el = this.markers.get(id);
        if (device !== undefined && el !== undefined && this.shownPoints.has(id)) {
          updateMarkerElement(el, device, locale);
          if (this.tooltipFor === el) this.showTooltip(el);
        } else {
          const cluster = this.leafToCluster.get(id);
          const counted = this.leafState.get(id);
          if (cluster !== undefined && device !== undefined && counted !== device.state) {
            if (counted !== undefined) countState(cluster.states, counted, -1);
            countState(cluster.states, device.state, 1);
            this.leafState.set(id, device.state);
            touched.add(cluster);
          }
        }
      }
      for (const cluster of touched) this.drawCluster(cluster, locale);
    }
    store.visualDirty.clear();
    if (this.pendingFocus !== null) {
      const el = this.shownPoints.has(this.pendingFocus) ? this.markers.get(this.pendingFocus) : undefined;
      this.pendingFocus = null;
      if (el !== undefined) {
        el.focus({ preventScroll: true });
        this.showTooltip(el);
      }
    }
  }

  private layout(locale: ConsoleLocale): void {
    const bounds = this.map.getBounds().pad(VIEW_PADDING);
    const bbox: [number, number, number, number] = [
      Math.max(-180, bounds.getWest()),
      Math.max(-85, bounds.getSouth()),
      Math.min(180, bounds.getEast()),
      Math.min(85, bounds.getNorth()),
    ];
    const items: ClusterItem[] = this.index.items(bbox, Math.floor(this.map.getZoom()));
    const fragment = document.createDocumentFragment();
    const points = new Set<string>();
    const clusters: ShownCluster[] = [];
    for (const old of this.shownClusters) this.clusterPool.push(old.el);
    for (const item of items) {
      const position = this.map.latLngToLayerPoint([item.lat, item.lon]);
      if (item.kind === 'device') {
        const device = this.store.devices.get(item.id);
        if (device === undefined) continue;
        let el = this.markers.get(item.id);
        if (el === undefined) {
          el = createMarkerElement(device, locale);
          this.markers.set(item.id, el);
        } else updateMarkerElement(el, device, locale);
        L.DomUtil.setPosition(el, position);
        if (el.parentNode !== this.pane) fragment.append(el);
        points.add(item.id);
      } else {
        const el = this.clusterPool.pop() ?? this.createClusterElement();
        const cluster: ShownCluster = {
          el,
          clusterId: item.clusterId,
          count: item.count,
          lat: item.lat,
          lon: item.lon,
          states: MARKER_STATES.map(() => 0),
        };
        this.countLeaves(cluster);
        this.drawCluster(cluster, locale);
        L.DomUtil.setPosition(el, position);
        if (el.parentNode !== this.pane) fragment.append(el);
        clusters.push(cluster);
      }
    }
    for (const id of this.shownPoints) if (!points.has(id)) this.markers.get(id)?.remove();
    for (const el of this.clusterPool) el.remove();
    this.shownPoints.clear();
    for (const id of points) this.shownPoints.add(id);
    this.shownClusters = clusters;
    this.leafToCluster.clear();
    this.leafState.clear();
    for (const cluster of clusters) {
      for (const id of this.index.leafIds(cluster.clusterId)) {
        this.leafToCluster.set(id, cluster);
        const state = this.store.devices.get(id)?.state;
        if (state !== undefined) this.leafState.set(id, state);
      }
    }
    this.pane.append(fragment);
    if (this.tooltipFor !== null && !this.tooltipFor.isConnected) this.hideTooltip();
  }

  private createClusterElement(): HTMLElement {
    const el = document.createElement('div');
    el.className = 'ioc-cluster';
    el.tabIndex = 0;
    el.setAttribute('role', 'button');
    const symbol = document.createElement('span');
    symbol.className = 'ioc-cluster__symbol';
    symbol.setAttribute('aria-hidden', 'true');
    const count = document.createElement('span');
    count.className = 'ioc-cluster__count';
    count.setAttribute('aria-hidden', 'true');
    el.append(symbol, count);
    return el;
  }

  /** Sets a cluster element's count, worst state (from its leaves' current states) and label. */
  private drawCluster(cluster: ShownCluster, locale: ConsoleLocale): void {
    const { el } = cluster;
    const state = this.worstOfCluster(cluster);
    const count = String(cluster.count);
    el.dataset['clusterId'] = String(cluster.clusterId);
    if (el.dataset['count'] !== count) {
      el.dataset['count'] = count;
      (el.lastElementChild as HTMLElement).textContent = count;
      el.classList.toggle('ioc-cluster--large', cluster.count >= 100);
    }
    if (el.dataset['state'] !== state) {
      el.dataset['state'] = state;
      (el.firstElementChild as HTMLElement).textContent = STATE_SYMBOLS[state];
    }
    const labelKey = `${count}|${state}|${locale}`;
    if (this.clusterLabelKeys.get(el) !== labelKey) {
      this.clusterLabelKeys.set(el, labelKey);
      const label = interpolate(MAP_MESSAGES[locale].cluster, {
        count: cluster.count,
        state: MARKER_STATE_LABELS[state][locale],
      });
      el.setAttribute('aria-label', label);
    }
  }

  /** Counts a cluster's leaves by their current state (at layout). */
  private countLeaves(cluster: ShownCluster): void {
    const devices = this.store.devices;
    cluster.states.fill(0);
    for (const id of this.index.leafIds(cluster.clusterId)) {
      const state = devices.get(id)?.state;
      if (state !== undefined) countState(cluster.states, state, 1);
    }
  }

  /** The most urgent state with a leaf in it (`inactive` when no leaf is known), as ClusterIndex.worstState. */
  private worstOfCluster(cluster: ShownCluster): MarkerState {
    const index = cluster.states.findIndex((count) => count > 0);
    return index < 0 ? 'inactive' : (MARKER_STATES[index] ?? 'inactive');
  }

  private readonly onClick = (event: MouseEvent): void => {
    this.activate(event.target, event);
  };

  private readonly onKeyDown = (event: KeyboardEvent): void => {
    if (event.key !== 'Enter' && event.key !== ' ') return;
    this.activate(event.target, event);
  };

  private activate(target: EventTarget | null, event: Event): void {
    if (!(target instanceof Element)) return;
    const marker = target.closest<HTMLElement>('.ioc-marker');
    if (marker !== null) {
      event.preventDefault();
      event.stopPropagation();
      const id = marker.dataset['deviceId'];
      if (id !== undefined) this.onSelect(id);
      return;
    }
    const clusterEl = target.closest<HTMLElement>('.ioc-cluster');
    const cluster = this.shownClusters.find((c) => c.el === clusterEl);
    if (cluster === undefined) return;
    event.preventDefault();
    event.stopPropagation();
    const zoom = Math.min(this.index.expansionZoom(cluster.clusterId), this.map.getMaxZoom());
    this.map.setView([cluster.lat, cluster.lon], zoom);
  }

  private readonly onPointerOver = (event: Event): void => {
    const marker = event.target instanceof Element ? event.target.closest<HTMLElement>('.ioc-marker') : null;
    if (marker !== null) this.showTooltip(marker);
  };

  private readonly onPointerOut = (event: Event): void => {
    const marker = event.target instanceof Element ? event.target.closest<HTMLElement>('.ioc-marker') : null;
    if (marker !== null && marker === this.tooltipFor) this.hideTooltip();
  };

  private showTooltip(marker: HTMLElement): void {
    const id = marker.dataset['deviceId'];
    const device = id === undefined ? undefined : this.store.devices.get(id);
    if (device === undefined) return;
    const lines = tooltipLines(device, this.locale(), this.formatValue);
    this.tooltip.replaceChildren(
      ...lines.map((line) => {
        const div = document.createElement('div');
        div.textContent = line;
        return div;
      }),
    );
    const point = this.map.latLngToContainerPoint([device.lat, device.lon]);
    this.tooltip.style.left = `${Math.round(point.x + 18)}px`;
    this.tooltip.style.top = `${Math.round(point.y - 10)}px`;
    this.tooltip.hidden = false;
    this.tooltipFor?.removeAttribute('aria-describedby');
    marker.setAttribute('aria-describedby', this.tooltip.id);
    this.tooltipFor = marker;
  }

  private hideTooltip(): void {
    this.tooltip.hidden = true;
    this.tooltipFor?.removeAttribute('aria-describedby');
    this.tooltipFor = null;
  }
}
