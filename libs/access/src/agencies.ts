import { randomBytes } from 'node:crypto';
import type { Kysely, Selectable } from 'kysely';
import type { AccessScope } from '@ioc/contracts';
import { type AgenciesTable, type DatabaseSchema, transaction } from '@ioc/database';
import { appendRegistryChange, deviceSecretHashesEqual, hashDeviceSecret } from '@ioc/registry';
import { AccessError, conflictOnDuplicate } from './access-error';
import { checkSafeText, checkScope, type Clock, iso, parseStoredScope } from './access-common';

/** Agency ids: a lower-case slug, 2–64 characters (`so-nnmt`, `cong-an-tinh`). */
export const AGENCY_ID_PATTERN = /^[a-z0-9][a-z0-9-]{1,63}$/;

/**
 * Every agency MQTT password starts with this (as device secrets start with `iocds_`), so a
 * leaked one is recognisable by secret scanners.
 */
export const AGENCY_MQTT_SECRET_PREFIX = 'iocms_';
/** Random bytes in an agency MQTT password: 32 (256 bits), 43 base64url characters. */
export const AGENCY_MQTT_SECRET_BYTES = 32;

/** An agency's life-cycle state. */
export type AgencyState = 'active' | 'disabled';

/** An agency as the API shows it: never its MQTT secret or hash. Times are ISO-8601 UTC. */
export interface AgencyRecord {
  /** AGENCY_ID_PATTERN. */
  id: string;
  name: string;
  /** What its keys and users may read at most. */
  scope: AccessScope;
  state: AgencyState;
  /** The MQTT password's first characters (`iocms_Ab3x`) when the agency has an MQTT account. */
  mqttSecretHint?: string;
  note?: string;
  createdAt: string;
  updatedAt: string;
}

export interface AgencyInput {
  id: string;
  name: string;
  /** accessScopeSchema; its areas must exist. */
  scope: AccessScope;
  note?: string;
}

/** A change to an agency; `note: null` clears the note. */
export interface AgencyPatch {
  name?: string;
  scope?: AccessScope;
  note?: string | null;
}

/** One agency MQTT account, for the broker's authentication index. */
export interface AgencyMqttAccount {
  agencyId: string;
  /** HMAC-SHA256 of the password under the credential key, 32 bytes. */
  secretHash: Buffer;
}

type AgencyRow = Selectable<AgenciesTable>;

/** Longest agency name and note, characters. */
export const AGENCY_NAME_MAX_LENGTH = 200;
export const AGENCY_NOTE_MAX_LENGTH = 1000;

/**
 * Agencies in the database and their MQTT accounts. What a broker must learn — disabled, enabled,
 * MQTT secret issued or removed — is appended to the registry change log (`registry_changes`,
 * entity `agency`) in the same transaction, so running brokers apply it within the registry-sync
 * bound (the caller then publishes INTERNAL_REGISTRY_CHANGES_TOPIC for "at once"). Disabling an agency does not revoke its API
 * keys or MQTT password: while it is disabled they are refused (ApiKeyRepository.authenticate
 * answers `agency-disabled`, verifyMqttSecret false) and its users cannot log in (LoginService
 * answers `account-disabled`); enabling it restores them as they were.
 */
export class AgencyRepository {
  private readonly now: Clock;

  constructor(
    private readonly db: Kysely<DatabaseSchema>,
    options: { now?: Clock } = {},
  ) {
    this.now = options.now ?? Date.now;
  }

  /** @throws AccessError invalid (id, name, scope, note), not-found (scope area), conflict (id taken) */
  async create(input: AgencyInput): Promise<AgencyRecord> {
    if (typeof input.id !== 'string' || !AGENCY_ID_PATTERN.test(input.id)) {
      throw new AccessError(
        'invalid',
        `agency id "${String(input.id).slice(0, 80)}" must be a lower-case slug (a-z 0-9 -, 2-64)`,
        'id',
      );
    }
    checkName(input.name);
    if (input.note !== undefined) checkNote(input.note);
    const scope = await checkScope(this.db, input.scope);
    if (await this.db.selectFrom('agencies').select('id').where('id', '=', input.id).executeTakeFirst()) {
      throw new AccessError('conflict', `agency "${input.id}" already exists`, 'id');
    }
    const now = this.now();
    await conflictOnDuplicate(`agency "${input.id}" already exists`, 'id', () =>
      this.db
        .insertInto('agencies')
        .values({
          id: input.id,
          name: input.name,
          scope: JSON.stringify(scope),
          state: 'active',
          mqtt_secret_hash: null,
          mqtt_secret_hint: null,
          note: input.note ?? null,
          created_at: now,
          updated_at: now,
        })
        .execute(),
    );
    return toAgencyRecord(await this.row(input.id));
  }

  async get(id: string): Promise<AgencyRecord | undefined> {
    const row = await this.db.selectFrom('agencies').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? toAgencyRecord(row) : undefined;
  }

  /** Every agency, by id. */
  async list(): Promise<AgencyRecord[]> {
    const rows = await this.db.selectFrom('agencies').selectAll().orderBy('id').execute();
    return rows.map(toAgencyRecord);
  }

  /** @throws AccessError not-found (agency, scope area), invalid */
  async update(id: string, patch: AgencyPatch): Promise<AgencyRecord> {
    if (patch.name !== undefined) checkName(patch.name);
    if (patch.note !== undefined && patch.note !== null) checkNote(patch.note);
    const scope = patch.scope === undefined ? undefined : await checkScope(this.db, patch.scope);
    await this.row(id);
    await this.db
      .updateTable('agencies')
      .set({
        ...(patch.name === undefined ? {} : { name: patch.name }),
        ...(scope === undefined ? {} : { scope: JSON.stringify(scope) }),
        ...(patch.note === undefined ? {} : { note: patch.note }),
        updated_at: this.now(),
      })
      .where('id', '=', id)
      .execute();
    return toAgencyRecord(await this.row(id));
  }

  /**
   * Disables an agency: its API keys, its users' logins and its MQTT account are refused until
   * it is enabled again (nothing is revoked, so enabling restores them). Its users' live sessions
   * are revoked (reason `agency-disabled`), so their tokens stop at once.
   *
   * @throws AccessError not-found
   */
  async disable(id: string): Promise<AgencyRecord> {
    await this.row(id);
    const now = this.now();
    await transaction(this.db, async (trx) => {
      await trx
        .updateTable('agencies')
        .set({ state: 'disabled', updated_at: now })
        .where('id', '=', id)
        .execute();
      await appendRegistryChange(trx, { entity: 'agency', entityId: id, action: 'disabled', at: now });
      await trx
        .updateTable('sessions')
        .set({ revoked_at: now, revoked_reason: 'agency-disabled' })
        .where('revoked_at', 'is', null)
        .where('account_id', 'in', (q) => q.selectFrom('accounts').select('id').where('agency_id', '=', id))
        .execute();
    });
    return toAgencyRecord(await this.row(id));
  }

  /** @throws AccessError not-found */
  async enable(id: string): Promise<AgencyRecord> {
    await this.row(id);
    const now = this.now();
    await transaction(this.db, async (trx) => {
      await trx
        .updateTable('agencies')
        .set({ state: 'active', updated_at: now })
        .where('id', '=', id)
        .execute();
      await appendRegistryChange(trx, { entity: 'agency', entityId: id, action: 'enabled', at: now });
    });
    return toAgencyRecord(await this.row(id));
  }

  /**
   * Issues (or replaces) the agency's MQTT password: `iocms_` + 43 base64url characters (256
   * random bits), returned this once; stored as HMAC-SHA256 under the device credential key
   * (hashDeviceSecret from @ioc/registry: a keyed fast hash suits a 256-bit random secret). The
   * previous password stops working.
   *
   * @param credentialKey the device credential key (loadCredentialKey), shared with the broker
   * @returns the password and its hint (`iocms_` + 4 characters)
   * @throws AccessError not-found
   */
  async issueMqttSecret(id: string, credentialKey: Buffer): Promise<{ secret: string; hint: string }> {
    await this.row(id);
    const secret = AGENCY_MQTT_SECRET_PREFIX + randomBytes(AGENCY_MQTT_SECRET_BYTES).toString('base64url');
    const hint = secret.slice(0, AGENCY_MQTT_SECRET_PREFIX.length + 4);
    const now = this.now();
    await transaction(this.db, async (trx) => {
      await trx
        .updateTable('agencies')
        .set({
          mqtt_secret_hash: hashDeviceSecret(credentialKey, secret).toString('hex'),
          mqtt_secret_hint: hint,
          updated_at: now,
        })
        .where('id', '=', id)
        .execute();
      await appendRegistryChange(trx, {
        entity: 'agency',
        entityId: id,
        action: 'mqtt-secret-issued',
        at: now,
      });
    });
    return { secret, hint };
  }

  /** Removes the agency's MQTT account (its password stops working). @throws AccessError not-found */
  async removeMqttSecret(id: string): Promise<void> {
    await this.row(id);
    const now = this.now();
    await transaction(this.db, async (trx) => {
      await trx
        .updateTable('agencies')
        .set({ mqtt_secret_hash: null, mqtt_secret_hint: null, updated_at: now })
        .where('id', '=', id)
        .execute();
      await appendRegistryChange(trx, {
        entity: 'agency',
        entityId: id,
        action: 'mqtt-secret-removed',
        at: now,
      });
    });
  }

  /**
   * Whether `secret` is the MQTT password of agency `id`, compared in constant time; false when
   * the agency is unknown, disabled, or has no MQTT account.
   */
  async verifyMqttSecret(id: string, secret: string, credentialKey: Buffer): Promise<boolean> {
    const row = await this.db
      .selectFrom('agencies')
      .select(['state', 'mqtt_secret_hash'])
      .where('id', '=', id)
      .executeTakeFirst();
    const stored = row?.mqtt_secret_hash ? Buffer.from(row.mqtt_secret_hash, 'hex') : Buffer.alloc(32);
    const equal = deviceSecretHashesEqual(hashDeviceSecret(credentialKey, secret), stored);
    return equal && row !== undefined && row.state === 'active' && row.mqtt_secret_hash !== null;
  }

  /** The MQTT accounts of active agencies, for a broker that keeps them in memory. */
  async mqttAccounts(): Promise<AgencyMqttAccount[]> {
    const rows = await this.db
      .selectFrom('agencies')
      .select(['id', 'mqtt_secret_hash'])
      .where('state', '=', 'active')
      .where('mqtt_secret_hash', 'is not', null)
      .orderBy('id')
      .execute();
    return rows.map((row) => ({
      agencyId: row.id,
      secretHash: Buffer.from(row.mqtt_secret_hash ?? '', 'hex'),
    }));
  }

  private async row(id: string): Promise<AgencyRow> {
    const row = await this.db.selectFrom('agencies').selectAll().where('id', '=', id).executeTakeFirst();
    if (!row) throw new AccessError('not-found', `agency "${id}" does not exist`, 'id');
    return row;
  }
}

function checkName(name: string): void {
  if (typeof name !== 'string' || name.trim() === '' || name.length > AGENCY_NAME_MAX_LENGTH) {
    throw new AccessError(
      'invalid',
      `the agency name must be 1-${AGENCY_NAME_MAX_LENGTH} characters`,
      'name',
    );
  }
  checkSafeText(name, 'name', 'the agency name');
}

function checkNote(note: string): void {
  if (typeof note !== 'string' || note.length > AGENCY_NOTE_MAX_LENGTH) {
    throw new AccessError('invalid', `the note must be at most ${AGENCY_NOTE_MAX_LENGTH} characters`, 'note');
  }
  checkSafeText(note, 'note', 'the note');
}

/** A row → AgencyRecord (no MQTT hash). */
export function toAgencyRecord(row: AgencyRow): AgencyRecord {
  const record: AgencyRecord = {
    id: row.id,
    name: row.name,
    scope: parseStoredScope(row.scope) ?? {},
    state: row.state as AgencyState,
    createdAt: iso(row.created_at),
    updatedAt: iso(row.updated_at),
  };
  if (row.mqtt_secret_hint !== null) record.mqttSecretHint = row.mqtt_secret_hint;
  if (row.note !== null) record.note = row.note;
  return record;
}
