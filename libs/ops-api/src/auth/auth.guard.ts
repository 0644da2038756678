import { type CanActivate, type ExecutionContext, Inject, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Response } from 'express';
import { type Role, roleIncludes } from '@ioc/contracts';
import type { AccessPort } from '../access-port';
import { type AuthenticatedRequest, IS_PUBLIC, REQUIRED_ROLE } from '../common/auth.decorators';
import { ACCESS } from '../tokens';
import { AuthAudit } from './auth-audit';
import { crossSite, roleRequired, unauthorized } from './auth-errors';
import { Authenticator, credentialsOfHeaders } from './authenticator';

/** Methods a cookie-authenticated request must come from the API's own (or an allowed) origin for. */
const UNSAFE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * The global guard (APP_GUARD) of every HTTP route: authenticates the request (Authenticator),
 * puts the principal on `request.principal`, and enforces the route's `@Roles` (viewer when none).
 * `@Public()` routes pass without credentials; when they carry good ones the principal is set
 * too (bad ones are ignored there). Refusals: 401 with the reason and `WWW-Authenticate`, 403
 * `role-required` naming the role, 403 `cross-site-request` for a cookie-authenticated write from
 * a foreign `Origin` (CSRF). A 403 role-required is audited (`auth.denied`, outcome `denied`).
 */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly authenticator: Authenticator,
    @Inject(ACCESS) private readonly access: AccessPort,
    private readonly audit: AuthAudit,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    // socket.io is authenticated by the /live namespace's middleware (LiveAuth).
    if (context.getType() !== 'http') return true;
    const targets = [context.getHandler(), context.getClass()];
    const request = context.switchToHttp().getRequest<AuthenticatedRequest>();
    const response = context.switchToHttp().getResponse<Response>();
    const credentials = credentialsOfHeaders(request.headers);
    if (this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, targets)) {
      if (Object.keys(credentials).length > 0) {
        const outcome = await this.authenticator.authenticate(credentials);
        if (outcome.ok) request.principal = outcome.principal;
      }
      return true;
    }
    const outcome = await this.authenticator.authenticate(credentials);
    if (!outcome.ok) throw unauthorized(response, outcome.reason, outcome.message);
    if (outcome.via === 'cookie' && UNSAFE_METHODS.has(request.method)) {
      const origin = request.headers.origin;
      if (origin !== undefined && !this.originAllowed(origin, request)) throw crossSite(origin);
    }
    request.principal = outcome.principal;
    const required = this.reflector.getAllAndOverride<Role | undefined>(REQUIRED_ROLE, targets) ?? 'viewer';
    if (!roleIncludes(outcome.principal.role, required)) {
      // A refused attempt of a known principal is worth keeping (a 401 of a stranger is not: noise).
      await this.audit.record({
        actor: outcome.principal,
        action: 'auth.denied',
        outcome: 'denied',
        detail: { method: request.method, path: request.path, reason: 'role-required', required },
        address: request.ip ?? 'unknown',
      });
      throw roleRequired(required, outcome.principal.role);
    }
    return true;
  }

  /** The API's own origin (as the request reached it) or one of the allowed CORS origins. */
  private originAllowed(origin: string, request: AuthenticatedRequest): boolean {
    if (origin === `${request.protocol}://${request.get('host') ?? ''}`) return true;
    return (this.access.allowedOrigins ?? []).includes(origin);
  }
}
