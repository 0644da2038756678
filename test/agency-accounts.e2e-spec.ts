import { connectAsync } from 'mqtt';
import { agencyAlertTopicPrefix } from '@ioc/contracts';
import { type ApiSession, type RunningPlatform, startPlatform } from '@ioc/testing';

jest.setTimeout(60_000);

/**
 * An agency's MQTT account through the running platform: an agency write answered over REST has
 * reached the broker (the answer waits for every broker to apply the change log, as device
 * credential writes do), so the secret works — and a disabled agency is refused — at once, with
 * no waiting in between.
 */
describe('agency MQTT accounts through the running platform', () => {
  let platform: RunningPlatform;
  let admin: ApiSession;

  beforeAll(async () => {
    platform = await startPlatform({ storage: 'embedded' });
    admin = await platform.admin();
  }, 90_000);

  afterAll(async () => {
    await platform?.stop();
  });

  /** The CONNACK return code of a CONNECT as `username` (0: accepted). */
  async function connack(username: string, password: string): Promise<number> {
    try {
      const client = await connectAsync(platform.mqttUrl, {
        clientId: `e2e-agency-${Math.random().toString(36).slice(2, 8)}`,
        username,
        password,
        reconnectPeriod: 0,
        connectTimeout: 5000,
      });
      await client.subscribeAsync(`${agencyAlertTopicPrefix('so-e2e')}#`, { qos: 1 });
      await client.endAsync();
      return 0;
    } catch (error) {
      return (error as { code?: number }).code ?? -1;
    }
  }

  async function post(
    path: string,
    body?: unknown,
  ): Promise<{ status: number; body: Record<string, unknown> }> {
    const response = await admin.fetch(path, {
      method: 'POST',
      ...(body === undefined
        ? {}
        : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  }

  it('a secret issued, replaced or disabled over REST is in force on the broker when the answer arrives', async () => {
    expect(
      (await post('/api/v1/agencies', { id: 'so-e2e', name: 'Sở thử nghiệm', scope: { domains: ['env'] } }))
        .status,
    ).toBe(201);
    const issued = await post('/api/v1/agencies/so-e2e/mqtt-credentials');
    expect(issued.status).toBe(201);
    const first = { username: String(issued.body['username']), secret: String(issued.body['secret']) };
    expect(await connack(first.username, first.secret)).toBe(0);

    const replaced = await post('/api/v1/agencies/so-e2e/mqtt-credentials');
    expect(replaced.status).toBe(201);
    expect(await connack(first.username, first.secret)).toBe(4);
    const second = String(replaced.body['secret']);
    expect(await connack(first.username, second)).toBe(0);

    expect((await post('/api/v1/agencies/so-e2e/disable')).status).toBe(200);
    expect(await connack(first.username, second)).toBe(5);
    expect((await post('/api/v1/agencies/so-e2e/enable')).status).toBe(200);
    expect(await connack(first.username, second)).toBe(0);
  });
});
