import { formatDateTime, formatNumber } from './format';

describe('formatNumber', () => {
  it('groups and separates decimals as Vietnamese does, English as British English', () => {
    expect(formatNumber(1234.5, 'vi')).toBe('1.234,5');
    expect(formatNumber(1234567.891, 'vi')).toBe('1.234.567,89');
    expect(formatNumber(1234.5, 'en')).toBe('1,234.5');
    expect(formatNumber(0.456, 'vi', 1)).toBe('0,5');
  });
});

describe('formatDateTime', () => {
  it('shows Vietnam time (UTC+7) whatever the zone of the machine', () => {
    const instant = Date.UTC(2026, 10, 30, 7, 5, 9);
    expect(formatDateTime(instant, 'vi')).toBe('14:05:09 30/11/2026');
    expect(formatDateTime(new Date(instant).toISOString(), 'en')).toBe('30/11/2026, 14:05:09');
    expect(formatDateTime(instant, 'vi', 'time')).toBe('14:05:09');
  });

  it('moves to the next day in Vietnam after 17:00 UTC', () => {
    expect(formatDateTime(Date.UTC(2026, 11, 31, 20, 0, 0), 'vi', 'date')).toBe('01/01/2027');
  });
});
