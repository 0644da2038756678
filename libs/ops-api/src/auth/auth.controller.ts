import { LoginRateLimit } from '../edge/rate-limit';
import {
  BadRequestException,
  Body,
  Controller,
  Get,
  HttpCode,
  HttpStatus,
  Inject,
  Post,
  Query,
  Res,
} from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import {
  type ChangePasswordBody,
  changePasswordBody,
  type LoginBody,
  loginBody,
  type LoginRequestBody,
  loginRequestBody,
  type LogoutBody,
  logoutBody,
  type MeBody,
  meBody,
  type Principal,
  type RefreshRequestBody,
  refreshRequestBody,
  type TokenBody,
  tokenBody,
  USERNAME_PATTERN,
} from '@ioc/contracts';
import type { AccessPort } from '../access-port';
import { AuditedRequest, AuditTrail } from '../audit/audit-trail.service';
import { type AuthenticatedRequest, CurrentPrincipal, Public } from '../common/auth.decorators';
import { ApiAnswers, ApiBodyFrom } from '../common/openapi-zod';
import { NoParameters, ZodValidationPipe } from '../common/zod-validation.pipe';
import { ACCESS } from '../tokens';
import { accessHttpError } from './access-errors';
import { UserAgent } from './user-agent';
import { addressThrottled, unauthorized } from './auth-errors';
import { AuthEvents } from './auth-events';
import { Authenticator, SESSION_COOKIE } from './authenticator';
import { OidcLogout } from './oidc/oidc-logout';

/**
 * The audit actor name of a failed login whose username is not well formed (USERNAME_PATTERN):
 * its length goes in `detail.usernameLength` instead.
 */
export const MALFORMED_USERNAME = '(malformed username)';

/**
 * `/api/v1/auth`: password login (bearer tokens or a browser cookie session), refresh with
 * rotation, logout, who am I, change one's own password.
 */
@ApiTags('auth')
@Controller('api/v1/auth')
export class AuthController {
  constructor(
    @Inject(ACCESS) private readonly access: AccessPort,
    private readonly authenticator: Authenticator,
    private readonly events: AuthEvents,
    private readonly audit: AuditTrail,
    private readonly oidcLogout: OidcLogout,
  ) {}

  @Post('login')
  @LoginRateLimit()
  @Public()
  @HttpCode(HttpStatus.OK)
  @ApiOperation({
    summary: 'Logs in with a username and password: tokens (bearer) or a session cookie (cookie)',
    description:
      'bearer: answers an access token (JWT, valid expiresIn seconds) and a refresh token (exchange it at /auth/refresh). cookie: sets the httpOnly, SameSite=Strict `ioc_session` cookie for browsers. Refusals (401, `reason`): invalid-credentials (an unknown user and a wrong password answer alike), account-locked (too many failures, for an existing or an unknown username alike: Retry-After says when to try again; the password is not accepted), account-disabled. Too many failures from one address: 429 address-throttled with Retry-After.',
  })
  @ApiBodyFrom(loginRequestBody)
  @ApiAnswers({
    body: loginBody,
    errors: [HttpStatus.BAD_REQUEST, HttpStatus.UNAUTHORIZED, HttpStatus.TOO_MANY_REQUESTS],
  })
  async login(
    @Body(new ZodValidationPipe(loginRequestBody, 'field')) body: LoginRequestBody,
    @Query(NoParameters) _query: object,
    @AuditedRequest() request: AuthenticatedRequest,
    @UserAgent() userAgent: string | undefined,
    @Res({ passthrough: true }) response: Response,
  ): Promise<LoginBody> {
    const address = clientAddress(request);
    const result = await this.access.logins.login({
      username: body.username,
      password: body.password,
      address,
    });
    if (!result.ok) {
      // What was typed is recorded only when it is a well-formed username: the audit log keeps
      // no control characters, bidirectional overrides or pasted passwords from strangers.
      const wellFormed = USERNAME_PATTERN.test(body.username);
      await this.audit.record(request, {
        actor: {
          kind: 'anonymous',
          name: wellFormed ? body.username : MALFORMED_USERNAME,
          ...(result.accountId === undefined ? {} : { id: result.accountId }),
        },
        action: 'auth.login',
        outcome: 'failure',
        detail: {
          reason: result.reason,
          session: body.session,
          ...(wellFormed ? {} : { usernameLength: body.username.length }),
        },
      });
      switch (result.reason) {
        case 'address-throttled':
          throw addressThrottled(response, result.retryAfterMs ?? 60_000);
        case 'account-locked':
          throw unauthorized(
            response,
            'account-locked',
            'the account is locked after too many failed logins: try again later',
            result.retryAfterMs,
          );
        case 'account-disabled':
          throw unauthorized(response, 'account-disabled', 'the account is disabled');
        case 'invalid-credentials':
          throw unauthorized(response, 'invalid-credentials', 'wrong username or password');
      }
    }
    const { account } = result;
    const { session, token } = await this.access.sessions.create({
      accountId: account.id,
      kind: body.session,
      via: 'password',
      address,
      ...(userAgent === undefined ? {} : { userAgent }),
    });
    const outcome = await this.authenticator.ofSession(session.id, account.id, 'token', session);
    if (!outcome.ok) throw unauthorized(response, outcome.reason, outcome.message);
    const principal = { ...outcome.principal, displayName: account.displayName };
    await this.audit.record(request, {
      actor: outcome.principal,
      action: 'auth.login',
      entity: { type: 'session', id: session.id },
      detail: { session: body.session, via: 'password' },
    });
    if (body.session === 'cookie') {
      this.setCookie(response, token, Date.parse(session.expiresAt));
      return { principal };
    }
    return { principal, ...(await this.tokens(account.id, session.id, token, session.expiresAt)) };
  }

  @Post('refresh')
  @LoginRateLimit()
  @Public()
  @HttpCode(HttpStatus.OK)
  @ApiOperation({
    summary: 'Exchanges a refresh token for a new access token and a new refresh token (rotation)',
    description:
      'The refresh token presented is replaced: presenting it again later ends the whole session (reuse detection, OAuth 2.0 Security BCP §4.14.2) and answers 401 session-ended. An unknown token is 401 invalid-token; an ended session 401 session-ended.',
  })
  @ApiBodyFrom(refreshRequestBody)
  @ApiAnswers({ body: tokenBody, errors: [HttpStatus.BAD_REQUEST, HttpStatus.UNAUTHORIZED] })
  async refresh(
    @Body(new ZodValidationPipe(refreshRequestBody, 'field')) body: RefreshRequestBody,
    @Query(NoParameters) _query: object,
    @AuditedRequest() request: AuthenticatedRequest,
    @Res({ passthrough: true }) response: Response,
  ): Promise<TokenBody> {
    const result = await this.access.sessions.refresh(body.refreshToken);
    if ('refused' in result) {
      switch (result.refused) {
        case 'unknown':
          throw unauthorized(response, 'invalid-token', 'the refresh token is not valid');
        case 'reused':
          await this.audit.record(request, {
            actor: { kind: 'anonymous' },
            action: 'auth.refresh-reuse',
            outcome: 'failure',
            ...(result.session
              ? {
                  entity: { type: 'session', id: result.session.id },
                  detail: { accountId: result.session.accountId },
                }
              : {}),
          });
          if (result.session)
            this.events.publish({
              kind: 'sessions',
              sessionIds: [result.session.id],
              reason: 'refresh-reuse',
            });
          throw unauthorized(
            response,
            'session-ended',
            'this refresh token was already used: the session has been ended, log in again',
          );
        case 'expired':
        case 'revoked':
          throw unauthorized(response, 'session-ended', 'the session has ended: log in again');
      }
    }
    const account = await this.access.accounts.get(result.session.accountId);
    if (!account || account.state !== 'active')
      throw unauthorized(response, 'account-disabled', 'the account is disabled');
    return this.tokens(account.id, result.session.id, result.token, result.session.expiresAt);
  }

  @Post('logout')
  @HttpCode(HttpStatus.OK)
  @ApiOperation({
    summary: 'Ends the session of the access token or cookie: every token of it is refused from now on',
    description:
      "Clears the session cookie. Its live sockets end. An API key has no session (400): revoke it instead. A session opened through single sign-on also answers endSessionUrl, the provider's end-session URL, which the console follows to log out at the provider too.",
  })
  @ApiAnswers({ body: logoutBody, errors: [HttpStatus.BAD_REQUEST] })
  async logout(
    @CurrentPrincipal() principal: Principal,
    @Query(NoParameters) _query: object,
    @AuditedRequest() request: AuthenticatedRequest,
    @Res({ passthrough: true }) response: Response,
  ): Promise<LogoutBody> {
    if (principal.sessionId === undefined) {
      throw new BadRequestException({
        statusCode: 400,
        error: 'Bad Request',
        message:
          'an API key has no session to end: an admin revokes keys (DELETE /api/v1/agencies/{id}/keys/{keyId})',
      });
    }
    // An SSO session: the provider's end-session URL, for the console to log out there too.
    const endSessionUrl = await this.oidcLogout.endSessionUrl(principal.sessionId);
    const ended = await this.access.sessions.revoke(principal.sessionId, 'logout');
    this.events.publish({ kind: 'sessions', sessionIds: [principal.sessionId], reason: 'logout' });
    this.clearCookie(response);
    await this.audit.record(request, {
      actor: principal,
      action: 'auth.logout',
      entity: { type: 'session', id: principal.sessionId },
    });
    return { ended, ...(endSessionUrl === undefined ? {} : { endSessionUrl }) };
  }

  @Get('me')
  @ApiOperation({
    summary: 'Who the request acts as: role, scope, agency, and the display name of an account',
  })
  @ApiAnswers({ body: meBody, errors: [HttpStatus.BAD_REQUEST] })
  async me(@CurrentPrincipal() principal: Principal, @Query(NoParameters) _query: object): Promise<MeBody> {
    if (principal.kind !== 'account') return principal;
    const account = await this.access.accounts.get(principal.id);
    return account ? { ...principal, displayName: account.displayName } : principal;
  }

  @Post('password')
  @HttpCode(HttpStatus.OK)
  @ApiOperation({
    summary: "Changes one's own password (the current one is required); the account's other sessions end",
    description:
      'New password: 12-256 characters, not the username, not one repeated character, not a common password (NIST SP 800-63B §5.1.1.2). A wrong current password is a 400 naming currentPassword and counts as a failed login.',
  })
  @ApiBodyFrom(changePasswordBody)
  @ApiAnswers({ body: meBody, errors: [HttpStatus.BAD_REQUEST] })
  async changePassword(
    @CurrentPrincipal() principal: Principal,
    @Body(new ZodValidationPipe(changePasswordBody, 'field')) body: ChangePasswordBody,
    @Query(NoParameters) _query: object,
    @AuditedRequest() request: AuthenticatedRequest,
    @Res({ passthrough: true }) response: Response,
  ): Promise<MeBody> {
    if (principal.kind !== 'account' || principal.sessionId === undefined) {
      throw new BadRequestException({
        statusCode: 400,
        error: 'Bad Request',
        message: 'only an account has a password',
      });
    }
    const address = clientAddress(request);
    const checked = await this.access.logins.login({
      username: principal.name,
      password: body.currentPassword,
      address,
    });
    if (!checked.ok) {
      if (checked.reason === 'address-throttled')
        throw addressThrottled(response, checked.retryAfterMs ?? 60_000);
      throw new BadRequestException({
        statusCode: 400,
        error: 'Bad Request',
        parameter: 'currentPassword',
        reason: checked.reason,
        message:
          checked.reason === 'account-locked'
            ? 'the account is locked after too many failed logins: try again later'
            : 'the current password is wrong',
      });
    }
    const sessionId = principal.sessionId;
    const others = (await this.access.sessions.listOf(principal.id)).filter(
      (session) => session.id !== sessionId && session.revokedAt === undefined,
    );
    try {
      // Ends the account's other sessions (reason password-changed); this one goes on.
      await this.access.accounts.setPassword(principal.id, body.newPassword, { keepSessionId: sessionId });
    } catch (error) {
      throw accessHttpError(error, 'newPassword');
    }
    if (others.length > 0)
      this.events.publish({ kind: 'sessions', sessionIds: others.map((s) => s.id), reason: 'session-ended' });
    await this.audit.record(request, {
      actor: principal,
      action: 'account.password',
      entity: { type: 'account', id: principal.id },
      detail: { by: 'self', sessionsEnded: others.length },
    });
    return this.me(principal, {});
  }

  private async tokens(
    accountId: string,
    sessionId: string,
    refreshToken: string,
    sessionExpiresAt: string,
  ): Promise<TokenBody> {
    const { accessToken, expiresIn } = await this.authenticator.issueAccessToken(accountId, sessionId);
    return {
      accessToken,
      tokenType: 'Bearer',
      expiresIn,
      refreshToken,
      refreshExpiresAt: sessionExpiresAt,
    };
  }

  /** The session cookie (design page): httpOnly, SameSite=Strict, Path=/, Secure when configured. */
  private setCookie(response: Response, token: string, expiresAt: number): void {
    response.cookie(SESSION_COOKIE, token, {
      httpOnly: true,
      sameSite: 'strict',
      path: '/',
      secure: this.access.secureCookie ?? false,
      expires: new Date(expiresAt),
    });
  }

  private clearCookie(response: Response): void {
    response.clearCookie(SESSION_COOKIE, {
      httpOnly: true,
      sameSite: 'strict',
      path: '/',
      secure: this.access.secureCookie ?? false,
    });
  }
}

/** The client's address as the API sees it (`request.ip`, after trust proxy), for the login throttle. */
function clientAddress(request: AuthenticatedRequest): string {
  return request.ip ?? 'unknown';
}
