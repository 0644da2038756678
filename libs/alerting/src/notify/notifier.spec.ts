import { type Insertable, type Kysely, sql } from 'kysely';
import { Webhook } from 'standardwebhooks';
import type { Alert, AlertTransition, NotificationBody } from '@ioc/contracts';
import {
  type AlertsTable,
  type DatabaseSchema,
  type IocDatabase,
  openDatabase,
  prepareDatabase,
} from '@ioc/database';
import { createLogger } from '@ioc/runtime';
import { describeEachDatabase, TempDirs } from '@ioc/testing';
import { NOTIFIER_CURSOR } from './notification-planner';
import { createNotifierParts, Notifier, type NotifierParts } from './notifier';
import type { AgencyAlertPublisher } from './outbox';
import { FakeClock, insertAgency, TestReceiver } from './test-support/receivers';

const logger = createLogger('notifier-test', { level: 'silent' });

/** Writes an alert's current row and one transition, as the alert engine's host commits them. */
async function commitTransition(
  db: Kysely<DatabaseSchema>,
  a: Alert,
  kind: AlertTransition['kind'],
  seq: number,
): Promise<void> {
  await db.transaction().execute((trx) => writeTransition(trx, a, kind, seq));
}

/** alerts row of `a` and one transition, inside the caller's transaction. */
async function writeTransition(
  trx: Kysely<DatabaseSchema>,
  a: Alert,
  kind: AlertTransition['kind'],
  seq: number,
): Promise<void> {
  const row: Insertable<AlertsTable> = {
    id: a.id,
    rule_id: a.ruleId,
    rule_version: a.ruleVersion,
    rule_kind: a.ruleKind,
    subject_kind: a.subjectKind,
    subject_id: a.subjectId,
    device_id: a.deviceId,
    device_type: a.deviceType,
    domain: a.domain,
    area_id: a.areaId,
    area_path: JSON.stringify(a.areaPath),
    metric: a.metric,
    event: a.event,
    severity: a.severity,
    state: a.state,
    value: JSON.stringify(a.value),
    limit_value: a.limit,
    unit: a.unit,
    message: JSON.stringify(a.message),
    pending_at: a.pendingAt,
    firing_at: a.firingAt,
    acknowledged_at: a.acknowledgedAt,
    acknowledged_by: a.acknowledgedBy,
    acknowledgement_note: a.acknowledgementNote,
    resolved_at: a.resolvedAt,
    resolved_by: a.resolvedBy,
    resolution: a.resolution,
    updated_at: a.updatedAt,
    version: seq,
  };
  {
    await trx
      .insertInto('alerts')
      .values(row)
      .onConflict((oc) => oc.column('id').doUpdateSet(row))
      .execute();
    await trx
      .insertInto('alert_transitions')
      .values({
        alert_id: a.id,
        seq,
        at: a.updatedAt,
        from_state: null,
        to_state: a.state,
        kind,
        severity: a.severity,
        value: JSON.stringify(a.value),
        actor: JSON.stringify({ kind: 'engine' }),
        note: null,
        resolution: a.resolution,
      })
      .execute();
  }
}

function pm25Alert(id: string, t: number, over: Partial<Alert> = {}): Alert {
  return {
    id,
    ruleId: 'qcvn05-pm25-1h',
    ruleVersion: 1,
    ruleKind: 'threshold',
    subjectKind: 'device',
    subjectId: `aq-${id}`,
    deviceId: `aq-${id}`,
    deviceType: 'air-quality-station',
    domain: 'env',
    areaId: 'hn-hoan-kiem',
    areaPath: ['hn', 'hn-hoan-kiem'],
    metric: 'pm25',
    event: null,
    severity: 'warning',
    state: 'firing',
    value: 92.5,
    limit: 50,
    unit: 'µg/m³',
    message: { vi: 'PM2.5 vượt ngưỡng: 92.5 µg/m³', en: 'PM2.5 above the limit: 92.5 µg/m³' },
    pendingAt: t,
    firingAt: t,
    acknowledgedAt: null,
    acknowledgedBy: null,
    acknowledgementNote: null,
    resolvedAt: null,
    resolvedBy: null,
    resolution: null,
    updatedAt: t,
    ...over,
  };
}

describeEachDatabase('notifier', (context) => {
  const dirs = new TempDirs('ioc-notifier-');
  let database: IocDatabase;
  let envReceiver: TestReceiver;
  let trafficReceiver: TestReceiver;
  let clock: FakeClock;
  let dataDir: string;
  const env = (): Parameters<typeof createNotifierParts>[1] => ({
    IOC_DATA_DIR: dataDir,
    IOC_NOTIFIER_POLL_MS: 1000,
    IOC_WEBHOOK_TIMEOUT_MS: 5000,
    IOC_WEBHOOK_RETRY_SCHEDULE: '1,2',
    IOC_WEBHOOK_ALLOW_PRIVATE: true,
    IOC_WEBHOOK_ALLOWED_CIDRS: '',
  });
  const published: Array<{ agencyId: string; id: string; body: string }> = [];
  const mqtt: AgencyAlertPublisher = {
    publishAgencyAlert: (agencyId, id, body) => {
      published.push({ agencyId, id, body });
      return Promise.resolve();
    },
  };
  const build = (): NotifierParts => createNotifierParts(database, env(), { nodeId: 't', clock, mqtt });

  beforeEach(async () => {
    dataDir = await dirs.make();
    database = openDatabase(await context.freshConfig());
    await prepareDatabase(database);
    await insertAgency(database.db, 'so-nnmt', { domains: ['env'] });
    await insertAgency(database.db, 'so-gtvt', { domains: ['traffic'] });
    envReceiver = await TestReceiver.start();
    trafficReceiver = await TestReceiver.start();
    clock = new FakeClock(Date.now());
    published.length = 0;
  });
  afterEach(async () => {
    await envReceiver.stop();
    await trafficReceiver.stop();
    await database.close();
  });
  afterAll(() => dirs.removeAll());

  async function subscribe(parts: NotifierParts) {
    const env = await parts.endpoints.create('so-nnmt', { url: envReceiver.url() }, null);
    const traffic = await parts.endpoints.create('so-gtvt', { url: trafficReceiver.url() }, null);
    await parts.subscriptions.create(
      'so-nnmt',
      {
        name: 'Không khí',
        filters: { minSeverity: 'warning' },
        webhookEndpointIds: [env.endpoint.id],
        mqtt: true,
        language: 'vi',
        groupWaitSeconds: 30,
        groupIntervalSeconds: 300,
        repeatIntervalSeconds: 3600,
        enabled: true,
      },
      null,
    );
    // The transport agency subscribes to everything it may see: env alerts are outside its scope.
    await parts.subscriptions.create(
      'so-gtvt',
      {
        name: 'All',
        filters: { minSeverity: 'info' },
        webhookEndpointIds: [traffic.endpoint.id],
        mqtt: false,
        language: 'en',
        groupWaitSeconds: 0,
        groupIntervalSeconds: 60,
        repeatIntervalSeconds: 3600,
        enabled: true,
      },
      null,
    );
    return { envSecret: env.secret };
  }

  it('notifies the agency in scope once after group wait (signed, in Vietnamese), the resolution after, and nothing to the other', async () => {
    const parts = build();
    const { envSecret } = await subscribe(parts);
    const notifier = new Notifier(parts, { pollMs: 1000, logger });
    const a = pm25Alert('a1', clock.t);
    await commitTransition(
      database.db,
      pm25Alert('a1', clock.t, { state: 'pending', firingAt: null }),
      'opened',
      1,
    );
    await commitTransition(database.db, a, 'fired', 2);
    expect((await notifier.runOnce()).drain.attempts).toBe(0); // group wait
    clock.advance(30_000);
    expect(await notifier.runOnce()).toMatchObject({ plan: { notifications: 1 }, drain: { delivered: 2 } });
    expect(envReceiver.requests).toHaveLength(1);
    const firing = envReceiver.requests[0]!;
    const body = new Webhook(envSecret).verify(
      firing.body,
      firing.headers as Record<string, string>,
    ) as NotificationBody;
    expect(body.type).toBe('alert.firing');
    expect(body.data).toMatchObject({
      agencyId: 'so-nnmt',
      language: 'vi',
      groupKey: 'qcvn05-pm25-1h|hn-hoan-kiem',
    });
    expect(body.data.notificationId).toBe(firing.headers['webhook-id']);
    expect(body.data.alerts).toEqual([
      expect.objectContaining({
        id: 'a1',
        state: 'firing',
        message: 'PM2.5 vượt ngưỡng: 92.5 µg/m³',
        value: 92.5,
      }),
    ]);
    // The same notification on the agency's MQTT alert topic.
    expect(published).toEqual([{ agencyId: 'so-nnmt', id: body.data.notificationId, body: firing.body }]);

    clock.advance(60_000);
    await commitTransition(
      database.db,
      pm25Alert('a1', clock.t, { state: 'resolved', resolvedAt: clock.t, resolution: 'cleared', value: 30 }),
      'resolved',
      3,
    );
    await notifier.runOnce();
    expect(envReceiver.requests).toHaveLength(1); // group interval
    clock.advance(300_000);
    await notifier.runOnce();
    expect(envReceiver.requests).toHaveLength(2);
    const resolved = JSON.parse(envReceiver.requests[1]!.body) as NotificationBody;
    expect(resolved.type).toBe('alert.resolved');
    expect(resolved.data.alerts).toEqual([
      expect.objectContaining({ id: 'a1', state: 'resolved', resolution: 'cleared' }),
    ]);
    expect(trafficReceiver.requests).toHaveLength(0);
    const cursor = await database.db
      .selectFrom('consumer_cursors')
      .select('position')
      .where('name', '=', NOTIFIER_CURSOR)
      .executeTakeFirstOrThrow();
    expect(Number(cursor.position)).toBe(3);
  });

  it('a restart (new instances on the same database) neither loses nor repeats a notification', async () => {
    const first = build();
    await subscribe(first);
    await commitTransition(database.db, pm25Alert('a1', clock.t), 'fired', 1);
    await commitTransition(database.db, pm25Alert('a2', clock.t), 'fired', 1);
    expect(await first.planner.run()).toEqual({ transitions: 2, notifications: 0 }); // group wait
    clock.advance(30_000);
    // Planned and committed, then the process dies before sending.
    expect(await first.planner.run()).toEqual({ transitions: 0, notifications: 1 });

    // A pass that fails mid-way (reading a new transition, then an enqueue error after the
    // notification row) leaves no trace: the transition is planned again by the next instance.
    const badinh = { areaId: 'hn-ba-dinh', areaPath: ['hn', 'hn-ba-dinh'] };
    await commitTransition(database.db, pm25Alert('b1', clock.t, badinh), 'fired', 1);
    const broken = build();
    expect(await broken.planner.run()).toEqual({ transitions: 1, notifications: 0 });
    clock.advance(30_000);
    await commitTransition(database.db, pm25Alert('b2', clock.t, badinh), 'fired', 1);
    broken.outbox.enqueue = () => Promise.reject(new Error('disk gone'));
    await expect(broken.planner.run()).rejects.toThrow('disk gone');

    const second = build();
    const notifier = new Notifier(second, { pollMs: 1000, logger });
    await notifier.runOnce();
    await notifier.runOnce();
    const ids = envReceiver.requests.map((r) => r.headers['webhook-id']);
    expect(new Set(ids).size).toBe(ids.length);
    const bodies = envReceiver.requests.map((r) => JSON.parse(r.body) as NotificationBody);
    expect(bodies.map((b) => b.data.alerts.map((x) => x.id))).toEqual([
      ['a1', 'a2'],
      ['b1', 'b2'],
    ]);
    const { count } = await database.db
      .selectFrom('notifications')
      .select((eb) => eb.fn.countAll<number>().as('count'))
      .executeTakeFirstOrThrow();
    expect(Number(count)).toBe(2);
  });

  it('never skips a transition whose lower id commits after a higher one (PostgreSQL)', async () => {
    if (context.kind !== 'postgres') return; // SQLite has one writer at a time
    const parts = build();
    await subscribe(parts);
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let inserted!: () => void;
    const insertedNow = new Promise<void>((resolve) => (inserted = resolve));
    // A writer takes the lower id and holds its transaction open…
    const slow = database.db.transaction().execute(async (trx) => {
      await writeTransition(trx, pm25Alert('early', clock.t), 'fired', 1);
      inserted();
      await held;
    });
    await insertedNow;
    // …while a later one commits a higher id.
    await commitTransition(database.db, pm25Alert('late', clock.t), 'fired', 1);
    const planning = parts.planner.run();
    // The planner must wait for the open writer (a lock wait), not plan past it.
    const waiting = async (): Promise<'waiting'> => {
      const deadline = Date.now() + 10_000;
      for (;;) {
        const { rows } = await sql<{
          n: number;
        }>`SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock'`.execute(
          database.db,
        );
        if ((rows[0]?.n ?? 0) > 0) return 'waiting';
        if (Date.now() > deadline) throw new Error('the planner never waited');
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    };
    const first = await Promise.race([planning.then(() => 'planned' as const), waiting()]);
    release();
    await slow;
    const result = await planning;
    expect({ first, transitions: result.transitions }).toEqual({ first: 'waiting', transitions: 2 });
  });

  it('wakes on demand and on its timer, and stops cleanly', async () => {
    const parts = build();
    await subscribe(parts);
    const notifier = new Notifier(parts, { pollMs: 50, logger });
    notifier.start();
    await commitTransition(database.db, pm25Alert('a1', clock.t), 'fired', 1);
    notifier.wake();
    // The group is scheduled (group wait) by a pass; then time passes and the timer sends it.
    const deadline = Date.now() + 10_000;
    while ((await parts.planner.nextDueAt()) === null) {
      if (Date.now() > deadline) throw new Error('the transition was never planned');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    clock.advance(30_000);
    await envReceiver.next(1);
    await notifier.stop();
    expect(envReceiver.requests).toHaveLength(1);
  });
});
