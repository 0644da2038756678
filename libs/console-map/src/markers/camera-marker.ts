import type { MarkerKind } from './marker-kind';

/** Cameras: hexagons with "CAM". */
export const CAMERA_MARKER: MarkerKind = {
  domain: 'camera',
  shape: 'hexagon',
  glyph: () => 'CAM',
};
