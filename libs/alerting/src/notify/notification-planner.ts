import { type Kysely, type Selectable, sql } from 'kysely';
import {
  type AccessScope,
  type Alert,
  type AlertTransition,
  type NotificationBody,
  type NotifiedAlert,
} from '@ioc/contracts';
import {
  type AlertsTable,
  type AlertTransitionsTable,
  type DatabaseKind,
  type DatabaseSchema,
  transaction,
} from '@ioc/database';
import {
  applyTransition,
  emptyGroup,
  flushGroup,
  type GroupState,
  groupKeyOf,
  isIdle,
  nextDueAt,
  type PlannedNotification,
  type PolicyTimings,
  subscriptionHolds,
} from './notification-policy';
import { rowToAlert } from '../alert-rows';
import { SilenceRepository, silenceMatches } from '../silence-repository';
import { newId, type NotifyClock, SYSTEM_CLOCK } from './notify-error';
import type { DeliveryTarget, Outbox } from './outbox';
import { type SubscriptionRecord, SubscriptionRepository } from './subscriptions';

/** The notifier's row in `consumer_cursors`: the last alert transition id it has planned. */
export const NOTIFIER_CURSOR = 'notifier';
/** Transitions read per transaction. */
const BATCH = 500;

/** What one planning pass did. */
export interface PlanResult {
  transitions: number;
  notifications: number;
}

export interface PlannerOptions {
  kind: DatabaseKind;
  outbox: Outbox;
  clock?: NotifyClock;
}

/**
 * Turns committed alert transitions into notifications and deliveries (the policy's DB side).
 *
 * One transaction per pass: lock and read the `notifier` cursor (PostgreSQL `FOR UPDATE`, so one
 * node plans at a time; SQLite's `BEGIN IMMEDIATE` already serializes), read the transitions after
 * it (joined with their alerts), apply each to the groups of every enabled subscription of an
 * active agency that hears it (notification-policy.ts), flush the groups that are due, write the
 * notifications and their deliveries (Outbox.enqueue), the groups and the new cursor — all or
 * nothing. A crash before the commit plans the same transitions again from the same state; after
 * it, nothing is planned twice. So a restart neither loses nor repeats a notification.
 */
export class NotificationPlanner {
  private readonly clock: NotifyClock;
  private readonly subscriptions: SubscriptionRepository;

  constructor(
    private readonly db: Kysely<DatabaseSchema>,
    private readonly options: PlannerOptions,
  ) {
    this.clock = options.clock ?? SYSTEM_CLOCK;
    this.subscriptions = new SubscriptionRepository(db, this.clock);
  }

  /** Plans until no transition is left and no group is due. */
  async run(): Promise<PlanResult> {
    const total: PlanResult = { transitions: 0, notifications: 0 };
    for (;;) {
      const pass = await this.pass();
      total.transitions += pass.transitions;
      total.notifications += pass.notifications;
      if (pass.transitions < BATCH) return total;
    }
  }

  /** One transaction: at most BATCH transitions, then every due group. */
  async pass(): Promise<PlanResult> {
    return transaction(this.db, async (trx) => {
      const now = this.clock.now();
      const cursor = await this.lockCursor(trx, now);
      // PostgreSQL hands out ids when a row is inserted, not when its transaction commits: a
      // transition with a lower id may become visible after a higher one, and reading `id > cursor`
      // would skip it for good. SHARE mode waits for every transaction that has inserted
      // transitions (ROW EXCLUSIVE) to end and holds new ones off until this pass commits, so every
      // id at or below what this pass sees is final. (SQLite has one writer at a time.)
      if (this.options.kind === 'postgres')
        await sql`LOCK TABLE alert_transitions IN SHARE MODE`.execute(trx);
      const rows = await trx
        .selectFrom('alert_transitions as t')
        .innerJoin('alerts as a', 'a.id', 't.alert_id')
        .selectAll('a')
        .select([
          't.id as t_id',
          't.seq as t_seq',
          't.at as t_at',
          't.from_state as t_from',
          't.to_state as t_to',
          't.kind as t_kind',
          't.severity as t_severity',
          't.value as t_value',
          't.actor as t_actor',
          't.note as t_note',
          't.resolution as t_resolution',
        ])
        .where('t.id', '>', cursor)
        .orderBy('t.id')
        .limit(BATCH)
        .execute();
      const subscriptions = await this.subscriptions.enabled(trx);
      const scopes = await this.agencyScopes(trx);
      const groups = new Map<
        string,
        { subscription: SubscriptionRecord; key: string; state: GroupState; dirty: boolean }
      >();
      const groupOf = async (subscription: SubscriptionRecord, key: string) => {
        const id = `${subscription.id}\n${key}`;
        let entry = groups.get(id);
        if (!entry) {
          const row = await trx
            .selectFrom('notification_groups')
            .select('state')
            .where('subscription_id', '=', subscription.id)
            .where('group_key', '=', key)
            .executeTakeFirst();
          entry = {
            subscription,
            key,
            state: row ? (JSON.parse(row.state) as GroupState) : emptyGroup(),
            dirty: false,
          };
          groups.set(id, entry);
        }
        return entry;
      };

      for (const row of rows) {
        const { alert, transition } = alertAt(row);
        for (const subscription of subscriptions) {
          const scope = scopes.get(subscription.agencyId);
          if (scope === undefined) continue; // agency disabled or gone
          const key = groupKeyOf(alert);
          if (!subscriptionHolds(scope, subscription.filters, alert)) {
            // Not (or no longer) heard — but a resolution of an alert it was told of is always sent.
            if (transition.kind !== 'resolved' && transition.kind !== 'acknowledged') continue;
            if (!(await groupOf(subscription, key)).state.alerts[alert.id]) continue;
          }
          const entry = await groupOf(subscription, key);
          entry.state = applyTransition(entry.state, alert, transition, timingsOf(subscription), now);
          entry.dirty = true;
        }
      }

      // Every group due now, whether touched above or not.
      const due = await trx
        .selectFrom('notification_groups')
        .select(['subscription_id', 'group_key'])
        .where('next_due_at', '<=', now)
        .execute();
      const byId = new Map(subscriptions.map((s) => [s.id, s]));
      for (const d of due) {
        const subscription = byId.get(d.subscription_id);
        if (subscription && scopes.has(subscription.agencyId)) await groupOf(subscription, d.group_key);
      }

      const silenced = await this.silencesAt(trx, now);
      let notifications = 0;
      for (const entry of groups.values()) {
        const { group, notification } = flushGroup(entry.state, timingsOf(entry.subscription), now, silenced);
        if (notification || JSON.stringify(group) !== JSON.stringify(entry.state)) entry.dirty = true;
        entry.state = group;
        if (notification) {
          await this.write(trx, entry.subscription, entry.key, notification, now);
          notifications++;
        }
        if (entry.dirty) await this.saveGroup(trx, entry.subscription.id, entry.key, entry.state, now);
      }

      const last = rows.at(-1);
      if (last) {
        await trx
          .updateTable('consumer_cursors')
          .set({ position: last.t_id, updated_at: now })
          .where('name', '=', NOTIFIER_CURSOR)
          .execute();
      }
      return { transitions: rows.length, notifications };
    });
  }

  /** The earliest time a group is due, or null (the Notifier's timer may sleep until then). */
  async nextDueAt(): Promise<number | null> {
    const row = await this.db
      .selectFrom('notification_groups')
      .select((eb) => eb.fn.min('next_due_at').as('next'))
      .executeTakeFirst();
    return row?.next === null || row?.next === undefined ? null : Number(row.next);
  }

  private async lockCursor(trx: Kysely<DatabaseSchema>, now: number): Promise<number> {
    await trx
      .insertInto('consumer_cursors')
      .values({
        name: NOTIFIER_CURSOR,
        position: 0,
        snapshot: null,
        snapshot_position: null,
        updated_at: now,
      })
      .onConflict((oc) => oc.column('name').doNothing())
      .execute();
    let query = trx.selectFrom('consumer_cursors').select('position').where('name', '=', NOTIFIER_CURSOR);
    if (this.options.kind === 'postgres') query = query.forUpdate();
    const row = await query.executeTakeFirstOrThrow();
    return Number(row.position);
  }

  /** Agencies that may hear alerts (active), with their scope (null: the whole province). */
  private async agencyScopes(trx: Kysely<DatabaseSchema>): Promise<Map<string, AccessScope | null>> {
    const rows = await trx
      .selectFrom('agencies')
      .select(['id', 'scope'])
      .where('state', '=', 'active')
      .execute();
    const map = new Map<string, AccessScope | null>();
    for (const row of rows) {
      const scope = JSON.parse(row.scope) as AccessScope | null;
      map.set(row.id, scope && (scope.domains || scope.areas) ? scope : null);
    }
    return map;
  }

  /** Which alerts a silence in force at `now` matches (SilenceRepository.activeAt, silenceMatches). */
  private async silencesAt(trx: Kysely<DatabaseSchema>, now: number): Promise<(alert: Alert) => boolean> {
    const silences = await new SilenceRepository(trx).activeAt(now);
    return (alert) => silences.some((silence) => silenceMatches(silence, alert));
  }

  private async saveGroup(
    trx: Kysely<DatabaseSchema>,
    subscriptionId: string,
    key: string,
    state: GroupState,
    now: number,
  ): Promise<void> {
    if (isIdle(state) && state.reminderAt === null) {
      await trx
        .deleteFrom('notification_groups')
        .where('subscription_id', '=', subscriptionId)
        .where('group_key', '=', key)
        .execute();
      return;
    }
    const values = { state: JSON.stringify(state), next_due_at: nextDueAt(state), updated_at: now };
    await trx
      .insertInto('notification_groups')
      .values({ subscription_id: subscriptionId, group_key: key, ...values })
      .onConflict((oc) => oc.columns(['subscription_id', 'group_key']).doUpdateSet(values))
      .execute();
  }

  /** The notification row (body exactly as it will be signed and sent) and its deliveries. */
  private async write(
    trx: Kysely<DatabaseSchema>,
    subscription: SubscriptionRecord,
    key: string,
    planned: PlannedNotification,
    now: number,
  ): Promise<void> {
    const id = newId('msg');
    const body: NotificationBody = {
      type: planned.type,
      timestamp: new Date(now).toISOString(),
      data: {
        notificationId: id,
        agencyId: subscription.agencyId,
        subscriptionId: subscription.id,
        language: subscription.language,
        groupKey: key,
        alerts: await Promise.all(planned.alerts.map((a) => this.notified(trx, a, subscription.language))),
      },
    };
    await trx
      .insertInto('notifications')
      .values({
        id,
        agency_id: subscription.agencyId,
        subscription_id: subscription.id,
        group_key: key,
        type: planned.type,
        body: JSON.stringify(body),
        created_at: now,
      })
      .execute();
    const targets: DeliveryTarget[] = [];
    if (subscription.webhookEndpointIds.length > 0) {
      const endpoints = await trx
        .selectFrom('webhook_endpoints')
        .select(['id', 'disabled_reason'])
        .where('agency_id', '=', subscription.agencyId)
        .where('id', 'in', subscription.webhookEndpointIds)
        .execute();
      // An endpoint the receiver declared gone (410) gets nothing more; a manually disabled one queues.
      for (const e of endpoints)
        if (e.disabled_reason !== 'gone') targets.push({ channel: 'webhook', endpointId: e.id });
    }
    if (subscription.mqtt) targets.push({ channel: 'mqtt', agencyId: subscription.agencyId });
    await this.options.outbox.enqueue(trx, { id, agencyId: subscription.agencyId }, targets, now);
  }

  private async notified(
    trx: Kysely<DatabaseSchema>,
    alert: Alert,
    language: 'vi' | 'en',
  ): Promise<NotifiedAlert> {
    const device =
      alert.deviceId === null
        ? undefined
        : await trx.selectFrom('devices').select('name').where('id', '=', alert.deviceId).executeTakeFirst();
    const area = await trx
      .selectFrom('areas')
      .select('name')
      .where('id', '=', alert.areaId)
      .executeTakeFirst();
    const rule = await trx
      .selectFrom('rules')
      .select('definition')
      .where('id', '=', alert.ruleId)
      .executeTakeFirst();
    let standard: string | null = null;
    if (rule) {
      try {
        standard =
          (JSON.parse(rule.definition) as { source?: { standard?: string } }).source?.standard ?? null;
      } catch {
        standard = null;
      }
    }
    return {
      id: alert.id,
      ruleId: alert.ruleId,
      state: alert.state,
      severity: alert.severity,
      subjectKind: alert.subjectKind,
      subjectId: alert.subjectId,
      deviceId: alert.deviceId,
      deviceName: device?.name ?? null,
      areaId: alert.areaId,
      areaName: area?.name ?? alert.areaId,
      domain: alert.domain,
      metric: alert.metric,
      event: alert.event,
      value: alert.value,
      unit: alert.unit,
      limit: alert.limit,
      standard,
      message: alert.message[language],
      firingAt: alert.firingAt === null ? null : new Date(alert.firingAt).toISOString(),
      resolvedAt: alert.resolvedAt === null ? null : new Date(alert.resolvedAt).toISOString(),
      resolution: alert.resolution,
    };
  }
}

/** A subscription's timings in ms. */
export function timingsOf(s: SubscriptionRecord): PolicyTimings {
  return {
    groupWaitMs: s.groupWaitSeconds * 1000,
    groupIntervalMs: s.groupIntervalSeconds * 1000,
    repeatIntervalMs: s.repeatIntervalSeconds * 1000,
  };
}

type TransitionRow = Selectable<AlertsTable> & {
  t_id: number;
  t_seq: number;
  t_at: number;
  t_from: Selectable<AlertTransitionsTable>['from_state'];
  t_to: string;
  t_kind: string;
  t_severity: string;
  t_value: string | null;
  t_actor: string;
  t_note: string | null;
  t_resolution: string | null;
};

/**
 * The alert as of a transition: the alert row (its latest state) with the transition's state,
 * severity and value, and the step times up to it (a fired-then-resolved pair read in one batch
 * notifies firing, then resolved).
 */
function alertAt(row: TransitionRow): { alert: Alert; transition: AlertTransition } {
  const parse = (text: string | null): unknown => (text === null ? null : JSON.parse(text));
  const to = row.t_to as Alert['state'];
  const resolvedNow = to === 'resolved';
  const transition: AlertTransition = {
    alertId: row.id,
    seq: row.t_seq,
    at: row.t_at,
    from: row.t_from as AlertTransition['from'],
    to,
    kind: row.t_kind as AlertTransition['kind'],
    severity: row.t_severity as AlertTransition['severity'],
    value: parse(row.t_value) as AlertTransition['value'],
    by: parse(row.t_actor) as AlertTransition['by'],
    note: row.t_note,
    resolution: row.t_resolution as AlertTransition['resolution'],
  };
  const alert: Alert = {
    ...rowToAlert(row),
    severity: transition.severity,
    state: to,
    value: transition.value,
    acknowledgedAt: to === 'acknowledged' ? (row.acknowledged_at ?? transition.at) : row.acknowledged_at,
    resolvedAt: resolvedNow ? (row.resolved_at ?? transition.at) : null,
    resolvedBy: resolvedNow ? row.resolved_by : null,
    resolution: resolvedNow ? transition.resolution : null,
    updatedAt: transition.at,
  };
  return { alert, transition };
}
