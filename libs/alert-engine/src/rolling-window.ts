/**
 * A rolling aggregate (mean, max, min, coverage) of one device's numeric values over a window,
 * kept in `buckets` time buckets of `bucketMs` each (aligned to the epoch), so memory and the cost
 * of an aggregate are bounded by the bucket count, not by the number of readings.
 *
 * Geometry and error bound: at time t the window holds the buckets with index
 * `floor(t / bucketMs) − buckets + 1 … floor(t / bucketMs)`, i.e. the current (partial) bucket and
 * the `buckets − 1` before it: it spans between `window − bucketMs` and `window`, so its start is
 * off by at most one bucket. `windowBuckets()` chooses one bucket per reporting interval of the
 * device, at most 60 per window: a 24-h window of a 5-minute station has 60 buckets of 24 min
 * (start error ≤ 24 min, 1.7 %), a 1-h window of the same station 12 buckets of 5 min.
 *
 * Coverage is the fraction of the window's buckets holding at least one value: with one bucket per
 * reporting interval it is the fraction of expected reports that arrived (the "75 % of the period"
 * rule of averaging standards such as QCVN 05:2023/BTNMT and EPA 40 CFR 50 App. N).
 *
 * Values arriving late are added to their own bucket while it is still inside the window of the
 * newest bucket seen (`head`); older ones are dropped. Evaluation as of a time ignores buckets newer
 * than it, so the result depends only on the values and the time asked, never on the wall clock.
 */
export class RollingWindow {
  /** Absolute bucket index held by each slot (valid where `count > 0`). */
  private readonly index: Float64Array;
  private readonly count: Uint32Array;
  private readonly sum: Float64Array;
  private readonly minimum: Float64Array;
  private readonly maximum: Float64Array;
  /** Newest bucket index added, −Infinity before the first value. */
  private head = Number.NEGATIVE_INFINITY;
  private version = 0;
  private cachedBucket = Number.NaN;
  private cachedVersion = -1;

  /** Results of the last `evaluateAt` (fields, so evaluating allocates nothing). NaN when empty. */
  mean = Number.NaN;
  max = Number.NaN;
  min = Number.NaN;
  /** Fraction (0–1) of the window's buckets holding data, as of the last `evaluateAt`. */
  coverage = 0;
  /** Values in the window, as of the last `evaluateAt`. */
  values = 0;

  /**
   * @param bucketMs bucket length, ms (a positive integer)
   * @param buckets bucket count, 1–1000
   * @throws RangeError on other geometry
   */
  constructor(
    readonly bucketMs: number,
    readonly buckets: number,
  ) {
    if (!Number.isInteger(bucketMs) || bucketMs <= 0)
      throw new RangeError(`bucketMs ${bucketMs} is not a positive integer`);
    if (!Number.isInteger(buckets) || buckets < 1 || buckets > 1000)
      throw new RangeError(`buckets ${buckets} is not 1–1000`);
    this.index = new Float64Array(buckets);
    this.count = new Uint32Array(buckets);
    this.sum = new Float64Array(buckets);
    this.minimum = new Float64Array(buckets);
    this.maximum = new Float64Array(buckets);
  }

  /** Adds a value observed at `ts` (epoch ms). Non-finite values are ignored. */
  add(ts: number, value: number): void {
    if (!Number.isFinite(value)) return;
    const b = Math.floor(ts / this.bucketMs);
    if (b <= this.head - this.buckets) return; // older than the window of the newest value
    const slot = ((b % this.buckets) + this.buckets) % this.buckets;
    if (this.count[slot] > 0 && this.index[slot] === b) {
      this.count[slot]++;
      this.sum[slot] += value;
      if (value < this.minimum[slot]) this.minimum[slot] = value;
      if (value > this.maximum[slot]) this.maximum[slot] = value;
    } else {
      if (this.count[slot] > 0 && this.index[slot] > b) return; // the slot holds a newer bucket
      this.index[slot] = b;
      this.count[slot] = 1;
      this.sum[slot] = value;
      this.minimum[slot] = value;
      this.maximum[slot] = value;
    }
    if (b > this.head) this.head = b;
    this.version++;
  }

  /**
   * Computes `mean`, `max`, `min`, `coverage` and `values` of the window ending at `ts` (epoch ms)
   * into this object's fields; cached until a value is added or the bucket of `ts` changes.
   */
  evaluateAt(ts: number): this {
    const q = Math.floor(ts / this.bucketMs);
    if (q === this.cachedBucket && this.version === this.cachedVersion) return this;
    let n = 0;
    let sum = 0;
    let filled = 0;
    let min = Number.POSITIVE_INFINITY;
    let max = Number.NEGATIVE_INFINITY;
    const low = q - this.buckets;
    for (let i = 0; i < this.buckets; i++) {
      const c = this.count[i];
      if (c === 0) continue;
      const b = this.index[i];
      if (b <= low || b > q) continue;
      filled++;
      n += c;
      sum += this.sum[i];
      if (this.minimum[i] < min) min = this.minimum[i];
      if (this.maximum[i] > max) max = this.maximum[i];
    }
    this.values = n;
    this.coverage = filled / this.buckets;
    this.mean = n > 0 ? sum / n : Number.NaN;
    this.min = n > 0 ? min : Number.NaN;
    this.max = n > 0 ? max : Number.NaN;
    this.cachedBucket = q;
    this.cachedVersion = this.version;
    return this;
  }

  /** JSON-safe state: `[bucketMs, buckets, [[bucketIndex, count, sum, min, max], …]]`. */
  toJSON(): WindowSnapshot {
    const slots: WindowSnapshot[2] = [];
    for (let i = 0; i < this.buckets; i++) {
      if (this.count[i] === 0) continue;
      slots.push([this.index[i], this.count[i], this.sum[i], this.minimum[i], this.maximum[i]]);
    }
    slots.sort((a, b) => a[0] - b[0]);
    return [this.bucketMs, this.buckets, slots];
  }

  /**
   * Rebuilds a window from `toJSON()`'s output.
   * @throws TypeError when `s` is not such a value
   */
  static fromJSON(s: unknown): RollingWindow {
    if (!Array.isArray(s) || s.length !== 3 || !Array.isArray(s[2]))
      throw new TypeError('malformed window snapshot');
    const w = new RollingWindow(Number(s[0]), Number(s[1]));
    for (const slot of s[2] as unknown[]) {
      if (!Array.isArray(slot) || slot.length !== 5 || !slot.every((x) => typeof x === 'number')) {
        throw new TypeError('malformed window snapshot bucket');
      }
      const [b, c, sum, min, max] = slot as number[];
      const i = ((b % w.buckets) + w.buckets) % w.buckets;
      w.index[i] = b;
      w.count[i] = c;
      w.sum[i] = sum;
      w.minimum[i] = min;
      w.maximum[i] = max;
      if (b > w.head) w.head = b;
    }
    return w;
  }
}

/** `[bucketMs, buckets, [[bucketIndex, count, sum, min, max], …]]`. */
export type WindowSnapshot = [number, number, Array<[number, number, number, number, number]>];

/** At most this many buckets per window (the window's start is off by at most 1/60 of it). */
export const MAX_WINDOW_BUCKETS = 60;

/**
 * Bucket geometry for a window of `windowSeconds` over a device reporting every
 * `reportingIntervalSeconds`: one bucket per reporting interval, between 1 and MAX_WINDOW_BUCKETS.
 * @returns `{ buckets, bucketMs }` with `buckets × bucketMs ≥ windowSeconds × 1000`
 */
export function windowBuckets(
  windowSeconds: number,
  reportingIntervalSeconds: number,
): { buckets: number; bucketMs: number } {
  const interval = reportingIntervalSeconds > 0 ? reportingIntervalSeconds : 60;
  const buckets = Math.max(1, Math.min(MAX_WINDOW_BUCKETS, Math.floor(windowSeconds / interval)));
  return { buckets, bucketMs: Math.ceil((windowSeconds * 1000) / buckets) };
}
