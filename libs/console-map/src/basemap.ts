import type { BasemapBody } from '@ioc/contracts';
import L from 'leaflet';

/** Maximum zoom of the map without tiles (`none`): street level, as OpenStreetMap's tiles go. */
export const PLAIN_MAX_ZOOM = 19;

/**
 * Adds the deployment's basemap to `map` and returns a function removing it:
 * - `none`: no layer; the container gets the `ioc-map--plain` class (a light background colour);
 * - `xyz`: `L.tileLayer(url, {attribution, maxZoom})`;
 * - `pmtiles`: the archive's header is read (one range request to `url`); raster tiles (PNG, JPEG,
 *   WebP, AVIF) through pmtiles' `leafletRasterLayer`, vector tiles (MVT) through protomaps-leaflet
 *   (`flavor: 'light'`, `lang: 'vi'`). Both packages are loaded on demand and both extend the
 *   global `L` (they do not import Leaflet), so it is set first.
 * Nothing but `url` is fetched. A PMTiles archive that cannot be read leaves the plain background
 * and reports the error to `onError`.
 */
export function addBasemap(
  map: L.Map,
  container: HTMLElement,
  basemap: BasemapBody,
  onError: (error: unknown) => void = () => undefined,
): () => void {
  switch (basemap.kind) {
    case 'none':
      container.classList.add('ioc-map--plain');
      return () => container.classList.remove('ioc-map--plain');
    case 'xyz': {
      const layer = L.tileLayer(basemap.url, {
        attribution: basemap.attribution,
        maxZoom: basemap.maxZoom,
      }).addTo(map);
      return () => layer.remove();
    }
    case 'pmtiles': {
      container.classList.add('ioc-map--plain');
      let layer: L.Layer | undefined;
      let removed = false;
      void loadPmtilesLayer(basemap)
        .then((created) => {
          if (removed) return;
          layer = created;
          layer.addTo(map);
          container.classList.remove('ioc-map--plain');
        })
        .catch(onError);
      return () => {
        removed = true;
        layer?.remove();
        container.classList.remove('ioc-map--plain');
      };
    }
  }
}

async function loadPmtilesLayer(basemap: Extract<BasemapBody, { kind: 'pmtiles' }>): Promise<L.Layer> {
  const global = globalThis as { L?: typeof L };
  global.L ??= L;
  const pmtiles = await import('pmtiles');
  const archive = new pmtiles.PMTiles(basemap.url);
  const header = await archive.getHeader();
  const options = { attribution: basemap.attribution, maxZoom: basemap.maxZoom };
  if (header.tileType === pmtiles.TileType.Mvt || header.tileType === pmtiles.TileType.Mlt) {
    const protomaps = await import('protomaps-leaflet');
    // protomaps-leaflet bundles its own pmtiles copy: it opens the archive by URL itself.
    return protomaps.leafletLayer({
      url: basemap.url,
      flavor: 'light',
      lang: 'vi',
      attribution: basemap.attribution,
      maxZoom: basemap.maxZoom,
      maxDataZoom: header.maxZoom,
    }) as unknown as L.Layer;
  }
  return pmtiles.leafletRasterLayer(archive, {
    ...options,
    maxNativeZoom: header.maxZoom,
  }) as L.Layer;
}
