import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { databaseConfigFromEnv, openDatabase } from '@ioc/database';
import {
  apiEnvSchema,
  httpEdgeSettingsFromEnv,
  OPS_API_NEST_OPTIONS,
  setupHttpEdge,
  setupOpenApi,
} from '@ioc/ops-api';
import {
  CommandRepository,
  DeviceRegistry,
  DeviceStatusRepository,
  loadCredentialKey,
  prepareRegistry,
  RegistryRepository,
  RegistrySync,
} from '@ioc/registry';
import { createLogger, onShutdown, parseEnv, runApp } from '@ioc/runtime';
import { createTimeSeriesStore, initLoggingRetries, storageConfigFromEnv } from '@ioc/timeseries';
import { AppModule } from './app.module';

async function main(): Promise<void> {
  const env = parseEnv(apiEnvSchema);
  const logger = createLogger('api', { level: env.IOC_LOG_LEVEL });
  const credentialKey = loadCredentialKey({
    configured: env.IOC_DEVICE_CREDENTIAL_KEY,
    dataDir: env.IOC_DATA_DIR,
  });
  // The registry database is the truth. At its first start (no areas yet) it is seeded from the
  // seed files through the import path a user has, in the migration's transaction and lock, so
  // two processes starting at once never both seed.
  const database = openDatabase(databaseConfigFromEnv(env));
  await prepareRegistry(database, { ...(env.IOC_SEEDS_DIR ? { seedsDir: env.IOC_SEEDS_DIR } : {}), logger });
  const repository = new RegistryRepository(database.db);
  const registry = new DeviceRegistry();
  const sync = new RegistrySync(repository, registry, { logger });
  await sync.start();
  const store = createTimeSeriesStore(storageConfigFromEnv(env));
  // Serve what does not need the store (registry, live feed) while it comes up; /health says 503.
  await initLoggingRetries(store, logger);
  const app = await NestFactory.create(
    AppModule.register({
      registry,
      store,
      logger,
      settings: {
        brokerUrl: env.IOC_BROKER_URL,
        nodeId: env.IOC_NODE_ID,
        internalSecret: env.IOC_INTERNAL_SECRET,
        historyMaxPoints: env.IOC_HISTORY_MAX_POINTS,
        edge: httpEdgeSettingsFromEnv(env),
      },
      deviceStatus: new DeviceStatusRepository(database.db),
      commands: new CommandRepository(database.db),
      provisioning: {
        repository,
        credentialKey,
        refresh: () => sync.refresh(),
        notify: () => sync.notify(),
      },
    }),
    { ...OPS_API_NEST_OPTIONS, logger: ['error', 'warn'] },
  );
  // One shutdown path: onShutdown below closes the app (Nest runs its modules' destroy hooks:
  // the bus client disconnects cleanly), then the store and the database. Nest's own signal
  // hooks would race it.
  // The edge first (trust proxy, security headers, CORS, socket.io origins): Express runs
  // middleware in the order it is added, and the OpenAPI explorer's routes need them too.
  setupHttpEdge(app);
  setupOpenApi(app);
  await app.listen(env.IOC_HTTP_PORT, env.IOC_HTTP_HOST);
  logger.info({ url: await app.getUrl(), database: database.description }, 'API listening');
  onShutdown(logger, async () => {
    sync.stop();
    await app.close();
    await store.close();
    await database.close();
  });
}

runApp(main);
