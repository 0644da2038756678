import { z } from 'zod';
import { DatabaseTaskLog, type IocDatabase } from '@ioc/database';
import { envField, type Logger } from '@ioc/runtime';
import { DestinationGuard } from './destination-guard';
import { NotificationPlanner, type PlanResult } from './notification-planner';
import type { NotifyClock } from './notify-error';
import {
  type AgencyAlertPublisher,
  type DrainResult,
  Outbox,
  STANDARD_WEBHOOKS_RETRY_DELAYS_MS,
} from './outbox';
import { SubscriptionRepository } from './subscriptions';
import { WebhookEndpointRepository } from './webhook-endpoints';
import { loadWebhookSecretKey, WebhookSecretBox } from './webhook-secrets';
import { DEFAULT_WEBHOOK_TIMEOUT_MS } from './webhook-sender';

/** The notifier's environment variables, merged into the API's env schema. */
export const notifierEnvShape = {
  IOC_NOTIFIER_POLL_MS: envField
    .positiveInt(1000)
    .describe(
      'How often the notifier looks for due notification groups and deliveries (ms); alert events wake it at once',
    ),
  IOC_WEBHOOK_TIMEOUT_MS: envField
    .positiveInt(DEFAULT_WEBHOOK_TIMEOUT_MS)
    .describe('Timeout of one webhook request (ms); Standard Webhooks recommends 15-30 s'),
  IOC_WEBHOOK_RETRY_SCHEDULE: z
    .string()
    .regex(/^\s*(\d+(\.\d+)?\s*(,\s*\d+(\.\d+)?\s*)*)?$/, 'comma-separated seconds, e.g. 5,300,1800')
    .optional()
    .describe(
      "Seconds to wait after each failed webhook attempt, comma-separated; unset: the Standard Webhooks spec's 5,300,1800,7200,18000,36000,50400,72000,86400 (10 attempts in all)",
    ),
  IOC_WEBHOOK_ALLOW_PRIVATE: envField
    .boolean(false)
    .describe(
      'Allow webhook destinations in loopback, private, link-local, CGNAT, unique-local and other non-public ranges',
    ),
  IOC_WEBHOOK_ALLOWED_CIDRS: z
    .string()
    .default('')
    .describe(
      'Comma-separated CIDRs webhook destinations may be in although non-public (e.g. 10.20.0.0/16,fd00::/8)',
    ),
  IOC_WEBHOOK_SECRET_KEY: z
    .string()
    .optional()
    .describe(
      'Key webhook endpoint secrets are encrypted with at rest (AES-256-GCM via HKDF), base64 or hex of at least 32 bytes, the same on every API node. Unset: generated once in {IOC_DATA_DIR}/keys/webhook-secret.key; secret',
    ),
};

/** What notifierSettingsFromEnv reads. */
export interface NotifierEnv {
  IOC_DATA_DIR: string;
  IOC_NOTIFIER_POLL_MS: number;
  IOC_WEBHOOK_TIMEOUT_MS: number;
  IOC_WEBHOOK_RETRY_SCHEDULE?: string | undefined;
  IOC_WEBHOOK_ALLOW_PRIVATE: boolean;
  IOC_WEBHOOK_ALLOWED_CIDRS: string;
  IOC_WEBHOOK_SECRET_KEY?: string | undefined;
}

/** The notifier's parts, built once per API node and shared by REST and the Notifier service. */
export interface NotifierParts {
  guard: DestinationGuard;
  box: WebhookSecretBox;
  endpoints: WebhookEndpointRepository;
  subscriptions: SubscriptionRepository;
  outbox: Outbox;
  planner: NotificationPlanner;
}

/**
 * Builds the notifier's repositories, outbox and planner on an open database from the environment.
 * @throws Error (a malformed IOC_WEBHOOK_ALLOWED_CIDRS entry; a short IOC_WEBHOOK_SECRET_KEY)
 */
export function createNotifierParts(
  database: IocDatabase,
  env: NotifierEnv,
  options: { nodeId: string; mqtt?: AgencyAlertPublisher; clock?: NotifyClock },
): NotifierParts {
  const guard = new DestinationGuard({
    allowPrivate: env.IOC_WEBHOOK_ALLOW_PRIVATE,
    allowedCidrs: env.IOC_WEBHOOK_ALLOWED_CIDRS.split(',')
      .map((c) => c.trim())
      .filter((c) => c !== ''),
  });
  const box = new WebhookSecretBox(
    loadWebhookSecretKey({ configured: env.IOC_WEBHOOK_SECRET_KEY, dataDir: env.IOC_DATA_DIR }),
  );
  const clock = options.clock;
  const endpoints = new WebhookEndpointRepository(database.db, { box, guard, ...(clock ? { clock } : {}) });
  const outbox = new Outbox(database.db, {
    kind: database.kind,
    endpoints,
    guard,
    ...(options.mqtt ? { mqtt: options.mqtt } : {}),
    retryDelaysMs:
      env.IOC_WEBHOOK_RETRY_SCHEDULE === undefined || env.IOC_WEBHOOK_RETRY_SCHEDULE.trim() === ''
        ? STANDARD_WEBHOOKS_RETRY_DELAYS_MS
        : env.IOC_WEBHOOK_RETRY_SCHEDULE.split(',').map((s) => Math.round(Number(s) * 1000)),
    timeoutMs: env.IOC_WEBHOOK_TIMEOUT_MS,
    workerId: `api-${options.nodeId}`,
    ...(clock ? { clock } : {}),
  });
  return {
    guard,
    box,
    endpoints,
    subscriptions: new SubscriptionRepository(database.db, clock),
    outbox,
    planner: new NotificationPlanner(database.db, {
      kind: database.kind,
      outbox,
      ...(clock ? { clock } : {}),
    }),
  };
}

/**
 * The notifier service of an API node: plans notifications from committed alert transitions
 * (NotificationPlanner), then drains the outbox (Outbox.drain) — when woken (an
 * INTERNAL_ALERTS_TOPIC message: `wake()`) and every `pollMs` (groups and retries fall due with
 * time). Runs never overlap; a wake during a run runs once more after it. Failures are logged and
 * retried at the next tick (everything is in the database).
 */
export class Notifier {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;
  private readonly taskLog: DatabaseTaskLog;

  constructor(
    private readonly parts: Pick<NotifierParts, 'planner' | 'outbox'>,
    private readonly options: { pollMs: number; logger: Logger },
  ) {
    this.taskLog = new DatabaseTaskLog(options.logger, 'notifier pass');
  }

  start(): void {
    this.stopped = false;
    this.timer = setInterval(() => this.wake(), this.options.pollMs);
    this.timer.unref();
    this.wake();
  }

  /** Runs a pass now (or right after the one under way). */
  wake(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.loop().finally(() => (this.running = undefined));
  }

  /** One plan + drain, for tests and the loop. */
  async runOnce(): Promise<{ plan: PlanResult; drain: DrainResult }> {
    const plan = await this.parts.planner.run();
    const drain = await this.parts.outbox.drain();
    return { plan, drain };
  }

  /** Stops the timer and waits for the pass under way. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.running;
  }

  private async loop(): Promise<void> {
    do {
      this.again = false;
      try {
        const { plan, drain } = await this.runOnce();
        this.taskLog.succeeded();
        if (plan.notifications > 0 || drain.attempts > 0)
          this.options.logger.debug({ ...plan, ...drain }, 'notifier pass');
      } catch (error) {
        // A registry database outage: once, not every tick.
        this.taskLog.failed(error, 'notifier pass failed; retried at the next tick');
      }
    } while (this.again && !this.stopped);
  }
}

/**
 * The MQTT channel's publisher bound after start: the API's bus client lives in its Nest module,
 * which is created after the notifier's parts. Until bound, a publish fails (the outbox retries).
 */
export class DeferredAlertPublisher implements AgencyAlertPublisher {
  private target: AgencyAlertPublisher | undefined;

  bind(target: AgencyAlertPublisher): void {
    this.target = target;
  }

  publishAgencyAlert(agencyId: string, notificationId: string, body: string): Promise<void> {
    if (!this.target) return Promise.reject(new Error('the internal bus is not connected yet'));
    return this.target.publishAgencyAlert(agencyId, notificationId, body);
  }
}
