/**
 * The platform's ingest broker (`startIngestBroker`, embedded store, default spool and batches,
 * no API process) with device authentication on or off, as its own process — the target of the
 * ingest-throughput `auth-on`/`auth-off` variants and of the reconnect-storm benchmark:
 *
 *   BENCH_PORT=1883 BENCH_STATS_PORT=8081 BENCH_DATA_DIR=/tmp/x BENCH_AUTH=credentials \
 *   BENCH_SYNTHETIC_DEVICES=0 node -r ./scripts/register.js bench/lib/auth-broker.ts
 *
 * - BENCH_AUTH: `credentials` (every device's secret is benchDeviceSecret(id), hashed under
 *   BENCH_CREDENTIAL_KEY at start) or `off`.
 * - BENCH_SYNTHETIC_DEVICES: 0 = the seeded devices; N = N synthetic stations (benchRegistry).
 * - BENCH_STATS_PORT: `GET /api/v1/ingest/stats` answers the broker's stats (the API's path, so
 *   the benchmarks poll it the same way).
 *
 * Prints `bench broker ready` once it listens; stops (store closed) on SIGTERM/SIGINT.
 */
import { createServer } from 'node:http';
import { join } from 'node:path';
import {
  InMemoryDeviceCredentials,
  startIngestBroker,
  writeBatchDefaults,
  type BrokerAuth,
} from '@ioc/ingest';
import { hashDeviceSecret } from '@ioc/registry';
import { createLogger } from '@ioc/runtime';
import { EmbeddedTimeSeriesStore } from '@ioc/timeseries';
import { BENCH_CREDENTIAL_KEY, benchDeviceSecret, benchRegistry } from './bench-credentials';

async function main(): Promise<void> {
  const env = process.env;
  const dataDir = env['BENCH_DATA_DIR'];
  if (!dataDir) throw new Error('BENCH_DATA_DIR is required');
  const mode = env['BENCH_AUTH'] === 'off' ? 'off' : 'credentials';
  const registry = benchRegistry(Number(env['BENCH_SYNTHETIC_DEVICES'] ?? 0));
  const logger = createLogger('bench-broker', { level: 'warn' });
  let auth: BrokerAuth = { mode: 'off' };
  if (mode === 'credentials') {
    const credentials = new InMemoryDeviceCredentials();
    for (const device of registry.listDevices({})) {
      credentials.add(device.id, {
        id: `${device.id}-1`,
        hash: hashDeviceSecret(BENCH_CREDENTIAL_KEY, benchDeviceSecret(device.id)),
      });
    }
    auth = { mode: 'credentials', credentials, key: BENCH_CREDENTIAL_KEY };
  }
  const store = new EmbeddedTimeSeriesStore({ dataDir });
  await store.init();
  const batch = writeBatchDefaults('embedded');
  const broker = await startIngestBroker({
    host: '127.0.0.1',
    port: Number(env['BENCH_PORT'] ?? 1883),
    directory: registry,
    store,
    spoolDir: join(dataDir, 'spool'),
    spoolMaxBytes: 256 * 1024 * 1024,
    spoolFullWaitMs: 1000,
    writeBatchSize: batch.size,
    writeBatchDelayMs: batch.delayMs,
    internalSecret: 'bench-internal-secret-0123456789',
    maxPayloadBytes: 16_384,
    maxFutureSkewMs: 300_000,
    statsIntervalMs: 2000,
    logger,
    auth,
  });
  const stats = createServer((request, response) => {
    if (request.url !== '/api/v1/ingest/stats') return void response.writeHead(404).end();
    response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(broker.stats()));
  });
  await new Promise<void>((resolve) =>
    stats.listen(Number(env['BENCH_STATS_PORT'] ?? 0), '127.0.0.1', resolve),
  );
  process.stdout.write(
    `bench broker ready (auth ${mode}, ${registry.listDevices({}).length} devices) on ${broker.port}\n`,
  );
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    stats.close();
    void broker
      .close()
      .then(() => store.close())
      .finally(() => process.exit(0));
    setTimeout(() => process.exit(0), 10_000).unref();
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
