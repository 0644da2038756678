import { type Kysely, type Selectable, sql } from 'kysely';
import { type AccessScope, type Role, roleSchema } from '@ioc/contracts';
import { type AccountsTable, type DatabaseSchema, transaction } from '@ioc/database';
import { AccessError, conflictOnDuplicate } from './access-error';
import {
  areaPathsOf,
  checkSafeText,
  checkScope,
  type Clock,
  iso,
  isoOrUndefined,
  newId,
  parseStoredScope,
} from './access-common';
import { USERNAME_PATTERN } from './access-env';
import { type AgencyRecord, toAgencyRecord } from './agencies';
import { hashPassword, passwordPolicyProblem, verifyPassword } from './passwords';
import { effectiveScope } from './principals';

/** Account ids: `acc_` + 16 base64url characters. */
export const ACCOUNT_ID_PREFIX = 'acc_';

/** Where an account's identity comes from. */
export type AccountSource = 'local' | 'oidc';
/** An account's life-cycle state. */
export type AccountState = 'active' | 'disabled';

/** A person's account as the API shows it: never the password hash. Times are ISO-8601 UTC. */
export interface AccountRecord {
  id: string;
  /** Lower-case (stored so since issue 9's fixes; older rows as created); unique ignoring case. */
  username: string;
  displayName: string;
  role: Role;
  source: AccountSource;
  /** OIDC accounts: the provider's issuer URL and the subject (`sub`) there. */
  oidcIssuer?: string;
  oidcSubject?: string;
  /** Whether a password is set (local accounts; an SSO account has none). */
  hasPassword: boolean;
  passwordChangedAt?: string;
  /** The agency the person works for: their scope is at most the agency's. */
  agencyId?: string;
  /** The account's own scope (narrowing the agency's), absent: none of its own. */
  scope?: AccessScope;
  state: AccountState;
  /** Consecutive failed logins since the last success or lockout. */
  failedLogins: number;
  /** Present while the account is (or was last) locked: logins refused until then. */
  lockedUntil?: string;
  lastLoginAt?: string;
  createdAt: string;
  updatedAt: string;
}

/** A new local account. */
export interface AccountInput {
  /** USERNAME_PATTERN (any case), unique ignoring case; stored lower-cased. */
  username: string;
  displayName: string;
  role: Role;
  /** Must pass passwordPolicyProblem; absent: the account cannot log in until one is set. */
  password?: string;
  /** An existing, active agency. */
  agencyId?: string;
  /** accessScopeSchema; its areas must exist. */
  scope?: AccessScope;
}

/** A change to an account; `null` clears `agencyId` or `scope`. */
export interface AccountPatch {
  displayName?: string;
  role?: Role;
  agencyId?: string | null;
  scope?: AccessScope | null;
}

/** What an SSO login says about a person (after the claim → role mapping). */
export interface OidcIdentity {
  /** The provider's issuer URL (`iss`). */
  issuer: string;
  /** The person's id at the provider (`sub`). */
  subject: string;
  /** Username for a new account (USERNAME_PATTERN); kept unchanged on later logins. */
  username: string;
  displayName: string;
  role: Role;
}

type AccountRow = Selectable<AccountsTable>;

/** Longest display name, characters. */
export const DISPLAY_NAME_MAX_LENGTH = 200;

/**
 * Accounts of people in the database (SQLite or PostgreSQL): local accounts with a scrypt
 * password, and SSO accounts created on their first login. Every write is validated and refused
 * with an AccessError naming what is wrong. Lockout counters are written by LoginService.
 */
export class AccountRepository {
  private readonly now: Clock;

  constructor(
    private readonly db: Kysely<DatabaseSchema>,
    options: { now?: Clock } = {},
  ) {
    this.now = options.now ?? Date.now;
  }

  /**
   * Creates a local account (hashing its password when one is given, ~0.3 s). The username is
   * stored lower-cased (USERNAME_PATTERN is matched ignoring case; logins ignore case).
   *
   * @throws AccessError invalid (username, displayName, role, password policy, scope; a scope
   *   that does not overlap the agency's, so the account could read nothing), not-found
   *   (agency, scope area), conflict (username taken ignoring case; agency disabled)
   */
  async create(input: AccountInput): Promise<AccountRecord> {
    checkUsername(input.username);
    const username = input.username.toLowerCase();
    checkDisplayName(input.displayName);
    checkRole(input.role);
    if (input.password !== undefined) checkPassword(input.password, username);
    const scope = input.scope === undefined ? null : await checkScope(this.db, input.scope);
    if (input.agencyId !== undefined) await this.checkAgency(this.db, input.agencyId);
    await this.checkScopeOverlaps(this.db, input.agencyId ?? null, scope);
    await this.checkUsernameFree(this.db, username);
    const passwordHash = input.password === undefined ? null : await hashPassword(input.password);
    const now = this.now();
    const id = newId(ACCOUNT_ID_PREFIX);
    await conflictOnDuplicate(`username "${username}" is taken`, 'username', () =>
      this.db
        .insertInto('accounts')
        .values({
          id,
          username,
          display_name: input.displayName,
          role: input.role,
          source: 'local',
          oidc_issuer: null,
          oidc_subject: null,
          password_hash: passwordHash,
          password_changed_at: passwordHash === null ? null : now,
          agency_id: input.agencyId ?? null,
          scope: scope === null ? null : JSON.stringify(scope),
          state: 'active',
          failed_logins: 0,
          locked_until: null,
          last_login_at: null,
          created_at: now,
          updated_at: now,
        })
        .execute(),
    );
    return await this.mustGet(id);
  }

  async get(id: string): Promise<AccountRecord | undefined> {
    const row = await this.db.selectFrom('accounts').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? toAccountRecord(row) : undefined;
  }

  /**
   * The account `id` with its agency, when both may act now: the account exists and is active,
   * and its agency (if it has one) is active; else undefined. What the API checks on each
   * request (with the session) before building the principal (principalOfAccount), and what an
   * SSO login checks after upsertOidc.
   */
  async findActive(
    id: string,
  ): Promise<{ account: AccountRecord; agency: AgencyRecord | undefined } | undefined> {
    const row = await this.db.selectFrom('accounts').selectAll().where('id', '=', id).executeTakeFirst();
    if (!row || row.state !== 'active') return undefined;
    if (row.agency_id === null) return { account: toAccountRecord(row), agency: undefined };
    const agency = await this.db
      .selectFrom('agencies')
      .selectAll()
      .where('id', '=', row.agency_id)
      .executeTakeFirst();
    if (!agency || agency.state !== 'active') return undefined;
    return { account: toAccountRecord(row), agency: toAgencyRecord(agency) };
  }

  /** The account whose username equals `username` ignoring case. */
  async findByUsername(username: string): Promise<AccountRecord | undefined> {
    const row = await this.db
      .selectFrom('accounts')
      .selectAll()
      .where(sql<string>`lower(username)`, '=', username.toLowerCase())
      .executeTakeFirst();
    return row ? toAccountRecord(row) : undefined;
  }

  /** Every account, by username (ignoring case). */
  async list(): Promise<AccountRecord[]> {
    const rows = await this.db
      .selectFrom('accounts')
      .selectAll()
      .orderBy(sql`lower(username)`)
      .execute();
    return rows.map(toAccountRecord);
  }

  /**
   * Changes an account's display name, role, agency or scope.
   *
   * @throws AccessError not-found (account, agency, scope area), invalid (fields; a scope that
   *   does not overlap the agency's), conflict (agency disabled; demoting the last active admin)
   */
  async update(id: string, patch: AccountPatch): Promise<AccountRecord> {
    if (patch.displayName !== undefined) checkDisplayName(patch.displayName);
    if (patch.role !== undefined) checkRole(patch.role);
    const scope =
      patch.scope === undefined || patch.scope === null
        ? patch.scope
        : await checkScope(this.db, patch.scope);
    await transaction(this.db, async (trx) => {
      const row = await this.row(trx, id);
      if (patch.agencyId !== undefined && patch.agencyId !== null && patch.agencyId !== row.agency_id) {
        await this.checkAgency(trx, patch.agencyId);
      }
      await this.checkScopeOverlaps(
        trx,
        patch.agencyId === undefined ? row.agency_id : patch.agencyId,
        scope === undefined ? parseStoredScope(row.scope) : scope,
      );
      if (
        patch.role !== undefined &&
        patch.role !== 'admin' &&
        row.role === 'admin' &&
        row.state === 'active'
      ) {
        await this.checkNotLastAdmin(
          trx,
          id,
          `account "${row.username}" is the last active admin: its role stays admin`,
        );
      }
      await trx
        .updateTable('accounts')
        .set({
          ...(patch.displayName === undefined ? {} : { display_name: patch.displayName }),
          ...(patch.role === undefined ? {} : { role: patch.role }),
          ...(patch.agencyId === undefined ? {} : { agency_id: patch.agencyId }),
          ...(scope === undefined ? {} : { scope: scope === null ? null : JSON.stringify(scope) }),
          updated_at: this.now(),
        })
        .where('id', '=', id)
        .execute();
    });
    return await this.mustGet(id);
  }

  /**
   * Sets a local account's password (policy checked, not the current one: ~0.3 s to compare and
   * ~0.3 s to hash), clears its lockout, and
   * ends its other sessions (reason `password-changed`) except `keepSessionId` (the session of a
   * person changing their own password).
   *
   * @throws AccessError not-found, invalid (policy; the current password; an SSO account has no
   *   password)
   */
  async setPassword(id: string, password: string, options: { keepSessionId?: string } = {}): Promise<void> {
    const row = await this.row(this.db, id);
    if (row.source !== 'local') {
      throw new AccessError(
        'invalid',
        `account "${row.username}" signs in through SSO and has no password`,
        'password',
      );
    }
    checkPassword(password, row.username);
    if (row.password_hash !== null && (await verifyPassword(password, row.password_hash))) {
      throw new AccessError('invalid', 'the new password is the current one: choose another', 'password');
    }
    const hash = await hashPassword(password);
    const now = this.now();
    await transaction(this.db, async (trx) => {
      await trx
        .updateTable('accounts')
        .set({
          password_hash: hash,
          password_changed_at: now,
          failed_logins: 0,
          locked_until: null,
          updated_at: now,
        })
        .where('id', '=', id)
        .execute();
      let sessions = trx
        .updateTable('sessions')
        .set({ revoked_at: now, revoked_reason: 'password-changed' })
        .where('account_id', '=', id)
        .where('revoked_at', 'is', null);
      if (options.keepSessionId !== undefined) sessions = sessions.where('id', '!=', options.keepSessionId);
      await sessions.execute();
    });
  }

  /**
   * Disables an account: logins refused (`account-disabled`) and every live session revoked
   * (reason `account-disabled`) in the same transaction, so its tokens stop working at once.
   *
   * @throws AccessError not-found, conflict (the last active admin)
   */
  async disable(id: string): Promise<AccountRecord> {
    await transaction(this.db, async (trx) => {
      const row = await this.row(trx, id);
      if (row.role === 'admin' && row.state === 'active') {
        await this.checkNotLastAdmin(
          trx,
          id,
          `account "${row.username}" is the last active admin and stays enabled`,
        );
      }
      const now = this.now();
      await trx
        .updateTable('accounts')
        .set({ state: 'disabled', updated_at: now })
        .where('id', '=', id)
        .execute();
      await trx
        .updateTable('sessions')
        .set({ revoked_at: now, revoked_reason: 'account-disabled' })
        .where('account_id', '=', id)
        .where('revoked_at', 'is', null)
        .execute();
    });
    return await this.mustGet(id);
  }

  /** Enables a disabled account (and clears its lockout); its old sessions stay revoked. @throws AccessError not-found */
  async enable(id: string): Promise<AccountRecord> {
    await this.row(this.db, id);
    await this.db
      .updateTable('accounts')
      .set({ state: 'active', failed_logins: 0, locked_until: null, updated_at: this.now() })
      .where('id', '=', id)
      .execute();
    return await this.mustGet(id);
  }

  /**
   * The account of an SSO login: created on the first login (source `oidc`, no password), its
   * role and display name brought up to date on each later one (the provider's claims are the
   * truth). A disabled account is returned as it is (the caller refuses it); the username is
   * stored lower-cased and never changed after creation.
   *
   * @throws AccessError invalid (username, displayName, role), conflict (a new identity whose
   *   username is taken by another account: SSO never takes over a local account)
   */
  async upsertOidc(identity: OidcIdentity): Promise<AccountRecord> {
    checkDisplayName(identity.displayName);
    checkRole(identity.role);
    if (identity.issuer === '' || identity.subject === '') {
      throw new AccessError('invalid', 'an SSO identity needs an issuer and a subject', 'subject');
    }
    const existing = await this.db
      .selectFrom('accounts')
      .selectAll()
      .where('oidc_issuer', '=', identity.issuer)
      .where('oidc_subject', '=', identity.subject)
      .executeTakeFirst();
    const now = this.now();
    if (existing) {
      if (existing.role !== identity.role || existing.display_name !== identity.displayName) {
        await this.db
          .updateTable('accounts')
          .set({ role: identity.role, display_name: identity.displayName, updated_at: now })
          .where('id', '=', existing.id)
          .execute();
      }
      return await this.mustGet(existing.id);
    }
    checkUsername(identity.username);
    const username = identity.username.toLowerCase();
    await this.checkUsernameFree(this.db, username);
    const id = newId(ACCOUNT_ID_PREFIX);
    await conflictOnDuplicate(`username "${username}" is taken`, 'username', () =>
      this.db
        .insertInto('accounts')
        .values({
          id,
          username,
          display_name: identity.displayName,
          role: identity.role,
          source: 'oidc',
          oidc_issuer: identity.issuer,
          oidc_subject: identity.subject,
          password_hash: null,
          password_changed_at: null,
          agency_id: null,
          scope: null,
          state: 'active',
          failed_logins: 0,
          locked_until: null,
          last_login_at: null,
          created_at: now,
          updated_at: now,
        })
        .execute(),
    );
    return await this.mustGet(id);
  }

  /** Records a successful login that did not go through LoginService (an SSO login). */
  async recordLogin(id: string): Promise<void> {
    await this.db.updateTable('accounts').set({ last_login_at: this.now() }).where('id', '=', id).execute();
  }

  private async mustGet(id: string): Promise<AccountRecord> {
    return toAccountRecord(await this.row(this.db, id));
  }

  private async row(db: Kysely<DatabaseSchema>, id: string): Promise<AccountRow> {
    const row = await db.selectFrom('accounts').selectAll().where('id', '=', id).executeTakeFirst();
    if (!row) throw new AccessError('not-found', `account "${id}" does not exist`, 'id');
    return row;
  }

  private async checkUsernameFree(db: Kysely<DatabaseSchema>, username: string): Promise<void> {
    const taken = await db
      .selectFrom('accounts')
      .select('username')
      .where(sql<string>`lower(username)`, '=', username.toLowerCase())
      .executeTakeFirst();
    if (taken)
      throw new AccessError(
        'conflict',
        `username "${username}" is taken (as "${taken.username}")`,
        'username',
      );
  }

  private async checkAgency(db: Kysely<DatabaseSchema>, agencyId: string): Promise<void> {
    const agency = await db
      .selectFrom('agencies')
      .select('state')
      .where('id', '=', agencyId)
      .executeTakeFirst();
    if (!agency) throw new AccessError('not-found', `agency "${agencyId}" does not exist`, 'agencyId');
    if (agency.state !== 'active')
      throw new AccessError('conflict', `agency "${agencyId}" is disabled`, 'agencyId');
  }

  /**
   * Refuses an account scope that holds nothing once intersected with its agency's scope
   * (effectiveScope gives an empty domain or area list): such an account could read nothing.
   */
  private async checkScopeOverlaps(
    db: Kysely<DatabaseSchema>,
    agencyId: string | null,
    scope: AccessScope | null,
  ): Promise<void> {
    if (agencyId === null || scope === null) return;
    const agency = await db
      .selectFrom('agencies')
      .select('scope')
      .where('id', '=', agencyId)
      .executeTakeFirst();
    if (!agency) return;
    const agencyScope = parseStoredScope(agency.scope);
    const effective = effectiveScope(agencyScope, scope, await areaPathsOf(db));
    const empty = [
      effective?.domains?.length === 0 ? 'domains' : undefined,
      effective?.areas?.length === 0 ? 'areas' : undefined,
    ].filter((axis) => axis !== undefined);
    if (empty.length > 0) {
      throw new AccessError(
        'invalid',
        `the scope does not overlap agency "${agencyId}"'s scope (${JSON.stringify(agencyScope)}): no ${empty.join(' and no ')} in common, so the account could read nothing`,
        'scope',
      );
    }
  }

  private async checkNotLastAdmin(db: Kysely<DatabaseSchema>, id: string, message: string): Promise<void> {
    const other = await db
      .selectFrom('accounts')
      .select('id')
      .where('role', '=', 'admin')
      .where('state', '=', 'active')
      .where('id', '!=', id)
      .limit(1)
      .executeTakeFirst();
    if (!other) throw new AccessError('conflict', message, 'id');
  }
}

function checkUsername(username: string): void {
  if (!USERNAME_PATTERN.test(username)) {
    throw new AccessError(
      'invalid',
      `username "${username.slice(0, 80)}" must be a letter or digit then 1-63 of a-z 0-9 . _ @ -`,
      'username',
    );
  }
}

function checkDisplayName(name: string): void {
  if (typeof name !== 'string' || name.trim() === '' || name.length > DISPLAY_NAME_MAX_LENGTH) {
    throw new AccessError(
      'invalid',
      `the display name must be 1-${DISPLAY_NAME_MAX_LENGTH} characters`,
      'displayName',
    );
  }
  checkSafeText(name, 'displayName', 'the display name');
}

function checkRole(role: string): void {
  if (!roleSchema.safeParse(role).success) {
    throw new AccessError('invalid', `role "${role}" is not one of viewer, operator, admin`, 'role');
  }
}

function checkPassword(password: string, username: string): void {
  const problem =
    typeof password === 'string' ? passwordPolicyProblem(password, { username }) : 'missing password';
  if (problem !== null) throw new AccessError('invalid', problem, 'password');
}

/** A row → AccountRecord (no password hash). */
export function toAccountRecord(row: AccountRow): AccountRecord {
  const scope = parseStoredScope(row.scope);
  const record: AccountRecord = {
    id: row.id,
    username: row.username,
    displayName: row.display_name,
    role: row.role as Role,
    source: row.source as AccountSource,
    hasPassword: row.password_hash !== null,
    state: row.state as AccountState,
    failedLogins: Number(row.failed_logins),
    createdAt: iso(row.created_at),
    updatedAt: iso(row.updated_at),
  };
  if (row.oidc_issuer !== null) record.oidcIssuer = row.oidc_issuer;
  if (row.oidc_subject !== null) record.oidcSubject = row.oidc_subject;
  const changed = isoOrUndefined(row.password_changed_at);
  if (changed) record.passwordChangedAt = changed;
  if (row.agency_id !== null) record.agencyId = row.agency_id;
  if (scope !== null) record.scope = scope;
  const locked = isoOrUndefined(row.locked_until);
  if (locked) record.lockedUntil = locked;
  const last = isoOrUndefined(row.last_login_at);
  if (last) record.lastLoginAt = last;
  return record;
}
