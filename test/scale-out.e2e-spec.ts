import { randomBytes } from 'node:crypto';
import { createConnection } from 'node:net';
import pg from 'pg';
import { connectAsync, type IClientOptions, type MqttClient } from 'mqtt';
import { ALERT_ENGINE_LEASE, LeaseRepository } from '@ioc/alerting';
import {
  type CommandRecordBody,
  type DeliveryBody,
  type Device,
  deviceTopic,
  type Reading,
  ingestStatsBody,
} from '@ioc/contracts';
import { type IocDatabase, openDatabase } from '@ioc/database';
import { DeviceRegistry, loadSeeds } from '@ioc/registry';
import { parseEnv } from '@ioc/runtime';
import {
  type ApiSession,
  describeWithServer,
  eventually,
  freePort,
  haproxyAvailable,
  influxdAvailable,
  type InfluxdHandle,
  loginToApi,
  type PostgresHandle,
  postgresAvailable,
  type RedisHandle,
  redisAvailable,
  type RunningPlatform,
  startInfluxd,
  startPlatform,
  startPostgres,
  startRedis,
  TempDirs,
  TEST_ADMIN_PASSWORD,
  WebhookReceiver,
} from '@ioc/testing';
import {
  createTimeSeriesStore,
  storageConfigFromEnv,
  storageEnvSchema,
  type TimeSeriesStore,
} from '@ioc/timeseries';
import { type LiveClient, liveClient } from './support/clients';
import { COMPOSE_ENV_EXAMPLE, composeEnvironments, readEnvFile } from './support/compose-env';
import {
  type ComposeLocalPlan,
  differencesFromCompose,
  localEnvironment,
  onLoopback,
} from './support/compose-local';
import { envVariablesOf, type PlatformProcess } from './support/platform-env';
import { publishSequence, sequencedReading } from './support/qos1-stream';
import { expectCall, pm25AlertToWebhook, verifyWebhook } from './support/webhooks';

/*
 * The whole scale-out topology of issue 12 on this machine, started once for the file: Debian's
 * redis-server, PostgreSQL, influxd and HAProxy on loopback ports, two broker nodes behind HAProxy
 * and two API nodes, every platform process started with its deploy/docker-compose.yml service's
 * environment (composeEnvironments; secrets filled with test values) — only host names, ports and
 * data directories replaced, each for a stated reason (test/support/compose-local.ts). The tests
 * run in order on the one topology: where devices land, a command across nodes, readings across
 * nodes, one alert and one webhook, a broker node SIGKILLed mid-stream, a 10 s Redis outage.
 */

jest.setTimeout(120_000);

const registry = new DeviceRegistry(loadSeeds());
const counters = registry.listDevices({ type: 'traffic-counter' }) as Device[];
const stations = registry.listDevices({ type: 'air-quality-station' }) as Device[];
const [light, otherLight] = registry.listDevices({ type: 'street-light' }) as [Device, Device];
const AGENCY = 'so-e2e-scale-out';
const RULE_ID = 'e2e-scale-out-pm25';
const OPERATOR = { username: 'e2e-scale-out-op', password: 'e2e-operator-scale-out-horse-9' };

/**
 * deploy/.env for this run: deploy/.env.example's values, its empty secrets filled with fresh test
 * values (hex, as the example asks), the first admin's password the harness logs in with.
 */
function testComposeVariables(): Record<string, string> {
  const example = readEnvFile(COMPOSE_ENV_EXAMPLE);
  return Object.fromEntries(
    Object.entries(example).map(([name, value]) => [
      name,
      name === 'IOC_ADMIN_PASSWORD' ? TEST_ADMIN_PASSWORD : value || randomBytes(32).toString('hex'),
    ]),
  );
}

/** Variables startPlatform sets for every process that `process` does not read (checked below). */
const UNREAD: Record<PlatformProcess, readonly string[]> = {
  broker: [
    'IOC_HTTP_HOST',
    'IOC_HTTP_PORT',
    'IOC_BROKER_URL',
    'IOC_ADMIN_PASSWORD',
    'IOC_AUTH_ACCESS_TOKEN_TTL_SECONDS',
    'IOC_CONSOLE_DIR',
  ],
  api: ['IOC_MQTT_HOST', 'IOC_MQTT_PORT', 'IOC_DEMO_CREDENTIALS_FILE'],
};

const unread = (process: PlatformProcess) =>
  Object.fromEntries(
    UNREAD[process].map((name) => [
      name,
      { reason: `startPlatform sets it for every process; the ${process} does not read it` },
    ]),
  );

/** The first line a Redis server answers to `command` (inline protocol) on a fresh connection. */
function redisAnswer(port: number, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    let answer = '';
    socket.setTimeout(2000, () => socket.destroy(new Error('no answer from Redis')));
    socket.once('error', reject);
    socket.on('data', (chunk) => {
      answer += chunk.toString();
      if (answer.includes('\r\n')) {
        socket.destroy();
        resolve(answer.split('\r\n')[0]!);
      }
    });
    socket.once('connect', () => socket.write(`${command}\r\n`));
  });
}

describeWithServer(
  'the scaled-out platform: two broker nodes behind HAProxy and two API nodes, with the compose settings',
  {
    available: () => redisAvailable() && postgresAvailable() && influxdAvailable() && haproxyAvailable(),
    missingMessage:
      'needs redis-server, PostgreSQL, influxd and haproxy (Debian: apt-get install -y redis-server postgresql influxdb haproxy; see .ci/run)',
  },
  () => {
    const tempDirs = new TempDirs('ioc-scale-out-');
    const compose = composeEnvironments(testComposeVariables());
    const plans: Record<string, ComposeLocalPlan> = {};
    let redis: RedisHandle;
    let postgres: PostgresHandle;
    let influxd: InfluxdHandle;
    let platform: RunningPlatform;
    let database: IocDatabase;
    let store: TimeSeriesStore;
    let admin: ApiSession;
    let receiver: WebhookReceiver;
    const clients: MqttClient[] = [];
    const sockets: LiveClient[] = [];
    type Feed = LiveClient & { commands: CommandRecordBody[] };

    const node = (n: 1 | 2) => platform.brokers[n - 1]!;
    const asDevice = (device: Device, clientId = `${device.id}-scale-out`): IClientOptions => ({
      clientId,
      username: device.id,
      password: platform.deviceSecret(device.id),
      reconnectPeriod: 0,
      connectTimeout: 10_000,
    });
    const connect = async (url: string, options: IClientOptions): Promise<MqttClient> => {
      const client = await connectAsync(url, options);
      clients.push(client);
      return client;
    };
    /** HAProxy's connection totals per backend. */
    const totals = async () =>
      Object.fromEntries((await platform.haproxy!.backends()).map((b) => [b.name, b.total]));
    /**
     * A device's connection through HAProxy and the broker node HAProxy gave it (the backend whose
     * connection total grew; one connection at a time, so no other connection is counted).
     */
    const throughHaproxy = async (
      device: Device,
      clientId?: string,
    ): Promise<{ client: MqttClient; landedOn: string }> => {
      const before = await totals();
      const client = await connect(platform.mqttUrl, asDevice(device, clientId));
      const after = await totals();
      const grown = Object.keys(after).filter((name) => after[name]! > (before[name] ?? 0));
      if (grown.length !== 1) {
        await client.endAsync(true);
        throw new Error(`cannot tell where ${device.id} landed: ${JSON.stringify(grown)}`);
      }
      return { client, landedOn: grown[0]! };
    };
    /** A socket on API node `n` subscribed to `device`, collecting its readings and command changes. */
    const socketOn = async (n: 1 | 2, device: Device): Promise<Feed> => {
      const live = await liveClient(platform.httpUrls[n - 1]!, admin);
      sockets.push(live);
      const commands: CommandRecordBody[] = [];
      live.socket.on('command', (command: CommandRecordBody) => commands.push(command));
      const ack = await live.subscribe({ device: device.id });
      if (!ack.ok) throw new Error(`subscribe refused: ${ack.error}`);
      return Object.assign(live, { commands });
    };
    /** The stored intensity points of `device` between `base` and `base + count` s. */
    const storedSequence = (device: Device, base: number, count: number) =>
      store.history({ deviceId: device.id, metric: 'intensity', from: base, to: base + count * 1000 });

    beforeAll(async () => {
      [redis, postgres, influxd, receiver] = await Promise.all([
        // As the compose file runs it: a password (and AOF, which startRedis always has).
        startRedis({ password: compose['redis']!['REDIS_PASSWORD']! }),
        // As the compose file runs it: user `ioc` with POSTGRES_PASSWORD, checked on every connection.
        startPostgres({ password: compose['postgres']!['POSTGRES_PASSWORD']! }),
        // As the compose file runs it: authentication on (INFLUXDB_HTTP_AUTH_ENABLED).
        startInfluxd({
          env: { INFLUXDB_HTTP_AUTH_ENABLED: compose['influxdb']!['INFLUXDB_HTTP_AUTH_ENABLED']! },
        }),
        WebhookReceiver.start(),
      ]);
      // What the influxdb image's init script does with INFLUXDB_ADMIN_USER/_PASSWORD: the first
      // user, an admin (allowed without credentials while there is no user).
      const influxEnv = compose['influxdb']!;
      const created = await fetch(`${influxd.url}/query`, {
        method: 'POST',
        body: new URLSearchParams({
          q: `CREATE USER "${influxEnv['INFLUXDB_ADMIN_USER']}" WITH PASSWORD '${influxEnv['INFLUXDB_ADMIN_PASSWORD']}' WITH ALL PRIVILEGES`,
        }),
      });
      if (!created.ok) throw new Error(`CREATE USER answered ${created.status}: ${await created.text()}`);
      // The compose file's database name (POSTGRES_DB), on the test's server.
      await postgres.createDatabase(compose['postgres']!['POSTGRES_DB']!);

      // Every store address: the service's host and port → the test's server on loopback.
      const stores = (service: string): Record<string, { value: string; reason: string }> => ({
        IOC_INFLUX_URL: {
          value: onLoopback(compose[service]!['IOC_INFLUX_URL']!, influxd.port),
          reason: "influxdb:8086 → the test's influxd (auth on, user created as the image does)",
        },
        IOC_DATABASE_URL: {
          value: onLoopback(compose[service]!['IOC_DATABASE_URL']!, postgres.port),
          reason: "postgres:5432 → the test's PostgreSQL (same user, password and database)",
        },
        IOC_REDIS_URL: {
          value: onLoopback(compose[service]!['IOC_REDIS_URL']!, redis.port),
          reason: "redis:6379 → the test's redis-server (same password: --requirepass)",
        },
      });
      for (const n of [1, 2]) {
        plans[`broker-${n}`] = {
          replace: {
            ...stores(`broker-${n}`),
            IOC_DATA_DIR: { reason: 'its volume → a temporary directory of its own (startPlatform)' },
            IOC_MQTT_PORT: { reason: '1883 in its container → a free loopback port (startPlatform)' },
          },
          add: {
            IOC_MQTT_HOST: { value: '127.0.0.1', reason: 'listen on loopback only on a shared machine' },
            ...(n === 1
              ? {
                  IOC_DEMO_CREDENTIALS_FILE: {
                    reason: "the seeded devices' secrets for the test's MQTT logins (startPlatform, node 1)",
                  },
                  // When node 1 is killed, readings it acknowledged are in its spool only, and only
                  // its replay after the restart can store them (the default is 100 ms).
                  IOC_WRITE_BATCH_DELAY_MS: {
                    value: '2000',
                    reason: 'node 1 holds acknowledged readings in its spool when it is SIGKILLed',
                  },
                }
              : {}),
            ...unread('broker'),
          },
        };
        plans[`api-${n}`] = {
          replace: {
            ...stores(`api-${n}`),
            IOC_DATA_DIR: { value: await tempDirs.make(), reason: 'its volume → a temporary directory' },
            IOC_HTTP_PORT: { reason: '3000 in its container → a free loopback port (startPlatform)' },
            IOC_BROKER_URL: { reason: "haproxy:1883 → the test's HAProxy on loopback (startPlatform)" },
            IOC_METRICS_HOST: { value: '127.0.0.1', reason: 'listen on loopback only on a shared machine' },
            IOC_METRICS_PORT: {
              value: String(await freePort()),
              reason: '9464 in each container → a port per node (two nodes on one host)',
            },
          },
          add: {
            IOC_HTTP_HOST: { value: '127.0.0.1', reason: 'listen on loopback only on a shared machine' },
            IOC_AUTH_ACCESS_TOKEN_TTL_SECONDS: {
              value: '3600',
              reason: 'one admin login serves the whole file (startPlatform)',
            },
            IOC_CONSOLE_DIR: {
              value: 'off',
              reason: 'the image builds the console; the tests do not (startPlatform)',
            },
            IOC_WEBHOOK_ALLOW_PRIVATE: {
              value: 'true',
              reason: 'the webhook receiver is on loopback, which the platform refuses by default',
            },
            ...unread('api'),
          },
        };
      }
      const envOf = (service: string) => localEnvironment(service, compose[service]!, plans[service]!);
      // What every platform service has alike (x-platform-env): startPlatform's `env`.
      const services = ['broker-1', 'broker-2', 'api-1', 'api-2'].map(envOf);
      const common = Object.fromEntries(
        Object.entries(services[0]!).filter(([name, value]) => services.every((env) => env[name] === value)),
      );
      platform = await startPlatform({
        storage: 'influxdb',
        influxDatabase: common['IOC_INFLUX_DB']!,
        brokerNodes: 2,
        haproxy: true,
        // deploy/haproxy/haproxy.cfg balances MQTT by least connections.
        haproxyBalance: 'leastconn',
        apiNodes: 2,
        // docker-compose starts both API nodes at once (the same depends_on).
        apiStartTogether: true,
        env: common,
        brokerEnv: (n) => envOf(`broker-${n}`),
        apiEnv: (n) => envOf(`api-${n}`),
      });
      await platform.haproxy!.waitForUp(2);
      admin = await platform.admin();
      database = openDatabase({ kind: 'postgres', url: common['IOC_DATABASE_URL']!, poolSize: 2 });
      store = createTimeSeriesStore(storageConfigFromEnv(parseEnv(storageEnvSchema, node(1).env)));
      await store.init();
    }, 180_000);

    afterEach(async () => {
      for (const live of sockets.splice(0)) live.close();
      await Promise.all(clients.splice(0).map((c) => c.endAsync(true)));
    });

    afterAll(async () => {
      await store?.close();
      await database?.close();
      await platform?.stop();
      await Promise.all([redis?.close(), postgres?.stop(), influxd?.stop(), receiver?.close()]);
      await tempDirs.removeAll();
    }, 60_000);

    it("runs every process with its compose service's environment: each variable passed through or replaced for a stated reason", async () => {
      const started = {
        'broker-1': node(1).process.env,
        'broker-2': node(2).process.env,
        'api-1': platform.apis[0]!.env,
        'api-2': platform.apis[1]!.env,
      };
      const problems = Object.entries(started).flatMap(([service, env]) =>
        differencesFromCompose(service, compose[service]!, plans[service]!, env),
      );
      expect(problems).toEqual([]);
      // What the harness sets for every process is harmless where it is listed as unread.
      for (const process of ['broker', 'api'] as const)
        expect(UNREAD[process].filter((name) => envVariablesOf(process).has(name))).toEqual([]);
      // The API nodes reach the brokers through the test's HAProxy, as through the compose one.
      for (const api of platform.apis) expect(api.env['IOC_BROKER_URL']).toBe(platform.mqttUrl);
      // The test's servers hold the compose file's credentials (the nodes run, so those work).
      const wrongPassword = new URL(compose['broker-1']!['IOC_DATABASE_URL']!);
      wrongPassword.password = 'not-the-password';
      const refused = new pg.Client({
        connectionString: onLoopback(wrongPassword.toString(), postgres.port),
      });
      await expect(refused.connect()).rejects.toThrow(/password authentication failed/);
      await refused.end().catch(() => undefined);
      const anonymous = await fetch(`${influxd.url}/query?q=SHOW%20DATABASES`);
      expect(anonymous.status).toBe(401);
      expect(await redisAnswer(redis.port, 'PING')).toMatch(/^-NOAUTH/);
      // The keys every node must share are the compose file's, not the harness's defaults.
      for (const name of ['IOC_INTERNAL_SECRET', 'IOC_DEVICE_CREDENTIAL_KEY'])
        for (const env of Object.values(started)) expect(env[name]).toBe(compose['broker-1']![name]);
    });

    it('devices connected through HAProxy land on both broker nodes, and each is served there', async () => {
      const landings: string[] = [];
      for (const device of counters.slice(0, 4)) {
        const { client, landedOn } = await throughHaproxy(device);
        landings.push(landedOn);
        // Served: the node it landed on acknowledges its reading (PUBACK) and stores it.
        await client.publishAsync(
          deviceTopic('traffic', device.id, 'telemetry'),
          JSON.stringify({ ts: Date.now() - 5000, metrics: { intensity: 1 } }),
          { qos: 1 },
        );
      }
      expect(new Set(landings)).toEqual(new Set(['broker-1', 'broker-2']));
      const states = await platform.haproxy!.backends();
      expect(states.map((b) => [b.name, b.status])).toEqual([
        ['broker-1', 'UP'],
        ['broker-2', 'UP'],
      ]);
    });

    it('either API node serves the ingest statistics of both broker nodes: each node’s own, the totals their sum, /metrics labelled by broker', async () => {
      for (const url of platform.httpUrls) {
        const stats = await eventually(
          async () => {
            const answer = await fetch(`${url}/api/v1/ingest/stats`, { headers: admin.headers });
            const body = ingestStatsBody.parse(await answer.json());
            // Both nodes have published since the previous test's readings (every 2 s).
            return body.nodes.length === 2 && body.nodes.every((n) => (n.accepted['traffic'] ?? 0) > 0)
              ? body
              : undefined;
          },
          15_000,
          `ingest statistics of both broker nodes on ${url}`,
        );
        expect(stats.nodes.map((n) => [n.node, n.stale])).toEqual([
          ['broker-1', false],
          ['broker-2', false],
        ]);
        const sum = (pick: (n: (typeof stats.nodes)[number]) => number): number =>
          stats.nodes.reduce((total, n) => total + pick(n), 0);
        expect(stats.acceptedTotal).toBe(sum((n) => n.acceptedTotal));
        expect(stats.spool.committedRecords).toBe(sum((n) => n.spool.committedRecords));
        expect(stats.connectedClients).toBe(sum((n) => n.connectedClients));
        expect(stats.healthConditions.filter((c) => c.code === 'broker-node-silent')).toEqual([]);
        const metrics = await (await fetch(`${url}/metrics`, { headers: admin.headers })).text();
        for (const node of ['broker-1', 'broker-2'])
          expect(metrics).toMatch(
            new RegExp(`^ioc_ingest_accepted_total\\{broker="${node}",domain="traffic"\\} [1-9]`, 'm'),
          );
      }
    });

    it('a command sent through API node 1 by an operator reaches a device on broker node 2; its acknowledgement shows on both API nodes', async () => {
      await expectCall(
        admin,
        'POST',
        '/api/v1/accounts',
        { ...OPERATOR, role: 'operator', displayName: 'Operator (scale-out)' },
        201,
      );
      const operator = await loginToApi(platform.httpUrls[0]!, OPERATOR.username, OPERATOR.password);
      // The light on broker node 2 itself (not through HAProxy), answering each command `done`.
      const device = await connect(node(2).mqttUrl, asDevice(light));
      const received: Array<{ id: string }> = [];
      device.on('message', (_topic, payload) => {
        const command = JSON.parse(payload.toString()) as { id: string };
        received.push(command);
        void device.publishAsync(
          deviceTopic('lighting', light.id, 'command/ack'),
          JSON.stringify({ id: command.id, outcome: 'done' }),
          { qos: 1 },
        );
      });
      await device.subscribeAsync(deviceTopic('lighting', light.id, 'command'), { qos: 1 });
      const response = await fetch(`${platform.httpUrls[0]}/api/v1/devices/${light.id}/commands`, {
        method: 'POST',
        headers: { ...operator.headers, 'content-type': 'application/json' },
        body: JSON.stringify({ command: 'dim', params: { level: 35 } }),
      });
      const sent = (await response.json()) as CommandRecordBody;
      expect([response.status, sent.state]).toEqual([202, 'sent']);
      await eventually(
        async () => (received.some((c) => c.id === sent.id) ? true : undefined),
        15_000,
        'the command at the device on node 2',
      );
      for (const url of platform.httpUrls) {
        const done = await eventually(
          async () => {
            const answer = await fetch(`${url}/api/v1/commands/${sent.id}`, { headers: operator.headers });
            const body = (await answer.json()) as CommandRecordBody;
            return body.state === 'sent' ? undefined : body;
          },
          15_000,
          `the acknowledgement on ${url}`,
        );
        expect(done).toMatchObject({ id: sent.id, state: 'acknowledged', outcome: 'done' });
      }
      expect(received.filter((c) => c.id === sent.id)).toHaveLength(1);
    });

    it('a socket on API node 2 receives the readings of a device on broker node 1, once each', async () => {
      const station = stations[0]!;
      const onNode1 = await socketOn(1, station);
      const onNode2 = await socketOn(2, station);
      const otherLightOnNode2 = await socketOn(2, otherLight);
      const device = await connect(node(1).mqttUrl, asDevice(station));
      const base = Date.now() - 600_000;
      const values = [31, 32, 33, 34, 35, 36];
      for (const [i, pm25] of values.entries())
        await device.publishAsync(
          deviceTopic('env', station.id, 'telemetry'),
          JSON.stringify({ ts: base + i * 1000, metrics: { pm25 } }),
          { qos: 1 },
        );
      const pm25 = (readings: Reading[]) => readings.map((r) => r.metrics['pm25']);
      for (const [feed, what] of [
        [onNode1, 'node 1'],
        [onNode2, 'node 2'],
      ] as const)
        await eventually(
          async () => (pm25(feed.readings).length >= values.length ? true : undefined),
          15_000,
          `the readings on ${what}'s socket`,
        );
      // A barrier: a command change API node 1 broadcasts through the socket.io adapter (one
      // ordered Redis stream) after it has emitted every reading; had it broadcast a reading
      // there as well, node 2 would get that copy before the command change.
      const response = await fetch(`${platform.httpUrls[0]}/api/v1/devices/${otherLight.id}/commands`, {
        method: 'POST',
        headers: { ...admin.headers, 'content-type': 'application/json' },
        body: JSON.stringify({ command: 'dim', params: { level: 10 } }),
      });
      const barrier = (await response.json()) as CommandRecordBody;
      expect(response.status).toBe(202);
      await eventually(
        async () => (otherLightOnNode2.commands.some((c) => c.id === barrier.id) ? true : undefined),
        15_000,
        "node 1's command change on node 2",
      );
      expect(pm25(onNode2.readings)).toEqual(values);
      expect(pm25(onNode1.readings)).toEqual(values);
    });

    it('an alert fires once and its webhook is delivered once, with two engines on the lease and two API nodes draining the outbox', async () => {
      const station = stations[1]!;
      const outputsBefore = platform.brokers.map((b) => b.process.output().length);
      const { endpoint } = await pm25AlertToWebhook(admin, {
        agency: AGENCY,
        ruleId: RULE_ID,
        deviceId: station.id,
        url: receiver.url(),
        label: 'scale-out',
      });
      // One broker node holds the engine's lease; it has loaded the rule.
      const lease = await new LeaseRepository(database.db, database.kind).get(ALERT_ENGINE_LEASE);
      const holder = Number(/^broker-(\d+):/.exec(lease?.holder ?? '')?.[1]);
      expect([1, 2]).toContain(holder);
      await eventually(
        async () =>
          node(holder as 1 | 2)
            .process.output()
            .indexOf(RULE_ID, outputsBefore[holder - 1]) >= 0
            ? true
            : undefined,
        30_000,
        'the lease holder loading the rule',
      );
      const deliveries = async (): Promise<DeliveryBody[]> =>
        (
          (await expectCall(admin, 'GET', `/api/v1/agencies/${AGENCY}/deliveries?limit=100`, undefined, 200))[
            'items'
          ] as DeliveryBody[]
        ).filter((d) => d.state === 'delivered');
      // Only the holder has evaluated (a standby node runs its leader, not the engine).
      expect(
        platform.brokers
          .filter((b) => b.process.output().includes('alert engine lease acquired'))
          .map((b) => b.id),
      ).toEqual([holder]);
      // The device on the node that does not evaluate: its readings reach the holder through the
      // Redis stream every node forwards its spool to.
      const standby = holder === 1 ? 2 : 1;
      const client = await connect(node(standby).mqttUrl, asDevice(station));
      let ts = Date.now() - 300_000;
      const publish = (pm25: number) =>
        client.publishAsync(
          deviceTopic('env', station.id, 'telemetry'),
          JSON.stringify({ ts: (ts += 1000), metrics: { pm25 } }),
          { qos: 1 },
        );
      await publish(150);
      await eventually(async () => ((await deliveries()).length >= 1 ? true : undefined), 30_000, 'firing');
      // Then it clears: its notification is the next one, so a second delivery of the first would
      // have been made before it.
      await publish(20);
      await eventually(
        async () => ((await deliveries()).length >= 2 ? true : undefined),
        30_000,
        'resolution',
      );
      expect((await deliveries()).length).toBe(2);
      const secret = String(endpoint['secret']);
      expect(receiver.requests.map((r) => r.status)).toEqual([204, 204]);
      expect(new Set(receiver.requests.map((r) => r.id)).size).toBe(2);
      for (const request of receiver.requests) expect(() => verifyWebhook(secret, request)).not.toThrow();
      expect(receiver.requests.map((r) => r.body.data.alerts.map((a) => a.state))).toEqual([
        ['firing'],
        ['resolved'],
      ]);
      // One alert, fired once (not once per broker node).
      const listed = await expectCall(admin, 'GET', `/api/v1/alerts?ruleId=${RULE_ID}`, undefined, 200);
      const alerts = listed['alerts'] as Array<{ id: string; state: string }>;
      expect(alerts.map((a) => a.state)).toEqual(['resolved']);
      const detail = await expectCall(admin, 'GET', `/api/v1/alerts/${alerts[0]!.id}`, undefined, 200);
      const kinds = (detail['transitions'] as Array<{ kind: string }>).map((t) => t.kind);
      expect(kinds.filter((kind) => kind === 'fired')).toHaveLength(1);
    });

    it('SIGKILL broker node 1 mid-stream: its devices reconnect through HAProxy to node 2; after its restart every acknowledged reading is stored exactly once', async () => {
      const total = 400;
      const base = Date.now() - 2 * 3_600_000;
      // Devices through HAProxy until both nodes have one streaming.
      const streaming: Array<{ device: Device; client: MqttClient; landedOn: string; acked: Set<number> }> =
        [];
      for (const device of counters.slice(4, 10)) {
        if (new Set(streaming.map((s) => s.landedOn)).size === 2) break;
        const { client, landedOn } = await throughHaproxy(device, `${device.id}-kill`);
        streaming.push({ device, client, landedOn, acked: new Set() });
      }
      expect(new Set(streaming.map((s) => s.landedOn))).toEqual(new Set(['broker-1', 'broker-2']));
      const streams = streaming.map((s) =>
        publishSequence({
          client: s.client,
          device: s.device,
          base,
          from: 0,
          to: total,
          window: 20,
          acked: s.acked,
          pauseMs: 5,
        }),
      );
      await eventually(
        async () => (streaming.every((s) => s.acked.size >= 100) ? true : undefined),
        30_000,
        'every stream under way',
      );
      await platform.killBroker('SIGKILL', 1);
      await Promise.all(streams);
      const onKilled = streaming.filter((s) => s.landedOn === 'broker-1');
      expect(onKilled.every((s) => s.acked.size < total)).toBe(true);
      // HAProxy's health checks take node 1 out…
      await eventually(
        async () =>
          (await platform.haproxy!.backends()).find((b) => b.name === 'broker-1')?.status.startsWith('DOWN')
            ? true
            : undefined,
        10_000,
        'HAProxy marking broker-1 down',
      );
      // …and whatever was not acknowledged is sent again through it, to node 2.
      for (const s of streaming) {
        const missing = Array.from({ length: total }, (_, seq) => seq).filter((seq) => !s.acked.has(seq));
        if (missing.length === 0) continue;
        const again = await eventually(
          () => throughHaproxy(s.device, `${s.device.id}-kill`),
          15_000,
          `${s.device.id} reconnecting through HAProxy`,
        );
        expect(again.landedOn).toBe('broker-2');
        for (const seq of missing) {
          const { topic, payload } = sequencedReading(s.device, base, seq);
          await again.client.publishAsync(topic, payload, { qos: 1 });
          s.acked.add(seq);
        }
      }
      // Before node 1 is back, some of what it acknowledged is nowhere but in its spool.
      const before = await Promise.all(
        onKilled.map(async (s) => (await storedSequence(s.device, base, total)).length),
      );
      expect(before.some((count) => count < total)).toBe(true);
      await platform.restartBroker(1);
      await platform.haproxy!.waitForUp(2);
      for (const s of streaming) {
        const points = await eventually(
          async () => {
            const stored = await storedSequence(s.device, base, total);
            return stored.length >= total ? stored : undefined;
          },
          30_000,
          `every reading of ${s.device.id} stored`,
        );
        expect(points.map((p) => [p.ts, p.value])).toEqual(
          Array.from({ length: total }, (_, seq) => [base + seq * 1000, seq]),
        );
      }
    });

    it('Redis stopped for 10 s: every reading acknowledged meanwhile is stored once, and the live feeds on both API nodes resume', async () => {
      const station = stations[2]!;
      const feeds = [await socketOn(1, station), await socketOn(2, station)];
      const liveDevice = await connect(platform.mqttUrl, asDevice(station));
      // Two counters streaming, through HAProxy, across the outage.
      const base = Date.now() - 4 * 3_600_000;
      // One connection at a time: throughHaproxy tells where each landed from HAProxy's totals.
      const streaming: Array<{ device: Device; client: MqttClient; acked: Set<number> }> = [];
      for (const device of counters.slice(10, 12)) {
        const { client } = await throughHaproxy(device, `${device.id}-outage`);
        streaming.push({ device, client, acked: new Set<number>() });
      }
      await redis.stop();
      const stoppedAt = Date.now();
      try {
        // The outage lasts as long as the streams run: 10 s.
        await Promise.all(
          streaming.map((s) =>
            publishSequence({
              client: s.client,
              device: s.device,
              base,
              from: 0,
              to: 1_000_000,
              window: 10,
              acked: s.acked,
              pauseMs: 20,
              shouldStop: () => Date.now() - stoppedAt >= 10_000,
            }),
          ),
        );
      } finally {
        await redis.start();
      }
      for (const s of streaming) {
        expect(s.acked.size).toBeGreaterThan(50);
        const sent = Math.max(...s.acked) + 1;
        const points = await eventually(
          async () => {
            const stored = await storedSequence(s.device, base, sent);
            return stored.length >= s.acked.size ? stored : undefined;
          },
          30_000,
          `the readings of ${s.device.id} acknowledged during the outage stored`,
        );
        // Each acknowledged reading once, with its own value; nothing else.
        const seqs = points.map((p) => p.value as number);
        expect(new Set(seqs).size).toBe(seqs.length);
        expect([...s.acked].filter((seq) => !seqs.includes(seq))).toEqual([]);
        expect(points.every((p) => p.ts === base + (p.value as number) * 1000)).toBe(true);
      }
      // Live feeds resume: sockets opened before the outage get readings published after it.
      let value = 200;
      await eventually(
        async () => {
          const marker = ++value;
          await liveDevice.publishAsync(
            deviceTopic('env', station.id, 'telemetry'),
            JSON.stringify({ ts: Date.now() - 1000, metrics: { pm25: marker } }),
            { qos: 1 },
          );
          // The marker on every feed, awaited (up to 1.5 s, then another marker).
          const seen = await Promise.all(
            feeds.map((f) => f.readingWhere((r) => r.metrics['pm25'] === marker, 1500)),
          );
          return seen.every((reading) => reading !== undefined) ? true : undefined;
        },
        45_000,
        'the live feeds on both API nodes after the outage',
      );
      // And each reading once on each node's socket from then on.
      const from = value;
      const next = [from + 1, from + 2, from + 3];
      for (const marker of next)
        await liveDevice.publishAsync(
          deviceTopic('env', station.id, 'telemetry'),
          JSON.stringify({ ts: Date.now() - 1000, metrics: { pm25: marker } }),
          { qos: 1 },
        );
      await eventually(
        async () =>
          feeds.every((f) => f.readings.some((r) => r.metrics['pm25'] === next[2])) ? true : undefined,
        15_000,
        'the readings after it',
      );
      for (const feed of feeds)
        expect(feed.readings.map((r) => r.metrics['pm25']).filter((v) => (v as number) > from)).toEqual(next);
      for (const api of platform.apis) expect(api.child.exitCode).toBeNull();
      for (const broker of platform.brokers) expect(broker.process.child.exitCode).toBeNull();
    });
  },
);
