import { mapDevice } from '../test-devices';
import { markerLabel, severityBadge, tooltipLines } from './marker-text';

const station = mapDevice({
  id: 'aq-1',
  name: 'Trạm Hòa Thành',
  domain: 'env',
  type: 'air-quality-station',
  aqi: { value: 172.4, band: 'bad' },
});

describe('marker texts', () => {
  it('names the device, its state and its AQI with the band name (colour never alone)', () => {
    expect(markerLabel(station, 'vi')).toBe('Trạm Hòa Thành, Trực tuyến, AQI 172 (Xấu)');
    expect(markerLabel(station, 'en')).toBe('Trạm Hòa Thành, Online, AQI 172 (Bad)');
  });

  it('adds the severity of an alerting device', () => {
    const alerting = { ...station, state: 'alerting' as const, alertSeverity: 'critical' as const, aqi: null };
    expect(markerLabel(alerting, 'vi')).toBe('Trạm Hòa Thành, Đang cảnh báo, Mức Nghiêm trọng');
    expect(severityBadge(alerting)).toBe('!!!');
    expect(severityBadge({ ...alerting, alertSeverity: 'warning' })).toBe('!!');
  });

  it('tooltip: name, type and id, state, then AQI or the main value with its unit', () => {
    expect(tooltipLines(station, 'vi')).toEqual([
      'Trạm Hòa Thành',
      'Trạm quan trắc không khí · Mã: aq-1',
      'Trực tuyến',
      'AQI 172 (Xấu)',
    ]);
    const counter = mapDevice({
      id: 'tc-1',
      domain: 'traffic',
      type: 'traffic-counter',
      state: 'offline',
      main: { metric: 'intensity', value: 1234.5, unit: 'xe/h' },
    });
    expect(tooltipLines(counter, 'vi').slice(2)).toEqual(['Mất kết nối', 'Lưu lượng xe: 1.234,5 xe/h']);
    expect(tooltipLines(counter, 'en').slice(2)).toEqual(['Offline', 'Traffic volume: 1,234.5 xe/h']);
  });
});
