import { formatMetricValue, formatRelativeTime, formatValueWithUnit, latestRows } from './value-format';

describe('formatMetricValue', () => {
  it('shows fractions 0–1 as percentages, in the language’s number format', () => {
    expect(formatMetricValue('relativeHumidity', 0.425, 'vi')).toEqual({ text: '42,5', unit: '%' });
    expect(formatMetricValue('illuminanceLevel', 0.4, 'en')).toEqual({ text: '40', unit: '%' });
    for (const metric of ['occupancy', 'batteryLevel', 'confidence', 'congestionLevel']) {
      expect(formatMetricValue(metric, 1, 'vi').unit).toBe('%');
    }
    // the power factor is read as a ratio, not a percentage
    expect(formatMetricValue('powerFactor', 0.95, 'vi')).toEqual({ text: '0,95', unit: '' });
  });

  it('groups thousands and keeps the catalogue unit', () => {
    expect(formatMetricValue('co', 12345.678, 'vi')).toEqual({ text: '12.345,68', unit: 'µg/m³' });
    expect(formatMetricValue('co', 12345.678, 'en')).toEqual({ text: '12,345.68', unit: 'µg/m³' });
    expect(formatValueWithUnit('temperature', 31.2, 'vi')).toBe('31,2 °C');
  });

  it('translates unit words and says yes/no for booleans', () => {
    expect(formatValueWithUnit('intensity', 1200, 'vi')).toBe('1.200 xe');
    expect(formatValueWithUnit('peopleCount', 40, 'en')).toBe('40 people');
    expect(formatMetricValue('doorOpen', true, 'vi').text).toBe('Có');
    expect(formatMetricValue('on', false, 'vi').text).toBe('Không');
    expect(formatMetricValue('on', false, 'en').text).toBe('No');
  });

  it('names enumeration values and passes other text through', () => {
    expect(formatMetricValue('signalMode', 'flashing', 'vi').text).toBe('Nhấp nháy vàng');
    expect(formatMetricValue('aqiDominant', 'pm25', 'vi').text).toBe('Bụi PM2.5');
    expect(formatMetricValue('firmwareVersion', '<b>2.1</b>', 'vi').text).toBe('<b>2.1</b>');
    expect(formatMetricValue('signalMode', 'futureMode', 'en').text).toBe('futureMode');
  });
});

describe('formatRelativeTime', () => {
  const now = Date.UTC(2026, 10, 30, 7, 0, 0);
  it('says how long ago in the largest whole unit', () => {
    expect(formatRelativeTime(now - 2 * 60_000 - 5000, now, 'vi')).toBe('2 phút trước');
    expect(formatRelativeTime(now - 3 * 3_600_000, now, 'vi')).toBe('3 giờ trước');
    expect(formatRelativeTime(now - 45_000, now, 'en')).toBe('45 seconds ago');
    expect(formatRelativeTime(now - 200, now, 'en')).toBe('now');
    expect(formatRelativeTime(now + 120_000, now, 'en')).toBe('in 2 minutes');
  });
});

describe('latestRows', () => {
  it('one row per metric reported, in the type’s order, with labels, units, event and Vietnam time', () => {
    const ts = Date.UTC(2026, 10, 30, 7, 5, 9); // 14:05:09 in Vietnam
    const rows = latestRows(
      'camera',
      {
        confidence: { value: 0.93, ts, unit: '', event: 'accident' },
        online: { value: true, ts, unit: '' },
        fps: { value: 25, ts, unit: 'fps' },
        futureMetric: { value: 3, ts, unit: 'x' },
      },
      'vi',
    );
    expect(rows.map((r) => r.metric)).toEqual(['online', 'fps', 'confidence', 'futureMetric']);
    expect(rows[2]).toMatchObject({ label: 'Độ tin cậy', value: '93', unit: '%', event: 'Tai nạn' });
    expect(rows[2].time).toBe('14:05:09 30/11/2026');
    expect(rows[0]).toMatchObject({ value: 'Có', event: null });
    expect(rows[3]).toMatchObject({ label: 'futureMetric', value: '3', unit: 'x' });
  });
});
