import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectAsync, type MqttClient } from 'mqtt';
import {
  type Device,
  deviceStatusNoticeSchema,
  type DeviceStatus,
  deviceTopic,
  INTERNAL_DEVICE_STATUS_TOPIC,
  INTERNAL_USERNAME,
} from '@ioc/contracts';
import { type IocDatabase, openDatabase, prepareDatabase } from '@ioc/database';
import { DeviceStatusRepository, loadSeeds, RegistryRepository } from '@ioc/registry';
import { createLogger } from '@ioc/runtime';
import type { IngestBroker } from './broker/ingest-broker';
import { DeviceStatusTracker } from './device-status-tracker';
import {
  startTestBroker,
  TEST_INTERNAL_SECRET,
  type TestBroker,
  testRegistry,
  waitFor,
} from './test-support/test-broker';

jest.setTimeout(30_000);

const station = testRegistry.listDevices({ type: 'air-quality-station' })[0] as Device;
const camera = testRegistry.listDevices({ type: 'camera' })[0] as Device;

describe('device status from readings over MQTT (no device authentication)', () => {
  let dataDir: string;
  let database: IocDatabase;
  let tracker: DeviceStatusTracker;
  let test: TestBroker;
  const clients: MqttClient[] = [];

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'status-mqtt-'));
    database = openDatabase({ kind: 'sqlite', path: join(dataDir, 'registry.sqlite') });
    await prepareDatabase(database, {
      afterMigrate: async (db) => {
        await new RegistryRepository(db).importSeeds(loadSeeds());
      },
    });
    // The broker publishes the tracker's notices: the reference is set once it is started.
    const ref: { broker?: IngestBroker } = {};
    tracker = new DeviceStatusTracker({
      store: new DeviceStatusRepository(database.db),
      directory: testRegistry,
      publish: (statuses) => ref.broker?.publishDeviceStatus(statuses),
      logger: createLogger('test', { level: 'silent' }),
    });
    await tracker.start();
    test = await startTestBroker(dataDir, { deviceStatus: tracker });
    ref.broker = test.broker;
  });

  afterAll(async () => {
    await Promise.all(clients.splice(0).map((c) => c.endAsync(true)));
    await test.close();
    await tracker.close();
    await database.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('a reading makes its device online (reason reading), stored and announced on the internal bus', async () => {
    const internal = await connectAsync(test.url, {
      reconnectPeriod: 0,
      username: INTERNAL_USERNAME,
      password: TEST_INTERNAL_SECRET,
    });
    clients.push(internal);
    const notices: DeviceStatus[] = [];
    internal.on('message', (_topic, payload) =>
      notices.push(...deviceStatusNoticeSchema.parse(JSON.parse(payload.toString()))),
    );
    await internal.subscribeAsync(INTERNAL_DEVICE_STATUS_TOPIC, { qos: 1 });

    const device = await connectAsync(test.url, { reconnectPeriod: 0 });
    clients.push(device);
    const ts = Date.now() - 2000;
    await device.publishAsync(
      deviceTopic('env', station.id, 'telemetry'),
      JSON.stringify({ ts, metrics: { pm25: 12, pm10: 20 } }),
      { qos: 1 },
    );
    // A refused message is no sign of life for the device its topic names.
    await device.publishAsync(deviceTopic('camera', camera.id, 'telemetry'), 'garbage', { qos: 1 });

    await waitFor(() => notices.some((s) => s.deviceId === station.id), 'the status notice');
    const notice = notices.find((s) => s.deviceId === station.id)!;
    expect(notice).toMatchObject({ status: 'online', reason: 'reading', clockSuspect: false });
    expect(notice.clockOffsetMs).toBeGreaterThanOrEqual(2000);
    const stored = await new DeviceStatusRepository(database.db).latestOf([station.id, camera.id]);
    expect(stored.get(station.id)).toMatchObject({ status: 'online', reason: 'reading' });
    expect(stored.has(camera.id)).toBe(false);
    expect(tracker.statusOf(camera.id).status).toBe('unknown');
  });

  it('an online:false status of the device marks it disconnected; its will, connection-lost', async () => {
    const light = testRegistry.listDevices({ type: 'street-light' })[0] as Device;
    const statusTopic = deviceTopic('lighting', light.id, 'status');
    const goodbye = JSON.stringify({ metrics: { online: false } });
    const connect = () =>
      connectAsync(test.url, {
        reconnectPeriod: 0,
        will: { topic: statusTopic, payload: Buffer.from(goodbye), qos: 1, retain: true },
      });
    const device = await connect();
    clients.push(device);
    await device.publishAsync(statusTopic, JSON.stringify({ metrics: { online: true } }), { qos: 1 });
    expect(tracker.statusOf(light.id)).toMatchObject({ status: 'online', reason: 'reading' });
    await device.publishAsync(statusTopic, goodbye, { qos: 1 });
    expect(tracker.statusOf(light.id)).toMatchObject({ status: 'offline', reason: 'disconnected' });

    const crashing = await connect();
    clients.push(crashing);
    await crashing.publishAsync(statusTopic, JSON.stringify({ metrics: { online: true } }), { qos: 1 });
    expect(tracker.statusOf(light.id).status).toBe('online');
    // The socket dies without DISCONNECT: the broker publishes the will.
    crashing.stream.destroy();
    await waitFor(
      () => tracker.statusOf(light.id).status === 'offline',
      'the will marking the device offline',
    );
    expect(tracker.statusOf(light.id).reason).toBe('connection-lost');
    await tracker.flushChanges();
    const history = await new DeviceStatusRepository(database.db).historyOf(light.id, 0, Date.now() + 1, 100);
    expect(history.map((c) => c.reason)).toEqual(['reading', 'disconnected', 'reading', 'connection-lost']);
  });
});
