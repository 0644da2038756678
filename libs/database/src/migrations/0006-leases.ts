import type { Kysely, Migration } from 'kysely';

/**
 * `leases`: named leader leases with a fencing token (issue 12, scale-out). One row per lease
 * (`alert-engine`: the single active alert evaluator among the broker nodes): who holds it, its
 * fencing token (increases by one on every acquisition by a new term, never decreases), and when
 * it expires — epoch ms on the DATABASE's clock, so the nodes' clocks never compare with each
 * other. See `@ioc/alerting` LeaseRepository.
 */
export const leasesMigration: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .createTable('leases')
      .addColumn('name', 'text', (c) => c.primaryKey())
      .addColumn('holder', 'text', (c) => c.notNull())
      .addColumn('token', 'bigint', (c) => c.notNull())
      .addColumn('expires_at', 'bigint', (c) => c.notNull())
      .addColumn('acquired_at', 'bigint', (c) => c.notNull())
      .execute();
  },
};
