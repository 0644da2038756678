import { join } from 'node:path';
import { sql } from 'kysely';
import type { Reading, RuleDefinitionInput } from '@ioc/contracts';
import { type IocDatabase, openDatabase, prepareDatabase } from '@ioc/database';
import { DeviceRegistry } from '@ioc/registry';
import { createLogger } from '@ioc/runtime';
import { DurableReadingSink } from '@ioc/spool';
import {
  describeEachDatabase,
  describeWithPostgres,
  describeWithRedis,
  freePort,
  startPostgres,
  type RedisHandle,
  startRedis,
  TempDirs,
} from '@ioc/testing';
import { EmbeddedTimeSeriesStore } from '@ioc/timeseries';
import { AlertRepository } from '../alert-repository';
import { ALERT_ENGINE_LEASE, LeaseRepository } from '../lease-repository';
import { RuleRepository } from '../rule-repository';
import { ALERT_ENGINE_STREAM_CURSOR, AlertEngineHost } from './alert-engine-host';
import { AlertEngineLeader } from './alert-engine-leader';
import {
  ALERT_READINGS_FORWARDED_KEY,
  ALERT_READINGS_STREAM,
  ALERT_STREAM_CONSUMER,
  ReadingStreamForwarder,
  ReadingStreamInput,
  streamRedis,
} from './reading-stream';
import { registryEngineDirectory } from './registry-directory';

/*
 * Broker nodes in one process, each with its own real spool (temp dir), embedded store and
 * forwarder, sharing a real Redis and a real registry database (SQLite, and PostgreSQL when
 * installed): the lease picks one evaluator, the stream carries every node's readings to it.
 * A "crash" stops a node's leader without a final snapshot and without releasing the lease.
 */

const logger = createLogger('engine-leader-spec', { level: 'silent' });
const tempDirs = new TempDirs('ioc-engine-leader-');
afterAll(() => tempDirs.removeAll());

const STATION = 'aq-tn-001';
const MIN = 60_000;
const T0 = Date.UTC(2026, 10, 30, 3);
const registry = DeviceRegistry.fromSeeds();

const PM25_SPIKE: RuleDefinitionInput = {
  id: 'pm25-spike',
  kind: 'threshold',
  name: { vi: 'PM2.5 cao', en: 'PM2.5 high' },
  severity: 'warning',
  scope: { deviceIds: [STATION] },
  metric: 'pm25',
  condition: { op: 'above', value: 100 },
  clear: { op: 'below', value: 80 },
  message: { vi: '{device}: {metric} {value}', en: '{device}: {metric} {value}' },
};

function pm25(ts: number, value: number): Reading {
  const device = registry.getDevice(STATION);
  if (!device) throw new Error(`no ${STATION} in the seeds`);
  return {
    deviceId: STATION,
    deviceType: device.type,
    domain: device.domain,
    kind: 'telemetry',
    areaId: device.areaId,
    areaPath: registry.areaPath(device.areaId),
    location: device.location,
    ts,
    metrics: { pm25: value },
  };
}

async function until<T>(
  probe: () => Promise<T | undefined> | T | undefined,
  what: string,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

interface Node {
  name: string;
  sink: DurableReadingSink;
  forwarder: ReadingStreamForwarder;
  leader?: AlertEngineLeader;
  close(): Promise<void>;
}

describeWithRedis('alert engine across nodes (lease + readings stream)', () => {
  let redis: RedisHandle;
  beforeAll(async () => {
    redis = await startRedis();
  }, 30_000);
  afterAll(async () => {
    await redis.close();
  });

  describeEachDatabase('takeover', (context) => {
    const opened: IocDatabase[] = [];
    const nodes: Node[] = [];
    afterEach(async () => {
      for (const node of nodes.splice(0)) await node.close();
    });
    afterAll(async () => {
      await Promise.all(opened.map((database) => database.close()));
    });

    /** A broker node: spool + store + forwarder; with `database`, a leader too. */
    const startNode = async (name: string, database: IocDatabase | undefined): Promise<Node> => {
      const dir = await tempDirs.make();
      const forwardRedis = streamRedis(redis.url);
      const forwarder = new ReadingStreamForwarder({ redis: forwardRedis, node: name, logger });
      const store = new EmbeddedTimeSeriesStore({ dataDir: join(dir, 'store'), maintenanceIntervalMs: 0 });
      await store.init();
      const sink = await DurableReadingSink.open({
        store,
        spoolDir: join(dir, 'spool'),
        spoolMaxBytes: 1 << 22,
        fullWaitMs: 0,
        writeBatchSize: 100,
        writeBatchDelayMs: 1,
        onDurable: () => undefined,
        consumers: [forwarder],
        logger,
      });
      let leader: AlertEngineLeader | undefined;
      if (database) {
        const directory = registryEngineDirectory(registry);
        leader = new AlertEngineLeader({
          leases: new LeaseRepository(database.db, database.kind),
          name: ALERT_ENGINE_LEASE,
          holder: `${name}:spec`,
          ttlMs: 1500,
          renewMs: 300,
          logger,
          createHost: (fence, onLeaseLost) =>
            new AlertEngineHost({
              alerts: new AlertRepository(database.db),
              rules: new RuleRepository(database.db),
              directory,
              readingBase: (id) => directory.readingBase(id),
              publish: () => undefined,
              logger,
              snapshotIntervalMs: 100,
              tickMs: 100,
              cursorName: ALERT_ENGINE_STREAM_CURSOR,
              fence,
              onLeaseLost,
            }),
          createInput: (host) =>
            new ReadingStreamInput({
              redis: streamRedis(redis.url),
              consumer: host,
              appendDerived: (reading) => forwarder.appendDerived(reading),
              backlog: () => host.stats().lag,
              logger,
              blockMs: 100,
            }),
        });
        leader.start();
      }
      let closed = false;
      const node: Node = {
        name,
        sink,
        forwarder,
        ...(leader ? { leader } : {}),
        async close() {
          if (closed) return;
          closed = true;
          await leader?.close();
          await forwarder.close();
          await sink.close();
          await store.close();
          forwardRedis.disconnect();
        },
      };
      nodes.push(node);
      return node;
    };

    const firings = async (database: IocDatabase) => {
      const alerts = new AlertRepository(database.db);
      const page = await alerts.list({ ruleIds: [PM25_SPIKE.id], limit: 100 }, null);
      const out: Array<{ state: string; fired: number; value: unknown }> = [];
      for (const { alert } of page.items) {
        const fired = (await alerts.transitions(alert.id)).filter((t) => t.kind === 'fired').length;
        out.push({ state: alert.state, fired, value: alert.value });
      }
      return out.sort((a, b) => Number(a.value) - Number(b.value));
    };

    it('evaluates on the lease holder what a standby node ingests; after the holder is killed the other takes over and fires a new condition once', async () => {
      // A fresh stream too (the other dialect's run used the same Redis).
      const admin = streamRedis(redis.url);
      await admin.flushall();
      admin.disconnect();
      const database = openDatabase(await context.freshConfig());
      opened.push(database);
      await prepareDatabase(database);
      await new RuleRepository(database.db).create(PM25_SPIKE, 'spec');
      const leases = new LeaseRepository(database.db, database.kind);

      const a = await startNode(`broker-a-${context.kind}`, database);
      await until(() => (a.leader?.holding ? true : undefined), 'node a holds the lease');
      const b = await startNode(`broker-b-${context.kind}`, database);
      expect(b.leader?.holding).toBe(false);

      // Readings from a device on node b (not the holder): the alert fires once, on node a.
      for (const [k, v] of [50, 120, 110].entries()) await b.sink.accept(pm25(T0 + k * MIN, v));
      await until(async () => {
        const f = await firings(database);
        return f.length === 1 && f[0]?.state === 'firing' ? f : undefined;
      }, 'the alert fires');
      await until(() => (a.leader?.hostStats()?.evaluated === 3 ? true : undefined), 'a evaluated 3');
      // The forwarder released b's records once Redis had them.
      await until(() => {
        const held = b.sink.stats().spool.consumers.find((c) => c.consumer === ALERT_STREAM_CONSUMER);
        return held?.lag === 0 ? true : undefined;
      }, 'b released its forwarded records');
      // Let a commit a snapshot covering them.
      await until(
        async () =>
          ((await new AlertRepository(database.db).loadCursor(ALERT_ENGINE_STREAM_CURSOR))
            ?.snapshotPosition ?? -1) >= 3
            ? true
            : undefined,
        'a snapshot at position 3',
      );
      const tokenA = (await leases.get(ALERT_ENGINE_LEASE))?.token;

      // Kill a: no final snapshot, no release. b takes over only once the term expired.
      a.leader?.halt();
      // While nobody evaluates, readings keep coming through b: the condition clears, then starts again.
      await b.sink.accept(pm25(T0 + 3 * MIN, 70));
      await b.sink.accept(pm25(T0 + 4 * MIN, 130));
      await until(() => (b.leader?.holding ? true : undefined), 'node b takes over', 10_000);
      const lease = await leases.get(ALERT_ENGINE_LEASE);
      expect(lease?.holder).toBe(`${b.name}:spec`);
      expect(lease?.token).toBe((tokenA ?? 0) + 1);
      await until(async () => {
        const f = await firings(database);
        return f.length === 2 && f[1]?.state === 'firing' ? f : undefined;
      }, 'the new condition fires');
      await b.leader?.whenIdle();
      // Once each, no duplicate: the first resolved by the 70, the second firing at 130.
      expect(await firings(database)).toEqual([
        { state: 'resolved', fired: 1, value: 70 },
        { state: 'firing', fired: 1, value: 130 },
      ]);
      // b restored a's snapshot (what the stream still held of positions 1–3 skipped: a trimmed
      // it to its snapshot) and evaluated only what came after.
      expect(b.leader?.hostStats()).toMatchObject({ evaluated: 2, warmUp: 0 });
      expect(b.leader?.hostStats()?.skipped).toBeLessThanOrEqual(3);
      expect(b.leader?.stats()).toMatchObject({ holding: true, token: (tokenA ?? 0) + 1, acquired: 1 });
      const stream = b.leader?.inputStats();
      expect(stream).toMatchObject({ readPosition: 5, gaps: 0 });
    }, 60_000);
  });

  it('holds the records in the spool while Redis is down and forwards each exactly once when it is back', async () => {
    const dir = await tempDirs.make();
    const client = streamRedis(redis.url);
    const forwarder = new ReadingStreamForwarder({
      redis: client,
      node: 'broker-outage',
      logger,
      retryInitialMs: 20,
      retryMaxMs: 100,
    });
    const store = new EmbeddedTimeSeriesStore({ dataDir: join(dir, 'store'), maintenanceIntervalMs: 0 });
    await store.init();
    const sink = await DurableReadingSink.open({
      store,
      spoolDir: join(dir, 'spool'),
      spoolMaxBytes: 1 << 22,
      fullWaitMs: 0,
      writeBatchSize: 100,
      writeBatchDelayMs: 1,
      onDurable: () => undefined,
      consumers: [forwarder],
      logger,
    });
    const held = () => sink.stats().spool.consumers.find((c) => c.consumer === ALERT_STREAM_CONSUMER)?.lag;
    try {
      const before = Number((await client.get('ioc:alerts:readings:position')) ?? 0);
      for (let k = 0; k < 10; k++) await sink.accept(pm25(T0 + k * MIN, k));
      await until(() => (held() === 0 ? true : undefined), 'first ten forwarded');
      await redis.stop();
      for (let k = 10; k < 20; k++) await sink.accept(pm25(T0 + k * MIN, k));
      await until(() => (forwarder.stats().failures > 0 ? true : undefined), 'a forward failed');
      expect(held()).toBe(10);
      expect(forwarder.stats().queued).toBe(10);
      await redis.start();
      await until(() => (held() === 0 ? true : undefined), 'the rest forwarded after the outage');
      const entries = await client.xrange(ALERT_READINGS_STREAM, `${before + 1}-0`, '+');
      const values = entries
        .filter(([, fields]) => fields[fields.indexOf('node') + 1] === 'broker-outage')
        .flatMap(([, fields]) => JSON.parse(fields[fields.indexOf('r') + 1] ?? '[]') as Reading[])
        .map((r) => r.metrics['pm25']);
      expect(values).toEqual(Array.from({ length: 20 }, (_, k) => k));
      expect(forwarder.stats()).toMatchObject({ forwarded: 20, queued: 0 });
    } finally {
      await forwarder.close();
      await sink.close();
      await store.close();
      client.disconnect();
    }
  }, 60_000);

  it('at a restart, releases the replayed records Redis already has and forwards only the rest', async () => {
    const dir = await tempDirs.make();
    const open = async (client: ReturnType<typeof streamRedis>) => {
      const forwarder = new ReadingStreamForwarder({
        redis: client,
        node: 'broker-replay',
        logger,
        retryInitialMs: 20,
        retryMaxMs: 50,
      });
      const store = new EmbeddedTimeSeriesStore({ dataDir: join(dir, 'store'), maintenanceIntervalMs: 0 });
      await store.init();
      const sink = await DurableReadingSink.open({
        store,
        spoolDir: join(dir, 'spool'),
        spoolMaxBytes: 1 << 22,
        fullWaitMs: 0,
        writeBatchSize: 100,
        writeBatchDelayMs: 1,
        onDurable: () => undefined,
        consumers: [forwarder],
        logger,
      });
      return {
        forwarder,
        sink,
        held: () => sink.stats().spool.consumers.find((c) => c.consumer === ALERT_STREAM_CONSUMER)?.lag,
        async close() {
          await forwarder.close();
          await sink.close();
          await store.close();
          client.disconnect();
        },
      };
    };
    // First run: Redis unreachable, ten records held in the spool.
    const nowhere = streamRedis(`redis://127.0.0.1:${await freePort()}`);
    const first = await open(nowhere);
    for (let k = 0; k < 10; k++) await first.sink.accept(pm25(T0 + k * MIN, k));
    await until(() => (first.forwarder.stats().failures > 0 ? true : undefined), 'a failed forward');
    expect(first.held()).toBe(10);
    await first.close();
    // As if the crash came after Redis took records 0–4 and before the spool released them.
    const client = streamRedis(redis.url);
    await client.hset(ALERT_READINGS_FORWARDED_KEY, 'broker-replay', '4');
    const before = Number((await client.get('ioc:alerts:readings:position')) ?? 0);
    const second = await open(client);
    try {
      await until(() => (second.held() === 0 ? true : undefined), 'the replay released');
      const entries = await client.xrange(ALERT_READINGS_STREAM, `${before + 1}-0`, '+');
      const mine = entries.filter(([, fields]) => fields[fields.indexOf('node') + 1] === 'broker-replay');
      const values = mine
        .flatMap(([, fields]) => JSON.parse(fields[fields.indexOf('r') + 1] ?? '[]') as Reading[])
        .map((r) => r.metrics['pm25']);
      expect(values).toEqual([5, 6, 7, 8, 9]);
      expect(await client.hget(ALERT_READINGS_FORWARDED_KEY, 'broker-replay')).toBe('9');
      expect(second.forwarder.stats()).toMatchObject({ forwarded: 5, entries: 1, queued: 0 });
    } finally {
      await second.close();
    }
  }, 60_000);
});

describeWithPostgres('AlertEngineLeader: a holder that cannot renew', () => {
  it('stops evaluating before its term can expire on the database clock', async () => {
    const server = await startPostgres();
    const url = await server.createDatabase();
    const database = openDatabase({ kind: 'postgres', url });
    const other = openDatabase({ kind: 'postgres', url });
    try {
      await prepareDatabase(database);
      const directory = registryEngineDirectory(registry);
      const leader = new AlertEngineLeader({
        leases: new LeaseRepository(database.db, database.kind),
        name: ALERT_ENGINE_LEASE,
        holder: 'broker-1:stuck',
        ttlMs: 2000,
        renewMs: 300,
        logger,
        createHost: (fence, onLeaseLost) =>
          new AlertEngineHost({
            alerts: new AlertRepository(database.db),
            rules: new RuleRepository(database.db),
            directory,
            readingBase: (id) => directory.readingBase(id),
            publish: () => undefined,
            logger,
            cursorName: ALERT_ENGINE_STREAM_CURSOR,
            fence,
            onLeaseLost,
          }),
        // The input plays no part here: the lease's timing does.
        createInput: () => ({
          start: () => undefined,
          close: () => Promise.resolve(),
          stats: () => ({ readPosition: -1, streamPosition: -1, lag: 0, received: 0, gaps: 0, failures: 0 }),
        }),
      });
      leader.start();
      await until(() => (leader.holding ? true : undefined), 'holding');
      // Another session locks the lease row: every renewal now waits (the database is "stuck").
      let unlock: () => void = () => undefined;
      const held = new Promise<void>((resolve) => (unlock = resolve));
      let observed: { expiresAt: number; now: number } | undefined;
      const locker = other.db.transaction().execute(async (trx) => {
        await trx
          .selectFrom('leases')
          .selectAll()
          .where('name', '=', ALERT_ENGINE_LEASE)
          .forUpdate()
          .execute();
        await until(() => (leader.holding ? undefined : true), 'the holder giving up', 10_000);
        // The moment it gave up, on the database's clock, against the term's expiry.
        const { rows } = await sql<{ expires_at: number; now: number }>`
          select expires_at, cast(floor(extract(epoch from clock_timestamp()) * 1000) as bigint) as now
          from leases where name = ${ALERT_ENGINE_LEASE}`.execute(trx);
        const row = rows[0];
        if (row) observed = { expiresAt: Number(row.expires_at), now: Number(row.now) };
        await held;
      });
      await until(() => (observed ? true : undefined), 'observed');
      unlock();
      await locker;
      expect(observed && observed.expiresAt - observed.now).toBeGreaterThan(0);
      expect(leader.stats()).toMatchObject({ holding: false, lost: 1 });
      await leader.close();
    } finally {
      await other.close();
      await database.close();
      await server.stop();
    }
  }, 60_000);
});
