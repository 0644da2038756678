import { Inject, Module, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import type { Subscription } from 'rxjs';
import { AuditModule } from '../audit/audit.module';
import { InternalBusRepository } from '../live/internal-bus.repository';
import { LiveModule } from '../live/live.module';
import type { NotificationsPort } from '../notifications-port';
import { NOTIFICATIONS } from '../tokens';
import {
  DeliveriesController,
  NotificationsAccess,
  SubscriptionsController,
  WebhooksController,
} from './notifications.controller';

/**
 * Agencies' notifications over REST (`/api/v1/agencies/{agencyId}/webhooks`, `/subscriptions`,
 * `/deliveries`), and the notifier's link to this node's bus: its MQTT channel publishes through
 * the live module's bus client, and every INTERNAL_ALERTS_TOPIC message wakes it.
 */
@Module({
  imports: [AuditModule, LiveModule],
  controllers: [WebhooksController, SubscriptionsController, DeliveriesController],
  providers: [NotificationsAccess],
})
export class NotificationsModule implements OnModuleInit, OnModuleDestroy {
  private subscription: Subscription | undefined;

  constructor(
    @Inject(NOTIFICATIONS) private readonly port: NotificationsPort | null,
    private readonly bus: InternalBusRepository,
  ) {}

  onModuleInit(): void {
    if (this.port === null) return;
    const port = this.port;
    port.bindMqtt({
      publishAgencyAlert: (agencyId, notificationId, body) =>
        this.bus.publishAgencyAlert(agencyId, notificationId, body),
    });
    this.subscription = this.bus.alerts$.subscribe(() => port.wake());
  }

  onModuleDestroy(): void {
    this.subscription?.unsubscribe();
  }
}
