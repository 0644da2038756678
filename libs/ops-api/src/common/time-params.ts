import { z } from 'zod';
import { ISO_TIMESTAMP } from '@ioc/contracts';
import { durationField } from '@ioc/runtime';
import { DEFAULT_RETENTION, MAX_TIMESTAMP_MS, MIN_TIMESTAMP_MS } from '@ioc/timeseries';
import { documented, openApiSchema } from './openapi-zod';

/**
 * Strict parsers of the REST API's query parameters (text in the URL), with the rules ingest
 * uses where it parses the same thing: timestamps as device payloads give `ts` (ISO_TIMESTAMP
 * from the contracts, or integer epoch ms), durations as the environment's (`parseDurationMs`
 * of @ioc/runtime). Each value is range-checked here, so nothing out of range reaches a store.
 */

const DAY_MS = 86_400_000;

/** The shortest history window: 1 s (finer windows hold at most a few points of any device). */
export const MIN_WINDOW_MS = 1000;

/**
 * The longest history window: 3650 d, the longest the platform keeps anything by default (1-hour
 * rollups, DEFAULT_RETENTION.oneHourMs). Far below 2^53 ms, so window starts and ends stay exact
 * integers and InfluxDB's `GROUP BY time()` (int64 ns) holds them; `every=104249992d`
 * (> 2^53 ms) used to reach the store and fail there with a RangeError.
 */
export const MAX_WINDOW_MS = DEFAULT_RETENTION.oneHourMs;

// Range first: the first issue is the one reported, and 104249992d (not a safe integer) is too long.
const windowRange = z
  .number()
  .min(MIN_WINDOW_MS, 'the shortest window is 1s')
  .max(MAX_WINDOW_MS, `the longest window is ${MAX_WINDOW_MS / DAY_MS}d`)
  .int();

/** What `parseDurationMs` reads: up to 9 digits and a unit (ms when none). */
export const DURATION_TEXT_PATTERN = '^\\d{1,9}(ms|s|m|h|d)?$';

/** `30s`, `5m`, `1h`, `1d`, `250ms`, or a bare number of milliseconds; 1 s to 3650 d, in ms. */
export const durationParam = documented(durationField().pipe(windowRange), {
  type: 'string',
  pattern: DURATION_TEXT_PATTERN,
  description: `a duration: digits and ms, s, m, h or d (bare digits: ms); from 1s to ${MAX_WINDOW_MS / DAY_MS}d`,
  example: '1h',
});

/**
 * Instants a store can hold: 1970-01-01 (MIN_TIMESTAMP_MS) to 2262-04-11 (MAX_TIMESTAMP_MS,
 * InfluxDB's int64-nanosecond limit); the same bounds every time-series adapter checks.
 */
const instantRange = z
  .number()
  .min(MIN_TIMESTAMP_MS, 'before 1970-01-01, the earliest time a store holds')
  .max(MAX_TIMESTAMP_MS, 'after 2262-04-11, the latest time a store holds')
  .int();

const EPOCH_MS_TEXT = /^\d{1,16}$/;

/**
 * ISO-8601 with seconds and a UTC offset (`Z` or `±hh:mm`), as ingest reads a payload's `ts`,
 * or integer epoch milliseconds; in epoch ms, within what a store holds.
 */
export const instantParam = documented(
  z
    .string()
    .max(40)
    .transform((value, ctx) => {
      if (EPOCH_MS_TEXT.test(value)) return Number(value);
      if (ISO_TIMESTAMP.safeParse(value).success) return Date.parse(value);
      // `+07:00` pasted into a URL arrives as ` 07:00`: a query string reads `+` as a space.
      const plusAsSpace =
        / \d{2}:\d{2}$/.test(value) &&
        ISO_TIMESTAMP.safeParse(value.replace(/ (?=\d{2}:\d{2}$)/, '+')).success;
      ctx.addIssue({
        code: 'custom',
        message: plusAsSpace
          ? 'the UTC offset lost its "+": in a URL query "+" means a space, so write it as %2B (e.g. 2026-11-27T08:00:00%2B07:00)'
          : 'expected ISO-8601 with seconds and a UTC offset (e.g. 2026-11-27T08:00:00+07:00) or epoch milliseconds',
      });
      return z.NEVER;
    })
    .pipe(instantRange),
  {
    anyOf: [openApiSchema(ISO_TIMESTAMP), openApiSchema(instantRange)],
    description: 'ISO-8601 with seconds and a UTC offset, or epoch milliseconds',
  },
);

/** A whole number written in decimal digits only (no sign, exponent, blank or hex), in [min, max]. */
export function integerParam(min: number, max: number) {
  const range = z.number().int().min(min).max(max);
  return documented(
    z
      .string()
      .regex(/^\d{1,16}$/, 'expected a whole number in decimal digits')
      .transform(Number)
      .pipe(range),
    openApiSchema(range),
  );
}
