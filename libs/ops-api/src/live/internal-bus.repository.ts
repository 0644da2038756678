import { Inject, Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { Subject } from 'rxjs';
import { InternalBusClient, type ReadingBatch, serviceClientId } from '@ioc/bus';
import type { DeviceStatus, IngestStatsMessage, RejectionNotice } from '@ioc/contracts';
import type { Logger } from '@ioc/runtime';
import type { OpsApiSettings } from '../api-config';
import { LOGGER, OPS_API_SETTINGS } from '../tokens';

/**
 * The API node's connection to the internal bus (`InternalBusClient` from `@ioc/bus`) as NestJS
 * providers see it: relayed readings, rejections and device status changes as streams, the latest
 * ingest statistics.
 * Client id `ioc-api-<IOC_NODE_ID>`, clean session (see InternalBusClient).
 */
@Injectable()
export class InternalBusRepository implements OnModuleInit, OnModuleDestroy {
  readonly readings$ = new Subject<ReadingBatch>();
  readonly rejections$ = new Subject<RejectionNotice>();
  /** Each notice of changed device statuses from the broker. */
  readonly deviceStatus$ = new Subject<DeviceStatus[]>();
  private ingestStats: IngestStatsMessage | null = null;
  private client: InternalBusClient | undefined;

  constructor(
    @Inject(OPS_API_SETTINGS) private readonly settings: OpsApiSettings,
    @Inject(LOGGER) private readonly logger: Logger,
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
        ingestStats: (stats) => {
          this.ingestStats = stats;
        },
      },
    );
  }

  get connected(): boolean {
    return this.client?.connected ?? false;
  }

  latestIngestStats(): IngestStatsMessage | null {
    return this.ingestStats;
  }

  async onModuleDestroy(): Promise<void> {
    await this.client?.close();
    this.readings$.complete();
    this.rejections$.complete();
    this.deviceStatus$.complete();
  }
}
