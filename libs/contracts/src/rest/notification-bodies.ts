import { z } from 'zod';
import { unsafeCharacterMessage } from '../text-safety';
import {
  DELIVERY_STATES,
  LANGUAGES,
  NOTIFICATION_POLICY_DEFAULTS,
  subscriptionFiltersSchema,
} from '../alerts';

/**
 * Bodies of the notifier's REST routes under `/api/v1/agencies/{agencyId}/…`: webhook endpoints
 * (the secret appears only in the answer that creates or rotates it), subscriptions, and the
 * delivery log. Browser-safe.
 */

const isoTime = z.string().describe('ISO-8601');
/** Group wait / interval / repeat: seconds, up to 7 days. */
const policySeconds = z
  .number()
  .int()
  .min(0)
  .max(7 * 24 * 3600);
const name = z
  .string()
  .min(1)
  .max(200)
  .superRefine((value, ctx) => {
    const problem = unsafeCharacterMessage(value);
    if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
  });

/** `POST /api/v1/agencies/{agencyId}/webhooks`. */
export const createWebhookEndpointBody = z.strictObject({
  url: z
    .string()
    .min(1)
    .max(2000)
    .describe(
      'http(s) URL; private, loopback and link-local destinations are refused unless allowed by configuration',
    ),
  description: name.nullable().optional(),
});
export type CreateWebhookEndpointBody = z.infer<typeof createWebhookEndpointBody>;

/** A webhook endpoint as REST shows it (never its secret, except `secret` in create/rotate answers). */
export const webhookEndpointBody = z.object({
  id: z.string(),
  agencyId: z.string(),
  url: z.string(),
  description: z.string().nullable(),
  secretHint: z.string().describe('the first characters of the secret (whsec_…)'),
  enabled: z.boolean(),
  disabledAt: isoTime.nullable(),
  disabledReason: z.enum(['gone', 'manual']).nullable().describe('gone: the receiver answered 410 Gone'),
  createdAt: isoTime,
  updatedAt: isoTime,
});
export type WebhookEndpointBody = z.infer<typeof webhookEndpointBody>;

/** Answer of create and rotate-secret: the endpoint and its secret, shown this once. */
export const webhookEndpointWithSecretBody = webhookEndpointBody.extend({
  secret: z
    .string()
    .describe('whsec_ + base64 of 32 random bytes: verify signatures with it; shown only this once'),
});
export type WebhookEndpointWithSecretBody = z.infer<typeof webhookEndpointWithSecretBody>;

export const webhookEndpointListBody = z.object({ items: z.array(webhookEndpointBody) });
export type WebhookEndpointListBody = z.infer<typeof webhookEndpointListBody>;

/** `POST /api/v1/agencies/{agencyId}/subscriptions`. */
export const createSubscriptionBody = z.strictObject({
  name,
  filters: subscriptionFiltersSchema.default({ minSeverity: 'warning' }),
  webhookEndpointIds: z.array(z.string().min(1).max(64)).max(20).default([]),
  mqtt: z
    .boolean()
    .default(false)
    .describe("also publish on the agency's MQTT alert topic ioc/v1/alerts/{agencyId}/{notificationId}"),
  language: z.enum(LANGUAGES).default('vi'),
  groupWaitSeconds: policySeconds.default(NOTIFICATION_POLICY_DEFAULTS.groupWaitSeconds),
  groupIntervalSeconds: policySeconds.default(NOTIFICATION_POLICY_DEFAULTS.groupIntervalSeconds),
  repeatIntervalSeconds: policySeconds
    .min(60)
    .max(31 * 24 * 3600)
    .default(NOTIFICATION_POLICY_DEFAULTS.repeatIntervalSeconds),
  enabled: z.boolean().default(true),
});
export type CreateSubscriptionBody = z.infer<typeof createSubscriptionBody>;
export type CreateSubscriptionInput = z.input<typeof createSubscriptionBody>;

/** `PATCH /api/v1/agencies/{agencyId}/subscriptions/{id}`: any field of the create body. */
export const patchSubscriptionBody = z.strictObject({
  name: name.optional(),
  filters: subscriptionFiltersSchema.optional(),
  webhookEndpointIds: z.array(z.string().min(1).max(64)).max(20).optional(),
  mqtt: z.boolean().optional(),
  language: z.enum(LANGUAGES).optional(),
  groupWaitSeconds: policySeconds.optional(),
  groupIntervalSeconds: policySeconds.optional(),
  repeatIntervalSeconds: policySeconds
    .min(60)
    .max(31 * 24 * 3600)
    .optional(),
  enabled: z.boolean().optional(),
});
export type PatchSubscriptionBody = z.infer<typeof patchSubscriptionBody>;

export const subscriptionBody = z.object({
  id: z.string(),
  agencyId: z.string(),
  name: z.string(),
  filters: subscriptionFiltersSchema,
  webhookEndpointIds: z.array(z.string()),
  mqtt: z.boolean(),
  language: z.enum(LANGUAGES),
  groupWaitSeconds: z.number().int(),
  groupIntervalSeconds: z.number().int(),
  repeatIntervalSeconds: z.number().int(),
  enabled: z.boolean(),
  createdAt: isoTime,
  updatedAt: isoTime,
});
export type SubscriptionBody = z.infer<typeof subscriptionBody>;
export const subscriptionListBody = z.object({ items: z.array(subscriptionBody) });
export type SubscriptionListBody = z.infer<typeof subscriptionListBody>;

/** One attempt of a delivery. */
export const deliveryAttemptBody = z.object({
  attempt: z.number().int(),
  at: isoTime,
  statusCode: z
    .number()
    .int()
    .nullable()
    .describe('HTTP status; null: no answer (refused, timed out, connection error)'),
  error: z.string().nullable(),
  latencyMs: z.number().int(),
});

/** A delivery (one notification to one channel target) with its attempts. */
export const deliveryBody = z.object({
  id: z.number().int(),
  notificationId: z.string().describe('the webhook-id header and data.notificationId'),
  type: z.string(),
  channel: z.enum(['webhook', 'mqtt']),
  targetId: z.string().describe('webhook endpoint id, or the agency id (MQTT)'),
  state: z.enum(DELIVERY_STATES),
  attempts: z.number().int(),
  nextAttemptAt: isoTime.nullable(),
  lastStatus: z.number().int().nullable(),
  lastError: z.string().nullable(),
  deliveredAt: isoTime.nullable(),
  replayOf: z.number().int().nullable(),
  createdAt: isoTime,
  attemptLog: z.array(deliveryAttemptBody),
});
export type DeliveryBody = z.infer<typeof deliveryBody>;
export const deliveryListBody = z.object({ items: z.array(deliveryBody) });
export type DeliveryListBody = z.infer<typeof deliveryListBody>;

/** `GET /api/v1/agencies/{agencyId}/deliveries` query. */
export const deliveryQuery = z.strictObject({
  state: z.enum(DELIVERY_STATES).optional(),
  endpoint: z.string().min(1).max(64).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});
export type DeliveryQuery = z.infer<typeof deliveryQuery>;
