import { connectAsync, type MqttClient } from 'mqtt';
import { type Device, deviceTopic } from '@ioc/contracts';
import { DeviceRegistry, loadSeeds } from '@ioc/registry';
import {
  describeWithPostgres,
  eventually,
  type PostgresHandle,
  type RunningPlatform,
  startPlatform,
  startPostgres,
} from '@ioc/testing';

/*
 * The registry database (PostgreSQL, IOC_DATABASE_URL) stopped under a running platform (issue 12,
 * D6): a request that needs it answers 503 `database-unavailable` with Retry-After — not a bare
 * 500 —, /health answers 503 naming the database and /metrics says `ioc_api_database_up 0`; once
 * PostgreSQL is back, all of it recovers without a restart.
 */

jest.setTimeout(180_000);

const counter = new DeviceRegistry(loadSeeds()).listDevices({ type: 'traffic-counter' })[0] as Device;

/** The lines of a process's output (pino JSON) whose `msg` starts with `message`. */
const linesOf = (output: string, message: string): string[] =>
  output.split('\n').filter((line) => line.includes(`"msg":"${message}`));

describeWithPostgres('the registry database stopped and started again (real processes)', () => {
  let postgres: PostgresHandle;
  let platform: RunningPlatform;
  let device: MqttClient | undefined;

  beforeAll(async () => {
    postgres = await startPostgres();
    platform = await startPlatform({
      storage: 'embedded',
      env: { IOC_DATABASE_URL: await postgres.createDatabase('ioc_outage') },
    });
  });

  afterAll(async () => {
    await device?.endAsync();
    await platform?.stop();
    await postgres?.stop();
  });

  /** An admin request to a route that reads the registry database (the alert list). */
  const alerts = async (headers: Record<string, string>): Promise<Response> =>
    fetch(`${platform.httpUrl}/api/v1/alerts?limit=1`, { headers });

  const health = async (): Promise<{ status: number; body: Record<string, unknown> }> => {
    const response = await fetch(`${platform.httpUrl}/health`);
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };

  const metricsLine = async (
    headers: Record<string, string>,
    metric = 'ioc_api_database_up',
  ): Promise<string | undefined> => {
    const text = await (await fetch(`${platform.httpUrl}/metrics`, { headers })).text();
    return text.split('\n').find((line) => line.startsWith(`${metric} `));
  };

  it('answers 503 database-unavailable and /health 503 during the outage, and 200s after it', async () => {
    const admin = await platform.admin();
    expect((await alerts(admin.headers)).status).toBe(200);
    expect(await health()).toMatchObject({
      status: 200,
      body: { status: 'ok', database: { kind: 'postgres', up: true } },
    });
    expect(await metricsLine(admin.headers)).toBe('ioc_api_database_up 1');

    await postgres.stopServer();
    try {
      const refused = await eventually(
        async () => {
          const response = await alerts(admin.headers);
          return response.status === 503 ? response : undefined;
        },
        20_000,
        'a registry read answered 503 while PostgreSQL is stopped',
      );
      const body = (await refused.json()) as Record<string, unknown>;
      expect(body).toMatchObject({
        statusCode: 503,
        reason: 'database-unavailable',
        message: expect.stringContaining('registry database cannot be reached'),
        correlationId: expect.any(String),
      });
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
      const down = await eventually(
        async () => {
          const answer = await health();
          return answer.status === 503 ? answer : undefined;
        },
        10_000,
        '/health 503 while PostgreSQL is stopped',
      );
      expect(down.body).toMatchObject({
        status: 'degraded',
        broker: { connected: true },
        database: { kind: 'postgres', up: false, reason: 'database-unavailable' },
      });
      // No request answered 500 during the outage: the API's log has no unhandled error; the
      // periodic tasks on the database log the outage once each, not at every period.
      expect(platform.api.output()).not.toContain('"msg":"unhandled error"');
      await eventually(
        async () =>
          platform.api.output().includes('notifier pass: the registry database') ? true : undefined,
        10_000,
        "the notifier's outage logged",
      );
      for (const output of [platform.api.output(), platform.broker.output()]) {
        expect(output).not.toContain('"msg":"notifier pass failed');
        expect(output).not.toContain('"msg":"registry refresh failed');
      }
      // A device's reading during the outage: the broker writes the device's status (retried at
      // every 0.5 s flush) and the alert engine commits its cursor (retried with backoff), both
      // to the stopped database; the API sweeps timed-out commands every second. Each logs the
      // outage once (warn), never an error line per attempt.
      device = await connectAsync(platform.mqttUrl, {
        clientId: `${counter.id}-outage`,
        username: counter.id,
        password: platform.deviceSecret(counter.id),
        reconnectPeriod: 0,
      });
      await device.publishAsync(
        deviceTopic('traffic', counter.id, 'telemetry'),
        JSON.stringify({ ts: Date.now() - 1000, metrics: { intensity: 3 } }),
        { qos: 1 },
      );
      const outageLogged = (output: () => string, task: string): Promise<true> =>
        eventually(
          async () => (linesOf(output(), `${task}: the registry database`).length > 0 ? true : undefined),
          15_000,
          `the ${task}'s outage logged`,
        );
      await outageLogged(() => platform.broker.output(), 'device status write');
      await outageLogged(() => platform.broker.output(), 'alert engine commit');
      await outageLogged(() => platform.api.output(), 'command timeout sweep');
      // Watched for 3 s more — six status flushes (0.5 s), three sweeps (1 s), the commit's
      // backoff (0.2, 0.4, 0.8, 1.6 s) — each task has still logged its outage once, no error line.
      // (An absence cannot be awaited: this watches a span, failing as soon as a repeat shows.)
      const repeated = (): boolean =>
        [
          ...linesOf(platform.broker.output(), 'device status write'),
          ...linesOf(platform.broker.output(), 'alert engine commit'),
          ...linesOf(platform.api.output(), 'command timeout sweep'),
        ].length > 3;
      for (const end = Date.now() + 3000; Date.now() < end && !repeated();)
        await new Promise((resolve) => setTimeout(resolve, 100));
      const broker = platform.broker.output();
      const api = platform.api.output();
      expect(linesOf(broker, 'device status write')).toHaveLength(1);
      expect(linesOf(broker, 'device lastSeen write failed')).toEqual([]);
      expect(linesOf(broker, 'alert engine commit')).toHaveLength(1);
      expect(linesOf(api, 'command timeout sweep')).toHaveLength(1);
      for (const line of [
        ...linesOf(broker, 'device status write'),
        ...linesOf(broker, 'alert engine commit'),
        ...linesOf(api, 'command timeout sweep'),
      ])
        expect(line).toContain('"level":40');
    } catch (error) {
      const tail = (text: string): string => text.split('\n').slice(-40).join('\n');
      throw new Error(
        `${(error as Error).message}\nAPI:\n${tail(platform.api.output())}\nbroker:\n${tail(platform.broker.output())}`,
      );
    } finally {
      await postgres.startServer();
    }

    await eventually(
      async () => ((await health()).status === 200 ? true : undefined),
      20_000,
      '/health 200 again once PostgreSQL is back',
    );
    expect((await health()).body).toMatchObject({ database: { kind: 'postgres', up: true } });
    const again = await eventually(
      async () => {
        const response = await alerts(admin.headers);
        return response.status === 200 ? response : undefined;
      },
      20_000,
      'the registry read answered 200 again',
    );
    expect(again.status).toBe(200);
    expect(await metricsLine(admin.headers)).toBe('ioc_api_database_up 1');
    // The processes rode the outage out.
    expect(platform.api.child.exitCode).toBeNull();
    expect(platform.broker.child.exitCode).toBeNull();
    expect(platform.api.output()).toContain('registry database reachable again');
    // …and each task logs the outage's end once (info) at its next success.
    await eventually(
      async () =>
        linesOf(platform.api.output(), 'command timeout sweep: the registry database answers again')
          .length === 1 &&
        linesOf(platform.broker.output(), 'alert engine commit: the registry database answers again')
          .length === 1
          ? true
          : undefined,
      20_000,
      "the sweep's and the alert engine's recovery logged once",
    );
  });
});
