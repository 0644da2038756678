import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Reading } from '@ioc/contracts';
// The storage lib's own tests need the real-server harness; @ioc/testing is a test-only library
// (type:testing) and nothing outside *.spec.ts files imports it.
import { describeWithInfluxd, freePort, type InfluxdHandle, startInfluxd } from '@ioc/testing';
import {
  describeTimeSeriesStoreConformance,
  KEEP_EVERYTHING,
} from './conformance/time-series-store.conformance';
import { createTimeSeriesStore } from './create-time-series-store';
import { InvalidQueryError, InvalidReadingError } from './errors';
import { InfluxDbError, InfluxTimeSeriesStore } from './influx-time-series.store';
import { CONTINUOUS_QUERY_NAMES, rollupSelect } from './influx-rollups';
import { quoteIdentifier, quoteString } from './influxql';
import { DEFAULT_RETENTION } from './retention';
import type { SeriesQuery } from './time-series-store';

const T0 = Date.UTC(2026, 10, 27, 8, 0, 0);
function reading(deviceId: string, ts: number, metrics: Reading['metrics']): Reading {
  return {
    deviceId,
    deviceType: 'noise-meter',
    domain: 'env',
    kind: 'telemetry',
    areaId: 'ward-3',
    areaPath: ['province', 'ward-3'],
    location: { lat: 21, lon: 105 },
    ts,
    metrics,
  };
}

interface QueryAnswer {
  results?: { error?: string; series?: { columns: string[]; values?: unknown[][] }[] }[];
  error?: string;
}

/** A raw InfluxQL query, bypassing the store: the test's independent view of the server. */
async function rawQuery(url: string, database: string, q: string): Promise<QueryAnswer> {
  const response = await fetch(`${url}/query?${new URLSearchParams({ db: database, epoch: 'ms' })}`, {
    method: 'POST',
    body: new URLSearchParams({ q }),
  });
  return (await response.json()) as QueryAnswer;
}

/** Rows of the first series of the first result, as column → value records. */
function rowsOf(answer: QueryAnswer): Record<string, unknown>[] {
  const series = answer.results?.[0]?.series ?? [];
  return series.flatMap((s) =>
    (s.values ?? []).map((v) => Object.fromEntries(s.columns.map((c, i) => [c, v[i]]))),
  );
}

const MINUTE = 60_000;
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** InfluxDB's rendering of a whole number of hours, as SHOW RETENTION POLICIES prints it. */
const hours = (ms: number) => (ms === Number.POSITIVE_INFINITY ? '0s' : `${ms / HOUR}h0m0s`);

/**
 * An HTTP proxy in front of influxd that holds every `/write` for `writeDelayMs` before passing it
 * on (a server slow to take writes, as under load) and passes everything else at once.
 * `writeArrived` resolves when the first write reaches it, i.e. is in flight.
 */
async function slowWritesProxy(
  target: string,
  writeDelayMs: number,
): Promise<{ url: string; writeArrived: Promise<void>; close(): Promise<void> }> {
  let arrived: () => void = () => undefined;
  const writeArrived = new Promise<void>((resolve) => (arrived = resolve));
  const proxy = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const isWrite = request.url?.startsWith('/write') ?? false;
      if (isWrite) arrived();
      setTimeout(
        () => {
          const headers: Record<string, string> = {};
          for (const name of ['content-type', 'accept', 'authorization']) {
            const value = request.headers[name];
            if (typeof value === 'string') headers[name] = value;
          }
          fetch(`${target}${request.url ?? '/'}`, {
            method: request.method ?? 'GET',
            headers,
            ...(chunks.length > 0 ? { body: Buffer.concat(chunks) } : {}),
          })
            .then(async (answer) => {
              const body = Buffer.from(await answer.arrayBuffer());
              response.writeHead(answer.status, {
                'content-type': answer.headers.get('content-type') ?? 'text/plain',
              });
              response.end(body);
            })
            .catch(() => response.destroy());
        },
        isWrite ? writeDelayMs : 0,
      );
    });
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  const { port } = proxy.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    writeArrived,
    close: () =>
      new Promise<void>((resolve) => {
        proxy.closeAllConnections();
        proxy.close(() => resolve());
      }),
  };
}

/**
 * An HTTP proxy in front of influxd that answers a multi-statement GET /query as InfluxDB 1.x
 * was seen to in CI when one of its statements failed: every other statement "not executed", the
 * failing statement's own error left out. Single statements (and everything else) pass through.
 */
async function lostErrorProxy(
  target: string,
): Promise<{ url: string; rewritten: () => number; close(): Promise<void> }> {
  let rewritten = 0;
  const proxy = createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://proxy');
    const q = url.searchParams.get('q') ?? '';
    if (request.method === 'GET' && url.pathname === '/query' && q.includes(';')) {
      rewritten += 1;
      const others = q.split(';').slice(1);
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(
        JSON.stringify({ results: others.map((_, i) => ({ statement_id: i + 1, error: 'not executed' })) }),
      );
      return;
    }
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const headers: Record<string, string> = {};
      for (const name of ['content-type', 'accept']) {
        const value = request.headers[name];
        if (typeof value === 'string') headers[name] = value;
      }
      fetch(`${target}${request.url ?? '/'}`, {
        method: request.method ?? 'GET',
        headers,
        ...(chunks.length > 0 ? { body: Buffer.concat(chunks) } : {}),
      })
        .then(async (answer) => {
          response.writeHead(answer.status, {
            'content-type': answer.headers.get('content-type') ?? 'text/plain',
          });
          response.end(Buffer.from(await answer.arrayBuffer()));
        })
        .catch(() => response.destroy());
    });
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  const { port } = proxy.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    rewritten: () => rewritten,
    close: () =>
      new Promise<void>((resolve) => {
        proxy.closeAllConnections();
        proxy.close(() => resolve());
      }),
  };
}

describeWithInfluxd('InfluxTimeSeriesStore against a real influxd', () => {
  let influxd: InfluxdHandle | undefined;
  let databases = 0;
  const stores: InfluxTimeSeriesStore[] = [];
  /** Background maintenance failures of all stores: none is expected while influxd runs. */
  const maintenanceErrors: Error[] = [];
  const server = (): InfluxdHandle => {
    if (influxd === undefined) throw new Error('influxd did not start (see beforeAll)');
    return influxd;
  };
  const newStore = (options: Partial<ConstructorParameters<typeof InfluxTimeSeriesStore>[0]> = {}) => {
    databases += 1;
    const store = new InfluxTimeSeriesStore({
      url: server().url,
      database: `ioc_test_${databases}`,
      onMaintenanceError: (error) => maintenanceErrors.push(error),
      ...options,
    });
    stores.push(store);
    return store;
  };

  beforeAll(async () => {
    influxd = await startInfluxd();
  }, 30_000);

  afterAll(async () => {
    await Promise.all(stores.map((store) => store.close()));
    await influxd?.stop();
  }, 30_000);

  describeTimeSeriesStoreConformance('influxdb (v1 HTTP API, InfluxDB 1.x)', async () => {
    const store = newStore({ retention: KEEP_EVERYTHING });
    return { store, teardown: () => store.close() };
  });

  describe('rollups and retention on InfluxDB 1.x', () => {
    const database = () => `ioc_test_${databases}`;

    it('creates the retention policies with the configured durations, and alters them when they change', async () => {
      const store = newStore();
      await store.init();
      const policies = async () =>
        rowsOf(
          await rawQuery(
            server().url,
            database(),
            `SHOW RETENTION POLICIES ON ${quoteIdentifier(database())}`,
          ),
        ).map((row) => [row['name'], row['duration'], row['shardGroupDuration'], row['default']]);
      expect(await policies()).toEqual([
        ['autogen', hours(DEFAULT_RETENTION.rawMs), '24h0m0s', true],
        ['rp_1m', hours(DEFAULT_RETENTION.oneMinuteMs), '168h0m0s', false],
        ['rp_1h', hours(DEFAULT_RETENTION.oneHourMs), '720h0m0s', false],
      ]);
      await store.init(); // idempotent

      const retention = { rawMs: 2 * HOUR, oneMinuteMs: 3 * DAY, oneHourMs: 400 * DAY };
      const changed = new InfluxTimeSeriesStore({
        url: server().url,
        database: database(),
        retention,
        retentionPolicy: 'raw',
      });
      stores.push(changed);
      await changed.init();
      expect(await policies()).toEqual([
        ['autogen', hours(DEFAULT_RETENTION.rawMs), '24h0m0s', true],
        ['rp_1m', hours(retention.oneMinuteMs), '24h0m0s', false],
        ['rp_1h', hours(retention.oneHourMs), '168h0m0s', false],
        ['raw', hours(retention.rawMs), '1h0m0s', false],
      ]);
      expect(() => newStore({ retention: { rawMs: 30 * MINUTE } })).toThrow(/>= 3600000/);
    });

    it('creates the continuous queries once, replacing them when their definition changes', async () => {
      const store = newStore();
      await store.init();
      const cqs = async () => {
        const answer = await rawQuery(server().url, database(), 'SHOW CONTINUOUS QUERIES');
        return (answer.results?.[0]?.series ?? [])
          .filter((s) => (s as { name?: string }).name === database())
          .flatMap((s) => (s.values ?? []).map((v) => [v[0], v[1]]));
      };
      const defined = await cqs();
      expect(defined.map(([name]) => name)).toEqual([
        CONTINUOUS_QUERY_NAMES['1m'],
        CONTINUOUS_QUERY_NAMES['1h'],
      ]);
      expect(String(defined[0]?.[1])).toMatch(
        /RESAMPLE EVERY 1m FOR 10m BEGIN SELECT sum\(\*\), count\(\*\), min\(\*\), max\(\*\) INTO .*rp_1m.*readings_1m FROM .*autogen.*readings GROUP BY time\(1m\), \* END/,
      );
      expect(String(defined[1]?.[1])).toMatch(
        /RESAMPLE EVERY 10m FOR 2h BEGIN SELECT sum\(\/\^\(sum\|count\)_\/\), min\(\/\^min_\/\), max\(\/\^max_\/\) INTO .*rp_1h.*readings_1h FROM .*rp_1m.*readings_1m GROUP BY time\(1h\), \* END/,
      );
      // Another raw retention policy: the minute CQ must now read from it.
      const moved = new InfluxTimeSeriesStore({
        url: server().url,
        database: database(),
        retentionPolicy: 'raw',
      });
      stores.push(moved);
      await moved.init();
      const replaced = new Map((await cqs()).map(([name, text]) => [name, String(text)]));
      expect([...replaced.keys()].sort()).toEqual([
        CONTINUOUS_QUERY_NAMES['1h'],
        CONTINUOUS_QUERY_NAMES['1m'],
      ]);
      expect(replaced.get(CONTINUOUS_QUERY_NAMES['1m'])).toMatch(/FROM .*\.raw\.readings GROUP BY/);
    });

    it('rolls up numbers only: text and booleans neither break the rollup statements nor become sums', async () => {
      const store = newStore({ retention: { rawMs: Infinity } });
      await store.init();
      const t = Math.floor(Date.now() / HOUR) * HOUR - 2 * DAY;
      await store.write([
        reading('mixed', t + 1000, { pm25: 10, online: true, mode: 'auto' }),
        reading('mixed', t + 2000, { pm25: 20, online: false, mode: 'manual' }),
      ]);
      // The CQ bodies themselves, over all time, as InfluxDB would run them.
      for (const resolution of ['1m', '1h'] as const) {
        const answer = await rawQuery(
          server().url,
          database(),
          rollupSelect(resolution, database(), 'autogen'),
        );
        expect(answer.error ?? answer.results?.[0]?.error).toBeUndefined();
      }
      const fields = async (measurement: string) =>
        rowsOf(await rawQuery(server().url, database(), `SHOW FIELD KEYS FROM ${measurement}`)).map(
          (r) => r['fieldKey'],
        );
      expect(await fields('"rp_1m"."readings_1m"')).toEqual(
        expect.arrayContaining(['sum_pm25', 'count_pm25', 'min_pm25', 'max_pm25']),
      );
      expect(await fields('"rp_1m"."readings_1m"')).not.toEqual(expect.arrayContaining(['sum_online']));
      expect(await fields('"rp_1m"."readings_1m"')).not.toEqual(expect.arrayContaining(['sum_mode']));
      expect(await fields('"rp_1h"."readings_1h"')).toEqual(
        expect.arrayContaining(['sum_sum_pm25', 'sum_count_pm25', 'min_min_pm25', 'max_max_pm25']),
      );
      expect(
        rowsOf(
          await rawQuery(
            server().url,
            database(),
            'SELECT "sum_sum_pm25", "sum_count_pm25", "min_min_pm25", "max_max_pm25" FROM "rp_1h"."readings_1h"',
          ),
        ),
      ).toEqual([{ time: t, sum_sum_pm25: 30, sum_count_pm25: 2, min_min_pm25: 10, max_max_pm25: 20 }]);
    });

    it('brings writes the CQs have not run over yet into the rollups on compact()', async () => {
      const store = newStore();
      await store.init();
      const now = Date.now();
      await store.write([
        reading('fresh', now - 2 * MINUTE, { laeq: 40 }),
        reading('fresh', now - 2 * MINUTE + 1, { laeq: 60 }),
      ]);
      await store.compact();
      const minute = Math.floor((now - 2 * MINUTE) / MINUTE) * MINUTE;
      expect(
        rowsOf(
          await rawQuery(
            server().url,
            database(),
            'SELECT "sum_laeq", "count_laeq" FROM "rp_1m"."readings_1m"',
          ),
        ),
      ).toEqual(
        // Both points, unless the minute straddles: then each in its own bucket.
        minute === Math.floor((now - 2 * MINUTE + 1) / MINUTE) * MINUTE
          ? [{ time: minute, sum_laeq: 100, count_laeq: 2 }]
          : [
              { time: minute, sum_laeq: 40, count_laeq: 1 },
              { time: minute + MINUTE, sum_laeq: 60, count_laeq: 1 },
            ],
      );
    });

    it('rolls up late writes in the background, without compact()', async () => {
      const store = newStore({ maintenanceIntervalMs: 50 });
      await store.init();
      const hour = Math.floor(Date.now() / HOUR) * HOUR - 3 * DAY;
      await store.write([
        reading('replayed', hour + 5 * MINUTE, { laeq: 55 }),
        reading('replayed', hour + 50 * MINUTE, { laeq: 65 }),
      ]);
      const query = {
        deviceIds: ['replayed'],
        metric: 'laeq',
        from: hour,
        to: hour + HOUR,
        everyMs: HOUR,
        fn: 'mean' as const,
        resolution: '1h' as const,
      };
      const deadline = Date.now() + 10_000;
      let answer = await store.series(query);
      while (answer.points.length === 0 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 50));
        answer = await store.series(query);
      }
      expect(answer).toEqual({ resolution: '1h', points: [{ ts: hour, value: 60, count: 2 }] });
    });

    it('lets another process read late hours before they are rolled up, and a restart finish them', async () => {
      const broker = newStore({ maintenanceIntervalMs: 0 });
      await broker.init();
      const api = new InfluxTimeSeriesStore({
        url: server().url,
        database: database(),
        maintenanceIntervalMs: 0,
      });
      stores.push(api);
      await api.init();
      const hour = Math.floor(Date.now() / HOUR) * HOUR - 2 * DAY;
      const readings = [
        reading('backlog', hour + 10 * MINUTE, { laeq: 30 }),
        reading('backlog', hour + 20 * MINUTE, { laeq: 60 }),
      ];
      await broker.write(readings);
      const query = {
        deviceIds: ['backlog'],
        metric: 'laeq',
        from: hour - HOUR,
        to: hour + 2 * HOUR,
        everyMs: HOUR,
        fn: 'mean' as const,
      };
      const expected = { resolution: '1h', points: [{ ts: hour, value: 45, count: 2 }] };
      // Not rolled up yet: the API, which wrote nothing, still answers exactly (from raw points).
      await expect(api.series(query)).resolves.toEqual(expected);
      const rollup = async () =>
        rowsOf(
          await rawQuery(
            server().url,
            database(),
            'SELECT "sum_sum_laeq", "sum_count_laeq" FROM "rp_1h"."readings_1h"',
          ),
        );
      expect(await rollup()).toEqual([]);

      // The broker stops before rolling up; the next one finds the hour in the markers.
      await broker.close();
      const restarted = new InfluxTimeSeriesStore({
        url: server().url,
        database: database(),
        maintenanceIntervalMs: 0,
      });
      stores.push(restarted);
      await restarted.init();
      await restarted.compact();
      expect(await rollup()).toEqual([{ time: hour, sum_sum_laeq: 90, sum_count_laeq: 2 }]);
      await expect(api.series(query)).resolves.toEqual(expected);
      await expect(api.series({ ...query, resolution: '1m' })).resolves.toEqual({
        ...expected,
        resolution: '1m',
      });
    });

    it("finds the real error when InfluxDB answers a failed multi-statement query with only 'not executed'", async () => {
      const plain = newStore({ maintenanceIntervalMs: 0 });
      await plain.init();
      const now = Date.now();
      await plain.write([
        reading('lost-error', now - 2 * DAY, { mode: 'auto' }),
        reading('lost-error', now - 10 * MINUTE, { mode: 'manual' }),
      ]);
      const proxy = await lostErrorProxy(server().url);
      try {
        const store = newStore({
          url: proxy.url,
          database: `ioc_test_${databases}`,
          maintenanceIntervalMs: 0,
        });
        const query = {
          deviceIds: ['lost-error'],
          metric: 'mode',
          from: now - 3 * DAY,
          to: now,
          everyMs: HOUR,
        };
        await expect(store.series({ ...query, fn: 'mean' })).rejects.toThrow(/non-numeric/);
        expect(proxy.rewritten()).toBeGreaterThan(0); // the query was several statements, answered as in CI
      } finally {
        await proxy.close();
      }
    });

    it('rolls up no hour before the writes that put it in the backlog have landed', async () => {
      // InfluxDB slow to take writes (as under load): the late hour is in the backlog while its
      // points are still on their way. A rollup computed then would be empty, and its "rolled"
      // marker would send every reader to it.
      const proxy = await slowWritesProxy(server().url, 300);
      try {
        const store = newStore({ url: proxy.url, maintenanceIntervalMs: 0 });
        await store.init();
        const hour = Math.floor(Date.now() / HOUR) * HOUR - 2 * DAY;
        const written = store.write([
          reading('in-flight', hour + 10 * MINUTE, { laeq: 30 }),
          reading('in-flight', hour + 40 * MINUTE, { laeq: 60 }),
        ]);
        await proxy.writeArrived;
        await store.compact();
        await written;
        const query = {
          deviceIds: ['in-flight'],
          metric: 'laeq',
          from: hour,
          to: hour + HOUR,
          everyMs: HOUR,
          fn: 'mean' as const,
        };
        await expect(store.series({ ...query, resolution: '1h' })).resolves.toEqual({
          resolution: '1h',
          points: [{ ts: hour, value: 45, count: 2 }],
        });
        await expect(store.series({ ...query, everyMs: 30 * MINUTE, resolution: '1m' })).resolves.toEqual({
          resolution: '1m',
          points: [
            { ts: hour, value: 30, count: 1 },
            { ts: hour + 30 * MINUTE, value: 60, count: 1 },
          ],
        });
      } finally {
        await proxy.close();
      }
    });

    it('accepts a batch with points older than the raw retention, keeping the others', async () => {
      const store = newStore({ retention: { rawMs: 2 * HOUR } });
      await store.init();
      const now = Date.now();
      await expect(
        store.write([reading('ret', now - 3 * DAY, { laeq: 1 }), reading('ret', now - MINUTE, { laeq: 2 })]),
      ).resolves.toBeUndefined();
      await store.compact();
      await expect(store.history({ deviceId: 'ret', metric: 'laeq', from: 0, to: now })).resolves.toEqual([
        { ts: now - MINUTE, value: 2 },
      ]);
    });

    it('answers from raw points only when the store keeps no rollups', async () => {
      const store = newStore({ rollups: 'none' });
      await store.init();
      const t = Math.floor(Date.now() / HOUR) * HOUR - DAY;
      await store.write([reading('plain', t + 1000, { laeq: 50 }), reading('plain', t + 2000, { laeq: 70 })]);
      const query = {
        deviceIds: ['plain'],
        metric: 'laeq',
        from: t,
        to: t + HOUR,
        everyMs: HOUR,
        fn: 'mean' as const,
      };
      await expect(store.series(query)).resolves.toEqual({
        resolution: 'raw',
        points: [{ ts: t, value: 60, count: 2 }],
      });
      await expect(store.series({ ...query, resolution: '1h' })).rejects.toThrow(/keeps no 1h rollups/);
      const answer = await rawQuery(server().url, database(), 'SHOW CONTINUOUS QUERIES');
      const mine = (answer.results?.[0]?.series ?? []).filter(
        (s) => (s as { name?: string }).name === database(),
      );
      expect(mine.flatMap((s) => s.values ?? [])).toEqual([]);
    });

    it('reads the same answers whether InfluxDB sends them as MessagePack or as JSON', async () => {
      // A store managing its database asks InfluxDB 1.x for MessagePack; one that does not (the
      // 2.x/3.x setting) asks for JSON. Both read the same database here.
      const packed = newStore({ retention: KEEP_EVERYTHING });
      await packed.init();
      const json = new InfluxTimeSeriesStore({
        url: server().url,
        database: database(),
        createDatabase: false,
        rollups: 'external',
        retention: KEEP_EVERYTHING,
      });
      stores.push(json);
      await json.init();
      const t = Math.floor(Date.now() / DAY) * DAY - 3 * DAY;
      const readings = Array.from({ length: 400 }, (_, i) =>
        reading(i % 3 === 0 ? 'mp-a' : 'mp-b', t + i * 37_123, {
          laeq: 40 + ((i * 7.31) % 30),
          peak: i * 1_000_003,
          online: i % 5 !== 0,
          label: `é${i}\u{1F600}`.repeat(1 + (i % 40)),
        }),
      );
      await packed.write(readings);
      await packed.compact();
      const range = { deviceIds: ['mp-a', 'mp-b'], from: t, to: t + DAY };
      const queries: SeriesQuery[] = [
        { ...range, metric: 'laeq' },
        { ...range, metric: 'label', limit: 50 },
        { ...range, metric: 'online', everyMs: HOUR, fn: 'last' },
        { ...range, metric: 'laeq', everyMs: MINUTE, fn: 'mean' },
        { ...range, metric: 'laeq', everyMs: HOUR, fn: 'max' },
        { ...range, metric: 'peak', everyMs: 6 * HOUR, fn: 'min', offsetMs: 7 * HOUR },
      ];
      for (const query of queries) {
        const answer = await packed.series(query);
        expect(answer.points.length).toBeGreaterThan(0);
        await expect(json.series(query)).resolves.toStrictEqual(answer);
      }
      const history = { deviceId: 'mp-a', from: t, to: t + DAY };
      for (const metric of ['laeq', 'peak', 'online', 'label']) {
        await expect(json.history({ ...history, metric })).resolves.toStrictEqual(
          await packed.history({ ...history, metric }),
        );
      }
      const metrics = ['laeq', 'peak', 'online', 'label', 'never'];
      await expect(json.latest('mp-b', metrics)).resolves.toStrictEqual(await packed.latest('mp-b', metrics));
      await expect(
        packed.series({ ...range, metric: 'online', everyMs: MINUTE, fn: 'max' }),
      ).rejects.toBeInstanceOf(InvalidQueryError);
    });

    afterAll(() => {
      expect(maintenanceErrors).toEqual([]);
    });
  });

  describe('InfluxQL quoting, checked by the real InfluxQL parser', () => {
    const values = [
      'plain',
      "it's",
      'say "hi"',
      'back\\slash',
      'trailing\\',
      '\\',
      '\\\\',
      "\\'",
      '\\"',
      'new\nline',
      '\n',
      'tab\there',
      "'; DROP DATABASE x; --",
      '"; DROP MEASUREMENT readings; --',
      '.*',
      '/.*/',
      '^$|()[]{}+?',
      'ü 日本 😀',
      ` ${'\'"\\;\n'.repeat(2000)} `, // 10 kB of nothing but dangerous characters
    ];

    it('quoteIdentifier(v) names a column exactly v', async () => {
      const store = newStore();
      await store.init();
      const database = `ioc_test_${databases}`;
      await store.write([reading('probe', T0, { m: 1 })]);
      for (const value of values) {
        const answer = await rawQuery(
          server().url,
          database,
          `SELECT ${quoteIdentifier('m')}::field AS ${quoteIdentifier(value)} FROM "readings"`,
        );
        expect(answer.error ?? answer.results?.[0]?.error).toBeUndefined();
        expect(answer.results?.[0]?.series?.[0]?.columns).toEqual(['time', value]);
      }
    });

    it('quoteString(v) matches exactly the string v and nothing else', async () => {
      const store = newStore();
      await store.init();
      const database = `ioc_test_${databases}`;
      // One point per value, its text in a string field; plus decoys that differ by one escape.
      const texts = [...values, ...values.map((v) => `${v}\\`), ...values.map((v) => `\\${v}`)];
      await store.write(texts.map((text, i) => reading('probe', T0 + i, { text })));
      for (const value of values) {
        const expected = texts.flatMap((text, i) => (text === value ? [[T0 + i, text]] : []));
        expect(expected.length).toBeGreaterThan(0);
        const answer = await rawQuery(
          server().url,
          database,
          `SELECT "text"::field FROM "readings" WHERE "text"::field = ${quoteString(value)}`,
        );
        expect(answer.error ?? answer.results?.[0]?.error).toBeUndefined();
        expect(answer.results?.[0]?.series?.[0]?.values).toEqual(expected);
      }
    });
  });

  describe('errors', () => {
    it('rejects a write with the HTTP status and InfluxDB message', async () => {
      const missing = newStore(); // init() never called: the database does not exist
      const error = await missing.write([reading('d', T0, { laeq: 55 })]).catch((err: unknown) => err);
      expect(error).toBeInstanceOf(InfluxDbError);
      expect(error).toMatchObject({
        status: 404,
        influxMessage: expect.stringMatching(/database not found/),
      });

      const store = newStore();
      await store.init();
      await store.write([reading('d', T0, { laeq: 55 })]);
      // Same metric, other type: InfluxDB refuses the field type conflict and the store says so.
      const conflict = await store
        .write([reading('d', T0 + 1, { laeq: 'loud' })])
        .catch((err: unknown) => err);
      expect(conflict).toBeInstanceOf(InfluxDbError);
      expect(conflict).toMatchObject({
        status: 400,
        influxMessage: expect.stringMatching(/field type conflict/),
      });
    });

    it('reports a server that is not there: ping() false, writes rejected without a status', async () => {
      const nowhere = new InfluxTimeSeriesStore({
        url: `http://127.0.0.1:${await freePort()}`,
        database: 'x',
      });
      try {
        await expect(nowhere.ping()).resolves.toBe(false);
        const error = await nowhere.write([reading('d', T0, { laeq: 55 })]).catch((err: unknown) => err);
        expect(error).toBeInstanceOf(InfluxDbError);
        expect(error).toMatchObject({ status: undefined, message: expect.stringMatching(/ECONNREFUSED/) });
        await expect(nowhere.init()).rejects.toBeInstanceOf(InfluxDbError);
      } finally {
        await nowhere.close();
      }
    });

    it('refuses names line protocol cannot carry, naming the reading, and writes nothing', async () => {
      const store = newStore();
      await store.init();
      const good = reading('good', T0, { laeq: 50 });
      for (const bad of [reading('back\\slash', T0, { laeq: 1 }), reading('ok', T0, { 'new\nline': 1 })]) {
        const error = await store.write([good, bad]).catch((err: unknown) => err);
        expect(error).toBeInstanceOf(InvalidReadingError);
        expect(error).toMatchObject({ readingIndex: 1 });
      }
      await expect(store.latest('good', ['laeq'])).resolves.toStrictEqual({});
    });
  });

  it('is what createTimeSeriesStore builds for storage: influxdb', async () => {
    const store = createTimeSeriesStore({ storage: 'influxdb', url: server().url, database: 'ioc_factory' });
    try {
      expect(store.kind).toBe('influxdb');
      await store.init();
      await store.write([reading('f', T0, { laeq: 61.5 })]);
      await expect(store.latest('f', ['laeq'])).resolves.toStrictEqual({ laeq: { value: 61.5, ts: T0 } });
    } finally {
      await store.close();
    }
  });

  it('keeps acknowledged writes when influxd is killed (SIGKILL) and restarted', async () => {
    const store = newStore();
    await store.init();
    const readings = Array.from({ length: 500 }, (_, i) =>
      reading('crash', T0 + i * 1000, { laeq: 30 + i / 10 }),
    );
    await store.write(readings); // acknowledged: must survive a crash right after
    await server().stopProcess({ signal: 'SIGKILL' });
    await server().startProcess();
    await expect(
      store.history({ deviceId: 'crash', metric: 'laeq', from: T0, to: T0 + 500_000 }),
    ).resolves.toStrictEqual(readings.map((r) => ({ ts: r.ts, value: r.metrics['laeq'] })));
  }, 30_000);
});

const PASSWORD = "p4ss'word&u=x";

describeWithInfluxd('InfluxTimeSeriesStore with authentication enabled', () => {
  let influxd: InfluxdHandle | undefined;
  beforeAll(async () => {
    influxd = await startInfluxd({ env: { INFLUXDB_HTTP_AUTH_ENABLED: 'true' } });
    // InfluxDB 1.x lets the very first admin user be created without credentials.
    const q = `CREATE USER admin WITH PASSWORD ${quoteString(PASSWORD)} WITH ALL PRIVILEGES`;
    const response = await fetch(`${influxd.url}/query`, {
      method: 'POST',
      body: new URLSearchParams({ q }),
    });
    if (!response.ok) throw new Error(`CREATE USER failed: ${response.status} ${await response.text()}`);
  }, 30_000);
  afterAll(async () => {
    await influxd?.stop();
  }, 30_000);

  it('sends username/password as u/p and surfaces 401 without them', async () => {
    const url = influxd!.url;
    const authed = new InfluxTimeSeriesStore({
      url,
      database: 'secure',
      username: 'admin',
      password: PASSWORD,
    });
    const anonymous = new InfluxTimeSeriesStore({ url, database: 'secure' });
    try {
      await authed.init();
      await authed.write([reading('a', T0, { laeq: 70 })]);
      await expect(authed.latest('a', ['laeq'])).resolves.toStrictEqual({ laeq: { value: 70, ts: T0 } });

      const error = await anonymous.write([reading('a', T0 + 1, { laeq: 71 })]).catch((err: unknown) => err);
      expect(error).toBeInstanceOf(InfluxDbError);
      expect(error).toMatchObject({ status: 401 });
      await expect(anonymous.latest('a', ['laeq'])).rejects.toMatchObject({ status: 401 });
    } finally {
      await authed.close();
      await anonymous.close();
    }
  });
});

describe('InfluxTimeSeriesStore /query answers, from a stand-in server', () => {
  /** An HTTP server answering every /query with `answer`, and recording the Accept headers. */
  async function standIn(answer: { status: number; headers: Record<string, string>; body: Buffer }) {
    const accepts: (string | undefined)[] = [];
    const server = createServer((request, response) => {
      accepts.push(request.headers.accept);
      response.writeHead(answer.status, answer.headers);
      response.end(answer.body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    return { url: `http://127.0.0.1:${port}`, accepts, close: () => new Promise((r) => server.close(r)) };
  }

  it('takes the error message from X-Influxdb-Error when the error body is MessagePack', async () => {
    const server = await standIn({
      status: 400,
      headers: { 'content-type': 'application/x-msgpack', 'x-influxdb-error': 'error parsing query: boom' },
      // {"error": "error parsing query: boom"}
      body: Buffer.concat([
        Buffer.from([0x81, 0xa5]),
        Buffer.from('error'),
        Buffer.from([0xb9]),
        Buffer.from('error parsing query: boom'),
      ]),
    });
    const store = new InfluxTimeSeriesStore({ url: server.url, database: 'x' });
    try {
      await expect(store.latest('d', ['laeq'])).rejects.toMatchObject({
        name: 'InfluxDbError',
        status: 400,
        influxMessage: 'error parsing query: boom',
      });
      expect(server.accepts).toEqual(['application/x-msgpack']);
    } finally {
      await store.close();
      await server.close();
    }
  });

  it('reads a JSON answer even when it asked for MessagePack, and asks for JSON without createDatabase', async () => {
    const body = Buffer.from(
      JSON.stringify({
        results: [
          {
            statement_id: 0,
            series: [{ name: 'readings', columns: ['time', 'value'], values: [[T0, 55.5]] }],
          },
        ],
      }),
    );
    const server = await standIn({ status: 200, headers: { 'content-type': 'application/json' }, body });
    const packed = new InfluxTimeSeriesStore({ url: server.url, database: 'x' });
    const json = new InfluxTimeSeriesStore({ url: server.url, database: 'x', createDatabase: false });
    try {
      for (const store of [packed, json]) {
        await expect(store.latest('d', ['laeq'])).resolves.toStrictEqual({ laeq: { value: 55.5, ts: T0 } });
      }
      expect(server.accepts).toEqual(['application/x-msgpack', undefined]);
    } finally {
      await packed.close();
      await json.close();
      await server.close();
    }
  });

  it('refuses an answer that is not what its content type says', async () => {
    const server = await standIn({
      status: 200,
      headers: { 'content-type': 'application/x-msgpack' },
      body: Buffer.from('{"results":[]}'),
    });
    const store = new InfluxTimeSeriesStore({ url: server.url, database: 'x' });
    try {
      await expect(store.latest('d', ['laeq'])).rejects.toThrow(/unexpected \/query response/);
    } finally {
      await store.close();
      await server.close();
    }
  });
});
