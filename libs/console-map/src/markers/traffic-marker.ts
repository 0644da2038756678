import type { MarkerKind } from './marker-kind';

/** Traffic (giao thông): squares. X đếm xe, TH đèn tín hiệu. */
export const TRAFFIC_MARKER: MarkerKind = {
  domain: 'traffic',
  shape: 'square',
  glyph: (type) => (type === 'traffic-counter' ? 'X' : type === 'traffic-signal' ? 'TH' : 'G'),
};
