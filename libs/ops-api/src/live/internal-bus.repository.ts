import { Inject, Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { connect, type MqttClient } from 'mqtt';
import { Subject } from 'rxjs';
import {
  INTERNAL_INGEST_STATS_TOPIC,
  INTERNAL_READINGS_TOPIC,
  INTERNAL_REJECTIONS_TOPIC,
  INTERNAL_USERNAME,
} from '@ioc/contracts';
import type { Logger } from '@ioc/runtime';
import type { OpsApiSettings } from '../api-config';
import { RelayedReadings } from './relayed-readings';
import { LOGGER, OPS_API_SETTINGS } from '../tokens';

/**
 * The API's one MQTT connection: a persistent session (clean: false, QoS 1) on the broker's
 * internal topics, so readings relayed while the API reconnects are delivered afterwards.
 */
@Injectable()
export class InternalBusRepository implements OnModuleInit, OnModuleDestroy {
  readonly readings$ = new Subject<RelayedReadings>();
  readonly rejections$ = new Subject<Record<string, unknown>>();
  private ingestStats: Record<string, unknown> | null = null;
  private client: MqttClient | undefined;

  constructor(
    @Inject(OPS_API_SETTINGS) private readonly settings: OpsApiSettings,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  onModuleInit(): void {
    const client = connect(this.settings.brokerUrl, {
      clientId: `ioc-api-${process.pid}`,
      username: INTERNAL_USERNAME,
      password: this.settings.internalSecret,
      clean: false,
      reconnectPeriod: 1000,
    });
    this.client = client;
    client.on('connect', () => {
      this.logger.info({ brokerUrl: this.settings.brokerUrl }, 'connected to broker');
      client.subscribe(
        {
          [INTERNAL_READINGS_TOPIC]: { qos: 1 },
          [INTERNAL_REJECTIONS_TOPIC]: { qos: 0 },
          [INTERNAL_INGEST_STATS_TOPIC]: { qos: 0 },
        },
        (error) => {
          if (error) this.logger.error({ err: error }, 'internal subscription failed');
        },
      );
    });
    client.on('error', (error) => this.logger.warn({ err: error.message }, 'broker connection error'));
    client.on('message', (topic, payload) => this.dispatch(topic, payload));
  }

  get connected(): boolean {
    return this.client?.connected ?? false;
  }

  latestIngestStats(): Record<string, unknown> | null {
    return this.ingestStats;
  }

  async onModuleDestroy(): Promise<void> {
    await this.client?.endAsync();
    this.readings$.complete();
    this.rejections$.complete();
  }

  private dispatch(topic: string, payload: Buffer): void {
    if (topic === INTERNAL_READINGS_TOPIC) {
      this.readings$.next(new RelayedReadings(payload, this.logger));
      return;
    }
    try {
      const body: unknown = JSON.parse(payload.toString('utf8'));
      if (topic === INTERNAL_REJECTIONS_TOPIC) this.rejections$.next(body as Record<string, unknown>);
      else if (topic === INTERNAL_INGEST_STATS_TOPIC) this.ingestStats = body as Record<string, unknown>;
    } catch (error) {
      this.logger.error({ err: error, topic }, 'unreadable internal message');
    }
  }
}
