import type { DeviceType, Domain } from '@ioc/contracts';

/**
 * How one domain's devices look on the map, so the domain is visible without colour: a shape
 * (drawn by markers.css from the `ioc-marker--<shape>` class) and a short glyph per device type
 * (Vietnamese initials; the marker's aria-label and tooltip carry the full names). Colour is the
 * marker state's (or the VN_AQI band's), applied by marker-element.ts, never by a kind.
 */
export interface MarkerKind {
  domain: Domain;
  shape: 'circle' | 'square' | 'diamond' | 'hexagon';
  /** Glyph drawn inside the marker for a device of `type` (an AQI number replaces it when known). */
  glyph(type: DeviceType): string;
}
