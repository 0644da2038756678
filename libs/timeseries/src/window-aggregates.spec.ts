import { type WindowFn, WindowAggregates } from './window-aggregates';

const HOUR = 3_600_000;

/** The merge by definition: every piece of a window, combined, whatever order they came in. */
function expectedPoints(fn: WindowFn, pieces: readonly [number, number, number][]) {
  const windows = new Map<number, { partial: number; count: number }>();
  for (const [start, partial, count] of pieces) {
    if (count <= 0) continue;
    const known = windows.get(start);
    if (known === undefined) windows.set(start, { partial, count });
    else {
      known.partial =
        fn === 'mean'
          ? known.partial + partial
          : (fn === 'min' ? Math.min : Math.max)(known.partial, partial);
      known.count += count;
    }
  }
  return [...windows.entries()]
    .sort(([a], [b]) => a - b)
    .map(([ts, w]) => ({ ts, value: fn === 'mean' ? w.partial / w.count : w.partial, count: w.count }));
}

describe('WindowAggregates', () => {
  it('merges pieces of a window into count-weighted means, mins and maxes', () => {
    const pieces: [number, number, number][] = [
      [HOUR, 30, 3],
      [0, 2, 1],
      [HOUR, 1, 1],
      [2 * HOUR, 0, 0], // no numeric points: not a window
    ];
    const mean = new WindowAggregates('mean');
    for (const [start, sum, count] of pieces) mean.add(start, sum, count);
    expect(mean.points(undefined)).toEqual([
      { ts: 0, value: 2, count: 1 },
      { ts: HOUR, value: 31 / 4, count: 4 },
    ]);
    expect(mean.size).toBe(2);

    const min = new WindowAggregates('min');
    min.add(HOUR, 5, 3);
    min.add(0, 2, 1);
    min.add(HOUR, 1, 1);
    expect(min.points(1)).toEqual([{ ts: 0, value: 2, count: 1 }]);

    const max = new WindowAggregates('max');
    max.add(HOUR, 15, 3);
    max.add(0, 2, 1);
    max.add(HOUR, 1, 1);
    expect(max.points(undefined).map((p) => p.value)).toEqual([2, 15]);
  });

  it('merges pieces arriving in window order without reordering, and a piece extending the last window', () => {
    // What a month of 1-minute buckets, then a raw stretch ending in the same window, looks like.
    const pieces: [number, number, number][] = [
      [0, 10, 2],
      [60_000, 4, 1],
      [120_000, 9, 3],
      [120_000, 1, 1],
      [180_000, 7, 1],
    ];
    for (const fn of ['mean', 'min', 'max'] as const) {
      const windows = new WindowAggregates(fn);
      for (const [start, partial, count] of pieces) windows.add(start, partial, count);
      expect(windows.points(undefined)).toEqual(expectedPoints(fn, pieces));
      expect(windows.points(2)).toEqual(expectedPoints(fn, pieces).slice(0, 2));
    }
  });

  it('gives the same answer whatever order pieces come in (several device chunks or series)', () => {
    // Three "series", each in window order, one after the other: the second one starts over.
    const pieces: [number, number, number][] = [];
    for (let series = 0; series < 3; series++) {
      for (let w = series; w < 20; w += 1 + series) pieces.push([w * HOUR, w * 10 + series, 1 + series]);
    }
    pieces.push([-HOUR, 3, 1], [25 * HOUR, 8, 2], [0, -5, 1]);
    for (const fn of ['mean', 'min', 'max'] as const) {
      const windows = new WindowAggregates(fn);
      for (const [start, partial, count] of pieces) windows.add(start, partial, count);
      expect(windows.points(undefined)).toEqual(expectedPoints(fn, pieces));
      expect(windows.points(7)).toEqual(expectedPoints(fn, pieces).slice(0, 7));
      expect(windows.points(0)).toEqual([]);
    }
  });
});
