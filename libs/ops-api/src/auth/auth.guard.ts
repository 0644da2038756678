import { type CanActivate, type ExecutionContext, Inject, Injectable, Module } from '@nestjs/common';
import { APP_GUARD, Reflector } from '@nestjs/core';
import type { Response } from 'express';
import { type Role, roleIncludes } from '@ioc/contracts';
import type { AccessPort } from '../access-port';
import { type AuthenticatedRequest, IS_PUBLIC, REQUIRED_ROLE } from '../common/auth.decorators';
import { ACCESS } from '../tokens';
import { AuditModule } from '../audit/audit.module';
import { AuditTrail } from '../audit/audit-trail.service';
import { crossSite, roleRequired, unauthorized } from './auth-errors';
import { Authenticator, credentialsOfHeaders } from './authenticator';

/** Methods a cookie-authenticated request must come from the API's own (or an allowed) origin for. */
const UNSAFE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * The first global guard (APP_GUARD) of every HTTP route: authenticates the request
 * (Authenticator) and puts the principal on `request.principal` — or, when a route that is not
 * `@Public()` gets no good credentials, the refusal on `request.authRefusal`. It refuses nothing
 * itself, so the rate limit (RateLimitModule, next) counts refused requests against their address
 * too; AuthorizationGuard (last) then answers them. `@Public()` routes with good credentials get
 * the principal as well (bad ones are ignored there).
 */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly authenticator: Authenticator,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    // socket.io is authenticated by the /live namespace's middleware (LiveAuth).
    if (context.getType() !== 'http') return true;
    const request = context.switchToHttp().getRequest<AuthenticatedRequest>();
    const credentials = credentialsOfHeaders(request.headers);
    const isPublic = this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, [
      context.getHandler(),
      context.getClass(),
    ]);
    if (isPublic && Object.keys(credentials).length === 0) return true;
    const outcome = await this.authenticator.authenticate(credentials);
    if (outcome.ok) {
      request.principal = outcome.principal;
      request.authenticatedVia = outcome.via;
    } else if (!isPublic) {
      request.authRefusal = { reason: outcome.reason, message: outcome.message };
    }
    return true;
  }
}

/**
 * The last global guard of every HTTP route (after the rate limit): answers what AuthGuard found.
 * Refusals: 401 with the reason and `WWW-Authenticate`, 403 `cross-site-request` for a
 * cookie-authenticated write from a foreign `Origin`, or without one, `Sec-Fetch-Site: cross-site`
 * (CSRF; assertSameSite), 403 `role-required` naming the
 * route's `@Roles` (viewer when none). A 403 role-required is audited (`auth.denied`, outcome
 * `denied`).
 */
@Injectable()
export class AuthorizationGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    @Inject(ACCESS) private readonly access: AccessPort,
    private readonly audit: AuditTrail,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (context.getType() !== 'http') return true;
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, targets)) return true;
    const request = context.switchToHttp().getRequest<AuthenticatedRequest>();
    const response = context.switchToHttp().getResponse<Response>();
    const principal = request.principal;
    if (!principal) {
      const refusal = request.authRefusal ?? {
        reason: 'missing-credentials' as const,
        message: 'authentication required',
      };
      throw unauthorized(response, refusal.reason, refusal.message);
    }
    if (request.authenticatedVia === 'cookie' && UNSAFE_METHODS.has(request.method))
      this.assertSameSite(request);
    const required = this.reflector.getAllAndOverride<Role | undefined>(REQUIRED_ROLE, targets) ?? 'viewer';
    if (!roleIncludes(principal.role, required)) {
      // A refused attempt of a known principal is worth keeping (a 401 of a stranger is not: noise).
      await this.audit.record(request, {
        actor: principal,
        action: 'auth.denied',
        outcome: 'denied',
        detail: { method: request.method, path: request.path, reason: 'role-required', required },
      });
      throw roleRequired(required, principal.role);
    }
    return true;
  }

  /**
   * CSRF defence of a cookie-authenticated write. With an `Origin`, it must be the API's own or an
   * allowed CORS origin. Without one (some browsers omit it), the Fetch Metadata header decides
   * (W3C Fetch Metadata Request Headers §2.4 `Sec-Fetch-Site`): `cross-site` is refused;
   * `same-site` (another host of the same site, e.g. a sibling sub-domain) only passes when its
   * `Referer`'s origin is allowed; `same-origin`, `none` (typed by the user) or no header (not a
   * browser that sends it) pass.
   * @throws 403 cross-site-request
   */
  private assertSameSite(request: AuthenticatedRequest): void {
    const origin = request.headers.origin;
    if (origin !== undefined) {
      if (!this.originAllowed(origin, request)) throw crossSite(origin);
      return;
    }
    const fetchSite = request.header('sec-fetch-site')?.trim().toLowerCase();
    if (fetchSite === 'cross-site') throw crossSite({ fetchSite });
    if (fetchSite === 'same-site') {
      const referer = originOf(request.header('referer'));
      if (referer === undefined || !this.originAllowed(referer, request)) throw crossSite({ fetchSite });
    }
  }

  /** The API's own origin (as the request reached it) or one of the allowed CORS origins. */
  private originAllowed(origin: string, request: AuthenticatedRequest): boolean {
    if (origin === `${request.protocol}://${request.get('host') ?? ''}`) return true;
    return (this.access.allowedOrigins ?? []).includes(origin);
  }
}

/** The origin (`scheme://host[:port]`) of a URL, or undefined when it is not one. */
function originOf(url: string | undefined): string | undefined {
  if (url === undefined) return undefined;
  try {
    const origin = new URL(url).origin;
    return origin === 'null' ? undefined : origin;
  } catch {
    return undefined;
  }
}

/** Registers AuthorizationGuard; imported after RateLimitModule so it runs after it. */
@Module({
  imports: [AuditModule],
  providers: [{ provide: APP_GUARD, useClass: AuthorizationGuard }],
})
export class AuthorizationModule {}
