import { Inject, Injectable, NotFoundException } from '@nestjs/common';
import {
  type Device,
  type DeviceType,
  type Domain,
  METRIC_CATALOGUE,
  STATUS_METRICS,
  isMetricName,
  metricsOf,
} from '@ioc/contracts';
import type { HistoryPoint, LatestValue, Resolution, TimeSeriesStore } from '@ioc/timeseries';
import { badParameter } from '../common/bad-parameter';
import type { DeviceHistoryParams } from '../history/history-params';
import { type HistoryAnswer, HistoryService, type SeriesAnswer } from '../history/history.service';
import type { RegistryReader } from '../registry-port';
import { DEVICE_REGISTRY, TIME_SERIES_STORE } from '../tokens';
import type { DeviceListQuery } from './device-queries';

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
  tz: string;
  /** The stored resolution the points were computed from (raw, 1m or 1h rollups). */
  resolution: Resolution;
  points: HistoryPoint[];
  /** The same answer in the multi-series shape (for CSV rendering). */
  answer: HistoryAnswer;
}

@Injectable()
export class DevicesService {
  constructor(
    @Inject(DEVICE_REGISTRY) private readonly registry: RegistryReader,
    @Inject(TIME_SERIES_STORE) private readonly store: TimeSeriesStore,
    private readonly history$: HistoryService,
  ) {}

  list(query: DeviceListQuery): { total: number; items: Device[] } {
    if (query.area !== undefined && !this.registry.getArea(query.area)) {
      throw badParameter('area', `unknown area "${query.area.slice(0, 64)}"`);
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

  /** One metric of one device; the shape of HistoryService's answer narrowed to that series. */
  async history(id: string, params: DeviceHistoryParams): Promise<HistoryResponse> {
    const device = this.get(id);
    const metric = params.metric;
    if (!isMetricName(metric) || !metricsOf(device.type).includes(metric)) {
      throw badParameter(
        'metric',
        `a ${device.type} has no metric "${metric.slice(0, 64)}"; it has ${metricsOf(device.type).join(', ')}`,
      );
    }
    const answer = await this.history$.run(
      [{ metric, group: { by: 'device', key: device.id }, deviceIds: [device.id] }],
      params,
    );
    const series = answer.series[0] as SeriesAnswer;
    return {
      deviceId: device.id,
      metric,
      unit: series.unit,
      from: answer.from,
      to: answer.to,
      every: answer.every,
      fn: answer.fn,
      tz: answer.tz,
      resolution: series.resolution,
      points: series.points.map(({ ts, value }) => ({ ts, value })),
      answer,
    };
  }
}

function unitOf(metric: string): string {
  return isMetricName(metric) ? METRIC_CATALOGUE[metric].unit : '';
}
