import { createServer, type Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import { Aedes } from 'aedes';
import { AuditLog } from '@ioc/audit';
import {
  errorBody,
  INTERNAL_INGEST_STATS_TOPIC_PREFIX,
  type IngestStatsBody,
  type IngestStatsMessage,
} from '@ioc/contracts';
import { type IocDatabase, openDatabase, prepareDatabase } from '@ioc/database';
import { DeviceRegistry, loadSeeds } from '@ioc/registry';
import { createLogger } from '@ioc/runtime';
import { ingestStatsMessage, TempDirs } from '@ioc/testing';
import { createTimeSeriesStore, type TimeSeriesStore } from '@ioc/timeseries';
import { type ApiUnderTest, startApiUnderTest } from '../test-support/api-under-test';
import { BROKER_NODE_LIVE } from './ingest-stats.controller';

jest.setTimeout(60_000);

const logger = createLogger('ingest-nodes-spec', { level: 'silent' });
const tempDirs = new TempDirs('ingest-nodes-spec-');

/**
 * Retiring a broker node (DELETE /api/v1/ingest/nodes/{node}): two API nodes on one real aedes
 * broker (a plain one: the platform broker lets platform services publish and receive `$internal/…`
 * unchecked, see authorizePublish / authorizeForward), each node's statistics retained on it as
 * the broker nodes publish them.
 */
describe('DELETE /api/v1/ingest/nodes/{node}: forgetting a retired broker node on every API node', () => {
  let broker: Aedes;
  let server: Server;
  let database: IocDatabase;
  let store: TimeSeriesStore;
  let audit: AuditLog;
  const apis: ApiUnderTest[] = [];

  const publishRetained = (message: IngestStatsMessage): Promise<void> =>
    new Promise((resolve, reject) =>
      broker.publish(
        {
          cmd: 'publish',
          topic: `${INTERNAL_INGEST_STATS_TOPIC_PREFIX}${message.node}`,
          payload: Buffer.from(JSON.stringify(message)),
          qos: 0,
          retain: true,
          dup: false,
        },
        (error) => (error ? reject(error) : resolve()),
      ),
    );
  const statsOf = async (api: ApiUnderTest): Promise<IngestStatsBody> => {
    const response = await fetch(`${api.url}/api/v1/ingest/stats`, { headers: api.authHeaders });
    expect(response.status).toBe(200);
    return (await response.json()) as IngestStatsBody;
  };
  const nodesOf = async (api: ApiUnderTest): Promise<string[]> =>
    (await statsOf(api)).nodes.map((node) => node.node);
  async function until<T>(probe: () => Promise<T | undefined>, what: string): Promise<T> {
    const end = Date.now() + 10_000;
    for (;;) {
      const value = await probe();
      if (value !== undefined) return value;
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  const forget = (api: ApiUnderTest, node: string, headers = api.authHeaders): Promise<Response> =>
    fetch(`${api.url}/api/v1/ingest/nodes/${encodeURIComponent(node)}`, { method: 'DELETE', headers });
  /** A retained message as a new subscriber gets it, or null when there is none. */
  const retainedOf = async (node: string): Promise<Buffer | null> => {
    const packets: Buffer[] = [];
    // aedes' persistence (aedes-persistence: what a new subscription is answered from).
    const { persistence } = broker as unknown as {
      persistence: { createRetainedStreamCombi(patterns: string[]): AsyncIterable<unknown> };
    };
    const stream = persistence.createRetainedStreamCombi([`${INTERNAL_INGEST_STATS_TOPIC_PREFIX}${node}`]);
    for await (const packet of stream) packets.push((packet as { payload: Buffer }).payload);
    return packets[0] ?? null;
  };

  beforeAll(async () => {
    broker = await Aedes.createBroker();
    server = createServer(broker.handle);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const brokerUrl = `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const dir = await tempDirs.make();
    database = openDatabase({ kind: 'sqlite', path: `${dir}/registry.sqlite` });
    await prepareDatabase(database);
    audit = new AuditLog(database.db);
    store = createTimeSeriesStore({ storage: 'embedded', dataDir: dir });
    await store.init();
    // broker-1 publishes now; broker-2 was retired (SIGKILLed) 60 s ago; broker-3 stopped gracefully.
    await publishRetained(ingestStatsMessage({ node: 'broker-1' }));
    await publishRetained(
      ingestStatsMessage({ node: 'broker-2', publishedAt: new Date(Date.now() - 60_000).toISOString() }),
    );
    await publishRetained(ingestStatsMessage({ node: 'broker-3', stoppedAt: new Date().toISOString() }));
    const registry = new DeviceRegistry(loadSeeds());
    for (const nodeId of ['1', '2']) {
      apis.push(
        await startApiUnderTest({
          registry,
          store,
          logger,
          // The first node on the database with the audit log; the second on its own.
          ...(nodeId === '1' ? { database, audit } : {}),
          settings: { brokerUrl, nodeId },
        }),
      );
    }
    // 503 no-ingest-stats until the node's bus client has received the retained messages.
    for (const api of apis)
      await until(async () => {
        const response = await fetch(`${api.url}/api/v1/ingest/stats`, { headers: api.authHeaders });
        if (response.status !== 200) return undefined;
        return ((await response.json()) as IngestStatsBody).nodes.length === 3 ? true : undefined;
      }, 'both API nodes to hear the three broker nodes');
  });

  afterAll(async () => {
    for (const api of apis) await api.close();
    await store?.close();
    await database?.close();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    await new Promise<void>((resolve) => (broker ? broker.close(() => resolve()) : resolve()));
    await tempDirs.removeAll();
  });

  it('shows the stopped node as broker-node-stopped and the killed one as broker-node-silent', async () => {
    const stats = await statsOf(apis[0]!);
    expect(stats.healthConditions.map((c) => [c.code, c.node])).toEqual([
      ['broker-node-silent', 'broker-2'],
      ['broker-node-stopped', 'broker-3'],
    ]);
    expect(stats.nodes.map((n) => [n.node, n.stale])).toEqual([
      ['broker-1', false],
      ['broker-2', true],
      ['broker-3', true],
    ]);
  });

  it('refuses a node still publishing (409), an unknown one (404), a bad name (400), and anyone but an unscoped admin (403)', async () => {
    const [api] = apis as [ApiUnderTest];
    const live = await forget(api, 'broker-1');
    expect(live.status).toBe(409);
    const liveBody = (await live.json()) as Record<string, unknown>;
    expect(errorBody.parse(liveBody)).toMatchObject({ reason: BROKER_NODE_LIVE });
    expect(String(liveBody['message'])).toMatch(/broker node broker-1 is still publishing/);
    expect((await forget(api, 'broker-9')).status).toBe(404);
    const bad = await forget(api, 'broker+');
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ parameter: 'node' });
    const operator = await api.createUser('operator');
    expect((await forget(api, 'broker-2', operator.headers)).status).toBe(403);
    const scopedAdmin = await api.createUser('admin', { scope: { domains: ['env'] } });
    expect((await forget(api, 'broker-2', scopedAdmin.headers)).status).toBe(403);
    // Nothing was forgotten or cleared.
    expect(await nodesOf(api)).toEqual(['broker-1', 'broker-2', 'broker-3']);
    expect(await retainedOf('broker-2')).not.toBeNull();
  });

  it('forgets a stale node on every API node, clears its retained statistics, and audits it', async () => {
    const [first, second] = apis as [ApiUnderTest, ApiUnderTest];
    const response = await forget(first, 'broker-2');
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ node: 'broker-2', stale: true });
    expect(await nodesOf(first)).toEqual(['broker-1', 'broker-3']);
    // The other API node forgets it too: the cleared retained message reached it.
    await until(
      async () => ((await nodesOf(second)).includes('broker-2') ? undefined : true),
      'the second API node to forget broker-2',
    );
    expect((await statsOf(second)).healthConditions.map((c) => c.node)).toEqual(['broker-3']);
    // Gone from the broker: an API node started later does not hear of it.
    expect(await retainedOf('broker-2')).toBeNull();
    expect(await retainedOf('broker-1')).not.toBeNull();
    // Its series leave /metrics.
    const metrics = await (await fetch(`${first.url}/metrics`, { headers: first.authHeaders })).text();
    expect(metrics).not.toContain('broker="broker-2"');
    expect(metrics).toContain('broker="broker-3"');
    // Audited, with who and what.
    const entries = await audit.query({ action: 'broker-node.forget' });
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({
      action: 'broker-node.forget',
      outcome: 'success',
      entity: { type: 'broker-node', id: 'broker-2' },
      actor: { kind: 'account' },
    });
    // Already forgotten: 404. The stopped node can be forgotten the same way.
    expect((await forget(first, 'broker-2')).status).toBe(404);
    expect((await forget(second, 'broker-3')).status).toBe(200);
    await until(
      async () => ((await nodesOf(first)).includes('broker-3') ? undefined : true),
      'the first API node to forget broker-3',
    );
    expect((await statsOf(first)).healthConditions).toEqual([]);
  });
});
