import { LoginRateLimit } from '../../edge/rate-limit';
import { Controller, Get, HttpStatus, Inject, Logger, Req, Res } from '@nestjs/common';
import { ApiExcludeEndpoint, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { AccessError } from '@ioc/access';
import { type AuthProvidersBody, authProvidersBody, type Principal, USERNAME_PATTERN } from '@ioc/contracts';
import type { AccessPort } from '../../access-port';
import { Public } from '../../common/auth.decorators';
import { ApiAnswers } from '../../common/openapi-zod';
import { ACCESS, OIDC } from '../../tokens';
import { challenge } from '../auth-errors';
import { AuditTrail } from '../../audit/audit-trail.service';
import { Authenticator, cookieValue, SESSION_COOKIE, sessionCookieOptions } from '../authenticator';
import { mapOidcClaims } from './oidc-claims';
import { OidcLoginError, type OidcRelyingParty } from './oidc-relying-party';
import type { OidcPort } from './oidc-port';
import {
  OIDC_STATE_COOKIE,
  OIDC_STATE_COOKIE_PATH,
  OidcStateCookie,
  OIDC_STATE_TTL_MS,
} from './oidc-state-cookie';

/** Path of the login route: the console's "log in with SSO" button goes there. */
export const OIDC_LOGIN_PATH = '/api/v1/auth/oidc/login';

/** Why an SSO login was refused (the `reason` of its answer and of its audit entry). */
export type OidcRefusal =
  | 'sso-disabled'
  | 'oidc-state-missing'
  | 'oidc-state-invalid'
  | 'oidc-state-expired'
  | 'oidc-provider-error'
  | 'oidc-provider-unavailable'
  | 'oidc-invalid-response'
  | 'no-mapped-role'
  | 'bad-claims'
  | 'username-taken'
  | 'unknown-agency'
  | 'agency-disabled'
  | 'account-disabled';

const STATUS: Record<OidcRefusal, number> = {
  'sso-disabled': HttpStatus.NOT_FOUND,
  'oidc-state-missing': HttpStatus.BAD_REQUEST,
  'oidc-state-invalid': HttpStatus.BAD_REQUEST,
  'oidc-state-expired': HttpStatus.BAD_REQUEST,
  'oidc-provider-error': HttpStatus.UNAUTHORIZED,
  'oidc-provider-unavailable': HttpStatus.BAD_GATEWAY,
  'oidc-invalid-response': HttpStatus.BAD_GATEWAY,
  'no-mapped-role': HttpStatus.FORBIDDEN,
  'bad-claims': HttpStatus.FORBIDDEN,
  'username-taken': HttpStatus.FORBIDDEN,
  'unknown-agency': HttpStatus.FORBIDDEN,
  'agency-disabled': HttpStatus.FORBIDDEN,
  'account-disabled': HttpStatus.UNAUTHORIZED,
};

const ERROR_NAMES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  502: 'Bad Gateway',
};

/**
 * Single sign-on through an OpenID Connect provider (authorization code flow with PKCE):
 * `GET /api/v1/auth/providers` (public: how one may log in), `GET /api/v1/auth/oidc/login`
 * (redirect to the provider), `GET /api/v1/auth/oidc/callback` (the provider sends the browser
 * back here: the code is exchanged, the claims mapped to a role, the SSO account created or
 * updated and a cookie session opened as a password login would). Refusals answer a small HTML
 * page to a browser (Accept: text/html) and `{statusCode, error, message, reason}` otherwise,
 * and leave an `auth.oidc-login` failure in the audit log.
 */
@ApiTags('auth')
@Controller('api/v1/auth')
export class OidcController {
  private readonly logger = new Logger('OidcController');
  private readonly stateCookie: OidcStateCookie;

  constructor(
    @Inject(ACCESS) private readonly access: AccessPort,
    @Inject(OIDC) private readonly oidc: OidcPort | null,
    private readonly authenticator: Authenticator,
    private readonly audit: AuditTrail,
  ) {
    this.stateCookie = new OidcStateCookie(access.tokenSecret);
  }

  @Get('providers')
  @Public()
  @ApiOperation({
    summary:
      'How one may log in: password (always, for local and break-glass accounts) and single sign-on when configured',
  })
  @ApiAnswers({ body: authProvidersBody, errors: [] })
  providers(): AuthProvidersBody {
    return {
      password: true,
      oidc: this.oidc
        ? { enabled: true, name: this.oidc.settings.displayName, loginUrl: OIDC_LOGIN_PATH }
        : { enabled: false },
    };
  }

  @Get('oidc/login')
  @Public()
  // A browser navigation (302 to the provider), not an API call: documented in the README.
  @ApiExcludeEndpoint()
  async login(@Req() request: Request, @Res() response: Response): Promise<void> {
    if (!this.oidc) return this.refuse(request, response, 'sso-disabled', 'single sign-on is not configured');
    let begun: Awaited<ReturnType<OidcRelyingParty['beginLogin']>>;
    try {
      begun = await this.oidc.relyingParty.beginLogin();
    } catch (error) {
      if (!(error instanceof OidcLoginError)) throw error;
      this.logger.warn(error.message);
      return this.refuse(request, response, error.reason, error.message);
    }
    response.cookie(OIDC_STATE_COOKIE, this.stateCookie.seal(begun.state), {
      httpOnly: true,
      // Lax, not Strict: the provider's redirect back to the callback is a cross-site top-level
      // GET navigation, which carries Lax cookies and not Strict ones (RFC 6265bis, SameSite).
      sameSite: 'lax',
      path: OIDC_STATE_COOKIE_PATH,
      secure: this.access.secureCookie ?? false,
      maxAge: OIDC_STATE_TTL_MS,
    });
    response.setHeader('Cache-Control', 'no-store');
    response.redirect(HttpStatus.FOUND, begun.url);
  }

  @Get('oidc/callback')
  @LoginRateLimit()
  @Public()
  // The provider's redirect back (OIDC Core §3.1.2.5): a browser navigation, not an API call.
  @ApiExcludeEndpoint()
  async callback(@Req() request: Request, @Res() response: Response): Promise<void> {
    if (!this.oidc) return this.refuse(request, response, 'sso-disabled', 'single sign-on is not configured');
    const { settings, relyingParty } = this.oidc;
    const address = request.ip ?? 'unknown';
    const userAgent = request.headers['user-agent']?.slice(0, 512);
    // The state is single-use: cleared whatever the outcome.
    response.clearCookie(OIDC_STATE_COOKIE, {
      httpOnly: true,
      sameSite: 'lax',
      path: OIDC_STATE_COOKIE_PATH,
      secure: this.access.secureCookie ?? false,
    });
    const fail = async (
      reason: OidcRefusal,
      message: string,
      detail: Record<string, unknown> = {},
      name?: string,
    ): Promise<void> => {
      await this.audit.record(request, {
        actor: { kind: 'anonymous', ...(name === undefined ? {} : { name: name.slice(0, 64) }) },
        action: 'auth.oidc-login',
        outcome: 'failure',
        detail: { reason, issuer: settings.issuer, ...detail },
      });
      this.refuse(request, response, reason, message);
    };

    const state = this.stateCookie.open(cookieValue(request.headers.cookie, OIDC_STATE_COOKIE));
    if (typeof state === 'string') {
      const messages = {
        'oidc-state-missing': 'no single sign-on login is in progress in this browser: start again',
        'oidc-state-invalid': 'the single sign-on login state is not valid: start again',
        'oidc-state-expired': 'the single sign-on login took too long: start again',
      };
      return fail(state, messages[state]);
    }
    const query = request.originalUrl.includes('?')
      ? request.originalUrl.slice(request.originalUrl.indexOf('?'))
      : '';
    let login: Awaited<ReturnType<OidcRelyingParty['completeLogin']>>;
    try {
      login = await relyingParty.completeLogin(query, state);
    } catch (error) {
      if (!(error instanceof OidcLoginError)) throw error;
      if (error.reason !== 'oidc-provider-error') this.logger.warn(error.message);
      return fail(error.reason, error.message);
    }

    const mapped = mapOidcClaims(login.claims, settings);
    if (!mapped.ok) {
      return fail(
        mapped.reason,
        mapped.message,
        {
          subject: mapped.subject,
          username: mapped.username,
          roleValues: mapped.roleValues.slice(0, 50).map((value) => value.slice(0, 200)),
        },
        mapped.username ?? undefined,
      );
    }
    const identity = mapped.identity;
    const who = { subject: identity.subject, username: identity.username, role: identity.role };
    if (!USERNAME_PATTERN.test(identity.username)) {
      return fail(
        'bad-claims',
        `the username "${identity.username.slice(0, 64)}" from the "${settings.usernameClaim}" claim is not a valid username (letters, digits, ".", "_", "@", "-"; 2-64 characters)`,
        who,
        identity.username,
      );
    }
    if (identity.agencyId !== null) {
      const agency = await this.access.agencies.get(identity.agencyId);
      if (!agency) {
        return fail(
          'unknown-agency',
          `the agency "${identity.agencyId.slice(0, 64)}" named by the "${settings.agencyClaim}" claim does not exist`,
          { ...who, agencyId: identity.agencyId },
          identity.username,
        );
      }
      if (agency.state !== 'active') {
        return fail(
          'agency-disabled',
          `the agency "${agency.id}" is disabled`,
          { ...who, agencyId: agency.id },
          identity.username,
        );
      }
    }

    let account;
    try {
      account = await this.access.accounts.upsertOidc({
        issuer: settings.issuer,
        subject: identity.subject,
        username: identity.username,
        displayName: identity.displayName,
        role: identity.role,
      });
      // With an agency claim configured the provider says which agency a person works for
      // (absent: none); without one, an admin sets it on the account.
      if (settings.agencyClaim !== null && (account.agencyId ?? null) !== identity.agencyId) {
        account = await this.access.accounts.update(account.id, { agencyId: identity.agencyId });
      }
    } catch (error) {
      if (error instanceof AccessError && error.code === 'conflict') {
        return fail(
          'username-taken',
          `the username "${identity.username}" belongs to another account (a local account is never taken over by single sign-on): an admin must rename one of them`,
          who,
          identity.username,
        );
      }
      if (error instanceof AccessError && error.code === 'invalid') {
        return fail(
          'bad-claims',
          `the provider's claims do not make a valid account: ${error.message}`,
          who,
          identity.username,
        );
      }
      throw error;
    }
    if (account.state !== 'active') {
      return fail(
        'account-disabled',
        'the account is disabled',
        { ...who, accountId: account.id },
        identity.username,
      );
    }

    const { session, token } = await this.access.sessions.create({
      accountId: account.id,
      kind: 'cookie',
      via: 'oidc',
      address,
      ...(userAgent === undefined ? {} : { userAgent }),
      oidcIdToken: login.idToken,
    });
    const outcome = await this.authenticator.ofSession(session.id, account.id, 'cookie', session);
    if (!outcome.ok) {
      await this.access.sessions.revoke(session.id, outcome.reason);
      // The account or its agency was disabled between the checks above and now (the message says which).
      return fail('account-disabled', outcome.message, who, identity.username);
    }
    await this.access.accounts.recordLogin(account.id);
    const principal: Principal = outcome.principal;
    await this.audit.record(request, {
      actor: principal,
      action: 'auth.oidc-login',
      entity: { type: 'session', id: session.id },
      detail: { via: 'oidc', issuer: settings.issuer, ...who, matchedValues: identity.matchedValues },
    });
    response.cookie(SESSION_COOKIE, token, {
      ...sessionCookieOptions(this.access.secureCookie ?? false),
      expires: new Date(Date.parse(session.expiresAt)),
    });
    response.setHeader('Cache-Control', 'no-store');
    response.redirect(HttpStatus.FOUND, settings.postLoginUrl);
  }

  /** Answers a refusal: an HTML page to a browser, JSON otherwise. */
  private refuse(request: Request, response: Response, reason: OidcRefusal, message: string): void {
    const status = STATUS[reason];
    const error = ERROR_NAMES[status] ?? 'Error';
    response.setHeader('Cache-Control', 'no-store');
    if (status === HttpStatus.UNAUTHORIZED)
      response.setHeader('WWW-Authenticate', challenge(reason, message));
    if (request.accepts(['json', 'html']) === 'html') {
      response
        .status(status)
        .type('html')
        .send(
          `<!DOCTYPE html><html><head><meta charset="utf-8"><title>Login refused</title></head><body>` +
            `<h1>Login refused</h1><p>${escapeHtml(message)}</p><p><code>${reason}</code></p>` +
            `<p><a href="/">Back to the login page</a></p></body></html>`,
        );
      return;
    }
    response.status(status).json({ statusCode: status, error, message, reason });
  }
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
