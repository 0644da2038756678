import type { Kysely, Migration } from 'kysely';
import type { DatabaseKind } from '../database-config';

/**
 * The notifier (`@ioc/alerting` notify/): agencies' webhook endpoints (secret encrypted at rest)
 * and subscriptions, the notification policy's grouping state, the notifications it made, and the
 * outbox of deliveries (one per notification × channel target) with every attempt. Its position in
 * the alert transition log is the `notifier` row of `consumer_cursors` (migration 0004-alerts).
 */
export function notificationsMigration(kind: DatabaseKind): Migration {
  const serialKey = kind === 'postgres' ? 'bigserial' : 'integer';
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('webhook_endpoints')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('agency_id', 'text', (c) => c.notNull().references('agencies.id'))
        .addColumn('url', 'text', (c) => c.notNull())
        .addColumn('description', 'text')
        .addColumn('secret_ciphertext', 'text', (c) => c.notNull())
        .addColumn('secret_hint', 'text', (c) => c.notNull())
        .addColumn('enabled', 'integer', (c) => c.notNull())
        .addColumn('disabled_at', 'bigint')
        .addColumn('disabled_reason', 'text')
        .addColumn('created_by', 'text')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .addColumn('secret_rotated_at', 'bigint')
        .execute();
      await db.schema
        .createIndex('webhook_endpoints_agency_id')
        .on('webhook_endpoints')
        .column('agency_id')
        .execute();

      await db.schema
        .createTable('subscriptions')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('agency_id', 'text', (c) => c.notNull().references('agencies.id'))
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('filters', 'text', (c) => c.notNull())
        .addColumn('webhook_endpoint_ids', 'text', (c) => c.notNull())
        .addColumn('mqtt', 'integer', (c) => c.notNull())
        .addColumn('language', 'text', (c) => c.notNull())
        .addColumn('group_wait_s', 'integer', (c) => c.notNull())
        .addColumn('group_interval_s', 'integer', (c) => c.notNull())
        .addColumn('repeat_interval_s', 'integer', (c) => c.notNull())
        .addColumn('enabled', 'integer', (c) => c.notNull())
        .addColumn('created_by', 'text')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('subscriptions_agency_id')
        .on('subscriptions')
        .column('agency_id')
        .execute();

      await db.schema
        .createTable('notification_groups')
        .addColumn('subscription_id', 'text', (c) => c.notNull())
        .addColumn('group_key', 'text', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('next_due_at', 'bigint')
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('notification_groups_pk', ['subscription_id', 'group_key'])
        .execute();
      await db.schema
        .createIndex('notification_groups_next_due_at')
        .on('notification_groups')
        .column('next_due_at')
        .execute();

      await db.schema
        .createTable('notifications')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('agency_id', 'text', (c) => c.notNull())
        .addColumn('subscription_id', 'text', (c) => c.notNull())
        .addColumn('group_key', 'text', (c) => c.notNull())
        .addColumn('type', 'text', (c) => c.notNull())
        .addColumn('body', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('notifications_agency_created')
        .on('notifications')
        .columns(['agency_id', 'created_at'])
        .execute();

      await db.schema
        .createTable('deliveries')
        .addColumn('id', serialKey, (c) =>
          kind === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement(),
        )
        .addColumn('notification_id', 'text', (c) => c.notNull().references('notifications.id'))
        .addColumn('agency_id', 'text', (c) => c.notNull())
        .addColumn('channel', 'text', (c) => c.notNull())
        .addColumn('target_id', 'text', (c) => c.notNull())
        .addColumn('target_key', 'text', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('attempts', 'integer', (c) => c.notNull())
        .addColumn('next_attempt_at', 'bigint')
        .addColumn('last_status', 'integer')
        .addColumn('last_error', 'text')
        .addColumn('delivered_at', 'bigint')
        .addColumn('claimed_by', 'text')
        .addColumn('claimed_until', 'bigint')
        .addColumn('replay_of', 'bigint')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('deliveries_target_state')
        .on('deliveries')
        .columns(['target_key', 'state', 'id'])
        .execute();
      await db.schema
        .createIndex('deliveries_state_next')
        .on('deliveries')
        .columns(['state', 'next_attempt_at'])
        .execute();
      await db.schema
        .createIndex('deliveries_agency')
        .on('deliveries')
        .columns(['agency_id', 'id'])
        .execute();

      await db.schema
        .createTable('delivery_attempts')
        .addColumn('id', serialKey, (c) =>
          kind === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement(),
        )
        .addColumn('delivery_id', 'bigint', (c) => c.notNull().references('deliveries.id'))
        .addColumn('attempt', 'integer', (c) => c.notNull())
        .addColumn('at', 'bigint', (c) => c.notNull())
        .addColumn('status_code', 'integer')
        .addColumn('error', 'text')
        .addColumn('latency_ms', 'integer', (c) => c.notNull())
        .addUniqueConstraint('delivery_attempts_delivery_attempt', ['delivery_id', 'attempt'])
        .execute();
    },
  };
}
