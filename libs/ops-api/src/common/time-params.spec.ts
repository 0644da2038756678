import { durationParam, instantParam } from './time-params';

describe('durationParam', () => {
  it.each([
    ['30s', 30_000],
    ['5m', 300_000],
    ['1h', 3_600_000],
    ['1d', 86_400_000],
    ['1500ms', 1500],
    ['60000', 60_000],
  ])('reads %s as %d ms', (text, ms) => {
    expect(durationParam.parse(text)).toBe(ms);
  });

  it.each(['', '5 m', '5parsecs', '-1h', '1.5h', '999ms', '0s', '1'.repeat(12)])('refuses %j', (text) => {
    expect(durationParam.safeParse(text).success).toBe(false);
  });
});

describe('instantParam', () => {
  it('reads ISO-8601 with an offset and epoch milliseconds as the same instant', () => {
    const iso = '2026-11-27T08:00:00+07:00';
    expect(instantParam.parse(iso)).toBe(Date.parse(iso));
    expect(instantParam.parse(String(Date.parse(iso)))).toBe(Date.parse(iso));
    expect(instantParam.parse('2026-11-27T01:00:00Z')).toBe(Date.parse(iso));
  });

  it.each([
    'yesterday',
    '2026-13-45T00:00:00Z',
    "1'; DROP MEASUREMENT readings; --",
    '2026-11-27T08:00:00',
    'x'.repeat(41),
  ])('refuses %j', (text) => {
    expect(instantParam.safeParse(text).success).toBe(false);
  });
});
