import 'reflect-metadata';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { Aedes } from 'aedes';
import { connectAsync } from 'mqtt';
import { io, type Socket } from 'socket.io-client';
import {
  type ClientToServerEvents,
  type Device,
  type DeviceStatus,
  deviceStatusHistoryBody,
  deviceStatusListBody,
  errorBody,
  INTERNAL_DEVICE_STATUS_TOPIC,
  INTERNAL_USERNAME,
  METRIC_CATALOGUE,
  type Reading,
  type ServerToClientEvents,
} from '@ioc/contracts';
import { type IocDatabase, openDatabase, prepareDatabase } from '@ioc/database';
import {
  DeviceRegistry,
  type DeviceStatusRecord,
  DeviceStatusRepository,
  loadSeeds,
  RegistryRepository,
} from '@ioc/registry';
import { freePort, TempDirs } from '@ioc/testing';
import { createTimeSeriesStore, type TimeSeriesStore } from '@ioc/timeseries';
import { type ApiUnderTest, startApiUnderTest, testReading } from '../test-support/api-under-test';

jest.setTimeout(60_000);

const seeds = loadSeeds();
const registry = new DeviceRegistry(seeds);
const tempDirs = new TempDirs('status-api-spec-');
const SECRET = 'test-internal-secret-0123456789';
const light = registry.listDevices({ type: 'street-light' })[0]!;
const station = registry.listDevices({ type: 'air-quality-station' })[0]!;
const camera = registry.listDevices({ type: 'camera' })[0]!;
const T = Date.UTC(2026, 10, 30, 7, 0, 0);

const reading = (
  device: Device,
  kind: Reading['kind'],
  ts: number,
  metrics: Reading['metrics'],
  event?: string,
): Reading => testReading(registry, device, kind, ts, metrics, event);

/** The admin's credentials of the API under test. */
let authHeaders: Record<string, string> = {};

async function getJson(url: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(url, { headers: authHeaders });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describe('device status API', () => {
  let database: IocDatabase;
  let store: TimeSeriesStore;
  let api: ApiUnderTest;
  let url: string;
  let apiSubscribed: Promise<void>;
  let aedes: Aedes;
  let mqttServer: Server;
  let brokerUrl: string;
  const statuses: DeviceStatusRecord[] = [
    {
      deviceId: light.id,
      status: 'online',
      reason: 'connected',
      since: T,
      lastSeen: T + 5000,
      clockOffsetMs: 120,
      clockSuspect: false,
    },
    {
      deviceId: station.id,
      status: 'offline',
      reason: 'silence-timeout',
      since: T + 900_000,
      clockSuspect: true,
    },
  ];

  beforeAll(async () => {
    const dir = await tempDirs.make();
    database = openDatabase({ kind: 'sqlite', path: join(dir, 'registry.sqlite') });
    await prepareDatabase(database, {
      afterMigrate: async (db) => {
        await new RegistryRepository(db).importSeeds(seeds);
      },
    });
    const repository = new DeviceStatusRepository(database.db);
    await repository.writeBatch({
      latest: statuses,
      history: [
        { deviceId: light.id, status: 'online', reason: 'connected', at: T - 60_000 },
        { deviceId: light.id, status: 'offline', reason: 'connection-lost', at: T - 30_000 },
        { deviceId: light.id, status: 'online', reason: 'connected', at: T },
      ],
    });
    store = createTimeSeriesStore({ storage: 'embedded', dataDir: join(dir, 'ts'), thread: 'caller' });
    await store.init();
    await store.write([
      reading(light, 'telemetry', T, { on: true, activePower: 80 }),
      reading(light, 'status', T + 1, { online: true, rssi: -70 }),
      reading(light, 'telemetry', T + 60_000, { on: false, activePower: 0 }),
      reading(station, 'telemetry', T, { pm25: 35.5, pm10: 50 }),
    ]);

    // A real MQTT broker standing in for the platform's: the API's bus client connects to it.
    aedes = await Aedes.createBroker();
    // Resolved once the API's bus client has subscribed to the status notices (an aedes event).
    apiSubscribed = new Promise<void>((resolve) => {
      aedes.on('subscribe', (subscriptions) => {
        if (subscriptions.some((s) => s.topic === INTERNAL_DEVICE_STATUS_TOPIC)) resolve();
      });
    });
    mqttServer = createServer(aedes.handle);
    const mqttPort = await freePort();
    await new Promise<void>((resolve) => mqttServer.listen(mqttPort, '127.0.0.1', resolve));
    brokerUrl = `mqtt://127.0.0.1:${mqttPort}`;

    api = await startApiUnderTest({
      database,
      registry,
      store,
      deviceStatus: repository,
      settings: { brokerUrl, nodeId: 'status-spec', internalSecret: SECRET },
    });
    url = api.url;
    authHeaders = api.authHeaders;
  });

  afterAll(async () => {
    await api?.close();
    await store?.close();
    await database?.close();
    await new Promise<void>((resolve) => aedes.close(() => resolve()));
    await new Promise<void>((resolve) => mqttServer.close(() => resolve()));
    await tempDirs.removeAll();
  });

  it('answers every device with its status and latest metrics in one call', async () => {
    const { status, body } = await getJson(`${url}/api/v1/devices/status`);
    expect(status).toBe(200);
    const parsed = deviceStatusListBody.parse(body);
    expect(parsed).toEqual(body);
    expect(parsed.total).toBe(seeds.devices.length);
    expect(parsed.online).toBe(1);
    const byId = new Map(parsed.items.map((item) => [item.id, item]));
    expect(byId.get(light.id)).toEqual({
      id: light.id,
      type: light.type,
      domain: light.domain,
      name: light.name,
      areaId: light.areaId,
      location: light.location,
      state: 'active',
      status: {
        status: 'online',
        reason: 'connected',
        since: new Date(T).toISOString(),
        lastSeen: new Date(T + 5000).toISOString(),
        clockOffsetMs: 120,
        clockSuspect: false,
      },
      metrics: {
        on: { value: false, ts: T + 60_000, unit: METRIC_CATALOGUE.on.unit },
        activePower: { value: 0, ts: T + 60_000, unit: METRIC_CATALOGUE.activePower.unit },
        online: { value: true, ts: T + 1, unit: METRIC_CATALOGUE.online.unit },
        rssi: { value: -70, ts: T + 1, unit: METRIC_CATALOGUE.rssi.unit },
      },
    });
    expect(byId.get(station.id)?.status).toMatchObject({
      status: 'offline',
      reason: 'silence-timeout',
      clockSuspect: true,
    });
    expect(byId.get(station.id)?.metrics['pm25']).toEqual({
      value: 35.5,
      ts: T,
      unit: METRIC_CATALOGUE.pm25.unit,
    });
    expect(byId.get(camera.id)).toMatchObject({
      status: { status: 'unknown', reason: 'never-seen', since: null, clockSuspect: false },
      metrics: {},
    });
  });

  it('filters by domain, type and area (sub-areas included), and refuses what it cannot answer', async () => {
    const lighting = deviceStatusListBody.parse(
      (await getJson(`${url}/api/v1/devices/status?domain=lighting`)).body,
    );
    expect(lighting.items.map((i) => i.id).sort()).toEqual(
      registry
        .listDevices({ domain: 'lighting' })
        .map((d) => d.id)
        .sort(),
    );
    const lights = deviceStatusListBody.parse(
      (await getJson(`${url}/api/v1/devices/status?type=street-light&area=${light.areaId}`)).body,
    );
    expect(lights.items.map((i) => i.id).sort()).toEqual(
      registry
        .listDevices({ type: 'street-light', areaId: light.areaId })
        .map((d) => d.id)
        .sort(),
    );
    expect(lights.items.some((i) => i.id === light.id)).toBe(true);
    const root = seeds.areas.find((a) => a.parentId === null)!;
    const all = deviceStatusListBody.parse(
      (await getJson(`${url}/api/v1/devices/status?area=${root.id}`)).body,
    );
    expect(all.total).toBe(seeds.devices.length);

    for (const [query, parameter] of [
      ['area=nowhere', 'area'],
      ['type=toaster', 'type'],
      ['limit=5', undefined],
    ] as const) {
      const answer = await getJson(`${url}/api/v1/devices/status?${query}`);
      expect(answer.status).toBe(400);
      expect(errorBody.parse(answer.body)).toEqual(answer.body);
      if (parameter) expect(answer.body['parameter']).toBe(parameter);
    }
  });

  it('answers one device’s status history over [from, to), and 404/400 for what it cannot', async () => {
    const answer = await getJson(
      `${url}/api/v1/devices/${light.id}/status/history?from=${T - 60_000}&to=${T + 1}`,
    );
    expect(answer.status).toBe(200);
    expect(deviceStatusHistoryBody.parse(answer.body)).toEqual({
      deviceId: light.id,
      from: T - 60_000,
      to: T + 1,
      changes: [
        { status: 'online', reason: 'connected', at: new Date(T - 60_000).toISOString() },
        { status: 'offline', reason: 'connection-lost', at: new Date(T - 30_000).toISOString() },
        { status: 'online', reason: 'connected', at: new Date(T).toISOString() },
      ],
    });
    const bounded = await getJson(
      `${url}/api/v1/devices/${light.id}/status/history?from=${T - 60_000}&to=${T}&limit=1`,
    );
    expect((bounded.body['changes'] as unknown[]).length).toBe(1);
    expect((await getJson(`${url}/api/v1/devices/no-such-device/status/history`)).status).toBe(404);
    const backwards = await getJson(`${url}/api/v1/devices/${light.id}/status/history?from=${T}&to=${T - 1}`);
    expect(backwards.status).toBe(400);
    expect(backwards.body['parameter']).toBe('from');
  });

  it('documents both routes in the OpenAPI document', async () => {
    const doc = (await getJson(`${url}/api/docs-json`)).body as { paths: Record<string, unknown> };
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining(['/api/v1/devices/status', '/api/v1/devices/{id}/status/history']),
    );
  });

  it('pushes a device-status notice to the sockets whose subscriptions cover the device, and only to them', async () => {
    const sockets: Socket<ServerToClientEvents, ClientToServerEvents>[] = [];
    const open = async (subscription: Parameters<ClientToServerEvents['subscribe']>[0]) => {
      const socket: Socket<ServerToClientEvents, ClientToServerEvents> = io(`${url}/live`, {
        transports: ['websocket'],
        reconnection: false,
        auth: { token: api.adminToken },
      });
      sockets.push(socket);
      const ack = await socket.timeout(5000).emitWithAck('subscribe', subscription);
      expect(ack.ok).toBe(true);
      const received: DeviceStatus[] = [];
      const waiters: Array<() => void> = [];
      socket.on('deviceStatus', (status) => {
        received.push(status);
        for (const wake of waiters.splice(0)) wake();
      });
      /** Resolves once `count` statuses have arrived (woken by the socket's events). */
      const until = async (count: number): Promise<void> => {
        while (received.length < count) await new Promise<void>((resolve) => waiters.push(resolve));
      };
      return Object.assign(received, { until });
    };
    const publisher = await connectAsync(brokerUrl, {
      reconnectPeriod: 0,
      clientId: 'ioc-broker-spec',
      username: INTERNAL_USERNAME,
      password: SECRET,
    });
    try {
      const lightingWatcher = await open({ domain: 'lighting' });
      const areaWatcher = await open({ area: registry.areaPath(light.areaId)[0]! });
      const envWatcher = await open({ domain: 'env' });
      const notice: DeviceStatus[] = [
        {
          deviceId: light.id,
          status: 'offline',
          reason: 'connection-lost',
          since: new Date().toISOString(),
          clockSuspect: false,
        },
      ];
      await apiSubscribed;
      await publisher.publishAsync(INTERNAL_DEVICE_STATUS_TOPIC, JSON.stringify(notice), { qos: 1 });
      await Promise.all([lightingWatcher.until(1), areaWatcher.until(1)]);
      expect(lightingWatcher[0]).toEqual(notice[0]);
      expect(areaWatcher[0]).toEqual(notice[0]);
      expect(envWatcher).toHaveLength(0);
      // A forged or malformed notice is dropped, not relayed.
      await publisher.publishAsync(INTERNAL_DEVICE_STATUS_TOPIC, JSON.stringify([{ deviceId: light.id }]), {
        qos: 1,
      });
      const before = lightingWatcher.length;
      await publisher.publishAsync(INTERNAL_DEVICE_STATUS_TOPIC, JSON.stringify(notice), { qos: 1 });
      // Notices are handled in order: once the valid one after it arrives, the malformed one was dropped.
      await lightingWatcher.until(before + 1);
      expect(lightingWatcher.length).toBeGreaterThan(before);
      // Only the valid notice (twice), never the malformed one.
      for (const status of [...lightingWatcher, ...areaWatcher]) expect(status).toEqual(notice[0]);
      expect(envWatcher).toHaveLength(0);
    } finally {
      for (const socket of sockets) socket.disconnect();
      await publisher.endAsync();
    }
  });
});
