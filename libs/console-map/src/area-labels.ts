import L from 'leaflet';
import { labelDepthForZoom, type AreaTree } from './area-tree';

/**
 * Area centres: one label per area at its `location`, for the level that fits the zoom
 * (`labelDepthForZoom`: districts at low zoom, wards and communes when zoomed in). Drawn in a pane
 * under the markers, ignoring the pointer. Redrawn on zoom only (panning moves the pane).
 */
export class AreaLabels {
  private readonly pane: HTMLElement;
  private tree: AreaTree | null = null;
  private readonly onZoom = (): void => this.render();

  constructor(private readonly map: L.Map) {
    this.pane = map.createPane('iocAreas');
    this.pane.classList.add('leaflet-zoom-hide', 'ioc-areas-pane');
    this.pane.style.zIndex = '450';
    this.pane.style.pointerEvents = 'none';
    map.on('zoomend viewreset', this.onZoom);
  }

  setAreas(tree: AreaTree): void {
    this.tree = tree;
    this.render();
  }

  destroy(): void {
    this.map.off('zoomend viewreset', this.onZoom);
    this.pane.remove();
  }

  private render(): void {
    if (this.tree === null) return;
    const depth = labelDepthForZoom(this.map.getZoom());
    const labels = this.tree.atDepth(depth).map((area) => {
      const el = document.createElement('div');
      el.className = `ioc-area-label ioc-area-label--depth-${depth}`;
      el.dataset['areaId'] = area.id;
      el.textContent = area.name;
      const location = area.location as { lat: number; lon: number };
      L.DomUtil.setPosition(el, this.map.latLngToLayerPoint([location.lat, location.lon]));
      return el;
    });
    this.pane.replaceChildren(...labels);
  }
}
