import { connectAsync, type IClientOptions, type MqttClient } from 'mqtt';
import {
  COMMAND_ACK_CHANNEL,
  type CommandAckNotice,
  type Device,
  type DeviceErrorMessage,
  deviceTopic,
  INTERNAL_COMMAND_ACKS_TOPIC,
  INTERNAL_USERNAME,
  newCommandId,
} from '@ioc/contracts';
import { InternalBusClient, serviceClientId } from '@ioc/bus';
import { createLogger } from '@ioc/runtime';
import { TempDirs } from '@ioc/testing';
import {
  startTestBroker,
  TEST_INTERNAL_SECRET as SECRET,
  type TestBroker,
  testRegistry as registry,
  waitFor,
} from '../test-support/test-broker';

const lamp = registry.listDevices({ type: 'street-light' })[0] as Device;
const ackTopic = deviceTopic('lighting', lamp.id, COMMAND_ACK_CHANNEL);
const errorTopic = deviceTopic('lighting', lamp.id, 'error');

describe('broker: command acks', () => {
  const dirs = new TempDirs('command-acks-');
  let broker: TestBroker;
  const clients: MqttClient[] = [];
  const client = async (options: IClientOptions = {}): Promise<MqttClient> => {
    const c = await connectAsync(broker.url, { reconnectPeriod: 0, ...options });
    clients.push(c);
    return c;
  };

  beforeEach(async () => {
    broker = await startTestBroker(await dirs.make());
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.endAsync(true)));
    await broker.close();
  });
  afterAll(() => dirs.removeAll());

  /** An internal subscriber to the acks and one on the exact ack topic, each recording what it gets. */
  const watch = async () => {
    const service = await client({ username: INTERNAL_USERNAME, password: SECRET });
    const notices: { topic: string; notice: CommandAckNotice }[] = [];
    service.on('message', (topic, payload) =>
      notices.push({ topic, notice: JSON.parse(payload.toString()) as CommandAckNotice }),
    );
    await service.subscribeAsync(INTERNAL_COMMAND_ACKS_TOPIC, { qos: 1 });
    // A platform service that listens on the device's raw ack topic (and everything else) must
    // never see the device's own packet: only the broker's validated notice goes anywhere.
    const eavesdropper = await client({ username: INTERNAL_USERNAME, password: SECRET });
    const raw: string[] = [];
    // (The broker's own answers on error topics are meant for subscribers; nothing else is.)
    eavesdropper.on('message', (topic) => {
      if (!topic.endsWith('/error')) raw.push(topic);
    });
    await eavesdropper.subscribeAsync([ackTopic, 'ioc/v1/#'], { qos: 1 });
    return { notices, raw };
  };

  it('relays a valid ack once, as a notice, and delivers the device packet to no one', async () => {
    const { notices, raw } = await watch();
    const device = await client({ clientId: `${lamp.id}-test` });
    // A device may not even subscribe to its ack topic (it is not one of its readable channels).
    const suback = await device.subscribeAsync(ackTopic).then(
      () => undefined,
      (error: { packet?: { granted: number[] } }) => error.packet?.granted,
    );
    expect(suback).toEqual([128]);
    const id = newCommandId();
    const before = Date.now();
    await device.publishAsync(
      ackTopic,
      JSON.stringify({ id, outcome: 'done', detail: 'dimmed to 40 %', ts: 1_795_741_200_000 }),
      { qos: 1 },
    );
    await waitFor(() => notices.length === 1, 'the ack notice');
    const { topic, notice } = notices[0]!;
    expect(topic).toBe(INTERNAL_COMMAND_ACKS_TOPIC);
    expect(notice).toEqual({
      deviceId: lamp.id,
      domain: 'lighting',
      commandId: id,
      outcome: 'done',
      detail: 'dimmed to 40 %',
      deviceTs: 1_795_741_200_000,
      receivedAt: expect.any(Number),
    });
    expect(notice.receivedAt).toBeGreaterThanOrEqual(before);
    expect(notice.receivedAt).toBeLessThanOrEqual(Date.now());

    // A second ack after it: by the time its notice arrives the first would have arrived twice.
    const second = newCommandId();
    await device.publishAsync(ackTopic, JSON.stringify({ id: second, outcome: 'rejected' }), { qos: 1 });
    await waitFor(() => notices.length === 2, 'the second notice');
    expect(notices.map((n) => n.notice.commandId)).toEqual([id, second]);
    expect(raw).toEqual([]);
    // Acks are not readings: nothing stored, nothing counted as accepted or refused.
    const stats = broker.broker.stats();
    expect(stats.acceptedTotal).toBe(0);
    expect(stats.rejectedTotal).toBe(0);
    expect(stats.spool.committedRecords).toBe(0);
  });

  it('answers an invalid ack on the error topic, counts it and relays nothing', async () => {
    const { notices, raw } = await watch();
    const device = await client({ clientId: `${lamp.id}-test` });
    const errors: DeviceErrorMessage[] = [];
    device.on('message', (_topic, payload) =>
      errors.push(JSON.parse(payload.toString()) as DeviceErrorMessage),
    );
    await device.subscribeAsync(errorTopic, { qos: 1 });

    const id = newCommandId();
    await device.publishAsync(ackTopic, `{"id":"${id}","outcome":"ok"}`, { qos: 1 });
    await device.publishAsync(ackTopic, '{"id":', { qos: 1 });
    await device.publishAsync(ackTopic, `{"id":"${id}","outcome":"done","extra":true}`, { qos: 1 });
    await waitFor(() => errors.length === 3, 'three error answers');
    expect(errors.map(({ reason, detail, topic }) => ({ reason, detail, topic }))).toEqual([
      {
        reason: 'schema-violation',
        detail: 'outcome must be one of "done", "failed", "rejected"',
        topic: ackTopic,
      },
      { reason: 'malformed-json', detail: expect.stringMatching(/JSON/), topic: ackTopic },
      { reason: 'schema-violation', detail: '(payload): unknown field(s) "extra"', topic: ackTopic },
    ]);
    expect(broker.broker.stats().rejected['schema-violation']).toBe(2);
    expect(broker.broker.stats().rejected['malformed-json']).toBe(1);

    // A valid ack after them goes through: so had the invalid ones been relayed, they would be here.
    await device.publishAsync(ackTopic, JSON.stringify({ id, outcome: 'failed' }), { qos: 1 });
    await waitFor(() => notices.length >= 1, 'the valid ack');
    expect(notices.map((n) => n.notice.outcome)).toEqual(['failed']);
    expect(raw).toEqual([]);
    expect(device.connected).toBe(true);
  });

  it('refuses an ack for a device that is not registered or in another domain', async () => {
    const { notices } = await watch();
    const device = await client();
    const ack = JSON.stringify({ id: newCommandId(), outcome: 'done' });
    await device.publishAsync(deviceTopic('lighting', 'no-such-lamp', COMMAND_ACK_CHANNEL), ack, { qos: 1 });
    await device.publishAsync(deviceTopic('env', lamp.id, COMMAND_ACK_CHANNEL), ack, { qos: 1 });
    await waitFor(() => broker.broker.stats().rejectedTotal === 2, 'both refusals counted');
    expect(broker.broker.stats().rejected['unknown-device']).toBe(1);
    expect(broker.broker.stats().rejected['wrong-domain']).toBe(1);
    await device.publishAsync(ackTopic, ack, { qos: 1 });
    await waitFor(() => notices.length >= 1, 'the valid ack');
    expect(notices.map((n) => n.notice.deviceId)).toEqual([lamp.id]);
  });

  it('lets a service publish a command through the bus client and receive the ack as a typed notice', async () => {
    const notices: CommandAckNotice[] = [];
    const bus = InternalBusClient.connect(
      {
        brokerUrl: broker.url,
        clientId: serviceClientId('commands', 'test'),
        secret: SECRET,
        logger: createLogger('test', { level: 'silent' }),
        reconnectPeriodMs: 0,
      },
      { commandAck: (notice) => notices.push(notice) },
    );
    try {
      await waitFor(() => bus.connected, 'the bus client connected');
      const device = await client({ clientId: `${lamp.id}-test` });
      const commands: string[] = [];
      device.on('message', (_topic, payload) => commands.push(payload.toString()));
      await device.subscribeAsync(deviceTopic('lighting', lamp.id, 'command'), { qos: 1 });

      // Refused before sending: a command the type does not take, params out of range, a bad id.
      const target = { domain: lamp.domain, id: lamp.id, type: lamp.type };
      const base = { id: newCommandId(), issuedAt: Date.now() };
      await expect(bus.publishCommand(target, { ...base, command: 'restart', params: {} })).rejects.toThrow(
        `invalid command for ${lamp.id}: a street-light takes no command "restart"`,
      );
      await expect(
        bus.publishCommand(target, { ...base, command: 'dim', params: { level: 140 } }),
      ).rejects.toThrow('params.level must be at most 100 %');
      await expect(
        bus.publishCommand(target, { ...base, id: 'cmd-1', command: 'dim', params: { level: 40 } }),
      ).rejects.toThrow(RangeError);

      const message = { ...base, command: 'dim', params: { level: 40 }, expiresAt: base.issuedAt + 60_000 };
      await bus.publishCommand(target, message);
      await waitFor(() => commands.length === 1, 'the command at the device');
      expect(JSON.parse(commands[0]!)).toEqual(message);

      await device.publishAsync(ackTopic, JSON.stringify({ id: message.id, outcome: 'done' }), { qos: 1 });
      await waitFor(() => notices.length === 1, 'the notice at the service');
      expect(notices[0]).toMatchObject({ deviceId: lamp.id, commandId: message.id, outcome: 'done' });
      expect(bus.stats().invalid).toEqual({});
      // Only the one valid command reached the device.
      expect(commands).toHaveLength(1);
    } finally {
      await bus.close();
    }
  });
});
