import type { MarkerKind } from './marker-kind';

/** Street lighting (chiếu sáng): diamonds. Đ đèn, T tủ điều khiển. */
export const LIGHTING_MARKER: MarkerKind = {
  domain: 'lighting',
  shape: 'diamond',
  glyph: (type) => (type === 'street-light' ? 'Đ' : type === 'lighting-cabinet' ? 'T' : 'C'),
};
