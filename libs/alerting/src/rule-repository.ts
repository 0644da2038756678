import { createHash } from 'node:crypto';
import type { Kysely, Selectable } from 'kysely';
import type { RuleDefinition, StoredRule } from '@ioc/contracts';
import { type DatabaseSchema, type RulesTable, transaction } from '@ioc/database';
import { appendRegistryChange } from '@ioc/registry';
import { AlertingError, isUniqueViolation } from './alerting-error';
import { parseRule, type RuleCheckContext } from './rule-validation';

/** What a version of a rule records: how it came to be. */
export type RuleChange = 'created' | 'updated' | 'enabled' | 'disabled' | 'deleted' | 'seeded' | 'reseeded';

/** One stored version of a rule (`GET /rules/{id}/versions`). */
export interface RuleVersion {
  ruleId: string;
  version: number;
  definition: RuleDefinition;
  change: RuleChange;
  /** Epoch ms. */
  changedAt: number;
  /** Account id, null for the seed loader. */
  changedBy: string | null;
}

/** A stored rule with its deletion time (REST shows deleted rules only through their versions). */
export interface RuleRecord extends StoredRule {
  /** Epoch ms when it was deleted, or null. */
  deletedAt: number | null;
  /** The seed digest the seed loader last wrote (null: never seeded, or written through REST since). */
  seedDigest: string | null;
}

/** Who writes: an account id, or null (the seed loader). */
export type RuleWriter = string | null;

/**
 * SHA-256 (hex) of a rule definition's canonical JSON (keys sorted): what the seed loader
 * compares to tell a seed rule it wrote from one an admin has edited since.
 */
export function ruleDigest(definition: RuleDefinition): string {
  return createHash('sha256').update(canonicalJson(definition)).digest('hex');
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/**
 * Alert rules in the registry database, versioned: every write (create, update, enable, disable,
 * delete) raises `version` by one, appends the new definition to `rule_versions`, and appends a
 * registry change `{entity: 'rule', entityId, action}` in the same transaction, so every broker's
 * RegistrySync hands it to the alert engine (onChanges) without a restart. Deletion is soft: the
 * row stays (alerts and versions keep naming it) with `deleted_at`; creating the id again revives
 * it with the next version. Works on SQLite and PostgreSQL.
 */
export class RuleRepository {
  constructor(
    private readonly db: Kysely<DatabaseSchema>,
    private readonly clock: () => number = Date.now,
  ) {}

  /** Rules not deleted, by id. */
  async list(): Promise<RuleRecord[]> {
    const rows = await this.db
      .selectFrom('rules')
      .selectAll()
      .where('deleted_at', 'is', null)
      .orderBy('id')
      .execute();
    return rows.map(toRecord);
  }

  /** What the alert engine evaluates: every rule not deleted (disabled ones carry `enabled: false`). */
  async all(): Promise<StoredRule[]> {
    return (await this.list()).map(toStored);
  }

  /** A rule not deleted, or undefined. */
  async get(id: string): Promise<RuleRecord | undefined> {
    const row = await this.db.selectFrom('rules').selectAll().where('id', '=', id).executeTakeFirst();
    return row && row.deleted_at === null ? toRecord(row) : undefined;
  }

  /** Rules by id, deleted ones included (the engine reloading what the change log named). */
  async byIds(ids: readonly string[]): Promise<RuleRecord[]> {
    if (ids.length === 0) return [];
    const rows = await this.db
      .selectFrom('rules')
      .selectAll()
      .where('id', 'in', [...ids])
      .execute();
    return rows.map(toRecord);
  }

  /** Every version of a rule, oldest first (deleted rules too). @throws AlertingError not-found */
  async versions(id: string): Promise<RuleVersion[]> {
    const rows = await this.db
      .selectFrom('rule_versions')
      .selectAll()
      .where('rule_id', '=', id)
      .orderBy('version')
      .execute();
    if (rows.length === 0) throw new AlertingError('not-found', `no rule "${id}"`);
    return rows.map((r) => ({
      ruleId: r.rule_id,
      version: r.version,
      definition: JSON.parse(r.definition) as RuleDefinition,
      change: r.change as RuleChange,
      changedAt: r.changed_at,
      changedBy: r.changed_by,
    }));
  }

  /**
   * Creates a rule (origin `api`), or revives a deleted one of the same id with its next version.
   * @param input the definition as written (parsed and checked here: parseRule)
   * @param context the device registry (REST): unknown `scope.deviceIds` are refused
   * @throws AlertingError invalid (naming the field), conflict (the id is taken)
   */
  async create(input: unknown, by: RuleWriter, context?: RuleCheckContext): Promise<RuleRecord> {
    const definition = parseRule(input, context);
    return this.insertOrRevive(definition, by, 'api', 'created', null);
  }

  /**
   * Replaces a rule's definition (its id cannot change). With `expectedVersion`, refuses when the
   * rule has moved on (optimistic concurrency). A seed rule edited here stays `origin: seed` but
   * loses its seed digest, so the seed loader no longer overwrites it.
   * @param context the device registry (REST): unknown `scope.deviceIds` are refused
   * @throws AlertingError invalid, not-found, conflict (`version`)
   */
  async update(
    id: string,
    input: unknown,
    by: RuleWriter,
    expectedVersion?: number,
    context?: RuleCheckContext,
  ): Promise<RuleRecord> {
    const definition = parseRule(input, context);
    if (definition.id !== id) {
      throw new AlertingError(
        'invalid',
        `id: the body's id "${definition.id}" differs from the rule's "${id}"`,
        'id',
      );
    }
    return this.change(id, by, 'updated', expectedVersion, () => ({ definition, seedDigest: null }));
  }

  /** Enables or disables a rule (no-op versions are still recorded: the change is audited). @throws AlertingError not-found, conflict */
  async setEnabled(
    id: string,
    enabled: boolean,
    by: RuleWriter,
    expectedVersion?: number,
  ): Promise<RuleRecord> {
    return this.change(id, by, enabled ? 'enabled' : 'disabled', expectedVersion, (current) => ({
      definition: { ...current.definition, enabled },
      seedDigest: current.seedDigest,
    }));
  }

  /** Soft-deletes a rule: the engine resolves its open alerts (`rule-deleted`). @throws AlertingError not-found, conflict */
  async delete(id: string, by: RuleWriter, expectedVersion?: number): Promise<RuleRecord> {
    return this.change(id, by, 'deleted', expectedVersion, (current) => ({
      definition: current.definition,
      seedDigest: current.seedDigest,
      deleted: true,
    }));
  }

  /**
   * The seed loader's write: creates a seed rule, or replaces one whose stored definition is still
   * the one the loader last wrote (`expectedDigest`). Not exported through REST.
   * @internal used by loadSeedRules
   */
  async writeSeed(
    definition: RuleDefinition,
    digest: string,
    existing: RuleRecord | undefined,
    trx: Kysely<DatabaseSchema>,
  ): Promise<RuleRecord> {
    const repository = new RuleRepository(trx, this.clock);
    if (existing === undefined) return repository.insertOrRevive(definition, null, 'seed', 'seeded', digest);
    return repository.change(existing.definition.id, null, 'reseeded', existing.version, () => ({
      definition,
      seedDigest: digest,
    }));
  }

  private async insertOrRevive(
    definition: RuleDefinition,
    by: RuleWriter,
    origin: 'seed' | 'api',
    change: RuleChange,
    seedDigest: string | null,
  ): Promise<RuleRecord> {
    try {
      return await transaction(this.db, async (trx) => {
        const now = this.clock();
        const existing = await trx
          .selectFrom('rules')
          .selectAll()
          .where('id', '=', definition.id)
          .executeTakeFirst();
        if (existing && existing.deleted_at === null) {
          throw new AlertingError('conflict', `rule "${definition.id}" already exists`, 'id');
        }
        const version = (existing?.version ?? 0) + 1;
        const row = {
          id: definition.id,
          version,
          kind: definition.kind,
          definition: JSON.stringify(definition),
          enabled: definition.enabled ? 1 : 0,
          origin,
          seed_digest: seedDigest,
          created_at: now,
          updated_at: now,
          updated_by: by,
          deleted_at: null,
        };
        if (existing) await trx.updateTable('rules').set(row).where('id', '=', definition.id).execute();
        else await trx.insertInto('rules').values(row).execute();
        await this.appendVersion(trx, definition, version, change, now, by);
        return toRecord(row);
      });
    } catch (error) {
      if (isUniqueViolation(error))
        throw new AlertingError('conflict', `rule "${definition.id}" already exists`, 'id');
      throw error;
    }
  }

  private change(
    id: string,
    by: RuleWriter,
    change: RuleChange,
    expectedVersion: number | undefined,
    next: (current: RuleRecord) => {
      definition: RuleDefinition;
      seedDigest: string | null;
      deleted?: boolean;
    },
  ): Promise<RuleRecord> {
    return transaction(this.db, async (trx) => {
      const row = await trx.selectFrom('rules').selectAll().where('id', '=', id).executeTakeFirst();
      if (!row || row.deleted_at !== null) throw new AlertingError('not-found', `no rule "${id}"`);
      const current = toRecord(row);
      if (expectedVersion !== undefined && expectedVersion !== current.version) {
        throw new AlertingError(
          'conflict',
          `rule "${id}" is at version ${current.version}, not ${expectedVersion}: reload it and apply your change again`,
          'version',
        );
      }
      const now = this.clock();
      const { definition, seedDigest, deleted } = next(current);
      const version = current.version + 1;
      const updated = await trx
        .updateTable('rules')
        .set({
          version,
          kind: definition.kind,
          definition: JSON.stringify(definition),
          enabled: definition.enabled ? 1 : 0,
          seed_digest: seedDigest,
          updated_at: now,
          updated_by: by,
          deleted_at: deleted ? now : null,
        })
        .where('id', '=', id)
        .where('version', '=', current.version)
        .executeTakeFirst();
      if (Number(updated.numUpdatedRows) !== 1) {
        throw new AlertingError(
          'conflict',
          `rule "${id}" changed meanwhile: reload it and apply your change again`,
          'version',
        );
      }
      await this.appendVersion(trx, definition, version, change, now, by);
      return {
        ...current,
        definition,
        version,
        updatedAt: now,
        updatedBy: by,
        deletedAt: deleted ? now : null,
        seedDigest,
      };
    });
  }

  private async appendVersion(
    trx: Kysely<DatabaseSchema>,
    definition: RuleDefinition,
    version: number,
    change: RuleChange,
    at: number,
    by: RuleWriter,
  ): Promise<void> {
    await trx
      .insertInto('rule_versions')
      .values({
        rule_id: definition.id,
        version,
        definition: JSON.stringify(definition),
        change,
        changed_at: at,
        changed_by: by,
      })
      .execute();
    await appendRegistryChange(trx, { entity: 'rule', entityId: definition.id, action: change, at });
  }
}

function toRecord(row: Selectable<RulesTable>): RuleRecord {
  return {
    definition: JSON.parse(row.definition) as RuleDefinition,
    version: row.version,
    origin: row.origin as StoredRule['origin'],
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    updatedBy: row.updated_by,
    deletedAt: row.deleted_at,
    seedDigest: row.seed_digest,
  };
}

/** The engine's view of a record (StoredRule, without the database's bookkeeping). */
export function toStored(record: RuleRecord): StoredRule {
  const { deletedAt: _deleted, seedDigest: _digest, ...stored } = record;
  return stored;
}
