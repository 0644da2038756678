import type {
  AccountRepository,
  AgencyRepository,
  ApiKeyRepository,
  LoginService,
  SessionRepository,
} from '@ioc/access';

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
