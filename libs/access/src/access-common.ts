import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import { type AccessScope, accessScopeSchema, unsafeCharacterMessage } from '@ioc/contracts';
import type { DatabaseSchema } from '@ioc/database';
import { AccessError } from './access-error';

/** A clock in epoch milliseconds (injectable so specs move time instead of sleeping). */
export type Clock = () => number;

/** A new opaque id: `prefix` + 16 base64url characters (96 random bits). */
export function newId(prefix: string): string {
  return prefix + randomBytes(12).toString('base64url');
}

/** Epoch ms → ISO-8601, or undefined for null. */
export function isoOrUndefined(ms: number | null | undefined): string | undefined {
  return ms === null || ms === undefined ? undefined : new Date(Number(ms)).toISOString();
}

/** Epoch ms → ISO-8601. */
export function iso(ms: number): string {
  return new Date(Number(ms)).toISOString();
}

/**
 * Validates a scope (accessScopeSchema) and that every area it names exists.
 *
 * @returns the scope as parsed (duplicates removed)
 * @throws AccessError invalid (malformed, field `scope`), not-found (an unknown area, field `scope`)
 */
export async function checkScope(db: Kysely<DatabaseSchema>, scope: unknown): Promise<AccessScope> {
  const parsed = accessScopeSchema.safeParse(scope);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue && issue.path.length > 0 ? ` at ${issue.path.join('.')}` : '';
    throw new AccessError('invalid', `invalid scope${where}: ${issue?.message ?? 'malformed'}`, 'scope');
  }
  const result: AccessScope = {};
  if (parsed.data.domains) result.domains = [...new Set(parsed.data.domains)];
  if (parsed.data.areas) {
    result.areas = [...new Set(parsed.data.areas)];
    const found = await db.selectFrom('areas').select('id').where('id', 'in', result.areas).execute();
    const known = new Set(found.map((row) => row.id));
    const unknown = result.areas.filter((area) => !known.has(area));
    if (unknown.length > 0) {
      throw new AccessError('not-found', `scope names unknown area(s): ${unknown.join(', ')}`, 'scope');
    }
  }
  return result;
}

/** A stored JSON scope → AccessScope (null stays null; the stored text was validated on write). */
export function parseStoredScope(text: string | null): AccessScope | null {
  if (text === null) return null;
  return JSON.parse(text) as AccessScope;
}

/**
 * The area tree as it is in the database now: `areaId → path` (root first, ending with the area
 * itself, as effectiveScope and scopeHoldsDevice take it), undefined for an unknown area. Reads
 * every area once (id, parent_id): for admin writes, not per request.
 */
export async function areaPathsOf(
  db: Kysely<DatabaseSchema>,
): Promise<(areaId: string) => readonly string[] | undefined> {
  const rows = await db.selectFrom('areas').select(['id', 'parent_id']).execute();
  const parents = new Map(rows.map((row) => [row.id, row.parent_id]));
  return (areaId) => {
    if (!parents.has(areaId)) return undefined;
    const path: string[] = [];
    // Bounded by the number of areas, so a (refused elsewhere) cycle cannot loop forever.
    for (let id: string | null | undefined = areaId; id != null && path.length <= parents.size;) {
      path.unshift(id);
      id = parents.get(id);
    }
    return path;
  };
}

/**
 * Refuses a text an operator will read (display name, agency name or note, API key name) that
 * holds a control or bidirectional character, as the registry refuses them in its text fields
 * (unsafeCharacterMessage in @ioc/contracts: C0/C1 controls, DEL, U+200E/F, U+202A–E, U+2066–9).
 *
 * @param label how the message names the field (`the display name`)
 * @throws AccessError invalid, with `field`
 */
export function checkSafeText(value: string, field: string, label: string): void {
  const problem = unsafeCharacterMessage(value);
  if (problem !== undefined) throw new AccessError('invalid', `${label} ${problem}`, field);
}
