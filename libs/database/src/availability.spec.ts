import { sql } from 'kysely';
import pino from 'pino';
import { Writable } from 'node:stream';
import { ConfigError } from '@ioc/runtime';
import { describeWithPostgres, freePort, type PostgresHandle, startPostgres } from '@ioc/testing';
import {
  checkDatabaseAtStart,
  DatabaseProbe,
  DatabaseTaskLog,
  databaseUnavailableKind,
  isDatabaseUnavailable,
} from './availability';
import { type IocDatabase, openDatabase } from './open-database';

/** A pino logger writing its lines into `lines` (JSON objects). */
function captureLogger(lines: Array<Record<string, unknown>>) {
  return pino(
    { level: 'debug' },
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
        done();
      },
    }),
  );
}

describe('databaseUnavailableKind', () => {
  it('classifies what an unreachable PostgreSQL throws', () => {
    expect(
      databaseUnavailableKind(
        Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5'), { code: 'ECONNREFUSED' }),
      ),
    ).toBe('connection-refused');
    // Node 20 reports a refused connection to a name with several addresses as an AggregateError.
    expect(
      databaseUnavailableKind(
        new AggregateError(
          [Object.assign(new Error('connect ECONNREFUSED ::1:5'), { code: 'ECONNREFUSED' })],
          '',
        ),
      ),
    ).toBe('connection-refused');
    const adminShutdown = Object.assign(new Error('terminating connection due to administrator command'), {
      code: '57P01',
    });
    expect(databaseUnavailableKind(adminShutdown)).toBe('shutting-down');
    expect(databaseUnavailableKind(Object.assign(new Error('x'), { code: '08006' }))).toBe('connection-lost');
    expect(databaseUnavailableKind(new Error('Connection terminated unexpectedly'))).toBe('connection-lost');
    expect(databaseUnavailableKind(new Error('timeout exceeded when trying to connect'))).toBe(
      'connection-lost',
    );
    // Wrapped by a caller.
    expect(databaseUnavailableKind(new Error('listing alerts failed', { cause: adminShutdown }))).toBe(
      'shutting-down',
    );
  });

  it('leaves every other error alone (a 500, as before)', () => {
    expect(isDatabaseUnavailable(Object.assign(new Error('syntax error'), { code: '42601' }))).toBe(false);
    expect(isDatabaseUnavailable(Object.assign(new Error('duplicate key'), { code: '23505' }))).toBe(false);
    expect(
      isDatabaseUnavailable(Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' })),
    ).toBe(false);
    expect(isDatabaseUnavailable(new TypeError("Cannot read properties of undefined (reading 'id')"))).toBe(
      false,
    );
    expect(isDatabaseUnavailable('ECONNREFUSED')).toBe(false);
    expect(isDatabaseUnavailable(null)).toBe(false);
  });
});

describe('DatabaseTaskLog', () => {
  it('logs an outage once per outage, its end once, and every other failure each time', () => {
    const lines: Array<Record<string, unknown>> = [];
    const log = new DatabaseTaskLog(captureLogger(lines), 'notifier pass');
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
    for (let i = 0; i < 10; i++) log.failed(refused, 'notifier pass failed');
    log.succeeded();
    log.succeeded();
    log.failed(new Error('a bug'), 'notifier pass failed');
    log.failed(new Error('a bug'), 'notifier pass failed');
    expect(lines.map((line) => [line['level'], line['msg']])).toEqual([
      [
        40,
        'notifier pass: the registry database (IOC_DATABASE_URL) cannot be reached; retrying every period until it is back',
      ],
      [30, 'notifier pass: the registry database answers again'],
      [50, 'notifier pass failed'],
      [50, 'notifier pass failed'],
    ]);
  });
});

describe('DatabaseProbe on SQLite', () => {
  it('is always up and never probes', async () => {
    const probe = new DatabaseProbe({ kind: 'sqlite', db: undefined as never, description: 'sqlite x' });
    probe.start();
    expect(await probe.probe()).toBe(true);
    expect(probe.health()).toMatchObject({ kind: 'sqlite', up: true });
    probe.stop();
  });
});

describeWithPostgres('the registry database on a PostgreSQL that stops and starts again', () => {
  let postgres: PostgresHandle;
  let database: IocDatabase;

  beforeAll(async () => {
    postgres = await startPostgres({ password: 'outage-test-password' });
    database = openDatabase({ kind: 'postgres', url: await postgres.createDatabase(), poolSize: 4 });
  }, 60_000);

  afterAll(async () => {
    await database?.close();
    await postgres?.stop();
  });

  afterEach(async () => {
    if (!postgres.running) await postgres.startServer();
  });

  it('the probe turns down during the outage, logs it once, and recovers by itself', async () => {
    const lines: Array<Record<string, unknown>> = [];
    const probe = new DatabaseProbe(database, {
      logger: captureLogger(lines),
      intervalMs: 50,
      timeoutMs: 1000,
    });
    expect(await probe.probe()).toBe(true);
    probe.start();
    await postgres.stopServer();
    await waitFor(() => !probe.health().up, 'the probe saw the outage');
    expect(probe.health()).toMatchObject({ kind: 'postgres', up: false });
    expect(['connection-refused', 'shutting-down', 'connection-lost']).toContain(probe.health().problem);
    // Several probes fail meanwhile (three more asked here, beside the timer's); one warn says so.
    for (let i = 0; i < 3; i++) expect(await probe.probe()).toBe(false);
    const warns = lines.filter((line) => String(line['msg']).includes('cannot be reached'));
    expect(warns).toHaveLength(1);
    expect(JSON.stringify(warns)).not.toContain('outage-test-password');
    await postgres.startServer();
    await waitFor(() => probe.health().up, 'the probe saw PostgreSQL back');
    expect(lines.filter((line) => line['msg'] === 'registry database reachable again')).toHaveLength(1);
    probe.stop();
  }, 60_000);

  it('a transaction awaiting its caller when the server stops does not end the process', async () => {
    // Before the fix, pg emitted the connection's error on the checked-out client, with no listener:
    // an uncaught exception ending the process (jest fails the test on it).
    let inner: unknown;
    const transaction = database.db.transaction().execute(async (trx) => {
      await sql`select 1`.execute(trx);
      await postgres.stopServer();
      await new Promise((resolve) => setTimeout(resolve, 200));
      try {
        await sql`select 1`.execute(trx);
      } catch (error) {
        inner = error;
        throw error;
      }
    });
    const outcome = await transaction.then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(isDatabaseUnavailable(inner)).toBe(true);
    expect(outcome).toBeDefined();
    // A query while it is down is classified too.
    const down = await sql`select 1`.execute(database.db).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(databaseUnavailableKind(down)).toBeDefined();
    await postgres.startServer();
    expect((await sql<{ one: number }>`select 1 as one`.execute(database.db)).rows[0]?.one).toBe(1);
  }, 60_000);

  it('checkDatabaseAtStart names IOC_DATABASE_URL and what failed, never the password', async () => {
    await expect(checkDatabaseAtStart(database)).resolves.toBeUndefined();

    const refusedUrl = `postgres://ioc:outage-test-password@127.0.0.1:${await freePort()}/ioc`;
    const refused = openDatabase({ kind: 'postgres', url: refusedUrl });
    const refusal = await checkDatabaseAtStart(refused).catch((error: unknown) => error);
    await refused.close();
    expect(refusal).toBeInstanceOf(ConfigError);
    expect((refusal as Error).message).toMatch(/IOC_DATABASE_URL: .*cannot be reached \(connection refused/);
    expect((refusal as Error).message).toContain('postgres://ioc:***@127.0.0.1');
    expect((refusal as Error).message).not.toContain('outage-test-password');

    const wrongUrl = postgres.adminUrl.replace('outage-test-password', 'not-the-password');
    const wrong = openDatabase({ kind: 'postgres', url: wrongUrl });
    const denied = await checkDatabaseAtStart(wrong).catch((error: unknown) => error);
    await wrong.close();
    expect(denied).toBeInstanceOf(ConfigError);
    expect((denied as Error).message).toMatch(
      /IOC_DATABASE_URL: .*refused the login \(authentication failed/,
    );
    expect((denied as Error).message).not.toContain('not-the-password');
  }, 60_000);
});

async function waitFor(condition: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
