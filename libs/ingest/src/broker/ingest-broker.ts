import type { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import { Aedes, type Client } from 'aedes';
import {
  type DeviceStatus,
  type Reading,
  INTERNAL_DEVICE_STATUS_TOPIC,
  INTERNAL_INGEST_STATS_TOPIC_PREFIX,
  INTERNAL_READINGS_TOPIC,
  MAX_DEVICE_STATUS_NOTICE,
} from '@ioc/contracts';
import type { Logger } from '@ioc/runtime';
import type { TimeSeriesStore } from '@ioc/timeseries';
import { DurableReadingSink, type SpoolConsumer } from '@ioc/spool';
import type { BrokerAuth } from '../device-credentials';
import type { DeviceDirectory } from '../device-directory';
import type { DeviceActivityObserver } from '../device-status-tracker';
import { type BrokerClusterOptions, DEFAULT_MAX_PACKET_BYTES } from '../broker-config';
import { IngestPipeline } from '../ingest-pipeline';
import { IngestStats, type IngestStatsSnapshot } from '../ingest-stats';
import { jsonArray } from '../json-array';
import { createConnectHooks } from './authenticate';
import { createAuthorizeForward } from './authorize-forward';
import { createAuthorizePublish } from './authorize-publish';
import { createAuthorizeSubscribe } from './authorize-subscribe';
import { createCommandAckRelay } from './command-ack-relay';
import { clientInternals } from './aedes-internals';
import {
  type BrokerClusterParts,
  CLUSTER_CLOSE_TIMEOUT_MS,
  CLUSTER_HEARTBEAT_MS,
  createBrokerClusterParts,
} from './cluster';
import {
  type ClusterSessionMessage,
  ClusterSessions,
  INTERNAL_BROKER_SESSIONS_TOPIC,
  type NodeSession,
} from './cluster-sessions';
import { ConnackFirst } from './connack-first';
import { type ConnectionInfo, DeviceSessions } from './device-sessions';
import {
  type FailedLoginLimiter,
  type FailedLoginLimits,
  MemoryFailedLoginLimiter,
  RedisFailedLoginLimiter,
} from './failed-logins';
import { SessionLedger } from './session-ledger';
import { InternalClients } from './internal-clients';
import {
  type Listener,
  startTcpListener,
  startTlsListener,
  startWebSocketListener,
  type TlsListenerOptions,
  type WebSocketListenerOptions,
} from './listeners';
import { guardPacketSize, guardStalledPackets } from './packet-size-guard';
import { Qos2Duplicates } from './qos2-duplicates';
import { RejectionReporter } from './rejection-reporter';

/**
 * How long a packet may stay half-received before the connection is closed: aedes' own
 * connectTimeout (30 s) for the same kind of silence before CONNECT.
 */
export const DEFAULT_PACKET_BODY_TIMEOUT_MS = 30_000;

/** Readings per internal live message: a bound on one message's size (~0.4 MB). */
const LIVE_BATCH = 1000;

/** aedes-persistence's count of sessions kept for absent clients (aedes types `persistence` as any). */
interface OfflineCounter {
  countOffline(): Promise<{ subsCount: number; clientsCount: number }>;
}

export interface IngestBrokerOptions {
  host: string;
  port: number;
  directory: DeviceDirectory;
  store: TimeSeriesStore;
  spoolDir: string;
  spoolMaxBytes: number;
  spoolFullWaitMs: number;
  writeBatchSize: number;
  writeBatchDelayMs: number;
  /**
   * Readers of the durable spool beside the store writer (the alert engine host): each receives
   * every accepted reading once durable, and the readings pending from before a restart first
   * (`replay: true`); a record stays spooled until the store writer and each of them released it.
   * See DurableReadingSink. None by default.
   */
  spoolConsumers?: readonly SpoolConsumer[];
  /** The alert engine host's counters, added to the ingest stats as `alertEngine` (absent: none). */
  alertEngineStats?: () => NonNullable<IngestStatsSnapshot['alertEngine']>;
  /**
   * Health conditions of the process around the broker, added to those of its ingest statistics
   * (e.g. `node-id-taken`: another node holds this node's IOC_BROKER_ID in Redis). None by default.
   */
  extraHealthConditions?: () => IngestStatsSnapshot['healthConditions'];
  internalSecret: string;
  maxPayloadBytes: number;
  /**
   * Largest remaining length of an MQTT packet, bytes (IOC_MQTT_MAX_PACKET_BYTES; default
   * DEFAULT_MAX_PACKET_BYTES): a connection whose next packet announces more is closed before
   * the body is read. Must exceed maxPayloadBytes.
   */
  maxPacketBytes?: number;
  /** How long a packet may stay half-received (DEFAULT_PACKET_BODY_TIMEOUT_MS by default). */
  packetBodyTimeoutMs?: number;
  maxFutureSkewMs: number;
  /** How often the node publishes its ingest statistics, ms (`$internal/ioc/v1/ingest-stats/{node}`). */
  statsIntervalMs: number;
  /**
   * IOC_BROKER_ID: the node's name in its ingest statistics is `broker-<brokerId>` (the same name
   * as its registry position). Default: the cluster's brokerId, else `1`.
   */
  brokerId?: string;
  logger: Logger;
  /**
   * Device authentication (IOC_MQTT_AUTH): `credentials` authenticates every device and binds it
   * to its own topics (see createConnectHooks, createAuthorizePublish); `off` keeps the
   * unauthenticated behaviour, for development and benchmarks, and is logged at warn at start.
   */
  auth: BrokerAuth;
  /**
   * Where failed device logins are counted (credentials mode): by default a
   * MemoryFailedLoginLimiter on one node, a RedisFailedLoginLimiter shared by every node with
   * `cluster`, with `failedLoginLimits`.
   */
  failedLogins?: FailedLoginLimiter;
  /** The limits of the default failed-login counters (default DEFAULT_FAILED_LOGIN_LIMITS). */
  failedLoginLimits?: FailedLoginLimits;
  /** Live sessions one device may hold at once (credentials mode; default DEFAULT_MAX_SESSIONS_PER_DEVICE). */
  maxSessionsPerDevice?: number;
  /** An MQTT-over-TLS listener next to the TCP one (IOC_MQTT_TLS_*). */
  tls?: TlsListenerOptions;
  /** An MQTT-over-WebSocket listener (IOC_MQTT_WS_*). */
  webSocket?: WebSocketListenerOptions;
  /**
   * Told of every accepted device message (a DeviceStatusTracker), so device statuses follow the
   * readings even when devices do not authenticate (IOC_MQTT_AUTH=off).
   */
  deviceStatus?: DeviceActivityObserver;
  /**
   * Scale-out (IOC_REDIS_URL, IOC_BROKER_ID; see brokerClusterFromEnv): aedes gets the id
   * `ioc-broker-<brokerId>`, a message bus on Redis (mqemitter-redis) and its sessions, queues,
   * wills and retained messages in Redis (aedes-persistence-redis), shared with every broker node
   * on that Redis. Absent: aedes' in-memory bus and persistence (one node).
   */
  cluster?: BrokerClusterOptions;
}

/**
 * How often the broker looks for sessions whose credential's rotation grace period has run out
 * (ms): the longest such a session outlives its secret.
 */
export const CREDENTIAL_SWEEP_MS = 5000;

export interface IngestBroker {
  /** The TCP listener's port (the one bound when `port` was 0). */
  readonly port: number;
  /** The TLS listener's port, when one was asked for. */
  readonly tlsPort?: number;
  /** The WebSocket listener's port, when one was asked for. */
  readonly webSocketPort?: number;
  readonly aedes: Aedes;
  stats(): IngestStatsSnapshot;
  /**
   * Closes every live connection authenticated as `deviceId` at once (credentials mode; there are
   * none in `off` mode), without publishing their wills, and returns how many it closed. Each is
   * logged at warn with `reason` and counted (`broker.devicesDisconnected`). A later CONNECT is
   * judged against the credentials and device state as they are then, so call this after the
   * credentials source reflects a revocation, suspension or retirement.
   */
  disconnectDevice(deviceId: string, reason: string): number;
  /**
   * Closes the live sessions of `deviceId` whose credential is no longer valid (revoked, or past
   * the `notAfter` a rotation set), as disconnectDevice does, and keeps the others; returns how
   * many it closed. Sessions authenticated by a client certificate are not affected. The broker
   * also runs this for every connected device every CREDENTIAL_SWEEP_MS, so a rotation's grace
   * period ends the old secret's sessions when it runs out.
   */
  revalidateDevice(deviceId: string, reason: string): number;
  /** Live sessions authenticated as `deviceId` (credentials mode). */
  sessionCount(deviceId: string): number;
  /**
   * Closes the live sessions of agency `agencyId` that its MQTT account no longer admits — the
   * agency disabled or gone, its secret removed or rotated (a session keeps the hash it logged in
   * with) — without publishing wills; each logged at warn with `reason` and counted
   * (`broker.agencySessionsClosed`). Returns how many it closed. Call it after the `agencies`
   * source reflects the change (the broker app does, on a registry change of entity `agency`).
   */
  revalidateAgency(agencyId: string, reason: string): number;
  /** Live sessions authenticated as agency `agencyId` (credentials mode). */
  agencySessionCount(agencyId: string): number;
  /**
   * Announces changed device statuses to platform services on INTERNAL_DEVICE_STATUS_TOPIC (QoS 1,
   * not retained), at most MAX_DEVICE_STATUS_NOTICE per message: DeviceStatusTracker's `publish`.
   */
  publishDeviceStatus(statuses: readonly DeviceStatus[]): void;
  /**
   * Spool consumer `consumer` (one of `spoolConsumers`) is done with records `firstIndex` …
   * `firstIndex + count − 1`: DurableReadingSink.release (RangeError for an unknown consumer,
   * `store`, a record not committed or released by it already).
   */
  releaseSpoolRecords(consumer: string, firstIndex: number, count: number): void;
  /**
   * Appends a reading the platform derived (an hourly VN_AQI…) to the spool, as durable as a
   * device's and handed on the same way (store, live feed, every spool consumer): resolves once on
   * disk; rejects at once with SpoolFullError when the spool is full (DurableReadingSink.appendDerived).
   * Not counted under `accepted` (device readings only).
   */
  appendDerived(reading: Reading): Promise<void>;
  close(): Promise<void>;
}

/** aedes on TCP with the platform's hooks: the whole device-facing side of the platform. */
export async function startIngestBroker(options: IngestBrokerOptions): Promise<IngestBroker> {
  const { logger } = options;
  const maxPacketBytes = options.maxPacketBytes ?? DEFAULT_MAX_PACKET_BYTES;
  if (maxPacketBytes <= options.maxPayloadBytes) {
    throw new Error(
      `IOC_MQTT_MAX_PACKET_BYTES (${maxPacketBytes}) must be larger than IOC_MAX_PAYLOAD_BYTES (${options.maxPayloadBytes}), which it contains with the topic`,
    );
  }
  const stats = new IngestStats();
  const internal = new InternalClients(options.internalSecret);
  const { auth } = options;
  // Identities exist only when devices authenticate; without them every hook keeps its `off` rules.
  const sessions = new DeviceSessions();
  const deviceSessions = auth.mode === 'credentials' ? sessions : undefined;
  if (auth.mode === 'off') {
    logger.warn(
      'IOC_MQTT_AUTH=off: devices are not authenticated and any client may publish as any device; development and benchmarks only',
    );
  }
  // The hooks are built before the broker exists; they reach it through this reference.
  const ref: { aedes?: Aedes } = {};
  const rejections = new RejectionReporter(() => ref.aedes, stats, logger);
  const pipeline = new IngestPipeline(options.directory, {
    maxPayloadBytes: options.maxPayloadBytes,
    maxFutureSkewMs: options.maxFutureSkewMs,
  });
  // Live feed: each group commit of the spool is already a batch (one per turn of the event
  // loop), relayed to the API as soon as it is durable, in one internal message per
  // LIVE_BATCH readings built from the spool records' JSON.
  const relayLive = (json: Buffer[]): void => {
    for (let start = 0; start < json.length; start += LIVE_BATCH) {
      ref.aedes?.publish(
        {
          cmd: 'publish',
          topic: INTERNAL_READINGS_TOPIC,
          payload: jsonArray(json, start, Math.min(json.length, start + LIVE_BATCH)),
          qos: 1,
          retain: false,
          dup: false,
        },
        (error) => {
          if (error) logger.error({ err: error }, 'live relay publish failed');
        },
      );
    }
  };
  const sink = await DurableReadingSink.open({
    store: options.store,
    spoolDir: options.spoolDir,
    spoolMaxBytes: options.spoolMaxBytes,
    fullWaitMs: options.spoolFullWaitMs,
    writeBatchSize: options.writeBatchSize,
    writeBatchDelayMs: options.writeBatchDelayMs,
    onDurable: (_readings, json) => relayLive(json),
    ...(options.spoolConsumers ? { consumers: options.spoolConsumers } : {}),
    logger,
  });

  let clusterParts: BrokerClusterParts | undefined;
  if (options.cluster) {
    clusterParts = createBrokerClusterParts(options.cluster, logger);
    logger.info(
      { aedesId: clusterParts.id, redis: redactedRedisUrl(options.cluster.redisUrl) },
      'broker node shares its MQTT state through Redis',
    );
  }
  // Several nodes: the device sessions of the others, so limits, client id bindings and statuses
  // hold across nodes (see ClusterSessions).
  const clusterSessions = clusterParts
    ? new ClusterSessions({
        node: clusterParts.id,
        // QoS 0, as aedes' own `$SYS/<id>/new/clients`: both take the same synchronous path to the
        // Redis connection, so an `open` always precedes the takeover it causes.
        publish: (message) =>
          ref.aedes?.publish(
            {
              cmd: 'publish',
              topic: INTERNAL_BROKER_SESSIONS_TOPIC,
              payload: Buffer.from(JSON.stringify(message)),
              qos: 0,
              retain: false,
              dup: false,
            },
            () => undefined,
          ),
        ...(options.deviceStatus ? { observer: options.deviceStatus } : {}),
        staleAfterMs: 3 * clusterParts.heartbeatMs,
        logger,
      })
    : undefined;
  // Several nodes: session limits and client-id bindings checked atomically across them in Redis.
  const ledger = clusterParts
    ? new SessionLedger(clusterParts.admission, {
        node: clusterParts.id,
        renewMs: clusterParts.heartbeatMs,
        logger,
      })
    : undefined;
  const broker = await Aedes.createBroker({
    ...(clusterParts
      ? {
          id: clusterParts.id,
          mq: clusterParts.mq,
          persistence: clusterParts.persistence,
          heartbeatInterval: clusterParts.heartbeatMs,
        }
      : {}),
    ...createConnectHooks({
      internal,
      broker: () => ref.aedes,
      stats,
      logger,
      auth,
      directory: options.directory,
      sessions,
      failedLogins:
        options.failedLogins ??
        (clusterParts
          ? new RedisFailedLoginLimiter(clusterParts.admission, options.failedLoginLimits)
          : new MemoryFailedLoginLimiter(options.failedLoginLimits)),
      ...(options.maxSessionsPerDevice === undefined
        ? {}
        : { maxSessionsPerDevice: options.maxSessionsPerDevice }),
      ...(clusterSessions ? { remoteSessions: clusterSessions } : {}),
      ...(ledger ? { ledger } : {}),
    }),
    authorizeSubscribe: createAuthorizeSubscribe(internal, options.directory, logger, {
      stats,
      sessions: deviceSessions,
    }),
    authorizeForward: createAuthorizeForward({
      internal,
      broker: () => ref.aedes,
      stats,
      logger,
      sessions: deviceSessions,
    }),
    authorizePublish: createAuthorizePublish({
      sessions: deviceSessions,
      pipeline,
      internal,
      rejections,
      qos2: new Qos2Duplicates(() => ref.aedes),
      acks: createCommandAckRelay(() => ref.aedes, logger),
      stats,
      logger,
      ...(options.deviceStatus ? { activity: options.deviceStatus } : {}),
      ...(clusterSessions ? { remoteSessions: clusterSessions } : {}),
      sink: {
        // Counted once durable: a reading the spool refuses is counted as spool-full only.
        accept: (reading) => sink.accept(reading).then(() => stats.countAccepted(reading.domain)),
      },
    }),
    // A frozen subscriber must not stall delivery to everyone else.
    drainTimeout: 30_000,
  });
  ref.aedes = broker;
  // The CONNECT-time checks need their connection before the listeners open.
  await clusterParts?.ready();
  const connackFirst = new ConnackFirst(broker);
  // With authentication, sessions say when a device comes and goes (aedes emits `client` after
  // the CONNACK, `clientDisconnect` once the connection is gone; `_disconnected` is set by a
  // DISCONNECT packet, or by disconnectDevice).
  const activity = options.deviceStatus;
  const nodeSessions = new WeakMap<Client, NodeSession>();
  if (deviceSessions && (activity || clusterSessions)) {
    broker.on('client', (client) => {
      const identity = deviceSessions.identityOf(client);
      if (!identity) return;
      const at = Date.now();
      if (clusterSessions) {
        const session: NodeSession = { deviceId: identity.deviceId, clientId: client.id, at };
        nodeSessions.set(client, session);
        clusterSessions.opened(session);
      }
      activity?.connected?.(identity.deviceId, at);
    });
    broker.on('clientDisconnect', (client) => {
      const identity = deviceSessions.identityOf(client);
      if (!identity) return;
      const session = nodeSessions.get(client);
      if (session) clusterSessions?.closed(session);
      activity?.disconnected?.(identity.deviceId, Date.now(), clientInternals(client)._disconnected === true);
    });
  }
  let clusterSweep: NodeJS.Timeout | undefined;
  if (clusterSessions) {
    broker.subscribe(
      INTERNAL_BROKER_SESSIONS_TOPIC,
      (packet, callback) => {
        try {
          clusterSessions.receive(JSON.parse(packet.payload.toString()) as ClusterSessionMessage);
        } catch (error) {
          logger.warn({ err: (error as Error).message }, 'unreadable broker-sessions message ignored');
        }
        callback();
      },
      // Listening now: ask the other nodes what they hold (their devices are not ours to judge).
      () => clusterSessions.requestSync(),
    );
    broker.subscribe(
      '$SYS/+/heartbeat',
      (packet, callback) => {
        clusterSessions.heardFrom(packet.payload.toString());
        callback();
      },
      () => undefined,
    );
    broker.subscribe(
      '$SYS/+/birth',
      (packet, callback) => {
        clusterSessions.born(packet.payload.toString());
        callback();
      },
      () => undefined,
    );
    clusterSweep = setInterval(
      () => clusterSessions.sweep(),
      clusterParts?.heartbeatMs ?? CLUSTER_HEARTBEAT_MS,
    );
    clusterSweep.unref();
  }
  broker.on('clientError', (client, error) => {
    logger.warn({ clientId: client.id, err: error.message }, 'client error');
  });
  broker.on('connectionError', (client, error) => {
    logger.warn({ clientId: client.id, err: error.message }, 'connection error');
  });
  // aedes emits 'error' for failures outside any client (e.g. publishing the wills of a dead
  // broker, an offline-queue lookup); unheard, an 'error' event would end the process.
  (broker as EventEmitter).on('error', (error: Error) => {
    logger.error({ err: error.message }, 'broker error');
  });

  // Sessions kept for clients that are away (clean=false): counted by the persistence, asynchronously.
  let offlineSessions: IngestStatsSnapshot['offlineSessions'];
  const countOfflineSessions = (): void => {
    (broker as unknown as { persistence: OfflineCounter }).persistence.countOffline().then(
      ({ clientsCount, subsCount }) => {
        offlineSessions = { clients: clientsCount, subscriptions: subsCount };
      },
      (error: Error) => logger.warn({ err: error.message }, 'counting offline sessions failed'),
    );
  };
  const statsNode = `broker-${options.brokerId ?? options.cluster?.brokerId ?? '1'}`;
  const snapshot = (): IngestStatsSnapshot => {
    const made = stats.snapshot({
      node: statsNode,
      publishedAt: new Date().toISOString(),
      intervalMs: options.statsIntervalMs,
      ...sink.stats(),
      connectedClients: broker.connectedClients,
      offlineSessions,
      ...(options.alertEngineStats ? { alertEngine: options.alertEngineStats() } : {}),
    });
    const extra = options.extraHealthConditions?.() ?? [];
    return extra.length === 0 ? made : { ...made, healthConditions: [...made.healthConditions, ...extra] };
  };
  /** Publishes the statistics (retained); `stoppedAt` in the last one, sent when the broker closes. */
  const publishStats = (stoppedAt?: string): Promise<void> =>
    new Promise((resolve) =>
      broker.publish(
        {
          cmd: 'publish',
          topic: `${INTERNAL_INGEST_STATS_TOPIC_PREFIX}${statsNode}`,
          payload: Buffer.from(
            JSON.stringify(stoppedAt === undefined ? snapshot() : { ...snapshot(), stoppedAt }),
          ),
          qos: 0,
          retain: true,
          dup: false,
        },
        () => resolve(),
      ),
    );
  // Raised and cleared health conditions go to the log as they change; the stats carry the current set.
  let raised = new Set<string>();
  const reviewHealthConditions = (): void => {
    const current = snapshot().healthConditions;
    for (const condition of current) {
      if (!raised.has(condition.code))
        logger.error({ healthCondition: condition.code, severity: condition.severity }, condition.message);
    }
    for (const code of raised) {
      if (!current.some((c) => c.code === code))
        logger.info({ healthCondition: code }, 'health condition cleared');
    }
    raised = new Set(current.map((c) => c.code));
  };
  countOfflineSessions();
  const statsTimer = setInterval(() => {
    countOfflineSessions();
    reviewHealthConditions();
    void publishStats();
  }, options.statsIntervalMs);
  statsTimer.unref();

  // Every listener hands its connections to aedes the same way, guarded the same way.
  const accept = (stream: Duplex, info: ConnectionInfo): void => {
    const client = broker.handle(stream);
    connackFirst.guard(client);
    sessions.noteConnection(client, info);
    const where = (): Record<string, unknown> => ({
      clientId: client.id,
      remoteAddress: info.remoteAddress,
      listener: info.listener,
    });
    guardPacketSize(client, maxPacketBytes, (announced) => {
      stats.countGuard('oversizedPacketsClosed');
      logger.warn(
        { ...where(), announced, limit: maxPacketBytes },
        'connection closed: packet larger than IOC_MQTT_MAX_PACKET_BYTES announced',
      );
    });
    guardStalledPackets(client, options.packetBodyTimeoutMs ?? DEFAULT_PACKET_BODY_TIMEOUT_MS, () => {
      stats.countGuard('stalledPacketsClosed');
      logger.warn(where(), 'connection closed: a packet was left unfinished');
    });
  };
  const listeners: Listener[] = [];
  try {
    listeners.push(await startTcpListener(options.host, options.port, accept));
    if (options.tls) listeners.push(await startTlsListener(options.tls, accept, logger));
    if (options.webSocket) {
      listeners.push(await startWebSocketListener(options.webSocket, maxPacketBytes, accept, logger));
    }
  } catch (error) {
    await Promise.all(listeners.map((l) => l.close()));
    await new Promise<void>((resolve) => broker.close(() => resolve()));
    await clusterParts?.close();
    await sink.close();
    throw error;
  }
  const portOf = (kind: Listener['kind']): number | undefined => listeners.find((l) => l.kind === kind)?.port;
  const port = portOf('tcp') as number;
  logger.info(
    {
      host: options.host,
      port,
      tlsPort: portOf('tls'),
      tlsClientCertificates: options.tls?.ca !== undefined,
      webSocketPort: portOf('ws'),
      auth: auth.mode,
    },
    'MQTT broker listening',
  );

  /** Ends one device session as the platform's decision: no will, logged, counted. */
  const closeSession = (client: Client, deviceId: string, reason: string): void => {
    stats.countGuard('devicesDisconnected');
    logger.warn(
      { deviceId, clientId: client.id, remoteAddress: sessions.connectionOf(client)?.remoteAddress, reason },
      'device session closed by the platform',
    );
    // The platform ended it, the device did not fail: closed as a DISCONNECT would, so aedes
    // deletes the will rather than publishing it.
    clientInternals(client)._disconnected = true;
    client.close();
  };
  const revalidateDevice = (deviceId: string, reason: string): number => {
    if (auth.mode !== 'credentials') return 0;
    const now = Date.now();
    const valid = new Set(
      auth.credentials
        .credentialsOf(deviceId)
        .filter((entry) => entry.notAfter === undefined || entry.notAfter > now)
        .map((entry) => entry.id),
    );
    let closed = 0;
    for (const client of sessions.sessionsOf(deviceId)) {
      const credentialId = sessions.identityOf(client)?.credentialId;
      if (credentialId === undefined || valid.has(credentialId)) continue;
      closeSession(client, deviceId, reason);
      closed++;
    }
    return closed;
  };
  const revalidateAgency = (agencyId: string, reason: string): number => {
    if (auth.mode !== 'credentials') return 0;
    const account = auth.agencies?.agencyAccount(agencyId);
    let closed = 0;
    for (const client of sessions.agencySessionsOf(agencyId)) {
      const identity = sessions.agencyOf(client);
      if (account?.active && identity && account.hash.equals(identity.secretHash)) continue;
      stats.countGuard('agencySessionsClosed');
      logger.warn(
        {
          agencyId,
          clientId: client.id,
          remoteAddress: sessions.connectionOf(client)?.remoteAddress,
          reason,
        },
        'agency session closed by the platform',
      );
      clientInternals(client)._disconnected = true;
      client.close();
      closed++;
    }
    return closed;
  };
  // A rotation's grace period runs out without any registry change: look for such sessions.
  const credentialSweep =
    auth.mode === 'credentials'
      ? setInterval(() => {
          for (const deviceId of sessions.connectedDevices()) {
            revalidateDevice(deviceId, 'credential expired (rotation grace period over)');
          }
        }, CREDENTIAL_SWEEP_MS)
      : undefined;
  credentialSweep?.unref();

  return {
    port,
    tlsPort: portOf('tls'),
    webSocketPort: portOf('ws'),
    aedes: broker,
    stats: snapshot,
    disconnectDevice(deviceId, reason) {
      const clients = sessions.sessionsOf(deviceId);
      for (const client of clients) closeSession(client, deviceId, reason);
      return clients.length;
    },
    revalidateDevice,
    sessionCount: (deviceId) => sessions.sessionsOf(deviceId).length,
    revalidateAgency,
    agencySessionCount: (agencyId) => sessions.agencySessionsOf(agencyId).length,
    publishDeviceStatus(statuses) {
      // The tracker's last flush at shutdown comes after the broker closed: the statuses are in
      // the database already; there is no one left to tell.
      if (broker.closed) return;
      for (let start = 0; start < statuses.length; start += MAX_DEVICE_STATUS_NOTICE) {
        broker.publish(
          {
            cmd: 'publish',
            topic: INTERNAL_DEVICE_STATUS_TOPIC,
            payload: Buffer.from(JSON.stringify(statuses.slice(start, start + MAX_DEVICE_STATUS_NOTICE))),
            qos: 1,
            retain: false,
            dup: false,
          },
          (error) => {
            if (error) logger.error({ err: error }, 'device status notice publish failed');
          },
        );
      }
    },
    releaseSpoolRecords: (consumer, firstIndex, count) => sink.release(consumer, firstIndex, count),
    appendDerived: (reading) => sink.appendDerived(reading),
    async close() {
      clearInterval(statsTimer);
      clearInterval(credentialSweep);
      clearInterval(clusterSweep);
      ledger?.close();
      // A last retained message saying it stopped: API nodes show a node stopped on purpose as
      // `broker-node-stopped`, not `broker-node-silent` (bounded: with Redis down it may not go out).
      await settledWithin(publishStats(new Date().toISOString()), STOPPED_STATS_TIMEOUT_MS);
      // Stop accepting first; each listener's close resolves once aedes has closed its clients.
      const listenersClosed = Promise.all(listeners.map((l) => l.close()));
      const brokerClosed = new Promise<void>((resolve) => broker.close(() => resolve()));
      if (clusterParts) {
        // With Redis down, aedes' closing waits on it (the bus' QUIT, a session's persistence
        // write): bounded, then the connections are dropped. The spool is closed either way.
        await settledWithin(Promise.all([brokerClosed, listenersClosed]), CLUSTER_CLOSE_TIMEOUT_MS);
        await clusterParts.close();
      } else {
        await brokerClosed;
        await listenersClosed;
      }
      await sink.close();
    },
  };
}

/**
 * How long a closing broker waits for its last statistics message (`stoppedAt`) to be routed and
 * retained (ms): milliseconds with Redis up; with Redis down it gives up and the node shows silent.
 */
const STOPPED_STATS_TIMEOUT_MS = 1000;

/** Resolves when `promise` settles or after `ms`, whichever comes first. */
async function settledWithin(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    promise.then(
      () => undefined,
      () => undefined,
    ),
    new Promise<void>((resolve) => (timer = setTimeout(resolve, ms))),
  ]);
  clearTimeout(timer);
}

/** A Redis URL for the log: its password (if any) replaced by `***`. */
function redactedRedisUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparseable)';
  }
}
