export * from './api-config';
export * from './openapi';
export * from './ops-api.module';
export * from './registry-port';
export * from './edge/edge-config';
export { EdgeIoAdapter, HELMET_OPTIONS, helmetOptions, setupHttpEdge } from './edge/http-edge';
export { LoginRateLimit, NoRateLimit, RATE_LIMITED } from './edge/rate-limit';
export * from './access-port';
export {
  type ApiRedis,
  connectApiRedis,
  LIVE_CHANNEL_PREFIX,
  LIVE_SESSION_KEY_PREFIX,
  LIVE_STREAM_MAX_LEN,
  LIVE_STREAM_NAME,
  type LiveAdapterFactory,
  LOGIN_ADDRESS_KEY_PREFIX,
  RATE_LIMIT_KEY_PREFIX,
  RedisLoginAddressLimiter,
  RedisThrottlerStorage,
} from './cluster/api-redis';
export { ACCESS_ENDED_EVENT } from './auth/live-auth';
export * from './alerting-port';
export { sessionTokenFor } from './auth/session-token';
export { Authenticator, type AuthOutcome, type PresentedCredentials } from './auth/authenticator';
export {
  oidcEnvShape,
  oidcSettingsFromEnv,
  parseRoleMap,
  type OidcSettings,
} from './auth/oidc/oidc-settings';
export {
  createOidcRelyingParty,
  type OidcRelyingParty,
  OidcLoginError,
} from './auth/oidc/oidc-relying-party';
export type { OidcPort } from './auth/oidc/oidc-port';
export * from './notifications-port';
export * from './console/console-config';
export * from './console/console-files';
