import { ForbiddenException, HttpException, HttpStatus, UnauthorizedException } from '@nestjs/common';
import type { Response } from 'express';
import type { Role } from '@ioc/contracts';
import type { AuthFailureReason } from './authenticator';

/** Reasons of a refused login (401, or 429 for `address-throttled`). */
export type LoginFailureReason =
  'invalid-credentials' | 'account-locked' | 'account-disabled' | 'address-throttled';

/**
 * The `WWW-Authenticate` challenge of a 401 (RFC 6750 §3): without credentials only the realm;
 * with bad ones `error="invalid_token"` and a description.
 */
export function challenge(reason: string, message: string): string {
  if (reason === 'missing-credentials') return 'Bearer realm="ioc"';
  return `Bearer realm="ioc", error="invalid_token", error_description="${message.replace(/["\\]/g, "'")}"`;
}

/**
 * A 401 `{statusCode, error:'Unauthorized', message, reason}`, with its `WWW-Authenticate`
 * challenge set on `response` (and `Retry-After`, seconds rounded up, when given).
 */
export function unauthorized(
  response: Response,
  reason: AuthFailureReason | LoginFailureReason,
  message: string,
  retryAfterMs?: number,
): UnauthorizedException {
  response.setHeader('WWW-Authenticate', challenge(reason, message));
  if (retryAfterMs !== undefined)
    response.setHeader('Retry-After', String(Math.max(1, Math.ceil(retryAfterMs / 1000))));
  return new UnauthorizedException({ statusCode: 401, error: 'Unauthorized', message, reason });
}

/** 403 `{…, reason:'role-required', required}`: the principal's role is below the route's. */
export function roleRequired(required: Role, role: Role): ForbiddenException {
  return new ForbiddenException({
    statusCode: 403,
    error: 'Forbidden',
    reason: 'role-required',
    required,
    message: `this needs the role ${required}; you have ${role}`,
  });
}

/**
 * 403 `{…, reason:'cross-site-request'}`: a cookie-authenticated write from a foreign origin
 * (CSRF) — its `Origin`, or, without one, what its `Sec-Fetch-Site` says (`{fetchSite}`).
 */
export function crossSite(from: string | { fetchSite: string }): ForbiddenException {
  return new ForbiddenException({
    statusCode: 403,
    error: 'Forbidden',
    reason: 'cross-site-request',
    message:
      typeof from === 'string'
        ? `a request authenticated by the session cookie may not come from origin ${JSON.stringify(from.slice(0, 200))}`
        : `a request authenticated by the session cookie may not come from another site (Sec-Fetch-Site: ${from.fetchSite.slice(0, 40)}, no allowed Origin or Referer)`,
  });
}

/** 429 `{…, reason:'address-throttled'}` with `Retry-After`: too many failed logins from the address. */
export function addressThrottled(response: Response, retryAfterMs: number): HttpException {
  response.setHeader('Retry-After', String(Math.max(1, Math.ceil(retryAfterMs / 1000))));
  return new HttpException(
    {
      statusCode: 429,
      error: 'Too Many Requests',
      reason: 'address-throttled',
      message: 'too many failed logins from this address: try again later',
    },
    HttpStatus.TOO_MANY_REQUESTS,
  );
}
