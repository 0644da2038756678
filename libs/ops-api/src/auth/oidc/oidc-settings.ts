import { z } from 'zod';
import { type Role, ROLES } from '@ioc/contracts';
import { ConfigError, envField } from '@ioc/runtime';

/**
 * Environment variables of single sign-on (OpenID Connect). SSO is on when `IOC_OIDC_ISSUER` is
 * set; then the client id, secret, redirect URI and role map are required (oidcSettingsFromEnv).
 */
export const oidcEnvShape = {
  IOC_OIDC_ISSUER: z
    .url()
    .optional()
    .describe(
      'Issuer URL of the OpenID Connect provider (discovery at <issuer>/.well-known/openid-configuration); set = SSO on',
    ),
  IOC_OIDC_CLIENT_ID: z.string().min(1).optional().describe('Client id of the API at the provider'),
  IOC_OIDC_CLIENT_SECRET: z
    .string()
    .min(1)
    .optional()
    .describe('Client secret (client_secret_basic at the token endpoint); secret'),
  IOC_OIDC_REDIRECT_URI: z
    .url()
    .optional()
    .describe(
      'The callback URL registered at the provider: <public URL of the API>/api/v1/auth/oidc/callback',
    ),
  IOC_OIDC_SCOPES: z
    .string()
    .default('openid profile email')
    .refine((s) => s.split(/\s+/).includes('openid'), 'must include "openid"')
    .describe('Scopes requested, space-separated'),
  IOC_OIDC_ROLE_CLAIM: z
    .string()
    .regex(/^[^.\s]+(\.[^.\s]+)*$/, 'a claim name, or a dotted path into nested claims')
    .default('groups')
    .describe(
      'Claim holding the values the role map reads (a string or an array of strings); a dotted path reaches nested claims, e.g. realm_access.roles',
    ),
  IOC_OIDC_ROLE_MAP: z
    .string()
    .optional()
    .describe(
      'value=role,… (or a JSON object {"value":"role"}): claim values and the role they give; the highest matching role wins',
    ),
  IOC_OIDC_USERNAME_CLAIM: z
    .string()
    .min(1)
    .default('preferred_username')
    .describe('Claim giving the username (falls back to sub)'),
  IOC_OIDC_AGENCY_CLAIM: z
    .string()
    .min(1)
    .optional()
    .describe(
      "Claim whose value is the id of the agency the person works for (their scope is at most the agency's)",
    ),
  IOC_OIDC_POST_LOGIN_URL: z
    .string()
    // Not `//host` nor `/\host`: browsers read both as another site (an open redirect).
    .regex(/^\/(?![/\\])/, 'a path on this site, starting with one "/"')
    .default('/')
    .describe('Where the browser goes after an SSO login'),
  IOC_OIDC_POST_LOGOUT_REDIRECT_URI: z
    .url()
    .optional()
    .describe(
      'Where the provider sends the browser after logout (registered at the provider as a post-logout redirect URI)',
    ),
  IOC_OIDC_DISPLAY_NAME: z
    .string()
    .min(1)
    .max(100)
    .default('Single sign-on')
    .describe("The login button's label"),
  IOC_OIDC_ALLOW_HTTP: envField
    .boolean(false)
    .describe('Allow an http:// issuer (tests and development only; a real provider is https)'),
};

/** The parsed SSO variables (part of the API's environment). */
export type OidcEnv = z.infer<z.ZodObject<typeof oidcEnvShape>>;

/** Claim value → the role it gives (exact, case-sensitive match). */
export type OidcRoleMap = ReadonlyMap<string, Role>;

/** Single sign-on as configured; null when IOC_OIDC_ISSUER is unset. */
export interface OidcSettings {
  issuer: string;
  clientId: string;
  clientSecret: string;
  redirectUri: string;
  /** Scopes requested (always with `openid`). */
  scopes: string[];
  /** Claim name, or a dotted path (`realm_access.roles`). */
  roleClaim: string;
  roleMap: OidcRoleMap;
  usernameClaim: string;
  agencyClaim: string | null;
  /** A path on the API's site. */
  postLoginUrl: string;
  postLogoutRedirectUri: string | null;
  displayName: string;
  /** Whether an http:// issuer is allowed (openid-client's allowInsecureRequests). */
  allowHttp: boolean;
}

/**
 * Parses IOC_OIDC_ROLE_MAP: `value=role` pairs separated by commas (the value is everything
 * before the last `=`), or, for values that contain `,` or `=` (an LDAP DN), a JSON object
 * `{"cn=admins,ou=groups": "admin"}`.
 * @throws Error naming the bad entry (an unknown role, an empty value, a repeated value, no entry)
 */
export function parseRoleMap(text: string): OidcRoleMap {
  const trimmed = text.trim();
  let pairs: Array<[string, string]>;
  if (trimmed.startsWith('{') || trimmed.startsWith('[')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(trimmed);
    } catch (error) {
      throw new Error(`not valid JSON: ${(error as Error).message}`);
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      throw new Error('the JSON form must be an object {"value": "role"}');
    }
    pairs = Object.entries(parsed as Record<string, unknown>).map(([value, role]) => [value, String(role)]);
  } else {
    pairs = trimmed
      .split(',')
      .map((entry) => entry.trim())
      .filter((entry) => entry !== '')
      .map((entry) => {
        const at = entry.lastIndexOf('=');
        if (at < 0) throw new Error(`"${entry}" is not value=role`);
        return [entry.slice(0, at).trim(), entry.slice(at + 1).trim()];
      });
  }
  const map = new Map<string, Role>();
  for (const [value, role] of pairs) {
    if (value === '') throw new Error(`"=${role}" has no claim value`);
    if (!(ROLES as readonly string[]).includes(role)) {
      throw new Error(`"${value}=${role}": the role must be one of ${ROLES.join(', ')}`);
    }
    if (map.has(value)) throw new Error(`"${value}" is mapped twice`);
    map.set(value, role as Role);
  }
  if (map.size === 0) throw new Error('maps no value to a role: nobody could log in through SSO');
  return map;
}

/**
 * Single sign-on settings from the parsed environment, or null when IOC_OIDC_ISSUER is unset.
 * @throws ConfigError naming every missing or bad variable when SSO is on (client id, secret,
 *   redirect URI and role map are then required; an http:// issuer needs IOC_OIDC_ALLOW_HTTP)
 */
export function oidcSettingsFromEnv(env: OidcEnv): OidcSettings | null {
  if (env.IOC_OIDC_ISSUER === undefined) return null;
  const problems: string[] = [];
  const required = [
    'IOC_OIDC_CLIENT_ID',
    'IOC_OIDC_CLIENT_SECRET',
    'IOC_OIDC_REDIRECT_URI',
    'IOC_OIDC_ROLE_MAP',
  ] as const;
  for (const name of required) {
    if (env[name] === undefined) problems.push(`${name}: required when IOC_OIDC_ISSUER is set`);
  }
  const issuerUrl = new URL(env.IOC_OIDC_ISSUER);
  if (issuerUrl.protocol !== 'https:' && !(issuerUrl.protocol === 'http:' && env.IOC_OIDC_ALLOW_HTTP)) {
    problems.push(
      `IOC_OIDC_ISSUER: must be https:// (an http:// issuer needs IOC_OIDC_ALLOW_HTTP=true, for tests only) (got "${env.IOC_OIDC_ISSUER}")`,
    );
  }
  let roleMap: OidcRoleMap = new Map();
  if (env.IOC_OIDC_ROLE_MAP !== undefined) {
    try {
      roleMap = parseRoleMap(env.IOC_OIDC_ROLE_MAP);
    } catch (error) {
      problems.push(`IOC_OIDC_ROLE_MAP: ${(error as Error).message}`);
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return {
    issuer: env.IOC_OIDC_ISSUER,
    clientId: env.IOC_OIDC_CLIENT_ID as string,
    clientSecret: env.IOC_OIDC_CLIENT_SECRET as string,
    redirectUri: env.IOC_OIDC_REDIRECT_URI as string,
    scopes: env.IOC_OIDC_SCOPES.split(/\s+/).filter((s) => s !== ''),
    roleClaim: env.IOC_OIDC_ROLE_CLAIM,
    roleMap,
    usernameClaim: env.IOC_OIDC_USERNAME_CLAIM,
    agencyClaim: env.IOC_OIDC_AGENCY_CLAIM ?? null,
    postLoginUrl: env.IOC_OIDC_POST_LOGIN_URL,
    postLogoutRedirectUri: env.IOC_OIDC_POST_LOGOUT_REDIRECT_URI ?? null,
    displayName: env.IOC_OIDC_DISPLAY_NAME,
    allowHttp: env.IOC_OIDC_ALLOW_HTTP,
  };
}
