import { timingSafeEqual, createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  type CanActivate,
  type ExecutionContext,
  ForbiddenException,
  Inject,
  Injectable,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
  UnauthorizedException,
} from '@nestjs/common';
import type { Response } from 'express';
import { roleIncludes } from '@ioc/contracts';
import type { DatabaseProbe } from '@ioc/database';
import type { Logger } from '@ioc/runtime';
import type { OpsApiSettings } from '../api-config';
import type { AuthenticatedRequest } from '../common/auth.decorators';
import { AuditTrail } from '../audit/audit-trail.service';
import { ScopeService } from '../common/scope.service';
import { InternalBusRepository } from '../live/internal-bus.repository';
import { DATABASE_HEALTH, LOGGER, OPS_API_SETTINGS } from '../tokens';
import { renderPrometheus } from './prometheus-metrics';

/** Content type of the Prometheus text exposition format 0.0.4. */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4';

/** Constant-time comparison of two strings of any length (both hashed first: equal lengths). */
function sameSecret(presented: string, expected: string): boolean {
  const a = createHash('sha256').update(presented).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

/**
 * Who may read `GET /metrics` on the HTTP port (the route is `@Public()`: this guard decides):
 * - a request carrying `Authorization: Bearer {IOC_METRICS_TOKEN}` (Prometheus' scrape config
 *   `authorization: {credentials: …}`), compared in constant time;
 * - an authenticated admin without a scope (`request.principal` with role admin, set by the
 *   authentication guard): the metrics cover the whole platform, so this is platform
 *   administration (ScopeService.assertPlatformResource).
 * Otherwise 401 `{reason: 'missing-credentials' | 'invalid-token'}` with `WWW-Authenticate:
 * Bearer` (RFC 6750 §3), 403 `{reason: 'role-required', required: 'admin'}` for a principal
 * below admin, or 403 `{reason: 'out-of-scope', outOfScope: {resource: 'administration'}}` for an
 * admin with a scope or an agency. The separate listener (IOC_METRICS_PORT) serves /metrics without this check.
 */
@Injectable()
export class MetricsAccessGuard implements CanActivate {
  constructor(
    @Inject(OPS_API_SETTINGS) private readonly settings: OpsApiSettings,
    private readonly scopes: ScopeService,
    private readonly audit: AuditTrail,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context.switchToHttp().getRequest<AuthenticatedRequest>();
    const principal = request.principal;
    const admin = principal !== undefined && roleIncludes(principal.role, 'admin');
    if (admin && this.scopes.platformWide(principal)) return true;
    const token = this.settings.edge?.metrics.token;
    const presented = /^Bearer\s+(\S+)\s*$/i.exec(request.header('authorization') ?? '')?.[1];
    if (token !== undefined && presented !== undefined && sameSecret(presented, token)) return true;
    if (admin) this.scopes.assertPlatformResource(principal, 'administration');
    if (principal) {
      // A refusal by role is audited, as AuthorizationGuard audits those of other routes.
      await this.audit.record(request, {
        actor: principal,
        action: 'auth.denied',
        outcome: 'denied',
        detail: { method: request.method, path: request.path, reason: 'role-required', required: 'admin' },
      });
      throw new ForbiddenException({
        statusCode: 403,
        error: 'Forbidden',
        reason: 'role-required',
        required: 'admin',
        message: '/metrics needs the metrics token or the admin role',
      });
    }
    context.switchToHttp().getResponse<Response>().setHeader('WWW-Authenticate', 'Bearer');
    throw new UnauthorizedException({
      statusCode: 401,
      error: 'Unauthorized',
      reason: presented === undefined ? 'missing-credentials' : 'invalid-token',
      message:
        presented === undefined
          ? '/metrics needs the metrics token (Authorization: Bearer …) or an admin'
          : 'the bearer token is not the metrics token',
    });
  }
}

/**
 * The separate /metrics listener (IOC_METRICS_PORT on IOC_METRICS_HOST, default 127.0.0.1): a
 * plain HTTP server answering `GET`/`HEAD /metrics` without authentication — reachable only by
 * whoever reaches that address, typically Prometheus on the same host or network — and 404 for
 * anything else. Started with the app, closed with it.
 */
@Injectable()
export class MetricsListener implements OnApplicationBootstrap, OnApplicationShutdown {
  private server: Server | undefined;

  constructor(
    @Inject(OPS_API_SETTINGS) private readonly settings: OpsApiSettings,
    @Inject(LOGGER) private readonly logger: Logger,
    private readonly bus: InternalBusRepository,
    @Inject(DATABASE_HEALTH) private readonly database: Pick<DatabaseProbe, 'health'> | null,
  ) {}

  /** The bound port (the configured one, or the one chosen for port 0); undefined without a listener. */
  get port(): number | undefined {
    return (this.server?.address() as AddressInfo | null)?.port;
  }

  async onApplicationBootstrap(): Promise<void> {
    const listener = this.settings.edge?.metrics.listener;
    if (!listener) return;
    const server = createServer((request, response) => {
      const path = (request.url ?? '').split('?')[0];
      if (path !== '/metrics') {
        response.writeHead(404, { 'Content-Type': 'text/plain' }).end('only /metrics is served here\n');
        return;
      }
      if (request.method !== 'GET' && request.method !== 'HEAD') {
        response.writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain' }).end();
        return;
      }
      const body = renderPrometheus(this.bus.latestIngestStats(), {
        brokerConnected: this.bus.connected,
        ...(this.bus.refusedReason === undefined ? {} : { brokerRefused: this.bus.refusedReason }),
        ...(this.database ? { databaseUp: this.database.health().up } : {}),
      });
      response.writeHead(200, { 'Content-Type': PROMETHEUS_CONTENT_TYPE, 'Cache-Control': 'no-store' });
      response.end(request.method === 'HEAD' ? undefined : body);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(listener.port, listener.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
    this.logger.info(
      { host: listener.host, port: this.port },
      'metrics listener (unauthenticated) listening',
    );
  }

  async onApplicationShutdown(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
