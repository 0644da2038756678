import { createHash, randomBytes } from 'node:crypto';
import type { Kysely, Selectable } from 'kysely';
import { type DatabaseSchema, type SessionsTable, transaction } from '@ioc/database';
import { type Clock, iso, isoOrUndefined, newId } from './access-common';

/** Session ids: `ses_` + 16 base64url characters. */
export const SESSION_ID_PREFIX = 'ses_';
/** Every session token (refresh token, cookie value) starts with this. */
export const SESSION_TOKEN_PREFIX = 'iocst_';
/** Random bytes in a session token: 32 (256 bits), 43 base64url characters. */
export const SESSION_TOKEN_BYTES = 32;
/**
 * `last_used_at` / `idle_expires_at` are written at most this often per session (the design
 * page: once a minute, not per request), so the idle timeout is exact to within a minute.
 */
export const SESSION_TOUCH_INTERVAL_MS = 60_000;

/** `bearer`: refresh token in a JSON body; `cookie`: httpOnly browser cookie. */
export type SessionKind = 'bearer' | 'cookie';
/** How the person logged in. */
export type SessionVia = 'password' | 'oidc';

/** A login session as the API shows it: never its token, hash or the provider's ID token. Times ISO-8601 UTC. */
export interface SessionRecord {
  id: string;
  accountId: string;
  kind: SessionKind;
  via: SessionVia;
  createdAt: string;
  lastUsedAt: string;
  /** Ends after inactivity from then on (moved forward on use, never past expiresAt). */
  idleExpiresAt: string;
  /** Absolute end. */
  expiresAt: string;
  revokedAt?: string;
  /** `logout`, `refresh-reuse`, `account-disabled`, `agency-disabled`, `password-changed`, `admin`, … */
  revokedReason?: string;
  address?: string;
  userAgent?: string;
  /** Whether the session holds the provider's ID token (OIDC; for RP-initiated logout). */
  hasOidcIdToken: boolean;
}

export interface NewSession {
  accountId: string;
  kind: SessionKind;
  via: SessionVia;
  address?: string;
  userAgent?: string;
  /** The provider's ID token (OIDC logins), kept for RP-initiated logout. */
  oidcIdToken?: string;
}

/** A session and its token (shown this once: only its SHA-256 is stored). */
export interface IssuedSession {
  session: SessionRecord;
  token: string;
}

/** Why a refresh was refused. `reused`: an already rotated token was presented, the session is now revoked. */
export type RefreshRefusal = 'unknown' | 'expired' | 'revoked' | 'reused';

type SessionRow = Selectable<SessionsTable>;

/** Longest user agent kept, characters. */
const USER_AGENT_MAX_LENGTH = 512;

/** SHA-256 hex of a token (a 256-bit random token needs no slow hash). */
export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** A new session token: `iocst_` + 43 base64url characters. */
export function newSessionToken(): string {
  return SESSION_TOKEN_PREFIX + randomBytes(SESSION_TOKEN_BYTES).toString('base64url');
}

/**
 * Login sessions in the database (shared by every API node): what a refresh token or a browser
 * cookie stands for. A session is live while not revoked, `now < idle_expires_at` and
 * `now < expires_at`. Refresh rotates the token; presenting a replaced token again revokes the
 * session (reason `refresh-reuse`, OAuth 2.0 Security BCP, RFC 9700 §4.14.2), which also ends
 * the legitimate holder's session — the BCP's intent, since one of the two is a thief.
 */
export class SessionRepository {
  private readonly now: Clock;
  private readonly idleMs: number;
  private readonly maxMs: number;

  /**
   * @param options.idleMs inactivity after which a session ends (IOC_AUTH_SESSION_IDLE_MINUTES)
   * @param options.maxMs absolute lifetime (IOC_AUTH_SESSION_MAX_HOURS)
   */
  constructor(
    private readonly db: Kysely<DatabaseSchema>,
    options: { idleMs: number; maxMs: number; now?: Clock },
  ) {
    this.idleMs = options.idleMs;
    this.maxMs = options.maxMs;
    this.now = options.now ?? Date.now;
  }

  /** Opens a session for an account that has just logged in. */
  async create(input: NewSession): Promise<IssuedSession> {
    const now = this.now();
    const token = newSessionToken();
    const id = newId(SESSION_ID_PREFIX);
    const expiresAt = now + this.maxMs;
    await this.db
      .insertInto('sessions')
      .values({
        id,
        account_id: input.accountId,
        token_hash: hashToken(token),
        previous_token_hash: null,
        kind: input.kind,
        via: input.via,
        created_at: now,
        last_used_at: now,
        idle_expires_at: Math.min(now + this.idleMs, expiresAt),
        expires_at: expiresAt,
        revoked_at: null,
        revoked_reason: null,
        address: input.address ?? null,
        user_agent: input.userAgent === undefined ? null : input.userAgent.slice(0, USER_AGENT_MAX_LENGTH),
        oidc_id_token: input.oidcIdToken ?? null,
      })
      .execute();
    return { session: await this.mustGetIn(this.db, id), token };
  }

  async get(id: string): Promise<SessionRecord | undefined> {
    const row = await this.db.selectFrom('sessions').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? toSessionRecord(row) : undefined;
  }

  /**
   * Rotates a session's token: the old one becomes `previous_token_hash`, a new one is returned,
   * and the idle expiry moves forward. An unknown token that is some session's previous token
   * revokes that session (`refresh-reuse`) and answers `reused`; so does losing a race against a
   * concurrent refresh with the same token.
   */
  async refresh(
    token: string,
  ): Promise<IssuedSession | { refused: RefreshRefusal; session?: SessionRecord }> {
    const now = this.now();
    const hash = hashToken(token);
    return transaction(this.db, async (trx) => {
      const row = await trx
        .selectFrom('sessions')
        .selectAll()
        .where('token_hash', '=', hash)
        .executeTakeFirst();
      if (!row) {
        const replaced = await trx
          .selectFrom('sessions')
          .selectAll()
          .where('previous_token_hash', '=', hash)
          .executeTakeFirst();
        if (!replaced) return { refused: 'unknown' as const };
        await this.revokeRow(trx, replaced.id, 'refresh-reuse', now);
        return { refused: 'reused' as const, session: await this.mustGetIn(trx, replaced.id) };
      }
      const refusal = liveProblem(row, now);
      if (refusal) return { refused: refusal, session: toSessionRecord(row) };
      const next = newSessionToken();
      const updated = await trx
        .updateTable('sessions')
        .set({
          token_hash: hashToken(next),
          previous_token_hash: hash,
          last_used_at: now,
          idle_expires_at: Math.min(now + this.idleMs, Number(row.expires_at)),
        })
        .where('id', '=', row.id)
        .where('token_hash', '=', hash)
        .executeTakeFirst();
      if (Number(updated.numUpdatedRows) !== 1) {
        await this.revokeRow(trx, row.id, 'refresh-reuse', now);
        return { refused: 'reused' as const, session: await this.mustGetIn(trx, row.id) };
      }
      return { session: await this.mustGetIn(trx, row.id), token: next };
    });
  }

  /**
   * The live session a token (a cookie's value) stands for, or undefined (unknown, revoked,
   * expired). Moves the idle expiry forward, at most once per SESSION_TOUCH_INTERVAL_MS.
   */
  async findByToken(token: string): Promise<SessionRecord | undefined> {
    if (typeof token !== 'string' || !token.startsWith(SESSION_TOKEN_PREFIX)) return undefined;
    const row = await this.db
      .selectFrom('sessions')
      .selectAll()
      .where('token_hash', '=', hashToken(token))
      .executeTakeFirst();
    return row ? this.liveAndTouched(row) : undefined;
  }

  /**
   * The session `id` if it is live at `now` (default the clock), touched like findByToken; else
   * undefined. What the guard calls for an access token's `sid` on every request.
   */
  async check(id: string, now: number = this.now()): Promise<SessionRecord | undefined> {
    const row = await this.db.selectFrom('sessions').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? this.liveAndTouched(row, now) : undefined;
  }

  /** Ends a session (idempotent: an already revoked one keeps its first reason). @returns whether it was live */
  async revoke(id: string, reason: string): Promise<boolean> {
    const result = await this.db
      .updateTable('sessions')
      .set({ revoked_at: this.now(), revoked_reason: reason })
      .where('id', '=', id)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  /** Ends every live session of an account. @returns how many were ended */
  async revokeAllOf(accountId: string, reason: string): Promise<number> {
    const result = await this.db
      .updateTable('sessions')
      .set({ revoked_at: this.now(), revoked_reason: reason })
      .where('account_id', '=', accountId)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    return Number(result.numUpdatedRows);
  }

  /** An account's sessions, newest first (live and ended). */
  async listOf(accountId: string): Promise<SessionRecord[]> {
    const rows = await this.db
      .selectFrom('sessions')
      .selectAll()
      .where('account_id', '=', accountId)
      .orderBy('created_at', 'desc')
      .orderBy('id')
      .execute();
    return rows.map(toSessionRecord);
  }

  /** The provider's ID token kept with an OIDC session (for RP-initiated logout), if any. */
  async oidcIdTokenOf(id: string): Promise<string | undefined> {
    const row = await this.db
      .selectFrom('sessions')
      .select('oidc_id_token')
      .where('id', '=', id)
      .executeTakeFirst();
    return row?.oidc_id_token ?? undefined;
  }

  /** Deletes sessions that ended (expired or revoked) before `before` (epoch ms). @returns how many */
  async purgeEnded(before: number): Promise<number> {
    const result = await this.db
      .deleteFrom('sessions')
      .where((eb) =>
        eb.or([
          eb('expires_at', '<', before),
          eb('idle_expires_at', '<', before),
          eb('revoked_at', '<', before),
        ]),
      )
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  private async liveAndTouched(
    row: SessionRow,
    now: number = this.now(),
  ): Promise<SessionRecord | undefined> {
    if (liveProblem(row, now)) return undefined;
    if (now - Number(row.last_used_at) >= SESSION_TOUCH_INTERVAL_MS) {
      const idle = Math.min(now + this.idleMs, Number(row.expires_at));
      await this.db
        .updateTable('sessions')
        .set({ last_used_at: now, idle_expires_at: idle })
        .where('id', '=', row.id)
        .where('revoked_at', 'is', null)
        .execute();
      return toSessionRecord({ ...row, last_used_at: now, idle_expires_at: idle });
    }
    return toSessionRecord(row);
  }

  private async revokeRow(
    trx: Kysely<DatabaseSchema>,
    id: string,
    reason: string,
    now: number,
  ): Promise<void> {
    await trx
      .updateTable('sessions')
      .set({ revoked_at: now, revoked_reason: reason })
      .where('id', '=', id)
      .where('revoked_at', 'is', null)
      .execute();
  }

  private async mustGetIn(db: Kysely<DatabaseSchema>, id: string): Promise<SessionRecord> {
    const row = await db.selectFrom('sessions').selectAll().where('id', '=', id).executeTakeFirst();
    if (!row) throw new Error(`session ${id} vanished while in use`);
    return toSessionRecord(row);
  }
}

/** Why a session row is not live at `now`, or undefined when it is. */
function liveProblem(row: SessionRow, now: number): 'revoked' | 'expired' | undefined {
  if (row.revoked_at !== null) return 'revoked';
  if (now >= Number(row.idle_expires_at) || now >= Number(row.expires_at)) return 'expired';
  return undefined;
}

/** A row → SessionRecord (no token hashes, no ID token). */
export function toSessionRecord(row: SessionRow): SessionRecord {
  const record: SessionRecord = {
    id: row.id,
    accountId: row.account_id,
    kind: row.kind as SessionKind,
    via: row.via as SessionVia,
    createdAt: iso(row.created_at),
    lastUsedAt: iso(row.last_used_at),
    idleExpiresAt: iso(row.idle_expires_at),
    expiresAt: iso(row.expires_at),
    hasOidcIdToken: row.oidc_id_token !== null,
  };
  const revoked = isoOrUndefined(row.revoked_at);
  if (revoked) record.revokedAt = revoked;
  if (row.revoked_reason !== null) record.revokedReason = row.revoked_reason;
  if (row.address !== null) record.address = row.address;
  if (row.user_agent !== null) record.userAgent = row.user_agent;
  return record;
}
