import { type Kysely, sql } from 'kysely';
import { type DatabaseSchema, transaction } from '@ioc/database';
import type { Logger } from '@ioc/runtime';
import { AccessError, isUniqueViolation } from './access-error';
import { newId } from './access-common';
import { ACCOUNT_ID_PREFIX } from './accounts';
import { USERNAME_PATTERN } from './access-env';
import { generatePassword, hashPassword, passwordPolicyProblem } from './passwords';

/** Length of a generated first-admin password (the design page: 20 characters, ≈ 116 bits). */
export const FIRST_ADMIN_PASSWORD_LENGTH = 20;

export type FirstAdminResult =
  | { created: false }
  | {
      created: true;
      username: string;
      /**
       * The generated password when none was configured: the caller prints it ONCE to stdout
       * (not the log) and keeps it nowhere.
       */
      generatedPassword?: string;
      /**
       * An account of that username existed but was not an active admin: it was made an active,
       * unlocked admin with the new password (the way back in when every admin is disabled).
       */
      restored?: boolean;
    };

/**
 * Makes sure an active `admin` account exists: when none does, creates `username` (IOC_ADMIN_USERNAME)
 * with `password` (IOC_ADMIN_PASSWORD, which must pass the policy) or a generated 20-character
 * one. Does nothing when an active admin exists (idempotent). Safe when several processes start at
 * once: it runs in one transaction, and a process that loses the race (a unique-index conflict,
 * or SQLite's SQLITE_BUSY on upgrading its read to a write) looks again and finds the admin. Run
 * inside prepareDatabase's `afterMigrate` it is also serialised by the migration lock.
 *
 * @throws AccessError invalid (username pattern, or the configured password fails the policy)
 */
export async function ensureFirstAdmin(
  db: Kysely<DatabaseSchema>,
  options: { username: string; password?: string | undefined; logger?: Logger; now?: () => number },
): Promise<FirstAdminResult> {
  const { username } = options;
  if (!USERNAME_PATTERN.test(username)) {
    throw new AccessError('invalid', `IOC_ADMIN_USERNAME "${username}" is not a valid username`, 'username');
  }
  if (options.password !== undefined && options.password !== '') {
    const problem = passwordPolicyProblem(options.password, { username });
    if (problem !== null) throw new AccessError('invalid', `IOC_ADMIN_PASSWORD: ${problem}`, 'password');
  }
  if (await activeAdminExists(db)) return { created: false };
  const generated =
    options.password === undefined || options.password === ''
      ? generatePassword(FIRST_ADMIN_PASSWORD_LENGTH)
      : undefined;
  // Hashed outside the transaction: 0.3 s of scrypt must not hold the database's write lock.
  const hash = await hashPassword(generated ?? options.password ?? '');
  for (let attempt = 0; ; attempt++) {
    try {
      const outcome = await transaction(db, async (trx) => {
        if (await activeAdminExists(trx)) return undefined;
        const now = (options.now ?? Date.now)();
        const existing = await trx
          .selectFrom('accounts')
          .select(['id', 'username'])
          .where(sql<string>`lower(username)`, '=', username.toLowerCase())
          .executeTakeFirst();
        if (existing) {
          await trx
            .updateTable('accounts')
            .set({
              role: 'admin',
              state: 'active',
              source: 'local',
              password_hash: hash,
              password_changed_at: now,
              failed_logins: 0,
              locked_until: null,
              updated_at: now,
            })
            .where('id', '=', existing.id)
            .execute();
          return { username: existing.username, restored: true };
        }
        await trx
          .insertInto('accounts')
          .values({
            id: newId(ACCOUNT_ID_PREFIX),
            // Stored lower-cased, as AccountRepository stores every username.
            username: username.toLowerCase(),
            display_name: 'Administrator',
            role: 'admin',
            source: 'local',
            oidc_issuer: null,
            oidc_subject: null,
            password_hash: hash,
            password_changed_at: now,
            agency_id: null,
            scope: null,
            state: 'active',
            failed_logins: 0,
            locked_until: null,
            last_login_at: null,
            created_at: now,
            updated_at: now,
          })
          .execute();
        return { username: username.toLowerCase(), restored: false };
      });
      if (outcome === undefined) return { created: false };
      options.logger?.[outcome.restored ? 'warn' : 'info'](
        { username: outcome.username, generatedPassword: generated !== undefined },
        outcome.restored
          ? 'no active admin: the existing account was made an active admin with a new password'
          : 'first admin account created',
      );
      return {
        created: true,
        username: outcome.username,
        ...(generated === undefined ? {} : { generatedPassword: generated }),
        ...(outcome.restored ? { restored: true } : {}),
      };
    } catch (error) {
      if (attempt < 5 && (isUniqueViolation(error) || isBusy(error))) continue;
      throw error;
    }
  }
}

async function activeAdminExists(db: Kysely<DatabaseSchema>): Promise<boolean> {
  const row = await db
    .selectFrom('accounts')
    .select('id')
    .where('role', '=', 'admin')
    .where('state', '=', 'active')
    .limit(1)
    .executeTakeFirst();
  return row !== undefined;
}

/** SQLite's SQLITE_BUSY family (another connection holds the write lock or moved the snapshot); PostgreSQL 40001 serialization_failure. */
function isBusy(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return (typeof code === 'string' && code.startsWith('SQLITE_BUSY')) || code === '40001';
}
