import { type Kysely, type Migration, sql } from 'kysely';

/**
 * Device ids are unique ignoring case: `SL-TN-001` beside `sl-tn-001` would be two devices an
 * operator cannot tell apart (and a GIS join or a spreadsheet would merge). The repository checks
 * it before inserting; this index makes the database refuse it too, so two concurrent creates on
 * PostgreSQL (READ COMMITTED lets both checks pass) cannot both succeed. An expression index:
 * SQLite ≥ 3.9 and PostgreSQL both have them.
 */
export const deviceIdCaseMigration: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .createIndex('devices_id_lower')
      .on('devices')
      .unique()
      .expression(sql`lower(id)`)
      .execute();
  },
};
