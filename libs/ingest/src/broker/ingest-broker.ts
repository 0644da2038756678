import type { EventEmitter } from 'node:events';
import { createServer, type Server } from 'node:net';
import { Aedes } from 'aedes';
import {
  type DeviceStatus,
  INTERNAL_DEVICE_STATUS_TOPIC,
  INTERNAL_INGEST_STATS_TOPIC,
  INTERNAL_READINGS_TOPIC,
  MAX_DEVICE_STATUS_NOTICE,
} from '@ioc/contracts';
import type { Logger } from '@ioc/runtime';
import type { TimeSeriesStore } from '@ioc/timeseries';
import { DurableReadingSink } from '@ioc/spool';
import type { DeviceDirectory } from '../device-directory';
import type { DeviceActivityObserver } from '../device-status-tracker';
import { DEFAULT_MAX_PACKET_BYTES } from '../broker-config';
import { IngestPipeline } from '../ingest-pipeline';
import { IngestStats, type IngestStatsSnapshot } from '../ingest-stats';
import { jsonArray } from '../json-array';
import { createConnectHooks } from './authenticate';
import { createAuthorizeForward } from './authorize-forward';
import { createAuthorizePublish } from './authorize-publish';
import { createAuthorizeSubscribe } from './authorize-subscribe';
import { InternalClients } from './internal-clients';
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
  statsIntervalMs: number;
  logger: Logger;
  /**
   * Told of every accepted device message (a DeviceStatusTracker), so device statuses follow the
   * readings even when devices do not authenticate (IOC_MQTT_AUTH=off).
   */
  deviceStatus?: DeviceActivityObserver;
}

export interface IngestBroker {
  readonly port: number;
  readonly aedes: Aedes;
  stats(): IngestStatsSnapshot;
  /**
   * Announces changed device statuses to platform services on INTERNAL_DEVICE_STATUS_TOPIC (QoS 1,
   * not retained), at most MAX_DEVICE_STATUS_NOTICE per message: DeviceStatusTracker's `publish`.
   */
  publishDeviceStatus(statuses: readonly DeviceStatus[]): void;
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
    logger,
  });

  const broker = await Aedes.createBroker({
    ...createConnectHooks({ internal, broker: () => ref.aedes, stats, logger }),
    authorizeSubscribe: createAuthorizeSubscribe(internal, options.directory, logger),
    authorizeForward: createAuthorizeForward({ internal, broker: () => ref.aedes, stats, logger }),
    authorizePublish: createAuthorizePublish({
      pipeline,
      internal,
      rejections,
      qos2: new Qos2Duplicates(() => ref.aedes),
      stats,
      logger,
      ...(options.deviceStatus ? { activity: options.deviceStatus } : {}),
      sink: {
        // Counted once durable: a reading the spool refuses is counted as spool-full only.
        accept: (reading) => sink.accept(reading).then(() => stats.countAccepted(reading.domain)),
      },
    }),
    // A frozen subscriber must not stall delivery to everyone else.
    drainTimeout: 30_000,
  });
  ref.aedes = broker;
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
  const snapshot = (): IngestStatsSnapshot =>
    stats.snapshot({ ...sink.stats(), connectedClients: broker.connectedClients, offlineSessions });
  const publishStats = (): void =>
    broker.publish(
      {
        cmd: 'publish',
        topic: INTERNAL_INGEST_STATS_TOPIC,
        payload: Buffer.from(JSON.stringify(snapshot())),
        qos: 0,
        retain: true,
        dup: false,
      },
      () => undefined,
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
    publishStats();
  }, options.statsIntervalMs);
  statsTimer.unref();

  const server: Server = createServer((socket) => {
    const client = broker.handle(socket);
    guardPacketSize(client, maxPacketBytes, (announced) => {
      stats.countGuard('oversizedPacketsClosed');
      logger.warn(
        { clientId: client.id, remoteAddress: socket.remoteAddress, announced, limit: maxPacketBytes },
        'connection closed: packet larger than IOC_MQTT_MAX_PACKET_BYTES announced',
      );
    });
    guardStalledPackets(client, options.packetBodyTimeoutMs ?? DEFAULT_PACKET_BODY_TIMEOUT_MS, () => {
      stats.countGuard('stalledPacketsClosed');
      logger.warn(
        { clientId: client.id, remoteAddress: socket.remoteAddress },
        'connection closed: a packet was left unfinished',
      );
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  logger.info({ host: options.host, port }, 'MQTT broker listening');

  return {
    port,
    aedes: broker,
    stats: snapshot,
    publishDeviceStatus(statuses) {
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
    async close() {
      clearInterval(statsTimer);
      // Stop accepting first; the server's callback fires once aedes has closed every client.
      const serverClosed = new Promise<void>((resolve) => server.close(() => resolve()));
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      await serverClosed;
      await sink.close();
    },
  };
}
