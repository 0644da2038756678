import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeWithPostgres, type PostgresHandle, startPostgres } from './postgres';

/** Where a test database is: the shape `@ioc/database`'s openDatabase takes. */
export type TestDatabaseConfig = { kind: 'sqlite'; path: string } | { kind: 'postgres'; url: string };

/** What a conformance suite gets for each database kind. */
export interface DatabaseTestContext {
  readonly kind: 'sqlite' | 'postgres';
  /**
   * Where a new, empty database of this kind is: a temporary SQLite file (removed after the
   * suite), or a new database on the suite's PostgreSQL server (stopped after the suite). The
   * suite opens, migrates and closes it.
   */
  freshConfig(): Promise<TestDatabaseConfig>;
}

/**
 * Runs one suite body against the embedded SQLite database and against a real PostgreSQL server
 * (started once for the suite on a free loopback port; skipped with a message when PostgreSQL is
 * not installed, except with CI=true where that fails). The same tests, both dialects.
 */
export function describeEachDatabase(name: string, body: (context: DatabaseTestContext) => void): void {
  describe(`${name} [sqlite]`, () => {
    const dir = mkdtempSync(join(tmpdir(), 'ioc-db-'));
    let counter = 0;
    afterAll(() => rmSync(dir, { recursive: true, force: true }));
    body({
      kind: 'sqlite',
      freshConfig: () => Promise.resolve({ kind: 'sqlite', path: join(dir, `registry-${++counter}.sqlite`) }),
    });
  });

  describeWithPostgres(`${name} [postgres]`, () => {
    let server: PostgresHandle | undefined;
    beforeAll(async () => {
      server = await startPostgres();
    }, 60_000);
    afterAll(async () => {
      await server?.stop();
    }, 30_000);
    body({
      kind: 'postgres',
      async freshConfig() {
        if (server === undefined) throw new Error('PostgreSQL did not start');
        return { kind: 'postgres', url: await server.createDatabase() };
      },
    });
  });
}
