import { Redis } from 'ioredis';
import { type HealthBody, healthBody, type ReadinessBody, readinessBody } from '@ioc/contracts';
import { DeviceRegistry, loadSeeds } from '@ioc/registry';
import { claimNodeId, createLogger, type NodeIdClaim, nodeIdTakenCondition } from '@ioc/runtime';
import { describeWithRedis, type RedisHandle, startRedis, TempDirs } from '@ioc/testing';
import { createTimeSeriesStore, type TimeSeriesStore } from '@ioc/timeseries';
import { type ApiUnderTest, startApiUnderTest } from '../test-support/api-under-test';

jest.setTimeout(60_000);

const logger = createLogger('health-spec', { level: 'silent' });
const tempDirs = new TempDirs('health-spec-');

/**
 * /health reports what is wrong with the node itself: here an API node whose IOC_NODE_ID claim
 * (claimNodeId, real Redis) was taken by another instance, e.g. after a Redis outage longer than
 * the claim's ttl. The broker connection is not under test (none: /health is 503 for it anyway),
 * so the condition is read from the body.
 */
describeWithRedis('GET /health: the node id claim', () => {
  let redis: RedisHandle;
  let admin: Redis;
  let store: TimeSeriesStore;
  let claim: NodeIdClaim;
  let api: ApiUnderTest;

  beforeAll(async () => {
    redis = await startRedis();
    admin = new Redis(redis.url);
    store = createTimeSeriesStore({ storage: 'embedded', dataDir: await tempDirs.make() });
    await store.init();
    claim = await claimNodeId({
      redisUrl: redis.url,
      kind: 'api',
      id: 'h1',
      variable: 'IOC_NODE_ID',
      logger,
      ttlMs: 1500,
      renewMs: 200,
      pollMs: 100,
    });
    api = await startApiUnderTest({
      registry: new DeviceRegistry(loadSeeds()),
      store,
      logger,
      settings: { nodeId: 'h1' },
      nodeHealth: () => nodeIdTakenCondition(claim),
    });
  });
  afterAll(async () => {
    await api?.close();
    await claim?.release();
    await store?.close();
    admin?.disconnect();
    await redis?.close();
    await tempDirs.removeAll();
  });

  const health = async (): Promise<HealthBody> => {
    const response = await fetch(`${api.url}/health`);
    const body = healthBody.parse(await response.json());
    expect(response.status).toBe(body.status === 'ok' ? 200 : 503);
    return body;
  };

  const readiness = async (): Promise<{ status: number; body: ReadinessBody }> => {
    const response = await fetch(`${api.url}/health/ready`);
    return { status: response.status, body: readinessBody.parse(await response.json()) };
  };

  it('has no condition while the claim is held, and node-id-taken once another instance holds the id', async () => {
    const before = await health();
    expect(before).not.toHaveProperty('healthConditions');
    // No broker here: /health is degraded for it, a dependency every node shares; the node itself
    // is ready (a load balancer keeps sending it what it can serve).
    expect(before.broker.connected).toBe(false);
    expect(before.status).toBe('degraded');
    expect(await readiness()).toEqual({ status: 200, body: { ready: true, problems: [] } });
    const other = { instance: 'other', host: 'api-host-2', pid: 7, since: new Date().toISOString() };
    await admin.set('ioc:node:api:h1', JSON.stringify(other), 'PX', 60_000);
    const end = Date.now() + 5000;
    let body = await health();
    while (body.healthConditions === undefined && Date.now() < end) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      body = await health();
    }
    expect(body.status).toBe('degraded');
    expect(body.healthConditions).toEqual([
      {
        code: 'node-id-taken',
        severity: 'critical',
        message: expect.stringMatching(/^IOC_NODE_ID=h1 is held by another node .*host api-host-2, pid 7/),
      },
    ]);
    // Its own problem: not ready, so the load balancer sends its traffic to the other nodes.
    expect(await readiness()).toEqual({ status: 503, body: { ready: false, problems: ['node-id-taken'] } });
  });
});
