import type { Kysely } from 'kysely';
import {
  AccountRepository,
  AgencyRepository,
  ApiKeyRepository,
  type LoginAddressLimiter,
  LoginService,
  SessionRepository,
} from '@ioc/access';
import type { DatabaseSchema } from '@ioc/database';

/**
 * People and agencies (`@ioc/access`) as the API uses them to authenticate requests and sockets
 * and to manage accounts, agencies and API keys. Required: an API without it would be open to
 * anyone, so there is no such API.
 */
export interface AccessPort {
  accounts: AccountRepository;
  sessions: SessionRepository;
  logins: LoginService;
  agencies: AgencyRepository;
  apiKeys: ApiKeyRepository;
  /** HS256 key access tokens are signed with (loadTokenSecret): at least 32 bytes. */
  tokenSecret: Buffer;
  /** Lifetime of an access token, seconds (IOC_AUTH_ACCESS_TOKEN_TTL_SECONDS, default 900). */
  accessTokenTtlSeconds: number;
  /** Mark the session cookie `Secure` (IOC_HTTP_SECURE_COOKIE; true behind HTTPS). Default false. */
  secureCookie?: boolean;
  /**
   * Origins besides the API's own from which a cookie-authenticated unsafe request
   * (POST/PUT/PATCH/DELETE) is accepted (the allowed CORS origins). Default none.
   */
  allowedOrigins?: readonly string[];
  /**
   * How often the live feed re-checks the sessions and keys of its sockets, ms (default 2000), so
   * a session or key revoked on another API node ends its sockets here within that bound.
   */
  liveRecheckMs?: number;
}

/** Settings of createAccessPort; every one but the secret has the design page's default. */
export interface AccessPortSettings {
  /** HS256 key (loadTokenSecret), ≥ 32 bytes. */
  tokenSecret: Buffer;
  /** Default 900 s. */
  accessTokenTtlSeconds?: number;
  /** Default 30 minutes. */
  sessionIdleMs?: number;
  /** Default 12 hours. */
  sessionMaxMs?: number;
  /** Default 5 failures. */
  lockoutAttempts?: number;
  /** Default 15 minutes. */
  lockoutMs?: number;
  /** Default 20 failures per 15 minutes. */
  addressMaxFailures?: number;
  /**
   * Where failed logins per address are counted: this process's memory (MemoryLoginAddressLimiter
   * of addressMaxFailures) by default; several API nodes share one (ApiRedis.loginAddressLimiter).
   */
  addressLimiter?: LoginAddressLimiter;
  secureCookie?: boolean;
  allowedOrigins?: readonly string[];
  liveRecheckMs?: number;
}

/**
 * The access port over a registry database (migrated, 0003-access or later): the repositories of
 * @ioc/access with the given settings. What the app and the API's test helper hand the module.
 */
export function createAccessPort(db: Kysely<DatabaseSchema>, settings: AccessPortSettings): AccessPort {
  return {
    accounts: new AccountRepository(db),
    sessions: new SessionRepository(db, {
      idleMs: settings.sessionIdleMs ?? 30 * 60_000,
      maxMs: settings.sessionMaxMs ?? 12 * 3_600_000,
    }),
    logins: new LoginService(db, {
      lockoutAttempts: settings.lockoutAttempts ?? 5,
      lockoutMs: settings.lockoutMs ?? 15 * 60_000,
      addressMaxFailures: settings.addressMaxFailures ?? 20,
      ...(settings.addressLimiter === undefined ? {} : { addressLimiter: settings.addressLimiter }),
    }),
    agencies: new AgencyRepository(db),
    apiKeys: new ApiKeyRepository(db),
    tokenSecret: settings.tokenSecret,
    accessTokenTtlSeconds: settings.accessTokenTtlSeconds ?? 900,
    ...(settings.secureCookie === undefined ? {} : { secureCookie: settings.secureCookie }),
    ...(settings.allowedOrigins === undefined ? {} : { allowedOrigins: settings.allowedOrigins }),
    ...(settings.liveRecheckMs === undefined ? {} : { liveRecheckMs: settings.liveRecheckMs }),
  };
}
