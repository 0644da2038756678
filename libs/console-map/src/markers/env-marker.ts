import type { MarkerKind } from './marker-kind';

/** Environment monitoring (môi trường): circles. KK không khí, N nước, Ô tiếng ồn, KT khí tượng. */
export const ENV_MARKER: MarkerKind = {
  domain: 'env',
  shape: 'circle',
  glyph: (type) =>
    type === 'air-quality-station'
      ? 'KK'
      : type === 'water-quality-station'
        ? 'N'
        : type === 'noise-meter'
          ? 'Ô'
          : type === 'weather-station'
            ? 'KT'
            : 'M',
};
