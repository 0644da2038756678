import { z } from 'zod';
import { DOMAINS, type Domain } from './domains';

/*
 * People and agencies: who may do what on the platform. Shared by the API (which enforces it)
 * and the console (which shows or hides what a user may do).
 */

/**
 * Roles of a person's account, each including the one before it:
 * - `viewer` reads (devices, latest values, history, areas, status, the live feed);
 * - `operator` also acknowledges alerts and sends device commands;
 * - `admin` also provisions devices and areas, manages accounts, agencies, API keys and rules,
 *   and reads the audit log.
 */
export const ROLES = ['viewer', 'operator', 'admin'] as const;
export type Role = (typeof ROLES)[number];
export const roleSchema = z.enum(ROLES);

/** Whether `role` includes `required` (admin ⊇ operator ⊇ viewer). */
export function roleIncludes(role: Role, required: Role): boolean {
  return ROLES.indexOf(role) >= ROLES.indexOf(required);
}

/** Area ids as the registry writes them (letters, digits, `-`, `_`, `.`; ≤ 128 characters). */
const scopeAreaId = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'malformed area id');

/**
 * What data a principal may read: a set of domains × a set of area subtrees. A device is in scope
 * when its domain is one of `domains` AND one of `areas` is on its area path (the area itself or
 * an ancestor). An absent list is unrestricted on that axis; a scope with both absent is the whole
 * province. An empty list is refused (it would be a scope nobody could use).
 */
export const accessScopeSchema = z.strictObject({
  domains: z
    .array(z.enum(DOMAINS))
    .min(1)
    .max(DOMAINS.length)
    .optional()
    .describe('Domains readable; absent = every domain'),
  areas: z
    .array(scopeAreaId)
    .min(1)
    .max(200)
    .optional()
    .describe('Area subtrees readable (each area with its sub-areas); absent = every area'),
});
export type AccessScope = z.infer<typeof accessScopeSchema>;

/** Who a request acts as, once authenticated. */
export interface Principal {
  /** `account`: a person (local or SSO); `apiKey`: an agency's API key. */
  kind: 'account' | 'apiKey';
  /** The account id or the API key id. */
  id: string;
  /** Username, or the key's name (for logs and the audit trail). */
  name: string;
  /** API keys are always `viewer`. */
  role: Role;
  /**
   * Effective scope: the agency's scope intersected with the account's own, or null when the
   * principal may read the whole province.
   */
  scope: AccessScope | null;
  /** The agency an API key or an agency user belongs to. */
  agencyId?: string;
  /** The login session a token or cookie belongs to (accounts only). */
  sessionId?: string;
}

/** Is a device (its domain and area path, root first) inside `scope`? A null scope holds everything. */
export function scopeHoldsDevice(
  scope: AccessScope | null,
  device: { domain: Domain; areaPath: readonly string[] },
): boolean {
  if (scope === null) return true;
  if (scope.domains && !scope.domains.includes(device.domain)) return false;
  if (scope.areas && !scope.areas.some((area) => device.areaPath.includes(area))) return false;
  return true;
}

/** Is an area (its path, root first, ending with itself) inside the area axis of `scope`? */
export function scopeHoldsArea(scope: AccessScope | null, areaPath: readonly string[]): boolean {
  if (scope === null || scope.areas === undefined) return true;
  return scope.areas.some((area) => areaPath.includes(area));
}

/**
 * What a 403 `reason: 'out-of-scope'` names (the `outOfScope` field of the error body): the
 * device, area or domain a request named that lies outside the principal's scope, or `resource`,
 * a platform-wide resource no scoped principal may read or change (`ingest-stats`,
 * `registry-writes`, `administration`). Exactly what the request named, so a client can tell which filter to drop.
 */
export const outOfScopeSchema = z.strictObject({
  device: z.string().optional(),
  area: z.string().optional(),
  domain: z.enum(DOMAINS).optional(),
  resource: z.string().optional(),
});
export type OutOfScope = z.infer<typeof outOfScopeSchema>;
