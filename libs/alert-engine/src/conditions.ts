import type { Condition, MetricValue } from '@ioc/contracts';

/**
 * A rule condition made ready to test (compiled once per rule version, tested per reading with no
 * allocation).
 */
export interface CompiledCondition {
  readonly source: Condition;
  /** `rateOfChange`: needs the subject's previous value of the metric. */
  readonly needsRate: boolean;
  /**
   * Whether the condition can be tested on `value` with this rate: numeric operators need a number,
   * `rateOfChange` also a known rate (not NaN). A reading the condition cannot be tested on changes
   * nothing (it neither opens nor resolves an alert). Non-finite numbers never apply.
   */
  applies(value: MetricValue | null, ratePerMinute: number): boolean;
  /** Whether the condition holds. Call only where `applies` is true. */
  test(value: MetricValue | null, ratePerMinute: number): boolean;
}

const isNumber = (v: MetricValue | null): v is number => typeof v === 'number';
/** Numeric conditions apply to finite numbers only (NaN or ±Infinity changes nothing). */
const numeric = (v: MetricValue | null): boolean => typeof v === 'number' && Number.isFinite(v);

/**
 * Compiles a contracts `Condition`:
 * - `above` / `below`: strictly beyond `value`, or reaching it with `inclusive: true`;
 * - `outside`: `value < min || value > max` (the bounds themselves are inside the range, as the
 *   ranges of QCVN 08:2023 are written, e.g. pH 6.5–8.5);
 * - `equals`: strict equality (`1` never equals `true` or `'1'`);
 * - `rateOfChange`: the rate (value change per minute against the subject's previous value) reaching
 *   `perMinute`: `rise` rate ≥ perMinute, `fall` rate ≤ −perMinute, `either` (default) |rate| ≥
 *   perMinute.
 */
export function compileCondition(c: Condition): CompiledCondition {
  switch (c.op) {
    case 'above': {
      const limit = c.value;
      return c.inclusive
        ? { source: c, needsRate: false, applies: numeric, test: (v) => isNumber(v) && v >= limit }
        : { source: c, needsRate: false, applies: numeric, test: (v) => isNumber(v) && v > limit };
    }
    case 'below': {
      const limit = c.value;
      return c.inclusive
        ? { source: c, needsRate: false, applies: numeric, test: (v) => isNumber(v) && v <= limit }
        : { source: c, needsRate: false, applies: numeric, test: (v) => isNumber(v) && v < limit };
    }
    case 'outside': {
      const { min, max } = c;
      return {
        source: c,
        needsRate: false,
        applies: numeric,
        test: (v) => isNumber(v) && (v < min || v > max),
      };
    }
    case 'equals': {
      const expected = c.value;
      return { source: c, needsRate: false, applies: (v) => v !== null, test: (v) => v === expected };
    }
    case 'rateOfChange': {
      const limit = c.perMinute;
      const direction = c.direction ?? 'either';
      const applies = (v: MetricValue | null, rate: number): boolean => numeric(v) && Number.isFinite(rate);
      const test =
        direction === 'rise'
          ? (_v: MetricValue | null, rate: number) => rate >= limit
          : direction === 'fall'
            ? (_v: MetricValue | null, rate: number) => rate <= -limit
            : (_v: MetricValue | null, rate: number) => Math.abs(rate) >= limit;
      return { source: c, needsRate: true, applies, test };
    }
  }
}

/**
 * The one number a condition compares against (`above`/`below` value, a numeric `equals`), shown as
 * an alert's `limit` and the `{limit}` placeholder; null for ranges, rates and non-numeric values.
 */
export function conditionLimit(c: Condition): number | null {
  switch (c.op) {
    case 'above':
    case 'below':
      return c.value;
    case 'equals':
      return typeof c.value === 'number' ? c.value : null;
    case 'outside':
    case 'rateOfChange':
      return null;
  }
}
