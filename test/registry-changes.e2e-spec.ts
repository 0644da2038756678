import { connectAsync, type MqttClient } from 'mqtt';
import {
  INTERNAL_REGISTRY_CHANGES_TOPIC,
  INTERNAL_USERNAME,
  registryChangeNoticeSchema,
  type RegistryChangeNotice,
} from '@ioc/contracts';
import { loadSeeds } from '@ioc/registry';
import {
  API_ENTRY,
  eventually,
  freePort,
  type RunningPlatform,
  type ServiceProcess,
  startPlatform,
  startService,
} from '@ioc/testing';

jest.setTimeout(180_000);

const SECRET = 'test-internal-secret-0123456789';
const ward = loadSeeds().devices[0]!.areaId;

/**
 * Two API nodes over one registry database (the embedded SQLite file both open): a write on one
 * is announced on the internal bus (`$internal/ioc/v1/registry-changes`) and shows in the other's
 * reads while both run; the node that wrote shows it in the GETs right after its answer.
 */
describe('registry changes between API nodes', () => {
  let platform: RunningPlatform;
  let second: ServiceProcess;
  let secondUrl: string;
  let listener: MqttClient;
  const notices: RegistryChangeNotice[] = [];

  beforeAll(async () => {
    platform = await startPlatform({ storage: 'embedded' });
    const port = await freePort();
    second = await startService(
      API_ENTRY,
      {
        IOC_STORAGE: 'embedded',
        IOC_DATA_DIR: platform.dataDir,
        IOC_HTTP_HOST: '127.0.0.1',
        IOC_HTTP_PORT: String(port),
        IOC_BROKER_URL: platform.mqttUrl,
        IOC_INTERNAL_SECRET: SECRET,
        IOC_NODE_ID: '2',
      },
      'API listening',
    );
    secondUrl = `http://127.0.0.1:${port}`;
    listener = await connectAsync(platform.mqttUrl, {
      clientId: 'ioc-e2e-registry',
      username: INTERNAL_USERNAME,
      password: SECRET,
      reconnectPeriod: 0,
    });
    listener.on('message', (_topic, payload) => {
      notices.push(registryChangeNoticeSchema.parse(JSON.parse(payload.toString())));
    });
    await listener.subscribeAsync(INTERNAL_REGISTRY_CHANGES_TOPIC, { qos: 1 });
    // Both nodes are on the bus before the first write (their notices are not queued for later).
    await eventually(
      async () => {
        const health = await fetch(`${secondUrl}/health`);
        return health.status === 200 ? true : undefined;
      },
      30_000,
      'second API healthy',
    );
  }, 90_000);

  afterAll(async () => {
    await listener?.endAsync();
    await second?.stop();
    await platform?.stop();
  });

  it('a device created on node 1 is announced and read on node 2; a suspension on node 2 reaches node 1', async () => {
    // One admin session serves both nodes: they share the registry database (sessions) and the
    // token-signing key under the data directory.
    const admin = await platform.admin();
    const created = await fetch(`${platform.httpUrl}/api/v1/devices`, {
      method: 'POST',
      headers: { ...admin.headers, 'content-type': 'application/json' },
      body: JSON.stringify({
        id: 'sl-e2e-001',
        type: 'street-light',
        name: 'Đèn e2e',
        areaId: ward,
        location: { lat: 11.3, lon: 106.1 },
      }),
    });
    expect(created.status).toBe(201);
    // The node that wrote answers its own GET with the change at once.
    expect(
      (await fetch(`${platform.httpUrl}/api/v1/devices/sl-e2e-001`, { headers: admin.headers })).status,
    ).toBe(200);
    const notice = await eventually(async () => notices.at(-1), 10_000, 'registry change notice');
    expect(notice.seq).toBeGreaterThan(0);
    await eventually(
      async () =>
        (await fetch(`${secondUrl}/api/v1/devices/sl-e2e-001`, { headers: admin.headers })).status === 200
          ? true
          : undefined,
      10_000,
      'device visible on node 2',
    );

    const suspended = await fetch(`${secondUrl}/api/v1/devices/sl-e2e-001/suspend`, {
      method: 'POST',
      headers: admin.headers,
    });
    expect(suspended.status).toBe(200);
    await eventually(
      async () => notices.find((n) => n.seq > notice.seq),
      10_000,
      'second registry change notice',
    );
    await eventually(
      async () => {
        const device = (await (
          await fetch(`${platform.httpUrl}/api/v1/devices/sl-e2e-001`, { headers: admin.headers })
        ).json()) as {
          state?: string;
        };
        return device.state === 'suspended' ? true : undefined;
      },
      10_000,
      'suspension visible on node 1',
    );
  });
});
