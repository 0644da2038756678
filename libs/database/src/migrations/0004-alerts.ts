import { type Kysely, type Migration, sql } from 'kysely';
import type { DatabaseKind } from '../database-config';

/**
 * Threshold alerts (issue 10): rules and their versions, alerts and their transitions, silences,
 * and the durable cursors of spool consumers (the alert engine's position, with its snapshot).
 *
 * - `rules`: the current definition of each rule (JSON of `RuleDefinition`), soft-deleted
 *   (`deleted_at`) so alerts keep naming a rule that existed; `version` grows by one per write.
 * - `rule_versions`: every version of every rule (append-only), with what changed and who.
 * - `alerts`: one row per alert (`Alert` of the contracts), `version` for optimistic concurrency
 *   (a person's acknowledgement races the engine). At most one open alert per rule and subject:
 *   a partial unique index `alerts_open_subject` WHERE state <> 'resolved' (SQLite ≥ 3.8 and
 *   PostgreSQL both have partial indexes).
 * - `alert_transitions`: every step, `id` auto-increment = the global commit order the notifier
 *   reads after its cursor; UNIQUE (alert_id, seq).
 * - `silences`: matchers JSON, reason `silence` | `maintenance`, [starts_at, ends_at), ended_at
 *   when ended early.
 * - `consumer_cursors`: per spool consumer (`alert-engine`), its last processed record number and,
 *   optionally, a snapshot of its state as of `snapshot_position`.
 */
export function alertsMigration(kind: DatabaseKind): Migration {
  const serialKey = kind === 'postgres' ? 'bigserial' : 'integer';
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('rules')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('version', 'integer', (c) => c.notNull())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('definition', 'text', (c) => c.notNull())
        .addColumn('enabled', 'integer', (c) => c.notNull())
        .addColumn('origin', 'text', (c) => c.notNull())
        // The seed file's digest of this rule's definition when the seed loader last wrote it:
        // a rule whose stored definition no longer matches was edited through REST (kept).
        .addColumn('seed_digest', 'text')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_by', 'text')
        .addColumn('deleted_at', 'bigint')
        .execute();

      await db.schema
        .createTable('rule_versions')
        .addColumn('rule_id', 'text', (c) => c.notNull().references('rules.id'))
        .addColumn('version', 'integer', (c) => c.notNull())
        .addColumn('definition', 'text', (c) => c.notNull())
        .addColumn('change', 'text', (c) => c.notNull())
        .addColumn('changed_at', 'bigint', (c) => c.notNull())
        .addColumn('changed_by', 'text')
        .addPrimaryKeyConstraint('rule_versions_pk', ['rule_id', 'version'])
        .execute();

      await db.schema
        .createTable('alerts')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('rule_id', 'text', (c) => c.notNull())
        .addColumn('rule_version', 'integer', (c) => c.notNull())
        .addColumn('rule_kind', 'text', (c) => c.notNull())
        .addColumn('subject_kind', 'text', (c) => c.notNull())
        .addColumn('subject_id', 'text', (c) => c.notNull())
        .addColumn('device_id', 'text')
        .addColumn('device_type', 'text')
        .addColumn('domain', 'text')
        .addColumn('area_id', 'text', (c) => c.notNull())
        .addColumn('area_path', 'text', (c) => c.notNull())
        .addColumn('metric', 'text')
        .addColumn('event', 'text')
        .addColumn('severity', 'text', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('value', 'text')
        .addColumn('limit_value', 'double precision')
        .addColumn('unit', 'text', (c) => c.notNull())
        .addColumn('message', 'text', (c) => c.notNull())
        .addColumn('pending_at', 'bigint', (c) => c.notNull())
        .addColumn('firing_at', 'bigint')
        .addColumn('acknowledged_at', 'bigint')
        .addColumn('acknowledged_by', 'text')
        .addColumn('acknowledgement_note', 'text')
        .addColumn('resolved_at', 'bigint')
        .addColumn('resolved_by', 'text')
        .addColumn('resolution', 'text')
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .addColumn('version', 'integer', (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('alerts_open_subject')
        .on('alerts')
        .unique()
        .columns(['rule_id', 'subject_id'])
        .where(sql.ref('state'), '<>', 'resolved')
        .execute();
      await db.schema.createIndex('alerts_pending_at').on('alerts').column('pending_at').execute();
      await db.schema.createIndex('alerts_state').on('alerts').column('state').execute();
      await db.schema.createIndex('alerts_device').on('alerts').column('device_id').execute();
      await db.schema.createIndex('alerts_area').on('alerts').column('area_id').execute();

      await db.schema
        .createTable('alert_transitions')
        .addColumn('id', serialKey, (c) =>
          kind === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement(),
        )
        .addColumn('alert_id', 'text', (c) => c.notNull().references('alerts.id'))
        .addColumn('seq', 'integer', (c) => c.notNull())
        .addColumn('at', 'bigint', (c) => c.notNull())
        .addColumn('from_state', 'text')
        .addColumn('to_state', 'text', (c) => c.notNull())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('severity', 'text', (c) => c.notNull())
        .addColumn('value', 'text')
        .addColumn('actor', 'text', (c) => c.notNull())
        .addColumn('note', 'text')
        .addColumn('resolution', 'text')
        .addUniqueConstraint('alert_transitions_alert_seq', ['alert_id', 'seq'])
        .execute();

      await db.schema
        .createTable('silences')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('matchers', 'text', (c) => c.notNull())
        .addColumn('reason', 'text', (c) => c.notNull())
        .addColumn('comment', 'text', (c) => c.notNull())
        .addColumn('starts_at', 'bigint', (c) => c.notNull())
        .addColumn('ends_at', 'bigint', (c) => c.notNull())
        .addColumn('created_by', 'text')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('ended_at', 'bigint')
        .addColumn('ended_by', 'text')
        .execute();
      await db.schema.createIndex('silences_ends_at').on('silences').column('ends_at').execute();

      await db.schema
        .createTable('consumer_cursors')
        .addColumn('name', 'text', (c) => c.primaryKey())
        .addColumn('position', 'bigint', (c) => c.notNull())
        .addColumn('snapshot', 'text')
        .addColumn('snapshot_position', 'bigint')
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .execute();
    },
  };
}
