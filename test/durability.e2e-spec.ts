import { join } from 'node:path';
import Database from 'better-sqlite3';
import { connectAsync, type MqttClient } from 'mqtt';
import { type Device, deviceTopic, type Reading } from '@ioc/contracts';
import { DeviceRegistry, loadSeeds } from '@ioc/registry';
import { DurableSpool } from '@ioc/spool';
import { EMBEDDED_DB_FILE } from '@ioc/timeseries';
import {
  describeWithInfluxd,
  eventually,
  type InfluxdHandle,
  type RunningPlatform,
  startInfluxd,
  startPlatform,
} from '@ioc/testing';
import { getJson } from './support/clients';
import { publishSequence } from './support/qos1-stream';

jest.setTimeout(120_000);

const registry = new DeviceRegistry(loadSeeds());
const counters = registry.listDevices({ type: 'traffic-counter' });
const counter = (i: number): Device => counters[i] as Device;
/** The token the platform under test accepts on `/metrics` (IOC_METRICS_TOKEN). */
const METRICS_TOKEN = 'durability-metrics-token-0123456789';

interface Point {
  ts: number;
  value: number;
}

async function storedPoints(
  platform: RunningPlatform,
  device: Device,
  base: number,
  count: number,
): Promise<Point[]> {
  const url = `${platform.httpUrl}/api/v1/devices/${device.id}/history?metric=intensity&from=${base}&to=${base + count * 1000}`;
  const { status, body } = await getJson(await platform.admin(), url);
  if (status !== 200) throw new Error(`history answered ${status}: ${JSON.stringify(body)}`);
  return body['points'] as Point[];
}

interface IngestStatsBody {
  rejected: Record<string, number>;
  spool: { records: number; bytes: number; maxBytes: number; full: boolean };
  storage: { failedWrites: number; queued: number };
  healthConditions?: Array<{ code: string }>;
}
const ingestStats = async (platform: RunningPlatform): Promise<IngestStatsBody> =>
  (await getJson(await platform.admin(), `${platform.httpUrl}/api/v1/ingest/stats`))
    .body as unknown as IngestStatsBody;

/** A connection logged in as `device` (username = its id, password = its secret). */
const connect = (platform: RunningPlatform, clientId: string, device: Device): Promise<MqttClient> =>
  connectAsync(platform.mqttUrl, {
    clientId,
    reconnectPeriod: 0,
    clean: true,
    username: device.id,
    password: platform.deviceSecret(device.id),
  });

describe('durability: broker killed with SIGKILL mid-stream (embedded store)', () => {
  let platform: RunningPlatform;
  beforeAll(async () => {
    platform = await startPlatform({ storage: 'embedded', env: { IOC_WRITE_BATCH_DELAY_MS: '50' } });
  }, 60_000);
  afterAll(async () => platform?.stop());

  it('keeps every acknowledged QoS 1 reading across the crash', async () => {
    const device = counter(0);
    const base = Date.now() - 24 * 3_600_000;
    const total = 4000;
    const acked = new Set<number>();
    const client = await connect(platform, 'e2e-kill-publisher', device);
    let killing: Promise<void> | undefined;
    await publishSequence({
      client,
      device,
      base,
      from: 0,
      to: total,
      window: 64,
      acked,
      shouldStop: () => {
        // Kill while readings are in flight and most of them are not yet in the store.
        if (acked.size >= 1500 && !killing) killing = platform.killBroker('SIGKILL');
        return killing !== undefined;
      },
    });
    await killing;
    client.end(true);
    expect(acked.size).toBeGreaterThanOrEqual(1500);
    expect(acked.size).toBeLessThan(total);

    await platform.restartBroker();
    const points = await eventually(
      async () => {
        const stored = await storedPoints(platform, device, base, total);
        const values = new Set(stored.map((p) => p.value));
        return [...acked].every((seq) => values.has(seq)) ? stored : undefined;
      },
      30_000,
      'every acknowledged reading in the store',
    );
    // One point per reading, each at its own second, none twice.
    expect(new Set(points.map((p) => p.ts)).size).toBe(points.length);
    for (const point of points) expect(point.ts).toBe(base + point.value * 1000);
  });
});

describe('durability: the store refuses one reading mid-batch, then the broker is killed (embedded store)', () => {
  let platform: RunningPlatform;
  let lock: Database.Database | undefined;
  beforeAll(async () => {
    // Batches larger than the 201 records replayed below: the refused one is in the same batch.
    platform = await startPlatform({
      storage: 'embedded',
      env: { IOC_WRITE_BATCH_DELAY_MS: '20', IOC_WRITE_BATCH_SIZE: '1000' },
    });
  }, 60_000);
  afterAll(async () => {
    lock?.close();
    await platform?.stop();
  });

  /**
   * Holds SQLite's write lock from another connection, as a backup or a bulk import would: every
   * write() of the broker's store waits its busy timeout (5 s) and fails, and is retried.
   */
  const holdWriteLock = (): Database.Database => {
    const db = new Database(join(platform.dataDir, EMBEDDED_DB_FILE));
    db.pragma('busy_timeout = 10000');
    db.exec('BEGIN IMMEDIATE');
    return db;
  };
  /** Resolves once the broker's log has a line with `text` after the first `after` characters. */
  const logged = (text: string, after = 0) =>
    eventually(
      async () => (platform.broker.output().indexOf(text, after) >= 0 ? true : undefined),
      30_000,
      `broker log line "${text}"`,
    );

  it('stores every acknowledged valid reading, and not the refused one', async () => {
    const device = counter(3);
    const base = Date.now() - 18 * 3_600_000;
    const acked = new Set<number>();

    // 1. Acknowledged (PUBACK = on disk in the spool) while the store cannot write.
    lock = holdWriteLock();
    const client = await connect(platform, 'e2e-refused-publisher', device);
    await publishSequence({ client, device, base, from: 0, to: 200, window: 16, acked });
    await client.endAsync();
    expect(acked.size).toBe(200);
    await platform.killBroker('SIGKILL');

    // 2. Behind them in the spool, a reading the store refuses (a reserved metric name). No MQTT
    // publish gets one past validation (metric catalogue, contracts), so it is appended the way
    // an older broker would have left it: through the spool itself, with the broker dead.
    const refused: Reading = {
      deviceId: device.id,
      deviceType: device.type,
      domain: device.domain,
      kind: 'telemetry',
      areaId: device.areaId,
      areaPath: registry.areaPath(device.areaId),
      location: device.location,
      ts: base + 200 * 1000,
      metrics: { time: 200 },
    };
    const spoolDir = join(platform.dataDir, 'spool');
    const codec = {
      encode: (r: Reading) => JSON.stringify(r),
      decode: (body: Buffer) => JSON.parse(body.toString('utf8')) as Reading,
    };
    const offline = await DurableSpool.open<Reading>({ dir: spoolDir, maxBytes: 1 << 30 }, codec);
    expect(offline.pending).toHaveLength(200);
    await offline.spool.append(refused);
    await offline.spool.close();

    // 3. The broker replays [200 acknowledged readings, the refused one] as one batch: the store
    // refuses #200, the rest cannot be written (locked). Killed once that write has failed —
    // seconds after the refusal, long after the spool's checkpoint (200 ms) would have recorded
    // an early release.
    await platform.restartBroker();
    const start = platform.broker.output().length;
    await logged('store refused a reading', start);
    await logged(
      'store write failed; retrying',
      platform.broker.output().indexOf('store refused a reading', start),
    );
    await platform.killBroker('SIGKILL');
    const kept = await DurableSpool.open<Reading>({ dir: spoolDir, maxBytes: 1 << 30 }, codec);
    const spooled = new Set(kept.pending.map((r) => r.metrics['intensity']));
    await kept.spool.close();
    // Nothing acknowledged was released while the store had not written it.
    expect([...acked].filter((seq) => !spooled.has(seq))).toEqual([]);

    // 4. The lock goes, the broker starts again: every acknowledged reading is stored, once.
    lock.exec('ROLLBACK');
    lock.close();
    lock = undefined;
    await platform.restartBroker();
    const points = await eventually(
      async () => {
        const stored = await storedPoints(platform, device, base, 201);
        const values = new Set(stored.map((p) => p.value));
        return [...acked].every((seq) => values.has(seq)) ? stored : undefined;
      },
      30_000,
      'every acknowledged reading in the store',
    );
    expect(points.map((p) => p.value)).toEqual([...acked].sort((a, b) => a - b));
    for (const point of points) expect(point.ts).toBe(base + point.value * 1000);
    // The refused reading was refused again on replay, logged with its device, and never stored.
    await logged('store refused a reading', 0);
    const refusal = platform.broker
      .output()
      .split('\n')
      .find((line) => line.includes('store refused a reading'));
    expect(refusal).toContain(device.id);
    expect(refusal).toMatch(/time\W{0,3} is reserved/);
    expect(points.some((p) => p.ts === refused.ts)).toBe(false);
  });
});

describeWithInfluxd('durability against a real influxd', () => {
  let influxd: InfluxdHandle;
  beforeAll(async () => {
    influxd = await startInfluxd();
  }, 60_000);
  afterAll(async () => influxd?.stop());

  describe('influxd stopped for several seconds, then started again', () => {
    let platform: RunningPlatform;
    beforeAll(async () => {
      platform = await startPlatform({
        storage: 'influxdb',
        influxUrl: influxd.url,
        influxDatabase: 'outage',
      });
    }, 60_000);
    afterAll(async () => platform?.stop());

    it('stores exactly K readings, in order, none twice', async () => {
      const device = counter(1);
      const base = Date.now() - 12 * 3_600_000;
      const K = 900;
      const acked = new Set<number>();
      const client = await connect(platform, 'e2e-outage-publisher', device);
      await publishSequence({ client, device, base, from: 0, to: 300, window: 16, acked });
      await influxd.stopProcess();
      await publishSequence({ client, device, base, from: 300, to: 600, window: 16, acked, pauseMs: 10 });
      const during = await eventually(
        async () => {
          const stats = await ingestStats(platform);
          return stats.storage.failedWrites > 0 && stats.spool.records > 0 ? stats : undefined;
        },
        15_000,
        'the store outage visible in the ingest stats',
      );
      expect(during.spool.records).toBeGreaterThan(0);
      await influxd.startProcess();
      await publishSequence({ client, device, base, from: 600, to: K, window: 16, acked });
      await client.endAsync();
      expect(acked.size).toBe(K);

      const points = await eventually(
        async () => {
          const stored = await storedPoints(platform, device, base, K);
          return stored.length >= K ? stored : undefined;
        },
        30_000,
        `${K} readings in InfluxDB`,
      );
      expect(points.map((p) => p.value)).toEqual(Array.from({ length: K }, (_, seq) => seq));
      expect(points.map((p) => p.ts)).toEqual(Array.from({ length: K }, (_, seq) => base + seq * 1000));
      await eventually(
        async () => ((await ingestStats(platform)).spool.records === 0 ? true : undefined),
        10_000,
        'spool drained',
      );
    });
  });

  describe('spool filled past its bound while influxd is down', () => {
    let platform: RunningPlatform;
    beforeAll(async () => {
      platform = await startPlatform({
        storage: 'influxdb',
        influxUrl: influxd.url,
        influxDatabase: 'bounded',
        env: {
          IOC_SPOOL_MAX_BYTES: '60000',
          IOC_SPOOL_FULL_WAIT_MS: '300',
          IOC_METRICS_TOKEN: METRICS_TOKEN,
        },
      });
    }, 60_000);
    afterAll(async () => {
      await influxd.startProcess();
      await platform?.stop();
    });

    it('refuses publishes visibly (error topic, disconnect, counters) and loses nothing it acknowledged', async () => {
      const device = counter(2);
      const base = Date.now() - 6 * 3_600_000;
      await influxd.stopProcess();
      const client = await connect(platform, 'e2e-bounded-publisher', device);
      const errors: Array<{ reason: string; detail: string }> = [];
      client.on('message', (_topic, payload) =>
        errors.push(JSON.parse(payload.toString()) as { reason: string; detail: string }),
      );
      await client.subscribeAsync(deviceTopic('traffic', device.id, 'error'));
      const watcher = await connect(platform, 'e2e-bounded-watcher', device);
      const watched: string[] = [];
      watcher.on('message', (_t, payload) => watched.push(payload.toString()));
      await watcher.subscribeAsync(deviceTopic('traffic', device.id, 'error'));
      const acked = new Set<number>();
      await publishSequence({ client, device, base, from: 0, to: 2000, window: 1, acked });
      // The publisher was cut off (no PUBACK for the refused reading) after the spool filled.
      expect(client.connected).toBe(false);
      expect(acked.size).toBeGreaterThan(10);
      expect(acked.size).toBeLessThan(2000);
      expect(errors.map((e) => e.reason)).toContain('spool-full');
      expect(errors.find((e) => e.reason === 'spool-full')?.detail).toMatch(/spool full/);
      // Another session of the same device, subscribed to its error topic, sees it too.
      await eventually(
        async () => (watched.some((m) => m.includes('"spool-full"')) ? true : undefined),
        5000,
        'watcher',
      );
      await watcher.endAsync();
      client.end(true);

      const stats = await eventually(
        async () => {
          const s = await ingestStats(platform);
          return (s.rejected['spool-full'] ?? 0) >= 1 ? s : undefined;
        },
        10_000,
        'spool-full counted',
      );
      expect(stats.spool.bytes).toBeGreaterThan(stats.spool.maxBytes * 0.9);
      expect(stats.healthConditions?.map((a) => a.code)).toContain('spool-full');
      // /metrics is not public: Prometheus sends the metrics token.
      const metrics = await (
        await fetch(`${platform.httpUrl}/metrics`, { headers: { Authorization: `Bearer ${METRICS_TOKEN}` } })
      ).text();
      expect(metrics).toMatch(/^ioc_ingest_rejected_total\{broker="broker-1",reason="spool-full"\} [1-9]/m);
      expect(metrics).toMatch(/^ioc_spool_bytes\{broker="broker-1"\} [1-9]/m);

      await influxd.startProcess();
      const points = await eventually(
        async () => {
          const stored = await storedPoints(platform, device, base, 2000);
          return stored.length >= acked.size ? stored : undefined;
        },
        30_000,
        'every acknowledged reading stored once influxd is back',
      );
      expect(points.map((p) => p.value)).toEqual([...acked].sort((a, b) => a - b));
    });
  });
});
