import { execFileSync } from 'node:child_process';
import type { MqttClient } from 'mqtt';
import type { AlertEvent, CommandRecordBody, DeliveryBody, Device, Reading } from '@ioc/contracts';
import { deviceTopic } from '@ioc/contracts';
import { DeviceRegistry, loadSeeds } from '@ioc/registry';
import {
  API_ENTRY,
  type ApiSession,
  describeWithPostgres,
  describeWithRedis,
  eventually,
  loginToApi,
  type PostgresHandle,
  type RedisHandle,
  type RunningPlatform,
  startPlatform,
  startPostgres,
  startRedis,
  startService,
  WebhookReceiver,
} from '@ioc/testing';
import { DeviceClients, type LiveClient, liveClient, mqttClient } from './support/clients';
import { expectCall, pm25AlertToWebhook } from './support/webhooks';

/*
 * Several API nodes (issue 12): one broker, two API processes started at the same moment on one
 * PostgreSQL and one Redis (socket.io's Redis streams adapter, shared rate limits). What only one
 * node learns reaches the other's sockets; what every node learns from the bus reaches each socket
 * once; the outbox delivers each webhook once; Redis stopped for 10 s: REST goes on, and afterwards
 * the live feeds resume (the outage's readings included), commands sent during and after it reach
 * the device, and the readings acknowledged during it are stored once.
 */

jest.setTimeout(240_000);

const registry = new DeviceRegistry(loadSeeds());
const [station, alertStation] = registry.listDevices({ type: 'air-quality-station' }) as [Device, Device];
const light = registry.listDevices({ type: 'street-light' })[0] as Device;
const AGENCY = 'so-e2e-api-nodes';
const OPERATOR_PASSWORD = 'e2e-operator-staple-horse-7';

describeWithRedis('several API nodes on Redis and PostgreSQL (real processes)', () => {
  describeWithPostgres('one broker, two API nodes', () => {
    let redis: RedisHandle;
    let postgres: PostgresHandle;
    let platform: RunningPlatform;
    let admin: ApiSession;
    let clients: DeviceClients;
    let lightClient: MqttClient;
    let receiver: WebhookReceiver;
    const lightCommands: Array<{ id: string }> = [];
    let ts = Date.now() - 3_600_000;

    /** A pm25 reading of `device` (its own, increasing timestamps). */
    const publishPm25 = (device: Device, pm25: number): Promise<void> =>
      clients.publishAsync(
        deviceTopic('env', device.id, 'telemetry'),
        JSON.stringify({ ts: (ts += 1000), metrics: { pm25 } }),
        { qos: 1 },
      );

    /** Sends `dim` to the light through API node `node` (0 or 1); the record. */
    async function dim(node: number, level: number): Promise<CommandRecordBody> {
      const response = await fetch(`${platform.httpUrls[node]}/api/v1/devices/${light.id}/commands`, {
        method: 'POST',
        headers: { ...admin.headers, 'content-type': 'application/json' },
        body: JSON.stringify({ command: 'dim', params: { level } }),
      });
      const body = (await response.json()) as CommandRecordBody;
      if (response.status !== 202)
        throw new Error(`dim answered ${response.status}: ${JSON.stringify(body)}`);
      return body;
    }

    /** A socket on API node `node` subscribed to `subscription`, collecting its events. */
    async function socketOn(
      node: number,
      session: Pick<ApiSession, 'accessToken'>,
      subscription: Record<string, unknown>,
    ): Promise<LiveClient & { commands: CommandRecordBody[]; alerts: AlertEvent[] }> {
      const live = await liveClient(platform.httpUrls[node] as string, session);
      const commands: CommandRecordBody[] = [];
      const alerts: AlertEvent[] = [];
      live.socket.on('command', (command: CommandRecordBody) => commands.push(command));
      live.socket.on('alert', (event: AlertEvent) => alerts.push(event));
      const ack = await live.subscribe(subscription);
      if (!ack.ok) throw new Error(`subscribe refused: ${ack.error}`);
      return Object.assign(live, { commands, alerts });
    }

    /** What Redis and the processes say, for a failed outage assertion. */
    async function outageDiagnostics(): Promise<string> {
      const cli = (...args: string[]): string => {
        try {
          return execFileSync('redis-cli', ['-p', String(redis.port), ...args], { encoding: 'utf8' });
        } catch (error) {
          return `redis-cli ${args.join(' ')}: ${(error as Error).message}`;
        }
      };
      const tail = (text: string): string => text.split('\n').slice(-60).join('\n');
      return [
        `CLIENT LIST:\n${cli('CLIENT', 'LIST')}`,
        `PUBSUB CHANNELS:\n${cli('PUBSUB', 'CHANNELS')}`,
        `PUBSUB NUMPAT: ${cli('PUBSUB', 'NUMPAT')}`,
        `broker:\n${tail(platform.broker.output())}`,
        ...platform.apis.map((api, i) => `API node ${i + 1}:\n${tail(api.output())}`),
      ].join('\n');
    }

    beforeAll(async () => {
      redis = await startRedis();
      postgres = await startPostgres();
      platform = await startPlatform({
        storage: 'embedded',
        apiNodes: 2,
        // Both at once: migrations and seeding race under the advisory lock.
        apiStartTogether: true,
        env: {
          IOC_DATABASE_URL: await postgres.createDatabase('ioc_api_nodes'),
          IOC_REDIS_URL: redis.url,
          IOC_BROKER_ID: '1',
          IOC_WEBHOOK_ALLOW_PRIVATE: 'true',
          IOC_WEBHOOK_RETRY_SCHEDULE: '0.5,0.5,0.5,0.5',
          IOC_NOTIFIER_POLL_MS: '100',
        },
      });
      admin = await platform.admin();
      clients = new DeviceClients(platform.mqttUrl, (id) => platform.deviceSecret(id), 'e2e-api-nodes');
      // The light answers every command it gets (done), as a real one would.
      lightClient = await mqttClient(platform.mqttUrl, `${light.id}-e2e-api-nodes`, {
        username: light.id,
        password: platform.deviceSecret(light.id),
      });
      lightClient.on('message', (_topic, payload) => {
        const command = JSON.parse(payload.toString()) as { id: string };
        lightCommands.push(command);
        void lightClient.publishAsync(
          deviceTopic('lighting', light.id, 'command/ack'),
          JSON.stringify({ id: command.id, outcome: 'done' }),
          { qos: 1 },
        );
      });
      await lightClient.subscribeAsync(deviceTopic('lighting', light.id, 'command'), { qos: 1 });
      receiver = await WebhookReceiver.start();
    }, 180_000);

    afterAll(async () => {
      await lightClient?.endAsync();
      await clients?.endAll();
      await receiver?.close();
      await platform?.stop();
      await redis?.close();
      await postgres?.stop();
    });

    it('started both nodes at once on one database: both answer, seeded once, one valid audit chain', async () => {
      const lists = await Promise.all(
        platform.httpUrls.map(async (url) => {
          const response = await fetch(`${url}/api/v1/devices`, { headers: admin.headers });
          expect(response.status).toBe(200);
          return (await response.json()) as { items: Array<{ id: string }> };
        }),
      );
      // Seeded once: every id once (two seedings would have failed or doubled the areas' devices).
      const ids = lists[0]?.items.map((d) => d.id) ?? [];
      expect(ids.length).toBeGreaterThan(0);
      expect(new Set(ids).size).toBe(ids.length);
      expect(lists[1]).toEqual(lists[0]);
      // Audited writes through both nodes at the same time (accounts created), then one chain.
      const created = await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          fetch(`${platform.httpUrls[i % 2]}/api/v1/accounts`, {
            method: 'POST',
            headers: { ...admin.headers, 'content-type': 'application/json' },
            body: JSON.stringify({ username: `e2e-chain-${i}`, displayName: `Chain ${i}`, role: 'viewer' }),
          }).then((r) => r.status),
        ),
      );
      expect(created).toEqual(Array.from({ length: 8 }, () => 201));
      for (const url of platform.httpUrls) {
        const verify = await fetch(`${url}/api/v1/audit/verify`, { headers: admin.headers });
        const body = (await verify.json()) as { ok: boolean; entries: number };
        expect(body.ok).toBe(true);
        expect(body.entries).toBeGreaterThanOrEqual(8);
      }
    });

    it('a session cookie from node 1 is good on node 2', async () => {
      const login = await fetch(`${platform.httpUrls[0]}/api/v1/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          username: 'admin',
          password: 'e2e-admin-correct-horse-battery',
          session: 'cookie',
        }),
      });
      expect(login.status).toBe(200);
      const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0] as string;
      expect(cookie).toMatch(/^ioc_session=/);
      const me = await fetch(`${platform.httpUrls[1]}/api/v1/auth/me`, { headers: { cookie } });
      expect(me.status).toBe(200);
      expect(await me.json()).toMatchObject({ kind: 'account', name: 'admin' });
    });

    it('a socket on node 2 gets each reading once (not once per node); a command sent through node 1 reaches the device and its changes reach node 2', async () => {
      const onNode1 = await socketOn(0, admin, { device: station.id });
      const onNode2 = await socketOn(1, admin, { device: station.id });
      const lightOnNode2 = await socketOn(1, admin, { device: light.id });
      try {
        const values = [11, 12, 13, 14, 15, 16, 17, 18];
        for (const value of values) await publishPm25(station, value);
        const pm25 = (readings: Reading[]): number[] => readings.map((r) => r.metrics['pm25'] as number);
        await eventually(
          async () => (pm25(onNode1.readings).length >= values.length ? true : undefined),
          15_000,
          'node 1 socket readings',
        );
        // Node 1 has emitted every reading; a duplicate it broadcast through the adapter would
        // be in the Redis stream before the command change it broadcasts next (one ordered
        // stream), so once node 2 has that command change, any duplicate would have arrived.
        const sent = await dim(0, 40);
        await eventually(
          async () => (lightCommands.some((c) => c.id === sent.id) ? true : undefined),
          10_000,
          'the command at the device',
        );
        const states = await eventually(
          async () => {
            const mine = lightOnNode2.commands.filter((c) => c.id === sent.id).map((c) => c.state);
            return mine.includes('acknowledged') ? mine : undefined;
          },
          15_000,
          'the command changes on node 2',
        );
        expect(states).toEqual(['sent', 'acknowledged']);
        expect(pm25(onNode2.readings)).toEqual(values);
        expect(pm25(onNode1.readings)).toEqual(values);
      } finally {
        onNode1.close();
        onNode2.close();
        lightOnNode2.close();
      }
    });

    it('an account disabled through node 1 ends its socket on node 2 at once (not at the 2 s re-check)', async () => {
      const account = await expectCall(
        admin,
        'POST',
        '/api/v1/accounts',
        { username: 'e2e-nodes-op', password: OPERATOR_PASSWORD, role: 'operator', displayName: 'Op' },
        201,
      );
      const operator = await loginToApi(platform.httpUrls[1] as string, 'e2e-nodes-op', OPERATOR_PASSWORD);
      const live = await socketOn(1, operator, { device: station.id });
      const ended = new Promise<{ reason: string; message: string; at: number }>((resolve) =>
        live.socket.once('ended', (body: { reason: string; message: string }) =>
          resolve({ ...body, at: Date.now() }),
        ),
      );
      const disconnected = new Promise<void>((resolve) => live.socket.once('disconnect', () => resolve()));
      const disable = await fetch(
        `${platform.httpUrls[0]}/api/v1/accounts/${String(account['id'])}/disable`,
        {
          method: 'POST',
          headers: admin.headers,
        },
      );
      const disabledAt = Date.now();
      expect(disable.status).toBe(200);
      const end = await ended;
      await disconnected;
      // 'access ended' is the notice's message (LiveAuth.endMatching); the periodic re-check
      // would end it with the authenticator's own message, up to 2 s later.
      expect(end).toMatchObject({ reason: 'account-disabled', message: 'access ended' });
      expect(end.at - disabledAt).toBeLessThan(1000);
    });

    it("a logout through node 1 ends that session's socket on node 2 at once", async () => {
      const session = await loginToApi(
        platform.httpUrls[0] as string,
        'admin',
        'e2e-admin-correct-horse-battery',
      );
      const live = await socketOn(1, session, { device: station.id });
      const ended = new Promise<{ reason: string; message: string; at: number }>((resolve) =>
        live.socket.once('ended', (body: { reason: string; message: string }) =>
          resolve({ ...body, at: Date.now() }),
        ),
      );
      const logout = await session.fetch('/api/v1/auth/logout', { method: 'POST' });
      const loggedOutAt = Date.now();
      expect(logout.status).toBeLessThan(300);
      const end = await ended;
      expect(end).toMatchObject({ reason: 'logout', message: 'access ended' });
      expect(end.at - loggedOutAt).toBeLessThan(1000);
      live.close();
    });

    it('two nodes drain one outbox: an alert notification is delivered once', async () => {
      const ruleId = 'e2e-api-nodes-pm25';
      const logStart = platform.broker.output().length;
      await pm25AlertToWebhook(admin, {
        agency: AGENCY,
        ruleId,
        deviceId: alertStation.id,
        url: receiver.url(),
        label: 'nodes',
      });
      await eventually(
        async () => (platform.broker.output().indexOf(ruleId, logStart) >= 0 ? true : undefined),
        30_000,
        'the broker loading the rule',
      );
      const deliveries = async (): Promise<DeliveryBody[]> => {
        const body = await expectCall(
          admin,
          'GET',
          `/api/v1/agencies/${AGENCY}/deliveries?limit=100`,
          undefined,
          200,
        );
        return body['items'] as DeliveryBody[];
      };
      // Fire, then clear, three times: six notifications, each node's notifier polling every
      // 100 ms (and woken by each alert event) meanwhile.
      const delivered = async (count: number, what: string): Promise<void> => {
        await eventually(
          async () =>
            (await deliveries()).filter((d) => d.state === 'delivered').length >= count ? true : undefined,
          20_000,
          what,
        );
      };
      const CYCLES = 3;
      for (let c = 0; c < CYCLES; c++) {
        await publishPm25(alertStation, 150);
        await delivered(2 * c + 1, `firing ${c + 1} delivered`);
        await publishPm25(alertStation, 20);
        await delivered(2 * c + 2, `resolution ${c + 1} delivered`);
      }
      const ids = receiver.requests.map((r) => r.id);
      expect(ids).toHaveLength(2 * CYCLES);
      expect(new Set(ids).size).toBe(2 * CYCLES);
      const states = (await deliveries()).map((d) => d.state);
      expect(states).toEqual(Array.from({ length: 2 * CYCLES }, () => 'delivered'));
    });

    it('Redis stopped for 10 s: REST served throughout; readings acknowledged meanwhile stored once; live feeds and commands resume', async () => {
      const feeds = [
        await socketOn(0, admin, { device: station.id }),
        await socketOn(1, admin, { device: station.id }),
      ];
      const lightFeed = await socketOn(1, admin, { device: light.id });
      const pm25 = (readings: Reading[]): number[] => readings.map((r) => r.metrics['pm25'] as number);
      const firstTs = ts + 1000;
      try {
        // Before the outage: the station's connection is open (a CONNECT during the outage waits
        // for Redis: aedes' CONNACK follows its session lookups there) and both feeds are live.
        await publishPm25(station, 400);
        await eventually(
          async () => (feeds.every((f) => pm25(f.readings).includes(400)) ? true : undefined),
          15_000,
          'the live feed on both nodes before the outage',
        );
        await redis.stop();
        const during: number[] = [];
        let sentDuring: CommandRecordBody | undefined;
        try {
          const stoppedAt = Date.now();
          // REST (and the shared rate limits, answered by each node's own counter) while it is gone.
          for (const url of platform.httpUrls) {
            const started = Date.now();
            const response = await fetch(`${url}/api/v1/devices?limit=1`, { headers: admin.headers });
            expect(response.status).toBe(200);
            expect(Date.now() - started).toBeLessThan(2000);
          }
          // A command through node 1 while Redis is away: accepted (the API's bus is MQTT).
          sentDuring = await dim(0, 60);
          expect(sentDuring.state).toBe('sent');
          // Readings the broker acknowledges while Redis is away (its spool, not Redis, keeps them).
          for (let i = 0; i < 5; i++) {
            const value = 500 + i;
            await publishPm25(station, value);
            during.push(value);
          }
          const wait = 10_000 - (Date.now() - stoppedAt);
          if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait)); // the outage itself
        } finally {
          await redis.start();
        }
        // The live feed of each existing socket resumes: readings published after the outage
        // reach both.
        let value = 900;
        const resumed = (reading: Reading): boolean => (reading.metrics['pm25'] as number) >= 900;
        await eventually(
          async () => {
            await publishPm25(station, value++);
            // Each feed's first reading from after the outage, awaited (up to 1 s, then publish again).
            const seen = await Promise.all(feeds.map((f) => f.readingWhere(resumed, 1000)));
            return seen.every((reading) => reading !== undefined) ? true : undefined;
          },
          30_000,
          'the live feed on both nodes after the outage',
        ).catch(async (error: Error) => {
          throw new Error(`${error.message}\n${await outageDiagnostics()}`);
        });
        // The readings relayed during the outage were held by the broker until its bus
        // subscriptions were back, then delivered: each socket has them, once each, in order.
        for (const feed of feeds)
          expect(pm25(feed.readings).filter((v) => v >= 500 && v < 900)).toEqual(during);
        // A command sent through node 2 after the outage reaches the device and is acknowledged.
        const after = await dim(1, 70);
        await eventually(
          async () => (lightCommands.some((c) => c.id === after.id) ? true : undefined),
          15_000,
          'the command sent after the outage at the device',
        ).catch(async (error: Error) => {
          throw new Error(`${error.message}\n${await outageDiagnostics()}`);
        });
        await eventually(
          async () =>
            lightFeed.commands.some((c) => c.id === after.id && c.state === 'acknowledged')
              ? true
              : undefined,
          15_000,
          'the acknowledgement of the command sent after the outage on node 2',
        );
        // The command sent during the outage: the broker acknowledged it to the API at once and
        // held it (its bus publishes wait for its subscriptions to be back in Redis): delivered
        // after the outage, and acknowledged by the device.
        const duringId = (sentDuring as CommandRecordBody).id;
        await eventually(
          async () => (lightCommands.some((c) => c.id === duringId) ? true : undefined),
          15_000,
          'the command sent during the outage at the device',
        );
        const record = await eventually(
          async () => {
            const body = await expectCall(admin, 'GET', `/api/v1/commands/${duringId}`, undefined, 200);
            return body['state'] === 'acknowledged' ? body : undefined;
          },
          15_000,
          'the command sent during the outage acknowledged',
        );
        expect(record['state']).toBe('acknowledged');
        // Every reading acknowledged during the outage is stored exactly once.
        const points = await eventually(
          async () => {
            const body = await expectCall(
              admin,
              'GET',
              `/api/v1/devices/${station.id}/history?metric=pm25&from=${firstTs}&to=${ts}`,
              undefined,
              200,
            );
            const stored = (body['points'] as Array<{ ts: number; value: number }>).map((p) => p.value);
            return during.every((v) => stored.includes(v)) ? stored : undefined;
          },
          15_000,
          'the readings of the outage stored',
        );
        expect(points.filter((v) => v >= 500 && v < 900)).toEqual(during);
      } finally {
        for (const feed of [...feeds, lightFeed]) feed.close();
      }
      for (const api of platform.apis) expect(api.child.exitCode).toBeNull();
      expect(platform.broker.child.exitCode).toBeNull();
      // Every Redis client of every process has an 'error' listener: ioredis printed no
      // "Unhandled error event" at its failed reconnections; each outage was logged once per
      // connection (warn), not once per attempt.
      for (const process of [platform.broker, ...platform.apis]) {
        expect(process.output()).not.toContain('Unhandled error event');
        const lost =
          process.output().match(/"connection":"([^"]+)"[^\n]*Redis \(IOC_REDIS_URL\) unreachable/g) ?? [];
        expect(lost.length).toBeGreaterThan(0);
        expect(new Set(lost).size).toBe(lost.length);
      }
    });

    it('refuses to start a node on Redis without an explicit IOC_NODE_ID', async () => {
      const env: Record<string, string> = {
        IOC_REDIS_URL: redis.url,
        IOC_NODE_ID: '',
        IOC_DATA_DIR: platform.dataDir,
        IOC_HTTP_PORT: '0',
      };
      await expect(startService(API_ENTRY, env, 'API listening', 20_000)).rejects.toThrow(
        /IOC_NODE_ID: required when IOC_REDIS_URL is set/,
      );
    });

    it('refuses a second node started with the IOC_NODE_ID of a live node, which goes on undisturbed', async () => {
      // API node 1's settings, on another port: its IOC_NODE_ID is held (ioc:node:api:1) and renewed.
      const env = { ...platform.apis[0]!.env, IOC_HTTP_PORT: '0' };
      const started = Date.now();
      await expect(startService(API_ENTRY, env, 'API listening', 30_000)).rejects.toThrow(
        /exited with 1 before it was ready:[\s\S]*IOC_NODE_ID=1: another node holds this id \(ioc:node:api:1: host .*pid \d+/,
      );
      // Refused once the holder renewed its claim (every 5 s), not after a start-up timeout.
      expect(Date.now() - started).toBeLessThan(20_000);
      // Node 1 kept its bus connection (the duplicate never connected with ioc-api-1) and its health.
      const health = await fetch(`${platform.httpUrls[0]}/health`);
      expect(health.status).toBe(200);
      expect(await health.json()).not.toHaveProperty('healthConditions');
      expect(platform.apis[0]!.output()).not.toMatch(/node id .*held by another node/);
    });
  });
});
