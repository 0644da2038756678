import { connect, type MqttClient } from 'mqtt';
import {
  type Device,
  DEVICE_TYPES,
  deviceTopic,
  DOMAINS,
  isReadingChannel,
  parseDeviceTopic,
  parsePayload,
} from '@ioc/contracts';
import { loadSeeds } from '@ioc/registry';
import { selectDevices } from './device-selection';
import { OFFLINE_STATUS, Simulator } from './simulator';
import {
  mosquittoAvailable,
  MOSQUITTO_BIN,
  type RunningMosquitto,
  startMosquitto,
} from './test-support/mosquitto';

interface Received {
  topic: string;
  payload: string;
  retain: boolean;
  at: number;
}

async function subscriber(url: string, topic: string): Promise<{ client: MqttClient; messages: Received[] }> {
  const client = connect(url, {
    clientId: `test-sub-${Math.random().toString(16).slice(2)}`,
    reconnectPeriod: 0,
  });
  const messages: Received[] = [];
  client.on('message', (t, payload, packet) =>
    messages.push({ topic: t, payload: payload.toString(), retain: packet.retain, at: Date.now() }),
  );
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => resolve());
    client.once('error', reject);
  });
  await client.subscribeAsync(topic, { qos: 1 });
  return { client, messages };
}

async function eventually(check: () => boolean, timeoutMs = 3000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const devicesById = (devices: readonly Device[]) => new Map(devices.map((d) => [d.id, d]));

/** Validates every telemetry/event message against the contracts; returns the problems. */
function invalidMessages(messages: readonly Received[], devices: readonly Device[]): string[] {
  const byId = devicesById(devices);
  const problems: string[] = [];
  for (const message of messages) {
    const parsed = parseDeviceTopic(message.topic);
    if (!parsed.ok) {
      problems.push(`${message.topic}: ${parsed.detail}`);
      continue;
    }
    const device = byId.get(parsed.topic.deviceId);
    if (!device || device.domain !== parsed.topic.domain || !isReadingChannel(parsed.topic.channel)) {
      problems.push(`${message.topic}: not a simulated device`);
      continue;
    }
    const result = parsePayload(device.type, parsed.topic.channel, message.payload, { now: Date.now() });
    if (!result.ok) problems.push(`${message.topic} ${message.payload}: ${result.reason} ${result.detail}`);
  }
  return problems;
}

const haveBroker = mosquittoAvailable();
if (!haveBroker) {
  if (process.env['CI'] === 'true') {
    test('mosquitto is installed (required on CI)', () => {
      throw new Error(`mosquitto not found at ${MOSQUITTO_BIN}; install Debian's mosquitto package`);
    });
  } else {
    console.warn(
      `Skipping Simulator integration tests: mosquitto not found at ${MOSQUITTO_BIN} (apt install mosquitto).`,
    );
  }
}
const describeWithBroker = haveBroker ? describe : describe.skip;

describeWithBroker('Simulator against a real mosquitto broker', () => {
  jest.setTimeout(30_000);
  const seeds = loadSeeds();
  let broker: RunningMosquitto;

  beforeAll(async () => {
    broker = await startMosquitto();
  });
  afterAll(async () => {
    await broker?.stop();
  });

  describe('per-device mode, QoS 1', () => {
    // Two devices of every type, spread across the domains as the CLI picks them.
    const devices = DEVICE_TYPES.flatMap((type) => seeds.devices.filter((d) => d.type === type).slice(0, 2));
    const rate = 60;
    const durationMs = 3000;
    let simulator: Simulator;
    let live: { client: MqttClient; messages: Received[] };
    let startedAt: number;

    beforeAll(async () => {
      live = await subscriber(broker.url, 'ioc/v1/#');
      simulator = new Simulator({
        brokerUrl: broker.url,
        devices,
        fleet: seeds.devices,
        ratePerSecond: rate,
        durationMs,
        qos: 1,
        clientMode: 'per-device',
        connectConcurrency: 8,
      });
      startedAt = Date.now();
      await simulator.start();
    });
    afterAll(async () => {
      await simulator?.stop();
      await live?.client.endAsync();
    });

    it('holds one connection per device and announces each online, retained', async () => {
      expect(simulator.stats()).toMatchObject({ connected: devices.length, connections: devices.length });
      const late = await subscriber(broker.url, 'ioc/v1/+/+/status');
      try {
        await eventually(() => late.messages.length >= devices.length, 3000, 'retained statuses');
        const byTopic = new Map(late.messages.map((m) => [m.topic, m]));
        for (const device of devices) {
          const status = byTopic.get(deviceTopic(device.domain, device.id, 'status'));
          expect(status?.retain).toBe(true);
          expect(JSON.parse(status?.payload ?? '{}')).toMatchObject({ metrics: { online: true } });
        }
      } finally {
        await late.client.endAsync();
      }
    });

    it('counts messages received on the devices’ error topics, by reason', async () => {
      const seen: string[] = [];
      simulator.on('deviceError', (event) => seen.push(`${event.deviceId}:${event.reason}`));
      const reply = (device: Device, reason: string) =>
        live.client.publishAsync(
          deviceTopic(device.domain, device.id, 'error'),
          JSON.stringify({
            reason,
            detail: 'test',
            topic: deviceTopic(device.domain, device.id, 'telemetry'),
            at: new Date().toISOString(),
          }),
          { qos: 1 },
        );
      await reply(devices[0]!, 'out-of-range');
      await reply(devices[5]!, 'out-of-range');
      await reply(devices[9]!, 'schema-violation');
      await eventually(() => simulator.stats().errorsReceived === 3, 3000, 'three rejections');
      expect(simulator.stats().rejectionsByReason).toEqual({ 'out-of-range': 2, 'schema-violation': 1 });
      expect(seen.sort()).toEqual(
        [
          `${devices[0]!.id}:out-of-range`,
          `${devices[5]!.id}:out-of-range`,
          `${devices[9]!.id}:schema-violation`,
        ].sort(),
      );
    });

    it('publishes valid telemetry and events at the configured rate, evenly across devices, until the duration ends', async () => {
      const final = await simulator.finished;
      const elapsed = Date.now() - startedAt;
      expect(elapsed).toBeGreaterThanOrEqual(durationMs);
      const dataMessages = () => live.messages.filter((m) => /\/(telemetry|event)$/.test(m.topic));
      await eventually(() => dataMessages().length >= final.published, 2000, 'all messages');
      const received = dataMessages();
      // QoS 1 end to end on loopback: everything published arrived, everything was acknowledged.
      expect(received).toHaveLength(final.published);
      expect(final.acked).toBe(final.published);
      expect(final.skipped).toBe(0);
      const expected = (rate * durationMs) / 1000;
      expect(Math.abs(final.published - expected)).toBeLessThan(0.1 * expected);
      expect(invalidMessages(received, devices)).toEqual([]);

      const perDevice = new Map<string, number[]>();
      for (const message of received) {
        const body = JSON.parse(message.payload) as { seq: number; ts: number };
        const id = message.topic.split('/')[3]!;
        perDevice.set(id, [...(perDevice.get(id) ?? []), body.seq]);
        expect(body.ts).toBeGreaterThanOrEqual(startedAt);
        expect(body.ts).toBeLessThanOrEqual(startedAt + elapsed);
      }
      const counts = devices.map((d) => perDevice.get(d.id)?.length ?? 0);
      expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(1);
      for (const seqs of perDevice.values()) expect(seqs).toEqual(seqs.map((_, i) => seqs[0]! + i));
      expect(new Set(received.map((m) => m.topic.split('/')[2]))).toEqual(new Set(DOMAINS));

      // Evenly paced: each half-second holds about rate/2 messages, never a burst.
      const tss = received.map((m) => (JSON.parse(m.payload) as { ts: number }).ts);
      const first = Math.min(...tss);
      for (let window = 0; window < 5; window += 1) {
        const inWindow = tss.filter(
          (ts) => ts >= first + window * 500 && ts < first + (window + 1) * 500,
        ).length;
        expect(Math.abs(inWindow - rate / 2)).toBeLessThanOrEqual(0.3 * (rate / 2));
      }
    });

    it('leaves a retained offline status for every device after a graceful stop', async () => {
      const late = await subscriber(broker.url, 'ioc/v1/+/+/status');
      try {
        await eventually(() => late.messages.length >= devices.length, 3000, 'retained statuses');
        for (const message of late.messages) {
          expect(message.retain).toBe(true);
          expect(JSON.parse(message.payload)).toMatchObject({ metrics: { online: false } });
        }
      } finally {
        await late.client.endAsync();
      }
    });
  });

  describe('scenarios', () => {
    const devices = selectDevices(seeds.devices, 8);
    let simulator: Simulator;
    let live: { client: MqttClient; messages: Received[] };

    beforeAll(async () => {
      live = await subscriber(broker.url, 'ioc/v1/#');
      simulator = new Simulator({ brokerUrl: broker.url, devices, fleet: seeds.devices, ratePerSecond: 20 });
      await simulator.start();
    });
    afterAll(async () => {
      await simulator?.stop();
      await live?.client.endAsync();
    });

    it('a crashed device’s LWT is published and retained by the broker', async () => {
      const victim = devices[2]!;
      const statusTopic = deviceTopic(victim.domain, victim.id, 'status');
      const before = live.messages.length;
      await simulator.simulateCrash(victim.id);
      await eventually(
        () =>
          live.messages.slice(before).some((m) => m.topic === statusTopic && m.payload === OFFLINE_STATUS),
        5000,
        'the LWT',
      );
      const late = await subscriber(broker.url, statusTopic);
      try {
        await eventually(() => late.messages.length > 0, 3000, 'the retained LWT');
        expect(late.messages[0]).toMatchObject({ retain: true, payload: OFFLINE_STATUS });
      } finally {
        await late.client.endAsync();
      }
      expect(simulator.stats().connected).toBe(devices.length - 1);
      // The crashed device stays silent while the others carry on.
      const silentFrom = live.messages.length;
      await new Promise((resolve) => setTimeout(resolve, 800));
      const after = live.messages.slice(silentFrom);
      expect(after.some((m) => m.topic.includes(`/${victim.id}/`))).toBe(false);
      expect(after.length).toBeGreaterThan(5);
    });

    it('injects a fault as a raw message on the device’s topic', async () => {
      const device = devices[0]!;
      const fault = await simulator.injectFault(device.id, 'out-of-range');
      await eventually(() => live.messages.some((m) => m.payload === fault.payload), 3000, 'the fault');
      const result = parsePayload(device.type, 'telemetry', fault.payload, { now: Date.now() });
      expect(result.rejections[0]?.reason ?? 'accepted').toBe('out-of-range');
      expect(simulator.stats().rawPublished).toBe(1);
    });

    it('overrides metrics for a demo scenario', async () => {
      const station = devices.find((d) => d.type === 'air-quality-station')!;
      simulator.overrideMetrics(station.id, { pm25: 321 });
      const topic = deviceTopic(station.domain, station.id, 'telemetry');
      const from = live.messages.length;
      await eventually(
        () => live.messages.slice(from).some((m) => m.topic === topic),
        3000,
        'overridden telemetry',
      );
      const message = live.messages.slice(from).find((m) => m.topic === topic)!;
      expect((JSON.parse(message.payload) as { metrics: { pm25: number } }).metrics.pm25).toBe(321);
    });
  });

  describe('shared mode, QoS 0', () => {
    it('publishes for many devices over a few connections at the configured rate', async () => {
      const devices = selectDevices(seeds.devices, 120);
      const live = await subscriber(broker.url, 'ioc/v1/#');
      const rate = 300;
      const durationMs = 2000;
      const simulator = new Simulator({
        brokerUrl: broker.url,
        devices,
        fleet: seeds.devices,
        ratePerSecond: rate,
        durationMs,
        qos: 0,
        clientMode: 'shared',
        sharedConnections: 3,
      });
      try {
        await simulator.start();
        expect(simulator.stats()).toMatchObject({ connected: 3, connections: 3, devices: 120 });
        const final = await simulator.finished;
        // Retained statuses left by the tests above arrive on subscribing; only live traffic counts.
        const current = () => live.messages.filter((m) => !m.retain);
        await eventually(() => current().length >= final.published, 2000, 'delivery').catch(() => undefined);
        const received = current();
        const expected = (rate * durationMs) / 1000;
        expect(Math.abs(final.published - expected)).toBeLessThan(0.1 * expected);
        expect(final.acked).toBe(final.published);
        // QoS 0 may lose messages in principle; on loopback nearly all must arrive.
        expect(received.length).toBeGreaterThanOrEqual(0.98 * final.published);
        expect(received.length).toBeLessThanOrEqual(final.published);
        expect(invalidMessages(received, devices)).toEqual([]);
        // Shared connections have no per-device LWT or status.
        expect(received.some((m) => m.topic.endsWith('/status'))).toBe(false);
        expect(new Set(received.map((m) => m.topic.split('/')[3])).size).toBe(devices.length);
      } finally {
        await simulator.stop();
        await live.client.endAsync();
      }
    });
  });

  it('fails to start, naming the client, when the broker is unreachable', async () => {
    const simulator = new Simulator({
      brokerUrl: 'mqtt://127.0.0.1:1', // nothing listens on port 1
      devices: seeds.devices.slice(0, 2),
      ratePerSecond: 1,
      connectTimeoutMs: 2000,
    });
    simulator.on('connectionError', () => undefined);
    await expect(simulator.start()).rejects.toThrow(
      new RegExp(seeds.devices[0]!.id + '|' + seeds.devices[1]!.id),
    );
    expect((await simulator.finished).connected).toBe(0);
  });
});
