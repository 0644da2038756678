import type { AlertBody, AlertEvent } from '@ioc/contracts';
import { alertRowFromBody, alertRowFromEvent, alertRowValueText, mergeAlertRow } from './device-alerts';

const body = (id: string, pendingAt: string, state: AlertBody['state'] = 'firing'): AlertBody => ({
  id,
  ruleId: 'r',
  ruleVersion: 1,
  ruleKind: 'threshold',
  subjectKind: 'device',
  subjectId: 'd1',
  deviceId: 'd1',
  deviceType: 'air-quality-station',
  domain: 'env',
  areaId: 'a',
  areaPath: ['a'],
  metric: 'pm25',
  event: null,
  severity: 'warning',
  state,
  value: 80,
  limit: 50,
  unit: 'µg/m³',
  message: { vi: '<img src=x onerror=alert(1)>', en: 'PM2.5 high' },
  pendingAt,
  firingAt: pendingAt,
  acknowledgedAt: null,
  acknowledgedBy: null,
  acknowledgementNote: null,
  resolvedAt: null,
  resolvedBy: null,
  resolution: null,
  updatedAt: pendingAt,
  version: 2,
});

describe('recent alerts of a device', () => {
  it('reads REST alerts and live events as the same rows', () => {
    const row = alertRowFromBody(body('al1', '2026-11-30T07:00:00.000Z'));
    expect(row).toMatchObject({
      id: 'al1',
      state: 'firing',
      startedAt: Date.UTC(2026, 10, 30, 7),
      version: 2,
    });
    const b = body('al1', '2026-11-30T07:00:00.000Z', 'acknowledged');
    const event = {
      alert: {
        ...b,
        pendingAt: Date.UTC(2026, 10, 30, 7),
        firingAt: null,
        acknowledgedAt: null,
        resolvedAt: null,
        updatedAt: Date.UTC(2026, 10, 30, 7, 5),
      },
      transition: {},
    } as unknown as AlertEvent;
    const live = alertRowFromEvent(event);
    expect(live).toMatchObject({ id: 'al1', state: 'acknowledged', startedAt: row.startedAt });
    const merged = mergeAlertRow([row], live);
    expect(merged).toHaveLength(1);
    expect(merged[0].state).toBe('acknowledged');
    // an older copy does not undo a newer one
    expect(mergeAlertRow(merged, row)).toBe(merged);
  });

  it('lists newest first and keeps at most ten', () => {
    let rows = mergeAlertRow([], alertRowFromBody(body('first', '2026-11-30T07:00:00.000Z')));
    for (let i = 1; i <= 11; i++) {
      rows = mergeAlertRow(
        rows,
        alertRowFromBody(body(`a${i}`, new Date(Date.UTC(2026, 10, 30, 7, i)).toISOString())),
      );
    }
    expect(rows).toHaveLength(10);
    expect(rows[0].id).toBe('a11');
    expect(rows.map((r) => r.id)).not.toContain('first');
  });
});

describe('an alert row’s value', () => {
  it('is labelled as the latest value (it may differ from the number in the message)', () => {
    const row = alertRowFromBody({ ...body('al1', '2026-11-30T07:00:00.000Z', 'resolved'), value: 42.5 });
    expect(alertRowValueText(row, 'vi')).toBe('giá trị gần nhất: 42,5 µg/m³');
    expect(alertRowValueText(row, 'en')).toBe('latest value: 42.5 µg/m³');
    expect(alertRowValueText({ ...row, value: null }, 'vi')).toBeNull();
  });
});
