import { type Role, ROLES } from '@ioc/contracts';
import type { OidcSettings } from './oidc-settings';

/** Longest username or display name taken from a claim (longer ones are refused, not cut). */
export const MAX_OIDC_NAME_LENGTH = 200;

/** Who an SSO login is, once its claims are mapped. */
export interface OidcIdentity {
  /** The provider's `sub`: with the issuer, the account's stable key (OIDC Core §5.7). */
  subject: string;
  username: string;
  displayName: string;
  /** The highest role any of `roleValues` maps to. */
  role: Role;
  /** The agency claim's value, or null (no agency claim configured, or absent). */
  agencyId: string | null;
  email: string | null;
  /** The role claim's values that mapped to a role (kept in the audit entry). */
  matchedValues: string[];
}

/** Why a login's claims give no account. */
export type OidcRefusalReason = 'no-mapped-role' | 'bad-claims';

export type OidcMapping =
  | { ok: true; identity: OidcIdentity }
  | {
      ok: false;
      reason: OidcRefusalReason;
      message: string;
      /** What the claims said, for the audit entry (no tokens). */
      subject: string | null;
      username: string | null;
      roleValues: string[];
    };

/** A claim by name or dotted path (`realm_access.roles`); undefined when absent. */
export function claimAt(claims: Record<string, unknown>, path: string): unknown {
  if (Object.hasOwn(claims, path)) return claims[path];
  let value: unknown = claims;
  for (const part of path.split('.')) {
    if (value === null || typeof value !== 'object' || !Object.hasOwn(value, part)) return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}

/** The role claim's values: a string is one value, an array gives its strings (others ignored). */
export function roleClaimValues(claims: Record<string, unknown>, path: string): string[] {
  const value = claimAt(claims, path);
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === 'string');
  return [];
}

/** A string claim that is not empty, or null. */
function stringClaim(claims: Record<string, unknown>, path: string | null): string | null {
  if (path === null) return null;
  const value = claimAt(claims, path);
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : null;
}

/**
 * Maps a login's claims (ID token merged with UserInfo) to an identity: the role is the highest
 * one (ROLES order) any value of the role claim maps to; the username is the username claim, or
 * `sub` when that is absent; the display name is `name`, or the username.
 * Refusals (never throws): `no-mapped-role` when no value maps to a role; `bad-claims` when `sub`
 * is missing or a name is longer than MAX_OIDC_NAME_LENGTH.
 */
export function mapOidcClaims(
  claims: Record<string, unknown>,
  settings: Pick<OidcSettings, 'roleClaim' | 'roleMap' | 'usernameClaim' | 'agencyClaim'>,
): OidcMapping {
  const subject = typeof claims['sub'] === 'string' && claims['sub'] !== '' ? claims['sub'] : null;
  const username = stringClaim(claims, settings.usernameClaim) ?? subject;
  const roleValues = roleClaimValues(claims, settings.roleClaim);
  const refuse = (reason: OidcRefusalReason, message: string): OidcMapping => ({
    ok: false,
    reason,
    message,
    subject,
    username,
    roleValues,
  });
  if (subject === null || username === null) return refuse('bad-claims', 'the provider sent no "sub" claim');
  const displayName = stringClaim(claims, 'name') ?? username;
  if (username.length > MAX_OIDC_NAME_LENGTH || displayName.length > MAX_OIDC_NAME_LENGTH) {
    return refuse('bad-claims', `the username or name is longer than ${MAX_OIDC_NAME_LENGTH} characters`);
  }
  const matchedValues = roleValues.filter((value) => settings.roleMap.has(value));
  if (matchedValues.length === 0) {
    return refuse(
      'no-mapped-role',
      `no role for "${username}": the "${settings.roleClaim}" claim has ${
        roleValues.length === 0 ? 'no value' : `only ${roleValues.map((v) => `"${v}"`).join(', ')}`
      }, none of which is mapped to a role (IOC_OIDC_ROLE_MAP)`,
    );
  }
  const role = matchedValues
    .map((value) => settings.roleMap.get(value) as Role)
    .reduce((best, next) => (ROLES.indexOf(next) > ROLES.indexOf(best) ? next : best));
  return {
    ok: true,
    identity: {
      subject,
      username,
      displayName,
      role,
      agencyId: stringClaim(claims, settings.agencyClaim),
      email: stringClaim(claims, 'email'),
      matchedValues,
    },
  };
}
