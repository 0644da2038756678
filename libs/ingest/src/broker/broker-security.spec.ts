import { Writable } from 'node:stream';
import { connectAsync, type IClientOptions, type MqttClient } from 'mqtt';
import pino from 'pino';
import {
  type Device,
  INTERNAL_READINGS_TOPIC,
  INTERNAL_REJECTIONS_TOPIC,
  INTERNAL_USERNAME,
  type Reading,
  type RejectionReason,
  deviceTopic,
} from '@ioc/contracts';
import { TempDirs } from '@ioc/testing';
import type { EmbeddedTimeSeriesStore } from '@ioc/timeseries';
import {
  PACKET_TYPE,
  type RawPacket,
  RawMqttConnection,
  ackId,
  publishFrame,
  pubrelFrame,
  remainingLength,
} from '../test-support/raw-mqtt';
import {
  startTestBroker,
  TEST_INTERNAL_SECRET as SECRET,
  testRegistry as registry,
  waitFor,
} from '../test-support/test-broker';
import { type IngestBroker, type IngestBrokerOptions, startIngestBroker } from './ingest-broker';
import { CLIENT_NOTICE_BURST, ERROR_ANSWER_BURST } from './rejection-reporter';

const station = registry.listDevices({ type: 'air-quality-station' })[0] as Device;
const otherStation = registry.listDevices({ type: 'air-quality-station' })[1] as Device;
const cabinet = registry.listDevices({ type: 'lighting-cabinet' })[0] as Device;
const telemetry = deviceTopic('env', station.id, 'telemetry');
const cabinetCommand = deviceTopic('lighting', cabinet.id, 'command');
const validReading = (ts: number, pm25 = 1): string => JSON.stringify({ ts, metrics: { pm25, pm10: 2 } });

describe('broker: nothing refused is ever delivered', () => {
  const dirs = new TempDirs('broker-security-');
  let broker: IngestBroker;
  let store: EmbeddedTimeSeriesStore;
  let url: string;
  let lastOptions: IngestBrokerOptions;
  const clients: MqttClient[] = [];
  const raws: RawMqttConnection[] = [];

  const start = async (overrides: Partial<IngestBrokerOptions> = {}): Promise<void> => {
    ({ broker, store, url, options: lastOptions } = await startTestBroker(await dirs.make(), overrides));
  };
  const client = async (options: IClientOptions = {}): Promise<MqttClient> => {
    const c = await connectAsync(url, { reconnectPeriod: 0, ...options });
    clients.push(c);
    return c;
  };
  const internalClient = (options: IClientOptions = {}): Promise<MqttClient> =>
    client({ username: INTERNAL_USERNAME, password: SECRET, ...options });
  const raw = async (): Promise<RawMqttConnection> => {
    const r = await RawMqttConnection.open(broker.port);
    raws.push(r);
    return r;
  };

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.endAsync(true)));
    await Promise.all(raws.splice(0).map((r) => r.close()));
    await broker.close();
    await store.close();
  });
  afterAll(() => dirs.removeAll());

  /** Records every message a client receives as "topic payload". */
  const recorder = (c: MqttClient): string[] => {
    const seen: string[] = [];
    c.on('message', (topic, payload) => seen.push(`${topic} ${payload.toString()}`));
    return seen;
  };
  /** The broker's rejection answers on `…/error` carry a reason first. */
  const isBrokerAnswer = (message: string): boolean => /\/error \{"reason":/.test(message);

  /**
   * Subscribers that would see a forged or refused message on `topic`: an internal client on
   * `#`, an internal client on the exact topic, and a device (no credentials) on the lighting
   * cabinet's own command topic.
   */
  const watchers = async (topic: string) => {
    const all = await internalClient();
    const exact = await internalClient();
    const device = await client({ clientId: cabinet.id });
    const seen = { all: recorder(all), exact: recorder(exact), device: recorder(device) };
    await all.subscribeAsync('#', { qos: 1 });
    await exact.subscribeAsync(topic, { qos: 1 });
    await device.subscribeAsync(cabinetCommand, { qos: 1 });
    const operator = await internalClient();
    let markers = 0;
    return {
      /**
       * Publishes a marker (as a platform service) on `topic` and on the device's command topic
       * and waits until every watcher has it: whatever was routed before it has arrived by then.
       */
      async sync(): Promise<void> {
        const marker = `marker-${++markers}`;
        await operator.publishAsync(topic, marker, { qos: 1 });
        await operator.publishAsync(cabinetCommand, marker, { qos: 1 });
        await waitFor(
          () =>
            seen.all.includes(`${topic} ${marker}`) &&
            seen.exact.includes(`${topic} ${marker}`) &&
            seen.device.includes(`${cabinetCommand} ${marker}`),
          'the markers',
        );
      },
      /** Everything the watchers got apart from markers and the broker's own answers on error topics. */
      unexpected(): string[] {
        return [...seen.all, ...seen.exact, ...seen.device].filter(
          (m) => !m.includes(' marker-') && !m.includes(' retained-marker') && !isBrokerAnswer(m),
        );
      },
    };
  };

  /** A retained marker on `topic` before the refusal; a new subscriber must get exactly that. */
  const retainMarker = async (topic: string): Promise<void> => {
    const operator = await internalClient();
    await operator.publishAsync(topic, 'retained-marker', { qos: 1, retain: true });
  };
  const retainedOn = async (topic: string): Promise<string> => {
    const late = await internalClient();
    const got = recorder(late);
    await late.subscribeAsync(topic, { qos: 1 });
    await waitFor(() => got.length > 0, `the retained message on ${topic}`);
    return (got[0] ?? '').slice(topic.length + 1);
  };

  describe('refused publishes', () => {
    beforeEach(() => start());

    const now = Date.now();
    const cases: Array<{ name: string; topic: string; payload: string; reason: RejectionReason }> = [
      {
        name: 'a command from a client without credentials',
        topic: cabinetCommand,
        payload: '{"command":"off"}',
        reason: 'invalid-topic',
      },
      {
        name: "a forged message on a device's error topic",
        topic: deviceTopic('lighting', cabinet.id, 'error'),
        payload: '{"forged":"answer"}',
        reason: 'invalid-topic',
      },
      {
        name: 'a topic of another shape',
        topic: `${telemetry}/extra`,
        payload: validReading(now),
        reason: 'invalid-topic',
      },
      { name: 'malformed JSON', topic: telemetry, payload: 'garbage', reason: 'malformed-json' },
      {
        name: 'a schema violation',
        topic: telemetry,
        payload: JSON.stringify({ ts: now, metrics: { pm25: 1, pm10: 2, bogus: 1 } }),
        reason: 'schema-violation',
      },
      {
        name: 'an out-of-range value',
        topic: telemetry,
        payload: validReading(now, -5),
        reason: 'out-of-range',
      },
      {
        name: 'an unknown device',
        topic: deviceTopic('env', 'no-such-device', 'telemetry'),
        payload: validReading(now),
        reason: 'unknown-device',
      },
      {
        name: 'the wrong domain',
        topic: deviceTopic('traffic', station.id, 'telemetry'),
        payload: validReading(now),
        reason: 'wrong-domain',
      },
      {
        name: 'a payload over the limit',
        topic: telemetry,
        payload: JSON.stringify({ ts: now, metrics: { pm25: 1, pm10: 2 }, pad: 'x'.repeat(5000) }),
        reason: 'payload-too-large',
      },
      {
        name: 'a timestamp in the future',
        topic: telemetry,
        payload: validReading(now + 3_600_000),
        reason: 'timestamp-in-future',
      },
      {
        name: 'a timestamp too old',
        topic: telemetry,
        payload: validReading(1000),
        reason: 'timestamp-too-old',
      },
    ];

    it.each(cases)('$name ($reason) reaches no subscriber and is not retained', async (c) => {
      const watch = await watchers(c.topic);
      await retainMarker(c.topic);
      const rogue = await client();
      await rogue.publishAsync(c.topic, c.payload, { qos: 1, retain: true });
      await watch.sync();
      expect(broker.stats().rejected[c.reason]).toBe(1);
      expect(broker.stats().rejectedTotal).toBe(1);
      expect(rogue.connected).toBe(true);
      expect(watch.unexpected()).toEqual([]);
      expect(await retainedOn(c.topic)).toBe('retained-marker');
    });

    it('does not route even an accepted reading raw: it goes out on the readings topic only', async () => {
      const watch = await watchers(telemetry);
      const relay = await internalClient();
      const relayed: Reading[] = [];
      relay.on('message', (_t, p) => relayed.push(...(JSON.parse(p.toString()) as Reading[])));
      await relay.subscribeAsync(INTERNAL_READINGS_TOPIC, { qos: 1 });
      await retainMarker(telemetry);
      const device = await client();
      await device.publishAsync(telemetry, validReading(now), { qos: 1, retain: true });
      await waitFor(() => relayed.length === 1, 'the relayed reading');
      await watch.sync();
      expect(watch.unexpected()).toEqual([]);
      expect(await retainedOn(telemetry)).toBe('retained-marker');
      expect(broker.stats().acceptedTotal).toBe(1);
    });

    it('delivers commands from platform services, and error messages only from the broker itself', async () => {
      const device = await client({ clientId: cabinet.id });
      const got = recorder(device);
      const errorTopic = deviceTopic('lighting', cabinet.id, 'error');
      await device.subscribeAsync([cabinetCommand, errorTopic], { qos: 1 });
      const operator = await internalClient();
      // A platform service may not speak for the broker on the error topic: authorizeForward drops it.
      await operator.publishAsync(errorTopic, '{"reason":"from-a-service"}', { qos: 1 });
      await operator.publishAsync(cabinetCommand, '{"command":"dim"}', { qos: 1 });
      await waitFor(() => got.length > 0, 'the command');
      // The broker's own answer does reach the device.
      await device.publishAsync(deviceTopic('lighting', cabinet.id, 'telemetry'), 'garbage', { qos: 1 });
      await waitFor(() => got.length > 1, 'the error answer');
      expect(got[0]).toBe(`${cabinetCommand} {"command":"dim"}`);
      expect(got[1]).toMatch(new RegExp(`^${errorTopic} \\{"reason":"malformed-json"`));
      expect(got).toHaveLength(2);
      expect(broker.stats().broker.forwardsBlocked).toBe(1);
    });
  });

  describe('wills', () => {
    beforeEach(() => start());

    /** Connects with a will, then drops the TCP connection without DISCONNECT so the will fires. */
    const dieWithWill = async (topic: string, payload: string): Promise<void> => {
      const mortal = await client({ will: { topic, payload, qos: 1, retain: true } });
      const gone = new Promise<void>((resolve) => mortal.once('close', () => resolve()));
      mortal.stream.destroy();
      await gone;
    };

    const refusedWills: Array<{ name: string; topic: string; payload: string; reason: RejectionReason }> = [
      {
        name: 'a will on a command topic',
        topic: cabinetCommand,
        payload: '{"command":"off"}',
        reason: 'invalid-topic',
      },
      {
        name: 'a will with an invalid payload',
        topic: deviceTopic('env', station.id, 'status'),
        payload: '{"metrics":{"online":"maybe"}}',
        reason: 'schema-violation',
      },
      {
        name: "a will on another device's error topic",
        topic: deviceTopic('env', otherStation.id, 'error'),
        payload: '{"forged":"answer"}',
        reason: 'invalid-topic',
      },
    ];

    it.each(refusedWills)('$name is published to no one and retained nowhere', async (c) => {
      const watch = await watchers(c.topic);
      await retainMarker(c.topic);
      await dieWithWill(c.topic, c.payload);
      await waitFor(() => broker.stats().rejected[c.reason] === 1, `the will refused as ${c.reason}`);
      await watch.sync();
      expect(watch.unexpected()).toEqual([]);
      expect(await retainedOn(c.topic)).toBe('retained-marker');
    });

    it('stores a valid will (the offline status) without routing it raw', async () => {
      const status = deviceTopic('env', station.id, 'status');
      const watch = await watchers(status);
      await retainMarker(status);
      await dieWithWill(status, JSON.stringify({ ts: Date.now(), metrics: { online: false } }));
      await waitFor(() => broker.stats().storage.written === 1, 'the will stored');
      await watch.sync();
      expect(watch.unexpected()).toEqual([]);
      expect(await retainedOn(status)).toBe('retained-marker');
      expect(broker.stats().accepted.env).toBe(1);
    });
  });

  describe('spool full', () => {
    // A spool of 2 KB the writer does not drain during the test (one write per 10 minutes).
    beforeEach(() => start({ spoolMaxBytes: 2000, writeBatchDelayMs: 600_000, writeBatchSize: 100_000 }));

    it('refuses the reading the spool cannot take and routes it nowhere', async () => {
      const watch = await watchers(telemetry);
      await retainMarker(telemetry);
      const device = await client();
      const closed = new Promise<'closed'>((resolve) => device.once('close', () => resolve('closed')));
      const base = Date.now() - 60_000;
      let acked = 0;
      // One at a time until the broker refuses one (no PUBACK) and closes the connection; MQTT.js
      // keeps an unacknowledged QoS 1 message for resending, so its promise does not settle then.
      for (let i = 0; i < 100; i++) {
        const outcome = await Promise.race([
          device
            .publishAsync(telemetry, validReading(base + i), { qos: 1, retain: true })
            .then(() => 'acked' as const),
          closed,
        ]);
        if (outcome !== 'acked') break;
        acked += 1;
      }
      expect(broker.stats().rejected['spool-full']).toBe(1);
      expect(broker.stats().acceptedTotal).toBe(acked);
      expect(acked).toBeGreaterThan(0);
      await watch.sync();
      expect(watch.unexpected()).toEqual([]);
      expect(await retainedOn(telemetry)).toBe('retained-marker');
    });
  });

  describe('client ids', () => {
    beforeEach(() => start());

    it("refuses a reserved client id without the internal login, and keeps the service's session", async () => {
      const api = await internalClient({ clientId: 'ioc-api-1', clean: false });
      const apiGot = recorder(api);
      await api.subscribeAsync('$internal/test/ping', { qos: 1 });
      await expect(client({ clientId: 'ioc-api-1', clean: false })).rejects.toMatchObject({ code: 2 });
      await expect(client({ clientId: 'ioc-api-1', clean: true })).rejects.toMatchObject({ code: 2 });
      expect(broker.stats().broker.reservedClientIdRefused).toBe(2);
      // The service is still connected and still receives.
      const other = await internalClient();
      await other.publishAsync('$internal/test/ping', 'still here', { qos: 1 });
      await waitFor(() => apiGot.length === 1, 'the service receiving');
      expect(api.connected).toBe(true);
      expect(broker.stats().broker.clientIdTakeovers).toBe(0);
    });

    it('refuses an empty client id with clean=false with CONNACK 2 [MQTT-3.1.3-8]', async () => {
      const persistent = await raw();
      expect(await persistent.connect({ clientId: '', clean: false })).toBe(2);
      await persistent.closed;
      const clean = await raw();
      expect(await clean.connect({ clientId: '', clean: true })).toBe(0);
      expect(broker.stats().broker.emptyClientIdRefused).toBe(1);
    });

    it('logs a takeover of a client id with both parties, and counts it', async () => {
      // A broker of its own whose warnings are kept (JSON lines, as in production).
      await broker.close();
      const lines: Array<Record<string, unknown>> = [];
      const sink = new Writable({
        write(chunk: Buffer, _encoding, done) {
          lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
          done();
        },
      });
      broker = await startIngestBroker({ ...lastOptions, logger: pino({ level: 'warn' }, sink) });
      url = `mqtt://127.0.0.1:${broker.port}`;

      const first = await client({ clientId: 'takeover-test', username: 'first-user' });
      const firstClosed = new Promise<void>((resolve) => first.once('close', () => resolve()));
      await client({ clientId: 'takeover-test', username: 'second-user' });
      await firstClosed;
      expect(broker.stats().broker.clientIdTakeovers).toBe(1);
      const takeover = lines.find((l) => String(l['msg']).startsWith('client id already connected'));
      expect(takeover).toMatchObject({
        clientId: 'takeover-test',
        previous: { clientId: 'takeover-test', remoteAddress: '127.0.0.1', username: 'first-user' },
        newcomer: { clientId: 'takeover-test', remoteAddress: '127.0.0.1', username: 'second-user' },
      });
    });
  });

  describe('subscriptions', () => {
    beforeEach(() => start());

    it("refuse a device's error or command topic in another domain, or of an id the registry does not know", async () => {
      const device = await client();
      // mqtt.js rejects a subscription the broker negated (SUBACK 0x80).
      const grant = (topic: string): Promise<number> =>
        device.subscribeAsync(topic, { qos: 1 }).then(
          (granted) => granted[0]?.qos ?? -1,
          () => 0x80,
        );
      expect(await grant(deviceTopic('env', station.id, 'error'))).toBe(1);
      expect(await grant(deviceTopic('env', station.id, 'command'))).toBe(1);
      expect(await grant(deviceTopic('traffic', station.id, 'error'))).toBe(0x80);
      expect(await grant(deviceTopic('env', 'zz-999', 'error'))).toBe(0x80);
      expect(await grant(deviceTopic('lighting', 'zz-999', 'command'))).toBe(0x80);
      expect(device.connected).toBe(true);
    });
  });

  describe('packet size', () => {
    beforeEach(() => start());

    it('closes the connection as soon as a fixed header announces more than the limit', async () => {
      const conn = await raw();
      expect(await conn.connect({ clientId: 'oversized', clean: true })).toBe(0);
      // A PUBLISH header announcing 64 MiB, and no body at all: the broker must not wait for it.
      conn.send(Buffer.concat([Buffer.from([0x30]), remainingLength(64 * 1024 * 1024)]));
      await conn.closed;
      expect(broker.stats().broker.oversizedPacketsClosed).toBe(1);
    });

    it('closes a connection whose CONNECT announces more than the limit', async () => {
      const conn = await raw();
      conn.send(Buffer.concat([Buffer.from([0x10]), remainingLength(8193)]));
      await conn.closed;
      expect(broker.stats().broker.oversizedPacketsClosed).toBe(1);
    });

    it('reads a packet within the limit (its payload is then judged by the payload limit)', async () => {
      const conn = await raw();
      expect(await conn.connect({ clientId: 'large-but-allowed', clean: true })).toBe(0);
      const payload = 'x'.repeat(8000); // 8000 + topic + 4 bytes ≤ 8192, but > 4096 of payload
      conn.send(publishFrame({ topic: telemetry, payload, qos: 1, messageId: 3 }));
      await conn.next((p) => p.type === PACKET_TYPE.PUBACK, 'PUBACK');
      expect(conn.isOpen).toBe(true);
      expect(broker.stats().rejected['payload-too-large']).toBe(1);
      expect(broker.stats().broker.oversizedPacketsClosed).toBe(0);
    });

    describe('left half-sent', () => {
      beforeEach(async () => {
        await broker.close();
        await store.close();
        await start({ packetBodyTimeoutMs: 300 });
      });

      it('closes a connection whose packet stays unfinished, although keep-alive is off', async () => {
        const conn = await raw();
        expect(await conn.connect({ clientId: 'half-sent', clean: true })).toBe(0); // keepalive 0
        // A PUBLISH announcing 1 000 bytes, of which 10 arrive.
        conn.send(Buffer.concat([Buffer.from([0x32]), remainingLength(1000), Buffer.alloc(10, 0x61)]));
        await conn.closed;
        expect(broker.stats().broker.stalledPacketsClosed).toBe(1);
      });

      it('keeps a connection whose packet arrives in pieces within the time', async () => {
        const conn = await raw();
        expect(await conn.connect({ clientId: 'in-pieces', clean: true })).toBe(0);
        const frame = publishFrame({
          topic: telemetry,
          payload: validReading(Date.now() - 1000),
          qos: 1,
          messageId: 9,
        });
        conn.send(frame.subarray(0, 20));
        // Not waiting for an event: the pause between the pieces is the slow link under test.
        const slowLinkMs = 100; // well within the 300 ms
        await new Promise((r) => setTimeout(r, slowLinkMs));
        conn.send(frame.subarray(20));
        await conn.next((p) => p.type === PACKET_TYPE.PUBACK, 'PUBACK');
        expect(conn.isOpen).toBe(true);
        expect(broker.stats().broker.stalledPacketsClosed).toBe(0);
      });
      it('keeps a busy connection whose every read ends inside a packet, for longer than the time', async () => {
        const conn = await raw();
        expect(await conn.connect({ clientId: 'straddling', clean: true })).toBe(0);
        const base = Date.now() - 60_000;
        const frame = (i: number): Buffer =>
          publishFrame({ topic: telemetry, payload: validReading(base + i), qos: 1, messageId: 20 + i });
        // Each round sends the second half of packet i and the first half of packet i + 1, then
        // awaits packet i's PUBACK: every read ends inside a packet and every read makes progress.
        // Rounds go on for over three times the 300 ms limit (a packet is unfinished all along).
        let current = frame(0);
        conn.send(current.subarray(0, current.length >> 1));
        const startedAt = Date.now();
        let i = 0;
        while (Date.now() - startedAt < 1_000) {
          const next = frame(i + 1);
          conn.send(
            Buffer.concat([current.subarray(current.length >> 1), next.subarray(0, next.length >> 1)]),
          );
          await conn.next(
            (p) => p.type === PACKET_TYPE.PUBACK && p.body.readUInt16BE(0) === 20 + i,
            `PUBACK ${20 + i}`,
          );
          current = next;
          i += 1;
        }
        expect(i).toBeGreaterThan(1);
        expect(conn.isOpen).toBe(true);
        expect(broker.stats().broker.stalledPacketsClosed).toBe(0);
      });
    });

    it('refuses to start with a packet limit not above the payload limit', async () => {
      await expect(startIngestBroker({ ...lastOptions, maxPacketBytes: 4096 })).rejects.toThrow(
        /IOC_MQTT_MAX_PACKET_BYTES \(4096\) must be larger than IOC_MAX_PAYLOAD_BYTES \(4096\)/,
      );
    });
  });

  describe('error answers', () => {
    beforeEach(() => start());

    it('are throttled per device, and what is suppressed is counted', async () => {
      const device = await client();
      const answers = recorder(device);
      await device.subscribeAsync(deviceTopic('env', station.id, 'error'), { qos: 0 });
      const other = await client();
      const otherAnswers = recorder(other);
      await other.subscribeAsync(deviceTopic('env', otherStation.id, 'error'), { qos: 0 });
      const sent = 100;
      await Promise.all(
        Array.from({ length: sent }, () => device.publishAsync(telemetry, 'garbage', { qos: 1 })),
      );
      await waitFor(
        () => answers.length + broker.stats().broker.errorAnswersSuppressed === sent,
        'every rejection answered or counted as suppressed',
      );
      expect(broker.stats().rejected['malformed-json']).toBe(sent);
      expect(answers.length).toBeGreaterThanOrEqual(ERROR_ANSWER_BURST);
      expect(broker.stats().broker.errorAnswersSuppressed).toBeGreaterThan(0);
      // The budget is per device: another device still gets its answer.
      await other.publishAsync(deviceTopic('env', otherStation.id, 'telemetry'), 'garbage', { qos: 1 });
      await waitFor(() => otherAnswers.length === 1, "the other device's answer");
    });

    it('relay one message refused in many parts to operators a few times, and count every part', async () => {
      const operators = await internalClient();
      const notices = recorder(operators);
      await operators.subscribeAsync(INTERNAL_REJECTIONS_TOPIC, { qos: 0 });
      const device = await client();
      const ts = Math.floor((Date.now() - 60_000) / 1000);
      // A SenML pack of 200 records of one metric at one time: 199 of them are duplicates.
      const pack = [{ bt: ts, n: 'pm25', v: 1 }, ...Array.from({ length: 199 }, () => ({ n: 'pm25', v: 2 }))];
      await device.publishAsync(telemetry, JSON.stringify(pack), { qos: 1 });
      await waitFor(() => broker.stats().rejected['duplicate-key'] === 199, 'every refused part counted');
      await waitFor(
        () => notices.length + broker.stats().broker.rejectionNoticesSuppressed === 199,
        'every part relayed or counted as suppressed',
      );
      expect(notices.length).toBeLessThanOrEqual(2 * ERROR_ANSWER_BURST); // a window boundary may fall between
      expect(broker.stats().broker.rejectionNoticesSuppressed).toBeGreaterThanOrEqual(
        199 - 2 * ERROR_ANSWER_BURST,
      );
    });

    it('are throttled per publishing client too: one client naming many device ids gets a few answers', async () => {
      const watcher = await internalClient();
      const answers = recorder(watcher);
      await watcher.subscribeAsync('ioc/v1/env/+/error', { qos: 0 });
      const device = await client();
      const sent = 100;
      await Promise.all(
        Array.from({ length: sent }, (_, i) =>
          device.publishAsync(`ioc/v1/env/made-up-${i}/telemetry`, validReading(Date.now() - 1000), {
            qos: 1,
          }),
        ),
      );
      await waitFor(
        () => answers.length + broker.stats().broker.errorAnswersSuppressed === sent,
        'every rejection answered or counted as suppressed',
      );
      expect(broker.stats().rejected['unknown-device']).toBe(sent);
      expect(answers.length).toBeLessThanOrEqual(2 * CLIENT_NOTICE_BURST);
    });
  });

  describe('QoS 2', () => {
    beforeEach(() => start());

    it('processes a repeated PUBLISH (DUP=1, same packet id, before PUBREL) once', async () => {
      const relay = await internalClient();
      const relayed: Reading[] = [];
      relay.on('message', (_t, p) => relayed.push(...(JSON.parse(p.toString()) as Reading[])));
      await relay.subscribeAsync(INTERNAL_READINGS_TOPIC, { qos: 1 });

      const conn = await raw();
      expect(await conn.connect({ clientId: 'qos2-device', clean: false })).toBe(0);
      const ts = Date.now() - 10_000;
      const first = { topic: telemetry, payload: validReading(ts), qos: 2 as const, messageId: 7 };
      const pubrec = (p: RawPacket): boolean => p.type === PACKET_TYPE.PUBREC && ackId(p) === 7;
      // A copy in the same TCP segment as the original (still being spooled), then one after its PUBREC.
      conn.send(Buffer.concat([publishFrame(first), publishFrame({ ...first, dup: true })]));
      await conn.count(pubrec, 2, 'two PUBRECs');
      conn.send(publishFrame({ ...first, dup: true }));
      await conn.count(pubrec, 3, 'the third PUBREC');
      conn.send(pubrelFrame(7));
      await conn.next((p) => p.type === PACKET_TYPE.PUBCOMP && ackId(p) === 7, 'PUBCOMP');
      // After PUBCOMP the packet id is free: a new message with it is a new reading.
      conn.send(publishFrame({ ...first, payload: validReading(ts + 1) }));
      await conn.count(pubrec, 4, 'the new message PUBREC');
      conn.send(pubrelFrame(7));

      await waitFor(() => relayed.length >= 2, 'both readings relayed');
      await waitFor(() => broker.stats().storage.written === 2, 'both readings stored');
      expect(relayed.map((r) => r.ts)).toEqual([ts, ts + 1]);
      expect(broker.stats().acceptedTotal).toBe(2);
      expect(broker.stats().broker.qos2DuplicatesSuppressed).toBe(2);
      expect(conn.isOpen).toBe(true);
    });
  });
});
