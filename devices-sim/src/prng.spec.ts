import { gaussian, hashString, mulberry32, poisson, prngFor, smoothNoise, unitHash } from './prng';

describe('prng', () => {
  it('replays the same sequence for the same seed and differs for another', () => {
    const a = mulberry32(42);
    const b = mulberry32(42);
    const c = mulberry32(43);
    const first = Array.from({ length: 5 }, a);
    expect(Array.from({ length: 5 }, b)).toEqual(first);
    expect(Array.from({ length: 5 }, c)).not.toEqual(first);
  });

  it('draws uniformly in [0, 1)', () => {
    const rng = mulberry32(1);
    const draws = Array.from({ length: 20_000 }, rng);
    expect(Math.min(...draws)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...draws)).toBeLessThan(1);
    const buckets = new Array<number>(10).fill(0);
    for (const x of draws) buckets[Math.floor(x * 10)]! += 1;
    for (const count of buckets) expect(Math.abs(count - 2000)).toBeLessThan(4 * Math.sqrt(2000));
  });

  it('hashes keys so that neighbours diverge', () => {
    expect(hashString('sl-tn-001')).toBe(hashString('sl-tn-001'));
    expect(hashString('sl-tn-001')).not.toBe(hashString('sl-tn-002'));
    expect(hashString('x', 1)).not.toBe(hashString('x', 2));
    expect(unitHash(1, 'a', 5)).toBe(prngFor(1, 'a', 5)());
    expect(unitHash(1, 'a', 5)).not.toBe(unitHash(1, 'a', 6));
  });

  it('gaussian and poisson have the requested moments', () => {
    const rng = mulberry32(7);
    const normals = Array.from({ length: 20_000 }, () => gaussian(rng));
    const mean = normals.reduce((a, b) => a + b, 0) / normals.length;
    const variance = normals.reduce((a, b) => a + (b - mean) ** 2, 0) / normals.length;
    expect(Math.abs(mean)).toBeLessThan(0.05);
    expect(Math.abs(variance - 1)).toBeLessThan(0.05);
    for (const lambda of [0.5, 4, 30, 400]) {
      const counts = Array.from({ length: 5000 }, () => poisson(rng, lambda));
      const m = counts.reduce((a, b) => a + b, 0) / counts.length;
      expect(Math.abs(m - lambda)).toBeLessThan(4 * Math.sqrt(lambda / counts.length));
      expect(counts.every((k) => Number.isInteger(k) && k >= 0)).toBe(true);
    }
    expect(poisson(rng, 0)).toBe(0);
  });

  it('smooth noise stays in [-1, 1], passes through its knots and changes little between them', () => {
    const period = 3_600_000;
    let previous = smoothNoise(3, 'k', 0, period);
    for (let t = 60_000; t < 48 * period; t += 60_000) {
      const value = smoothNoise(3, 'k', t, period);
      expect(Math.abs(value)).toBeLessThanOrEqual(1);
      expect(Math.abs(value - previous)).toBeLessThan(0.06); // at most π/60 per knot-fraction step
      previous = value;
    }
    expect(smoothNoise(3, 'k', 5 * period, period)).toBeCloseTo(unitHash(3, 'k', 5) * 2 - 1, 10);
  });
});
