import {
  applyDecorators,
  type ExecutionContext,
  HttpException,
  HttpStatus,
  Injectable,
  Module,
  SetMetadata,
} from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { ApiExtension } from '@nestjs/swagger';
import {
  normalizeIp,
  SkipThrottle,
  ThrottlerGuard,
  type ThrottlerLimitDetail,
  ThrottlerModule,
  type ThrottlerStorage,
} from '@nestjs/throttler';
import type { Response } from 'express';
import type { OpsApiSettings } from '../api-config';
import type { AuthenticatedRequest } from '../common/auth.decorators';
import { OPS_API_SETTINGS, RATE_LIMIT_STORAGE } from '../tokens';
import { DEFAULT_HTTP_EDGE } from './edge-config';

/** Metadata key: the route is a login (its own, lower limit per address applies as well). */
export const LOGIN_RATE_LIMIT = 'ioc:login-rate-limit';

/**
 * Marks a route (or controller) where a password or other guessable secret is presented
 * (`POST /api/v1/auth/login`, `…/refresh`, the OIDC callback): besides the general limit, at
 * most IOC_HTTP_LOGIN_RATE_LIMIT_PER_MINUTE requests per minute per client address reach it.
 */
export const LoginRateLimit = (): ReturnType<typeof SetMetadata> => SetMetadata(LOGIN_RATE_LIMIT, true);

/** OpenAPI extension marking an operation that is never rate limited (setupOpenApi: no 429 for it). */
export const NO_RATE_LIMIT_EXTENSION = 'x-ioc-no-rate-limit';

/** The route (or controller) is not rate limited at all (`/health`: load balancers probe it often). */
export const NoRateLimit = (): ReturnType<typeof applyDecorators> =>
  applyDecorators(SkipThrottle({ default: true, login: true }), ApiExtension(NO_RATE_LIMIT_EXTENSION, true));

/** The `reason` of a 429 answer. */
export const RATE_LIMITED = 'rate-limited';

/** Window of every limit: one minute (the limits are configured per minute). */
const WINDOW_MS = 60_000;

/** IPv6 clients are counted per /64 (one customer's network), as the throttler's default does. */
const IPV6_PREFIX = 64;

/** Whom a request is counted against: `principal:{kind}:{id}`, `address:{ip}` or `login:{ip}`. */
function trackerOf(request: AuthenticatedRequest, login: boolean): string {
  const address = normalizeIp(request.ip ?? request.socket.remoteAddress ?? 'unknown', IPV6_PREFIX);
  if (login) return `login:${address}`;
  const principal = request.principal;
  return principal ? `principal:${principal.kind}:${principal.id}` : `address:${address}`;
}

function isLoginRoute(context: ExecutionContext): boolean {
  return (
    Reflect.getMetadata(LOGIN_RATE_LIMIT, context.getHandler()) === true ||
    Reflect.getMetadata(LOGIN_RATE_LIMIT, context.getClass()) === true
  );
}

/**
 * The throttler's guard with the platform's rules:
 * - counts per principal (`request.principal`, set by the authentication guard, which is
 *   registered before this one) when there is one, else per client address (`request.ip`, see
 *   IOC_HTTP_TRUST_PROXY) — one count per principal or address across all routes, not per route;
 * - HTTP only (socket.io messages are not counted here);
 * - a refusal is a 429 with `Retry-After` (seconds, RFC 9110 §10.2.3), `X-RateLimit-Limit` (the
 *   refusing limit's requests per window), `X-RateLimit-Remaining: 0`, `X-RateLimit-Reset`
 *   (seconds), and a body naming the limit: `{statusCode: 429, error, reason: 'rate-limited',
 *   message, limit: {per, requests, windowSeconds}, retryAfterSeconds}`. An answer let through
 *   carries the throttler's `X-RateLimit-*` of the general limit and `X-RateLimit-*-login` of the
 *   login one.
 */
@Injectable()
export class ApiThrottlerGuard extends ThrottlerGuard {
  protected override async shouldSkip(context: ExecutionContext): Promise<boolean> {
    return context.getType() !== 'http';
  }

  protected override async throwThrottlingException(
    context: ExecutionContext,
    detail: ThrottlerLimitDetail,
  ): Promise<void> {
    const response = context.switchToHttp().getResponse<Response>();
    const retryAfterSeconds = Math.max(1, detail.timeToBlockExpire);
    response.setHeader('Retry-After', String(retryAfterSeconds));
    // The headers name the limit that refused: the throttler set `Retry-After-{name}` for a named
    // one (a header no client reads), and the X-RateLimit-* of the limits that passed before it
    // (the general one's, for a refused login).
    const name = detail.key.slice(0, detail.key.indexOf(':'));
    if (name !== 'default') response.removeHeader(`Retry-After-${name}`);
    for (const header of response.getHeaderNames())
      if (header.startsWith('x-ratelimit-')) response.removeHeader(header);
    response.setHeader('X-RateLimit-Limit', String(detail.limit));
    response.setHeader('X-RateLimit-Remaining', '0');
    response.setHeader('X-RateLimit-Reset', String(retryAfterSeconds));
    const per = detail.tracker.startsWith('login:')
      ? 'login attempts per address'
      : detail.tracker.startsWith('principal:')
        ? 'principal'
        : 'address';
    const windowSeconds = Math.round(detail.ttl / 1000);
    throw new HttpException(
      {
        statusCode: HttpStatus.TOO_MANY_REQUESTS,
        error: 'Too Many Requests',
        reason: RATE_LIMITED,
        message:
          per === 'login attempts per address'
            ? `rate limit of ${detail.limit} login attempts per minute per address exceeded; retry in ${retryAfterSeconds} s`
            : `rate limit of ${detail.limit} requests per minute per ${per} exceeded; retry in ${retryAfterSeconds} s`,
        limit: {
          per: per === 'login attempts per address' ? 'login' : per,
          requests: detail.limit,
          windowSeconds,
        },
        retryAfterSeconds,
      },
      HttpStatus.TOO_MANY_REQUESTS,
    );
  }
}

/**
 * Rate limits (IOC_HTTP_*_RATE_LIMIT_PER_MINUTE) with `@nestjs/throttler`: a `default` throttler
 * (per principal, or per address without one) and a `login` one (per address, routes marked
 * `@LoginRateLimit()`). Its counters live in `OpsApiModuleOptions.rateLimitStorage` — the
 * throttler's in-memory storage by default; several API nodes need a shared one (Redis) behind
 * the same ThrottlerStorage interface, or each node allows the limit on its own.
 *
 * Imported after every feature module, so its guard runs after the authentication guard and sees
 * `request.principal`.
 */
@Module({
  imports: [
    ThrottlerModule.forRootAsync({
      inject: [OPS_API_SETTINGS, RATE_LIMIT_STORAGE],
      useFactory: (settings: OpsApiSettings, storage: ThrottlerStorage | null) => {
        const limits = (settings.edge ?? DEFAULT_HTTP_EDGE).rateLimits;
        return {
          ...(storage ? { storage } : {}),
          generateKey: (_context: ExecutionContext, tracker: string, name: string) => `${name}:${tracker}`,
          throttlers: [
            {
              name: 'default',
              ttl: WINDOW_MS,
              limit: (context: ExecutionContext) =>
                context.switchToHttp().getRequest<AuthenticatedRequest>().principal
                  ? limits.perPrincipal
                  : limits.anonymous,
              getTracker: (request: Record<string, unknown>) =>
                trackerOf(request as unknown as AuthenticatedRequest, false),
            },
            {
              name: 'login',
              ttl: WINDOW_MS,
              limit: limits.login,
              skipIf: (context: ExecutionContext) => !isLoginRoute(context),
              getTracker: (request: Record<string, unknown>) =>
                trackerOf(request as unknown as AuthenticatedRequest, true),
            },
          ],
        };
      },
    }),
  ],
  providers: [{ provide: APP_GUARD, useClass: ApiThrottlerGuard }],
})
export class RateLimitModule {}
