import { Inject, Injectable } from '@nestjs/common';
import {
  type Device,
  type DeviceStatusEntryBody,
  type DeviceStatusHistoryBody,
  type DeviceStatusListBody,
  type DeviceType,
  type Domain,
  isMetricName,
  METRIC_CATALOGUE,
  type Principal,
  queryableMetricsOf,
} from '@ioc/contracts';
import { type DeviceStatusReader, toDeviceStatus } from '@ioc/registry';
import type { Logger } from '@ioc/runtime';
import type { LatestValue, TimeSeriesStore } from '@ioc/timeseries';
import { badParameter } from '../common/bad-parameter';
import { ScopeService } from '../common/scope.service';
import { whileStoreAnswers } from '../common/store-availability';
import type { RegistryReader } from '../registry-port';
import { DEVICE_REGISTRY, DEVICE_STATUS, LOGGER, TIME_SERIES_STORE } from '../tokens';
import type { DeviceStatusHistoryQuery, DeviceStatusListQuery } from './device-status-queries';

const DAY_MS = 86_400_000;
/**
 * Above this many devices the statuses are read whole (one query) rather than by IN lists of
 * 500 ids (DeviceStatusRepository.latestOf), then filtered here.
 */
const READ_ALL_STATUSES_ABOVE = 500;

/** Every device's status with its latest values (a map's first paint), and one device's status history. */
@Injectable()
export class DeviceStatusService {
  constructor(
    @Inject(DEVICE_REGISTRY) private readonly registry: RegistryReader,
    @Inject(TIME_SERIES_STORE) private readonly store: TimeSeriesStore,
    @Inject(DEVICE_STATUS) private readonly statuses: DeviceStatusReader,
    @Inject(LOGGER) private readonly logger: Logger,
    private readonly scope: ScopeService,
  ) {}

  /**
   * The matching devices with their status and the latest value of each of their metrics: one
   * status query and one latestOfDevices() per device type present (≤ 9), never one per device.
   * Only the devices the principal's scope holds; a domain, type or area filter outside it is a
   * 403 out-of-scope naming it. 400 naming `area` for an unknown area; 503
   * (`storage-unavailable`) while the store does not answer.
   */
  async list(query: DeviceStatusListQuery, principal: Principal): Promise<DeviceStatusListBody> {
    if (query.area !== undefined && !this.registry.getArea(query.area)) {
      throw badParameter('area', `unknown area "${query.area.slice(0, 64)}"`);
    }
    this.scope.assertFilters(principal, query);
    const devices = this.scope.filterDevices(
      principal,
      this.registry.listDevices({
        ...(query.domain ? { domain: query.domain as Domain } : {}),
        ...(query.type ? { type: query.type as DeviceType } : {}),
        ...(query.area ? { areaId: query.area } : {}),
      }),
    );
    const ids = devices.map((d) => d.id);
    const [statuses, latest] = await Promise.all([
      this.statuses.latestOf(ids.length > READ_ALL_STATUSES_ABOVE ? undefined : ids),
      whileStoreAnswers(this.store, this.logger, () => this.latestByType(devices)),
    ]);
    let online = 0;
    const items = devices.map((device): DeviceStatusEntryBody => {
      const { deviceId: _id, ...status } = toDeviceStatus(device.id, statuses.get(device.id));
      if (status.status === 'online') online++;
      return {
        id: device.id,
        type: device.type,
        domain: device.domain,
        name: device.name,
        areaId: device.areaId,
        location: device.location,
        state: device.state ?? 'active',
        status,
        metrics: metricsBody(latest.get(device.id)),
      };
    });
    return { total: items.length, online, items };
  }

  /**
   * The device's status changes in [from, to) (default: the last 24 h), oldest first. 404 for an
   * unknown device, 403 out-of-scope for a device outside the principal's scope.
   */
  async history(
    id: string,
    query: DeviceStatusHistoryQuery,
    principal: Principal,
  ): Promise<DeviceStatusHistoryBody> {
    const device = this.scope.assertDevice(principal, id);
    const to = query.to ?? Date.now();
    const from = query.from ?? to - DAY_MS;
    if (from >= to) throw badParameter('from', 'from must be before to');
    const changes = await this.statuses.historyOf(device.id, from, to, query.limit);
    return {
      deviceId: device.id,
      from,
      to,
      changes: changes.map((c) => ({ status: c.status, reason: c.reason, at: new Date(c.at).toISOString() })),
    };
  }

  private async latestByType(devices: readonly Device[]): Promise<Map<string, Record<string, LatestValue>>> {
    const byType = new Map<DeviceType, string[]>();
    for (const device of devices) {
      const ids = byType.get(device.type);
      if (ids) ids.push(device.id);
      else byType.set(device.type, [device.id]);
    }
    const answers = await Promise.all(
      [...byType].map(([type, ids]) => this.store.latestOfDevices(ids, queryableMetricsOf(type))),
    );
    const merged = new Map<string, Record<string, LatestValue>>();
    for (const answer of answers) for (const [id, values] of answer) merged.set(id, values);
    return merged;
  }
}

function metricsBody(values: Record<string, LatestValue> | undefined): DeviceStatusEntryBody['metrics'] {
  const metrics: DeviceStatusEntryBody['metrics'] = {};
  if (values === undefined) return metrics;
  for (const [name, latest] of Object.entries(values)) {
    metrics[name] = {
      value: latest.value,
      ts: latest.ts,
      unit: isMetricName(name) ? METRIC_CATALOGUE[name].unit : '',
      ...(latest.event === undefined ? {} : { event: latest.event }),
    };
  }
  return metrics;
}
