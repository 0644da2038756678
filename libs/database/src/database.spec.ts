import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { sql } from 'kysely';
import { describeEachDatabase } from '@ioc/testing';
import {
  type IocDatabase,
  MigrationError,
  openDatabase,
  platformMigrations,
  prepareDatabase,
  transaction,
} from './index';

const REGISTER = join(__dirname, '../../../scripts/register.js');
const CHILD = join(__dirname, 'test-support/prepare-child.ts');

interface Step {
  step: string;
  at: number;
  applied?: string[];
  message?: string;
}

/** A child process preparing the database, with its stdout read as steps. */
function startChild(config: unknown, hold: boolean) {
  const child = spawn(
    process.execPath,
    ['-r', REGISTER, CHILD, JSON.stringify(config), ...(hold ? ['hold'] : [])],
    {
      stdio: ['pipe', 'pipe', 'pipe'],
    },
  ) as ChildProcessWithoutNullStreams;
  const steps: Step[] = [];
  const waiters: Array<() => void> = [];
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  createInterface({ input: child.stdout }).on('line', (line) => {
    steps.push(JSON.parse(line) as Step);
    for (const wake of waiters.splice(0)) wake();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const waitFor = async (name: string): Promise<Step> => {
    for (;;) {
      const found = steps.find((s) => s.step === name);
      if (found) return found;
      const failed = steps.find((s) => s.step === 'error');
      if (failed) throw new Error(`child failed: ${failed.message ?? ''}`);
      if (child.exitCode !== null)
        throw new Error(`child exited (${child.exitCode}) before "${name}": ${stderr}`);
      await Promise.race([new Promise<void>((resolve) => waiters.push(resolve)), exited]);
    }
  };
  return { child, steps, waitFor, exited };
}

describeEachDatabase('registry database', (context) => {
  const opened: IocDatabase[] = [];
  afterAll(async () => {
    await Promise.all(opened.map((database) => database.close()));
  });
  const fresh = async (options: { migrate?: boolean } = {}): Promise<IocDatabase> => {
    const database = openDatabase(await context.freshConfig());
    opened.push(database);
    if (options.migrate !== false) await prepareDatabase(database);
    return database;
  };

  it('migrates a new database once: the second run applies nothing', async () => {
    const database = await fresh({ migrate: false });
    const first = await prepareDatabase(database);
    expect(first.applied).toEqual(Object.keys(platformMigrations(context.kind)));
    const second = await prepareDatabase(database);
    expect(second.applied).toEqual([]);
    const tables = (await database.db.introspection.getTables()).map((t) => t.name);
    for (const table of [
      'areas',
      'devices',
      'device_credentials',
      'device_status',
      'commands',
      'registry_changes',
    ]) {
      expect(tables).toContain(table);
    }
  });

  it('returns epoch-millisecond bigints as numbers and keeps doubles exact', async () => {
    const database = await fresh();
    const at = Date.UTC(2026, 10, 30, 12, 34, 56, 789);
    await database.db
      .insertInto('areas')
      .values({
        id: 'tay-ninh',
        name: 'Tây Ninh',
        level: 'province',
        parent_id: null,
        lat: 11.3101,
        lon: 106.0983,
        note: null,
        created_at: at,
        updated_at: at,
      })
      .execute();
    const row = await database.db.selectFrom('areas').selectAll().executeTakeFirstOrThrow();
    expect(row.created_at).toBe(at);
    expect(typeof row.created_at).toBe('number');
    expect(row.lat).toBe(11.3101);
    expect(row.name).toBe('Tây Ninh');
  });

  it('answers a repeated query with its own parameters, and sees a column a later migration added', async () => {
    // On SQLite the statements are prepared once per SQL text and kept: the second run binds its
    // own parameters, and a schema change makes SQLite re-prepare the kept statement.
    const database = await fresh();
    for (const id of ['a-1', 'a-2', 'a-3']) {
      await database.db
        .insertInto('areas')
        .values({
          id,
          name: `name ${id}`,
          level: 'ward',
          parent_id: null,
          lat: 11,
          lon: 106,
          note: null,
          created_at: 1,
          updated_at: 1,
        })
        .execute();
    }
    const byId = (id: string) =>
      database.db.selectFrom('areas').selectAll().where('id', '=', id).executeTakeFirst();
    expect((await byId('a-1'))?.name).toBe('name a-1');
    expect((await byId('a-3'))?.name).toBe('name a-3');
    expect(await byId('a-9')).toBeUndefined();
    expect(Object.keys((await byId('a-2')) ?? {})).not.toContain('spec_extra');
    await sql`ALTER TABLE areas ADD COLUMN spec_extra integer`.execute(database.db);
    expect(Object.keys((await byId('a-2')) ?? {})).toContain('spec_extra');
  });

  it('enforces foreign keys (a device in an unknown area is refused)', async () => {
    const database = await fresh();
    await expect(
      database.db
        .insertInto('devices')
        .values({
          id: 'd1',
          type: 'noise-meter',
          domain: 'env',
          name: 'n',
          area_id: 'nowhere',
          lat: 0,
          lon: 0,
          attributes: null,
          state: 'active',
          silence_timeout_seconds: null,
          created_at: 1,
          updated_at: 1,
        })
        .execute(),
    ).rejects.toMatchObject({ message: expect.stringMatching(/foreign key/i) });
  });

  it('refuses two device ids that differ only in case (index devices_id_lower)', async () => {
    const database = await fresh();
    await database.db
      .insertInto('areas')
      .values({
        id: 'a',
        name: 'A',
        level: 'province',
        parent_id: null,
        lat: null,
        lon: null,
        note: null,
        created_at: 1,
        updated_at: 1,
      })
      .execute();
    const device = (id: string) => ({
      id,
      type: 'noise-meter',
      domain: 'env',
      name: 'n',
      area_id: 'a',
      lat: 0,
      lon: 0,
      attributes: null,
      state: 'active',
      silence_timeout_seconds: null,
      created_at: 1,
      updated_at: 1,
    });
    await database.db.insertInto('devices').values(device('nm-001')).execute();
    await expect(database.db.insertInto('devices').values(device('NM-001')).execute()).rejects.toMatchObject({
      message: expect.stringMatching(/unique|duplicate/i),
    });
  });

  it('rolls the migrations back with a failing afterMigrate: nothing half-done is left', async () => {
    const database = await fresh({ migrate: false });
    await expect(
      prepareDatabase(database, {
        afterMigrate: async (db) => {
          await db
            .insertInto('registry_changes')
            .values({ at: 1, entity: 'area', entity_id: 'x', action: 'created' })
            .execute();
          throw new Error('seed file broken');
        },
      }),
    ).rejects.toThrow('seed file broken');
    const tables = (await database.db.introspection.getTables()).map((t) => t.name);
    expect(tables).not.toContain('areas');
    // And a later start migrates cleanly.
    expect((await prepareDatabase(database)).applied).toEqual(Object.keys(platformMigrations(context.kind)));
  });

  it('transaction() composes: inside afterMigrate it joins the open transaction', async () => {
    const database = await fresh({ migrate: false });
    await expect(
      prepareDatabase(database, {
        afterMigrate: async (db) => {
          await transaction(db, async (trx) => {
            await trx
              .insertInto('registry_changes')
              .values({ at: 1, entity: 'area', entity_id: 'inner', action: 'created' })
              .execute();
          });
          throw new Error('later failure');
        },
      }),
    ).rejects.toThrow('later failure');
    await prepareDatabase(database);
    const rows = await database.db.selectFrom('registry_changes').selectAll().execute();
    expect(rows).toEqual([]);
  });

  it("a second process waits for the first one's migration and seeding, then finds nothing to do", async () => {
    const config = await context.freshConfig();
    const first = startChild(config, true);
    await first.waitFor('locked');
    const second = startChild(config, false);
    await second.waitFor('about-to-lock');
    first.child.stdin.write('go\n');
    const released = await first.waitFor('releasing');
    const firstDone = await first.waitFor('done');
    const secondLocked = await second.waitFor('locked');
    const secondDone = await second.waitFor('done');
    expect(await first.exited).toBe(0);
    expect(await second.exited).toBe(0);
    expect(firstDone.applied).toEqual(Object.keys(platformMigrations(context.kind)));
    expect(secondDone.applied).toEqual([]);
    expect(secondLocked.at).toBeGreaterThanOrEqual(released.at);
    const database = openDatabase(config);
    try {
      const seeds = await database.db.selectFrom('registry_changes').select('entity_id').execute();
      expect(seeds).toEqual([{ entity_id: `seeded-by-${first.child.pid}` }]);
    } finally {
      await database.close();
    }
  }, 60_000);

  it('refuses clearly when another process holds the lock past the timeout', async () => {
    const config = await context.freshConfig();
    const holder = startChild(config, true);
    await holder.waitFor('locked');
    const database = openDatabase(config);
    try {
      await expect(prepareDatabase(database, { lockTimeoutMs: 300 })).rejects.toThrow(
        /another process has been migrating or seeding .* for more than 0.3 s/,
      );
    } finally {
      holder.child.stdin.write('go\n');
      await holder.exited;
      await database.close();
    }
  }, 60_000);
});

describe('MigrationError', () => {
  it('names the migration and keeps the cause', () => {
    const error = new MigrationError('0001-registry', new Error('syntax error'));
    expect(error.message).toBe('migration 0001-registry failed: syntax error');
    expect((error.cause as Error).message).toBe('syntax error');
  });
});

describe('SQLite transactions between two processes', () => {
  it("wait for the other process's write lock instead of failing with 'database is locked'", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ioc-db-lock-'));
    const path = join(dir, 'registry.sqlite');
    const database = openDatabase({ kind: 'sqlite', path });
    try {
      await prepareDatabase(database);
      // Another process takes the write lock, writes, and commits a moment later (it cannot be
      // told when: this process's wait for the lock blocks its own event loop, SQLite being
      // synchronous here).
      const holder = spawn(
        process.execPath,
        [
          '-e',
          `const db = new (require('better-sqlite3'))(${JSON.stringify(path)});
           db.exec('BEGIN IMMEDIATE');
           db.prepare("insert into registry_changes (at, entity, entity_id, action) values (1, 'area', 'other', 'created')").run();
           process.stdout.write('locked\\n');
           setTimeout(() => { db.exec('COMMIT'); db.close(); }, 300);`,
        ],
        { cwd: join(__dirname, '../../..'), stdio: ['ignore', 'pipe', 'inherit'] },
      );
      await new Promise<void>((resolve) => holder.stdout!.once('data', () => resolve()));
      // A transaction that reads, then writes: with a deferred BEGIN its read snapshot predates the
      // other's commit and the write fails at once (SQLITE_BUSY_SNAPSHOT); BEGIN IMMEDIATE waits.
      await transaction(database.db, async (trx) => {
        await trx.selectFrom('registry_changes').select('seq').execute();
        await trx
          .insertInto('registry_changes')
          .values({ at: 2, entity: 'area', entity_id: 'mine', action: 'created' })
          .execute();
      });
      await new Promise((resolve) => holder.once('exit', resolve));
      const rows = await database.db
        .selectFrom('registry_changes')
        .select('entity_id')
        .orderBy('seq')
        .execute();
      expect(rows.map((r) => r.entity_id)).toEqual(['other', 'mine']);
    } finally {
      await database.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);
});
