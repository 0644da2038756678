import { type Kysely, type Migration } from 'kysely';
import type { DatabaseKind } from '../database-config';

/**
 * Areas, devices, device credentials, device status (latest and history), commands and the
 * registry change log. Written with Kysely's schema builder so one text serves SQLite and
 * PostgreSQL; only the auto-increment keys differ.
 */
export function registryMigration(kind: DatabaseKind): Migration {
  const serialKey = kind === 'postgres' ? 'bigserial' : 'integer';
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('areas')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('level', 'text', (c) => c.notNull())
        .addColumn('parent_id', 'text', (c) => c.references('areas.id'))
        .addColumn('lat', 'double precision')
        .addColumn('lon', 'double precision')
        .addColumn('note', 'text')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('areas_parent_id').on('areas').column('parent_id').execute();

      await db.schema
        .createTable('devices')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('type', 'text', (c) => c.notNull())
        .addColumn('domain', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('area_id', 'text', (c) => c.notNull().references('areas.id'))
        .addColumn('lat', 'double precision', (c) => c.notNull())
        .addColumn('lon', 'double precision', (c) => c.notNull())
        .addColumn('attributes', 'text')
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('silence_timeout_seconds', 'integer')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('devices_area_id').on('devices').column('area_id').execute();
      await db.schema.createIndex('devices_domain_type').on('devices').columns(['domain', 'type']).execute();

      await db.schema
        .createTable('device_credentials')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('device_id', 'text', (c) => c.notNull().references('devices.id'))
        .addColumn('secret_hash', 'text', (c) => c.notNull())
        .addColumn('hint', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('not_after', 'bigint')
        .addColumn('revoked_at', 'bigint')
        .execute();
      await db.schema
        .createIndex('device_credentials_device_id')
        .on('device_credentials')
        .column('device_id')
        .execute();

      await db.schema
        .createTable('device_status')
        .addColumn('device_id', 'text', (c) => c.primaryKey().references('devices.id'))
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('reason', 'text', (c) => c.notNull())
        .addColumn('since', 'bigint', (c) => c.notNull())
        .addColumn('last_seen', 'bigint')
        .addColumn('clock_offset_ms', 'bigint')
        .addColumn('clock_suspect', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .execute();

      await db.schema
        .createTable('device_status_history')
        .addColumn('id', serialKey, (c) =>
          kind === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement(),
        )
        .addColumn('device_id', 'text', (c) => c.notNull().references('devices.id'))
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('reason', 'text', (c) => c.notNull())
        .addColumn('at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('device_status_history_device_at')
        .on('device_status_history')
        .columns(['device_id', 'at'])
        .execute();

      await db.schema
        .createTable('commands')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('device_id', 'text', (c) => c.notNull().references('devices.id'))
        .addColumn('command', 'text', (c) => c.notNull())
        .addColumn('params', 'text', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('requested_by', 'text')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('deadline', 'bigint', (c) => c.notNull())
        .addColumn('completed_at', 'bigint')
        .addColumn('outcome', 'text')
        .addColumn('detail', 'text')
        .execute();
      await db.schema
        .createIndex('commands_device_created')
        .on('commands')
        .columns(['device_id', 'created_at'])
        .execute();
      await db.schema
        .createIndex('commands_state_deadline')
        .on('commands')
        .columns(['state', 'deadline'])
        .execute();

      await db.schema
        .createTable('registry_changes')
        .addColumn('seq', serialKey, (c) =>
          kind === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement(),
        )
        .addColumn('at', 'bigint', (c) => c.notNull())
        .addColumn('entity', 'text', (c) => c.notNull())
        .addColumn('entity_id', 'text', (c) => c.notNull())
        .addColumn('action', 'text', (c) => c.notNull())
        .execute();
    },
  };
}
