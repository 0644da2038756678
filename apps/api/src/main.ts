import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { accessSettings, ensureFirstAdmin, loadTokenSecret } from '@ioc/access';
import { createNotifierParts, DeferredAlertPublisher, loadSeedRules, Notifier } from '@ioc/alerting';
import { AuditLog } from '@ioc/audit';
import { checkDatabaseAtStart, DatabaseProbe, databaseConfigFromEnv, openDatabase } from '@ioc/database';
import {
  apiEnvSchema,
  connectApiRedis,
  consoleSettingsFromEnv,
  createAccessPort,
  createAlertingPort,
  createNotificationsPort,
  createOidcRelyingParty,
  httpEdgeSettingsFromEnv,
  OPS_API_NEST_OPTIONS,
  oidcSettingsFromEnv,
  setupHttpEdge,
  setupOpenApi,
} from '@ioc/ops-api';
import {
  CommandRepository,
  DEFAULT_SEEDS_DIR,
  DeviceRegistry,
  DeviceStatusRepository,
  loadCredentialKey,
  prepareRegistry,
  RegistryRepository,
  RegistrySync,
  verifyCredentialKeyFingerprint,
} from '@ioc/registry';
import {
  checkInternalSecretAtStart,
  checkRedisAtStart,
  claimNodeId,
  createLogger,
  nodeIdTakenCondition,
  onShutdown,
  parseEnv,
  redactRedisUrl,
  requireNodeIdWithRedis,
  runApp,
} from '@ioc/runtime';
import { createTimeSeriesStore, initLoggingRetries, storageConfigFromEnv } from '@ioc/timeseries';
import { AppModule } from './app.module';

async function main(): Promise<void> {
  const env = parseEnv(apiEnvSchema);
  // Several API nodes on one Redis: each needs its own id (its bus client id ioc-api-<id>).
  requireNodeIdWithRedis('IOC_NODE_ID', env.IOC_REDIS_URL);
  const logger = createLogger('api', { level: env.IOC_LOG_LEVEL });
  // A refused Redis password stops the start, naming IOC_REDIS_URL; an unreachable Redis does not
  // (the node serves REST meanwhile and joins the others when Redis answers).
  let redisReachable = false;
  if (env.IOC_REDIS_URL !== undefined) {
    const redisCheck = await checkRedisAtStart(env.IOC_REDIS_URL);
    redisReachable = redisCheck.reachable;
    if (!redisCheck.reachable)
      logger.warn(
        { redis: redactRedisUrl(env.IOC_REDIS_URL), problem: redisCheck.problem },
        'Redis (IOC_REDIS_URL) does not answer yet; starting anyway, live feeds join the other nodes when it does',
      );
  }
  // Every node on one IOC_INTERNAL_SECRET: another one than the running nodes' stops the start,
  // naming it (its fingerprint is kept in Redis, ioc:internal-secret-fingerprint) — else every
  // broker would refuse this node's bus login.
  if (env.IOC_REDIS_URL !== undefined && redisReachable)
    await checkInternalSecretAtStart({
      redisUrl: env.IOC_REDIS_URL,
      secret: env.IOC_INTERNAL_SECRET,
      kind: 'api',
      id: env.IOC_NODE_ID,
      logger,
    });
  // No other live node may hold its id: claimed in Redis (ioc:node:api:<id>), renewed while the
  // node runs, released on a graceful stop; a second node on the same id is refused here.
  const idClaim =
    env.IOC_REDIS_URL === undefined
      ? null
      : await claimNodeId({
          redisUrl: env.IOC_REDIS_URL,
          kind: 'api',
          id: env.IOC_NODE_ID,
          variable: 'IOC_NODE_ID',
          logger,
        });
  const credentialKey = loadCredentialKey({
    configured: env.IOC_DEVICE_CREDENTIAL_KEY,
    dataDir: env.IOC_DATA_DIR,
  });
  // The registry database is the truth. At its first start (no areas yet) it is seeded from the
  // seed files through the import path a user has, in the migration's transaction and lock, so
  // two processes starting at once never both seed.
  const database = openDatabase(databaseConfigFromEnv(env));
  // An unreachable or refusing PostgreSQL stops the start naming IOC_DATABASE_URL (ConfigError).
  await checkDatabaseAtStart(database);
  await prepareRegistry(database, { ...(env.IOC_SEEDS_DIR ? { seedsDir: env.IOC_SEEDS_DIR } : {}), logger });
  // Every node must hash device secrets with one key: a different one stops the start, naming
  // IOC_DEVICE_CREDENTIAL_KEY (the registry keeps the key's fingerprint).
  await verifyCredentialKeyFingerprint(database.db, credentialKey, { logger });
  // /health and /metrics: the registry database's periodic SELECT 1 (PostgreSQL).
  const databaseProbe = new DatabaseProbe(database, { logger });
  databaseProbe.start();
  // The default alert rules (seeds/rules.json): applied at every start, changing nothing unless the
  // file changed; a rule an admin edited is kept. A second attempt covers two API nodes starting
  // at once on PostgreSQL (one's insert loses the race; retried, it finds the rules there).
  const seedsDir = env.IOC_SEEDS_DIR ?? DEFAULT_SEEDS_DIR;
  const seedRules = await loadSeedRules(database.db, seedsDir).catch(() =>
    loadSeedRules(database.db, seedsDir),
  );
  logger.info(
    {
      created: seedRules.created.length,
      updated: seedRules.updated.length,
      keptEdited: seedRules.keptEdited,
      removed: seedRules.removed,
    },
    'seed alert rules applied',
  );
  // People: the first admin when there is no active one (a generated password is printed once,
  // to stdout only — never the log).
  const firstAdmin = await ensureFirstAdmin(database.db, {
    username: env.IOC_ADMIN_USERNAME,
    password: env.IOC_ADMIN_PASSWORD,
    logger,
  });
  if (firstAdmin.created) {
    if (firstAdmin.generatedPassword !== undefined)
      printFirstAdmin(firstAdmin.username, firstAdmin.generatedPassword, env.IOC_HTTP_PORT);
  }
  // Several API nodes (IOC_REDIS_URL): socket.io's Redis streams adapter, shared rate limits and
  // failed-login counts per address. Not awaited: the node serves REST while Redis is away.
  const redis = env.IOC_REDIS_URL === undefined ? null : connectApiRedis(env.IOC_REDIS_URL, logger);
  if (redis)
    logger.info({ nodeId: env.IOC_NODE_ID }, 'API node sharing live feeds and rate limits through Redis');
  // Single sign-on when IOC_OIDC_ISSUER is set (openid-client is loaded at the first SSO login).
  const oidc = oidcSettingsFromEnv(env);
  if (oidc)
    logger.info({ issuer: oidc.issuer, clientId: oidc.clientId }, 'single sign-on (OpenID Connect) on');
  const repository = new RegistryRepository(database.db);
  const registry = new DeviceRegistry();
  const sync = new RegistrySync(repository, registry, { logger });
  await sync.start();
  const store = createTimeSeriesStore(storageConfigFromEnv(env));
  // Serve what does not need the store (registry, live feed) while it comes up; /health says 503.
  await initLoggingRetries(store, logger);
  const edge = httpEdgeSettingsFromEnv(env);
  // Agencies' notifications: subscriptions → grouping → outbox → webhook / MQTT (its publisher is
  // bound to this node's bus client by the API module), woken by alert events and IOC_NOTIFIER_POLL_MS.
  const alertPublisher = new DeferredAlertPublisher();
  const notifierParts = createNotifierParts(database, env, { nodeId: env.IOC_NODE_ID, mqtt: alertPublisher });
  const notifier = new Notifier(notifierParts, { pollMs: env.IOC_NOTIFIER_POLL_MS, logger });
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
        edge,
        console: consoleSettingsFromEnv(env),
      },
      ...(redis ? { liveAdapter: redis.liveAdapter, rateLimitStorage: redis.rateLimitStorage } : {}),
      deviceStatus: new DeviceStatusRepository(database.db),
      commands: new CommandRepository(database.db),
      provisioning: {
        repository,
        credentialKey,
        refresh: () => sync.refresh(),
        notify: () => sync.notify(),
      },
      audit: new AuditLog(database.db),
      databaseHealth: databaseProbe,
      alerting: createAlertingPort(database.db),
      access: createAccessPort(database.db, {
        ...accessSettings(env),
        ...(redis ? { addressLimiter: redis.loginAddressLimiter(env.IOC_AUTH_ADDRESS_MAX_FAILURES) } : {}),
        tokenSecret: loadTokenSecret({ configured: env.IOC_AUTH_TOKEN_SECRET, dataDir: env.IOC_DATA_DIR }),
        secureCookie: env.IOC_HTTP_SECURE_COOKIE,
        // A cookie-authenticated write must come from the API's own origin or a CORS-allowed one.
        allowedOrigins: edge.corsOrigins,
      }),
      ...(oidc === null ? {} : { oidc: { settings: oidc, relyingParty: createOidcRelyingParty(oidc) } }),
      notifications: createNotificationsPort(notifierParts, {
        mqtt: alertPublisher,
        wake: () => notifier.wake(),
      }),
      ...(idClaim ? { nodeHealth: () => nodeIdTakenCondition(idClaim) } : {}),
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
  notifier.start();
  onShutdown(logger, async () => {
    sync.stop();
    databaseProbe.stop();
    await notifier.stop();
    await app.close();
    await redis?.close();
    await idClaim?.release();
    await store.close();
    await database.close();
  });
}

/**
 * The generated first-admin password, printed ONCE to stdout (not the log file) with how to log
 * in; it is kept nowhere, so whoever starts the platform the first time must note it.
 */
function printFirstAdmin(username: string, password: string, port: number): void {
  process.stdout.write(
    [
      '',
      '=== First admin account created ===',
      `  username: ${username}`,
      `  password: ${password}`,
      '  (shown only this once: note it, then change it with POST /api/v1/auth/password)',
      `  log in:   curl -s -X POST http://127.0.0.1:${port}/api/v1/auth/login -H 'content-type: application/json' \\`,
      `              -d '{"username":"${username}","password":"<password>"}'`,
      '            then send "Authorization: Bearer <accessToken>" with every request',
      '',
      '',
    ].join('\n'),
  );
}

runApp(main);
