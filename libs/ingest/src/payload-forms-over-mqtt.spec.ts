import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectAsync, type MqttClient } from 'mqtt';
import { type Device, type DeviceErrorMessage, deviceTopic } from '@ioc/contracts';
import type { EmbeddedTimeSeriesStore } from '@ioc/timeseries';
import type { IngestBroker } from './broker/ingest-broker';
import { startTestBroker, testRegistry as registry, waitFor } from './test-support/test-broker';

/**
 * End to end over TCP with a real MQTT client: what a partly valid message, a batch and a SenML
 * pack leave in the store, what the device is told on its error topic, and that the PUBACK of a
 * multi-reading message comes only once every reading is durable in the spool.
 */

const station = registry.listDevices({ type: 'air-quality-station' })[0] as Device;
const topic = deviceTopic('env', station.id, 'telemetry');

describe('payload forms over MQTT', () => {
  let broker: IngestBroker;
  let store: EmbeddedTimeSeriesStore;
  let dataDir: string;
  let device: MqttClient;
  const errors: DeviceErrorMessage[] = [];
  const stored = async (metric: string) =>
    (await store.history({ deviceId: station.id, metric, from: 0, to: Date.now() + 60_000 })).map((p) => [
      p.ts,
      p.value,
    ]);

  beforeEach(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'payload-forms-'));
    ({ broker, store } = await startTestBroker(dataDir, {
      spoolMaxBytes: 4 << 20,
      maxPayloadBytes: 65_536,
      // A packet is its payload plus the topic and header: the packet limit sits above the payload one.
      maxPacketBytes: 70_000,
    }));
    device = await connectAsync(`mqtt://127.0.0.1:${broker.port}`, { reconnectPeriod: 0 });
    errors.length = 0;
    device.on('message', (_t, payload) => errors.push(JSON.parse(payload.toString()) as DeviceErrorMessage));
    await device.subscribeAsync(deviceTopic('env', station.id, 'error'));
  });

  afterEach(async () => {
    await device?.endAsync(true);
    await broker?.close();
    await store?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('stores the other metrics of an air-quality message without pm10', async () => {
    const ts = Date.now() - 60_000;
    await device.publishAsync(topic, JSON.stringify({ ts, metrics: { pm25: 31.2, no2: 40.1, co: 800 } }), {
      qos: 1,
    });
    await waitFor(() => broker.stats().storage.written === 1, 'the reading stored', 10_000);
    expect(await stored('pm25')).toEqual([[ts, 31.2]]);
    expect(await stored('no2')).toEqual([[ts, 40.1]]);
    expect(await stored('co')).toEqual([[ts, 800]]);
    expect(await stored('pm10')).toEqual([]);
    expect(broker.stats().rejectedTotal).toBe(0);
  });

  it('stores the valid metrics, answers and counts each refused one with its metric', async () => {
    const ts = Date.now() - 60_000;
    await device.publishAsync(topic, JSON.stringify({ ts, metrics: { pm25: 31.2, pm10: -5, no2: 'high' } }), {
      qos: 1,
    });
    await waitFor(() => errors.length === 2, 'two error answers', 10_000);
    expect(errors.map(({ reason, metric, topic: t }) => ({ reason, metric, topic: t }))).toEqual([
      { reason: 'out-of-range', metric: 'pm10', topic },
      { reason: 'schema-violation', metric: 'no2', topic },
    ]);
    await waitFor(() => broker.stats().storage.written === 1, 'the reading stored', 10_000);
    expect(await stored('pm25')).toEqual([[ts, 31.2]]);
    expect(await stored('pm10')).toEqual([]);
    const stats = broker.stats();
    expect([stats.rejected['out-of-range'], stats.rejected['schema-violation'], stats.accepted.env]).toEqual([
      1, 1, 1,
    ]);
  });

  it('acknowledges a batch of N readings only once all N are durable, and stores them all', async () => {
    const n = 300;
    const start = Date.now() - n * 1000 - 60_000;
    const batch = Array.from({ length: n }, (_, i) => ({
      ts: start + i * 1000,
      seq: i,
      metrics: { pm25: i % 1000 },
    }));
    const before = broker.stats().spool.committedRecords;
    await device.publishAsync(topic, JSON.stringify(batch), { qos: 1 });
    // The PUBACK has arrived: every reading of the message must already be on disk in the spool.
    expect(broker.stats().spool.committedRecords - before).toBeGreaterThanOrEqual(n);
    await waitFor(() => broker.stats().storage.written === n, `${n} readings stored`);
    expect(await stored('pm25')).toEqual(batch.map((b) => [b.ts, b.metrics.pm25]));
    expect(broker.stats().accepted.env).toBe(n);
    expect(errors).toEqual([]);
  });

  it('stores the valid elements of a batch and names each refused one by index', async () => {
    const ts = Date.now() - 120_000;
    const batch = [
      { ts, metrics: { pm25: 1 } },
      { ts: ts + 1000, metrics: { pm25: 1e9 } },
      { metrics: { pm25: 3 } },
      { ts: ts + 3000, metrics: { pm25: 4 } },
    ];
    await device.publishAsync(topic, JSON.stringify(batch), { qos: 1 });
    await waitFor(() => errors.length === 2, 'two error answers', 10_000);
    expect(errors.map(({ reason, index }) => [reason, index])).toEqual([
      ['out-of-range', 1],
      ['schema-violation', 2],
    ]);
    await waitFor(() => broker.stats().storage.written === 2, 'two readings stored', 10_000);
    expect(await stored('pm25')).toEqual([
      [ts, 1],
      [ts + 3000, 4],
    ]);
  });

  it('stores a SenML pack named after the topic device and refuses a record in the wrong unit', async () => {
    const bt = Math.floor((Date.now() - 120_000) / 1000);
    const pack = [
      { bn: `${station.id}:`, bt, n: 'pm25', u: 'ug/m3', v: 31.2 },
      { n: 'pm10', v: 48.5 },
      { n: 'relativeHumidity', u: '%RH', v: 78 },
      { n: 'pm25', t: 60, v: 30.1 },
    ];
    await device.publishAsync(topic, JSON.stringify(pack), { qos: 1 });
    await waitFor(() => errors.length === 1, 'the unit answer', 10_000);
    expect(errors[0]).toMatchObject({ reason: 'unit-mismatch', index: 2, metric: 'relativeHumidity' });
    await waitFor(() => broker.stats().storage.written === 2, 'two readings stored', 10_000);
    expect(await stored('pm25')).toEqual([
      [bt * 1000, 31.2],
      [(bt + 60) * 1000, 30.1],
    ]);
    expect(await stored('pm10')).toEqual([[bt * 1000, 48.5]]);
    expect(await stored('relativeHumidity')).toEqual([]);
  });

  it('refuses a message with a duplicate key whole, storing nothing', async () => {
    const ts = Date.now() - 60_000;
    await device.publishAsync(topic, `{"ts":${ts},"metrics":{"pm25":1,"pm10":2,"pm25":999}}`, { qos: 1 });
    await waitFor(() => errors.length === 1, 'the error answer', 10_000);
    expect(errors[0]).toMatchObject({
      reason: 'duplicate-key',
      detail: 'metrics: key "pm25" appears more than once',
    });
    expect(broker.stats().rejected['duplicate-key']).toBe(1);
    expect(broker.stats().acceptedTotal).toBe(0);
  });
});
