import { type IocDatabase, prepareDatabase, type PrepareResult } from '@ioc/database';
import type { Logger } from '@ioc/runtime';
import { RegistryRepository } from './registry-repository';
import { loadSeeds } from './seed-loader';

/**
 * Brings the registry database up to date at a process's start: migrations, then — only when
 * the database has no area yet (its first start) — the seed files imported through the same path
 * a user's import takes. After that the database is the truth and the seed files are not read
 * again. Safe to call from every process at once (prepareDatabase's lock: one seeds, the others
 * wait and find it done).
 *
 * @param seedsDir directory with areas.json and devices.json (default: the repository's seeds/)
 * @throws SeedValidationError (a broken seed file on first start), and prepareDatabase's errors
 */
export async function prepareRegistry(
  database: IocDatabase,
  options: { seedsDir?: string; logger?: Logger; lockTimeoutMs?: number } = {},
): Promise<PrepareResult & { seeded: boolean }> {
  let seeded = false;
  const result = await prepareDatabase(database, {
    ...(options.logger ? { logger: options.logger } : {}),
    ...(options.lockTimeoutMs === undefined ? {} : { lockTimeoutMs: options.lockTimeoutMs }),
    async afterMigrate(db) {
      if (await db.selectFrom('areas').select('id').limit(1).executeTakeFirst()) return;
      const seeds = loadSeeds(options.seedsDir);
      const report = await new RegistryRepository(db).importSeeds(seeds);
      seeded = true;
      options.logger?.info(
        {
          database: database.description,
          areas: seeds.areas.length,
          devices: report.created,
          refused: report.refused,
        },
        'registry seeded on first start',
      );
    },
  });
  return { ...result, seeded };
}
