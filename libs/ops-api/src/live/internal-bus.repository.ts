import { Inject, Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { Subject } from 'rxjs';
import {
  type CommandTarget,
  InternalBusClient,
  type InternalBusRefusal,
  type ReadingBatch,
  serviceClientId,
} from '@ioc/bus';
import type {
  AlertEvent,
  BrokerNodeIngestStatsBody,
  CommandAckNotice,
  CommandMessage,
  CommandRecordBody,
  DeviceStatus,
  IngestStatsBody,
  RegistryChangeNotice,
  RegistryPosition,
  RejectionNotice,
} from '@ioc/contracts';
import type { Logger } from '@ioc/runtime';
import type { OpsApiSettings } from '../api-config';
import type { RegistryProvisioning } from '../registry-port';
import {
  type BrokerNodeIngestStats,
  brokerNodeViews,
  heardAt,
  platformIngestStats,
} from '../ingest/platform-ingest-stats';
import { LOGGER, OPS_API_SETTINGS, REGISTRY_PROVISIONING } from '../tokens';

/**
 * The API node's connection to the internal bus (`InternalBusClient` from `@ioc/bus`) as NestJS
 * providers see it: relayed readings, rejections and device status changes as streams, the latest
 * ingest statistics, registry change notices in (to RegistrySync) and out (after this node's writes).
 * Client id `ioc-api-<IOC_NODE_ID>`, clean session (see InternalBusClient).
 */
/** A broker node whose registry position is older than this is taken for gone (it republishes every 5 s). */
export const BROKER_POSITION_STALE_MS = 15_000;

@Injectable()
export class InternalBusRepository implements OnModuleInit, OnModuleDestroy {
  readonly readings$ = new Subject<ReadingBatch>();
  readonly rejections$ = new Subject<RejectionNotice>();
  /** Each notice of changed device statuses from the broker. */
  readonly deviceStatus$ = new Subject<DeviceStatus[]>();
  /** Each command acknowledgement a device published, relayed by the broker. */
  readonly commandAcks$ = new Subject<CommandAckNotice>();
  /** Alert transitions of the engine (INTERNAL_ALERTS_TOPIC): every API node receives each. */
  readonly alerts$ = new Subject<AlertEvent[]>();
  /** This node's people's steps on alerts (acks, resolutions): only this node knows of them. */
  readonly alertSteps$ = new Subject<AlertEvent>();
  /** The registry position each broker node has applied (retained on the bus, refreshed every few seconds). */
  private readonly brokerPositions = new Map<string, RegistryPosition>();
  private positionWaiters = new Set<() => void>();
  /**
   * Each change of a command record this node made (sent, answered, timed out), for the live feed.
   * Only this node knows of it: with several API nodes each change is made by exactly one of
   * them (conditional updates in CommandRepository).
   */
  readonly commandUpdates$ = new Subject<CommandRecordBody>();
  /** Each broker node's latest ingest statistics, by node name. */
  private readonly ingestStats = new Map<string, BrokerNodeIngestStats>();
  private client: InternalBusClient | undefined;

  constructor(
    @Inject(OPS_API_SETTINGS) private readonly settings: OpsApiSettings,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(REGISTRY_PROVISIONING) private readonly provisioning: RegistryProvisioning | null,
  ) {}

  onModuleInit(): void {
    this.client = InternalBusClient.connect(
      {
        brokerUrl: this.settings.brokerUrl,
        clientId: serviceClientId('api', this.settings.nodeId),
        secret: this.settings.internalSecret,
        logger: this.logger,
      },
      {
        readings: (batch) => this.readings$.next(batch),
        rejection: (notice) => this.rejections$.next(notice),
        deviceStatus: (statuses) => this.deviceStatus$.next(statuses),
        commandAck: (notice) => this.commandAcks$.next(notice),
        alerts: (events) => this.alerts$.next(events),
        registryPosition: (position) => {
          this.brokerPositions.set(position.node, position);
          for (const wake of [...this.positionWaiters]) wake();
        },
        ingestStats: (stats, { retained }) => {
          this.ingestStats.set(stats.node, { stats, heardAt: heardAt(stats, retained, Date.now()) });
        },
        // A node retired through DELETE /api/v1/ingest/nodes/{node} on any API node (this one too).
        ingestStatsCleared: (node) => {
          if (this.ingestStats.delete(node)) this.logger.info({ node }, 'broker node forgotten');
        },
        // Another node's (or this node's own) registry write: read the change log.
        ...(this.provisioning ? { registryChanges: () => this.provisioning?.notify() } : {}),
      },
    );
  }

  get connected(): boolean {
    return this.client?.connected ?? false;
  }

  /** Set while the broker refuses this node's internal login (InternalBusClient.refused): `/health` shows it. */
  get refusedReason(): InternalBusRefusal | undefined {
    return this.client?.refused;
  }

  /**
   * Tells every platform process that the registry changed up to `notice.seq`. Best effort: while
   * the bus is down the others catch up at their periodic change-log check (REGISTRY_POLL_MS).
   */
  announceRegistryChanges(notice: RegistryChangeNotice): void {
    if (!this.client) return;
    this.client.publishRegistryChanges(notice).catch((error: unknown) => {
      this.logger.warn(
        { err: (error as Error).message, seq: notice.seq },
        'registry change notice not published; other processes catch up at their next check',
      );
    });
  }

  /**
   * Publishes a command on the device's command topic (QoS 1; resolves on the broker's PUBACK).
   * @throws RangeError for a message the contract refuses; Error when not connected
   */
  async publishCommand(device: CommandTarget, message: CommandMessage): Promise<void> {
    if (!this.client?.connected) throw new Error('not connected to the broker');
    await this.client.publishCommand(device, message);
  }

  /**
   * The notifier's MQTT channel: a notification on `ioc/v1/alerts/{agencyId}/{notificationId}`,
   * QoS 1, resolved on the broker's PUBACK (InternalBusClient.publishAgencyAlert).
   * @throws Error when not connected or not acknowledged in time (the outbox retries)
   */
  async publishAgencyAlert(agencyId: string, notificationId: string, body: string): Promise<void> {
    if (!this.client?.connected) throw new Error('not connected to the broker');
    await this.client.publishAgencyAlert(agencyId, notificationId, body);
  }

  /**
   * Resolves true once every live broker node (one whose position is at most
   * BROKER_POSITION_STALE_MS old) has applied the registry up to `seq`; false after `timeoutMs`.
   * While this node is not (yet) connected to the bus it waits for a broker to show up; once
   * connected with no live broker position at all (a broker that does not publish one) it
   * resolves false at once.
   */
  waitForBrokers(seq: number, timeoutMs: number): Promise<boolean> {
    const reached = (): boolean | undefined => {
      const now = Date.now();
      const live = [...this.brokerPositions.values()].filter((p) => now - p.at <= BROKER_POSITION_STALE_MS);
      if (live.length === 0) return this.connected ? false : undefined;
      return live.every((p) => p.seq >= seq) ? true : undefined;
    };
    const first = reached();
    if (first !== undefined) return Promise.resolve(first);
    return new Promise((resolve) => {
      const finish = (result: boolean): void => {
        clearTimeout(timer);
        this.positionWaiters.delete(check);
        resolve(result);
      };
      const check = (): void => {
        const now = reached();
        if (now !== undefined) finish(now);
      };
      const timer = setTimeout(() => finish(false), timeoutMs);
      this.positionWaiters.add(check);
    });
  }

  /**
   * The platform's ingest statistics over every broker node heard from (platformIngestStats:
   * totals, each node's own, `broker-node-silent` for a stale one); null before any node was heard.
   */
  latestIngestStats(): IngestStatsBody | null {
    return platformIngestStats(this.ingestStats.values(), Date.now());
  }

  /**
   * Forgets a broker node that no longer publishes (a retired node): clears its retained
   * statistics on the bus (InternalBusClient.clearIngestStats), which makes every API node forget
   * it, this one included; a node that publishes again later shows up again.
   * @returns the node as it was last seen; `unknown` when no statistics of it are held here;
   *   `live` when it is not stale (still publishing: retire it first)
   * @throws Error when this node is not connected to the bus (nothing is cleared)
   */
  async forgetBrokerNode(node: string): Promise<BrokerNodeIngestStatsBody | 'unknown' | 'live'> {
    const view = brokerNodeViews(this.ingestStats.values(), Date.now()).find((n) => n.node === node);
    if (!view) return 'unknown';
    if (!view.stale) return 'live';
    if (!this.client?.connected) throw new Error('not connected to the broker');
    await this.client.clearIngestStats(node);
    this.ingestStats.delete(node);
    return view;
  }

  async onModuleDestroy(): Promise<void> {
    await this.client?.close();
    this.readings$.complete();
    this.rejections$.complete();
    this.deviceStatus$.complete();
    this.commandAcks$.complete();
    this.commandUpdates$.complete();
    this.alerts$.complete();
    this.alertSteps$.complete();
  }
}
