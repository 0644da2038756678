/**
 * Counter-based randomness: every random draw is a pure function of (seed, keys), so a device's
 * value at time t is reproducible without replaying the run, and a lighting cabinet can recompute
 * exactly what each of its lamps reported.
 */

import { mulberry32, type Prng } from '@ioc/runtime';

export { mulberry32, type Prng };

/** FNV-1a over the text, finished with murmur3's avalanche so near-identical keys diverge. */
export function hashString(text: string, seed = 0): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < text.length; i += 1) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

export type HashKey = string | number;

/** A fresh generator for this combination of keys (e.g. seed, device id, timestamp). */
export function prngFor(seed: number, ...keys: HashKey[]): Prng {
  return mulberry32(hashString(keys.join('\u0000'), seed));
}

/** One uniform draw in [0, 1) for this combination of keys; the first output of `prngFor`. */
export function unitHash(seed: number, ...keys: HashKey[]): number {
  // Inlined first mulberry32 step: this runs many times per message, so skip the closure.
  let t = (hashString(keys.join('\u0000'), seed) + 0x6d2b79f5) >>> 0;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}

/** Standard normal draw (Box–Muller). */
export function gaussian(rng: Prng): number {
  const u = 1 - rng(); // (0, 1], so log never sees 0
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng());
}

/**
 * Poisson-distributed count with mean `mean`: exact (Knuth) for small means, normal
 * approximation above 50 where the exact method gets slow.
 */
export function poisson(rng: Prng, mean: number): number {
  if (mean <= 0) return 0;
  if (mean > 50) return Math.max(0, Math.round(mean + Math.sqrt(mean) * gaussian(rng)));
  const limit = Math.exp(-mean);
  let k = 0;
  let p = rng();
  while (p > limit) {
    k += 1;
    p *= rng();
  }
  return k;
}

/**
 * Smooth value noise in [-1, 1]: random values at knots `periodMs` apart, cosine-interpolated,
 * for quantities that drift (water quality, background pollution) rather than jump.
 */
export function smoothNoise(seed: number, key: string, tMs: number, periodMs: number): number {
  const position = tMs / periodMs;
  const knot = Math.floor(position);
  const fraction = position - knot;
  const a = unitHash(seed, key, knot) * 2 - 1;
  const b = unitHash(seed, key, knot + 1) * 2 - 1;
  const w = (1 - Math.cos(Math.PI * fraction)) / 2;
  return a + (b - a) * w;
}
