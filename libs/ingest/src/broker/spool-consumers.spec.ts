import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectAsync, type MqttClient } from 'mqtt';
import {
  type Device,
  deviceTopic,
  INTERNAL_INGEST_STATS_TOPIC_PREFIX,
  INTERNAL_READINGS_TOPIC,
  INTERNAL_USERNAME,
  ingestStatsSchema,
  type Reading,
} from '@ioc/contracts';
import type { SpoolConsumer } from '@ioc/spool';
import {
  startTestBroker,
  TEST_INTERNAL_SECRET as SECRET,
  type TestBroker,
  testRegistry as registry,
  waitFor,
} from '../test-support/test-broker';

const station = registry.listDevices({ type: 'air-quality-station' })[0] as Device;

/** A spool consumer (as the alert engine host will be) that records what it is handed. */
function testConsumer(name = 'alerts') {
  const calls: Array<{ firstIndex: number; readings: Reading[]; replay: boolean }> = [];
  const consumer: SpoolConsumer = {
    name,
    onRecords: (readings, _bodies, firstIndex, replay) => calls.push({ firstIndex, readings, replay }),
  };
  return { consumer, calls, readings: () => calls.flatMap((c) => c.readings) };
}

describe('ingest broker with a second spool consumer', () => {
  let dataDir: string;
  let running: TestBroker | undefined;
  const clients: MqttClient[] = [];
  const client = async (
    url: string,
    options: Parameters<typeof connectAsync>[1] = {},
  ): Promise<MqttClient> => {
    const c = await connectAsync(url, { reconnectPeriod: 0, ...options });
    clients.push(c);
    return c;
  };
  const publish = async (device: MqttClient, ts: number, pm25: number): Promise<void> => {
    await device.publishAsync(
      deviceTopic('env', station.id, 'telemetry'),
      JSON.stringify({ ts, metrics: { pm25, pm10: pm25 * 2 } }),
      { qos: 1 },
    );
  };
  const consumerStats = (name: string) =>
    running?.broker.stats().spool.consumers.find((c) => c.consumer === name);

  beforeEach(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'ingest-spool-consumers-'));
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.endAsync(true)));
    await running?.close();
    running = undefined;
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('hands every acknowledged reading to the consumer, reports its lag, and takes its releases and derived readings', async () => {
    const alerts = testConsumer();
    running = await startTestBroker(dataDir, { spoolConsumers: [alerts.consumer] });
    const internal = await client(running.url, { username: INTERNAL_USERNAME, password: SECRET });
    const relayed: Reading[] = [];
    internal.on('message', (topic, payload) => {
      if (topic === INTERNAL_READINGS_TOPIC) relayed.push(...(JSON.parse(payload.toString()) as Reading[]));
    });
    await internal.subscribeAsync(INTERNAL_READINGS_TOPIC, { qos: 1 });
    const device = await client(running.url);
    const ts = Date.now() - 60_000;
    for (let i = 0; i < 5; i++) await publish(device, ts + i, i);
    // PUBACK means durable, and durable means handed to the consumer (before the PUBACK).
    expect(alerts.readings().map((r) => r.metrics['pm25'])).toEqual([0, 1, 2, 3, 4]);
    expect(alerts.calls.every((c) => !c.replay)).toBe(true);
    await waitFor(() => running?.broker.stats().storage.written === 5, 'five stored readings');
    // The store wrote them all; the consumer holds them all: it is what holds the spool.
    const stats = running.broker.stats();
    expect(stats.spool.consumers).toEqual([
      { consumer: 'store', released: 5, oldestHeld: null, lag: 0 },
      { consumer: 'alerts', released: 0, oldestHeld: 0, lag: 5 },
    ]);
    expect(stats.spool.records).toBe(5);
    // The published stats keep the consumers (the API validates them with ingestStatsSchema).
    expect(ingestStatsSchema.parse(JSON.parse(JSON.stringify(stats))).spool.consumers).toEqual(
      stats.spool.consumers,
    );

    // A derived reading (what the alert engine will make: an hourly AQI) goes the same way.
    const derived: Reading = { ...(alerts.readings()[4] as Reading), ts: ts + 10, metrics: { aqi: 87 } };
    await running.broker.appendDerived(derived);
    expect(alerts.calls.at(-1)).toEqual({ firstIndex: 5, readings: [derived], replay: false });
    await waitFor(() => relayed.some((r) => r.metrics['aqi'] === 87), 'the derived reading on the live feed');
    await waitFor(() => running?.broker.stats().storage.written === 6, 'the derived reading stored');
    await expect(
      running.store.history({ deviceId: station.id, metric: 'aqi', from: ts, to: ts + 60_000 }),
    ).resolves.toEqual([{ ts: ts + 10, value: 87 }]);
    // Device readings only are counted as accepted.
    expect(running.broker.stats().acceptedTotal).toBe(5);

    expect(() => running?.broker.releaseSpoolRecords('store', 0, 1)).toThrow(RangeError);
    expect(() => running?.broker.releaseSpoolRecords('alerts', 0, 7)).toThrow(RangeError);
    running.broker.releaseSpoolRecords('alerts', 0, 6);
    expect(consumerStats('alerts')).toEqual({ consumer: 'alerts', released: 6, oldestHeld: null, lag: 0 });
    expect(running.broker.stats().spool.records).toBe(0);
    expect(() => running?.broker.releaseSpoolRecords('alerts', 5, 1)).toThrow(RangeError);
  });

  it('replays what the consumer held at shutdown to it after a restart, before new readings', async () => {
    const before = testConsumer();
    running = await startTestBroker(dataDir, { spoolConsumers: [before.consumer] });
    let device = await client(running.url);
    const ts = Date.now() - 60_000;
    for (let i = 0; i < 6; i++) await publish(device, ts + i, i);
    running.broker.releaseSpoolRecords('alerts', 0, 2);
    await running.close();
    running = undefined;
    expect(before.readings()).toHaveLength(6);

    const after = testConsumer();
    running = await startTestBroker(dataDir, { spoolConsumers: [after.consumer] });
    // Before any device could publish: 2–5, replayed.
    expect(after.calls.map((c) => [c.firstIndex, c.replay])).toEqual([[2, true]]);
    expect(after.readings().map((r) => r.metrics['pm25'])).toEqual([2, 3, 4, 5]);
    device = await client(running.url);
    await publish(device, ts + 6, 6);
    expect(after.calls.map((c) => [c.firstIndex, c.replay])).toEqual([
      [2, true],
      [6, false],
    ]);
    expect(consumerStats('alerts')).toMatchObject({ oldestHeld: 2, lag: 5 });
  });

  it('publishes the consumers in the retained ingest stats, naming the one that holds a filling spool', async () => {
    const alerts = testConsumer();
    running = await startTestBroker(dataDir, {
      spoolConsumers: [alerts.consumer],
      spoolMaxBytes: 8 * 1024,
      statsIntervalMs: 50,
    });
    const device = await client(running.url);
    const ts = Date.now() - 60_000;
    // About 300 bytes a record: fill past 80 % of 8 KiB while the store writes everything.
    let i = 0;
    while (running.broker.stats().spool.bytes < 8 * 1024 * 0.85) await publish(device, ts + i, i++);
    await waitFor(() => consumerStats('store')?.lag === 0, 'the store writing everything');
    const internal = await client(running.url, { username: INTERNAL_USERNAME, password: SECRET });
    const published: unknown[] = [];
    const topics = new Set<string>();
    internal.on('message', (topic, payload) => {
      topics.add(topic);
      published.push(JSON.parse(payload.toString()));
    });
    await internal.subscribeAsync(`${INTERNAL_INGEST_STATS_TOPIC_PREFIX}+`, { qos: 0 });
    // The retained message may predate the last publish: wait for one that has them all.
    const alertsIn = (message: unknown) =>
      ingestStatsSchema.parse(message).spool.consumers?.find((c) => c.consumer === 'alerts');
    await waitFor(() => published.some((m) => alertsIn(m)?.lag === i), 'ingest stats with every reading');
    const stats = ingestStatsSchema.parse(published.find((m) => alertsIn(m)?.lag === i));
    // One node (IOC_BROKER_ID 1 by default): its own topic, its name in the message.
    expect([...topics]).toEqual([`${INTERNAL_INGEST_STATS_TOPIC_PREFIX}broker-1`]);
    expect(stats).toMatchObject({ node: 'broker-1', intervalMs: 50 });
    expect(alertsIn(stats)).toMatchObject({ oldestHeld: 0, released: 0 });
    const filling = stats.healthConditions.find((c) => c.code === 'spool-filling');
    expect(filling?.message).toContain(`held by consumer alerts (lag ${i} records, oldest #0)`);
  });
});
