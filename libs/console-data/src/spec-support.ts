import type {
  AlertBody,
  AlertEvent,
  DeviceStatusEntryBody,
  DeviceStatusListBody,
  Reading,
} from '@ioc/contracts';

/*
 * Small builders for the console-data specs: REST and live shapes as the contracts type them,
 * with only what a test varies given.
 */

export function statusEntry(
  id: string,
  over: Partial<Omit<DeviceStatusEntryBody, 'status'>> & {
    status?: Partial<DeviceStatusEntryBody['status']>;
  } = {},
): DeviceStatusEntryBody {
  const { status, ...rest } = over;
  return {
    id,
    name: `Device ${id}`,
    type: 'air-quality-station',
    domain: 'env',
    areaId: 'tan-ninh',
    location: { lat: 11.31, lon: 106.1 },
    state: 'active',
    metrics: {},
    ...rest,
    status: {
      status: 'online',
      reason: 'connected',
      since: '2026-11-30T07:00:00.000Z',
      lastSeen: '2026-11-30T07:00:00.000Z',
      clockSuspect: false,
      ...status,
    },
  } as DeviceStatusEntryBody;
}

export function statusList(...items: DeviceStatusEntryBody[]): DeviceStatusListBody {
  return { total: items.length, online: items.filter((i) => i.status.status === 'online').length, items };
}

export function reading(deviceId: string, ts: number, metrics: Reading['metrics']): Reading {
  return {
    deviceId,
    deviceType: 'air-quality-station',
    domain: 'env',
    kind: 'telemetry',
    areaId: 'tan-ninh',
    areaPath: ['tay-ninh', 'tan-ninh'],
    location: { lat: 11.31, lon: 106.1 },
    ts,
    metrics,
  } as Reading;
}

const T0 = Date.UTC(2026, 10, 30, 7, 0, 0);

export function alertBody(id: string, over: Partial<AlertBody> = {}): AlertBody {
  return {
    id,
    ruleId: 'pm25-high',
    ruleVersion: 1,
    ruleKind: 'threshold',
    subjectKind: 'device',
    subjectId: 'aq-1',
    deviceId: 'aq-1',
    deviceType: 'air-quality-station',
    domain: 'env',
    areaId: 'tan-ninh',
    areaPath: ['tay-ninh', 'tan-ninh'],
    metric: 'pm25',
    event: null,
    severity: 'warning',
    state: 'firing',
    value: 80,
    limit: 50,
    unit: 'µg/m³',
    message: { vi: 'PM2.5 cao', en: 'PM2.5 high' },
    pendingAt: new Date(T0).toISOString(),
    firingAt: new Date(T0 + 60_000).toISOString(),
    acknowledgedAt: null,
    acknowledgedBy: null,
    acknowledgementNote: null,
    resolvedAt: null,
    resolvedBy: null,
    resolution: null,
    updatedAt: new Date(T0 + 60_000).toISOString(),
    version: 2,
    ...over,
  };
}

/** The live event of an alert body's state (epoch ms times, no version). */
export function alertEvent(body: AlertBody, seq = 2): AlertEvent {
  const { version: _version, ...rest } = body;
  const ms = (iso: string | null) => (iso === null ? null : Date.parse(iso));
  const alert = {
    ...rest,
    pendingAt: Date.parse(body.pendingAt),
    firingAt: ms(body.firingAt),
    acknowledgedAt: ms(body.acknowledgedAt),
    resolvedAt: ms(body.resolvedAt),
    updatedAt: Date.parse(body.updatedAt),
  } as AlertEvent['alert'];
  return {
    alert,
    transition: {
      alertId: body.id,
      seq,
      at: alert.updatedAt,
      from: null,
      to: body.state,
      kind: body.state === 'resolved' ? 'resolved' : body.state === 'firing' ? 'fired' : 'opened',
      severity: body.severity,
      value: body.value,
      by: { kind: 'engine' },
      note: null,
      resolution: body.resolution,
    } as AlertEvent['transition'],
  };
}

export { T0 };
