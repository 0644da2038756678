import { Inject, Injectable } from '@nestjs/common';
import { JwtService } from '@nestjs/jwt';
import type { IncomingHttpHeaders } from 'node:http';
import { principalOfAccount, principalOfApiKey } from '@ioc/access';
import type { Principal } from '@ioc/contracts';
import type { AccessPort } from '../access-port';
import type { RegistryReader } from '../registry-port';
import { ACCESS, DEVICE_REGISTRY } from '../tokens';

/** The name of the browser session cookie (httpOnly, SameSite=Strict, Path=/). */
export const SESSION_COOKIE = 'ioc_session';

/**
 * Attributes of the session cookie (design page): httpOnly, SameSite=Strict, Path=/, Secure when
 * the API is reached through HTTPS (IOC_HTTP_SECURE_COOKIE). Password and SSO logins set the same.
 */
export function sessionCookieOptions(secure: boolean): {
  httpOnly: true;
  sameSite: 'strict';
  path: '/';
  secure: boolean;
} {
  return { httpOnly: true, sameSite: 'strict', path: '/', secure };
}

/** API keys start with this (design page: `iocak_` + 8 hex + `_` + secret). */
export const API_KEY_PREFIX = 'iocak_';

/**
 * Why a request or a socket is refused with 401 (the `reason` of the answer). `agency-disabled`:
 * an API key of a disabled agency (an agency user gets `account-disabled`, naming the agency).
 */
export type AuthFailureReason =
  | 'missing-credentials'
  | 'invalid-token'
  | 'token-expired'
  | 'session-ended'
  | 'invalid-api-key'
  | 'api-key-revoked'
  | 'api-key-expired'
  | 'agency-disabled'
  | 'account-disabled';

/** The credentials a request or a socket handshake presents (each optional). */
export interface PresentedCredentials {
  /** `Authorization: Bearer …` (or a socket's `auth.token`): an access token or an API key. */
  bearer?: string;
  /** `X-API-Key: …`. */
  apiKey?: string;
  /** The `ioc_session` cookie. */
  sessionCookie?: string;
}

/** How a principal was authenticated, and until when (for the live feed's timers). */
export type AuthOutcome =
  | {
      ok: true;
      principal: Principal;
      via: 'token' | 'apiKey' | 'cookie';
      /** An access token's `exp`, epoch ms: the socket ends then. */
      expiresAt?: number;
    }
  | { ok: false; reason: AuthFailureReason; message: string };

/** Claims of an access token (design page): account id, session id, type. */
interface AccessClaims {
  sub: string;
  sid: string;
  typ: 'access';
}

/** The credentials of an HTTP request, from its headers (Authorization, X-API-Key, Cookie). */
export function credentialsOfHeaders(headers: IncomingHttpHeaders): PresentedCredentials {
  const credentials: PresentedCredentials = {};
  const authorization = headers.authorization;
  if (authorization !== undefined) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    // A malformed Authorization header is an invalid credential, not a missing one.
    credentials.bearer = match?.[1] ?? authorization;
  }
  const apiKey = headers['x-api-key'];
  if (typeof apiKey === 'string' && apiKey !== '') credentials.apiKey = apiKey;
  const cookie = cookieValue(headers.cookie, SESSION_COOKIE);
  if (cookie !== undefined) credentials.sessionCookie = cookie;
  return credentials;
}

/** The value of cookie `name` in a `Cookie` header (RFC 6265 §5.4), or undefined. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0 || part.slice(0, eq).trim() !== name) continue;
    let value = part.slice(eq + 1).trim();
    if (value.startsWith('"') && value.endsWith('"') && value.length >= 2) value = value.slice(1, -1);
    try {
      return value === '' ? undefined : decodeURIComponent(value);
    } catch {
      return value;
    }
  }
  return undefined;
}

/**
 * Turns presented credentials into a principal, in the design page's order: an access token
 * (`Authorization: Bearer <jwt>`), an API key (`Bearer iocak_…` or `X-API-Key`), the session
 * cookie. The first one presented decides: a bad token is refused even with a good cookie.
 * Role and scope always come from the database (never from the token), and the session, account,
 * key and agency are checked on every call, so logout, revocation and disabling take effect at once.
 */
@Injectable()
export class Authenticator {
  constructor(
    @Inject(ACCESS) private readonly access: AccessPort,
    private readonly jwt: JwtService,
    @Inject(DEVICE_REGISTRY) private readonly registry: RegistryReader,
  ) {}

  /** The principal of `credentials`, or why none (never throws for bad credentials). */
  async authenticate(credentials: PresentedCredentials): Promise<AuthOutcome> {
    const bearer = credentials.bearer;
    if (bearer !== undefined && !bearer.startsWith(API_KEY_PREFIX)) return this.byAccessToken(bearer);
    const key = bearer ?? credentials.apiKey;
    if (key !== undefined) return this.byApiKey(key);
    if (credentials.sessionCookie !== undefined) return this.byCookie(credentials.sessionCookie);
    return {
      ok: false,
      reason: 'missing-credentials',
      message:
        'authentication required: send an access token (Authorization: Bearer …), an API key (X-API-Key) or the session cookie',
    };
  }

  /**
   * A new access token for a session of an account: `{accessToken, expiresIn}` (seconds, the
   * configured TTL). Claims: `sub` account id, `sid` session id, `typ: 'access'`, `iat`, `exp`.
   */
  async issueAccessToken(
    accountId: string,
    sessionId: string,
  ): Promise<{ accessToken: string; expiresIn: number }> {
    const expiresIn = this.access.accessTokenTtlSeconds;
    const claims: AccessClaims = { sub: accountId, sid: sessionId, typ: 'access' };
    const accessToken = await this.jwt.signAsync(claims, { algorithm: 'HS256', expiresIn });
    return { accessToken, expiresIn };
  }

  /**
   * Whether a principal authenticated earlier is still good now (its session live, its key
   * unrevoked and unexpired, its account and agency active), with its role and scope as they are
   * now. The live feed calls it for its sockets.
   */
  async recheck(principal: Principal): Promise<AuthOutcome> {
    if (principal.kind === 'apiKey') {
      const record = await this.access.apiKeys.get(principal.id);
      if (!record) return refuse('invalid-api-key', 'the API key no longer exists');
      if (record.status === 'revoked') return refuse('api-key-revoked', 'the API key was revoked');
      if (record.status === 'expired') return refuse('api-key-expired', 'the API key has expired');
      const agency = await this.access.agencies.get(record.agencyId);
      if (!agency || agency.state !== 'active')
        return refuse('agency-disabled', `agency "${record.agencyId}" is disabled`);
      return { ok: true, principal: principalOfApiKey(record, agency), via: 'apiKey' };
    }
    if (principal.sessionId === undefined) return refuse('session-ended', 'no session');
    return this.ofSession(principal.sessionId, principal.id, 'token');
  }

  private async byAccessToken(token: string): Promise<AuthOutcome> {
    let claims: AccessClaims & { exp: number };
    try {
      claims = await this.jwt.verifyAsync<AccessClaims & { exp: number }>(token, { algorithms: ['HS256'] });
    } catch (error) {
      return (error as { name?: string }).name === 'TokenExpiredError'
        ? refuse('token-expired', 'the access token has expired: refresh it or log in again')
        : refuse('invalid-token', 'the access token is not valid');
    }
    if (
      claims.typ !== 'access' ||
      typeof claims.sub !== 'string' ||
      typeof claims.sid !== 'string' ||
      typeof claims.exp !== 'number'
    ) {
      return refuse('invalid-token', 'the token is not an access token');
    }
    const outcome = await this.ofSession(claims.sid, claims.sub, 'token');
    return outcome.ok ? { ...outcome, expiresAt: claims.exp * 1000 } : outcome;
  }

  private async byApiKey(key: string): Promise<AuthOutcome> {
    const result = await this.access.apiKeys.authenticate(key);
    if (result.ok)
      return { ok: true, principal: principalOfApiKey(result.record, result.agency), via: 'apiKey' };
    const messages: Record<typeof result.reason, string> = {
      'invalid-api-key': 'the API key is not valid',
      'api-key-revoked': 'the API key was revoked',
      'api-key-expired': 'the API key has expired',
      'agency-disabled': "the API key's agency is disabled",
    };
    return refuse(result.reason, messages[result.reason]);
  }

  private async byCookie(token: string): Promise<AuthOutcome> {
    const session = await this.access.sessions.findByToken(token);
    if (!session) return refuse('session-ended', 'the session has ended: log in again');
    return this.ofSession(session.id, session.accountId, 'cookie', session);
  }

  /** The principal of a live session of `accountId` (its role and scope as stored now), or why not. */
  async ofSession(
    sessionId: string,
    accountId: string,
    via: 'token' | 'cookie',
    found?: { id: string; accountId: string },
  ): Promise<AuthOutcome> {
    const session = found ?? (await this.access.sessions.check(sessionId));
    if (!session || session.accountId !== accountId) {
      // Say why when the session was ended by disabling its account or agency.
      const ended = session ? undefined : await this.access.sessions.get(sessionId);
      if (ended?.revokedReason === 'account-disabled' || ended?.revokedReason === 'agency-disabled')
        return refuse('account-disabled', `the session ended: ${ended.revokedReason.replace('-', ' ')}`);
      return refuse('session-ended', 'the session has ended: log in again');
    }
    const account = await this.access.accounts.get(accountId);
    if (!account || account.state !== 'active') return refuse('account-disabled', 'the account is disabled');
    const agency =
      account.agencyId === undefined ? undefined : await this.access.agencies.get(account.agencyId);
    if (agency && agency.state !== 'active')
      return refuse('account-disabled', `the account's agency "${agency.id}" is disabled`);
    const principal = principalOfAccount(account, agency, session.id, (area) => this.registry.areaPath(area));
    return { ok: true, principal, via };
  }
}

function refuse(reason: AuthFailureReason, message: string): AuthOutcome {
  return { ok: false, reason, message };
}
