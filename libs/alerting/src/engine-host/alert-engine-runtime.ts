import { randomUUID } from 'node:crypto';
import type { DeviceStatus } from '@ioc/contracts';
import type { DatabaseKind, DatabaseSchema } from '@ioc/database';
import type { Logger } from '@ioc/runtime';
import type { SpoolConsumer } from '@ioc/spool';
import type { Kysely } from 'kysely';
import { ALERT_ENGINE_LEASE, LeaseRepository } from '../lease-repository';
import {
  ALERT_ENGINE_STREAM_CURSOR,
  AlertEngineHost,
  type AlertEngineHostOptions,
  type AlertEngineHostStats,
} from './alert-engine-host';
import { AlertEngineLeader, type LeaderStats } from './alert-engine-leader';
import {
  type ForwarderStats,
  ReadingStreamForwarder,
  ReadingStreamInput,
  type StreamInputStats,
  streamRedis,
} from './reading-stream';

/** The alert engine's counters in the ingest stats (`alertEngine`). */
export type AlertEngineRuntimeStats = AlertEngineHostStats & {
  /** Several nodes (IOC_REDIS_URL): the lease as this node sees it. */
  lease?: LeaderStats;
  /** Several nodes: this node's forwarder, and (holder only) the stream input. */
  stream?: { forward: ForwarderStats; input?: StreamInputStats };
};

/** What the broker wires: its spool consumers, the engine's inputs from the broker, its lifecycle. */
export interface AlertEngineRuntime {
  /** `single` (the local spool, as before scale-out) or `cluster` (lease + Redis stream). */
  readonly mode: 'single' | 'cluster';
  /** Pass to startIngestBroker's `spoolConsumers`. */
  readonly spoolConsumers: SpoolConsumer[];
  /** Before the broker opens its spool (single: loads the engine's state for the replay). */
  beforeSpool(): Promise<void>;
  /** After the broker started (cluster: the leader starts contending for the lease). */
  afterSpool(): void;
  registryChanged(changes: ReadonlyArray<{ entity: string; entityId: string }>): void;
  deviceStatuses(statuses: readonly DeviceStatus[]): void;
  stats(): AlertEngineRuntimeStats;
  /** Before the broker closes its spool: the engine's final snapshot (and, cluster: the lease released). */
  close(): Promise<void>;
}

export interface AlertEngineRuntimeOptions {
  /** The host's options but the input-specific ones (cursor name, fence). */
  host: Omit<AlertEngineHostOptions, 'cursorName' | 'fence' | 'onLeaseLost'>;
  /** Several nodes: undefined runs the single-process mode. */
  cluster?: {
    redisUrl: string;
    /** IOC_BROKER_ID. */
    brokerId: string;
    db: Kysely<DatabaseSchema>;
    kind: DatabaseKind;
    leaseMs: number;
    leaseRenewMs: number;
    streamMaxEntries: number;
  };
  logger: Logger;
}

const ZERO_STATS: AlertEngineHostStats = {
  evaluated: 0,
  warmUp: 0,
  skipped: 0,
  outOfOrder: 0,
  aqiClosedHourReadings: 0,
  changes: 0,
  commits: 0,
  commitFailures: 0,
  lag: 0,
  lastCommitMs: null,
  aqiHoursEmitted: 0,
  derivedFailures: 0,
  position: -1,
  snapshotPosition: -1,
};

/**
 * The alert engine as the broker runs it: ONE engine code path (AlertEngineHost), two inputs.
 *
 * - `single` (no IOC_REDIS_URL): the host is the spool's consumer `alerts`, exactly as before
 *   scale-out (cursor `alert-engine`).
 * - `cluster`: every node's spool consumer is a ReadingStreamForwarder (`alerts-stream`, into
 *   `ioc:alerts:readings`); an AlertEngineLeader contends for the `alert-engine` lease, and the
 *   node holding it runs a host (cursor `alert-engine-stream`, every commit fenced by its term)
 *   fed by a ReadingStreamInput. Its derived hourly VN_AQI readings go into its own spool, and
 *   from there are stored and forwarded like any reading.
 */
export function createAlertEngineRuntime(options: AlertEngineRuntimeOptions): AlertEngineRuntime {
  const { cluster } = options;
  if (!cluster) {
    const host = new AlertEngineHost(options.host);
    return {
      mode: 'single',
      spoolConsumers: [host],
      beforeSpool: () => host.start(),
      afterSpool: () => undefined,
      registryChanged: (changes) => host.registryChanged(changes),
      deviceStatuses: (statuses) => host.deviceStatuses(statuses),
      stats: () => host.stats(),
      close: () => host.close(),
    };
  }
  const node = `broker-${cluster.brokerId}`;
  const forwardRedis = streamRedis(cluster.redisUrl, options.logger, 'alert stream forwarder');
  const forwarder = new ReadingStreamForwarder({
    redis: forwardRedis,
    node,
    maxEntries: cluster.streamMaxEntries,
    logger: options.logger.child({ component: 'alert-stream' }),
  });
  const leader = new AlertEngineLeader({
    leases: new LeaseRepository(cluster.db, cluster.kind),
    name: ALERT_ENGINE_LEASE,
    holder: `${node}:${randomUUID().slice(0, 8)}`,
    ttlMs: cluster.leaseMs,
    renewMs: cluster.leaseRenewMs,
    logger: options.logger,
    createHost: (fence, onLeaseLost) =>
      new AlertEngineHost({ ...options.host, cursorName: ALERT_ENGINE_STREAM_CURSOR, fence, onLeaseLost }),
    createInput: (host) =>
      new ReadingStreamInput({
        redis: streamRedis(cluster.redisUrl, options.logger, 'alert stream reader'),
        consumer: host,
        appendDerived: (reading) => forwarder.appendDerived(reading),
        backlog: () => host.stats().lag,
        logger: options.logger,
      }),
  });
  return {
    mode: 'cluster',
    spoolConsumers: [forwarder],
    beforeSpool: () => Promise.resolve(),
    afterSpool: () => leader.start(),
    registryChanged: (changes) => leader.registryChanged(changes),
    deviceStatuses: (statuses) => leader.deviceStatuses(statuses),
    stats: () => {
      const input = leader.inputStats();
      return {
        ...(leader.hostStats() ?? ZERO_STATS),
        lease: leader.stats(),
        stream: { forward: forwarder.stats(), ...(input ? { input } : {}) },
      };
    },
    async close() {
      await leader.close();
      await forwarder.close();
      forwardRedis.disconnect();
    },
  };
}
