import { DEVELOPMENT_INTERNAL_SECRET } from '@ioc/bus';
import {
  brokerEnvSchema,
  brokerListenersFromEnv,
  failedLoginLimitsFromEnv,
  MemoryFailedLoginLimiter,
  startIngestBroker,
  writeBatchDefaults,
} from '@ioc/ingest';
import { DeviceRegistry, loadSeeds } from '@ioc/registry';
import { createLogger, onShutdown, parseEnv, runApp } from '@ioc/runtime';
import { join } from 'node:path';
import { createTimeSeriesStore, initLoggingRetries, storageConfigFromEnv } from '@ioc/timeseries';

async function main(): Promise<void> {
  const env = parseEnv(brokerEnvSchema);
  const logger = createLogger('broker', { level: env.IOC_LOG_LEVEL });
  if (env.IOC_INTERNAL_SECRET === DEVELOPMENT_INTERNAL_SECRET) {
    logger.warn('IOC_INTERNAL_SECRET is the development default: set your own outside a developer machine');
  }
  const listeners = brokerListenersFromEnv(env);
  const registry = new DeviceRegistry(loadSeeds(env.IOC_SEEDS_DIR));
  const store = createTimeSeriesStore(storageConfigFromEnv(env));
  const batchDefaults = writeBatchDefaults(store.kind);
  // Start even when the store is down: acknowledged readings wait in the spool meanwhile.
  await initLoggingRetries(store, logger);
  const broker = await startIngestBroker({
    host: env.IOC_MQTT_HOST,
    port: env.IOC_MQTT_PORT,
    directory: registry,
    store,
    spoolDir: env.IOC_SPOOL_DIR ?? join(env.IOC_DATA_DIR, 'spool'),
    spoolMaxBytes: env.IOC_SPOOL_MAX_BYTES,
    spoolFullWaitMs: env.IOC_SPOOL_FULL_WAIT_MS,
    writeBatchSize: env.IOC_WRITE_BATCH_SIZE ?? batchDefaults.size,
    writeBatchDelayMs: env.IOC_WRITE_BATCH_DELAY_MS ?? batchDefaults.delayMs,
    internalSecret: env.IOC_INTERNAL_SECRET,
    maxPayloadBytes: env.IOC_MAX_PAYLOAD_BYTES,
    maxPacketBytes: env.IOC_MQTT_MAX_PACKET_BYTES,
    maxFutureSkewMs: env.IOC_MAX_CLOCK_SKEW_MS,
    statsIntervalMs: 2000,
    logger,
    // Device credentials come from the registry database, which this process does not open yet:
    // until it does, the broker runs without device authentication whatever IOC_MQTT_AUTH says.
    auth: { mode: 'off' },
    failedLogins: new MemoryFailedLoginLimiter(failedLoginLimitsFromEnv(env)),
    ...listeners,
  });
  logger.info({ storage: store.kind, devices: registry.listDevices({}).length }, 'broker ready');
  onShutdown(logger, async () => {
    await broker.close();
    await store.close();
  });
}

runApp(main);
