import type { Reading } from '@ioc/contracts';
// The storage lib's own tests need the real-server harness; @ioc/testing is a test-only library
// (type:testing) and nothing outside *.spec.ts files imports it.
import { describeWithInfluxd, freePort, type InfluxdHandle, startInfluxd } from '@ioc/testing';
import { BatchingWriter } from './batching-writer';
import { describeTimeSeriesStoreConformance } from './conformance/time-series-store.conformance';
import { createTimeSeriesStore } from './create-time-series-store';
import { InvalidReadingError } from './errors';
import { InfluxDbError, InfluxTimeSeriesStore } from './influx-time-series.store';
import { quoteIdentifier, quoteString } from './influxql';

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
  const response = await fetch(`${url}/query?${new URLSearchParams({ db: database, epoch: 'ms', q })}`);
  return (await response.json()) as QueryAnswer;
}

describeWithInfluxd('InfluxTimeSeriesStore against a real influxd', () => {
  let influxd: InfluxdHandle | undefined;
  let databases = 0;
  const stores: InfluxTimeSeriesStore[] = [];
  const server = (): InfluxdHandle => {
    if (influxd === undefined) throw new Error('influxd did not start (see beforeAll)');
    return influxd;
  };
  const newStore = (options: Partial<ConstructorParameters<typeof InfluxTimeSeriesStore>[0]> = {}) => {
    databases += 1;
    const store = new InfluxTimeSeriesStore({
      url: server().url,
      database: `ioc_test_${databases}`,
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
    const store = newStore();
    return { store, teardown: () => store.close() };
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

  it('loses nothing queued in a BatchingWriter while influxd is down, and catches up after restart', async () => {
    const store = newStore({ timeoutMs: 2000 });
    await store.init();
    const writer = new BatchingWriter(store, {
      maxBatch: 50,
      maxDelayMs: 10,
      retryInitialMs: 50,
      retryMaxMs: 200,
    });
    const readings = Array.from({ length: 300 }, (_, i) =>
      reading('fault', T0 + i * 1000, { laeq: 40 + (i % 50) }),
    );
    try {
      readings.slice(0, 100).forEach((r) => writer.add(r));
      await writer.flush();

      await server().stopProcess();
      await expect(store.ping()).resolves.toBe(false);
      readings.slice(100).forEach((r) => writer.add(r));
      // Let the writer fail against the dead server a few times.
      const deadline = Date.now() + 5000;
      while (writer.stats().failedWrites < 2 && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 25));
      expect(writer.stats()).toMatchObject({ queued: 200, written: 100 });
      expect(writer.stats().failedWrites).toBeGreaterThanOrEqual(2);
      expect(writer.stats().lastError).toMatch(/^InfluxDB POST \/write at .* failed: .*ECONNREFUSED/);

      await server().startProcess(); // same port, same data directory
      await writer.flush();
      expect(writer.stats()).toMatchObject({ queued: 0, written: 300 });
      await expect(
        store.history({ deviceId: 'fault', metric: 'laeq', from: T0, to: T0 + 300_000 }),
      ).resolves.toStrictEqual(readings.map((r) => ({ ts: r.ts, value: r.metrics['laeq'] })));
    } finally {
      if (!server().running) await server().startProcess();
      await writer.close();
    }
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
