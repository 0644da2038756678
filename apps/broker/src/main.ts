import {
  createAlertEngineRuntime,
  alertEngineSettings,
  AlertRepository,
  registryEngineDirectory,
  RuleRepository,
} from '@ioc/alerting';
import { DEVELOPMENT_INTERNAL_SECRET } from '@ioc/bus';
import {
  deviceStatusNoticeSchema,
  INTERNAL_ALERTS_TOPIC,
  INTERNAL_DEVICE_STATUS_TOPIC,
  INTERNAL_REGISTRY_CHANGES_TOPIC,
  INTERNAL_REGISTRY_POSITION_TOPIC_PREFIX,
  type RegistryPosition,
} from '@ioc/contracts';
import { checkDatabaseAtStart, openDatabase, databaseConfigFromEnv } from '@ioc/database';
import {
  brokerClusterFromEnv,
  brokerProcessEnvSchema,
  brokerListenersFromEnv,
  DeviceStatusTracker,
  failedLoginLimitsFromEnv,
  type IngestBroker,
  startIngestBroker,
  writeBatchDefaults,
} from '@ioc/ingest';
import {
  AgencyIndex,
  CredentialIndex,
  DeviceRegistry,
  DeviceStatusRepository,
  ensureDemoCredentials,
  loadCredentialKey,
  loadSeeds,
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
  runApp,
} from '@ioc/runtime';
import { join } from 'node:path';
import { createTimeSeriesStore, initLoggingRetries, storageConfigFromEnv } from '@ioc/timeseries';

/** How often the broker republishes its registry position, so API nodes can tell it is alive (ms). */
const REGISTRY_POSITION_REPUBLISH_MS = 5000;

async function main(): Promise<void> {
  const env = parseEnv(brokerProcessEnvSchema);
  const logger = createLogger('broker', { level: env.IOC_LOG_LEVEL });
  if (env.IOC_INTERNAL_SECRET === DEVELOPMENT_INTERNAL_SECRET) {
    logger.warn('IOC_INTERNAL_SECRET is the development default: set your own outside a developer machine');
  }
  const listeners = brokerListenersFromEnv(env);
  // Several broker nodes on one Redis (IOC_REDIS_URL; each with its own IOC_BROKER_ID): undefined on one node.
  const cluster = brokerClusterFromEnv(env);
  // A refused Redis password stops the start, naming IOC_REDIS_URL; an unreachable Redis does not
  // (the node's connections wait for it: devices get their CONNACK once it answers).
  if (cluster) {
    const redisCheck = await checkRedisAtStart(cluster.redisUrl);
    if (!redisCheck.reachable)
      logger.warn(
        { redis: redactRedisUrl(cluster.redisUrl), problem: redisCheck.problem },
        'Redis (IOC_REDIS_URL) does not answer yet; starting anyway, sessions and the bus wait for it',
      );
    // Every node on one IOC_INTERNAL_SECRET: another one than the running nodes' stops the start,
    // naming it (its fingerprint is kept in Redis, ioc:internal-secret-fingerprint) — else API
    // nodes reconnecting onto this node would be refused.
    else
      await checkInternalSecretAtStart({
        redisUrl: cluster.redisUrl,
        secret: env.IOC_INTERNAL_SECRET,
        kind: 'broker',
        id: String(cluster.brokerId),
        logger,
      });
  }
  // No other live node may hold its id: claimed in Redis (ioc:node:broker:<id>), renewed while
  // the node runs, released on a graceful stop; a second node on the same id is refused here.
  const idClaim = cluster
    ? await claimNodeId({
        redisUrl: cluster.redisUrl,
        kind: 'broker',
        id: String(cluster.brokerId),
        variable: 'IOC_BROKER_ID',
        logger,
      })
    : null;
  const database = openDatabase(databaseConfigFromEnv(env));
  // An unreachable or refusing PostgreSQL stops the start naming IOC_DATABASE_URL (ConfigError).
  await checkDatabaseAtStart(database);
  await prepareRegistry(database, { ...(env.IOC_SEEDS_DIR ? { seedsDir: env.IOC_SEEDS_DIR } : {}), logger });
  const credentialKey = loadCredentialKey({
    configured: env.IOC_DEVICE_CREDENTIAL_KEY,
    dataDir: env.IOC_DATA_DIR,
  });
  // Every node must hash device secrets with one key: a different one stops the start, naming
  // IOC_DEVICE_CREDENTIAL_KEY (the registry keeps the key's fingerprint).
  await verifyCredentialKeyFingerprint(database.db, credentialKey, { logger });
  if (env.IOC_DEMO_CREDENTIALS_FILE !== undefined) {
    const demo = await ensureDemoCredentials(database.db, {
      key: credentialKey,
      path: env.IOC_DEMO_CREDENTIALS_FILE,
      deviceIds: loadSeeds(env.IOC_SEEDS_DIR).devices.map((device) => device.id),
    });
    logger.info({ file: env.IOC_DEMO_CREDENTIALS_FILE, ...demo }, 'demo device credentials ready');
  }
  const registry = new DeviceRegistry();
  const credentials = new CredentialIndex();
  const agencies = new AgencyIndex();
  // The broker starts after the status tracker and the registry sync, which call into it once it runs.
  const started: { broker?: IngestBroker } = {};
  // The change-log position this broker has applied, retained for the API nodes: they answer a
  // registry write once every broker has it (so a revoked secret is refused from the answer on).
  const publishPosition = (): void => {
    const position: RegistryPosition = {
      node: `broker-${env.IOC_BROKER_ID}`,
      seq: sync.position,
      at: Date.now(),
    };
    started.broker?.aedes.publish(
      {
        cmd: 'publish',
        topic: `${INTERNAL_REGISTRY_POSITION_TOPIC_PREFIX}${position.node}`,
        payload: Buffer.from(JSON.stringify(position)),
        qos: 1,
        retain: true,
        dup: false,
      },
      () => undefined,
    );
  };
  // The alert engine: the spool's second consumer (libs/alerting AlertEngineHost), publishing what
  // it commits on the internal bus for the API nodes (live feed, notifier). With IOC_REDIS_URL the
  // spool's consumer forwards to the Redis stream and the lease holder among the broker nodes
  // evaluates (createAlertEngineRuntime).
  const alertSettings = alertEngineSettings(env);
  const directory = registryEngineDirectory(registry);
  const alerts = alertSettings.enabled
    ? createAlertEngineRuntime({
        logger,
        ...(cluster
          ? {
              cluster: {
                redisUrl: cluster.redisUrl,
                brokerId: cluster.brokerId,
                db: database.db,
                kind: database.kind,
                leaseMs: alertSettings.leaseMs,
                leaseRenewMs: alertSettings.leaseRenewMs,
                streamMaxEntries: alertSettings.streamMaxEntries,
              },
            }
          : {}),
        host: {
          alerts: new AlertRepository(database.db),
          rules: new RuleRepository(database.db),
          directory,
          readingBase: (id) => directory.readingBase(id),
          publish: (events) =>
            started.broker?.aedes.publish(
              {
                cmd: 'publish',
                topic: INTERNAL_ALERTS_TOPIC,
                payload: Buffer.from(JSON.stringify(events)),
                qos: 1,
                retain: false,
                dup: false,
              },
              (error) => {
                if (error) logger.error({ err: error }, 'alert events publish failed');
              },
            ),
          logger: logger.child({ component: 'alert-engine' }),
          snapshotIntervalMs: alertSettings.snapshotIntervalMs,
          tickMs: alertSettings.tickMs,
          aqiHourGraceMs: alertSettings.aqiHourGraceMs,
        },
      })
    : undefined;
  const tracker = new DeviceStatusTracker({
    store: new DeviceStatusRepository(database.db),
    directory: registry,
    logger,
    publish: (statuses) => {
      started.broker?.publishDeviceStatus(statuses);
      // Several nodes: the engine takes every node's statuses from the internal bus (below).
      if (alerts?.mode === 'single') alerts.deviceStatuses(statuses);
    },
    clockSuspectMs: env.IOC_CLOCK_SUSPECT_MS,
    restartGraceMs: env.IOC_STATUS_RESTART_GRACE_MS,
  });
  const sync = new RegistrySync(new RegistryRepository(database.db), registry, {
    logger,
    credentials,
    agencies,
    // Suspending or retiring a device, or revoking a credential, ends its live sessions at once; a
    // new CONNECT is then judged against the registry as it is.
    onChanges: (changes) => {
      const live = started.broker;
      publishPosition();
      alerts?.registryChanged(changes);
      for (const change of changes) {
        if (change.entity === 'rule' || change.entity === 'alert') continue; // the alert engine's
        if (change.entity === 'agency') {
          // Disabled, or its MQTT secret rotated or removed: its sessions on the old secret end.
          live?.revalidateAgency(change.entityId, `registry: agency ${change.action}`);
          continue;
        }
        const { action, entityId: deviceId, at } = change;
        if (action === 'suspended' || action === 'retired') {
          tracker.closedByRegistry(deviceId, at, action);
          live?.disconnectDevice(deviceId, `registry: ${action}`);
        } else if (change.entity === 'credential' && live) {
          // Revoked, or rotated with a grace period that is already over: the sessions on the
          // credentials no longer valid end; those on a still-valid one go on.
          const before = live.sessionCount(deviceId);
          const closed = live.revalidateDevice(deviceId, `registry: credential ${action}`);
          if (closed > 0 && closed === before) tracker.closedByRegistry(deviceId, at, 'revoked');
        }
      }
    },
  });
  await sync.start();
  const store = createTimeSeriesStore(storageConfigFromEnv(env));
  const batchDefaults = writeBatchDefaults(store.kind);
  // Start even when the store is down: acknowledged readings wait in the spool meanwhile.
  await initLoggingRetries(store, logger);
  await tracker.start();
  // Before the spool opens: the replay of records from before a restart comes during that open.
  await alerts?.beforeSpool();
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
    brokerId: env.IOC_BROKER_ID,
    logger,
    auth:
      env.IOC_MQTT_AUTH === 'off'
        ? { mode: 'off' }
        : { mode: 'credentials', credentials, key: credentialKey, agencies },
    failedLoginLimits: failedLoginLimitsFromEnv(env),
    deviceStatus: tracker,
    maxSessionsPerDevice: env.IOC_MQTT_MAX_SESSIONS_PER_DEVICE,
    ...(cluster ? { cluster } : {}),
    ...(alerts ? { spoolConsumers: alerts.spoolConsumers, alertEngineStats: () => alerts.stats() } : {}),
    // Another node holding this IOC_BROKER_ID (after a long Redis outage): node-id-taken in /api/v1/ingest/stats.
    ...(idClaim ? { extraHealthConditions: () => nodeIdTakenCondition(idClaim) } : {}),
    ...listeners,
  });
  started.broker = broker;
  alerts?.afterSpool();
  publishPosition();
  const positionTimer = setInterval(publishPosition, REGISTRY_POSITION_REPUBLISH_MS);
  positionTimer.unref();
  // Another process (an API node) committed registry changes: read the change log now rather
  // than at the next poll.
  broker.aedes.subscribe(
    INTERNAL_REGISTRY_CHANGES_TOPIC,
    (_packet, callback) => {
      sync.notify();
      callback();
    },
    () => undefined,
  );
  if (alerts?.mode === 'cluster') {
    // The lease holder evaluates status rules for devices on every node: each node's tracker
    // publishes its devices' statuses on the internal bus, which reaches every node with Redis.
    broker.aedes.subscribe(
      INTERNAL_DEVICE_STATUS_TOPIC,
      (packet, callback) => {
        const notice = deviceStatusNoticeSchema.safeParse(safeJson(packet.payload));
        if (notice.success) alerts.deviceStatuses(notice.data);
        else
          logger.warn(
            { issues: notice.error.issues.length },
            'device status notice refused by the alert engine',
          );
        callback();
      },
      () => undefined,
    );
  }
  logger.info(
    {
      storage: store.kind,
      registry: database.description,
      devices: registry.deviceCount,
      alerts: alerts ? alerts.mode : 'off',
      brokerId: env.IOC_BROKER_ID,
      scaleOut: cluster ? 'redis' : 'single-node',
    },
    'broker ready',
  );
  onShutdown(logger, async () => {
    sync.stop();
    clearInterval(positionTimer);
    // The engine first: its final snapshot and releases must reach the spool before it closes.
    await alerts?.close();
    await broker.close();
    await tracker.close();
    await store.close();
    await database.close();
    await idClaim?.release();
  });
}

/** The JSON in a bus payload, or undefined when it is not JSON. */
function safeJson(payload: Buffer | string): unknown {
  try {
    return JSON.parse(payload.toString()) as unknown;
  } catch {
    return undefined;
  }
}

runApp(main);
