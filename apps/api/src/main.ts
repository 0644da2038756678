import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { apiEnvSchema, setupOpenApi } from '@ioc/ops-api';
import { DeviceRegistry, loadSeeds } from '@ioc/registry';
import { createLogger, onShutdown, parseEnv, runApp } from '@ioc/runtime';
import { createTimeSeriesStore, initLoggingRetries, storageConfigFromEnv } from '@ioc/timeseries';
import { AppModule } from './app.module';

async function main(): Promise<void> {
  const env = parseEnv(apiEnvSchema);
  const logger = createLogger('api', { level: env.IOC_LOG_LEVEL });
  const registry = new DeviceRegistry(loadSeeds(env.IOC_SEEDS_DIR));
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
      },
    }),
    { logger: ['error', 'warn'] },
  );
  // One shutdown path: onShutdown below closes the app (Nest runs its modules' destroy hooks:
  // the bus client disconnects cleanly), then the store. Nest's own signal hooks would race it.
  setupOpenApi(app);
  await app.listen(env.IOC_HTTP_PORT, env.IOC_HTTP_HOST);
  logger.info({ url: await app.getUrl() }, 'API listening');
  onShutdown(logger, async () => {
    await app.close();
    await store.close();
  });
}

runApp(main);
