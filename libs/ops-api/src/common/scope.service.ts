import {
  applyDecorators,
  type CanActivate,
  type ExecutionContext,
  ForbiddenException,
  Inject,
  Injectable,
  SetMetadata,
  UnauthorizedException,
  UseGuards,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import {
  type AccessScope,
  type Area,
  type Device,
  type DeviceType,
  type Domain,
  domainOf,
  type OutOfScope,
  type Principal,
  scopeHoldsArea,
  scopeHoldsDevice,
} from '@ioc/contracts';
import type { RegistryReader } from '../registry-port';
import { DEVICE_REGISTRY } from '../tokens';
import type { AuthenticatedRequest } from './auth.decorators';
import { deviceNotFound } from './not-found';

/** The 403 `reason: 'out-of-scope'` answer naming what lies outside the scope. */
export function outOfScope(what: OutOfScope, message: string): ForbiddenException {
  return new ForbiddenException({
    statusCode: 403,
    error: 'Forbidden',
    reason: 'out-of-scope',
    message,
    outOfScope: what,
  });
}

/** A scope as text for messages: `domains env; areas go-dau` (an absent axis is "every"). */
export function describeScope(scope: AccessScope | null): string {
  if (scope === null) return 'the whole province';
  const domains = scope.domains ? `domains ${scope.domains.join(', ')}` : 'every domain';
  const areas = scope.areas ? `areas ${scope.areas.join(', ')} (with their sub-areas)` : 'every area';
  return `${domains}; ${areas}`;
}

/**
 * Scope enforcement for reads (issue 9): every answer is narrowed to what the principal's scope
 * holds (contracts access.ts: a device is in scope when its domain is one of the scope's and one
 * of the scope's areas is on its area path), and a request that NAMES something outside it — a
 * device, an area, a domain, a device type of another domain — is a 403 `reason: 'out-of-scope'`
 * naming it, never an empty 200. A principal with a null scope reads everything.
 *
 * An unknown device or area keeps its 404/400: the answer for an id that exists outside the scope
 * is 403, so a scoped principal can tell an id exists (ids are not secrets; readings are).
 */
@Injectable()
export class ScopeService {
  constructor(@Inject(DEVICE_REGISTRY) private readonly registry: RegistryReader) {}

  /** Whether the principal reads everything (scope null). */
  unrestricted(principal: Principal): boolean {
    return principal.scope === null;
  }

  /** Whether the principal's scope holds the device. */
  holdsDevice(principal: Principal, device: Device): boolean {
    if (principal.scope === null) return true;
    return scopeHoldsDevice(principal.scope, {
      domain: device.domain,
      areaPath: this.registry.areaPath(device.areaId),
    });
  }

  /**
   * The device (by id or as given), if the principal's scope holds it.
   * @throws 404 for an unknown id; 403 out-of-scope `{device}` for a device outside the scope
   */
  assertDevice(principal: Principal, deviceOrId: Device | string): Device {
    const device = typeof deviceOrId === 'string' ? this.registry.getDevice(deviceOrId) : deviceOrId;
    if (!device) throw deviceNotFound(deviceOrId as string);
    if (!this.holdsDevice(principal, device)) {
      throw outOfScope(
        { device: device.id },
        `device "${device.id}" (domain ${device.domain}, area ${device.areaId}) is outside your scope (${describeScope(principal.scope)})`,
      );
    }
    return device;
  }

  /**
   * An area the principal may name as a filter: one of its scope's areas or a sub-area of one
   * (an ancestor is refused: it holds devices outside the scope). The caller has checked the area
   * exists.
   * @throws 403 out-of-scope `{area}`
   */
  assertArea(principal: Principal, areaId: string): void {
    if (principal.scope === null || scopeHoldsArea(principal.scope, this.registry.areaPath(areaId))) return;
    throw outOfScope(
      { area: areaId },
      `area "${areaId}" is outside your scope (${describeScope(principal.scope)}): name one of your areas or a sub-area of one`,
    );
  }

  /** @throws 403 out-of-scope `{domain}` for a domain the principal's scope does not hold */
  assertDomain(principal: Principal, domain: Domain): void {
    const domains = principal.scope?.domains;
    if (domains === undefined || domains.includes(domain)) return;
    throw outOfScope(
      { domain },
      `domain "${domain}" is outside your scope (${describeScope(principal.scope)})`,
    );
  }

  /** A device type is in scope when its domain is. @throws 403 out-of-scope `{domain}` naming the type's domain */
  assertType(principal: Principal, type: DeviceType): void {
    const domain = domainOf(type);
    const domains = principal.scope?.domains;
    if (domains === undefined || domains.includes(domain)) return;
    throw outOfScope(
      { domain },
      `type "${type}" is of domain "${domain}", outside your scope (${describeScope(principal.scope)})`,
    );
  }

  /**
   * Checks every explicit filter of a device query (domain, type, area) against the scope.
   * @throws 403 out-of-scope naming the first filter outside it
   */
  assertFilters(principal: Principal, filters: { domain?: string; type?: string; area?: string }): void {
    if (principal.scope === null) return;
    if (filters.domain !== undefined) this.assertDomain(principal, filters.domain as Domain);
    if (filters.type !== undefined) this.assertType(principal, filters.type as DeviceType);
    if (filters.area !== undefined && this.registry.getArea(filters.area))
      this.assertArea(principal, filters.area);
  }

  /**
   * The devices of `devices` the principal's scope holds, in their order. For a scope with areas,
   * membership comes from the registry's area index (listDevices by area), not one path per device.
   */
  filterDevices(principal: Principal, devices: readonly Device[]): Device[] {
    const scope = principal.scope;
    if (scope === null) return [...devices];
    const inAreas =
      scope.areas === undefined
        ? undefined
        : new Set(
            scope.areas.flatMap((area) =>
              this.registry.getArea(area) ? this.registry.listDevices({ areaId: area }).map((d) => d.id) : [],
            ),
          );
    return devices.filter(
      (device) =>
        (scope.domains === undefined || scope.domains.includes(device.domain)) &&
        (inAreas === undefined || inAreas.has(device.id)),
    );
  }

  /** The areas of `areas` inside the principal's area axis (its areas and their sub-areas). */
  filterAreas(principal: Principal, areas: readonly Area[]): Area[] {
    const scope = principal.scope;
    if (scope === null || scope.areas === undefined) return [...areas];
    return areas.filter((area) => scopeHoldsArea(scope, this.registry.areaPath(area.id)));
  }

  /**
   * Whether the principal may use platform-wide resources: no scope, and no agency (an agency's
   * person acts within the agency's scope; agencies always have one, so this is belt and braces).
   */
  platformWide(principal: Principal): boolean {
    return principal.scope === null && principal.agencyId === undefined;
  }

  /** assertUnscoped with the resource's own message (RESOURCE_TEXT). @throws 403 out-of-scope `{resource}` */
  assertPlatformResource(principal: Principal, resource: PlatformResource): void {
    this.assertUnscoped(principal, resource, RESOURCE_TEXT[resource]);
  }

  /**
   * A platform-wide resource (ingest statistics, registry writes, platform administration) that
   * only a principal without a scope (and without an agency) may use.
   * @param what the resource as the refusal's message names it: a sentence start such as
   *   "Ingest statistics cover the whole platform" (RESOURCE_TEXT for the `@UnscopedOnly` ones)
   * @throws 403 out-of-scope `{resource}`
   */
  assertUnscoped(principal: Principal, resource: string, what: string): void {
    if (this.platformWide(principal)) return;
    const yours =
      principal.scope === null
        ? `yours is that of agency "${principal.agencyId ?? '?'}"`
        : `yours is ${describeScope(principal.scope)}`;
    throw outOfScope(
      { resource },
      `${what}: only a principal without a scope may use this (${resource}); ${yours}`,
    );
  }
}

/** Metadata key of `@UnscopedOnly(resource)`. */
const UNSCOPED_ONLY = 'ioc:unscoped-only';

/** Refuses a principal with a scope on the routes marked `@UnscopedOnly(resource)` (403 out-of-scope `{resource}`). */
@Injectable()
export class UnscopedOnlyGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly scopes: ScopeService,
  ) {}

  canActivate(context: ExecutionContext): boolean {
    const resource = this.reflector.getAllAndOverride<PlatformResource | undefined>(UNSCOPED_ONLY, [
      context.getHandler(),
      context.getClass(),
    ]);
    if (resource === undefined) return true;
    // Set by the authentication guard (APP_GUARD), which runs before a controller's guards.
    const principal = context.switchToHttp().getRequest<AuthenticatedRequest>().principal;
    if (!principal) throw new UnauthorizedException('authentication required');
    this.scopes.assertPlatformResource(principal, resource);
    return true;
  }
}

/** The platform-wide resources of `@UnscopedOnly`. */
export type PlatformResource = 'ingest-stats' | 'registry-writes' | 'administration';

/** How a refusal's message names each platform-wide resource (then: "only a principal without a scope may use this"). */
const RESOURCE_TEXT: Record<PlatformResource, string> = {
  'ingest-stats': 'Ingest statistics cover the whole platform',
  // Reads too: a device's credentials and import jobs are served under this resource.
  'registry-writes':
    'Registry administration (device and area writes, device credentials, imports) covers the whole platform',
  administration:
    'Platform administration (accounts, agencies, API keys, MQTT credentials, the audit log, /metrics) covers the whole platform',
};

/**
 * The route (or every route of the controller) serves a platform-wide resource: a principal with
 * a scope gets 403 `{reason: 'out-of-scope', outOfScope: {resource}}`. Runs after the
 * authentication guard (a global guard runs before a controller's).
 */
export const UnscopedOnly = (resource: PlatformResource): MethodDecorator & ClassDecorator =>
  applyDecorators(SetMetadata(UNSCOPED_ONLY, resource), UseGuards(UnscopedOnlyGuard));
