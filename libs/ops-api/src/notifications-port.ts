import {
  type AgencyAlertPublisher,
  type DeferredAlertPublisher,
  newId,
  type NotifierParts,
  sendWebhook,
  type WebhookOutcome,
} from '@ioc/alerting';
import type { NotificationBody } from '@ioc/contracts';

/**
 * The notifier (`@ioc/alerting` notify/) as the API's notification routes use it. Absent (an API
 * without a database): `/api/v1/agencies/{id}/webhooks`, `/subscriptions` and `/deliveries`
 * answer 503 `notifications-unavailable`.
 */
export interface NotificationsPort {
  parts: Pick<NotifierParts, 'endpoints' | 'subscriptions' | 'outbox' | 'guard'>;
  /** Wakes the notifier now (an alert event arrived; a replay was queued). */
  wake(): void;
  /** Connects the MQTT channel to this node's bus client (the live module's, once it exists). */
  bindMqtt(publisher: AgencyAlertPublisher): void;
  /** Sends a `ping` notification to an endpoint now, outside the outbox, and answers what came back. */
  ping(agencyId: string, endpointId: string): Promise<WebhookOutcome & { notificationId: string }>;
}

/**
 * The port over the notifier's parts. `mqtt` is the DeferredAlertPublisher the outbox was built
 * with (bound to the bus by the notifications module); `wake` runs the Notifier (omitted: no-op).
 */
export function createNotificationsPort(
  parts: NotifierParts,
  options: { mqtt?: DeferredAlertPublisher; wake?: () => void; clock?: () => number } = {},
): NotificationsPort {
  const clock = options.clock ?? Date.now;
  return {
    parts,
    wake: () => options.wake?.(),
    bindMqtt: (publisher) => options.mqtt?.bind(publisher),
    async ping(agencyId, endpointId) {
      await parts.endpoints.get(agencyId, endpointId);
      const target = await parts.endpoints.target(endpointId);
      if (!target) throw new Error(`webhook endpoint ${endpointId} vanished`);
      const now = clock();
      const notificationId = newId('msg');
      const body: NotificationBody = {
        type: 'ping',
        timestamp: new Date(now).toISOString(),
        data: { notificationId, agencyId, subscriptionId: '', language: 'vi', groupKey: '', alerts: [] },
      };
      const outcome = await sendWebhook(
        { url: target.url, secret: target.secret, id: notificationId, body: JSON.stringify(body), now },
        parts.guard,
      );
      return { ...outcome, notificationId };
    },
  };
}
