import { type IocDatabase, openDatabase, prepareDatabase } from '@ioc/database';
import { describeEachDatabase } from '@ioc/testing';
import { AlertRepository } from './alert-repository';
import { assertLeaseHeld, LeaseLostError, LeaseRepository } from './lease-repository';

const LEASE = 'alert-engine';

/** Polls the lease until the database's clock is past its expiry (no fixed sleep). */
async function untilExpired(leases: LeaseRepository, name: string, deadlineMs = 10_000): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const row = await leases.get(name);
    if (row === undefined || row.now >= row.expiresAt) return;
    if (Date.now() > deadline) throw new Error(`lease ${name} did not expire`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describeEachDatabase('LeaseRepository', (context) => {
  const opened: IocDatabase[] = [];
  afterAll(async () => {
    await Promise.all(opened.map((database) => database.close()));
  });
  let lastConfig: Awaited<ReturnType<typeof context.freshConfig>> | undefined;
  const fresh = async (): Promise<IocDatabase> => {
    lastConfig = await context.freshConfig();
    const database = openDatabase(lastConfig);
    opened.push(database);
    await prepareDatabase(database);
    return database;
  };

  it('grants one term at a time, its token +1 on every takeover, on the database clock', async () => {
    const database = await fresh();
    const leases = new LeaseRepository(database.db, database.kind);
    const a = await leases.acquire(LEASE, 'broker-1:a', 300);
    expect(a).toMatchObject({ name: LEASE, holder: 'broker-1:a', token: 1 });
    expect(a && a.expiresAt - a.acquiredAt).toBe(300);
    // Held and unexpired: refused to another holder and to the same name (a restarted process).
    expect(await leases.acquire(LEASE, 'broker-2:b', 300)).toBeUndefined();
    expect(await leases.acquire(LEASE, 'broker-1:a', 300)).toBeUndefined();
    const renewed = await leases.renew({ name: LEASE, holder: 'broker-1:a', token: 1 }, 300);
    expect(renewed?.token).toBe(1);
    expect(renewed && a && renewed.expiresAt).toBeGreaterThanOrEqual(a?.expiresAt ?? Infinity);

    await untilExpired(leases, LEASE);
    const b = await leases.acquire(LEASE, 'broker-2:b', 60_000);
    expect(b).toMatchObject({ holder: 'broker-2:b', token: 2 });
    // The former holder can neither renew nor release the new term.
    expect(await leases.renew({ name: LEASE, holder: 'broker-1:a', token: 1 }, 300)).toBeUndefined();
    expect(await leases.release({ name: LEASE, holder: 'broker-1:a', token: 1 })).toBe(false);
    expect((await leases.get(LEASE))?.holder).toBe('broker-2:b');

    // An orderly release frees it at once; the next term's token is 3.
    expect(await leases.release({ name: LEASE, holder: 'broker-2:b', token: 2 })).toBe(true);
    expect(await leases.acquire(LEASE, 'broker-1:c', 60_000)).toMatchObject({ token: 3 });
    await expect(leases.acquire(LEASE, 'x', 0)).rejects.toThrow(RangeError);
  });

  it('renews an expired term nobody took over (no one else can have written meanwhile)', async () => {
    const database = await fresh();
    const leases = new LeaseRepository(database.db, database.kind);
    await leases.acquire(LEASE, 'broker-1:a', 100);
    await untilExpired(leases, LEASE);
    expect(await leases.renew({ name: LEASE, holder: 'broker-1:a', token: 1 }, 60_000)).toMatchObject({
      token: 1,
    });
    expect(await leases.acquire(LEASE, 'broker-2:b', 60_000)).toBeUndefined();
  });

  it("fails a former holder's commit after a takeover and writes nothing of it", async () => {
    const database = await fresh();
    const leases = new LeaseRepository(database.db, database.kind);
    const alerts = new AlertRepository(database.db);
    const first = await leases.acquire(LEASE, 'broker-1:a', 200);
    if (!first) throw new Error('not acquired');
    const fenceA = { name: LEASE, holder: first.holder, token: first.token };
    await alerts.commit({ changes: [], cursor: { name: 'alert-engine', position: 10 }, fence: fenceA });
    expect((await alerts.loadCursor('alert-engine'))?.position).toBe(10);

    await untilExpired(leases, LEASE);
    const second = await leases.acquire(LEASE, 'broker-2:b', 60_000);
    if (!second) throw new Error('not acquired');
    const error = await alerts
      .commit({ changes: [], cursor: { name: 'alert-engine', position: 99 }, fence: fenceA })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(error).toBeInstanceOf(LeaseLostError);
    expect((await alerts.loadCursor('alert-engine'))?.position).toBe(10);
    await alerts.commit({
      changes: [],
      cursor: { name: 'alert-engine', position: 11 },
      fence: { name: LEASE, holder: second.holder, token: second.token },
    });
    expect((await alerts.loadCursor('alert-engine'))?.position).toBe(11);
    // No lease row at all: refused too.
    await expect(
      alerts.commit({ changes: [], fence: { name: 'other', holder: 'x', token: 1 } }),
    ).rejects.toBeInstanceOf(LeaseLostError);
  });

  it('a takeover waits for a fenced transaction in flight, then the next fenced write fails', async () => {
    const database = await fresh();
    // PostgreSQL: a second pool, as another node has. SQLite: the same handle (one process's
    // connection; another process would wait on the file's write lock the same way).
    const other = database.kind === 'postgres' && lastConfig ? openDatabase(lastConfig) : database;
    if (other !== database) opened.push(other);
    const leasesA = new LeaseRepository(database.db, database.kind);
    const leasesB = new LeaseRepository(other.db, other.kind);
    const term = await leasesA.acquire(LEASE, 'broker-1:a', 200);
    if (!term) throw new Error('not acquired');
    const fence = { name: LEASE, holder: term.holder, token: term.token };
    await untilExpired(leasesA, LEASE);

    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let inside: () => void = () => undefined;
    const entered = new Promise<void>((resolve) => (inside = resolve));
    // Expired, but not yet taken over: the fenced write may still commit, and holds the row.
    const write = database.db.transaction().execute(async (trx) => {
      await assertLeaseHeld(trx, fence);
      inside();
      await gate;
      await trx
        .insertInto('consumer_cursors')
        .values({ name: 'probe', position: 1, snapshot: null, snapshot_position: null, updated_at: 0 })
        .execute();
    });
    await entered;
    let takenAt = 0;
    const takeover = leasesB.acquire(LEASE, 'broker-2:b', 60_000).then((t) => {
      takenAt = Date.now();
      return t;
    });
    // Give the takeover every chance to overtake the open transaction (it must not).
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(takenAt).toBe(0);
    const committedAt = Date.now();
    release();
    await write;
    const taken = await takeover;
    expect(taken).toMatchObject({ holder: 'broker-2:b', token: 2 });
    expect(takenAt).toBeGreaterThanOrEqual(committedAt);
    expect(
      await other.db.selectFrom('consumer_cursors').select('position').where('name', '=', 'probe').execute(),
    ).toEqual([{ position: 1 }]);
    await expect(
      database.db.transaction().execute((trx) => assertLeaseHeld(trx, fence)),
    ).rejects.toBeInstanceOf(LeaseLostError);
  });
});
