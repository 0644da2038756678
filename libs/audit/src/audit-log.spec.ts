import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import SqliteDatabase from 'better-sqlite3';
import { parse } from 'csv-parse/sync';
import { sql } from 'kysely';
import { type IocDatabase, openDatabase, prepareDatabase, SQLITE_FILE_NAME } from '@ioc/database';
import { describeEachDatabase, TempDirs, type TestDatabaseConfig } from '@ioc/testing';
import { AuditLog, auditEntryHash, GENESIS_HASH, REDACTED } from './index';

const ROOT = join(__dirname, '../../..');
const REGISTER = join(ROOT, 'scripts/register.js');
const CHILD = join(__dirname, 'test-support/record-child.ts');
const CLI = join(ROOT, 'apps/api/src/audit-cli.ts');

const admin = {
  kind: 'account' as const,
  id: 'acc_admin',
  name: 'admin',
  role: 'admin' as const,
  scope: null,
};

/** Runs the audit CLI as the operator would, against the database `config` names. */
async function runCli(
  config: TestDatabaseConfig,
  args: string[],
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env, IOC_DATABASE_URL: '' };
  if (config.kind === 'postgres') env.IOC_DATABASE_URL = config.url;
  else env.IOC_DATA_DIR = join(config.path, '..');
  const child = spawn(process.execPath, ['-r', REGISTER, CLI, ...args], { cwd: ROOT, env });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  return { code, stdout, stderr };
}

/** A child process that appends `count` entries once it reads a line on stdin. */
function startAppender(config: TestDatabaseConfig, count: number) {
  const child = spawn(process.execPath, ['-r', REGISTER, CHILD, JSON.stringify(config), String(count)], {
    stdio: ['pipe', 'pipe', 'pipe'],
  }) as ChildProcessWithoutNullStreams;
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const lines: string[] = [];
  const waiters: Array<() => void> = [];
  createInterface({ input: child.stdout }).on('line', (line) => {
    lines.push(line);
    for (const wake of waiters.splice(0)) wake();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const waitFor = async (word: string): Promise<void> => {
    for (;;) {
      if (lines.includes(word)) return;
      const failed = lines.find((l) => l.startsWith('error'));
      if (failed !== undefined) throw new Error(`appender failed: ${failed}`);
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(
          `appender exited (${child.exitCode ?? child.signalCode}) before "${word}": ${stderr}`,
        );
      }
      await Promise.race([new Promise<void>((resolve) => waiters.push(resolve)), exited]);
    }
  };
  return { child, waitFor, exited };
}

describeEachDatabase('audit log', (context) => {
  const opened: IocDatabase[] = [];
  afterAll(async () => {
    await Promise.all(opened.map((database) => database.close()));
  });
  const dirs = new TempDirs('ioc-audit-');
  afterAll(() => dirs.removeAll());
  /** A new migrated database; `cliReady`: a SQLite file named as the CLI finds it under IOC_DATA_DIR. */
  const fresh = async (
    options: { cliReady?: boolean } = {},
  ): Promise<{ database: IocDatabase; config: TestDatabaseConfig }> => {
    const config: TestDatabaseConfig =
      options.cliReady === true && context.kind === 'sqlite'
        ? { kind: 'sqlite', path: join(await dirs.make(), SQLITE_FILE_NAME) }
        : await context.freshConfig();
    const database = openDatabase(config);
    opened.push(database);
    await prepareDatabase(database);
    return { database, config };
  };

  /** Drops the append-only triggers, as an attacker with the database's rights would. */
  const dropTriggers = async (database: IocDatabase): Promise<void> => {
    if (context.kind === 'postgres') {
      await sql`DROP TRIGGER audit_log_no_update ON audit_log`.execute(database.db);
    } else {
      await sql`DROP TRIGGER audit_log_no_update`.execute(database.db);
      await sql`DROP TRIGGER audit_log_no_delete`.execute(database.db);
    }
  };

  /** Five entries, at 1000, 2000, … ms. */
  const fiveEntries = async (audit: AuditLog): Promise<void> => {
    await audit.record({
      actor: admin,
      action: 'device.create',
      entity: { type: 'device', id: 'sl-001' },
      after: { name: 'A' },
    });
    await audit.record({
      actor: admin,
      action: 'device.update',
      entity: { type: 'device', id: 'sl-001' },
      before: { name: 'A' },
      after: { name: 'B' },
      address: '10.0.0.7',
    });
    await audit.record({
      actor: { kind: 'anonymous' },
      action: 'auth.login',
      outcome: 'failure',
      detail: { reason: 'invalid-credentials', username: 'eve' },
    });
    await audit.record({ actor: admin, action: 'area.create', entity: { type: 'area', id: 'hue' } });
    await audit.record({
      actor: { kind: 'system', name: 'bootstrap' },
      action: 'account.create',
      entity: { type: 'account', id: 'acc_2' },
    });
  };

  const clock = (): (() => number) => {
    let t = 0;
    return () => (t += 1000);
  };

  it('chains entries: each names the one before it, and the chain verifies up to its head', async () => {
    const { database } = await fresh();
    const audit = new AuditLog(database.db, { now: clock() });
    expect(await audit.verify()).toEqual({ ok: true, entries: 0, head: { seq: 0, hash: GENESIS_HASH } });
    const first = await audit.record({
      actor: admin,
      action: 'device.create',
      entity: { type: 'device', id: 'sl-001' },
    });
    expect(first).toMatchObject({
      seq: 1,
      ts: 1000,
      actor: { kind: 'account', id: 'acc_admin', name: 'admin' },
      outcome: 'success',
      entity: { type: 'device', id: 'sl-001' },
      prevHash: GENESIS_HASH,
    });
    expect(first.hash).toMatch(/^[0-9a-f]{64}$/);
    await fiveEntries(audit);
    const rows = await database.db.selectFrom('audit_log').selectAll().orderBy('seq').execute();
    expect(rows.map((r) => r.seq)).toEqual([1, 2, 3, 4, 5, 6]);
    for (let i = 1; i < rows.length; i++) expect(rows[i]!.prev_hash).toBe(rows[i - 1]!.hash);
    for (const { hash, ...row } of rows) expect(auditEntryHash(row)).toBe(hash);
    expect(await audit.verify()).toEqual({ ok: true, entries: 6, head: { seq: 6, hash: rows[5]!.hash } });
    expect(await audit.verify({ from: 4 })).toEqual({
      ok: true,
      entries: 3,
      head: { seq: 6, hash: rows[5]!.hash },
    });
  });

  it('refuses UPDATE and DELETE while the triggers are there; an edited row is then named by its seq', async () => {
    const { database } = await fresh();
    const audit = new AuditLog(database.db, { now: clock() });
    await fiveEntries(audit);
    await expect(
      database.db.updateTable('audit_log').set({ actor_name: 'someone-else' }).where('seq', '=', 2).execute(),
    ).rejects.toThrow(/append-only/);
    await expect(database.db.deleteFrom('audit_log').where('seq', '=', 2).execute()).rejects.toThrow(
      /append-only/,
    );
    expect((await audit.verify()).ok).toBe(true);

    await dropTriggers(database);
    await database.db
      .updateTable('audit_log')
      .set({ actor_name: 'someone-else' })
      .where('seq', '=', 2)
      .execute();
    const stored = await database.db
      .selectFrom('audit_log')
      .select('hash')
      .where('seq', '=', 2)
      .executeTakeFirstOrThrow();
    const result = await audit.verify();
    expect(result).toMatchObject({
      ok: false,
      entries: 1,
      brokenAt: 2,
      problem: 'hash-mismatch',
      found: stored.hash,
    });
    expect(result.ok === false && result.expected).not.toBe(stored.hash);
  });

  it('names the next seq when an edited row also got its hash recomputed', async () => {
    const { database } = await fresh();
    const audit = new AuditLog(database.db, { now: clock() });
    await fiveEntries(audit);
    await dropTriggers(database);
    const row = await database.db
      .selectFrom('audit_log')
      .selectAll()
      .where('seq', '=', 3)
      .executeTakeFirstOrThrow();
    const { hash: _old, ...rest } = row;
    const edited = { ...rest, detail: JSON.stringify({ reason: 'nothing-happened' }) };
    await database.db
      .updateTable('audit_log')
      .set({ detail: edited.detail, hash: auditEntryHash(edited) })
      .where('seq', '=', 3)
      .execute();
    expect(await audit.verify()).toMatchObject({
      ok: false,
      entries: 3,
      brokenAt: 4,
      problem: 'prev-hash-mismatch',
    });
  });

  it('names the gap a deleted entry leaves; a removed tail only shows in the head', async () => {
    const { database } = await fresh();
    const audit = new AuditLog(database.db, { now: clock() });
    await fiveEntries(audit);
    const before = await audit.verify();
    await dropTriggers(database);
    await database.db.deleteFrom('audit_log').where('seq', '=', 3).execute();
    expect(await audit.verify()).toEqual({ ok: false, entries: 2, brokenAt: 3, problem: 'missing-entry' });

    const { database: other } = await fresh();
    const tail = new AuditLog(other.db, { now: clock() });
    await fiveEntries(tail);
    const whole = await tail.verify();
    await dropTriggers(other);
    await other.db.deleteFrom('audit_log').where('seq', '=', 5).execute();
    const cut = await tail.verify();
    expect(cut.ok).toBe(true);
    expect(cut.ok && whole.ok && cut.head.seq).toBe(4);
    expect(cut.ok && whole.ok && cut.head.hash).not.toBe(whole.ok && whole.head.hash);
    expect(before.ok).toBe(true);
    // Against the head recorded before the cut, it is named.
    const recorded = whole.ok ? whole.head : { seq: 0, hash: '' };
    expect(await tail.verify({ knownHead: recorded })).toEqual({
      ok: false,
      entries: 4,
      brokenAt: 5,
      problem: 'missing-entry',
    });
    expect(await tail.verify({ from: 5, knownHead: { seq: 2, hash: recorded.hash } })).toMatchObject({
      ok: false,
      brokenAt: 2,
      problem: 'hash-mismatch',
      expected: recorded.hash,
    });
  });

  it('a chain rewritten from some entry on holds in itself; a recorded head names the rewrite', async () => {
    const { database } = await fresh();
    const audit = new AuditLog(database.db, { now: clock() });
    await fiveEntries(audit);
    const recorded = await audit.verify();
    if (!recorded.ok) throw new Error('the fresh chain must hold');
    expect(await audit.verify({ knownHead: recorded.head })).toEqual(recorded);
    await dropTriggers(database);
    // Rewrite entries 3 to 5 with recomputed hashes, as an attacker who knows the scheme would.
    let prev = (
      await database.db.selectFrom('audit_log').select('hash').where('seq', '=', 2).executeTakeFirstOrThrow()
    ).hash;
    for (let seq = 3; seq <= 5; seq++) {
      const { hash: _old, ...row } = await database.db
        .selectFrom('audit_log')
        .selectAll()
        .where('seq', '=', seq)
        .executeTakeFirstOrThrow();
      const forged = { ...row, actor_name: 'nobody', prev_hash: prev };
      prev = auditEntryHash(forged);
      await database.db
        .updateTable('audit_log')
        .set({ actor_name: forged.actor_name, prev_hash: forged.prev_hash, hash: prev })
        .where('seq', '=', seq)
        .execute();
    }
    expect(await audit.verify()).toMatchObject({ ok: true, entries: 5, head: { seq: 5 } });
    expect(await audit.verify({ knownHead: recorded.head })).toEqual({
      ok: false,
      entries: 4,
      brokenAt: 5,
      problem: 'hash-mismatch',
      expected: recorded.head.hash,
      found: prev,
    });
  });

  it('never forks the chain when two processes append at once', async () => {
    const { database, config } = await fresh();
    const perProcess = 40;
    const appenders = [startAppender(config, perProcess), startAppender(config, perProcess)];
    try {
      await Promise.all(appenders.map((a) => a.waitFor('ready')));
      for (const a of appenders) a.child.stdin.write('go\n');
      await Promise.all(appenders.map((a) => a.waitFor('done')));
      expect(await Promise.all(appenders.map((a) => a.exited))).toEqual([0, 0]);
    } finally {
      for (const a of appenders) if (a.child.exitCode === null) a.child.kill('SIGKILL');
    }
    const audit = new AuditLog(database.db);
    const result = await audit.verify();
    expect(result).toMatchObject({ ok: true, entries: 2 * perProcess, head: { seq: 2 * perProcess } });
    const names = await database.db.selectFrom('audit_log').select('actor_name').execute();
    expect(new Set(names.map((n) => n.actor_name)).size).toBe(2);
  }, 60_000);

  it('redacts secrets from before, after and detail by member name, at any depth', async () => {
    const { database } = await fresh();
    const audit = new AuditLog(database.db);
    const entry = await audit.record({
      actor: admin,
      action: 'account.password',
      entity: { type: 'account', id: 'acc_2' },
      before: { username: 'lan', password_hash: 'scrypt$17$8$1$c2FsdA$aGFzaA', passwordChangedAt: null },
      after: {
        username: 'lan',
        passwordHash: 'scrypt$17$8$1$bmV3$bmV3aGFzaA',
        mqtt_secret_hint: 'ab12',
        apiKey: null,
      },
      detail: {
        issued: [{ prefix: 'iocak_0123abcd', secret: 'iocak_0123abcd_s3cr3t', tokenHash: 'f'.repeat(64) }],
        refreshToken: 'iocst_xyz',
        note: 'rotated',
      },
    });
    expect(entry.before).toEqual({ username: 'lan', password_hash: REDACTED, passwordChangedAt: null });
    expect(entry.after).toEqual({
      username: 'lan',
      passwordHash: REDACTED,
      mqtt_secret_hint: 'ab12',
      apiKey: null,
    });
    expect(entry.detail).toEqual({
      issued: [{ prefix: 'iocak_0123abcd', secret: REDACTED, tokenHash: REDACTED }],
      refreshToken: REDACTED,
      note: 'rotated',
    });
    const raw = await database.db.selectFrom('audit_log').selectAll().executeTakeFirstOrThrow();
    const stored = `${raw.before ?? ''}${raw.after ?? ''}${raw.detail ?? ''}`;
    for (const secret of ['c2FsdA', 'bmV3aGFzaA', 's3cr3t', 'iocst_xyz', 'f'.repeat(64)]) {
      expect(stored).not.toContain(secret);
    }
    expect((await audit.verify()).ok).toBe(true);
  });

  it('answers filtered queries newest first, pages with a seq cursor, and writes formula-safe CSV', async () => {
    const { database } = await fresh();
    const audit = new AuditLog(database.db, { now: clock() });
    await fiveEntries(audit);
    const seqs = async (filter: Parameters<AuditLog['query']>[0]): Promise<number[]> =>
      (await audit.query(filter)).map((e) => e.seq);
    expect(await seqs({})).toEqual([5, 4, 3, 2, 1]);
    expect(await seqs({ actorId: 'acc_admin' })).toEqual([4, 2, 1]);
    expect(await seqs({ action: 'device.' })).toEqual([2, 1]);
    expect(await seqs({ action: 'device' })).toEqual([]);
    expect(await seqs({ action: 'device.update' })).toEqual([2]);
    expect(await seqs({ entityType: 'device', entityId: 'sl-001' })).toEqual([2, 1]);
    expect(await seqs({ outcome: 'failure' })).toEqual([3]);
    expect(await seqs({ from: 2000, to: 4000 })).toEqual([3, 2]);
    expect(await seqs({ limit: 2 })).toEqual([5, 4]);
    expect(await seqs({ limit: 2, before: 4 })).toEqual([3, 2]);
    expect(await seqs({ order: 'asc', after: 3 })).toEqual([4, 5]);
    await expect(audit.query({ limit: 1001 })).rejects.toThrow(/limit/);
    const [update] = await audit.query({ action: 'device.update' });
    expect(update).toMatchObject({ before: { name: 'A' }, after: { name: 'B' }, address: '10.0.0.7' });

    await audit.record({
      actor: { kind: 'anonymous', name: '=HYPERLINK("http://x")' },
      action: 'auth.login',
      outcome: 'failure',
    });
    const csv = audit.toCsv(await audit.query({ order: 'asc' }));
    expect(csv.startsWith('\uFEFFseq,time,actorKind')).toBe(true);
    const records = parse(csv.slice(1), { columns: true }) as Array<Record<string, string>>;
    expect(records).toHaveLength(6);
    expect(records[1]).toMatchObject({
      seq: '2',
      time: '1970-01-01T00:00:02.000Z',
      action: 'device.update',
      before: '{"name":"A"}',
    });
    expect(records[5]!.actorName).toBe('\'=HYPERLINK("http://x")');
  });

  it('the CLI exits 0 on a chain that holds and 1 naming the seq of an edited entry; export writes CSV', async () => {
    const { database, config } = await fresh({ cliReady: true });
    const audit = new AuditLog(database.db, { now: clock() });
    await fiveEntries(audit);
    const good = await runCli(config, ['verify']);
    expect(good.stderr).toBe('');
    expect(good.code).toBe(0);
    const head = (await audit.verify()) as { head: { hash: string } };
    expect(good.stdout).toContain(`head seq 5 hash ${head.head.hash}`);

    const known = await runCli(config, ['verify', '--head', `5:${head.head.hash}`]);
    expect(known.code).toBe(0);
    const cut = await runCli(config, ['verify', '--head', `6:${head.head.hash}`]);
    expect(cut.code).toBe(1);
    expect(cut.stdout).toMatch(/BROKEN at seq 6: missing-entry/);

    const exported = await runCli(config, ['export', '--from', '2000', '--to', '1970-01-01T00:00:04+00:00']);
    expect(exported.code).toBe(0);
    const rows = parse(exported.stdout.slice(1), { columns: true }) as Array<Record<string, string>>;
    expect(rows.map((r) => r.seq)).toEqual(['2', '3']);

    await dropTriggers(database);
    await database.db.updateTable('audit_log').set({ outcome: 'success' }).where('seq', '=', 3).execute();
    const bad = await runCli(config, ['verify']);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/BROKEN at seq 3: hash-mismatch/);

    const usage = await runCli(config, ['verify', '--to', '5']);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('verify takes no --to');

    if (config.kind === 'sqlite') {
      // A mistyped data directory is named, not created and "verified" as an empty chain.
      const nowhere = join(config.path, '..', 'no-such-dir', 'registry.sqlite');
      const missing = await runCli({ ...config, path: nowhere }, ['verify']);
      expect(missing.code).toBe(2);
      expect(missing.stderr).toContain(`no registry database at ${nowhere}`);
      expect(existsSync(join(nowhere, '..'))).toBe(false);
      // An empty file (or another program's database) has no audit log: said so, not migrated.
      const emptyDir = join(config.path, '..', 'empty');
      mkdirSync(emptyDir);
      writeFileSync(join(emptyDir, 'registry.sqlite'), '');
      const empty = await runCli({ ...config, path: join(emptyDir, 'registry.sqlite') }, ['verify']);
      expect(empty.code).toBe(2);
      expect(empty.stderr).toContain('has no audit log');
      const left = new SqliteDatabase(join(emptyDir, 'registry.sqlite'), { readonly: true });
      expect(left.prepare("SELECT count(*) AS n FROM sqlite_master WHERE type = 'table'").get()).toEqual({
        n: 0,
      });
      left.close();
    }
  }, 60_000);
});
