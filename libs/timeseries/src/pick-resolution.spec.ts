import { InvalidQueryError } from './errors';
import { pickResolution, type ResolutionContext, rollupAligns } from './pick-resolution';
import { DEFAULT_RETENTION } from './retention';

const MINUTE = 60_000;
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const NOW = Date.UTC(2026, 10, 27, 12, 0, 0);
const context: ResolutionContext = { retention: DEFAULT_RETENTION, now: NOW };
const recent = NOW - 7 * DAY;

describe('rollupAligns', () => {
  it('needs both the window and the offset to be whole buckets', () => {
    expect(rollupAligns('1h', DAY, 7 * HOUR)).toBe(true);
    expect(rollupAligns('1h', DAY, -7 * HOUR)).toBe(true);
    expect(rollupAligns('1h', DAY, 30 * MINUTE)).toBe(false);
    expect(rollupAligns('1h', 90 * MINUTE, 0)).toBe(false);
    expect(rollupAligns('1m', 90 * MINUTE, 0)).toBe(true);
    expect(rollupAligns('1m', 90_500, 0)).toBe(false);
    expect(rollupAligns('1m', 5 * MINUTE, -(5 * HOUR + 30 * MINUTE))).toBe(true);
  });
});

describe('pickResolution', () => {
  it('picks the coarsest rollup whose buckets tile the windows', () => {
    const pick = (everyMs: number, offsetMs = 0) =>
      pickResolution({ from: recent, everyMs, offsetMs, fn: 'mean' }, context);
    expect(pick(HOUR)).toBe('1h');
    expect(pick(DAY, 7 * HOUR)).toBe('1h');
    expect(pick(DAY, 5 * HOUR + 30 * MINUTE)).toBe('1m');
    expect(pick(15 * MINUTE)).toBe('1m');
    expect(pick(90 * MINUTE)).toBe('1m');
    expect(pick(HOUR, 30 * MINUTE)).toBe('1m');
    expect(pick(30_000)).toBe('raw');
    expect(pick(HOUR, 1)).toBe('raw');
    for (const fn of ['min', 'max'] as const) {
      expect(pickResolution({ from: recent, everyMs: HOUR, fn }, context)).toBe('1h');
    }
  });

  it('answers raw points and last from raw data', () => {
    expect(pickResolution({ from: recent }, context)).toBe('raw');
    expect(pickResolution({ from: recent, everyMs: HOUR }, context)).toBe('raw');
    expect(pickResolution({ from: recent, everyMs: HOUR, fn: 'last' }, context)).toBe('raw');
    // Even where raw retention has deleted the data: a rollup cannot give points or last values.
    expect(pickResolution({ from: NOW - 3 * 365 * DAY, everyMs: HOUR, fn: 'last' }, context)).toBe('raw');
  });

  it('falls back to a rollup that still holds `from` when a finer one does not', () => {
    const old = NOW - 200 * DAY; // beyond raw (90 d), within 1m (2 y)
    expect(pickResolution({ from: old, everyMs: 15 * MINUTE, fn: 'mean' }, context)).toBe('1m');
    expect(pickResolution({ from: old, everyMs: HOUR, fn: 'mean' }, context)).toBe('1h');
    // Windows no rollup tiles: raw, the only exact answer, for what it still holds.
    expect(pickResolution({ from: old, everyMs: 30_000, fn: 'mean' }, context)).toBe('raw');
  });

  it('falls back to a finer rollup when the coarser one does not hold `from`', () => {
    // Unusual but allowed: hour rollups kept for less time than minute rollups.
    const retention = { rawMs: 2 * DAY, oneMinuteMs: 400 * DAY, oneHourMs: 30 * DAY };
    const at = (from: number) => pickResolution({ from, everyMs: HOUR, fn: 'max' }, { retention, now: NOW });
    expect(at(NOW - DAY)).toBe('1h');
    expect(at(NOW - 100 * DAY)).toBe('1m');
    // Nothing holds it all: the one keeping the longest history.
    expect(at(NOW - 1000 * DAY)).toBe('1m');
  });

  it('keeps everything with Infinity', () => {
    const forever = { rawMs: Infinity, oneMinuteMs: Infinity, oneHourMs: Infinity };
    expect(pickResolution({ from: 0, everyMs: HOUR, fn: 'mean' }, { retention: forever, now: NOW })).toBe(
      '1h',
    );
    expect(pickResolution({ from: 0, everyMs: 30_000, fn: 'mean' }, { retention: forever, now: NOW })).toBe(
      'raw',
    );
  });

  it('answers everything raw on a store without rollups', () => {
    const none = { ...context, rollups: [] };
    expect(pickResolution({ from: recent, everyMs: HOUR, fn: 'mean' }, none)).toBe('raw');
    expect(() => pickResolution({ from: recent, everyMs: HOUR, fn: 'mean', resolution: '1h' }, none)).toThrow(
      InvalidQueryError,
    );
  });

  it('honours an explicit resolution, or refuses one that cannot answer', () => {
    const q = { from: recent, everyMs: HOUR, fn: 'mean' as const };
    expect(pickResolution({ ...q, resolution: 'raw' }, context)).toBe('raw');
    expect(pickResolution({ ...q, resolution: '1m' }, context)).toBe('1m');
    expect(pickResolution({ ...q, resolution: '1h' }, context)).toBe('1h');
    expect(pickResolution({ ...q, resolution: 'auto' }, context)).toBe('1h');
    for (const refused of [
      { ...q, everyMs: 5 * MINUTE, resolution: '1h' as const },
      { ...q, offsetMs: 30 * MINUTE, resolution: '1h' as const },
      { ...q, everyMs: 30_000, resolution: '1m' as const },
      { ...q, fn: 'last' as const, resolution: '1m' as const },
      { from: recent, resolution: '1h' as const },
    ]) {
      expect(() => pickResolution(refused, context)).toThrow(InvalidQueryError);
    }
    expect(() => pickResolution({ ...q, everyMs: 5 * MINUTE, resolution: '1h' }, context)).toThrow(
      /whole multiples of 3600000 ms/,
    );
  });

  it('refuses malformed windows as RangeError', () => {
    for (const everyMs of [0, -HOUR, 1.5, Number.NaN]) {
      expect(() => pickResolution({ from: recent, everyMs, fn: 'mean' }, context)).toThrow(RangeError);
    }
    expect(() => pickResolution({ from: recent, everyMs: HOUR, fn: 'mean', offsetMs: 0.5 }, context)).toThrow(
      RangeError,
    );
  });
});
