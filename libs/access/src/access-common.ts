import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import { type AccessScope, accessScopeSchema } from '@ioc/contracts';
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
