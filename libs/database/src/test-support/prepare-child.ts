// A second platform process, for the migration-lock test: prepares the database given as JSON in
// argv[2] and reports on stdout, one JSON line per step. With argv[3] = 'hold', it stays inside
// the lock until a line arrives on stdin.
import { createInterface } from 'node:readline';
import { openDatabase, prepareDatabase, type DatabaseConfig } from '../index';

async function main(): Promise<void> {
  const config = JSON.parse(process.argv[2] ?? '{}') as DatabaseConfig;
  const hold = process.argv[3] === 'hold';
  const say = (message: Record<string, unknown>): void => {
    process.stdout.write(`${JSON.stringify({ ...message, at: Date.now() })}\n`);
  };
  const lines = createInterface({ input: process.stdin });
  const nextLine = new Promise<void>((resolve) => lines.once('line', () => resolve()));
  const database = openDatabase(config);
  say({ step: 'about-to-lock' });
  const result = await prepareDatabase(database, {
    async afterMigrate(db) {
      say({ step: 'locked' });
      const seeded = await db.selectFrom('registry_changes').select('seq').executeTakeFirst();
      if (seeded === undefined) {
        await db
          .insertInto('registry_changes')
          .values({
            at: Date.now(),
            entity: 'area',
            entity_id: `seeded-by-${process.pid}`,
            action: 'created',
          })
          .execute();
      }
      if (hold) await nextLine;
      say({ step: 'releasing' });
    },
  });
  say({ step: 'done', applied: result.applied });
  lines.close();
  await database.close();
}

main().catch((error: unknown) => {
  process.stdout.write(`${JSON.stringify({ step: 'error', message: (error as Error).message })}\n`);
  process.exitCode = 1;
});
