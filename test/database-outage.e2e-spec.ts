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

describeWithPostgres('the registry database stopped and started again (real processes)', () => {
  let postgres: PostgresHandle;
  let platform: RunningPlatform;

  beforeAll(async () => {
    postgres = await startPostgres();
    platform = await startPlatform({
      storage: 'embedded',
      env: { IOC_DATABASE_URL: await postgres.createDatabase('ioc_outage') },
    });
  });

  afterAll(async () => {
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

  const metricsLine = async (headers: Record<string, string>): Promise<string | undefined> => {
    const text = await (await fetch(`${platform.httpUrl}/metrics`, { headers })).text();
    return text.split('\n').find((line) => line.startsWith('ioc_api_database_up'));
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
  });
});
