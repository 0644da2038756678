import { type Kysely, type Selectable, sql } from 'kysely';
import type { DeliveryBody, DeliveryQuery, DeliveryState } from '@ioc/contracts';
import { type DatabaseKind, type DatabaseSchema, type DeliveriesTable, transaction } from '@ioc/database';
import type { DestinationGuard } from './destination-guard';
import { iso, type NotifyClock, NotifyError, SYSTEM_CLOCK } from './notify-error';
import type { WebhookEndpointRepository } from './webhook-endpoints';
import { DEFAULT_WEBHOOK_TIMEOUT_MS, sendWebhook, type WebhookOutcome } from './webhook-sender';

/**
 * The Standard Webhooks spec's example retry schedule ("Deliverability and reliability"): an
 * attempt immediately, then after 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h and 24 h — ten
 * attempts over about 75.5 hours; after the last failure the delivery is `failed`. Each delay is
 * the wait after the failure of the attempt before it, in ms.
 */
export const STANDARD_WEBHOOKS_RETRY_DELAYS_MS: readonly number[] = [
  5_000,
  5 * 60_000,
  30 * 60_000,
  2 * 3600_000,
  5 * 3600_000,
  10 * 3600_000,
  14 * 3600_000,
  20 * 3600_000,
  24 * 3600_000,
];

/** The spec recommends "some level of random jitter": each delay is stretched by up to this share. */
export const DEFAULT_RETRY_JITTER = 0.1;
/** A `Retry-After` longer than this is capped (the schedule's longest step). */
const MAX_RETRY_AFTER_MS = 24 * 3600_000;
/** How long a claimed delivery stays reserved beyond the request timeout (another node takes it after). */
const CLAIM_MARGIN_MS = 30_000;
const ACTIVE_STATES = ['pending', 'retrying'] as const;

/** A publish on the agency's MQTT alert topic, resolved on the broker's PUBACK (QoS 1). */
export interface AgencyAlertPublisher {
  /** Publishes `body` on `ioc/v1/alerts/{agencyId}/{notificationId}`; rejects when not acknowledged. */
  publishAgencyAlert(agencyId: string, notificationId: string, body: string): Promise<void>;
}

/** A channel target of a notification: a webhook endpoint, or the agency's MQTT alert topic. */
export type DeliveryTarget =
  { channel: 'webhook'; endpointId: string } | { channel: 'mqtt'; agencyId: string };

export interface OutboxOptions {
  kind: DatabaseKind;
  endpoints: WebhookEndpointRepository;
  guard: DestinationGuard;
  mqtt?: AgencyAlertPublisher;
  /** Delays after each failed attempt (ms); STANDARD_WEBHOOKS_RETRY_DELAYS_MS by default (IOC_WEBHOOK_RETRY_SCHEDULE). */
  retryDelaysMs?: readonly number[];
  /** 0–1, DEFAULT_RETRY_JITTER by default. */
  jitter?: number;
  /** Per request, DEFAULT_WEBHOOK_TIMEOUT_MS by default (IOC_WEBHOOK_TIMEOUT_MS). */
  timeoutMs?: number;
  /** Names this node in `claimed_by`. */
  workerId?: string;
  /** Deliveries claimed at once (each of a different target). */
  batchSize?: number;
  clock?: NotifyClock;
}

interface ClaimedDelivery {
  id: number;
  notificationId: string;
  agencyId: string;
  channel: string;
  targetId: string;
  targetKey: string;
  attempts: number;
}

/** What one drain did. */
export interface DrainResult {
  attempts: number;
  delivered: number;
}

/**
 * The persistent outbox (table `deliveries`, attempts in `delivery_attempts`): one row per
 * notification × channel target, written in the same transaction as the notification.
 *
 * Order: only the oldest undelivered delivery of a target (`target_key`) is ever claimed, so one
 * endpoint receives its notifications in the order they were made, each once it is acknowledged;
 * a receiver that is down holds back its own queue (retrying on the schedule), never another's.
 *
 * Claiming is a short transaction (SQLite: `BEGIN IMMEDIATE`, the write lock; PostgreSQL:
 * `FOR UPDATE SKIP LOCKED`, so several API nodes drain one outbox) that marks the rows
 * `claimed_by`/`claimed_until`; the request is made outside it; its outcome is one more
 * transaction: an attempt row, and the delivery `delivered`, `retrying` (next_attempt_at from the
 * schedule, or a longer `Retry-After`), or `failed` after the last attempt — or at once when the
 * send-time SSRF check refuses the destination (`refused: …` in the log; the next delivery of the
 * target goes on, each checked again, the endpoint stays enabled). A 410 Gone disables the
 * endpoint (`gone`) and skips its other undelivered deliveries. A node that dies mid-request
 * leaves a claim that expires (`timeoutMs` + 30 s), and the delivery is attempted again: at least
 * once, with the same `webhook-id` for the receiver to drop the repeat.
 */
export class Outbox {
  private readonly delays: readonly number[];
  private readonly clock: NotifyClock;
  private readonly workerId: string;

  constructor(
    private readonly db: Kysely<DatabaseSchema>,
    private readonly options: OutboxOptions,
  ) {
    this.delays = options.retryDelaysMs ?? STANDARD_WEBHOOKS_RETRY_DELAYS_MS;
    this.clock = options.clock ?? SYSTEM_CLOCK;
    this.workerId = options.workerId ?? `pid-${process.pid}`;
  }

  /** Attempts a delivery gets in all: the first and one per retry delay. */
  get maxAttempts(): number {
    return this.delays.length + 1;
  }

  /** Writes one pending delivery per target (inside the caller's transaction). */
  async enqueue(
    trx: Kysely<DatabaseSchema>,
    notification: { id: string; agencyId: string },
    targets: readonly DeliveryTarget[],
    now: number,
  ): Promise<void> {
    if (targets.length === 0) return;
    await trx
      .insertInto('deliveries')
      .values(
        targets.map((t) => {
          const targetId = t.channel === 'webhook' ? t.endpointId : t.agencyId;
          return {
            notification_id: notification.id,
            agency_id: notification.agencyId,
            channel: t.channel,
            target_id: targetId,
            target_key: `${t.channel}:${targetId}`,
            state: 'pending',
            attempts: 0,
            next_attempt_at: now,
            last_status: null,
            last_error: null,
            delivered_at: null,
            claimed_by: null,
            claimed_until: null,
            replay_of: null,
            created_at: now,
            updated_at: now,
          };
        }),
      )
      .execute();
  }

  /**
   * Sends everything due, target heads first, until nothing more is due now (a delivered head
   * makes the next of its target due at once).
   */
  async drain(): Promise<DrainResult> {
    const result: DrainResult = { attempts: 0, delivered: 0 };
    for (;;) {
      const claimed = await this.claim();
      if (claimed.length === 0) return result;
      const outcomes = await Promise.all(claimed.map((d) => this.attempt(d)));
      result.attempts += claimed.length;
      result.delivered += outcomes.filter(Boolean).length;
    }
  }

  /** Claims due target heads (at most batchSize), marking them for this worker. */
  async claim(): Promise<ClaimedDelivery[]> {
    const now = this.clock.now();
    const claimUntil = now + (this.options.timeoutMs ?? DEFAULT_WEBHOOK_TIMEOUT_MS) + CLAIM_MARGIN_MS;
    return transaction(this.db, async (trx) => {
      let query = trx
        .selectFrom('deliveries as d')
        .select([
          'd.id',
          'd.notification_id',
          'd.agency_id',
          'd.channel',
          'd.target_id',
          'd.target_key',
          'd.attempts',
        ])
        .where('d.state', 'in', [...ACTIVE_STATES])
        .where('d.next_attempt_at', '<=', now)
        .where((eb) => eb.or([eb('d.claimed_until', 'is', null), eb('d.claimed_until', '<=', now)]))
        .where(({ not, exists, selectFrom }) =>
          not(
            exists(
              selectFrom('deliveries as e')
                .select('e.id')
                .whereRef('e.target_key', '=', 'd.target_key')
                .where('e.state', 'in', [...ACTIVE_STATES])
                .whereRef('e.id', '<', 'd.id'),
            ),
          ),
        )
        // A manually disabled endpoint keeps its queue until enabled again.
        .where(({ not, exists, selectFrom }) =>
          not(
            exists(
              selectFrom('webhook_endpoints as w')
                .select('w.id')
                .where(sql<boolean>`'webhook:' || w.id = d.target_key`)
                .where('w.enabled', '=', 0),
            ),
          ),
        )
        .orderBy('d.id')
        .limit(this.options.batchSize ?? 16);
      if (this.options.kind === 'postgres') query = query.forUpdate('d').skipLocked();
      const rows = await query.execute();
      if (rows.length === 0) return [];
      await trx
        .updateTable('deliveries')
        .set({ claimed_by: this.workerId, claimed_until: claimUntil })
        .where(
          'id',
          'in',
          rows.map((r) => r.id),
        )
        .execute();
      return rows.map((r) => ({
        id: r.id,
        notificationId: r.notification_id,
        agencyId: r.agency_id,
        channel: r.channel,
        targetId: r.target_id,
        targetKey: r.target_key,
        attempts: r.attempts,
      }));
    });
  }

  /** One attempt of a claimed delivery, and its record. @returns whether it was delivered */
  private async attempt(delivery: ClaimedDelivery): Promise<boolean> {
    const notification = await this.db
      .selectFrom('notifications')
      .select(['body'])
      .where('id', '=', delivery.notificationId)
      .executeTakeFirstOrThrow();
    const at = this.clock.now();
    let outcome: WebhookOutcome;
    if (delivery.channel === 'webhook') {
      const endpoint = await this.options.endpoints.target(delivery.targetId);
      if (!endpoint) return this.skip(delivery, 'endpoint deleted');
      outcome = await sendWebhook(
        {
          url: endpoint.url,
          secret: endpoint.secret,
          id: delivery.notificationId,
          body: notification.body,
          now: at,
          ...(this.options.timeoutMs === undefined ? {} : { timeoutMs: this.options.timeoutMs }),
        },
        this.options.guard,
      );
    } else {
      outcome = await this.publishMqtt(delivery, notification.body);
    }
    return this.record(delivery, at, outcome);
  }

  private async publishMqtt(delivery: ClaimedDelivery, body: string): Promise<WebhookOutcome> {
    const started = performance.now();
    if (!this.options.mqtt) return { status: null, error: 'no MQTT publisher configured', latencyMs: 0 };
    try {
      await this.options.mqtt.publishAgencyAlert(delivery.targetId, delivery.notificationId, body);
      return { status: null, error: null, latencyMs: Math.round(performance.now() - started) };
    } catch (error) {
      return {
        status: null,
        error: (error as Error).message,
        latencyMs: Math.round(performance.now() - started),
      };
    }
  }

  private async skip(delivery: ClaimedDelivery, reason: string): Promise<boolean> {
    await this.db
      .updateTable('deliveries')
      .set({
        state: 'skipped',
        next_attempt_at: null,
        last_error: reason,
        claimed_by: null,
        claimed_until: null,
        updated_at: this.clock.now(),
      })
      .where('id', '=', delivery.id)
      .execute();
    return false;
  }

  private async record(delivery: ClaimedDelivery, at: number, outcome: WebhookOutcome): Promise<boolean> {
    const now = this.clock.now();
    const attempt = delivery.attempts + 1;
    const delivered = outcome.error === null;
    const gone = outcome.status === 410;
    let state: DeliveryState;
    let next: number | null = null;
    if (delivered) state = 'delivered';
    // A policy refusal of the destination (SSRF guard) is final: retrying would only hold the
    // target's queue for the whole schedule (~75 h by default) behind a delivery that cannot go.
    else if (gone || outcome.refused === true || attempt >= this.maxAttempts) state = 'failed';
    else {
      state = 'retrying';
      const base = this.delays[attempt - 1] ?? 0;
      const jittered = base * (1 + (this.options.jitter ?? DEFAULT_RETRY_JITTER) * Math.random());
      const retryAfter =
        outcome.retryAfterSeconds === undefined
          ? 0
          : Math.min(outcome.retryAfterSeconds * 1000, MAX_RETRY_AFTER_MS);
      next = now + Math.round(Math.max(jittered, retryAfter));
    }
    await transaction(this.db, async (trx) => {
      const updated = await trx
        .updateTable('deliveries')
        .set({
          state,
          attempts: attempt,
          next_attempt_at: next,
          last_status: outcome.status,
          last_error: outcome.error,
          delivered_at: delivered ? now : null,
          claimed_by: null,
          claimed_until: null,
          updated_at: now,
        })
        .where('id', '=', delivery.id)
        .where('claimed_by', '=', this.workerId)
        .where('state', 'in', [...ACTIVE_STATES])
        .executeTakeFirst();
      // Our claim expired and another worker took it (or it was skipped meanwhile): its record wins.
      if (Number(updated.numUpdatedRows) === 0) return;
      await trx
        .insertInto('delivery_attempts')
        .values({
          delivery_id: delivery.id,
          attempt,
          at,
          status_code: outcome.status,
          error: outcome.error,
          latency_ms: outcome.latencyMs,
        })
        .execute();
      if (gone && delivery.channel === 'webhook') {
        // Standard Webhooks, "Delivery success and failure": 410 Gone — disable the endpoint and stop sending.
        await trx
          .updateTable('webhook_endpoints')
          .set({ enabled: 0, disabled_at: now, disabled_reason: 'gone', updated_at: now })
          .where('id', '=', delivery.targetId)
          .execute();
        await trx
          .updateTable('deliveries')
          .set({
            state: 'skipped',
            next_attempt_at: null,
            last_error: 'endpoint disabled: the receiver answered 410 Gone',
            updated_at: now,
          })
          .where('target_key', '=', delivery.targetKey)
          .where('state', 'in', [...ACTIVE_STATES])
          .execute();
      }
    });
    return delivered;
  }

  /** The delivery log of an agency, newest first, each with its attempts. */
  async list(agencyId: string, query: DeliveryQuery): Promise<DeliveryBody[]> {
    let q = this.db
      .selectFrom('deliveries as d')
      .innerJoin('notifications as n', 'n.id', 'd.notification_id')
      .selectAll('d')
      .select('n.type')
      .where('d.agency_id', '=', agencyId)
      .orderBy('d.id', 'desc')
      .limit(query.limit);
    if (query.state) q = q.where('d.state', '=', query.state);
    if (query.endpoint) q = q.where('d.target_key', '=', `webhook:${query.endpoint}`);
    const rows = await q.execute();
    return this.views(rows);
  }

  /** One delivery of an agency. @throws NotifyError not-found */
  async get(agencyId: string, id: number): Promise<DeliveryBody> {
    const row = await this.db
      .selectFrom('deliveries as d')
      .innerJoin('notifications as n', 'n.id', 'd.notification_id')
      .selectAll('d')
      .select('n.type')
      .where('d.agency_id', '=', agencyId)
      .where('d.id', '=', id)
      .executeTakeFirst();
    if (!row) throw new NotifyError('not-found', `delivery ${id} does not exist`, 'id');
    return (await this.views([row]))[0] as DeliveryBody;
  }

  /**
   * Manual replay: a new pending delivery of the same notification to the same target (same
   * `webhook-id` and body), queued behind the target's undelivered ones.
   * @throws NotifyError not-found (the delivery, or its endpoint was deleted)
   */
  async replay(agencyId: string, id: number): Promise<DeliveryBody> {
    const newId = await transaction(this.db, async (trx) => {
      const original = await trx
        .selectFrom('deliveries')
        .selectAll()
        .where('agency_id', '=', agencyId)
        .where('id', '=', id)
        .executeTakeFirst();
      if (!original) throw new NotifyError('not-found', `delivery ${id} does not exist`, 'id');
      if (original.channel === 'webhook') {
        const endpoint = await trx
          .selectFrom('webhook_endpoints')
          .select('id')
          .where('id', '=', original.target_id)
          .executeTakeFirst();
        if (!endpoint)
          throw new NotifyError(
            'not-found',
            `webhook endpoint "${original.target_id}" was deleted`,
            'endpoint',
          );
      }
      const now = this.clock.now();
      const inserted = await trx
        .insertInto('deliveries')
        .values({
          notification_id: original.notification_id,
          agency_id: original.agency_id,
          channel: original.channel,
          target_id: original.target_id,
          target_key: original.target_key,
          state: 'pending',
          attempts: 0,
          next_attempt_at: now,
          last_status: null,
          last_error: null,
          delivered_at: null,
          claimed_by: null,
          claimed_until: null,
          replay_of: original.id,
          created_at: now,
          updated_at: now,
        })
        .returning('id')
        .executeTakeFirstOrThrow();
      return inserted.id;
    });
    return this.get(agencyId, newId);
  }

  private async views(rows: Array<Selectable<DeliveriesTable> & { type: string }>): Promise<DeliveryBody[]> {
    const ids = rows.map((r) => r.id);
    const attempts =
      ids.length === 0
        ? []
        : await this.db
            .selectFrom('delivery_attempts')
            .selectAll()
            .where('delivery_id', 'in', ids)
            .orderBy('delivery_id')
            .orderBy('attempt')
            .execute();
    return rows.map((r) => ({
      id: r.id,
      notificationId: r.notification_id,
      type: r.type,
      channel: r.channel === 'mqtt' ? 'mqtt' : 'webhook',
      targetId: r.target_id,
      state: r.state as DeliveryState,
      attempts: r.attempts,
      nextAttemptAt: iso(r.next_attempt_at),
      lastStatus: r.last_status,
      lastError: r.last_error,
      deliveredAt: iso(r.delivered_at),
      replayOf: r.replay_of,
      createdAt: iso(r.created_at) as string,
      attemptLog: attempts
        .filter((a) => a.delivery_id === r.id)
        .map((a) => ({
          attempt: a.attempt,
          at: iso(a.at) as string,
          statusCode: a.status_code,
          error: a.error,
          latencyMs: a.latency_ms,
        })),
    }));
  }
}
