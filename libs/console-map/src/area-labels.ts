import L from 'leaflet';
import { labelDepthForZoom, type AreaTree } from './area-tree';

/**
 * Area centres: one label per area at its `location`, for the level that fits the zoom
 * (`labelDepthForZoom`: districts at low zoom, wards and communes when zoomed in). Drawn in a pane
 * under the markers, ignoring the pointer; a label overlapping one drawn before it is hidden.
 * Redrawn on zoom only (panning moves the pane).
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
    hideOverlapping(labels);
  }
}

/**
 * Hides every label that would overlap one kept before it (in the area tree's order), so
 * neighbouring districts' names at low zoom do not print over each other; zooming in spreads
 * them and brings them back. Reads the layout once per label (labels are few: one per area).
 */
function hideOverlapping(labels: readonly HTMLElement[]): void {
  const kept: DOMRect[] = [];
  for (const label of labels) {
    const box = label.getBoundingClientRect();
    const overlaps = kept.some(
      (k) => box.left < k.right && box.right > k.left && box.top < k.bottom && box.bottom > k.top,
    );
    if (overlaps) label.hidden = true;
    else kept.push(box);
  }
}
