import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { connect as mqttConnect, connectAsync, type IClientOptions, type MqttClient } from 'mqtt';
import {
  type Device,
  type DeviceErrorMessage,
  type DeviceState,
  INTERNAL_USERNAME,
  deviceTopic,
} from '@ioc/contracts';
import { hashDeviceSecret } from '@ioc/registry';
import { TempDirs } from '@ioc/testing';
import type { EmbeddedTimeSeriesStore } from '@ioc/timeseries';
import { type BrokerAuth, checkDeviceSecret, type InMemoryDeviceCredentials } from '../device-credentials';
import type { DeviceDirectory } from '../device-directory';
import {
  startTestBroker,
  TEST_CREDENTIAL_KEY,
  TEST_INTERNAL_SECRET,
  testDeviceCredentials,
  testRegistry as registry,
  waitFor,
} from '../test-support/test-broker';
import { MemoryFailedLoginLimiter } from './failed-logins';
import { CREDENTIAL_SWEEP_MS, type IngestBroker, type IngestBrokerOptions } from './ingest-broker';
import { WEBSOCKET_PATH } from './listeners';

const run = promisify(execFile);

const [stationA, stationB] = registry.listDevices({ type: 'air-quality-station' }) as [Device, Device];
const cabinet = registry.listDevices({ type: 'lighting-cabinet' })[0] as Device;
const topicOf = (device: Device, channel: 'telemetry' | 'status' | 'command' | 'error'): string =>
  deviceTopic(device.domain, device.id, channel);
const reading = (pm25 = 1): string => JSON.stringify({ ts: Date.now(), metrics: { pm25, pm10: 2 } });

/** The seeded registry, with some devices' state overridden (suspended, retired). */
class StatefulDirectory implements DeviceDirectory {
  readonly states = new Map<string, DeviceState>();
  getDevice(id: string): Device | undefined {
    const device = registry.getDevice(id);
    const state = this.states.get(id);
    return device && state ? { ...device, state } : device;
  }
  sharedAreaPath(areaId: string): readonly string[] {
    return registry.sharedAreaPath(areaId);
  }
}

/** The CONNACK return code a refused connection got (mqtt.js puts it in `code`). */
async function refusal(connecting: Promise<MqttClient>): Promise<number | undefined> {
  try {
    const c = await connecting;
    await c.endAsync(true);
    return 0;
  } catch (error) {
    return (error as { code?: number }).code;
  }
}

describe('broker: device credentials and access', () => {
  const dirs = new TempDirs('device-auth-');
  let broker: IngestBroker;
  let store: EmbeddedTimeSeriesStore;
  let url: string;
  let secrets: Record<string, string>;
  let credentials: InMemoryDeviceCredentials;
  let directory: StatefulDirectory;
  const clients: MqttClient[] = [];

  const start = async (overrides: Partial<IngestBrokerOptions> = {}): Promise<void> => {
    const made = testDeviceCredentials([stationA.id, stationB.id, cabinet.id]);
    ({ secrets, credentials } = made);
    directory = new StatefulDirectory();
    ({ broker, store, url } = await startTestBroker(await dirs.make(), {
      auth: made.auth,
      directory,
      ...overrides,
    }));
  };
  const connect = async (options: IClientOptions, to = url): Promise<MqttClient> => {
    const c = await connectAsync(to, { reconnectPeriod: 0, connectTimeout: 5000, ...options });
    clients.push(c);
    return c;
  };
  /** A device logged in with its own secret. */
  const device = (d: Device, options: IClientOptions = {}): Promise<MqttClient> =>
    connect({ username: d.id, password: secrets[d.id], ...options });
  const internalClient = (): Promise<MqttClient> =>
    connect({ username: INTERNAL_USERNAME, password: TEST_INTERNAL_SECRET });
  const messages = (c: MqttClient): string[] => {
    const seen: string[] = [];
    c.on('message', (topic, payload) => seen.push(`${topic} ${payload.toString()}`));
    return seen;
  };
  const refusals = () => broker.stats().broker;

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.endAsync(true)));
    await broker?.close();
    await store?.close();
  });
  afterAll(() => dirs.removeAll());

  describe('CONNECT', () => {
    beforeEach(() => start());

    it('accepts a device with its secret, and platform services as before', async () => {
      const a = await device(stationA);
      expect(a.connected).toBe(true);
      expect((await internalClient()).connected).toBe(true);
    });

    it('refuses a wrong secret, an unknown device and a missing username with 4, each counted', async () => {
      expect(
        await refusal(
          connectAsync(url, { username: stationA.id, password: 'iocds_wrong', reconnectPeriod: 0 }),
        ),
      ).toBe(4);
      expect(await refusal(connectAsync(url, { username: stationA.id, reconnectPeriod: 0 }))).toBe(4);
      expect(
        await refusal(
          connectAsync(url, {
            username: 'no-such-device',
            password: secrets[stationA.id],
            reconnectPeriod: 0,
          }),
        ),
      ).toBe(4);
      expect(await refusal(connectAsync(url, { reconnectPeriod: 0 }))).toBe(4);
      expect(refusals()).toMatchObject({ authBadSecret: 2, authUnknownDevice: 1, authMissingUsername: 1 });
    });

    it('refuses a suspended or retired device with 5 given the right secret, and 4 given a wrong one', async () => {
      directory.states.set(stationA.id, 'suspended');
      directory.states.set(stationB.id, 'retired');
      expect(
        await refusal(
          connectAsync(url, { username: stationA.id, password: secrets[stationA.id], reconnectPeriod: 0 }),
        ),
      ).toBe(5);
      expect(
        await refusal(
          connectAsync(url, { username: stationB.id, password: secrets[stationB.id], reconnectPeriod: 0 }),
        ),
      ).toBe(5);
      expect(
        await refusal(
          connectAsync(url, { username: stationA.id, password: 'iocds_wrong', reconnectPeriod: 0 }),
        ),
      ).toBe(4);
      expect(refusals()).toMatchObject({ authDeviceInactive: 2, authBadSecret: 1 });
      directory.states.set(stationA.id, 'active');
      expect((await device(stationA)).connected).toBe(true);
    });

    it('accepts both secrets during a rotation grace period, and refuses one whose grace has ended', async () => {
      const newSecret = 'iocds_new-secret-of-the-rotation';
      const oldId = credentials.credentialsOf(stationA.id)[0]!.id;
      credentials.add(stationA.id, { id: 'new', hash: hashDeviceSecret(TEST_CREDENTIAL_KEY, newSecret) });
      credentials.setNotAfter(stationA.id, oldId, Date.now() + 60_000);
      expect((await device(stationA)).connected).toBe(true);
      expect((await connect({ username: stationA.id, password: newSecret })).connected).toBe(true);
      credentials.setNotAfter(stationA.id, oldId, Date.now() - 1);
      expect(
        await refusal(
          connectAsync(url, { username: stationA.id, password: secrets[stationA.id], reconnectPeriod: 0 }),
        ),
      ).toBe(4);
      expect(refusals().authExpiredSecret).toBe(1);
      expect((await connect({ username: stationA.id, password: newSecret })).connected).toBe(true);
    });

    it('refuses a client id another device is connected with, or keeps a persistent session under (2)', async () => {
      const a = await device(stationA, { clientId: 'shared-id', clean: false });
      expect(
        await refusal(
          connectAsync(url, {
            clientId: 'shared-id',
            username: stationB.id,
            password: secrets[stationB.id],
            reconnectPeriod: 0,
          }),
        ),
      ).toBe(2);
      expect(a.connected).toBe(true);
      await a.endAsync();
      // A's session outlives its connection: B still may not take it (and A's queued commands).
      expect(
        await refusal(
          connectAsync(url, {
            clientId: 'shared-id',
            username: stationB.id,
            password: secrets[stationB.id],
            reconnectPeriod: 0,
          }),
        ),
      ).toBe(2);
      expect(refusals().clientIdBoundToOtherDevice).toBe(2);
      // A itself resumes it; once A ends it with a clean session, the id is free.
      const again = await device(stationA, { clientId: 'shared-id', clean: true });
      await again.endAsync();
      expect((await device(stationB, { clientId: 'shared-id' })).connected).toBe(true);
    });
  });

  describe('deny by default', () => {
    beforeEach(() => start());

    it("refuses A publishing on B's topic with mosquitto_pub: answered on A's error topic, counted, stored and delivered nowhere", async () => {
      const watcher = await internalClient();
      const seen = messages(watcher);
      await watcher.subscribeAsync([topicOf(stationB, 'telemetry'), 'ioc/v1/#'], { qos: 1 });
      const a = await device(stationA, { clientId: 'a-errors' });
      const answers: DeviceErrorMessage[] = [];
      a.on('message', (_t, p) => answers.push(JSON.parse(p.toString()) as DeviceErrorMessage));
      await a.subscribeAsync(topicOf(stationA, 'error'), { qos: 1 });

      const port = String(broker.port);
      await run('mosquitto_pub', [
        '-h',
        '127.0.0.1',
        '-p',
        port,
        '-u',
        stationA.id,
        '-P',
        secrets[stationA.id]!,
        '-i',
        'a-forger',
        '-q',
        '1',
        '-t',
        topicOf(stationB, 'telemetry'),
        '-m',
        reading(7),
      ]);
      await waitFor(() => answers.length === 1, "the answer on A's error topic");
      expect(answers[0]).toMatchObject({ reason: 'forbidden-topic', topic: topicOf(stationB, 'telemetry') });
      expect(broker.stats().rejected['forbidden-topic']).toBe(1);

      // A's own reading, published after, is stored: once it is, the forged one would be too.
      await run('mosquitto_pub', [
        '-h',
        '127.0.0.1',
        '-p',
        port,
        '-u',
        stationA.id,
        '-P',
        secrets[stationA.id]!,
        '-i',
        'a-honest',
        '-q',
        '1',
        '-t',
        topicOf(stationA, 'telemetry'),
        '-m',
        reading(3),
      ]);
      const stored = async (id: string) => store.latest(id, ['pm25']);
      const deadline = Date.now() + 5000;
      while (!(await stored(stationA.id))['pm25'] && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 10));
      expect((await stored(stationA.id))['pm25']?.value).toBe(3);
      expect(await stored(stationB.id)).toEqual({});
      expect(broker.stats().acceptedTotal).toBe(1);
      // Nothing reached the watcher but the broker's own answer on A's error topic.
      expect(seen.filter((m) => !m.startsWith(`${topicOf(stationA, 'error')} `))).toEqual([]);
    });

    it("refuses a subscription to another device's command topic with 0x80, grants its own", async () => {
      const a = await device(stationA);
      // mqtt.js rejects a subscription the broker negated (SUBACK 0x80).
      const grant = (topic: string): Promise<number> =>
        a.subscribeAsync(topic, { qos: 1 }).then(
          (granted) => granted[0]?.qos ?? -1,
          () => 0x80,
        );
      expect(await grant(topicOf(stationB, 'command'))).toBe(0x80);
      expect(await grant('ioc/v1/#')).toBe(0x80);
      expect(await grant(topicOf(stationA, 'command'))).toBe(1);
      expect(await grant(topicOf(stationA, 'error'))).toBe(1);
      expect(refusals().forbiddenSubscriptions).toBe(2);
    });

    it("does not publish a will on another device's topic", async () => {
      const watcher = await internalClient();
      const seen = messages(watcher);
      await watcher.subscribeAsync('ioc/v1/#', { qos: 1 });
      const payload = JSON.stringify({ ts: Date.now(), metrics: { online: false } });
      const a = await device(stationA, {
        will: { topic: topicOf(stationB, 'status'), payload: Buffer.from(payload), qos: 1, retain: false },
      });
      a.stream.destroy();
      await waitFor(() => broker.stats().rejected['forbidden-topic'] === 1, 'the will refused');
      expect(broker.stats().acceptedTotal).toBe(0);
      // A marker published after the will: once the watcher has it, the will would have arrived.
      await (await internalClient()).publishAsync(topicOf(stationB, 'command'), 'marker', { qos: 1 });
      await waitFor(() => seen.length > 0, 'the marker');
      expect(seen.filter((m) => !m.startsWith(`${topicOf(stationA, 'error')} `))).toEqual([
        `${topicOf(stationB, 'command')} marker`,
      ]);
    });

    it('disconnectDevice closes every live session at once; a revoked credential cannot reconnect', async () => {
      const a1 = await device(stationA, { clientId: 'a-1' });
      const a2 = await device(stationA, { clientId: 'a-2' });
      const b = await device(stationB);
      const closed = Promise.all(
        [a1, a2].map((c) => new Promise<void>((resolve) => c.once('close', () => resolve()))),
      );
      credentials.revoke(stationA.id, credentials.credentialsOf(stationA.id)[0]!.id);
      expect(broker.disconnectDevice(stationA.id, 'credential revoked')).toBe(2);
      await closed;
      expect(b.connected).toBe(true);
      expect(refusals().devicesDisconnected).toBe(2);
      expect(
        await refusal(
          connectAsync(url, { username: stationA.id, password: secrets[stationA.id], reconnectPeriod: 0 }),
        ),
      ).toBe(4);
      expect(broker.disconnectDevice(stationA.id, 'again')).toBe(0);
    });
  });

  describe('sessions follow their credential', () => {
    beforeEach(() => start());

    it('revalidateDevice ends the sessions of a credential no longer valid and keeps the others', async () => {
      const newSecret = 'iocds_the-rotated-in-secret';
      const oldId = credentials.credentialsOf(stationA.id)[0]!.id;
      credentials.add(stationA.id, {
        id: 'rotated-in',
        hash: hashDeviceSecret(TEST_CREDENTIAL_KEY, newSecret),
      });
      const onOld = await device(stationA, { clientId: 'a-old' });
      const onNew = await connect({ username: stationA.id, password: newSecret, clientId: 'a-new' });
      const oldClosed = new Promise<void>((resolve) => onOld.once('close', () => resolve()));
      // Still valid: nothing closes.
      expect(broker.revalidateDevice(stationA.id, 'check')).toBe(0);
      // A rotation with no grace (notAfter now): the old secret's session ends, the new one's goes on.
      credentials.setNotAfter(stationA.id, oldId, Date.now());
      expect(broker.revalidateDevice(stationA.id, 'rotated')).toBe(1);
      await oldClosed;
      expect(onNew.connected).toBe(true);
      expect(refusals().devicesDisconnected).toBe(1);
    });

    it(
      "ends a session by itself once its credential's rotation grace period is over",
      async () => {
        const oldId = credentials.credentialsOf(stationA.id)[0]!.id;
        const session = await device(stationA);
        const closed = new Promise<number>((resolve) => session.once('close', () => resolve(Date.now())));
        const graceEnd = Date.now() + 300;
        credentials.setNotAfter(stationA.id, oldId, graceEnd);
        // The broker's sweep (every CREDENTIAL_SWEEP_MS) finds it; no registry change is needed.
        expect(await closed).toBeGreaterThanOrEqual(graceEnd);
        expect(refusals().devicesDisconnected).toBe(1);
      },
      CREDENTIAL_SWEEP_MS + 10_000,
    );
  });

  describe('sessions per device', () => {
    it('refuses a device a session beyond its maximum with 5, counted; taking over its own client id is not an extra one', async () => {
      await start({ maxSessionsPerDevice: 2 });
      await device(stationA, { clientId: 'a-1' });
      await device(stationA, { clientId: 'a-2' });
      expect(
        await refusal(
          connectAsync(url, {
            clientId: 'a-3',
            username: stationA.id,
            password: secrets[stationA.id],
            reconnectPeriod: 0,
          }),
        ),
      ).toBe(5);
      expect(refusals().authTooManySessions).toBe(1);
      // A reconnect under a held client id replaces that session.
      expect((await device(stationA, { clientId: 'a-2' })).connected).toBe(true);
      // Other devices are not limited by A's sessions.
      expect((await device(stationB)).connected).toBe(true);
    });
  });

  describe('queued commands', () => {
    beforeEach(() => start());

    it('delivers a command queued while a device with a persistent session was away, once it is back', async () => {
      const commandTopic = deviceTopic(stationA.domain, stationA.id, 'command');
      const first = await device(stationA, { clientId: 'a-persistent', clean: false });
      await first.subscribeAsync(commandTopic, { qos: 1 });
      await first.endAsync();
      const service = await internalClient();
      await service.publishAsync(
        commandTopic,
        '{"id":"cmd_queued0001","command":"restart","params":{},"issuedAt":1}',
        {
          qos: 1,
        },
      );
      // The listener is in place before the CONNACK: the queued command follows it at once.
      const back = mqttConnect(url, {
        username: stationA.id,
        password: secrets[stationA.id],
        clientId: 'a-persistent',
        clean: false,
        reconnectPeriod: 0,
      });
      clients.push(back);
      const received = new Promise<string>((resolve) =>
        back.once('message', (_t, payload) => resolve(payload.toString())),
      );
      expect(JSON.parse(await received)).toMatchObject({ id: 'cmd_queued0001' });
      expect(refusals().forwardsBlocked).toBe(0);
    });

    it('does not deliver a queued command whose expiresAt has passed, and counts it', async () => {
      const commandTopic = deviceTopic(stationA.domain, stationA.id, 'command');
      const first = await device(stationA, { clientId: 'a-late', clean: false });
      await first.subscribeAsync(commandTopic, { qos: 1 });
      await first.endAsync();
      const service = await internalClient();
      const now = Date.now();
      const expired = {
        id: 'cmd_expired0001',
        command: 'restart',
        params: {},
        issuedAt: now - 60_000,
        expiresAt: now - 1,
      };
      const fresh = {
        id: 'cmd_fresh000001',
        command: 'restart',
        params: {},
        issuedAt: now,
        expiresAt: now + 60_000,
      };
      await service.publishAsync(commandTopic, JSON.stringify(expired), { qos: 1 });
      await service.publishAsync(commandTopic, JSON.stringify(fresh), { qos: 1 });
      const back = mqttConnect(url, {
        username: stationA.id,
        password: secrets[stationA.id],
        clientId: 'a-late',
        clean: false,
        reconnectPeriod: 0,
      });
      clients.push(back);
      const ids: string[] = [];
      // The fresh one was queued after the expired one: once it arrives, the other was judged.
      await new Promise<void>((resolve) =>
        back.on('message', (_t, payload) => {
          ids.push((JSON.parse(payload.toString()) as { id: string }).id);
          if (ids.includes(fresh.id)) resolve();
        }),
      );
      expect(ids).toEqual([fresh.id]);
      expect(refusals().expiredCommandsDropped).toBe(1);
    });
  });

  describe('failed-login throttle', () => {
    it('refuses even the right secret with 5 once a device id failed too often', async () => {
      await start({
        failedLogins: new MemoryFailedLoginLimiter({
          perDevice: 3,
          perAddress: 100,
          windowSeconds: 60,
          blockSeconds: 60,
        }),
      });
      for (let i = 0; i < 3; i++) {
        expect(
          await refusal(
            connectAsync(url, { username: stationA.id, password: 'iocds_guess', reconnectPeriod: 0 }),
          ),
        ).toBe(4);
      }
      expect(
        await refusal(
          connectAsync(url, { username: stationA.id, password: secrets[stationA.id], reconnectPeriod: 0 }),
        ),
      ).toBe(5);
      expect(refusals()).toMatchObject({ authBadSecret: 3, authThrottled: 1 });
      // Another device from the same address is not affected by A's block.
      expect((await device(stationB)).connected).toBe(true);
    });

    it('refuses every device from an address that failed too often', async () => {
      await start({
        failedLogins: new MemoryFailedLoginLimiter({
          perDevice: 100,
          perAddress: 3,
          windowSeconds: 60,
          blockSeconds: 60,
        }),
      });
      for (const username of ['x-1', 'x-2', 'x-3']) {
        expect(
          await refusal(connectAsync(url, { username, password: 'iocds_guess', reconnectPeriod: 0 })),
        ).toBe(4);
      }
      expect(
        await refusal(
          connectAsync(url, { username: stationB.id, password: secrets[stationB.id], reconnectPeriod: 0 }),
        ),
      ).toBe(5);
      expect(refusals()).toMatchObject({ authUnknownDevice: 3, authThrottled: 1 });
    });

    it('throttles guesses of the internal secret per address too, counted', async () => {
      await start({
        failedLogins: new MemoryFailedLoginLimiter({
          perDevice: 100,
          perAddress: 3,
          windowSeconds: 60,
          blockSeconds: 60,
        }),
      });
      for (let i = 0; i < 3; i++) {
        expect(
          await refusal(
            connectAsync(url, {
              username: INTERNAL_USERNAME,
              password: `guess-${i}-0123456789`,
              reconnectPeriod: 0,
            }),
          ),
        ).toBe(4);
      }
      expect(
        await refusal(
          connectAsync(url, {
            username: INTERNAL_USERNAME,
            password: TEST_INTERNAL_SECRET,
            reconnectPeriod: 0,
          }),
        ),
      ).toBe(5);
      expect(refusals()).toMatchObject({ internalAuthFailed: 3, authThrottled: 1 });
    });
  });

  describe('TLS listener', () => {
    let pki: Awaited<ReturnType<typeof makePki>>;
    beforeAll(async () => {
      pki = await makePki(await dirs.make(), stationA.id);
    });
    beforeEach(() =>
      start({
        tls: { host: '127.0.0.1', port: 0, cert: pki.serverCert, key: pki.serverKey, ca: pki.caCert },
      }),
    );
    const tlsUrl = () => `mqtts://127.0.0.1:${broker.tlsPort}`;

    it('accepts a device by its client certificate (CN = device id) without a password', async () => {
      const a = await connect({ ca: pki.caCert, cert: pki.clientCert, key: pki.clientKey }, tlsUrl());
      await a.publishAsync(topicOf(stationA, 'telemetry'), reading(), { qos: 1 });
      expect(broker.stats().acceptedTotal).toBe(1);
      // Bound to the certificate's device like a password login: B's topic is refused.
      await a.publishAsync(topicOf(stationB, 'telemetry'), reading(), { qos: 1 });
      expect(broker.stats().rejected['forbidden-topic']).toBe(1);
    });

    it('refuses a client certificate from another CA with 4', async () => {
      expect(
        await refusal(
          connectAsync(tlsUrl(), {
            ca: pki.caCert,
            cert: pki.rogueCert,
            key: pki.rogueKey,
            reconnectPeriod: 0,
          }),
        ),
      ).toBe(4);
      expect(refusals().authBadCertificate).toBe(1);
    });

    it('refuses the certificate of a suspended device with 5, and takes a password without a certificate', async () => {
      directory.states.set(stationA.id, 'suspended');
      expect(
        await refusal(
          connectAsync(tlsUrl(), {
            ca: pki.caCert,
            cert: pki.clientCert,
            key: pki.clientKey,
            reconnectPeriod: 0,
          }),
        ),
      ).toBe(5);
      const b = await connect(
        { ca: pki.caCert, username: stationB.id, password: secrets[stationB.id] },
        tlsUrl(),
      );
      expect(b.connected).toBe(true);
    });
  });

  describe('WebSocket listener', () => {
    beforeEach(() => start({ webSocket: { host: '127.0.0.1', port: 0 } }));
    const wsUrl = () => `ws://127.0.0.1:${broker.webSocketPort}${WEBSOCKET_PATH}`;

    it('accepts a device with its credentials over MQTT over WebSocket, and refuses a wrong secret', async () => {
      const a = await connect({ username: stationA.id, password: secrets[stationA.id] }, wsUrl());
      await a.publishAsync(topicOf(stationA, 'telemetry'), reading(), { qos: 1 });
      expect(broker.stats().acceptedTotal).toBe(1);
      expect(
        await refusal(
          connectAsync(wsUrl(), { username: stationA.id, password: 'iocds_wrong', reconnectPeriod: 0 }),
        ),
      ).toBe(4);
    });
  });

  describe('close', () => {
    it('closes live TCP, TLS and WebSocket connections and resolves', async () => {
      const pki = await makePki(await dirs.make(), stationA.id);
      await start({
        tls: { host: '127.0.0.1', port: 0, cert: pki.serverCert, key: pki.serverKey, ca: pki.caCert },
        webSocket: { host: '127.0.0.1', port: 0 },
      });
      const live = await Promise.all([
        device(stationA),
        connect(
          { ca: pki.caCert, cert: pki.clientCert, key: pki.clientKey },
          `mqtts://127.0.0.1:${broker.tlsPort}`,
        ),
        connect(
          { username: stationB.id, password: secrets[stationB.id] },
          `ws://127.0.0.1:${broker.webSocketPort}${WEBSOCKET_PATH}`,
        ),
      ]);
      const closed = Promise.all(
        live.map((c) => new Promise<void>((resolve) => c.once('close', () => resolve()))),
      );
      await broker.close();
      await closed;
      await store.close();
      // Already closed: afterEach's close must be harmless.
      ({ broker, store } = await startTestBroker(await dirs.make(), { auth: { mode: 'off' } }));
    });
  });

  describe('off', () => {
    it('keeps the unauthenticated behaviour: any client publishes as the device its topic names', async () => {
      await start({ auth: { mode: 'off' } satisfies BrokerAuth });
      const anyone = await connect({});
      await anyone.publishAsync(topicOf(stationB, 'telemetry'), reading(), { qos: 1 });
      expect(broker.stats().acceptedTotal).toBe(1);
      expect(broker.disconnectDevice(stationB.id, 'no identities in off mode')).toBe(0);
    });
  });
});

describe('checkDeviceSecret', () => {
  const key = TEST_CREDENTIAL_KEY;
  const entry = (id: string, secret: string, notAfter?: number) => ({
    id,
    hash: hashDeviceSecret(key, secret),
    notAfter,
  });
  const now = 1_800_000_000_000;

  it('matches the current and the in-grace credential, not an expired one, nor an empty password', () => {
    const entries = [entry('old', 's-old', now + 1), entry('new', 's-new'), entry('gone', 's-gone', now)];
    expect(checkDeviceSecret(entries, key, Buffer.from('s-new'), now)).toEqual({
      outcome: 'valid',
      credentialId: 'new',
    });
    expect(checkDeviceSecret(entries, key, Buffer.from('s-old'), now)).toEqual({
      outcome: 'valid',
      credentialId: 'old',
    });
    expect(checkDeviceSecret(entries, key, Buffer.from('s-gone'), now)).toEqual({
      outcome: 'expired',
      credentialId: 'gone',
    });
    expect(checkDeviceSecret(entries, key, Buffer.from('s-other'), now)).toEqual({ outcome: 'invalid' });
    expect(checkDeviceSecret([entry('empty', '')], key, Buffer.alloc(0), now)).toEqual({
      outcome: 'invalid',
    });
    expect(checkDeviceSecret(entries, key, undefined, now)).toEqual({ outcome: 'invalid' });
  });
});

/**
 * A CA, a server certificate for 127.0.0.1 and a client certificate with CN = `deviceId` signed by
 * it, and a client certificate with the same CN from another CA — made with the openssl CLI.
 */
async function makePki(dir: string, deviceId: string) {
  const openssl = (...args: string[]) => run('openssl', args, { cwd: dir });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await openssl(
    'req',
    '-x509',
    ...ec,
    '-keyout',
    'ca.key',
    '-out',
    'ca.crt',
    '-days',
    '1',
    '-subj',
    '/CN=ioc-test-ca',
  );
  await openssl(
    'req',
    '-x509',
    ...ec,
    '-keyout',
    'rogue-ca.key',
    '-out',
    'rogue-ca.crt',
    '-days',
    '1',
    '-subj',
    '/CN=rogue-ca',
  );
  await writeFile(join(dir, 'server.ext'), 'subjectAltName=IP:127.0.0.1\n');
  const issue = async (name: string, cn: string, ca: string, ext?: string) => {
    await openssl('req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`);
    await openssl(
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      `${ca}.crt`,
      '-CAkey',
      `${ca}.key`,
      '-set_serial',
      String(Date.now()),
      '-days',
      '1',
      '-out',
      `${name}.crt`,
      ...(ext ? ['-extfile', ext] : []),
    );
  };
  await issue('server', '127.0.0.1', 'ca', 'server.ext');
  await issue('client', deviceId, 'ca');
  await issue('rogue', deviceId, 'rogue-ca');
  const read = (file: string) => readFile(join(dir, file));
  return {
    caCert: await read('ca.crt'),
    serverCert: await read('server.crt'),
    serverKey: await read('server.key'),
    clientCert: await read('client.crt'),
    clientKey: await read('client.key'),
    rogueCert: await read('rogue.crt'),
    rogueKey: await read('rogue.key'),
  };
}
