import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import {
  API_ENTRY,
  BROKER_ENTRY,
  describeWithRedis,
  eventually,
  freePort,
  type RedisHandle,
  type RunningPlatform,
  type ServiceProcess,
  startPlatform,
  startRedis,
  startService,
} from '@ioc/testing';

/*
 * A node started with settings that differ from the rest's, or that cannot work (issue 12, D8):
 * each is told at start — naming the variable, saying what failed, never printing a password — or,
 * for a refused internal secret, said at once and shown by /health, without hammering the broker.
 */

jest.setTimeout(180_000);

/** The start-up failure of `entry` (its output), or an error when it started. */
async function refusal(entry: string, env: Record<string, string>, ready: string): Promise<string> {
  const outcome = await startService(entry, env, ready, 30_000).then(
    async (started: ServiceProcess) => {
      await started.stop();
      return undefined;
    },
    (error: unknown) => (error as Error).message,
  );
  if (outcome === undefined) throw new Error(`${entry} started with ${JSON.stringify(env)}`);
  return outcome;
}

describe('a platform node refuses to start with a configuration the others cannot work with', () => {
  let platform: RunningPlatform;

  beforeAll(async () => {
    platform = await startPlatform({ storage: 'embedded' });
  });

  afterAll(async () => {
    await platform?.stop();
  });

  /** The API's environment for a second node beside the running one, with `overrides`. */
  const secondApi = async (overrides: Record<string, string>): Promise<Record<string, string>> => ({
    ...platform.api.env,
    IOC_HTTP_PORT: String(await freePort()),
    IOC_NODE_ID: '2',
    ...overrides,
  });

  it('IOC_DATABASE_URL on a PostgreSQL that does not answer: API and broker stop, naming it and the refusal, without its password', async () => {
    const url = `postgres://ioc:pg-password-never-printed@127.0.0.1:${await freePort()}/ioc`;
    const api = await refusal(API_ENTRY, await secondApi({ IOC_DATABASE_URL: url }), 'API listening');
    const broker = await refusal(
      BROKER_ENTRY,
      { ...platform.broker.env, IOC_MQTT_PORT: String(await freePort()), IOC_DATABASE_URL: url },
      'broker ready',
    );
    for (const output of [api, broker]) {
      expect(output).toMatch(
        /IOC_DATABASE_URL: the registry database postgres:\/\/ioc:\*\*\*@127\.0\.0\.1:\d+\/ioc cannot be reached \(connection refused/,
      );
      expect(output).not.toContain('pg-password-never-printed');
    }
  });

  it('IOC_DEVICE_CREDENTIAL_KEY other than the one the registry’s credentials were hashed with: API and broker stop, naming it', async () => {
    const otherKey = randomBytes(32).toString('hex');
    const api = await refusal(
      API_ENTRY,
      await secondApi({ IOC_DEVICE_CREDENTIAL_KEY: otherKey }),
      'API listening',
    );
    const broker = await refusal(
      BROKER_ENTRY,
      {
        ...platform.broker.env,
        IOC_MQTT_PORT: String(await freePort()),
        IOC_DEVICE_CREDENTIAL_KEY: otherKey,
      },
      'broker ready',
    );
    for (const output of [api, broker]) {
      expect(output).toContain(
        "IOC_DEVICE_CREDENTIAL_KEY: differs from the key the registry's credentials were hashed with",
      );
      expect(output).not.toContain(otherKey);
    }
  });

  it('IOC_INTERNAL_SECRET other than the broker’s: the API says so once, /health 503 names it, /health/ready takes it out, and it does not hammer the broker', async () => {
    const api = await startService(
      API_ENTRY,
      await secondApi({ IOC_INTERNAL_SECRET: 'not-the-brokers-internal-secret' }),
      'API listening',
    );
    try {
      const url = `http://127.0.0.1:${api.env['IOC_HTTP_PORT']}`;
      const health = await eventually(
        async () => {
          const response = await fetch(`${url}/health`);
          const body = (await response.json()) as { broker?: { refused?: string } };
          return response.status === 503 && body.broker?.refused === 'internal-secret'
            ? { status: response.status, body }
            : undefined;
        },
        15_000,
        '/health naming the refused internal secret',
      );
      expect(health.body).toMatchObject({
        status: 'degraded',
        broker: { connected: false, refused: 'internal-secret' },
      });
      expect(api.output()).toContain('IOC_INTERNAL_SECRET differs from the broker');
      expect(api.output()).not.toContain('not-the-brokers-internal-secret');
      // Its own problem: the load balancer's readiness check takes this node out, not the others.
      const ready = await fetch(`${url}/health/ready`);
      expect({ status: ready.status, body: await ready.json() }).toEqual({
        status: 503,
        body: { ready: false, problems: ['internal-secret-refused'] },
      });
      expect((await fetch(`${platform.httpUrl}/health/ready`)).status).toBe(200);
      // One refused login so far: the next attempt waits INTERNAL_LOGIN_REFUSED_RETRY_MS (60 s).
      const refusals = (): number =>
        platform.broker
          .output()
          .split('\n')
          .filter((line) => line.includes('internal login with a wrong secret refused')).length;
      expect(refusals()).toBe(1);
      // The running API node is not affected.
      expect((await fetch(`${platform.httpUrl}/health`)).status).toBe(200);
    } finally {
      await api.stop();
    }
  });
});

describeWithRedis('IOC_REDIS_URL with a wrong password', () => {
  let redis: RedisHandle;
  let platform: RunningPlatform;

  beforeAll(async () => {
    redis = await startRedis({ password: 'the-right-redis-password' });
    platform = await startPlatform({ storage: 'embedded', api: false });
  });

  afterAll(async () => {
    await platform?.stop();
    await redis?.close();
  });

  it('stops the API and the broker, naming IOC_REDIS_URL and the failed authentication, without the password', async () => {
    const wrong = redis.url.replace('the-right-redis-password', 'a-wrong-redis-password');
    expect(wrong).not.toBe(redis.url);
    const api = await refusal(
      API_ENTRY,
      {
        ...platform.broker.env,
        IOC_HTTP_PORT: String(await freePort()),
        IOC_NODE_ID: '7',
        IOC_REDIS_URL: wrong,
      },
      'API listening',
    );
    const broker = await refusal(
      BROKER_ENTRY,
      {
        ...platform.broker.env,
        IOC_MQTT_PORT: String(await freePort()),
        IOC_BROKER_ID: '7',
        IOC_REDIS_URL: wrong,
      },
      'broker ready',
    );
    for (const output of [api, broker]) {
      expect(output).toMatch(
        /IOC_REDIS_URL: Redis at redis:\/\/:\*\*\*@127\.0\.0\.1:\d+\/? refused the login \(authentication failed/,
      );
      expect(output).not.toContain('a-wrong-redis-password');
    }
  });
});

describeWithRedis('IOC_INTERNAL_SECRET other than the running nodes’ (scale-out)', () => {
  let redis: RedisHandle;
  let platform: RunningPlatform;

  beforeAll(async () => {
    redis = await startRedis();
    platform = await startPlatform({
      storage: 'embedded',
      api: false,
      env: { IOC_REDIS_URL: redis.url, IOC_BROKER_ID: '1' },
    });
  });

  afterAll(async () => {
    await platform?.stop();
    await redis?.close();
  });

  it('a broker or API node started with another secret next to a running broker stops, naming the variable and the running node; with the same one they start, and stop on SIGTERM without an outage warning', async () => {
    const other = 'another-internal-secret-never-printed';
    // Broker node 2 beside node 1: a spool of its own, no demo credentials file (node 1's).
    const { IOC_DEMO_CREDENTIALS_FILE: _demo, ...env } = platform.broker.env;
    const nodeTwo = async (): Promise<Record<string, string>> => ({
      ...env,
      IOC_MQTT_PORT: String(await freePort()),
      IOC_BROKER_ID: '2',
      IOC_SPOOL_DIR: join(platform.dataDir, 'broker-2-spool'),
    });
    const broker = await refusal(
      BROKER_ENTRY,
      { ...(await nodeTwo()), IOC_INTERNAL_SECRET: other },
      'broker ready',
    );
    expect(broker).toContain(
      'IOC_INTERNAL_SECRET: differs from the one the running nodes use (broker node 1',
    );
    expect(broker).toContain('stop every node, then start them all with the new one');
    expect(broker).not.toContain(other);
    // An API node with it: the same (every broker would refuse its bus login).
    const { IOC_BROKER_ID: _id, ...apiEnv } = platform.broker.env;
    const api = await refusal(
      API_ENTRY,
      { ...apiEnv, IOC_HTTP_PORT: String(await freePort()), IOC_NODE_ID: '5', IOC_INTERNAL_SECRET: other },
      'API listening',
    );
    expect(api).toContain('IOC_INTERNAL_SECRET: differs from the one the running nodes use (broker node 1');
    expect(api).not.toContain(other);
    // The same secret is accepted: node 2 and an API node with it start…
    const second = await startService(BROKER_ENTRY, await nodeTwo(), 'broker ready');
    const apiNode = await startService(
      API_ENTRY,
      { ...apiEnv, IOC_HTTP_PORT: String(await freePort()), IOC_NODE_ID: '5' },
      'API listening',
    );
    // …and stop on SIGTERM without taking their own Redis connections' closing for an outage.
    await apiNode.stop();
    await second.stop();
    for (const node of [second, apiNode]) {
      expect(node.output()).toContain('"msg":"node id claimed"');
      expect(node.output()).not.toContain('unreachable; retrying');
    }
  });
});
