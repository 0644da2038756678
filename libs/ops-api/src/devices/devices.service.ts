import { BadRequestException, Inject, Injectable, NotFoundException } from '@nestjs/common';
import {
  type Device,
  type DeviceType,
  type Domain,
  METRIC_CATALOGUE,
  type MetricDefinition,
  STATUS_METRICS,
  isMetricName,
  metricsOf,
} from '@ioc/contracts';
import type { HistoryPoint, LatestValue, TimeSeriesStore } from '@ioc/storage';
import type { OpsApiSettings } from '../api-config';
import type { RegistryReader } from '../registry-port';
import { DEVICE_REGISTRY, OPS_API_SETTINGS, TIME_SERIES_STORE } from '../tokens';
import type { DeviceListQuery, HistoryQueryParams } from './device-queries';

const DAY_MS = 86_400_000;

export interface LatestResponse {
  deviceId: string;
  lastSeen: number | null;
  metrics: Record<string, LatestValue & { unit: string }>;
}

export interface HistoryResponse {
  deviceId: string;
  metric: string;
  unit: string;
  from: number;
  to: number;
  every: number | null;
  fn: string | null;
  points: HistoryPoint[];
}

@Injectable()
export class DevicesService {
  constructor(
    @Inject(DEVICE_REGISTRY) private readonly registry: RegistryReader,
    @Inject(TIME_SERIES_STORE) private readonly store: TimeSeriesStore,
    @Inject(OPS_API_SETTINGS) private readonly settings: OpsApiSettings,
  ) {}

  list(query: DeviceListQuery): { total: number; items: Device[] } {
    if (query.area !== undefined && !this.registry.getArea(query.area)) {
      throw new BadRequestException({
        statusCode: 400,
        error: 'Bad Request',
        message: `Invalid parameter "area": unknown area "${query.area.slice(0, 64)}"`,
        parameter: 'area',
      });
    }
    const all = this.registry.listDevices({
      ...(query.domain ? { domain: query.domain as Domain } : {}),
      ...(query.type ? { type: query.type as DeviceType } : {}),
      ...(query.area ? { areaId: query.area } : {}),
    });
    return { total: all.length, items: all.slice(query.offset, query.offset + query.limit) };
  }

  get(id: string): Device & { areaPath: readonly string[] } {
    const device = this.registry.getDevice(id);
    if (!device)
      throw new NotFoundException({
        statusCode: 404,
        error: 'Not Found',
        message: `No device "${id.slice(0, 64)}"`,
      });
    return { ...device, areaPath: this.registry.areaPath(device.areaId) };
  }

  async latest(id: string): Promise<LatestResponse> {
    const device = this.get(id);
    const metrics = [...new Set<string>([...metricsOf(device.type), ...STATUS_METRICS])];
    const values = await this.store.latest(device.id, metrics);
    const withUnits = Object.fromEntries(
      Object.entries(values).map(([name, v]) => [name, { ...v, unit: unitOf(name) }]),
    );
    const lastSeen = Object.values(values).reduce<number | null>(
      (max, v) => (max === null || v.ts > max ? v.ts : max),
      null,
    );
    return { deviceId: device.id, lastSeen, metrics: withUnits };
  }

  async history(id: string, query: HistoryQueryParams): Promise<HistoryResponse> {
    const device = this.get(id);
    const metric = query.metric;
    if (!isMetricName(metric) || !metricsOf(device.type).includes(metric)) {
      throw badParameter(
        'metric',
        `a ${device.type} has no metric "${metric.slice(0, 64)}"; it has ${metricsOf(device.type).join(', ')}`,
      );
    }
    const to = query.to ?? Date.now();
    const from = query.from ?? to - DAY_MS;
    if (from >= to) throw badParameter('from', 'from must be before to');
    const definition: MetricDefinition = METRIC_CATALOGUE[metric];
    const fn = query.fn ?? (query.every !== undefined ? 'mean' : undefined);
    const numeric = definition.kind === 'number' || definition.kind === 'integer';
    if (fn !== undefined && fn !== 'last' && !numeric) {
      throw badParameter('fn', `${metric} is not numeric; only fn=last applies to it`);
    }
    const limit = this.settings.historyMaxPoints;
    if (query.every !== undefined && Math.ceil((to - from) / query.every) > limit) {
      throw badParameter(
        'every',
        `${Math.ceil((to - from) / query.every)} windows exceed the limit of ${limit} points; widen every or narrow from/to`,
      );
    }
    const points = await this.store.history({
      deviceId: device.id,
      metric,
      from,
      to,
      ...(query.every !== undefined && fn !== undefined ? { everyMs: query.every, fn } : {}),
      limit: limit + 1,
    });
    if (points.length > limit) {
      throw badParameter(
        'to',
        `more than ${limit} raw points in [from, to); narrow the window or aggregate with every=`,
      );
    }
    return {
      deviceId: device.id,
      metric,
      unit: definition.unit,
      from,
      to,
      every: query.every ?? null,
      fn: fn ?? null,
      points,
    };
  }
}

function unitOf(metric: string): string {
  return isMetricName(metric) ? METRIC_CATALOGUE[metric].unit : '';
}

function badParameter(parameter: string, detail: string): BadRequestException {
  return new BadRequestException({
    statusCode: 400,
    error: 'Bad Request',
    message: `Invalid parameter "${parameter}": ${detail}`,
    parameter,
  });
}
