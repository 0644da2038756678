import { Inject, Injectable, ServiceUnavailableException } from '@nestjs/common';
import { AlertingError, type RuleCheckContext } from '@ioc/alerting';
import {
  type Alert,
  type AlertEvent,
  domainOf,
  type OutOfScope,
  type Principal,
  type RuleDefinition,
  scopeHoldsArea,
} from '@ioc/contracts';
import type { Logger } from '@ioc/runtime';
import type { AlertingPort } from '../alerting-port';
import { repositoryHttpError } from '../common/registry-errors';
import { describeScope, outOfScope } from '../common/scope.service';
import { InternalBusRepository } from '../live/internal-bus.repository';
import type { RegistryReader } from '../registry-port';
import { ALERTING, DEVICE_REGISTRY, LOGGER } from '../tokens';

/** 503 for an alert route on an API started without the alerting port. */
export function alertingUnavailable(): ServiceUnavailableException {
  return new ServiceUnavailableException({
    statusCode: 503,
    error: 'Service Unavailable',
    reason: 'alerting-unavailable',
    message: 'this API node has no registry database: rules, alerts and silences are unavailable',
  });
}

/** An AlertingError as its HTTP answer (400/404/409 naming the field); anything else unchanged. */
export function alertingHttpError(error: unknown): unknown {
  if (error instanceof AlertingError) return repositoryHttpError(error.code, error.message, error.field);
  return error;
}

/**
 * What the alert routes share: the port (503 without it), errors mapped to HTTP, change notices
 * after writes, live pushes of people's steps, and the scope rules of alerts and rules.
 *
 * Scope (issue 9's rule applied to alerts): an alert lies in a principal's scope when its domain
 * is one of the scope's (an alert without a domain only for a scope of every domain) and one of
 * the scope's areas is on its area path. A rule is visible when it can cover a device in scope;
 * a scoped principal may write only a rule that its own scope bounds (its domains or device types
 * inside the scope's domains, its areas inside the scope's areas, or its devices all in scope).
 */
@Injectable()
export class AlertingService {
  constructor(
    @Inject(ALERTING) private readonly alerting: AlertingPort | null,
    @Inject(DEVICE_REGISTRY) private readonly registry: RegistryReader,
    private readonly bus: InternalBusRepository,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  /** @throws 503 alerting-unavailable */
  get port(): AlertingPort {
    if (this.alerting === null) throw alertingUnavailable();
    return this.alerting;
  }

  /** Runs a repository call with AlertingError mapped to 400/404/409. */
  async run<T>(fn: (port: AlertingPort) => Promise<T>): Promise<T> {
    const port = this.port;
    try {
      return await fn(port);
    } catch (error) {
      throw alertingHttpError(error);
    }
  }

  /**
   * What rule checks ask of this node's device registry (parseRule): a rule naming a device id the
   * registry does not know is refused (400 `scope.deviceIds`), and the metric check uses the named
   * devices' types.
   */
  readonly ruleChecks: RuleCheckContext = {
    deviceType: (id) => this.registry.getDevice(id)?.type,
  };

  /** Tells the other processes (the broker's engine) that the change log moved. Best effort. */
  async announce(): Promise<void> {
    try {
      this.bus.announceRegistryChanges({ seq: await this.port.latestChangeSeq() });
    } catch (error) {
      this.logger.warn({ err: (error as Error).message }, 'registry change notice not sent');
    }
  }

  /**
   * A person's step pushed to the live feed at once — to every API node's sockets (LiveGateway
   * sends alertSteps$ through the adapter); the engine's steps come over the bus to every node.
   */
  pushLive(event: AlertEvent): void {
    this.bus.alertSteps$.next(event);
  }

  alertInScope(principal: Principal, alert: Pick<Alert, 'domain' | 'areaPath'>): boolean {
    const scope = principal.scope;
    if (scope === null) return true;
    if (scope.domains && (alert.domain === null || !scope.domains.includes(alert.domain))) return false;
    return scopeHoldsArea(scope, alert.areaPath);
  }

  /** @throws 403 out-of-scope naming the alert's domain or area */
  assertAlert(principal: Principal, alert: Alert): void {
    if (this.alertInScope(principal, alert)) return;
    const scope = principal.scope;
    const domainOut = scope?.domains && (alert.domain === null || !scope.domains.includes(alert.domain));
    throw outOfScope(
      domainOut && alert.domain !== null ? { domain: alert.domain } : { area: alert.areaId },
      `alert ${alert.id} (domain ${alert.domain ?? 'none'}, area ${alert.areaId}) is outside your scope (${describeScope(principal.scope)})`,
    );
  }

  /** Whether the rule can cover a device inside the principal's scope. */
  ruleVisible(principal: Principal, rule: RuleDefinition): boolean {
    const scope = principal.scope;
    if (scope === null) return true;
    const ruleScope = rule.scope;
    if (ruleScope.deviceIds) {
      return ruleScope.deviceIds.some((id) => {
        const device = this.registry.getDevice(id);
        return (
          device !== undefined &&
          (scope.domains === undefined || scope.domains.includes(device.domain)) &&
          scopeHoldsArea(scope, this.registry.areaPath(device.areaId))
        );
      });
    }
    if (scope.domains) {
      const domains = ruleScope.domains ?? ruleScope.deviceTypes?.map(domainOf);
      if (domains && !domains.some((d) => scope.domains?.includes(d))) return false;
    }
    if (scope.areas && ruleScope.areaIds) {
      const areas = scope.areas;
      const related = ruleScope.areaIds.some((ruleArea) => {
        const rulePath = this.registry.areaPath(ruleArea);
        return areas.some(
          (area) => rulePath.includes(area) || this.registry.areaPath(area).includes(ruleArea),
        );
      });
      if (!related) return false;
    }
    return true;
  }

  /**
   * A scoped principal's rule must be bounded by its scope.
   * @throws 403 out-of-scope naming the first axis the rule leaves open or exceeds
   */
  assertRuleWithinScope(principal: Principal, rule: RuleDefinition): void {
    const scope = principal.scope;
    if (scope === null) return;
    const ruleScope = rule.scope;
    const refuse = (what: OutOfScope, why: string) =>
      outOfScope(what, `rule "${rule.id}" ${why}; your scope is ${describeScope(scope)}`);
    if (ruleScope.deviceIds) {
      for (const id of ruleScope.deviceIds) {
        const device = this.registry.getDevice(id);
        if (!device) continue; // an unknown device covers nothing
        if (scope.domains && !scope.domains.includes(device.domain))
          throw refuse({ domain: device.domain }, `names device "${id}" outside it`);
        if (!scopeHoldsArea(scope, this.registry.areaPath(device.areaId)))
          throw refuse({ area: device.areaId }, `names device "${id}" outside it`);
      }
      return;
    }
    if (scope.domains) {
      const domains = ruleScope.domains ?? ruleScope.deviceTypes?.map(domainOf);
      if (!domains)
        throw refuse(
          { resource: 'rules' },
          'covers every domain: give scope.domains or scope.deviceTypes inside yours',
        );
      const outside = domains.find((d) => !scope.domains?.includes(d));
      if (outside) throw refuse({ domain: outside }, `covers domain "${outside}"`);
    }
    if (scope.areas) {
      if (!ruleScope.areaIds)
        throw refuse({ resource: 'rules' }, 'covers every area: give scope.areaIds inside yours');
      const outside = ruleScope.areaIds.find((a) => !scopeHoldsArea(scope, this.registry.areaPath(a)));
      if (outside) throw refuse({ area: outside }, `covers area "${outside}"`);
    }
  }
}
