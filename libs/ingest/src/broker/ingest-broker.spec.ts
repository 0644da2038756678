import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectAsync, type MqttClient } from 'mqtt';
import { type Device, INTERNAL_READINGS_TOPIC, type Reading, deviceTopic } from '@ioc/contracts';
import type { EmbeddedTimeSeriesStore } from '@ioc/timeseries';
import { INTERNAL_USERNAME } from '@ioc/contracts';
import {
  startTestBroker,
  TEST_INTERNAL_SECRET as SECRET,
  testRegistry as registry,
  waitFor,
} from '../test-support/test-broker';
import type { IngestBroker } from './ingest-broker';

const station = registry.listDevices({ type: 'air-quality-station' })[0] as Device;

describe('ingest broker over TCP', () => {
  let broker: IngestBroker;
  let store: EmbeddedTimeSeriesStore;
  let dataDir: string;
  const stored = async (deviceId: string, metric: string) =>
    store.history({ deviceId, metric, from: 0, to: Date.now() + 60_000 });
  let url: string;
  const clients: MqttClient[] = [];
  const client = async (options: Parameters<typeof connectAsync>[1] = {}): Promise<MqttClient> => {
    const c = await connectAsync(url, { reconnectPeriod: 0, ...options });
    clients.push(c);
    return c;
  };

  beforeEach(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'ingest-broker-'));
    ({ broker, store, url } = await startTestBroker(dataDir));
  });

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.endAsync(true)));
    await broker?.close();
    await store?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('hands valid readings to the writer and relays them to internal subscribers in batches', async () => {
    const internal = await client({ username: INTERNAL_USERNAME, password: SECRET });
    const relayed: Reading[] = [];
    internal.on('message', (_t, payload) => relayed.push(...(JSON.parse(payload.toString()) as Reading[])));
    await internal.subscribeAsync(INTERNAL_READINGS_TOPIC, { qos: 1 });
    const device = await client();
    const ts = Date.now() - 10_000;
    for (let i = 0; i < 5; i++) {
      await device.publishAsync(
        deviceTopic('env', station.id, 'telemetry'),
        JSON.stringify({ ts: ts + i, seq: i, metrics: { pm25: i, pm10: i } }),
        { qos: 1 },
      );
    }
    // Acknowledged means spooled: flushed to the store shortly after, in order.
    await waitFor(() => broker.stats().storage.written === 5, 'five stored readings');
    expect((await stored(station.id, 'pm25')).map((p) => p.value)).toEqual([0, 1, 2, 3, 4]);
    await waitFor(() => relayed.length === 5, 'five relayed readings');
    expect(relayed.map((r) => r.ts)).toEqual([0, 1, 2, 3, 4].map((i) => ts + i));
  });

  it('keeps the connection of a device whose message is refused, and the readings after it', async () => {
    const device = await client();
    const errors: string[] = [];
    device.on('message', (_t, payload) =>
      errors.push((JSON.parse(payload.toString()) as { reason: string }).reason),
    );
    await device.subscribeAsync(deviceTopic('env', station.id, 'error'));
    await device.publishAsync(deviceTopic('env', station.id, 'telemetry'), 'garbage', { qos: 1 });
    await device.publishAsync(
      deviceTopic('env', station.id, 'telemetry'),
      JSON.stringify({ ts: Date.now(), metrics: { pm25: 1, pm10: 2 } }),
      { qos: 1 },
    );
    expect(device.connected).toBe(true);
    await waitFor(() => broker.stats().storage.written === 1, 'the valid reading stored');
    await waitFor(() => errors.length === 1, 'the error answer');
    expect(errors).toEqual(['malformed-json']);
    expect(broker.stats().rejected['malformed-json']).toBe(1);
    expect(broker.stats().accepted.env).toBe(1);
  });

  it('never retains a refused message', async () => {
    const device = await client();
    const topic = deviceTopic('env', station.id, 'status');
    await device.publishAsync(topic, '{"metrics":{"online":"maybe"}}', { qos: 1, retain: true });
    const internal = await client({ username: INTERNAL_USERNAME, password: SECRET });
    const retained: string[] = [];
    internal.on('message', (t) => retained.push(t));
    await internal.subscribeAsync(topic);
    await new Promise((r) => setTimeout(r, 200));
    expect(retained).toEqual([]);
    expect(broker.stats().rejected['schema-violation']).toBe(1);
  });

  it('lets devices subscribe only to command and error topics, never to internal or wildcard topics', async () => {
    const device = await client();
    // MQTT.js rejects when any grant is 0x80 and carries the SUBACK on the error.
    const suback = await device
      .subscribeAsync([
        deviceTopic('env', station.id, 'error'),
        deviceTopic('env', station.id, 'command'),
        deviceTopic('env', station.id, 'telemetry'),
        'ioc/v1/#',
        INTERNAL_READINGS_TOPIC,
        '$internal/#',
      ])
      .then(
        () => undefined,
        (error: { packet?: { granted: number[] } }) => error.packet,
      );
    expect(device.connected).toBe(true);
    expect(suback?.granted).toEqual([0, 0, 128, 128, 128, 128]);
  });

  it('disconnects a client that publishes on a reserved $ topic', async () => {
    const device = await client();
    const closed = new Promise<void>((resolve) => device.once('close', () => resolve()));
    device.publish('$internal/ioc/v1/readings', '[]', { qos: 0 });
    await closed;
    expect(broker.stats().acceptedTotal).toBe(0);
    expect(broker.stats().rejected['invalid-topic']).toBe(1);
  });

  it('refuses the internal username with a wrong secret, and counts it', async () => {
    const before = broker.stats().broker.internalAuthFailed;
    await expect(
      client({ username: INTERNAL_USERNAME, password: 'wrong-secret-wrong-secret' }),
    ).rejects.toThrow(/Bad username or password/i);
    expect(broker.stats().broker.internalAuthFailed).toBe(before + 1);
  });
});
