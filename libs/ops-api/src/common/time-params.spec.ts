import { parseDurationMs } from '@ioc/runtime';
import { MAX_TIMESTAMP_MS } from '@ioc/timeseries';
import {
  DURATION_TEXT_PATTERN,
  durationParam,
  instantParam,
  integerParam,
  MAX_WINDOW_MS,
} from './time-params';

describe('durationParam', () => {
  it.each([
    ['30s', 30_000],
    ['5m', 300_000],
    ['1h', 3_600_000],
    ['1d', 86_400_000],
    ['1500ms', 1500],
    ['60000', 60_000],
    ['3650d', 3650 * 86_400_000],
  ])('reads %s as %d ms', (text, ms) => {
    expect(durationParam.parse(text)).toBe(ms);
  });

  it.each(['', '5 m', '5parsecs', '-1h', '1.5h', '999ms', '0s', '1'.repeat(12), '3651d'])(
    'refuses %j',
    (text) => {
      expect(durationParam.safeParse(text).success).toBe(false);
    },
  );

  it('refuses a window past 2^53 ms by its length, not with an integer-range error', () => {
    // 104249992 d = 9 007 199 308 800 000 ms > Number.MAX_SAFE_INTEGER: a 500 from the store before.
    const result = durationParam.safeParse('104249992d');
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.message).toBe(`the longest window is ${MAX_WINDOW_MS / 86_400_000}d`);
  });

  it('documents the very pattern parseDurationMs reads', () => {
    const pattern = new RegExp(DURATION_TEXT_PATTERN);
    for (const text of [
      '1',
      '30s',
      '5m',
      '1h',
      '90d',
      '250ms',
      '999999999d',
      '',
      '1.5h',
      '1w',
      '1 h',
      '-1d',
    ]) {
      expect({ text, matches: pattern.test(text) }).toEqual({
        text,
        matches: parseDurationMs(text) !== undefined,
      });
    }
  });
});

describe('instantParam', () => {
  it('reads ISO-8601 with an offset and epoch milliseconds as the same instant', () => {
    const iso = '2026-11-27T08:00:00+07:00';
    expect(instantParam.parse(iso)).toBe(Date.parse(iso));
    expect(instantParam.parse(String(Date.parse(iso)))).toBe(Date.parse(iso));
    expect(instantParam.parse('2026-11-27T01:00:00Z')).toBe(Date.parse(iso));
    expect(instantParam.parse('2026-11-27T01:00:00.250Z')).toBe(Date.parse(iso) + 250);
    expect(instantParam.parse('0')).toBe(0);
    expect(instantParam.parse(String(MAX_TIMESTAMP_MS))).toBe(MAX_TIMESTAMP_MS);
  });

  it('says how to write the "+" of an offset when a URL query turned it into a space', () => {
    const parsed = instantParam.safeParse('2026-11-27T08:00:00 07:00');
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues[0]?.message).toContain('%2B');
    expect(instantParam.safeParse('2026-11-27 08:00').error?.issues[0]?.message).not.toContain('%2B');
  });

  it.each([
    'yesterday',
    '2026-13-45T00:00:00Z',
    '2026-02-30T00:00:00Z',
    "1'; DROP MEASUREMENT readings; --",
    '2026-11-27T08:00:00',
    '2026-11-27',
    '2026-11-27T08:00Z',
    '-1',
    '1e12',
    ' 1795741200000',
    String(MAX_TIMESTAMP_MS + 1),
    '9999-12-31T23:59:59Z',
    'x'.repeat(41),
  ])('refuses %j', (text) => {
    expect(instantParam.safeParse(text).success).toBe(false);
  });
});

describe('integerParam', () => {
  const limit = integerParam(1, 5000);
  it('reads decimal digits within its bounds', () => {
    expect(limit.parse('1')).toBe(1);
    expect(limit.parse('5000')).toBe(5000);
  });
  it.each(['', '0', '5001', '1e3', '0x10', ' 5', '5 ', '-1', '1.0', '+5'])('refuses %j', (text) => {
    expect(limit.safeParse(text).success).toBe(false);
  });
});
