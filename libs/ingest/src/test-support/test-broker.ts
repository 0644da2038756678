import { join } from 'node:path';
import { DeviceRegistry, generateDeviceSecret, loadSeeds } from '@ioc/registry';
import { createLogger } from '@ioc/runtime';
import { EmbeddedTimeSeriesStore } from '@ioc/timeseries';
import { type IngestBroker, type IngestBrokerOptions, startIngestBroker } from '../broker/ingest-broker';
import { type BrokerAuth, InMemoryDeviceCredentials } from '../device-credentials';

/** The internal secret the specs' brokers accept. */
export const TEST_INTERNAL_SECRET = 'unit-test-internal-secret';

/** The seeded registry, loaded once for every spec of the library. */
export const testRegistry = new DeviceRegistry(loadSeeds());

/** A real ingest broker on a free loopback port over a real embedded store in `dataDir`. */
export interface TestBroker {
  broker: IngestBroker;
  store: EmbeddedTimeSeriesStore;
  /** `mqtt://127.0.0.1:<port>` */
  url: string;
  /** The options it was started with (a spec may start another from them). */
  options: IngestBrokerOptions;
  /** Closes the broker, then the store (the data directory is the caller's). */
  close(): Promise<void>;
}

/**
 * Starts the broker the specs test: small spool (1 MiB), no wait when it is full, write batches
 * of 100 or 5 ms, 4 KiB payloads in 8 KiB packets, silent logs, and no device authentication
 * (`auth: { mode: 'off' }`) unless `overrides.auth` asks for credentials (see
 * testDeviceCredentials); `overrides` replace any of it.
 */
export async function startTestBroker(
  dataDir: string,
  overrides: Partial<IngestBrokerOptions> = {},
): Promise<TestBroker> {
  const store = new EmbeddedTimeSeriesStore({ dataDir });
  await store.init();
  const options: IngestBrokerOptions = {
    host: '127.0.0.1',
    port: 0,
    directory: testRegistry,
    store,
    spoolDir: join(dataDir, 'spool'),
    spoolMaxBytes: 1 << 20,
    spoolFullWaitMs: 0,
    writeBatchSize: 100,
    writeBatchDelayMs: 5,
    internalSecret: TEST_INTERNAL_SECRET,
    maxPayloadBytes: 4096,
    maxPacketBytes: 8192,
    maxFutureSkewMs: 60_000,
    statsIntervalMs: 60_000,
    logger: createLogger('test', { level: 'silent' }),
    auth: { mode: 'off' },
    ...overrides,
  };
  const broker = await startIngestBroker(options);
  return {
    broker,
    store,
    url: `mqtt://127.0.0.1:${broker.port}`,
    options,
    async close() {
      await broker.close();
      await store.close();
    },
  };
}

/** The credential key the specs' brokers hash device secrets with (32 bytes, fixed). */
export const TEST_CREDENTIAL_KEY = Buffer.alloc(32, 7);

/**
 * A secret per device id and the broker `auth` option accepting them: a fresh `iocds_…` secret
 * for each id, in an InMemoryDeviceCredentials the spec can rotate and revoke in.
 */
export function testDeviceCredentials(deviceIds: readonly string[]): {
  secrets: Record<string, string>;
  credentials: InMemoryDeviceCredentials;
  auth: BrokerAuth;
} {
  const secrets = Object.fromEntries(deviceIds.map((id) => [id, generateDeviceSecret()]));
  const credentials = InMemoryDeviceCredentials.fromSecrets(TEST_CREDENTIAL_KEY, secrets);
  return { secrets, credentials, auth: { mode: 'credentials', credentials, key: TEST_CREDENTIAL_KEY } };
}

/** Polls `condition` every 10 ms until it holds; throws naming `what` after `timeoutMs`. */
export async function waitFor(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
