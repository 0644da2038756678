import { localDayOfYear, localHour, localWeekday, vietnamTime, VIETNAM_UTC_OFFSET_MS } from './local-time';

describe('Vietnam local time (UTC+7, no DST)', () => {
  it('converts wall-clock times both ways', () => {
    const t = vietnamTime(2026, 7, 1, 22, 30);
    expect(new Date(t).toISOString()).toBe('2026-07-01T15:30:00.000Z');
    expect(localHour(t)).toBe(22.5);
    expect(localHour(Date.UTC(2026, 0, 1, 20, 0))).toBe(3); // 03:00 the next local day
  });

  it('has no daylight-saving shift across the year', () => {
    for (let month = 1; month <= 12; month += 1) {
      const t = vietnamTime(2026, month, 15, 8, 0);
      expect(Date.UTC(2026, month - 1, 15, 8, 0) - t).toBe(VIETNAM_UTC_OFFSET_MS);
    }
  });

  it('knows local weekdays and day of year', () => {
    expect(localWeekday(vietnamTime(2026, 3, 9, 0, 30))).toBe(1); // Monday 9 March 2026
    expect(localWeekday(vietnamTime(2026, 3, 8, 23, 30))).toBe(0); // Sunday, though UTC says Sunday 16:30
    expect(localDayOfYear(vietnamTime(2026, 1, 1, 0, 10))).toBe(0);
    expect(localDayOfYear(vietnamTime(2026, 12, 31, 23, 50))).toBe(364);
  });
});
