// A second platform process appending to the audit log, for the concurrency test: opens the
// database given as JSON in argv[2], says `ready`, waits for a line on stdin, then records
// argv[3] entries as fast as it can and says `done`.
import { createInterface } from 'node:readline';
import { openDatabase, type DatabaseConfig } from '@ioc/database';
import { AuditLog } from '../audit-log';

async function main(): Promise<void> {
  const config = JSON.parse(process.argv[2] ?? '{}') as DatabaseConfig;
  const count = Number(process.argv[3] ?? '0');
  const lines = createInterface({ input: process.stdin });
  const go = new Promise<void>((resolve) => lines.once('line', () => resolve()));
  const database = openDatabase(config);
  const audit = new AuditLog(database.db);
  // One query first, so the connection is open before the race starts.
  await audit.query({ limit: 1 });
  process.stdout.write('ready\n');
  await go;
  for (let i = 0; i < count; i++) {
    await audit.record({
      actor: { kind: 'system', name: `child-${process.pid}` },
      action: 'test.append',
      detail: { i },
    });
  }
  process.stdout.write('done\n');
  lines.close();
  await database.close();
}

main().catch((error: unknown) => {
  // exit(): stdin's reader would keep the process alive.
  process.stdout.write(`error ${(error as Error).message}\n`, () => process.exit(1));
});
