import {
  connect as mqttConnect,
  connectAsync,
  type IClientOptions,
  type MqttClient,
  type Packet,
} from 'mqtt';
import Redis from 'ioredis';
import {
  type Device,
  INTERNAL_INGEST_STATS_TOPIC_PREFIX,
  INTERNAL_READINGS_TOPIC,
  INTERNAL_USERNAME,
  INTERNAL_REGISTRY_POSITION_TOPIC_PREFIX,
  type Reading,
  deviceTopic,
} from '@ioc/contracts';
import { type IocDatabase, openDatabase, prepareDatabase } from '@ioc/database';
import { DeviceStatusRepository, loadSeeds, RegistryRepository } from '@ioc/registry';
import { createLogger } from '@ioc/runtime';
import {
  describeWithRedis,
  haproxyAvailable,
  HAPROXY_MISSING_MESSAGE,
  type RedisHandle,
  startHaproxy,
  startRedis,
  TempDirs,
} from '@ioc/testing';
import { DeviceStatusTracker } from '../device-status-tracker';
import {
  startTestBroker,
  TEST_INTERNAL_SECRET as SECRET,
  type TestBroker,
  testDeviceCredentials,
  testRegistry as registry,
  waitFor,
} from '../test-support/test-broker';
import { aedesInternals, clientInternals } from './aedes-internals';
import { aedesIdOf, CLUSTER_PEER_WAIT_MS } from './cluster';
import type { IngestBrokerOptions } from './ingest-broker';

jest.setTimeout(30_000);

/** The parts of aedes-persistence-redis (through aedes' `persistence`) these specs look at or hold. */
interface RedisPersistence {
  subscriptionsByTopic(topic: string): Promise<unknown[]>;
  subscriptionsByClient(client: { id: string }): Promise<unknown[]>;
  delWill(client: { id: string }): Promise<unknown>;
}
const persistenceOf = (node: TestBroker): RedisPersistence =>
  (node.broker.aedes as unknown as { persistence: RedisPersistence }).persistence;

/** Polls an asynchronous condition every 10 ms until it holds (5 s at most). */
async function waitUntil(condition: () => Promise<boolean>, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

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

  const startNode = async (
    brokerId: string,
    extra: Partial<IngestBrokerOptions> = {},
  ): Promise<TestBroker> => {
    const node = await startTestBroker(await dirs.make(), {
      auth,
      cluster: { redisUrl: redis.url, brokerId },
      ...extra,
    });
    nodes.push(node);
    return node;
  };
  const connect = async (target: TestBroker | string, options: IClientOptions): Promise<MqttClient> => {
    const url = typeof target === 'string' ? target : target.url;
    const client = await connectAsync(url, { reconnectPeriod: 0, ...options });
    clients.push(client);
    return client;
  };
  const internal = (node: TestBroker, clientId: string): Promise<MqttClient> =>
    connect(node, { clientId, username: INTERNAL_USERNAME, password: SECRET });
  const device = (node: TestBroker, id: string, options: IClientOptions = {}): Promise<MqttClient> =>
    connect(node, { clientId: `${id}-c`, username: id, password: secrets[id], ...options });
  /** Tries a CONNECT: `accepted` (the client kept, closed after the test), or the CONNACK return code. */
  const tryConnect = (
    target: TestBroker,
    options: IClientOptions,
  ): Promise<'accepted' | number | undefined> =>
    connectAsync(target.url, { reconnectPeriod: 0, ...options }).then(
      (client) => {
        clients.push(client);
        return 'accepted' as const;
      },
      (error: Error & { code?: number }) => error.code,
    );
  /**
   * Connects as `station` with its listeners on before the CONNECT goes out (a message in the same
   * read as the CONNACK is emitted before connectAsync would resolve).
   */
  const connectListening = async (
    node: TestBroker,
    options: IClientOptions,
    onMessage: (topic: string, payload: Buffer) => void,
    onPacket: (packet: Packet) => void = () => undefined,
  ): Promise<MqttClient> => {
    const client = mqttConnect(node.url, {
      reconnectPeriod: 0,
      username: station.id,
      password: secrets[station.id],
      ...options,
    });
    clients.push(client);
    client.on('packetreceive', onPacket);
    client.on('message', onMessage);
    await new Promise<void>((resolve, reject) => {
      client.once('connect', () => resolve());
      client.once('error', reject);
    });
    return client;
  };

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
      const channels = (await peek.pubsub('CHANNELS', '*')) as string[];
      expect(channels.filter((c) => !c.startsWith('ioc:'))).toEqual([]);
    } finally {
      peek.disconnect();
    }
  });

  it('sends no device publish through Redis: only what is routed (reading batches) crosses it', async () => {
    const [one] = [await startNode('1'), await startNode('2')];
    const watcher = new Redis(redis.url);
    const channels = new Map<string, number>();
    watcher.on('pmessage', (_pattern, channel) => channels.set(channel, (channels.get(channel) ?? 0) + 1));
    try {
      await watcher.psubscribe('ioc:mqtt:*');
      const sender = await device(one, station.id);
      const start = Date.now() - 60_000;
      await Promise.all(
        Array.from({ length: 200 }, (_, i) =>
          sender.publishAsync(
            deviceTopic('env', station.id, 'telemetry'),
            JSON.stringify({ ts: start + i, metrics: { pm25: 10 + (i % 50) } }),
            { qos: 1 },
          ),
        ),
      );
      await waitFor(() => one.broker.stats().storage.written === 200, 'the 200 readings stored');
      await waitFor(
        () => (channels.get(`ioc:mqtt:${INTERNAL_READINGS_TOPIC}`) ?? 0) > 0,
        'a reading batch on the shared bus',
      );
      // Every device publish is diverted to the discard topic, which reaches no one: not Redis either.
      expect([...channels.keys()].filter((c) => c.includes('discarded'))).toEqual([]);
      expect(channels.get(`ioc:mqtt:${INTERNAL_READINGS_TOPIC}`)).toBeLessThan(200);
    } finally {
      watcher.disconnect();
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

  it('keeps a persistent session across nodes: subscriptions and the QoS 1 command queued while away', async () => {
    const [one, two] = [await startNode('1'), await startNode('2')];
    const commandTopic = deviceTopic('env', station.id, 'command');
    const first = await device(one, station.id, { clean: false });
    await first.subscribeAsync(commandTopic, { qos: 1 });
    await first.endAsync();
    // Node 2 learns of node 1's subscription from node 1's broadcast on the bus (aedes-persistence-redis
    // `$SYS/sub/add`): until then, what is published through node 2 is not queued for the session.
    await waitUntil(
      async () => (await persistenceOf(two).subscriptionsByTopic(commandTopic)).length === 1,
      'node 2 knowing the subscription made on node 1',
    );
    const service = await internal(two, 'ioc-api-2');
    await service.publishAsync(commandTopic, '{"commandId":"queued-1","name":"reboot"}', { qos: 1 });
    // Back, through the other node: the session is there and the command comes with it (listened
    // for before the CONNACK: the queued command may arrive in the same read).
    const received: string[] = [];
    const back = await connectListening(
      two,
      { clean: false, clientId: `${station.id}-c` },
      (_topic, payload) => received.push(payload.toString()),
    );
    await waitFor(() => received.length > 0, 'the queued command on node 2');
    // QoS 1 is at least once: the command, perhaps twice, and nothing else.
    expect(new Set(received)).toEqual(new Set(['{"commandId":"queued-1","name":"reboot"}']));
    expect(back.connected).toBe(true);
  });

  it('sends the CONNACK first: a command routed to a restored session while its CONNECT is processed waits for it [MQTT-3.2.0-1]', async () => {
    const [one, two] = [await startNode('1'), await startNode('2')];
    const commandTopic = deviceTopic('env', station.id, 'command');
    const clientId = `${station.id}-c`;
    const first = await device(one, station.id, { clean: false });
    await first.subscribeAsync(commandTopic, { qos: 1 });
    await first.endAsync();
    const service = await internal(one, 'ioc-api-1');
    // A listener of node 2's own on the command topic: the bus hands it each command together
    // with the device's subscription (the same message, the same dispatch).
    let routed!: () => void;
    const routedToTwo = new Promise<void>((resolve) => (routed = resolve));
    await new Promise<void>((resolve) =>
      two.broker.aedes.subscribe(
        commandTopic,
        (_packet, callback) => {
          routed();
          callback();
        },
        () => resolve(),
      ),
    );
    // Node 2 restores the session's subscription on the bus, then stores the will (delWill), then
    // writes the CONNACK. Held in delWill: a platform service on node 1 sends a command, and the
    // CONNECT goes on only once node 2 has handed it to the subscription and aedes' delivery has
    // had its turn (a setImmediate, then a round trip on the persistence's Redis connection,
    // then the write) — before the fix, the PUBLISH went out ahead of the CONNACK.
    const persistence = persistenceOf(two);
    const delWill = persistence.delWill.bind(persistence);
    persistence.delWill = async (client) => {
      if (client.id === clientId) {
        persistence.delWill = delWill;
        service.publish(commandTopic, '{"commandId":"during-connect","name":"ping"}', { qos: 1 });
        await routedToTwo;
        await new Promise((resolve) => setImmediate(resolve));
        await new Promise((resolve) => setImmediate(resolve));
        await persistence.subscriptionsByClient({ id: 'ioc-test-round-trip' });
        await new Promise((resolve) => setImmediate(resolve));
      }
      return delWill(client);
    };
    const packets: string[] = [];
    const received: string[] = [];
    const back = await connectListening(
      two,
      { clean: false, clientId, connectTimeout: 10_000 },
      (_topic, payload) => received.push(payload.toString()),
      (packet) => packets.push(packet.cmd),
    );
    await waitFor(() => received.length > 0, 'the command sent during the CONNECT');
    expect(packets[0]).toBe('connack');
    expect(new Set(received)).toEqual(new Set(['{"commandId":"during-connect","name":"ping"}']));
    expect(back.connected).toBe(true);
  });

  it('a connection with the same client id on another node takes over; limits and client id bindings hold across nodes', async () => {
    const [one, two] = [
      await startNode('1', { maxSessionsPerDevice: 2 }),
      await startNode('2', { maxSessionsPerDevice: 2 }),
    ];
    const old = await device(one, station.id);
    const closed = new Promise<void>((resolve) => old.once('close', () => resolve()));
    await device(two, station.id);
    await closed;
    await waitFor(() => one.broker.sessionCount(station.id) === 0, 'the old session gone from node 1');
    expect(two.broker.sessionCount(station.id)).toBe(1);

    // A second session on node 1 (another client id): two in all, the limit.
    await device(one, station.id, { clientId: `${station.id}-tool` });
    await waitFor(() => one.broker.sessionCount(station.id) === 1, 'the second session');
    const refusal = await tryConnect(two, {
      clientId: `${station.id}-third`,
      username: station.id,
      password: secrets[station.id],
    });
    expect(refusal).toBe(5);
    // Another device may not take the client id the first holds on the other node.
    const stolen = await tryConnect(one, {
      clientId: `${station.id}-c`,
      username: other.id,
      password: secrets[other.id],
    });
    expect(stolen).toBe(2);
  });

  it('holds IOC_MQTT_MAX_SESSIONS_PER_DEVICE across nodes when one device connects to both at once', async () => {
    const [one, two] = [
      await startNode('1', { maxSessionsPerDevice: 2 }),
      await startNode('2', { maxSessionsPerDevice: 2 }),
    ];
    // Six CONNECTs of one device, three to each node, all in flight together.
    const outcomes = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        tryConnect(i % 2 === 0 ? one : two, {
          clientId: `${station.id}-burst-${i}`,
          username: station.id,
          password: secrets[station.id],
        }),
      ),
    );
    expect(outcomes.filter((o) => o === 'accepted')).toHaveLength(2);
    expect(outcomes.filter((o) => o === 5)).toHaveLength(4);
    const refused = (node: TestBroker): number => node.broker.stats().broker.authTooManySessions ?? 0;
    expect(refused(one) + refused(two)).toBe(4);
    // A session that ends frees its place at once, whichever node held it.
    const held = clients.filter((c) => c.connected);
    await held[0]?.endAsync();
    const next = await device(two, station.id, { clientId: `${station.id}-after` });
    expect(next.connected).toBe(true);
  });

  it('holds IOC_MQTT_MAX_SESSIONS_PER_DEVICE for CONNECTs that arrive during a Redis outage: they wait for it', async () => {
    const [one, two] = [
      await startNode('1', { maxSessionsPerDevice: 2 }),
      await startNode('2', { maxSessionsPerDevice: 2 }),
    ];
    await redis.stop();
    const attempts = Array.from({ length: 6 }, (_, i) =>
      tryConnect(i % 2 === 0 ? one : two, {
        connectTimeout: 20_000,
        clientId: `${station.id}-outage-${i}`,
        username: station.id,
        password: secrets[station.id],
      }),
    );
    await redis.start();
    const outcomes = await Promise.all(attempts);
    expect(outcomes.filter((o) => o === 'accepted')).toHaveLength(2);
    expect(outcomes.filter((o) => o === 5)).toHaveLength(4);
  });

  it('counts failed logins of every node together: guesses spread over the nodes are throttled on all', async () => {
    const limits = { perDevice: 3, perAddress: 100, windowSeconds: 60, blockSeconds: 60 };
    const [one, two] = [
      await startNode('1', { failedLoginLimits: limits }),
      await startNode('2', { failedLoginLimits: limits }),
    ];
    const attempt = (node: TestBroker, password: string): Promise<unknown> =>
      tryConnect(node, { clientId: `guess-${Math.random()}`, username: station.id, password });
    // Three wrong secrets, on alternate nodes: the limit is reached across them.
    expect([
      await attempt(one, 'wrong-1'),
      await attempt(two, 'wrong-2'),
      await attempt(one, 'wrong-3'),
    ]).toEqual([4, 4, 4]);
    // Now even the right secret is refused on both nodes, without being checked.
    expect(await attempt(two, secrets[station.id] as string)).toBe(5);
    expect(await attempt(one, secrets[station.id] as string)).toBe(5);
    expect(
      (one.broker.stats().broker.authThrottled ?? 0) + (two.broker.stats().broker.authThrottled ?? 0),
    ).toBe(2);
  });

  it("keeps a persistent session's client id bound to its device after the node that held it restarts, on every node", async () => {
    const [one, two] = [await startNode('1'), await startNode('2')];
    const first = await device(one, station.id, { clientId: 'kept-session', clean: false });
    await first.endAsync();
    // Node 1 restarts: what it held in memory is gone.
    await nodes.splice(nodes.indexOf(one), 1)[0]?.close();
    const restarted = await startNode('1');
    const takeOver = (node: TestBroker, clean: boolean): Promise<unknown> =>
      tryConnect(node, { clientId: 'kept-session', clean, username: other.id, password: secrets[other.id] });
    for (const node of [restarted, two]) {
      expect(await takeOver(node, false)).toBe(2);
      expect(await takeOver(node, true)).toBe(2);
    }
    const bound = (node: TestBroker): number => node.broker.stats().broker.clientIdBoundToOtherDevice ?? 0;
    expect(bound(restarted) + bound(two)).toBe(4);
    // Its own device takes it back; once it ends the session (clean=true), the id is free.
    const owner = await device(two, station.id, { clientId: 'kept-session', clean: true });
    await owner.endAsync();
    expect(await takeOver(restarted, false)).toBe('accepted');
  });

  describe('wills of a node taken for gone (heartbeats every 200 ms)', () => {
    const HEARTBEAT_MS = 200;
    const fastNode = (brokerId: string): Promise<TestBroker> =>
      startNode(brokerId, { cluster: { redisUrl: redis.url, brokerId, heartbeatMs: HEARTBEAT_MS } });
    const statusOf = (id: string): string => deviceTopic('env', id, 'status');
    const offline = (): string => JSON.stringify({ ts: Date.now() - 1000, metrics: { online: false } });
    /** aedes' table of the nodes it heard lately (aedes.js `brokers`). */
    const heard = (node: TestBroker): Record<string, number> =>
      (node.broker.aedes as unknown as { brokers: Record<string, number> }).brokers;
    /** The wills aedes-persistence-redis holds (its list `ioc:aedes:will`). */
    const willsInRedis = async (): Promise<number> => {
      const reader = new Redis(redis.url);
      try {
        return await reader.llen('ioc:aedes:will');
      } finally {
        reader.disconnect();
      }
    };
    /**
     * The node dies for `clientId` as a killed process would: the connection ends without its
     * node publishing or deleting its will (left in Redis for the other nodes).
     */
    const dieOn = async (node: TestBroker, client: MqttClient, clientId: string): Promise<void> => {
      const serverSide = aedesInternals(node.broker.aedes).clients[clientId];
      if (!serverSide) throw new Error(`${clientId} is not connected to ${node.broker.aedes.id}`);
      clientInternals(serverSide).will = null;
      await client.endAsync(true);
      await waitFor(
        () => aedesInternals(node.broker.aedes).clients[clientId] === undefined,
        `${clientId} gone`,
      );
    };

    it("publishes a gone node's wills judged by the device they were stamped with, drops those whose client is back, and never ends the process", async () => {
      const [one, two] = [await fastNode('w1'), await fastNode('w2')];
      // A device's own offline status: published for it by node 2.
      const own = await device(one, other.id, {
        clientId: 'will-own',
        will: { topic: statusOf(other.id), payload: Buffer.from(offline()), qos: 1, retain: false },
      });
      // Another device's status topic: refused (forbidden-topic) — and must not end node 2.
      const forged = await device(one, station.id, {
        clientId: 'will-forged',
        will: { topic: statusOf(other.id), payload: Buffer.from(offline()), qos: 1, retain: false },
      });
      // A connection that comes back on node 2 before its will is judged: not offline.
      const returning = await device(one, station.id, {
        clientId: 'will-back',
        will: { topic: statusOf(station.id), payload: Buffer.from(offline()), qos: 1, retain: false },
      });
      await waitUntil(async () => (await willsInRedis()) === 3, 'the three wills stored in Redis');
      await dieOn(one, own, 'will-own');
      await dieOn(one, forged, 'will-forged');
      await dieOn(one, returning, 'will-back');
      await device(two, station.id, { clientId: 'will-back' });
      // Node 1 falls silent: node 2 takes it for gone after three heartbeats.
      clearInterval(
        (one.broker.aedes as unknown as { _heartbeatInterval: NodeJS.Timeout })._heartbeatInterval,
      );

      await waitFor(
        () =>
          two.broker.stats().storage.written === 1 &&
          two.broker.stats().rejected['forbidden-topic'] === 1 &&
          two.broker.stats().broker.orphanWillsDiscarded === 1,
        'the three wills judged by node 2',
        10_000,
      );
      await waitUntil(async () => (await willsInRedis()) === 0, 'every judged will deleted from Redis');
      expect(two.broker.stats().accepted.env).toBe(1);
      expect(one.broker.stats().storage.written).toBe(0);
    });

    it('publishes no will of a live node after a Redis outage longer than three heartbeats', async () => {
      const [one, two] = [await fastNode('o1'), await fastNode('o2')];
      const passes = { one: 0, two: 0 };
      for (const [name, node] of [
        ['one', one],
        ['two', two],
      ] as const) {
        const persistence = (node.broker.aedes as unknown as { persistence: Record<string, unknown> })
          .persistence;
        const streamWill = (persistence['streamWill'] as (b: unknown) => unknown).bind(persistence);
        persistence['streamWill'] = (brokers: unknown) => {
          passes[name] += 1;
          return streamWill(brokers);
        };
      }
      const will = (id: string) => ({
        topic: statusOf(id),
        payload: Buffer.from(offline()),
        qos: 1 as const,
        retain: false,
      });
      const live = [
        await device(one, station.id, { clientId: 'live-1', will: will(station.id) }),
        await device(two, other.id, { clientId: 'live-2', will: will(other.id) }),
      ];
      await waitUntil(async () => (await willsInRedis()) === 2, 'both wills stored in Redis');
      await redis.stop();
      try {
        // Each node has run a pass meanwhile and dropped the other from its table: heard of by no one.
        await waitFor(
          () => heard(one)['ioc-broker-o2'] === undefined && heard(two)['ioc-broker-o1'] === undefined,
          'each node taking the other for gone',
        );
      } finally {
        await redis.start();
      }
      const after = { ...passes };
      await waitFor(
        () => passes.one >= after.one + 3 && passes.two >= after.two + 3,
        'three will passes on each node after the outage',
        15_000,
      );
      expect(two.broker.stats().storage.written + one.broker.stats().storage.written).toBe(0);
      expect(live.every((c) => c.connected)).toBe(true);
      expect(await willsInRedis()).toBe(2);
    });
  });

  it('a device moving between nodes ends online in the registry, whichever node notices what first', async () => {
    const dir = await dirs.make();
    const databases: IocDatabase[] = [];
    const trackers: DeviceStatusTracker[] = [];
    const node = async (brokerId: string): Promise<TestBroker> => {
      const database = openDatabase({ kind: 'sqlite', path: `${dir}/registry.sqlite` });
      databases.push(database);
      if (databases.length === 1) {
        await prepareDatabase(database, {
          afterMigrate: async (db) => {
            await new RegistryRepository(db).importSeeds(loadSeeds());
          },
        });
      }
      const ref: { node?: TestBroker } = {};
      const tracker = new DeviceStatusTracker({
        store: new DeviceStatusRepository(database.db),
        directory: registry,
        publish: (statuses) => ref.node?.broker.publishDeviceStatus(statuses),
        logger: createLogger('test', { level: 'silent' }),
        // Flushed by the test, one node after the other: two writers on one SQLite file would
        // wait on each other's lock (the nodes of an installation share PostgreSQL).
        timers: false,
      });
      await tracker.start();
      trackers.push(tracker);
      ref.node = await startNode(brokerId, { deviceStatus: tracker });
      return ref.node;
    };
    try {
      const [one, two] = [await node('1'), await node('2')];
      const stored = async () =>
        (await new DeviceStatusRepository(databases[0]!.db).latestOf([station.id])).get(station.id);
      for (let round = 0; round < 3; round++) {
        // Back and forth: each connection takes over the previous one on the other node.
        for (const target of [one, two]) {
          const client = await device(target, station.id);
          await waitFor(() => target.broker.sessionCount(station.id) === 1, 'the new session');
          void client;
        }
      }
      await waitFor(() => one.broker.sessionCount(station.id) === 0, 'node 1 without a session');
      for (const t of trackers) await t.flushChanges();
      expect(await stored()).toMatchObject({ status: 'online', reason: 'connected' });
      // And offline once the device really leaves.
      await Promise.all(clients.splice(0).map((c) => c.endAsync()));
      await waitFor(() => two.broker.sessionCount(station.id) === 0, 'gone');
      for (const t of trackers) await t.flushChanges();
      expect(await stored()).toMatchObject({ status: 'offline', reason: 'disconnected' });
    } finally {
      await Promise.all(clients.splice(0).map((c) => c.endAsync(true)));
      await Promise.all(nodes.splice(0).map((n) => n.close()));
      await Promise.all(trackers.map((t) => t.close()));
      await Promise.all(databases.map((d) => d.close()));
    }
  });

  it('rides out a Redis outage: a reading taken meanwhile is acknowledged and stored; the live feed resumes after it', async () => {
    const [one, two] = [await startNode('1'), await startNode('2')];
    const service = await internal(two, 'ioc-api-outage');
    const relayed: Reading[] = [];
    service.on('message', (topic, payload) => {
      if (topic === INTERNAL_READINGS_TOPIC) relayed.push(...(JSON.parse(payload.toString()) as Reading[]));
    });
    await service.subscribeAsync(INTERNAL_READINGS_TOPIC, { qos: 1 });
    const sender = await device(one, station.id);
    await redis.stop();
    try {
      // Acknowledged once in node 1's spool: a Redis outage does not hold devices' publishes.
      await sender.publishAsync(
        deviceTopic('env', station.id, 'telemetry'),
        JSON.stringify({ ts: Date.now() - 1000, metrics: { pm25: 33.5 } }),
        { qos: 1 },
      );
      await waitFor(() => one.broker.stats().storage.written === 1, 'the reading stored by node 1');
      expect(relayed).toEqual([]);
    } finally {
      await redis.start();
    }
    // The live feed resumes once both nodes are reconnected and resubscribed (Redis pub/sub keeps
    // nothing for an absent subscriber: what was relayed during the outage may be missed, never
    // the stored reading).
    const deadline = Date.now() + 15_000;
    for (let seq = 1; !relayed.some((r) => r.deviceId === station.id); seq++) {
      if (Date.now() > deadline) throw new Error('the live feed did not resume on node 2');
      await sender.publishAsync(
        deviceTopic('env', station.id, 'telemetry'),
        JSON.stringify({ ts: Date.now() - 1000 + seq, metrics: { pm25: 40 + seq } }),
        { qos: 1 },
      );
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(sender.connected).toBe(true);
  });

  it('delivers what was published during a Redis outage even when the bus publisher reconnects before the subscriber has subscribed again', async () => {
    const one = await startNode('1');
    const service = await internal(one, 'ioc-api-outage-order');
    const relayed: Reading[] = [];
    service.on('message', (topic, payload) => {
      if (topic === INTERNAL_READINGS_TOPIC) relayed.push(...(JSON.parse(payload.toString()) as Reading[]));
    });
    await service.subscribeAsync(INTERNAL_READINGS_TOPIC, { qos: 1 });
    const sender = await device(one, station.id);
    const commands: string[] = [];
    const target = await device(one, other.id);
    target.on('message', (_topic, payload) => commands.push(payload.toString()));
    await target.subscribeAsync(deviceTopic('env', other.id, 'command'), { qos: 1 });
    // The order the race can take: after the outage the publisher connection is back (and sends
    // what waited in its offline queue) well before the subscriber connection has subscribed again.
    const { subConn, pubConn } = busConnections(one);
    subConn.options.retryStrategy = () => 1500;
    pubConn.options.retryStrategy = () => 50;
    await redis.stop();
    let commandAcked: Promise<unknown> | undefined;
    try {
      await sender.publishAsync(
        deviceTopic('env', station.id, 'telemetry'),
        JSON.stringify({ ts: Date.now() - 1000, metrics: { pm25: 61.5 } }),
        { qos: 1 },
      );
      await waitFor(() => one.broker.stats().storage.written === 1, 'the reading stored by node 1');
      // A platform service's commands while Redis is away are acknowledged at once (aedes sends
      // the PUBACK first, then hands the message to the bus, which holds it), and its connection
      // is not held up by them: the second is read and acknowledged during the outage too.
      const command = deviceTopic('env', other.id, 'command');
      commandAcked = service.publishAsync(command, '{"commandId":"c-outage"}', { qos: 1 });
      await commandAcked;
      await service.publishAsync(command, '{"commandId":"c-outage-2"}', { qos: 1 });
    } finally {
      await redis.start();
    }
    await commandAcked;
    // Both were published while the node's subscriptions were gone from Redis: held until the
    // subscriber connection has subscribed again, then delivered.
    await waitFor(
      () => relayed.some((r) => r.metrics['pm25'] === 61.5),
      'the reading relayed during the outage',
      10_000,
    );
    await waitFor(() => commands.length === 2, 'the commands sent during the outage', 10_000);
    expect(commands).toEqual(['{"commandId":"c-outage"}', '{"commandId":"c-outage-2"}']);
  });

  it("holds a node's publishes after a Redis outage until the other nodes are subscribed again: a command sent meanwhile reaches a device on another node", async () => {
    const [one, two] = [await startNode('1'), await startNode('2')];
    const service = await internal(one, 'ioc-api-outage-nodes');
    const commands: string[] = [];
    const target = await device(two, other.id);
    target.on('message', (_topic, payload) => commands.push(payload.toString()));
    await target.subscribeAsync(deviceTopic('env', other.id, 'command'), { qos: 1 });
    // Both nodes hear each other's heartbeats (every CLUSTER_HEARTBEAT_MS) before the outage.
    const heard = new Redis(redis.url);
    try {
      await heard.psubscribe('ioc:mqtt:$SYS/*/heartbeat');
      const beats = new Set<string>();
      heard.on('pmessage', (_pattern, channel) => beats.add(channel));
      await waitFor(() => beats.size === 2, 'a heartbeat of each node', 12_000);
    } finally {
      heard.disconnect();
    }
    // Node 1 is back at once after the outage; node 2's subscriber only some time later.
    const first = busConnections(one);
    for (const connection of [first.subConn, first.pubConn]) connection.options.retryStrategy = () => 50;
    busConnections(two).subConn.options.retryStrategy = () => 1000;
    await redis.stop();
    let commandAcked: Promise<unknown> | undefined;
    try {
      commandAcked = service.publishAsync(
        deviceTopic('env', other.id, 'command'),
        '{"commandId":"c-nodes"}',
        {
          qos: 1,
        },
      );
      // Let the publish reach node 1's bus before Redis comes back.
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      await redis.start();
    }
    const back = Date.now();
    await commandAcked;
    await waitFor(() => commands.length === 1, 'the command sent during the outage on node 2', 15_000);
    // Sent once node 2 was heard again (its subscriber back after ~1 s, its next heartbeat within
    // CLUSTER_HEARTBEAT_MS), not at the end of the longest wait for a node that is gone.
    expect(Date.now() - back).toBeLessThan(CLUSTER_PEER_WAIT_MS);
    expect(commands).toEqual(['{"commandId":"c-nodes"}']);
  });

  it('does not wait longer than CLUSTER_PEER_WAIT_MS after an outage for a node that is gone', async () => {
    const [one, two] = [await startNode('1'), await startNode('2')];
    const service = await internal(one, 'ioc-api-outage-gone');
    const commands: string[] = [];
    const target = await device(one, other.id);
    target.on('message', (_topic, payload) => commands.push(payload.toString()));
    await target.subscribeAsync(deviceTopic('env', other.id, 'command'), { qos: 1 });
    await waitFor(() => heardNodes(one).includes(aedesIdOf('2')), 'node 2 heard by node 1', 12_000);
    // Node 2 stops (nothing says so on the bus); then Redis goes away and comes back.
    await two.close();
    nodes.splice(nodes.indexOf(two), 1);
    await redis.stop();
    let commandAcked: Promise<unknown> | undefined;
    try {
      commandAcked = service.publishAsync(deviceTopic('env', other.id, 'command'), '{"commandId":"c-gone"}', {
        qos: 1,
      });
      await commandAcked;
    } finally {
      await redis.start();
    }
    const back = Date.now();
    // Node 1 waits for node 2, which never answers, then sends what it held.
    await waitFor(() => commands.length === 1, 'the command held by node 1', CLUSTER_PEER_WAIT_MS + 5000);
    expect(Date.now() - back).toBeGreaterThanOrEqual(CLUSTER_PEER_WAIT_MS - 1000);
    expect(commands).toEqual(['{"commandId":"c-gone"}']);
  });

  const withHaproxy = haproxyAvailable() || process.env['CI'] === 'true' ? it : it.skip;
  if (!haproxyAvailable()) console.warn(HAPROXY_MISSING_MESSAGE);

  withHaproxy('behind HAProxy: connections land on both nodes; a node that stops is taken out', async () => {
    const [one, two] = [await startNode('1'), await startNode('2')];
    const proxy = await startHaproxy({
      backends: [
        { host: '127.0.0.1', port: one.broker.port, name: 'node1' },
        { host: '127.0.0.1', port: two.broker.port, name: 'node2' },
      ],
    });
    try {
      await proxy.waitForUp(2);
      const ids = [station.id, other.id];
      for (let i = 0; i < 4; i++) {
        const id = ids[i % 2]!;
        await connect(proxy.url(), {
          clientId: `${id}-lb-${i}`,
          username: id,
          password: secrets[id],
        });
      }
      // Round robin: two sessions on each node.
      await waitFor(
        () => one.broker.stats().connectedClients === 2 && two.broker.stats().connectedClients === 2,
        'two connections on each node',
      );
      expect((await proxy.backends()).map((b) => [b.name, b.status, b.total])).toEqual([
        ['node1', 'UP', 2],
        ['node2', 'UP', 2],
      ]);
      // Node 1 goes away: HAProxy's checks take it out, and every new connection goes to node 2.
      await one.close();
      nodes.splice(nodes.indexOf(one), 1);
      await proxy.waitForUp(1);
      await eventuallyDown(proxy, 'node1');
      for (let i = 0; i < 3; i++) {
        await connect(proxy.url(), {
          clientId: `${station.id}-after-${i}`,
          username: station.id,
          password: secrets[station.id],
        });
      }
      // Node 1 said its sessions ended as it closed: they no longer count against the limit (4).
      await waitFor(() => two.broker.sessionCount(station.id) === 3, 'the new sessions on node 2');
    } finally {
      await proxy.close();
    }
  });

  it("leaves a node's last statistics saying it stopped, retained in Redis; an API's empty retained publish clears them for every node", async () => {
    const [one, two] = [await startNode('1'), await startNode('2')];
    const topic = `${INTERNAL_INGEST_STATS_TOPIC_PREFIX}broker-2`;
    const api = await internal(one, 'ioc-api-7');
    const heard: { payload: string; retain: boolean }[] = [];
    api.on('message', (t, payload, packet) => {
      if (t === topic) heard.push({ payload: payload.toString(), retain: packet.retain });
    });
    await api.subscribeAsync(`${INTERNAL_INGEST_STATS_TOPIC_PREFIX}+`, { qos: 1 });
    // Node 2 stops gracefully (SIGTERM's path): its last message reaches node 1's subscriber.
    nodes.splice(nodes.indexOf(two), 1);
    await two.close();
    await waitFor(
      () => heard.some((m) => (JSON.parse(m.payload) as { stoppedAt?: string }).stoppedAt !== undefined),
      "node 2's last statistics on node 1",
    );
    const peek = new Redis(redis.url);
    try {
      // …and stays retained in Redis for API nodes that subscribe later.
      const retained = await peek.hget('ioc:aedes:retained', topic);
      expect(retained).toContain('stoppedAt');
      // An API node forgets the retired node (InternalBusClient.clearIngestStats): an empty
      // retained publish, delivered as such to subscribers on every node and removed from Redis.
      await api.publishAsync(topic, Buffer.alloc(0), { qos: 1, retain: true });
      await waitFor(() => heard.some((m) => m.payload === ''), 'the cleared statistics on node 1');
      await waitUntil(
        async () => (await peek.hexists('ioc:aedes:retained', topic)) === 0,
        'the retained message removed',
      );
    } finally {
      peek.disconnect();
    }
  });
});

/** Waits until HAProxy reports backend `name` down (its health checks failed). */
async function eventuallyDown(
  proxy: { backends(): Promise<{ name: string; status: string }[]> },
  name: string,
) {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const state = (await proxy.backends()).find((b) => b.name === name);
    if (state && state.status.startsWith('DOWN')) return;
    if (Date.now() > deadline) throw new Error(`backend ${name} not down: ${JSON.stringify(state)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The Redis connections of a node's message bus (mqemitter-redis' subscriber and publisher). */
function busConnections(node: TestBroker): { subConn: Redis; pubConn: Redis } {
  return (node.broker.aedes as unknown as { mq: { subConn: Redis; pubConn: Redis } }).mq;
}

/** The aedes ids of the nodes `node` has heard a heartbeat from (aedes' own bookkeeping). */
function heardNodes(node: TestBroker): string[] {
  return Object.keys((node.broker.aedes as unknown as { brokers: Record<string, number> }).brokers);
}
