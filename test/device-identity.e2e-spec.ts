import { type ChildProcess, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connectAsync, type MqttClient } from 'mqtt';
import { type CommandRecordBody, deviceTopic, type DeviceStatus } from '@ioc/contracts';
import { selectDevices } from '@ioc/devices-sim';
import { loadSeeds } from '@ioc/registry';
import { type ApiSession, eventually, type RunningPlatform, startPlatform } from '@ioc/testing';
import { getJson, liveClient, mosquittoPub } from './support/clients';

/**
 * Device identity through the real processes: a device provisioned over REST gets a secret, logs in
 * with it and nothing else; suspension and revocation end its sessions at once; a device cannot
 * publish as another; and a command round-trips to the simulator and back into its record.
 */

const REGISTER = join(__dirname, '..', 'scripts', 'register.js');
const SIM = join(__dirname, '..', 'devices-sim', 'src', 'cli.ts');

async function send(
  session: ApiSession,
  method: 'POST' | 'PATCH' | 'DELETE',
  url: string,
  body?: unknown,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(url, {
    method,
    headers: {
      ...session.headers,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/** Connects as a device; resolves with the client, or rejects with the CONNACK's return code. */
async function connectDevice(
  platform: RunningPlatform,
  deviceId: string,
  password: string,
): Promise<MqttClient> {
  return connectAsync(platform.mqttUrl, {
    clientId: `e2e-identity-${deviceId}-${Math.random().toString(36).slice(2, 8)}`,
    username: deviceId,
    password,
    reconnectPeriod: 0,
    connectTimeout: 5000,
  });
}

/** The CONNACK return code a refused CONNECT got. */
async function refusalCode(platform: RunningPlatform, deviceId: string, password: string): Promise<number> {
  try {
    const client = await connectDevice(platform, deviceId, password);
    await client.endAsync();
    return 0;
  } catch (error) {
    return (error as { code?: number }).code ?? -1;
  }
}

// Each test waits on events with deadlines of up to 20 s; under a loaded CI machine the default 5 s is too short.
jest.setTimeout(60_000);

describe('device identity through the running platform (embedded store)', () => {
  let platform: RunningPlatform;
  const seeds = loadSeeds();
  const area = seeds.areas.find((a) => a.parentId !== null)!;
  const newLight = {
    id: 'sl-e2e-identity-001',
    type: 'street-light',
    name: 'Đèn thử nghiệm',
    areaId: area.id,
    location: { lat: 11.31, lon: 106.1 },
  };

  beforeAll(async () => {
    platform = await startPlatform({ storage: 'embedded' });
  }, 60_000);
  afterAll(async () => platform?.stop());

  it('a device provisioned over REST logs in with its secret only, and its readings are stored', async () => {
    expect(
      (await send(await platform.admin(), 'POST', `${platform.httpUrl}/api/v1/devices`, newLight)).status,
    ).toBe(201);
    const issued = await send(
      await platform.admin(),
      'POST',
      `${platform.httpUrl}/api/v1/devices/${newLight.id}/credentials`,
      {},
    );
    expect(issued.status).toBe(201);
    const secret = String(issued.body['secret']);
    expect(secret).toMatch(/^iocds_/);
    // The listing never shows it again.
    const listed = await getJson(
      await platform.admin(),
      `${platform.httpUrl}/api/v1/devices/${newLight.id}/credentials`,
    );
    expect(JSON.stringify(listed.body)).not.toContain(secret);

    // The answer came once the broker had applied the change: the secret works at once.
    const ts = Date.now() - 60_000;
    await mosquittoPub(
      platform.mqttPort,
      deviceTopic('lighting', newLight.id, 'telemetry'),
      JSON.stringify({ ts, metrics: { on: true, illuminanceLevel: 0.8 } }),
      1,
      { username: newLight.id, password: secret },
    );
    await eventually(
      async () => {
        const { body } = await getJson(
          await platform.admin(),
          `${platform.httpUrl}/api/v1/devices/${newLight.id}/latest`,
        );
        const metrics = body['metrics'] as Record<string, { ts: number }> | undefined;
        return metrics?.['illuminanceLevel']?.ts === ts ? true : undefined;
      },
      15_000,
      'its reading stored',
    );

    // A wrong secret, another device's secret and no secret are all CONNACK 4.
    const other = seeds.devices[0]!;
    expect(await refusalCode(platform, newLight.id, `${secret}x`)).toBe(4);
    expect(await refusalCode(platform, newLight.id, platform.deviceSecret(other.id))).toBe(4);
    expect(await refusalCode(platform, 'no-such-device', secret)).toBe(4);
    await expect(
      mosquittoPub(platform.mqttPort, deviceTopic('lighting', newLight.id, 'telemetry'), '{}', 1, {
        username: newLight.id,
        password: 'iocds_wrong',
      }),
    ).rejects.toThrow(/not authori[sz]ed|bad user name or password|Connection Refused/i);
  });

  it("device A publishing on B's topic with mosquitto_pub is refused: nothing stored, nothing delivered, counted", async () => {
    const [a, b] = seeds.devices.filter((d) => d.type === 'noise-meter');
    const watcher = await connectDevice(platform, b!.id, platform.deviceSecret(b!.id));
    const delivered: string[] = [];
    watcher.on('message', (topic) => delivered.push(topic));
    // B's own error topic is the only thing B may read; A's forgery must not land there either.
    await watcher.subscribeAsync(deviceTopic('env', b!.id, 'error'), { qos: 1 });
    const before = (await getJson(await platform.admin(), `${platform.httpUrl}/api/v1/ingest/stats`)).body;
    const forgedTs = Date.now() - 30_000;
    await mosquittoPub(
      platform.mqttPort,
      deviceTopic('env', b!.id, 'telemetry'),
      JSON.stringify({ ts: forgedTs, metrics: { laeq: 99 } }),
      1,
      { username: a!.id, password: platform.deviceSecret(a!.id) },
    );
    const rejected = (stats: Record<string, unknown>): number =>
      (stats['rejected'] as Record<string, number>)['forbidden-topic'] ?? 0;
    await eventually(
      async () => {
        const now = (await getJson(await platform.admin(), `${platform.httpUrl}/api/v1/ingest/stats`)).body;
        return rejected(now) === rejected(before) + 1 ? true : undefined;
      },
      10_000,
      'forbidden-topic counted once',
    );
    const { body } = await getJson(
      await platform.admin(),
      `${platform.httpUrl}/api/v1/devices/${b!.id}/latest`,
    );
    const laeq = (body['metrics'] as Record<string, { ts: number }> | undefined)?.['laeq'];
    expect(laeq?.ts).not.toBe(forgedTs);
    await watcher.endAsync();
    expect(delivered).toEqual([]);
  });

  it('suspending a device ends its live session at once and refuses it (CONNACK 5) until resumed; revoking ends it for good', async () => {
    const device = seeds.devices.find((d) => d.type === 'weather-station')!;
    const secret = platform.deviceSecret(device.id);
    const live = await liveClient(platform.httpUrl, await platform.admin());
    const statuses: DeviceStatus[] = [];
    live.socket.on('deviceStatus', (status: DeviceStatus) => statuses.push(status));
    try {
      await live.subscribe({ device: device.id });
      const client = await connectDevice(platform, device.id, secret);
      const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
      await eventually(
        async () => (statuses.some((s) => s.status === 'online') ? true : undefined),
        10_000,
        'online pushed live',
      );

      expect(
        (
          await send(
            await platform.admin(),
            'POST',
            `${platform.httpUrl}/api/v1/devices/${device.id}/suspend`,
          )
        ).status,
      ).toBe(200);
      await closed;
      expect(await refusalCode(platform, device.id, secret)).toBe(5);
      await eventually(
        async () =>
          statuses.some((s) => s.status === 'offline' && s.reason === 'suspended') ? true : undefined,
        10_000,
        'offline (suspended) pushed live',
      );
      const all = await getJson(
        await platform.admin(),
        `${platform.httpUrl}/api/v1/devices/status?type=weather-station`,
      );
      const entry = (all.body['items'] as Array<{ id: string; status: DeviceStatus }>).find(
        (i) => i.id === device.id,
      );
      expect(entry?.status).toMatchObject({ status: 'offline', reason: 'suspended' });

      expect(
        (await send(await platform.admin(), 'POST', `${platform.httpUrl}/api/v1/devices/${device.id}/resume`))
          .status,
      ).toBe(200);
      // Resumed from the answer on, no waiting.
      const again = await connectDevice(platform, device.id, secret);
      const closedAgain = new Promise<void>((resolve) => again.once('close', () => resolve()));
      const revoked = await send(
        await platform.admin(),
        'DELETE',
        `${platform.httpUrl}/api/v1/devices/${device.id}/credentials`,
      );
      expect(revoked).toMatchObject({ status: 200, body: { revoked: 1 } });
      await closedAgain;
      expect(await refusalCode(platform, device.id, secret)).toBe(4);
    } finally {
      live.close();
    }
  }, 60_000);

  describe('commands', () => {
    let sim: ChildProcess | undefined;
    let simOutput = '';
    const simulated = selectDevices(seeds.devices, 12);
    const light = simulated.find((d) => d.type === 'street-light')!;
    const offline = seeds.devices.find((d) => d.type === 'street-light' && !simulated.includes(d))!;

    beforeAll(async () => {
      const credentials = join(platform.dataDir, 'sim-credentials.json');
      writeFileSync(
        credentials,
        JSON.stringify(Object.fromEntries(simulated.map((d) => [d.id, platform.deviceSecret(d.id)]))),
        { mode: 0o600 },
      );
      sim = spawn(
        process.execPath,
        [
          '-r',
          REGISTER,
          SIM,
          '--broker',
          platform.mqttUrl,
          '--devices',
          '12',
          '--rate',
          '12',
          '--credentials',
          credentials,
          '--client-id-tag',
          'e2e',
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      sim.stdout?.on('data', (chunk: Buffer) => (simOutput += chunk.toString()));
      sim.stderr?.on('data', (chunk: Buffer) => (simOutput += chunk.toString()));
      // The simulated light is online (its connection authenticated) before commands are sent.
      await eventually(
        async () => {
          const { body } = await getJson(
            await platform.admin(),
            `${platform.httpUrl}/api/v1/devices/status?type=street-light`,
          );
          const entry = (body['items'] as Array<{ id: string; status: DeviceStatus }>).find(
            (i) => i.id === light.id,
          );
          return entry?.status.status === 'online' ? true : undefined;
        },
        20_000,
        `simulated ${light.id} online (simulator output: ${simOutput})`,
      );
    }, 60_000);

    afterAll(async () => {
      if (sim && sim.exitCode === null) {
        const exited = new Promise((resolve) => sim!.once('exit', resolve));
        sim.kill('SIGTERM');
        await exited;
      }
    });

    it('dims a simulated street light: acknowledged, recorded, pushed live, and its next telemetry carries the level', async () => {
      const live = await liveClient(platform.httpUrl, await platform.admin());
      const updates: CommandRecordBody[] = [];
      live.socket.on('command', (command: CommandRecordBody) => updates.push(command));
      try {
        await live.subscribe({ device: light.id });
        const sent = await send(
          await platform.admin(),
          'POST',
          `${platform.httpUrl}/api/v1/devices/${light.id}/commands`,
          {
            command: 'dim',
            params: { level: 40 },
          },
        );
        expect(sent.status).toBe(202);
        expect(sent.body).toMatchObject({
          deviceId: light.id,
          command: 'dim',
          params: { level: 40 },
          state: 'sent',
        });
        const id = String(sent.body['id']);
        const done = await eventually(
          async () => {
            const { body } = await getJson(
              await platform.admin(),
              `${platform.httpUrl}/api/v1/commands/${id}`,
            );
            return body['state'] === 'sent' ? undefined : body;
          },
          15_000,
          'the command answered',
        );
        expect(done).toMatchObject({ id, state: 'acknowledged', outcome: 'done' });
        const ackedAt = Date.parse(String(done['completedAt']));
        await eventually(
          async () => {
            const { body } = await getJson(
              await platform.admin(),
              `${platform.httpUrl}/api/v1/devices/${light.id}/latest`,
            );
            const level = (body['metrics'] as Record<string, { value: unknown; ts: number }>)[
              'illuminanceLevel'
            ];
            return level && level.ts > ackedAt && level.value === 0.4 ? true : undefined;
          },
          20_000,
          'telemetry with the new level',
        );
        await eventually(
          async () => (updates.some((u) => u.id === id && u.state === 'acknowledged') ? true : undefined),
          10_000,
          'the acknowledgement pushed live',
        );
        expect(updates.filter((u) => u.id === id).map((u) => u.state)).toEqual(['sent', 'acknowledged']);
        const listed = await getJson(
          await platform.admin(),
          `${platform.httpUrl}/api/v1/devices/${light.id}/commands`,
        );
        expect((listed.body['items'] as CommandRecordBody[])[0]).toMatchObject({ id, state: 'acknowledged' });
      } finally {
        live.close();
      }
    }, 60_000);

    it('refuses a command the device type does not take, and times out one to a device that is not connected', async () => {
      const refused = await send(
        await platform.admin(),
        'POST',
        `${platform.httpUrl}/api/v1/devices/${light.id}/commands`,
        {
          command: 'set-plan',
          params: { plan: 2 },
        },
      );
      expect(refused).toMatchObject({ status: 400, body: { parameter: 'command' } });
      const badLevel = await send(
        await platform.admin(),
        'POST',
        `${platform.httpUrl}/api/v1/devices/${light.id}/commands`,
        {
          command: 'dim',
          params: { level: 140 },
        },
      );
      expect(badLevel).toMatchObject({ status: 400, body: { parameter: 'params.level' } });

      const sent = await send(
        await platform.admin(),
        'POST',
        `${platform.httpUrl}/api/v1/devices/${offline.id}/commands`,
        {
          command: 'switch',
          params: { on: false },
          timeoutSeconds: 1,
        },
      );
      expect(sent.status).toBe(202);
      const timedOut = await eventually(
        async () => {
          const { body } = await getJson(
            await platform.admin(),
            `${platform.httpUrl}/api/v1/commands/${String(sent.body['id'])}`,
          );
          return body['state'] === 'timed-out' ? body : undefined;
        },
        10_000,
        'the command timed out',
      );
      expect(timedOut['outcome']).toBeUndefined();
    });

    it('a hung broker: a command fails with 503 within seconds instead of hanging, and /health turns 503', async () => {
      const pid = platform.broker.child.pid!;
      process.kill(pid, 'SIGSTOP');
      try {
        const started = Date.now();
        const sent = await send(
          await platform.admin(),
          'POST',
          `${platform.httpUrl}/api/v1/devices/${light.id}/commands`,
          {
            command: 'resume-schedule',
          },
        );
        expect(sent).toMatchObject({ status: 503, body: { reason: 'broker-unavailable' } });
        expect(Date.now() - started).toBeLessThan(15_000);
        const listed = await getJson(
          await platform.admin(),
          `${platform.httpUrl}/api/v1/devices/${light.id}/commands?limit=1`,
        );
        expect((listed.body['items'] as CommandRecordBody[])[0]).toMatchObject({
          command: 'resume-schedule',
          state: 'failed',
        });
        await eventually(
          async () => ((await fetch(`${platform.httpUrl}/health`)).status === 503 ? true : undefined),
          30_000,
          '/health 503 while the broker is hung',
        );
      } finally {
        process.kill(pid, 'SIGCONT');
      }
      await eventually(
        async () => ((await fetch(`${platform.httpUrl}/health`)).status === 200 ? true : undefined),
        30_000,
        '/health 200 again',
      );
    });
  });
});
