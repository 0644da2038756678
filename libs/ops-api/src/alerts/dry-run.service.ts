import { Inject, Injectable } from '@nestjs/common';
import { AlertEngine, type EngineDevice, type EngineDirectory } from '@ioc/alert-engine';
import { AlertingError, parseRule } from '@ioc/alerting';
import { aqiValueBand } from '@ioc/aqi';
import {
  DEVICE_TYPE_CONTRACTS,
  type Device,
  type Principal,
  type Reading,
  type RuleDefinition,
  type RuleDryRunBody,
  silenceTimeoutSecondsOf,
} from '@ioc/contracts';
import type { Logger } from '@ioc/runtime';
import type { TimeSeriesStore } from '@ioc/timeseries';
import { repositoryHttpError } from '../common/registry-errors';
import { ScopeService } from '../common/scope.service';
import { whileStoreAnswers } from '../common/store-availability';
import type { RegistryReader } from '../registry-port';
import { DEVICE_REGISTRY, LOGGER, TIME_SERIES_STORE } from '../tokens';

/** Most raw points a dry run reads per device (a 7-day window of 1-minute noise data is 10,080). */
export const DRY_RUN_POINTS_PER_DEVICE = 20_000;
/** Most raw points a dry run reads in all. */
export const DRY_RUN_POINTS_TOTAL = 500_000;

/**
 * `POST /rules/dry-run`: which devices a rule covers and what it would have fired over a past
 * window, read from history. The rule is evaluated by `@ioc/alert-engine`'s `dryRun` (the same
 * code the broker runs) over a directory of the devices in the caller's scope only, so neither the
 * coverage nor an area aggregate reveals devices outside it. Each covered device's history of the
 * metric the rule reads is fetched raw (telemetry; `online` for status rules; the event's first
 * required metric for event rules without one) and replayed in time order.
 */
@Injectable()
export class DryRunService {
  constructor(
    @Inject(DEVICE_REGISTRY) private readonly registry: RegistryReader,
    @Inject(TIME_SERIES_STORE) private readonly store: TimeSeriesStore,
    @Inject(LOGGER) private readonly logger: Logger,
    private readonly scope: ScopeService,
  ) {}

  /** @throws 400 naming `rule.<field>`; 503 storage-unavailable */
  async run(principal: Principal, input: unknown, from: number, to: number): Promise<RuleDryRunBody> {
    let rule: RuleDefinition;
    try {
      rule = parseRule(input, { deviceType: (id) => this.registry.getDevice(id)?.type });
    } catch (error) {
      if (!(error instanceof AlertingError)) throw error;
      throw repositoryHttpError(
        error.code,
        `rule.${error.message}`,
        error.field === undefined ? 'rule' : `rule.${error.field}`,
      );
    }
    const devices = this.scope.filterDevices(principal, this.registry.listDevices({}));
    const engine = new AlertEngine({ directory: this.directory(devices), valueBand: aqiValueBand });
    const { covered } = engine.dryRun(rule, []);
    let truncated = false;
    let total = 0;
    const readings: Reading[] = [];
    for (const id of covered) {
      const device = this.registry.getDevice(id);
      if (!device) continue;
      const metric = metricRead(rule, device);
      if (metric === undefined) continue;
      const limit = Math.min(DRY_RUN_POINTS_PER_DEVICE, DRY_RUN_POINTS_TOTAL - total);
      if (limit <= 0) {
        truncated = true;
        break;
      }
      const points = await whileStoreAnswers(this.store, this.logger, () =>
        this.store.history({ deviceId: id, metric, from, to, limit }),
      );
      if (points.length >= limit) truncated = true;
      total += points.length;
      const areaPath = [...this.registry.areaPath(device.areaId)];
      for (const point of points) {
        if (rule.kind === 'event' && point.event !== rule.event) continue;
        readings.push({
          deviceId: id,
          deviceType: device.type,
          domain: device.domain,
          kind: rule.kind === 'status' ? 'status' : rule.kind === 'event' ? 'event' : 'telemetry',
          areaId: device.areaId,
          areaPath,
          location: device.location,
          ts: point.ts,
          ...(point.event === undefined ? {} : { event: point.event }),
          metrics: { [metric]: point.value },
        });
      }
    }
    readings.sort((a, b) => a.ts - b.ts);
    const result = engine.dryRun(rule, readings);
    return {
      covered: result.covered,
      readings: readings.length,
      truncated,
      changes: result.changes.map(({ alert, transition }) => ({
        alertId: alert.id,
        subjectId: alert.subjectId,
        kind: transition.kind,
        from: transition.from,
        to: transition.to,
        at: new Date(transition.at).toISOString(),
        severity: transition.severity,
        value: transition.value,
        resolution: transition.resolution,
        message: alert.message,
      })),
    };
  }

  private directory(devices: readonly Device[]): EngineDirectory {
    const byId = new Map<string, EngineDevice>();
    for (const d of devices) {
      byId.set(d.id, {
        id: d.id,
        type: d.type,
        domain: d.domain,
        name: d.name,
        areaId: d.areaId,
        areaPath: this.registry.areaPath(d.areaId),
        attributes: d.attributes ?? {},
        silenceTimeoutSeconds: silenceTimeoutSecondsOf(d),
        reportingIntervalSeconds: DEVICE_TYPE_CONTRACTS[d.type].reportingIntervalSeconds,
      });
    }
    return {
      device: (id) => byId.get(id),
      area: (id) => {
        const area = this.registry.getArea(id);
        return area ? { id: area.id, name: area.name, path: this.registry.areaPath(id) } : undefined;
      },
      devices: () => byId.values(),
    };
  }
}

/** The metric whose history a dry run replays for `device`, or undefined when it has none. */
function metricRead(rule: RuleDefinition, device: Device): string | undefined {
  switch (rule.kind) {
    case 'threshold':
    case 'areaAggregate':
      return rule.metric;
    case 'status':
      return 'online';
    case 'event': {
      if (rule.metric !== undefined) return rule.metric;
      const events = DEVICE_TYPE_CONTRACTS[device.type].events as Record<
        string,
        { required: readonly string[] }
      >;
      return events[rule.event]?.required[0];
    }
    case 'noData':
      return DEVICE_TYPE_CONTRACTS[device.type].telemetry.required[0];
  }
}
