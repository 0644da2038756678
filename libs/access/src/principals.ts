import type { AccessScope, Principal } from '@ioc/contracts';
import type { AccountRecord } from './accounts';
import type { AgencyRecord } from './agencies';
import type { ApiKeyRecord } from './api-keys';

/**
 * The path of an area in the area tree, root first, ending with the area itself (as
 * `scopeHoldsDevice` takes it); undefined for an unknown area. The API builds it from its
 * in-memory registry (`DeviceRegistry`).
 */
export type AreaPathOf = (areaId: string) => readonly string[] | undefined;

/**
 * What an account may read: its agency's scope (if it has an agency) ∩ its own scope (if set);
 * null when neither restricts it.
 *
 * - domains: the lists' intersection (an absent list is every domain);
 * - areas: the areas of either list that lie inside a subtree of the other (an area of one list
 *   whose path holds an area of the other), without duplicates (an absent list is every area).
 *
 * An empty intersection is returned as an empty list (`{domains: []}`), which holds nothing
 * (scopeHoldsDevice refuses every device) — unlike accessScopeSchema, which refuses empty lists
 * as input.
 */
export function effectiveScope(
  agencyScope: AccessScope | null | undefined,
  accountScope: AccessScope | null | undefined,
  areaPath: AreaPathOf,
): AccessScope | null {
  const a = agencyScope ?? null;
  const b = accountScope ?? null;
  if (a === null && b === null) return null;
  if (a === null) return b === null ? null : copyScope(b);
  if (b === null) return copyScope(a);
  const result: AccessScope = {};
  const domains =
    a.domains && b.domains ? a.domains.filter((d) => b.domains?.includes(d)) : (a.domains ?? b.domains);
  if (domains) result.domains = [...domains];
  const areas = a.areas && b.areas ? intersectAreas(a.areas, b.areas, areaPath) : (a.areas ?? b.areas);
  if (areas) result.areas = [...areas];
  return result;
}

function intersectAreas(a: readonly string[], b: readonly string[], areaPath: AreaPathOf): string[] {
  const inside = (area: string, subtrees: readonly string[]): boolean => {
    const path = areaPath(area) ?? [area];
    return subtrees.some((root) => path.includes(root));
  };
  const result: string[] = [];
  for (const area of [...a.filter((x) => inside(x, b)), ...b.filter((x) => inside(x, a))]) {
    if (!result.includes(area)) result.push(area);
  }
  // Keep only the widest subtrees: an area inside another kept area adds nothing.
  return result.filter(
    (area) => !result.some((other) => other !== area && (areaPath(area) ?? [area]).includes(other)),
  );
}

function copyScope(scope: AccessScope): AccessScope {
  const copy: AccessScope = {};
  if (scope.domains) copy.domains = [...scope.domains];
  if (scope.areas) copy.areas = [...scope.areas];
  return copy;
}

/**
 * The principal of an account's request: its role from the account row, its effective scope
 * (effectiveScope of the agency's and the account's), and the session it came through.
 *
 * @param agency the account's agency (`account.agencyId`), or undefined when it has none
 */
export function principalOfAccount(
  account: AccountRecord,
  agency: AgencyRecord | undefined,
  sessionId: string | undefined,
  areaPath: AreaPathOf,
): Principal {
  const principal: Principal = {
    kind: 'account',
    id: account.id,
    name: account.username,
    role: account.role,
    scope: effectiveScope(agency?.scope ?? null, account.scope ?? null, areaPath),
  };
  if (account.agencyId !== undefined) principal.agencyId = account.agencyId;
  if (sessionId !== undefined) principal.sessionId = sessionId;
  return principal;
}

/** The principal of an agency API key's request: role `viewer`, the agency's scope. */
export function principalOfApiKey(record: ApiKeyRecord, agency: AgencyRecord): Principal {
  return {
    kind: 'apiKey',
    id: record.id,
    name: record.name,
    role: 'viewer',
    scope: copyScope(agency.scope),
    agencyId: agency.id,
  };
}
