import { connectAsync } from 'mqtt';
import { type Device, deviceTopic } from '@ioc/contracts';
import { DeviceRegistry, loadSeeds } from '@ioc/registry';
import { eventually, type RunningPlatform, startPlatform } from '@ioc/testing';
import { getJson, liveClient } from './support/clients';

jest.setTimeout(180_000);

interface IngestStats {
  acceptedTotal: number;
  connectedClients: number;
  offlineSessions?: { clients: number; subscriptions: number };
}

const registry = new DeviceRegistry(loadSeeds());
const counter = registry.listDevices({ type: 'traffic-counter' })[0] as Device;

/**
 * Platform services hold one session each on the broker, under a reserved client id that is
 * stable across restarts: restarting the API under load must neither leave a session behind
 * (which would queue every relayed batch for a client that never comes back) nor miss the feed.
 */
describe('platform services on the internal bus', () => {
  let platform: RunningPlatform;
  beforeAll(async () => {
    platform = await startPlatform({ storage: 'embedded' });
  }, 60_000);
  afterAll(async () => {
    await platform?.stop();
  });

  it('restarting the API 5 times under load leaves no session behind and the live feed resumes each time', async () => {
    const publisher = await connectAsync(platform.mqttUrl, {
      clientId: 'load-1',
      reconnectPeriod: 0,
      username: counter.id,
      password: platform.deviceSecret(counter.id),
    });
    const topic = deviceTopic('traffic', counter.id, 'telemetry');
    let seq = 0;
    let publishing = true;
    // A steady load, one QoS 1 reading after another, for as long as the restarts take.
    const load = (async () => {
      while (publishing) {
        seq += 1;
        await publisher.publishAsync(
          topic,
          JSON.stringify({ ts: Date.now(), seq, metrics: { intensity: seq % 1000 } }),
          { qos: 1 },
        );
      }
    })();
    try {
      for (let restart = 1; restart <= 5; restart++) {
        await platform.restartApi();
        // The restarted API is on the bus again: a live client sees readings flow.
        const live = await liveClient(platform.httpUrl, await platform.admin());
        try {
          await expect(live.subscribe({ device: counter.id })).resolves.toMatchObject({ ok: true });
          await eventually(async () => (live.readings.length > 0 ? true : undefined), 15_000, 'live reading');
        } finally {
          live.close();
        }
      }
      const before = seq;
      // Readings keep flowing after the last restart, and the broker keeps nothing for the old
      // API processes: no offline session, and exactly the load client and one API connected.
      const stats = await eventually(
        async () => {
          const body = (await getJson(await platform.admin(), `${platform.httpUrl}/api/v1/ingest/stats`))
            .body as unknown as IngestStats;
          return seq > before + 100 && body.offlineSessions?.clients === 0 && body.connectedClients === 2
            ? body
            : undefined;
        },
        20_000,
        'no offline session and two connected clients',
      );
      expect(stats.offlineSessions).toEqual({ clients: 0, subscriptions: 0 });
    } finally {
      publishing = false;
      await load;
      await publisher.endAsync();
    }
  });

  it('stops the API on one SIGTERM: the store is closed cleanly and the process exits 0', async () => {
    const api = platform.api;
    await api.stop('SIGTERM');
    await expect(api.exited).resolves.toBe(0);
    const log = api.output();
    expect(log).toContain('shutting down');
    expect(log).not.toMatch(/shutdown (failed|timed out)/);
    expect(log).not.toMatch(/"level":50/); // no error logged on the way out
    await platform.restartApi(); // leave the platform as the suite found it
  });
});
