import { connectAsync } from 'mqtt';
import { type Device, deviceTopic } from '@ioc/contracts';
import { DeviceRegistry, loadSeeds } from '@ioc/registry';
import { eventually, type RunningPlatform, startPlatform } from '@ioc/testing';
import { EmbeddedTimeSeriesStore } from '@ioc/timeseries';

jest.setTimeout(60_000);

const registry = new DeviceRegistry(loadSeeds());
const camera = registry.listDevices({ type: 'camera' })[0] as Device;

const heartbeat = { online: true, fps: 25 };
const status = { online: false, rssi: -71 };
const accident = { confidence: 0.93, lane: 2 };
const wrongWay = { confidence: 0.61, lane: 1, vehicleType: 'car' };

/**
 * One camera's messages in the same millisecond, as a device sends them over MQTT: a heartbeat
 * (telemetry `online`), its status message (`online` too), and two detection events of different
 * types that both carry `confidence` and `lane`.
 */
function messages(ts: number): { channel: 'telemetry' | 'status' | 'event'; payload: object }[] {
  return [
    { channel: 'telemetry', payload: { ts, seq: 1, metrics: heartbeat } },
    { channel: 'status', payload: { ts, metrics: status } },
    { channel: 'event', payload: { ts, seq: 2, event: 'accident', metrics: accident } },
    { channel: 'event', payload: { ts, seq: 3, event: 'wrongWay', metrics: wrongWay } },
  ];
}

describe('distinct records of one device in the same millisecond, through the broker (embedded store)', () => {
  let platform: RunningPlatform;
  let store: EmbeddedTimeSeriesStore | undefined;
  beforeAll(async () => {
    platform = await startPlatform({ storage: 'embedded', env: { IOC_WRITE_BATCH_DELAY_MS: '20' } });
  }, 60_000);
  afterAll(async () => {
    await store?.close();
    await platform?.stop();
  });

  it('keeps all four records, each with its kind and event, and a redelivery of them as one', async () => {
    const ts = Date.now() - 3_600_000;
    const client = await connectAsync(platform.mqttUrl, {
      clientId: 'e2e-same-ms-camera',
      reconnectPeriod: 0,
      username: camera.id,
      password: platform.deviceSecret(camera.id),
    });
    // Twice: the second round is what a device's MQTT stack redelivers after a lost PUBACK.
    for (let round = 0; round < 2; round++) {
      for (const { channel, payload } of messages(ts)) {
        await client.publishAsync(deviceTopic('camera', camera.id, channel), JSON.stringify(payload), {
          qos: 1,
        });
      }
    }
    await client.endAsync();

    // The same file the broker writes, opened as a second reader (the API does the same).
    store = new EmbeddedTimeSeriesStore({ dataDir: platform.dataDir, maintenanceIntervalMs: 0 });
    await store.init();
    const opened = store;
    const range = { deviceId: camera.id, from: ts, to: ts + 1 };
    const confidence = await eventually(
      async () => {
        const points = await opened.history({ ...range, metric: 'confidence' });
        return points.length >= 2 ? points : undefined;
      },
      20_000,
      'both camera events stored',
    );
    // Ordered by event name at one ts; each says which event it was.
    expect(confidence).toStrictEqual([
      { ts, value: accident.confidence, event: 'accident' },
      { ts, value: wrongWay.confidence, event: 'wrongWay' },
    ]);
    // Telemetry and status `online` both kept (status sorts before telemetry).
    await expect(opened.history({ ...range, metric: 'online' })).resolves.toStrictEqual([
      { ts, value: status.online },
      { ts, value: heartbeat.online },
    ]);
    await expect(opened.history({ ...range, metric: 'lane' })).resolves.toStrictEqual([
      { ts, value: accident.lane, event: 'accident' },
      { ts, value: wrongWay.lane, event: 'wrongWay' },
    ]);
    // latest(): at the tie, the last record of the port's order.
    await expect(
      opened.latest(camera.id, ['online', 'confidence', 'vehicleType', 'rssi']),
    ).resolves.toStrictEqual({
      online: { ts, value: heartbeat.online },
      confidence: { ts, value: wrongWay.confidence, event: 'wrongWay' },
      vehicleType: { ts, value: wrongWay.vehicleType, event: 'wrongWay' },
      rssi: { ts, value: status.rssi },
    });
  });
});
