import type { Kysely, Selectable } from 'kysely';
import {
  type AccessScope,
  type CreateSubscriptionBody,
  type Language,
  type PatchSubscriptionBody,
  type SubscriptionBody,
  type SubscriptionFilters,
  subscriptionFiltersSchema,
} from '@ioc/contracts';
import { type DatabaseSchema, type SubscriptionsTable, transaction } from '@ioc/database';
import { subscriptionScopeIssues } from './notification-policy';
import { iso, newId, type NotifyClock, NotifyError, SYSTEM_CLOCK } from './notify-error';

/** Most subscriptions one agency may have. */
export const MAX_SUBSCRIPTIONS_PER_AGENCY = 100;

/** A subscription as the notification policy reads it (durations in seconds). */
export interface SubscriptionRecord {
  id: string;
  agencyId: string;
  name: string;
  filters: SubscriptionFilters;
  webhookEndpointIds: string[];
  mqtt: boolean;
  language: Language;
  groupWaitSeconds: number;
  groupIntervalSeconds: number;
  repeatIntervalSeconds: number;
  enabled: boolean;
  createdAt: number;
  updatedAt: number;
}

export function subscriptionRecord(row: Selectable<SubscriptionsTable>): SubscriptionRecord {
  return {
    id: row.id,
    agencyId: row.agency_id,
    name: row.name,
    filters: subscriptionFiltersSchema.parse(JSON.parse(row.filters)),
    webhookEndpointIds: JSON.parse(row.webhook_endpoint_ids) as string[],
    mqtt: row.mqtt === 1,
    language: row.language === 'en' ? 'en' : 'vi',
    groupWaitSeconds: row.group_wait_s,
    groupIntervalSeconds: row.group_interval_s,
    repeatIntervalSeconds: row.repeat_interval_s,
    enabled: row.enabled === 1,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

/** REST's view. */
export function subscriptionView(s: SubscriptionRecord): SubscriptionBody {
  return {
    id: s.id,
    agencyId: s.agencyId,
    name: s.name,
    filters: s.filters,
    webhookEndpointIds: s.webhookEndpointIds,
    mqtt: s.mqtt,
    language: s.language,
    groupWaitSeconds: s.groupWaitSeconds,
    groupIntervalSeconds: s.groupIntervalSeconds,
    repeatIntervalSeconds: s.repeatIntervalSeconds,
    enabled: s.enabled,
    createdAt: iso(s.createdAt) as string,
    updatedAt: iso(s.updatedAt) as string,
  };
}

/**
 * Agencies' subscriptions (table `subscriptions`). Every call names the agency; a subscription
 * of another agency is `not-found`. Its webhook endpoints must be the same agency's, and its
 * filters must be able to match inside the agency's scope when written (subscriptionScopeIssues:
 * a domain or area outside it, or an unknown area, is `invalid` naming `filters.domains` /
 * `filters.areaIds`). A subscription whose agency's scope narrows later is kept as it is: the
 * notifier intersects its filters with the scope at every pass, so it hears what is left (maybe
 * nothing); a later PATCH of its `filters` is checked against the scope of that moment.
 */
export class SubscriptionRepository {
  constructor(
    private readonly db: Kysely<DatabaseSchema>,
    private readonly clock: NotifyClock = SYSTEM_CLOCK,
  ) {}

  /** @throws NotifyError not-found (agency), invalid (`filters.domains`, `filters.areaIds`, `webhookEndpointIds`), conflict (too many) */
  async create(
    agencyId: string,
    body: CreateSubscriptionBody,
    createdBy: string | null,
  ): Promise<SubscriptionRecord> {
    return transaction(this.db, async (trx) => {
      const agency = await trx
        .selectFrom('agencies')
        .select('id')
        .where('id', '=', agencyId)
        .executeTakeFirst();
      if (!agency) throw new NotifyError('not-found', `agency "${agencyId}" does not exist`, 'agencyId');
      await this.checkFilters(trx, agencyId, body.filters);
      await this.checkEndpoints(trx, agencyId, body.webhookEndpointIds);
      const { count } = await trx
        .selectFrom('subscriptions')
        .select((eb) => eb.fn.countAll<number>().as('count'))
        .where('agency_id', '=', agencyId)
        .executeTakeFirstOrThrow();
      if (Number(count) >= MAX_SUBSCRIPTIONS_PER_AGENCY)
        throw new NotifyError(
          'conflict',
          `an agency may have at most ${MAX_SUBSCRIPTIONS_PER_AGENCY} subscriptions`,
        );
      const now = this.clock.now();
      const row = {
        id: newId('sub'),
        agency_id: agencyId,
        name: body.name,
        filters: JSON.stringify(body.filters),
        webhook_endpoint_ids: JSON.stringify([...new Set(body.webhookEndpointIds)]),
        mqtt: body.mqtt ? 1 : 0,
        language: body.language,
        group_wait_s: body.groupWaitSeconds,
        group_interval_s: body.groupIntervalSeconds,
        repeat_interval_s: body.repeatIntervalSeconds,
        enabled: body.enabled ? 1 : 0,
        created_by: createdBy,
        created_at: now,
        updated_at: now,
      };
      await trx.insertInto('subscriptions').values(row).execute();
      return subscriptionRecord(row);
    });
  }

  async list(agencyId: string): Promise<SubscriptionRecord[]> {
    const rows = await this.db
      .selectFrom('subscriptions')
      .selectAll()
      .where('agency_id', '=', agencyId)
      .orderBy('created_at')
      .orderBy('id')
      .execute();
    return rows.map(subscriptionRecord);
  }

  /** Every enabled subscription (the policy's input). */
  async enabled(db: Kysely<DatabaseSchema> = this.db): Promise<SubscriptionRecord[]> {
    const rows = await db
      .selectFrom('subscriptions')
      .selectAll()
      .where('enabled', '=', 1)
      .orderBy('id')
      .execute();
    return rows.map(subscriptionRecord);
  }

  /** @throws NotifyError not-found */
  async get(agencyId: string, id: string, db: Kysely<DatabaseSchema> = this.db): Promise<SubscriptionRecord> {
    const row = await db
      .selectFrom('subscriptions')
      .selectAll()
      .where('id', '=', id)
      .where('agency_id', '=', agencyId)
      .executeTakeFirst();
    if (!row) throw new NotifyError('not-found', `subscription "${id}" does not exist`, 'id');
    return subscriptionRecord(row);
  }

  /** @throws NotifyError not-found, invalid (`filters.domains`, `filters.areaIds`, `webhookEndpointIds`) */
  async update(agencyId: string, id: string, patch: PatchSubscriptionBody): Promise<SubscriptionRecord> {
    return transaction(this.db, async (trx) => {
      await this.get(agencyId, id, trx);
      if (patch.filters) await this.checkFilters(trx, agencyId, patch.filters);
      if (patch.webhookEndpointIds) await this.checkEndpoints(trx, agencyId, patch.webhookEndpointIds);
      await trx
        .updateTable('subscriptions')
        .set({
          ...(patch.name === undefined ? {} : { name: patch.name }),
          ...(patch.filters === undefined ? {} : { filters: JSON.stringify(patch.filters) }),
          ...(patch.webhookEndpointIds === undefined
            ? {}
            : { webhook_endpoint_ids: JSON.stringify([...new Set(patch.webhookEndpointIds)]) }),
          ...(patch.mqtt === undefined ? {} : { mqtt: patch.mqtt ? 1 : 0 }),
          ...(patch.language === undefined ? {} : { language: patch.language }),
          ...(patch.groupWaitSeconds === undefined ? {} : { group_wait_s: patch.groupWaitSeconds }),
          ...(patch.groupIntervalSeconds === undefined
            ? {}
            : { group_interval_s: patch.groupIntervalSeconds }),
          ...(patch.repeatIntervalSeconds === undefined
            ? {}
            : { repeat_interval_s: patch.repeatIntervalSeconds }),
          ...(patch.enabled === undefined ? {} : { enabled: patch.enabled ? 1 : 0 }),
          updated_at: this.clock.now(),
        })
        .where('id', '=', id)
        .execute();
      return this.get(agencyId, id, trx);
    });
  }

  /** Deletes it and its grouping state (notifications and deliveries already made stay). @throws NotifyError not-found */
  async delete(agencyId: string, id: string): Promise<SubscriptionRecord> {
    return transaction(this.db, async (trx) => {
      const record = await this.get(agencyId, id, trx);
      await trx.deleteFrom('notification_groups').where('subscription_id', '=', id).execute();
      await trx.deleteFrom('subscriptions').where('id', '=', id).execute();
      return record;
    });
  }

  /** @throws NotifyError invalid naming the first filter field that could never match in the agency's scope */
  private async checkFilters(
    trx: Kysely<DatabaseSchema>,
    agencyId: string,
    filters: SubscriptionFilters,
  ): Promise<void> {
    if (!filters.domains && !filters.areaIds) return;
    const agency = await trx
      .selectFrom('agencies')
      .select('scope')
      .where('id', '=', agencyId)
      .executeTakeFirst();
    const scope = agency ? (JSON.parse(agency.scope) as AccessScope | null) : null;
    const areas = await trx.selectFrom('areas').select(['id', 'parent_id']).execute();
    const parents = new Map(areas.map((a) => [a.id, a.parent_id]));
    const pathOf = (id: string): string[] | undefined => {
      if (!parents.has(id)) return undefined;
      const path: string[] = [];
      for (
        let at: string | null | undefined = id;
        at != null && path.length <= parents.size;
        at = parents.get(at)
      )
        path.unshift(at);
      return path;
    };
    const [issue] = subscriptionScopeIssues(scope, filters, pathOf);
    if (issue) throw new NotifyError('invalid', issue.message, issue.field);
  }

  private async checkEndpoints(
    trx: Kysely<DatabaseSchema>,
    agencyId: string,
    ids: readonly string[],
  ): Promise<void> {
    if (ids.length === 0) return;
    const found = await trx
      .selectFrom('webhook_endpoints')
      .select('id')
      .where('agency_id', '=', agencyId)
      .where('id', 'in', [...ids])
      .execute();
    const known = new Set(found.map((r) => r.id));
    const missing = ids.filter((id) => !known.has(id));
    if (missing.length > 0)
      throw new NotifyError(
        'invalid',
        `webhook endpoint(s) ${missing.map((m) => `"${m}"`).join(', ')} do not exist in agency "${agencyId}"`,
        'webhookEndpointIds',
      );
  }
}
