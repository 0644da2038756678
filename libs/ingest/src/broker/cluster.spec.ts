import { connectAsync, type IClientOptions, type MqttClient } from 'mqtt';
import Redis from 'ioredis';
import {
  type Device,
  INTERNAL_READINGS_TOPIC,
  INTERNAL_USERNAME,
  INTERNAL_REGISTRY_POSITION_TOPIC_PREFIX,
  type Reading,
  deviceTopic,
} from '@ioc/contracts';
import { describeWithRedis, type RedisHandle, startRedis, TempDirs } from '@ioc/testing';
import {
  startTestBroker,
  TEST_INTERNAL_SECRET as SECRET,
  type TestBroker,
  testDeviceCredentials,
  testRegistry as registry,
  waitFor,
} from '../test-support/test-broker';
import { aedesIdOf } from './cluster';

const [station, other] = registry.listDevices({ type: 'air-quality-station' }) as [Device, Device];

/**
 * Two ingest brokers in this process on one real Redis (IOC_REDIS_URL): what one node's clients
 * publish, retain or leave queued is seen through the other.
 */
describeWithRedis('broker nodes on one Redis', () => {
  const dirs = new TempDirs('ingest-cluster-');
  let redis: RedisHandle;
  const nodes: TestBroker[] = [];
  const clients: MqttClient[] = [];
  const { secrets, auth } = testDeviceCredentials([station.id, other.id]);

  const startNode = async (brokerId: string): Promise<TestBroker> => {
    const node = await startTestBroker(await dirs.make(), {
      auth,
      cluster: { redisUrl: redis.url, brokerId },
    });
    nodes.push(node);
    return node;
  };
  const connect = async (node: TestBroker, options: IClientOptions): Promise<MqttClient> => {
    const client = await connectAsync(node.url, { reconnectPeriod: 0, ...options });
    clients.push(client);
    return client;
  };
  const internal = (node: TestBroker, clientId: string): Promise<MqttClient> =>
    connect(node, { clientId, username: INTERNAL_USERNAME, password: SECRET });
  const device = (node: TestBroker, id: string, options: IClientOptions = {}): Promise<MqttClient> =>
    connect(node, { clientId: `${id}-c`, username: id, password: secrets[id], ...options });

  beforeAll(async () => {
    redis = await startRedis();
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.endAsync(true)));
    await Promise.all(nodes.splice(0).map((n) => n.close()));
    const flush = new Redis(redis.url);
    await flush.flushall();
    flush.disconnect();
  });
  afterAll(async () => {
    await redis?.close();
    await dirs.removeAll();
  });

  it('names each node ioc-broker-<IOC_BROKER_ID> and keeps its state under ioc: in Redis', async () => {
    const [one] = [await startNode('a1')];
    expect(one.broker.aedes.id).toBe(aedesIdOf('a1'));
    expect(one.broker.aedes.id).toBe('ioc-broker-a1');
    const watcher = await internal(one, 'ioc-test-watch');
    await watcher.publishAsync(`${INTERNAL_REGISTRY_POSITION_TOPIC_PREFIX}x`, '{"seq":1}', {
      qos: 1,
      retain: true,
    });
    const peek = new Redis(redis.url);
    try {
      const keys = await peek.keys('*');
      expect(keys.length).toBeGreaterThan(0);
      expect(keys.filter((key) => !key.startsWith('ioc:'))).toEqual([]);
      expect(await peek.hexists('ioc:aedes:retained', `${INTERNAL_REGISTRY_POSITION_TOPIC_PREFIX}x`)).toBe(1);
      const channels = await peek.pubsub('CHANNELS', '*');
      expect(channels.filter((c) => !c.startsWith('ioc:'))).toEqual([]);
    } finally {
      peek.disconnect();
    }
  });

  it("relays one node's readings, retained positions and commands to the other node's subscribers", async () => {
    const [one, two] = [await startNode('1'), await startNode('2')];
    // A platform service on node 2 (the API's bus client) hears node 1's live readings and its
    // retained registry position, published before it subscribed.
    const position = JSON.stringify({ node: 'broker-1', seq: 7, at: Date.now() });
    one.broker.aedes.publish(
      {
        cmd: 'publish',
        topic: `${INTERNAL_REGISTRY_POSITION_TOPIC_PREFIX}broker-1`,
        payload: Buffer.from(position),
        qos: 1,
        retain: true,
        dup: false,
      },
      () => undefined,
    );
    const api = await internal(two, 'ioc-api-9');
    const heard: { topic: string; payload: string; retain: boolean }[] = [];
    api.on('message', (topic, payload, packet) =>
      heard.push({ topic, payload: payload.toString(), retain: packet.retain }),
    );
    await api.subscribeAsync([INTERNAL_READINGS_TOPIC, `${INTERNAL_REGISTRY_POSITION_TOPIC_PREFIX}+`], {
      qos: 1,
    });
    await waitFor(
      () => heard.some((m) => m.payload === position && m.retain),
      'the retained position from node 1',
    );

    const sender = await device(one, station.id);
    await sender.publishAsync(
      deviceTopic('env', station.id, 'telemetry'),
      JSON.stringify({ ts: Date.now() - 1000, metrics: { pm25: 12.5 } }),
      { qos: 1 },
    );
    await waitFor(
      () =>
        heard.some(
          (m) =>
            m.topic === INTERNAL_READINGS_TOPIC &&
            (JSON.parse(m.payload) as Reading[]).some((r) => r.deviceId === station.id),
        ),
      "node 1's reading batch on node 2",
    );
    // Stored once, by the node it arrived on.
    await waitFor(() => one.broker.stats().storage.written === 1, 'stored on node 1');
    expect(two.broker.stats().storage.written).toBe(0);

    // A command from a platform service on node 1 reaches the device on node 2; a message a
    // platform service could not have sent (an `error` with a publisher) is refused by node 2's
    // forward gate, and counted there.
    const receiver = await device(two, other.id);
    const received: string[] = [];
    receiver.on('message', (topic) => received.push(topic));
    await receiver.subscribeAsync(
      [deviceTopic('env', other.id, 'command'), deviceTopic('env', other.id, 'error')],
      { qos: 1 },
    );
    const service = await internal(one, 'ioc-test-1');
    const blockedBefore = two.broker.stats().broker.forwardsBlocked;
    await service.publishAsync(deviceTopic('env', other.id, 'error'), '{"refused":true}', { qos: 1 });
    await service.publishAsync(deviceTopic('env', other.id, 'command'), '{"commandId":"c1","name":"ping"}', {
      qos: 1,
    });
    await waitFor(() => received.includes(deviceTopic('env', other.id, 'command')), 'the command on node 2');
    await waitFor(() => two.broker.stats().broker.forwardsBlocked > blockedBefore, 'the refusal on node 2');
    expect(received).toEqual([deviceTopic('env', other.id, 'command')]);
  });
});
