import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as mqttConnect, connectAsync, type IClientOptions, type MqttClient } from 'mqtt';
import {
  type Device,
  deviceTopic,
  INTERNAL_READINGS_TOPIC,
  INTERNAL_USERNAME,
  type Reading,
} from '@ioc/contracts';
import { type IocDatabase, openDatabase } from '@ioc/database';
import { DeviceRegistry, DeviceStatusRepository, loadSeeds } from '@ioc/registry';
import { parseEnv } from '@ioc/runtime';
import {
  createTimeSeriesStore,
  storageConfigFromEnv,
  storageEnvSchema,
  type TimeSeriesStore,
} from '@ioc/timeseries';
import {
  describeWithServer,
  eventually,
  haproxyAvailable,
  influxdAvailable,
  type InfluxdHandle,
  type PostgresHandle,
  postgresAvailable,
  type RedisHandle,
  redisAvailable,
  type RunningPlatform,
  startInfluxd,
  startPlatform,
  startPostgres,
  startRedis,
  startService,
  BROKER_ENTRY,
} from '@ioc/testing';
import { publishSequence } from './support/qos1-stream';

jest.setTimeout(120_000);

const INTERNAL_SECRET = 'test-internal-secret-0123456789';
const registry = new DeviceRegistry(loadSeeds());
const counters = registry.listDevices({ type: 'traffic-counter' }) as Device[];
const stations = registry.listDevices({ type: 'air-quality-station' }) as Device[];

/**
 * Two broker processes (IOC_BROKER_ID 1 and 2) on one real Redis, one PostgreSQL registry and one
 * InfluxDB, behind a real HAProxy: the broker side of a scale-out installation, started from
 * environment variables only (startPlatform with brokerNodes and haproxy).
 */
describeWithServer(
  'two broker nodes behind HAProxy (Redis, PostgreSQL, InfluxDB)',
  {
    available: () => redisAvailable() && postgresAvailable() && influxdAvailable() && haproxyAvailable(),
    missingMessage: 'needs redis-server, PostgreSQL, influxd and haproxy (see .ci/run)',
  },
  () => {
    let redis: RedisHandle;
    let postgres: PostgresHandle;
    let influxd: InfluxdHandle;
    let platform: RunningPlatform;
    let database: IocDatabase;
    let store: TimeSeriesStore;
    const clients: MqttClient[] = [];
    const connect = async (url: string, options: IClientOptions): Promise<MqttClient> => {
      const client = await connectAsync(url, { reconnectPeriod: 0, ...options });
      clients.push(client);
      return client;
    };
    const asDevice = (device: Device, options: IClientOptions = {}): IClientOptions => ({
      clientId: `${device.id}-e2e`,
      username: device.id,
      password: platform.deviceSecret(device.id),
      ...options,
    });
    const node = (n: 1 | 2) => platform.brokers[n - 1]!;

    beforeAll(async () => {
      [redis, postgres, influxd] = await Promise.all([startRedis(), startPostgres(), startInfluxd()]);
      const databaseUrl = await postgres.createDatabase();
      platform = await startPlatform({
        storage: 'influxdb',
        influxUrl: influxd.url,
        influxDatabase: 'ioc_nodes',
        brokerNodes: 2,
        haproxy: true,
        api: false,
        // Node 1 writes to the store at most every 2 s: when it is killed, readings it acknowledged
        // are in its spool only, and only its replay after the restart can store them.
        brokerEnv: (n): Record<string, string> => (n === 1 ? { IOC_WRITE_BATCH_DELAY_MS: '2000' } : {}),
        env: {
          IOC_REDIS_URL: redis.url,
          IOC_DATABASE_URL: databaseUrl,
          // s-engine's lease makes the engine safe on several nodes; not under test here.
          IOC_ALERTS: 'off',
          IOC_WRITE_BATCH_DELAY_MS: '50',
        },
      });
      await platform.haproxy!.waitForUp(2);
      database = openDatabase({ kind: 'postgres', url: databaseUrl, poolSize: 2 });
      store = createTimeSeriesStore(
        storageConfigFromEnv(
          parseEnv(storageEnvSchema, {
            IOC_STORAGE: 'influxdb',
            IOC_INFLUX_URL: influxd.url,
            IOC_INFLUX_DB: 'ioc_nodes',
            IOC_DATA_DIR: platform.dataDir,
          }),
        ),
      );
      await store.init();
    }, 100_000);
    afterEach(async () => {
      await Promise.all(clients.splice(0).map((c) => c.endAsync(true)));
    });
    afterAll(async () => {
      await store?.close();
      await database?.close();
      await platform?.stop();
      await Promise.all([redis?.close(), postgres?.stop(), influxd?.stop()]);
    }, 60_000);

    it('devices connected through HAProxy land on both nodes', async () => {
      const before = await platform.haproxy!.backends();
      for (const device of counters.slice(0, 4)) {
        const client = await connect(platform.mqttUrl, asDevice(device));
        await client.publishAsync(
          deviceTopic('traffic', device.id, 'telemetry'),
          JSON.stringify({ ts: Date.now() - 5000, metrics: { intensity: 1 } }),
          { qos: 1 },
        );
      }
      const after = await platform.haproxy!.backends();
      expect(after.map((b) => b.name)).toEqual(['broker-1', 'broker-2']);
      expect(after.map((b, i) => b.total - (before[i]?.total ?? 0))).toEqual([2, 2]);
    });

    it("node 1's readings reach a platform service on node 2; a message it may not have is refused there", async () => {
      const service = await connect(node(2).mqttUrl, {
        clientId: 'ioc-test-nodes-2',
        username: INTERNAL_USERNAME,
        password: INTERNAL_SECRET,
      });
      const batches: Reading[][] = [];
      service.on('message', (topic, payload) => {
        if (topic === INTERNAL_READINGS_TOPIC) batches.push(JSON.parse(payload.toString()) as Reading[]);
      });
      await service.subscribeAsync(INTERNAL_READINGS_TOPIC, { qos: 1 });
      const sender = await connect(node(1).mqttUrl, asDevice(stations[0]!));
      await sender.publishAsync(
        deviceTopic('env', stations[0]!.id, 'telemetry'),
        JSON.stringify({ ts: Date.now() - 2000, metrics: { pm25: 21.5 } }),
        { qos: 1 },
      );
      await eventually(
        async () => (batches.flat().some((r) => r.deviceId === stations[0]!.id) ? true : undefined),
        10_000,
        "node 1's reading on node 2",
      );

      // A device on node 2 listens to its command and error topics; from node 1, a client that is
      // not a platform service's reserved id sends it an `error`, then a platform service a command.
      const receiver = stations[1]!;
      const device = await connect(node(2).mqttUrl, asDevice(receiver));
      const received: string[] = [];
      device.on('message', (topic) => received.push(topic));
      await device.subscribeAsync(
        [deviceTopic('env', receiver.id, 'command'), deviceTopic('env', receiver.id, 'error')],
        { qos: 1 },
      );
      const tool = await connect(node(1).mqttUrl, {
        clientId: 'maintenance-tool',
        username: INTERNAL_USERNAME,
        password: INTERNAL_SECRET,
      });
      await tool.publishAsync(deviceTopic('env', receiver.id, 'error'), '{"forged":true}', { qos: 1 });
      const api = await connect(node(1).mqttUrl, {
        clientId: 'ioc-api-e2e',
        username: INTERNAL_USERNAME,
        password: INTERNAL_SECRET,
      });
      await api.publishAsync(deviceTopic('env', receiver.id, 'command'), '{"commandId":"n1","name":"ping"}', {
        qos: 1,
      });
      await eventually(async () => (received.length > 0 ? true : undefined), 10_000, 'the command');
      expect(received).toEqual([deviceTopic('env', receiver.id, 'command')]);
      expect(node(2).process.output()).toContain('delivery refused: the recipient may not read this message');
    });

    it('a device moving between nodes keeps its persistent session, and its status ends online', async () => {
      const device = counters[5]!;
      const commandTopic = deviceTopic('traffic', device.id, 'command');
      // A platform service on node 2 (as the API's bus client) sends the command. Node 2 learns of a
      // subscription made on node 1 from node 1's broadcast on the shared bus; node 1 announces
      // `$SYS/<id>/new/subscribes` after that broadcast, on the same Redis connection, so once
      // node 2 passes it on, node 2 queues what is published for the session.
      const api = await connect(node(2).mqttUrl, {
        clientId: 'ioc-api-e2e-2',
        username: INTERNAL_USERNAME,
        password: INTERNAL_SECRET,
      });
      const subscribedOnOne = new Promise<void>((resolve) =>
        api.on('message', (topic, payload) => {
          if (
            topic === '$SYS/ioc-broker-1/new/subscribes' &&
            payload.toString().includes(`"${device.id}-e2e"`)
          )
            resolve();
        }),
      );
      await api.subscribeAsync('$SYS/ioc-broker-1/new/subscribes', { qos: 0 });
      const first = await connect(node(1).mqttUrl, asDevice(device, { clean: false }));
      await first.subscribeAsync(commandTopic, { qos: 1 });
      await subscribedOnOne;
      await first.endAsync();
      await api.publishAsync(commandTopic, '{"commandId":"while-away","name":"reset"}', { qos: 1 });
      // Back through node 2: the session and the command queued while away.
      const commands: string[] = [];
      // Listening before the CONNECT goes out: the queued command may come in the CONNACK's read.
      const onTwo = mqttConnect(node(2).mqttUrl, {
        reconnectPeriod: 0,
        ...asDevice(device, { clean: false }),
      });
      clients.push(onTwo);
      onTwo.on('message', (_topic, payload) => commands.push(payload.toString()));
      await new Promise<void>((resolve, reject) => {
        onTwo.once('connect', () => resolve());
        onTwo.once('error', reject);
      });
      await eventually(async () => (commands.length > 0 ? true : undefined), 10_000, 'the queued command');
      // QoS 1 is at least once: the command, perhaps twice, and nothing else.
      expect(new Set(commands)).toEqual(new Set(['{"commandId":"while-away","name":"reset"}']));

      // The same client id on node 1 takes the session over: node 2 closes its connection.
      const closedOnTwo = new Promise<void>((resolve) => onTwo.once('close', () => resolve()));
      const takeoverAt = Date.now();
      await connect(node(1).mqttUrl, asDevice(device, { clean: false }));
      await closedOnTwo;
      const repository = new DeviceStatusRepository(database.db);
      const status = async () => (await repository.latestOf([device.id])).get(device.id);
      await eventually(
        async () => {
          const latest = await status();
          return latest?.status === 'online' && latest.since >= takeoverAt - 1000 ? latest : undefined;
        },
        10_000,
        'online since the takeover',
      );
      // Both nodes have flushed their statuses several times over (every 500 ms): still online.
      const watchUntil = Date.now() + 2500;
      while (Date.now() < watchUntil) {
        expect(await status()).toMatchObject({ status: 'online', reason: 'connected' });
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    });

    it('SIGKILL one node: its devices reconnect through HAProxy to the other; every acknowledged reading is stored exactly once', async () => {
      const devices = counters.slice(8, 10);
      const base = Date.now() - 3 * 3_600_000;
      const total = 600;
      const acked = devices.map(() => new Set<number>());
      // One connection per device through HAProxy: round robin puts one on each node.
      const streams = devices.map(async (device, i) => {
        const client = await connect(platform.mqttUrl, asDevice(device, { clientId: `${device.id}-kill` }));
        await publishSequence({
          client,
          device,
          base,
          from: 0,
          to: total,
          window: 20,
          acked: acked[i]!,
          pauseMs: 5,
        });
      });
      // Mid-stream, node 1 dies without a chance to flush anything.
      await eventually(
        async () => (acked.every((set) => set.size >= 100) ? true : undefined),
        30_000,
        'both streams under way',
      );
      await platform.killBroker('SIGKILL', 1);
      await Promise.all(streams);
      // Whatever was not acknowledged is sent again, through HAProxy, which now has node 2 only.
      await Promise.all(
        devices.map(async (device, i) => {
          const missing = Array.from({ length: total }, (_, seq) => seq).filter((seq) => !acked[i]!.has(seq));
          if (missing.length === 0) return;
          const client = await eventually(
            () => connect(platform.mqttUrl, asDevice(device, { clientId: `${device.id}-kill` })),
            15_000,
            'a reconnection through HAProxy',
          );
          for (const seq of missing) {
            await client.publishAsync(
              deviceTopic('traffic', device.id, 'telemetry'),
              JSON.stringify({ ts: base + seq * 1000, seq, metrics: { intensity: seq } }),
              { qos: 1 },
            );
            acked[i]!.add(seq);
          }
        }),
      );
      expect(acked.map((set) => set.size)).toEqual([total, total]);
      const stored = (device: Device) =>
        store.history({ deviceId: device.id, metric: 'intensity', from: base, to: base + total * 1000 });
      // Before node 1 is back, some of what it acknowledged is nowhere but in its spool.
      const storedBefore = await Promise.all(devices.map(async (device) => (await stored(device)).length));
      expect(storedBefore.some((count) => count < total)).toBe(true);
      // Node 1 restarts on its own spool and hands the readings it had acknowledged to the store.
      await platform.restartBroker(1);
      expect(platform.brokers[0]!.process.output()).toContain('broker ready');
      for (const device of devices) {
        const points = await eventually(
          async () => {
            const stored = await store.history({
              deviceId: device.id,
              metric: 'intensity',
              from: base,
              to: base + total * 1000,
            });
            return stored.length >= total ? stored : undefined;
          },
          30_000,
          `every reading of ${device.id} stored`,
        );
        // Exactly once: one point per reading, each the reading sent at that time.
        expect(points).toHaveLength(total);
        expect(points.map((p) => [p.ts, p.value])).toEqual(
          Array.from({ length: total }, (_, seq) => [base + seq * 1000, seq]),
        );
      }
    });

    it('refuses a node without its own IOC_BROKER_ID, a second node on a live node’s id, and a second process on a node’s data directory', async () => {
      const { IOC_BROKER_ID: _id, ...withoutId } = node(2).env;
      await expect(
        startService(BROKER_ENTRY, { ...withoutId, IOC_MQTT_PORT: '0' }, 'broker ready'),
      ).rejects.toThrow(/IOC_BROKER_ID: required when IOC_REDIS_URL is set/);
      // Node 2's data directory (its spool) by mistake, under another id and port.
      await expect(
        startService(
          BROKER_ENTRY,
          { ...node(2).env, IOC_BROKER_ID: '3', IOC_MQTT_PORT: '0' },
          'broker ready',
        ),
      ).rejects.toThrow(
        /spool directory .* is in use by another broker process .*each broker node needs its own IOC_DATA_DIR/,
      );
      // Node 2's id on a data directory of its own: IOC_BROKER_ID 2 is held (ioc:node:broker:2).
      const ownDir = mkdtempSync(join(tmpdir(), 'ioc-duplicate-broker-'));
      try {
        await expect(
          startService(
            BROKER_ENTRY,
            { ...node(2).env, IOC_DATA_DIR: ownDir, IOC_MQTT_PORT: '0' },
            'broker ready',
          ),
        ).rejects.toThrow(/IOC_BROKER_ID=2: another node holds this id \(ioc:node:broker:2: host .*pid \d+/);
      } finally {
        rmSync(ownDir, { recursive: true, force: true });
      }
      // Node 2 goes on.
      const probe = await connect(node(2).mqttUrl, asDevice(counters[11]!));
      await probe.publishAsync(
        deviceTopic('traffic', counters[11]!.id, 'telemetry'),
        JSON.stringify({ ts: Date.now() - 1000, metrics: { intensity: 3 } }),
        { qos: 1 },
      );
    });
  },
);
