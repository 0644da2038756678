import { Inject, Injectable } from '@nestjs/common';
import {
  type Device,
  type DeviceDetailBody,
  type DeviceHistoryBody,
  type DeviceListBody,
  type DeviceType,
  derivedMetricsOf,
  type Domain,
  isMetricName,
  type LatestBody,
  METRIC_CATALOGUE,
  type Principal,
  queryableMetricsOf,
} from '@ioc/contracts';
import type { Logger } from '@ioc/runtime';
import type { TimeSeriesStore } from '@ioc/timeseries';
import { badParameter } from '../common/bad-parameter';
import { ScopeService } from '../common/scope.service';
import { whileStoreAnswers } from '../common/store-availability';
import type { DeviceHistoryParams } from '../history/history-params';
import { eventOf, type HistoryAnswer, HistoryService, type SeriesAnswer } from '../history/history.service';
import type { RegistryReader } from '../registry-port';
import { DEVICE_REGISTRY, LOGGER, TIME_SERIES_STORE } from '../tokens';
import type { DeviceListQuery } from './device-queries';
import { deviceNotFound } from '../common/not-found';

/** One device's history (the contracts' DeviceHistoryBody) and the same answer for CSV rendering. */
export interface DeviceHistoryAnswer {
  body: DeviceHistoryBody;
  /** The same answer in the multi-series shape (for CSV rendering). */
  answer: HistoryAnswer;
}

/** Registered devices, their latest values and the history of one of their metrics. */
@Injectable()
export class DevicesService {
  constructor(
    @Inject(DEVICE_REGISTRY) private readonly registry: RegistryReader,
    @Inject(TIME_SERIES_STORE) private readonly store: TimeSeriesStore,
    private readonly history$: HistoryService,
    @Inject(LOGGER) private readonly logger: Logger,
    private readonly scope: ScopeService,
  ) {}

  /** One page of `matching`. */
  list(query: DeviceListQuery, principal: Principal): DeviceListBody {
    const all = this.matching(query, principal);
    return { total: all.length, items: all.slice(query.offset, query.offset + query.limit) };
  }

  /**
   * Every device matching the filters, by id: domain, type, area (with its sub-areas), state (a
   * device without one is active) and `q`, a case-insensitive substring of the id or the name
   * (compared in NFC, lower-cased with Unicode rules, so "đèn" finds "Đèn") — within the
   * principal's scope: only devices it holds, and a domain, type or area filter outside it is a
   * 403 out-of-scope naming it (ScopeService).
   */
  matching(
    query: Pick<DeviceListQuery, 'domain' | 'type' | 'area' | 'state' | 'q'>,
    principal: Principal,
  ): Device[] {
    if (query.area !== undefined && !this.registry.getArea(query.area)) {
      throw badParameter('area', `unknown area "${query.area.slice(0, 64)}"`);
    }
    this.scope.assertFilters(principal, query);
    const needle = query.q === undefined ? undefined : fold(query.q);
    const devices = this.registry
      .listDevices({
        ...(query.domain ? { domain: query.domain as Domain } : {}),
        ...(query.type ? { type: query.type as DeviceType } : {}),
        ...(query.area ? { areaId: query.area } : {}),
      })
      .filter(
        (device) =>
          (query.state === undefined || (device.state ?? 'active') === query.state) &&
          (needle === undefined || fold(device.id).includes(needle) || fold(device.name).includes(needle)),
      )
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    return this.scope.filterDevices(principal, devices);
  }

  get(id: string): DeviceDetailBody {
    const device = this.registry.getDevice(id);
    if (!device) throw deviceNotFound(id);
    return { ...device, areaPath: [...this.registry.areaPath(device.areaId)] };
  }

  /**
   * The latest value of every metric the device can have stored (telemetry, events, status),
   * with its unit and, for a camera event, which event it was. 404 for an unknown device; 503
   * (`reason: storage-unavailable`) while the store does not answer.
   */
  async latest(id: string): Promise<LatestBody> {
    const device = this.get(id);
    const values = await whileStoreAnswers(this.store, this.logger, () =>
      this.store.latest(device.id, queryableMetricsOf(device.type)),
    );
    const metrics: LatestBody['metrics'] = {};
    let lastSeen: number | null = null;
    // A derived metric (the hourly VN_AQI, stamped at the hour's end) is no sign of the device.
    const derived = new Set<string>(derivedMetricsOf(device.type));
    for (const [name, latest] of Object.entries(values)) {
      const event = eventOf(latest);
      metrics[name] = {
        value: latest.value,
        ts: latest.ts,
        unit: unitOf(name),
        ...(event === undefined ? {} : { event }),
      };
      if (!derived.has(name) && (lastSeen === null || latest.ts > lastSeen)) lastSeen = latest.ts;
    }
    return { deviceId: device.id, lastSeen, metrics };
  }

  /**
   * One metric of one device, status metrics included; the shape of HistoryService's answer
   * narrowed to that series. 400 naming `metric` for a metric the device cannot have.
   */
  async history(id: string, params: DeviceHistoryParams): Promise<DeviceHistoryAnswer> {
    const device = this.get(id);
    const metric = params.metric;
    const queryable = queryableMetricsOf(device.type);
    if (!isMetricName(metric) || !queryable.includes(metric)) {
      throw badParameter(
        'metric',
        `a ${device.type} has no metric ${JSON.stringify(metric.slice(0, 64))}; it has ${queryable.join(', ')}`,
      );
    }
    const answer = await this.history$.run(
      [{ metric, group: { by: 'device', key: device.id }, deviceIds: [device.id] }],
      params,
    );
    const series = answer.series[0] as SeriesAnswer;
    return {
      body: {
        deviceId: device.id,
        metric,
        unit: series.unit,
        from: answer.from,
        to: answer.to,
        every: answer.every,
        fn: answer.fn,
        tz: answer.tz,
        resolution: series.resolution,
        points: series.points.map((point) => {
          const event = eventOf(point);
          return { ts: point.ts, value: point.value, ...(event === undefined ? {} : { event }) };
        }),
      },
      answer,
    };
  }
}

function fold(text: string): string {
  return text.normalize('NFC').toLowerCase();
}

function unitOf(metric: string): string {
  return isMetricName(metric) ? METRIC_CATALOGUE[metric].unit : '';
}
