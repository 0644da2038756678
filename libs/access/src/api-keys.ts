import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Kysely, Selectable } from 'kysely';
import { type ApiKeysTable, type DatabaseSchema } from '@ioc/database';
import { AccessError, isUniqueViolation } from './access-error';
import { checkSafeText, type Clock, iso, isoOrUndefined, newId } from './access-common';
import { type AgencyRecord, toAgencyRecord } from './agencies';

/** API key ids: `key_` + 16 base64url characters. */
export const API_KEY_ID_PREFIX = 'key_';
/** Every API key starts with this. */
export const API_KEY_PREFIX = 'iocak_';
/** Random bytes in an API key's secret part: 32 (256 bits), 43 base64url characters. */
export const API_KEY_SECRET_BYTES = 32;
/** The shape of an API key: `iocak_` + 8 hex (the visible prefix) + `_` + 43 base64url. */
export const API_KEY_PATTERN = /^(iocak_[0-9a-f]{8})_[A-Za-z0-9_-]{43}$/;
/** last_used_at is written at most this often per key (not on every request). */
export const API_KEY_TOUCH_INTERVAL_MS = 60_000;
/** Longest key name, characters. */
export const API_KEY_NAME_MAX_LENGTH = 100;

/** `active`, `expired` or `revoked`, at the time of the call. */
export type ApiKeyStatus = 'active' | 'expired' | 'revoked';

/** An API key as the API shows it: never the key or its hash. Times are ISO-8601 UTC. */
export interface ApiKeyRecord {
  id: string;
  agencyId: string;
  name: string;
  /** The visible prefix, e.g. `iocak_3f9a1c2e`: how an operator recognises the key. */
  prefix: string;
  createdAt: string;
  /** The account that issued it. */
  createdBy?: string;
  expiresAt?: string;
  revokedAt?: string;
  lastUsedAt?: string;
  status: ApiKeyStatus;
}

export interface ApiKeyInput {
  agencyId: string;
  /** What the key is for, 1–100 characters (e.g. `data portal`). */
  name: string;
  /** Epoch ms or ISO-8601, in the future; absent: no expiry. */
  expiresAt?: number | string;
  /** The issuing account's id. */
  createdBy?: string;
}

/** Why a key was refused: the 401 `reason` (the API may answer `agency-disabled` as it likes; the design lists no such 401 reason). */
export type ApiKeyRefusal = 'invalid-api-key' | 'api-key-revoked' | 'api-key-expired' | 'agency-disabled';

export type ApiKeyAuthentication =
  { ok: true; record: ApiKeyRecord; agency: AgencyRecord } | { ok: false; reason: ApiKeyRefusal };

type ApiKeyRow = Selectable<ApiKeysTable>;

/** SHA-256 hex of a key (256-bit random secrets need no slow hash). */
function hashKey(key: string): Buffer {
  return createHash('sha256').update(key).digest();
}

/**
 * Agencies' API keys: issued once (`iocak_<8 hex>_<43 base64url>`), stored as SHA-256, found by
 * their visible prefix and compared in constant time. A key acts as role `viewer` with its
 * agency's scope (principalOfApiKey).
 */
export class ApiKeyRepository {
  private readonly now: Clock;

  constructor(
    private readonly db: Kysely<DatabaseSchema>,
    options: { now?: Clock } = {},
  ) {
    this.now = options.now ?? Date.now;
  }

  /**
   * Issues a key for an active agency (a disabled one is refused: its existing keys work again
   * once it is enabled, but it gets no new one meanwhile).
   *
   * @returns the record and the key, shown this once
   * @throws AccessError not-found (agency), conflict (agency disabled), invalid (name: length or
   *   a control or bidirectional character; expiresAt malformed or not in the future)
   */
  async issue(input: ApiKeyInput): Promise<{ record: ApiKeyRecord; key: string }> {
    if (
      typeof input.name !== 'string' ||
      input.name.trim() === '' ||
      input.name.length > API_KEY_NAME_MAX_LENGTH
    ) {
      throw new AccessError(
        'invalid',
        `the key name must be 1-${API_KEY_NAME_MAX_LENGTH} characters`,
        'name',
      );
    }
    checkSafeText(input.name, 'name', 'the key name');
    const now = this.now();
    let expiresAt: number | null = null;
    if (input.expiresAt !== undefined) {
      expiresAt = typeof input.expiresAt === 'number' ? input.expiresAt : Date.parse(input.expiresAt);
      if (!Number.isFinite(expiresAt))
        throw new AccessError('invalid', 'expiresAt is not a date', 'expiresAt');
      if (expiresAt <= now) throw new AccessError('invalid', 'expiresAt must be in the future', 'expiresAt');
    }
    const agency = await this.db
      .selectFrom('agencies')
      .select('state')
      .where('id', '=', input.agencyId)
      .executeTakeFirst();
    if (!agency) throw new AccessError('not-found', `agency "${input.agencyId}" does not exist`, 'agencyId');
    if (agency.state !== 'active') {
      throw new AccessError(
        'conflict',
        `agency "${input.agencyId}" is disabled: enable it before issuing it a key`,
        'agencyId',
      );
    }
    const id = newId(API_KEY_ID_PREFIX);
    // 2^32 prefixes: a collision is rare but possible after ~65,000 keys; draw again.
    for (let attempt = 0; ; attempt++) {
      const prefix = API_KEY_PREFIX + randomBytes(4).toString('hex');
      const key = `${prefix}_${randomBytes(API_KEY_SECRET_BYTES).toString('base64url')}`;
      try {
        await this.db
          .insertInto('api_keys')
          .values({
            id,
            agency_id: input.agencyId,
            name: input.name,
            prefix,
            key_hash: hashKey(key).toString('hex'),
            created_at: now,
            created_by: input.createdBy ?? null,
            expires_at: expiresAt,
            revoked_at: null,
            last_used_at: null,
          })
          .execute();
        const record = await this.get(id);
        if (!record) throw new Error(`API key ${id} vanished after its insert`);
        return { record, key };
      } catch (error) {
        if (!isUniqueViolation(error) || attempt >= 3) throw error;
      }
    }
  }

  /** An agency's keys, newest first (active, expired and revoked). */
  async list(agencyId: string): Promise<ApiKeyRecord[]> {
    const rows = await this.db
      .selectFrom('api_keys')
      .selectAll()
      .where('agency_id', '=', agencyId)
      .orderBy('created_at', 'desc')
      .orderBy('id')
      .execute();
    const now = this.now();
    return rows.map((row) => toApiKeyRecord(row, now));
  }

  async get(id: string): Promise<ApiKeyRecord | undefined> {
    const row = await this.db.selectFrom('api_keys').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? toApiKeyRecord(row, this.now()) : undefined;
  }

  /** Revokes a key at once (idempotent: an already revoked key keeps its first time). @throws AccessError not-found */
  async revoke(id: string): Promise<ApiKeyRecord> {
    const now = this.now();
    await this.db
      .updateTable('api_keys')
      .set({ revoked_at: now })
      .where('id', '=', id)
      .where('revoked_at', 'is', null)
      .execute();
    const record = await this.get(id);
    if (!record) throw new AccessError('not-found', `API key "${id}" does not exist`, 'id');
    return record;
  }

  /**
   * Checks a presented key: found by its prefix, the SHA-256 compared in constant time, then
   * revocation, expiry (`expires_at <= now`) and the agency's state. A malformed key is
   * `invalid-api-key` without a query. Writes last_used_at at most once per
   * API_KEY_TOUCH_INTERVAL_MS.
   */
  async authenticate(key: string, now: number = this.now()): Promise<ApiKeyAuthentication> {
    const match = typeof key === 'string' ? API_KEY_PATTERN.exec(key) : null;
    if (!match) return { ok: false, reason: 'invalid-api-key' };
    const row = await this.db
      .selectFrom('api_keys')
      .selectAll()
      .where('prefix', '=', match[1] ?? '')
      .executeTakeFirst();
    const stored = row ? Buffer.from(row.key_hash, 'hex') : Buffer.alloc(32);
    const presented = hashKey(key);
    if (!row || stored.length !== presented.length || !timingSafeEqual(stored, presented)) {
      return { ok: false, reason: 'invalid-api-key' };
    }
    if (row.revoked_at !== null) return { ok: false, reason: 'api-key-revoked' };
    if (row.expires_at !== null && Number(row.expires_at) <= now)
      return { ok: false, reason: 'api-key-expired' };
    const agency = await this.db
      .selectFrom('agencies')
      .selectAll()
      .where('id', '=', row.agency_id)
      .executeTakeFirst();
    if (!agency || agency.state !== 'active') return { ok: false, reason: 'agency-disabled' };
    let used = row;
    if (row.last_used_at === null || now - Number(row.last_used_at) >= API_KEY_TOUCH_INTERVAL_MS) {
      await this.db.updateTable('api_keys').set({ last_used_at: now }).where('id', '=', row.id).execute();
      used = { ...row, last_used_at: now };
    }
    return { ok: true, record: toApiKeyRecord(used, now), agency: toAgencyRecord(agency) };
  }
}

/** A row → ApiKeyRecord with its status at `now`. */
export function toApiKeyRecord(row: ApiKeyRow, now: number): ApiKeyRecord {
  const status: ApiKeyStatus =
    row.revoked_at !== null
      ? 'revoked'
      : row.expires_at !== null && Number(row.expires_at) <= now
        ? 'expired'
        : 'active';
  const record: ApiKeyRecord = {
    id: row.id,
    agencyId: row.agency_id,
    name: row.name,
    prefix: row.prefix,
    createdAt: iso(row.created_at),
    status,
  };
  if (row.created_by !== null) record.createdBy = row.created_by;
  const expires = isoOrUndefined(row.expires_at);
  if (expires) record.expiresAt = expires;
  const revoked = isoOrUndefined(row.revoked_at);
  if (revoked) record.revokedAt = revoked;
  const used = isoOrUndefined(row.last_used_at);
  if (used) record.lastUsedAt = used;
  return record;
}
