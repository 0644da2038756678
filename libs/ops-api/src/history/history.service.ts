import { Inject, Injectable } from '@nestjs/common';
import {
  type Device,
  type DeviceType,
  type Domain,
  type HistoryGroupBy,
  METRIC_CATALOGUE,
  type MetricName,
  type Principal,
  queryableMetricsOf,
} from '@ioc/contracts';
import type { Logger } from '@ioc/runtime';
import {
  type Aggregation,
  InvalidQueryError,
  type Resolution,
  type SeriesPoint,
  type TimeSeriesStore,
} from '@ioc/timeseries';
import type { OpsApiSettings } from '../api-config';
import { badParameter } from '../common/bad-parameter';
import { ScopeService } from '../common/scope.service';
import { whileStoreAnswers } from '../common/store-availability';
import type { RegistryReader } from '../registry-port';
import { DEVICE_REGISTRY, LOGGER, OPS_API_SETTINGS, TIME_SERIES_STORE } from '../tokens';
import { csvLine } from './csv';
import type { HistoryParams } from './history-params';
import { formatInZone, type TimeZoneName, windowOffsetMs } from './time-zones';

const DAY_MS = 86_400_000;

export type GroupBy = HistoryGroupBy;

export interface WindowSpec {
  from?: number;
  to?: number;
  every?: number;
  fn?: Aggregation;
  tz: TimeZoneName;
  resolution: Resolution | 'auto';
}

export interface SeriesRequest {
  metric: MetricName;
  group: { by: GroupBy; key: string };
  deviceIds: string[];
}

export interface SeriesAnswer {
  metric: MetricName;
  unit: string;
  group: { by: GroupBy; key: string };
  devices: number;
  resolution: Resolution;
  points: SeriesPoint[];
}

export interface HistoryAnswer {
  from: number;
  to: number;
  every: number | null;
  fn: Aggregation | null;
  tz: TimeZoneName;
  series: SeriesAnswer[];
}

/**
 * History for operators' charts and open data: one or many devices and metrics, raw or one
 * aggregate per window, from the coarsest stored resolution that answers exactly. Every name
 * that reaches the store has been checked against the registry and the metric catalogue first.
 * Every metric a device can have stored is queryable, status metrics (`online`, `batteryLevel`,
 * `rssi`, `firmwareVersion`) included.
 */
@Injectable()
export class HistoryService {
  constructor(
    @Inject(DEVICE_REGISTRY) private readonly registry: RegistryReader,
    @Inject(TIME_SERIES_STORE) private readonly store: TimeSeriesStore,
    @Inject(OPS_API_SETTINGS) private readonly settings: OpsApiSettings,
    @Inject(LOGGER) private readonly logger: Logger,
    private readonly scope: ScopeService,
  ) {}

  /**
   * Resolves `GET /api/v1/history` parameters into series requests, within the principal's scope:
   * every device, area, domain and type it names must be in scope (403 out-of-scope naming the
   * first that is not), and the selected devices are then narrowed to those the scope holds —
   * before grouping, so no series (groupBy device, area, type or none) aggregates a device
   * outside it. `type=air-quality-station` alone, for an agency of env in one district, is the
   * stations of that district.
   */
  plan(params: HistoryParams, principal: Principal): SeriesRequest[] {
    const devices = this.scope.filterDevices(principal, this.selectDevices(params, principal));
    const requests: SeriesRequest[] = [];
    for (const metric of params.metrics as MetricName[]) {
      const carrying = devices.filter((d) => queryableMetricsOf(d.type).includes(metric));
      if (carrying.length === 0) {
        throw badParameter('metrics', `none of the selected devices reports ${metric}`);
      }
      for (const [key, members] of this.groups(params, carrying)) {
        requests.push({ metric, group: { by: params.groupBy, key }, deviceIds: members.map((d) => d.id) });
      }
    }
    return requests;
  }

  /**
   * Answers the series requests over one window spec. The answer is bounded by
   * IOC_HISTORY_MAX_POINTS (`historyMaxPoints`): points that exist, i.e. raw points or windows
   * that hold data (a store omits empty windows), over all series. The theoretical window count
   * ((to − from) / every per series) is only an upper bound — 12 stations × 1-minute windows over
   * 24 h is 17 280 windows, but after one minute of data the answer is 12 points — so nothing is
   * refused on it: each series asks the store for at most the remaining budget + 1 points (the
   * store stops reading there, so a refused request costs at most that much), and the request is
   * refused with a 400 naming `every` (windowed) or `to` (raw) once the answer would exceed it.
   * While the store does not answer: 503, see whileStoreAnswers.
   */
  async run(requests: SeriesRequest[], window: WindowSpec): Promise<HistoryAnswer> {
    const to = window.to ?? Date.now();
    const from = window.from ?? to - DAY_MS;
    if (from >= to) throw badParameter('from', 'from must be before to');
    const fn = window.fn ?? (window.every !== undefined ? 'mean' : undefined);
    for (const { metric } of requests) {
      const kind = METRIC_CATALOGUE[metric].kind;
      if (fn !== undefined && fn !== 'last' && kind !== 'number' && kind !== 'integer') {
        throw badParameter('fn', `${metric} is not numeric; only fn=last applies to it`);
      }
    }
    const max = this.settings.historyMaxPoints;
    let budget = max;
    const series: SeriesAnswer[] = [];
    for (const request of requests) {
      const result = await whileStoreAnswers(this.store, this.logger, () =>
        this.store.series({
          deviceIds: request.deviceIds,
          metric: request.metric,
          from,
          to,
          ...(window.every !== undefined && fn !== undefined
            ? { everyMs: window.every, fn, offsetMs: windowOffsetMs(window.tz, window.every) }
            : {}),
          resolution: window.resolution,
          limit: budget + 1,
        }),
      ).catch((error: unknown) => {
        if (error instanceof InvalidQueryError) throw badParameter('resolution', error.message);
        throw error;
      });
      if (result.points.length > budget) {
        throw window.every === undefined
          ? badParameter(
              'to',
              `the answer holds more than ${max} points; narrow from/to or aggregate with every=`,
            )
          : badParameter(
              'every',
              `the answer holds more than ${max} points (windows that hold data, over ${requests.length} series); widen every, narrow from/to or ask for fewer series`,
            );
      }
      budget -= result.points.length;
      series.push({
        metric: request.metric,
        unit: METRIC_CATALOGUE[request.metric].unit,
        group: request.group,
        devices: request.deviceIds.length,
        resolution: result.resolution,
        points: result.points,
      });
    }
    return { from, to, every: window.every ?? null, fn: fn ?? null, tz: window.tz, series };
  }

  toCsv(answer: HistoryAnswer): string {
    let csv = csvLine([
      'metric',
      'unit',
      'group_by',
      'group',
      'resolution',
      'time',
      'ts',
      'value',
      'count',
      'device',
      'event',
    ]);
    for (const s of answer.series) {
      for (const p of s.points) {
        csv += csvLine([
          s.metric,
          s.unit,
          s.group.by,
          s.group.key,
          s.resolution,
          formatInZone(p.ts, answer.tz),
          p.ts,
          p.value,
          p.count,
          // A raw point names its device; a window of a series grouped by device is that device's.
          p.deviceId ?? (s.group.by === 'device' ? s.group.key : undefined),
          eventOf(p),
        ]);
      }
    }
    return csv;
  }

  /**
   * Every given filter applies (devices, areas, type, domain), so naming several narrows the
   * choice. Each named one is checked against the principal's scope (see plan).
   */
  private selectDevices(params: HistoryParams, principal: Principal): Device[] {
    if (params.domain !== undefined) this.scope.assertDomain(principal, params.domain as Domain);
    if (params.type !== undefined) this.scope.assertType(principal, params.type as DeviceType);
    let devices = params.devices
      ? params.devices.map((id) => {
          const device = this.registry.getDevice(id);
          if (!device) throw badParameter('devices', `unknown device "${id}"`);
          return this.scope.assertDevice(principal, device);
        })
      : this.registry.listDevices({});
    for (const area of params.areas ?? []) {
      if (!this.registry.getArea(area)) throw badParameter('areas', `unknown area "${area.slice(0, 64)}"`);
      this.scope.assertArea(principal, area);
    }
    if (params.areas) {
      const inAreas = new Set(params.areas.flatMap((area) => this.devicesIn(area).map((d) => d.id)));
      devices = devices.filter((d) => inAreas.has(d.id));
    }
    return devices.filter(
      (d) =>
        (params.type === undefined || d.type === (params.type as DeviceType)) &&
        (params.domain === undefined || d.domain === (params.domain as Domain)),
    );
  }

  private devicesIn(area: string): Device[] {
    if (!this.registry.getArea(area)) throw badParameter('areas', `unknown area "${area.slice(0, 64)}"`);
    return this.registry.listDevices({ areaId: area });
  }

  private groups(params: HistoryParams, devices: Device[]): Array<[string, Device[]]> {
    switch (params.groupBy) {
      case 'device':
        return devices.map((d) => [d.id, [d]]);
      case 'none':
        return [['all', devices]];
      case 'type': {
        const byType = new Map<string, Device[]>();
        for (const d of devices) byType.set(d.type, [...(byType.get(d.type) ?? []), d]);
        return [...byType.entries()];
      }
      case 'area': {
        const ids = new Set(devices.map((d) => d.id));
        return (params.areas ?? [])
          .map((area): [string, Device[]] => [area, this.devicesIn(area).filter((d) => ids.has(d.id))])
          .filter(([, members]) => members.length > 0);
      }
    }
  }
}

/**
 * Which camera event (`accident`, `wrongWay`, …; Reading.event) a stored value came from, when
 * the store returns it with the point; undefined otherwise.
 */
export function eventOf(point: object): string | undefined {
  const event = (point as { event?: unknown }).event;
  return typeof event === 'string' ? event : undefined;
}
