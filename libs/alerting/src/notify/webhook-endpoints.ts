import type { Kysely, Selectable } from 'kysely';
import type { CreateWebhookEndpointBody, WebhookEndpointBody } from '@ioc/contracts';
import { type DatabaseSchema, transaction, type WebhookEndpointsTable } from '@ioc/database';
import { type DestinationGuard, WebhookDestinationError } from './destination-guard';
import { iso, newId, type NotifyClock, NotifyError, SYSTEM_CLOCK } from './notify-error';
import { generateWebhookSecret, type WebhookSecretBox, webhookSecretHint } from './webhook-secrets';

/** Most webhook endpoints one agency may have. */
export const MAX_ENDPOINTS_PER_AGENCY = 20;

/** A stored endpoint and what the outbox needs to send to it. */
export interface EndpointTarget {
  id: string;
  agencyId: string;
  url: string;
  enabled: boolean;
  secret: string;
}

/** REST's view of an endpoint row. */
export function endpointView(row: Selectable<WebhookEndpointsTable>): WebhookEndpointBody {
  return {
    id: row.id,
    agencyId: row.agency_id,
    url: row.url,
    description: row.description,
    secretHint: row.secret_hint,
    enabled: row.enabled === 1,
    disabledAt: iso(row.disabled_at),
    disabledReason: row.disabled_reason as WebhookEndpointBody['disabledReason'],
    createdAt: iso(row.created_at) as string,
    updatedAt: iso(row.updated_at) as string,
  };
}

/**
 * Agencies' webhook endpoints (table `webhook_endpoints`). Every call names the agency: an
 * endpoint of another agency is `not-found`, never shown. The secret (`whsec_…`) is returned only
 * by create and rotateSecret, and stored sealed (WebhookSecretBox). URLs are checked with the
 * DestinationGuard when written (and again at every send by the outbox).
 */
export class WebhookEndpointRepository {
  constructor(
    private readonly db: Kysely<DatabaseSchema>,
    private readonly deps: { box: WebhookSecretBox; guard: DestinationGuard; clock?: NotifyClock },
  ) {}

  private now(): number {
    return (this.deps.clock ?? SYSTEM_CLOCK).now();
  }

  /**
   * @throws NotifyError invalid (`url`: malformed, refused destination; `agencyId`: no such
   *   agency), conflict (more than MAX_ENDPOINTS_PER_AGENCY)
   */
  async create(
    agencyId: string,
    body: CreateWebhookEndpointBody,
    createdBy: string | null,
  ): Promise<{ endpoint: WebhookEndpointBody; secret: string }> {
    await this.checkUrl(body.url);
    const id = newId('whe');
    const secret = generateWebhookSecret();
    const now = this.now();
    return transaction(this.db, async (trx) => {
      const agency = await trx
        .selectFrom('agencies')
        .select('id')
        .where('id', '=', agencyId)
        .executeTakeFirst();
      if (!agency) throw new NotifyError('not-found', `agency "${agencyId}" does not exist`, 'agencyId');
      const { count } = await trx
        .selectFrom('webhook_endpoints')
        .select((eb) => eb.fn.countAll<number>().as('count'))
        .where('agency_id', '=', agencyId)
        .executeTakeFirstOrThrow();
      if (Number(count) >= MAX_ENDPOINTS_PER_AGENCY)
        throw new NotifyError(
          'conflict',
          `an agency may have at most ${MAX_ENDPOINTS_PER_AGENCY} webhook endpoints`,
        );
      const row = {
        id,
        agency_id: agencyId,
        url: body.url,
        description: body.description ?? null,
        secret_ciphertext: this.deps.box.seal(id, secret),
        secret_hint: webhookSecretHint(secret),
        enabled: 1,
        disabled_at: null,
        disabled_reason: null,
        created_by: createdBy,
        created_at: now,
        updated_at: now,
        secret_rotated_at: null,
      };
      await trx.insertInto('webhook_endpoints').values(row).execute();
      return { endpoint: endpointView(row), secret };
    });
  }

  async list(agencyId: string): Promise<WebhookEndpointBody[]> {
    const rows = await this.db
      .selectFrom('webhook_endpoints')
      .selectAll()
      .where('agency_id', '=', agencyId)
      .orderBy('created_at')
      .orderBy('id')
      .execute();
    return rows.map(endpointView);
  }

  /** @throws NotifyError not-found */
  async get(agencyId: string, id: string): Promise<WebhookEndpointBody> {
    return endpointView(await this.row(this.db, agencyId, id));
  }

  /** A new secret (the old one stops at once). @throws NotifyError not-found */
  async rotateSecret(
    agencyId: string,
    id: string,
  ): Promise<{ endpoint: WebhookEndpointBody; secret: string }> {
    await this.row(this.db, agencyId, id);
    const secret = generateWebhookSecret();
    const now = this.now();
    await this.db
      .updateTable('webhook_endpoints')
      .set({
        secret_ciphertext: this.deps.box.seal(id, secret),
        secret_hint: webhookSecretHint(secret),
        secret_rotated_at: now,
        updated_at: now,
      })
      .where('id', '=', id)
      .execute();
    return { endpoint: await this.get(agencyId, id), secret };
  }

  /**
   * Enables (clearing a `gone` or `manual` disable: its later notifications are delivered again;
   * those skipped while it was disabled stay skipped — replay them) or disables (`manual`: pending
   * deliveries wait, not skipped, so enabling again sends them). The URL is checked again on enable.
   * @throws NotifyError not-found, invalid (`url` refused now)
   */
  async setEnabled(agencyId: string, id: string, enabled: boolean): Promise<WebhookEndpointBody> {
    const row = await this.row(this.db, agencyId, id);
    if (enabled) await this.checkUrl(row.url);
    const now = this.now();
    await this.db
      .updateTable('webhook_endpoints')
      .set(
        enabled
          ? { enabled: 1, disabled_at: null, disabled_reason: null, updated_at: now }
          : { enabled: 0, disabled_at: now, disabled_reason: 'manual', updated_at: now },
      )
      .where('id', '=', id)
      .execute();
    return this.get(agencyId, id);
  }

  /**
   * Deletes an endpoint: its undelivered deliveries become `skipped` (the log keeps them) and
   * subscriptions stop naming it. @throws NotifyError not-found
   */
  async delete(agencyId: string, id: string): Promise<WebhookEndpointBody> {
    return transaction(this.db, async (trx) => {
      const row = await this.row(trx, agencyId, id);
      const now = this.now();
      await trx
        .updateTable('deliveries')
        .set({ state: 'skipped', next_attempt_at: null, last_error: 'endpoint deleted', updated_at: now })
        .where('target_key', '=', `webhook:${id}`)
        .where('state', 'in', ['pending', 'retrying'])
        .execute();
      const subscriptions = await trx
        .selectFrom('subscriptions')
        .select(['id', 'webhook_endpoint_ids'])
        .where('agency_id', '=', agencyId)
        .execute();
      for (const s of subscriptions) {
        const ids = JSON.parse(s.webhook_endpoint_ids) as string[];
        if (ids.includes(id))
          await trx
            .updateTable('subscriptions')
            .set({ webhook_endpoint_ids: JSON.stringify(ids.filter((x) => x !== id)), updated_at: now })
            .where('id', '=', s.id)
            .execute();
      }
      await trx.deleteFrom('webhook_endpoints').where('id', '=', id).execute();
      return endpointView(row);
    });
  }

  /** The endpoint with its secret opened, for the outbox; undefined when it no longer exists. */
  async target(id: string, db: Kysely<DatabaseSchema> = this.db): Promise<EndpointTarget | undefined> {
    const row = await db.selectFrom('webhook_endpoints').selectAll().where('id', '=', id).executeTakeFirst();
    if (!row) return undefined;
    return {
      id: row.id,
      agencyId: row.agency_id,
      url: row.url,
      enabled: row.enabled === 1,
      secret: this.deps.box.open(row.id, row.secret_ciphertext),
    };
  }

  private async row(
    db: Kysely<DatabaseSchema>,
    agencyId: string,
    id: string,
  ): Promise<Selectable<WebhookEndpointsTable>> {
    const row = await db
      .selectFrom('webhook_endpoints')
      .selectAll()
      .where('id', '=', id)
      .where('agency_id', '=', agencyId)
      .executeTakeFirst();
    if (!row) throw new NotifyError('not-found', `webhook endpoint "${id}" does not exist`, 'id');
    return row;
  }

  private async checkUrl(url: string): Promise<void> {
    try {
      await this.deps.guard.check(url);
    } catch (error) {
      if (error instanceof WebhookDestinationError) throw new NotifyError('invalid', error.message, 'url');
      throw error;
    }
  }
}
