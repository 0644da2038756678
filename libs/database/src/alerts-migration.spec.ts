import { describeEachDatabase } from '@ioc/testing';
import type { Insertable } from 'kysely';
import { type AlertsTable, type IocDatabase, openDatabase, prepareDatabase } from './index';

function alertRow(id: string, state: string, subject = 'aq-001'): Insertable<AlertsTable> {
  return {
    id,
    rule_id: 'vn-aqi-poor',
    rule_version: 1,
    rule_kind: 'threshold',
    subject_kind: 'device',
    subject_id: subject,
    device_id: subject,
    device_type: 'air-quality-station',
    domain: 'env',
    area_id: 'go-dau',
    area_path: JSON.stringify(['tay-ninh', 'go-dau']),
    metric: 'aqi',
    event: null,
    severity: 'warning',
    state,
    value: '123',
    limit_value: 101,
    unit: '',
    message: JSON.stringify({ vi: 'v', en: 'e' }),
    pending_at: 1,
    firing_at: 1,
    acknowledged_at: null,
    acknowledged_by: null,
    acknowledgement_note: null,
    resolved_at: state === 'resolved' ? 2 : null,
    resolved_by: null,
    resolution: state === 'resolved' ? 'cleared' : null,
    updated_at: 1,
    version: 1,
  };
}

/*
 * Constraint refusals are matched by message, not with `rejects.toThrow`: better-sqlite3's native
 * part keeps the SqliteError class of the first jest test file a worker loaded, so in a later file
 * the error is not an instance of that file's Error and `toThrow` reports "did not throw".
 */
describeEachDatabase('migration 0004-alerts', (context) => {
  const opened: IocDatabase[] = [];
  afterAll(async () => {
    await Promise.all(opened.map((database) => database.close()));
  });
  const fresh = async (): Promise<IocDatabase> => {
    const database = openDatabase(await context.freshConfig());
    opened.push(database);
    await prepareDatabase(database);
    return database;
  };

  it('creates the rule, alert, silence and cursor tables', async () => {
    const database = await fresh();
    const tables = (await database.db.introspection.getTables()).map((t) => t.name);
    for (const table of [
      'rules',
      'rule_versions',
      'alerts',
      'alert_transitions',
      'silences',
      'consumer_cursors',
    ]) {
      expect(tables).toContain(table);
    }
  });

  it('allows one open alert per rule and subject, beside any number of resolved ones', async () => {
    const database = await fresh();
    await database.db.insertInto('alerts').values(alertRow('a1', 'resolved')).execute();
    await database.db.insertInto('alerts').values(alertRow('a2', 'resolved')).execute();
    await database.db.insertInto('alerts').values(alertRow('a3', 'firing')).execute();
    // Another subject of the same rule may be open at the same time.
    await database.db
      .insertInto('alerts')
      .values(alertRow('a4', 'pending', 'aq-002'))
      .execute();
    await expect(
      database.db.insertInto('alerts').values(alertRow('a5', 'acknowledged')).execute(),
    ).rejects.toMatchObject({ message: expect.stringMatching(/unique|duplicate/i) });
    // Once the open one is resolved, the subject may open again.
    await database.db.updateTable('alerts').set({ state: 'resolved' }).where('id', '=', 'a3').execute();
    await database.db.insertInto('alerts').values(alertRow('a5', 'pending')).execute();
  });

  it('numbers transitions in commit order and refuses a repeated (alert, seq)', async () => {
    const database = await fresh();
    await database.db.insertInto('alerts').values(alertRow('a1', 'firing')).execute();
    const transition = (seq: number) => ({
      alert_id: 'a1',
      seq,
      at: 10 * seq,
      from_state: seq === 1 ? null : 'pending',
      to_state: seq === 1 ? 'pending' : 'firing',
      kind: seq === 1 ? 'opened' : 'fired',
      severity: 'warning',
      value: '120',
      actor: JSON.stringify({ kind: 'engine' }),
      note: null,
      resolution: null,
    });
    await database.db.insertInto('alert_transitions').values(transition(1)).execute();
    await database.db.insertInto('alert_transitions').values(transition(2)).execute();
    await expect(
      database.db.insertInto('alert_transitions').values(transition(2)).execute(),
    ).rejects.toMatchObject({ message: expect.stringMatching(/unique|duplicate/i) });
    const ids = await database.db
      .selectFrom('alert_transitions')
      .select(['id', 'seq'])
      .orderBy('id')
      .execute();
    expect(ids.map((r) => r.seq)).toEqual([1, 2]);
    expect(Number(ids[1]?.id)).toBeGreaterThan(Number(ids[0]?.id));
  });

  it('refuses a transition of an unknown alert and a version of an unknown rule (foreign keys)', async () => {
    const database = await fresh();
    await expect(
      database.db
        .insertInto('alert_transitions')
        .values({
          alert_id: 'nope',
          seq: 1,
          at: 1,
          from_state: null,
          to_state: 'pending',
          kind: 'opened',
          severity: 'info',
          value: null,
          actor: '{"kind":"engine"}',
          note: null,
          resolution: null,
        })
        .execute(),
    ).rejects.toMatchObject({ message: expect.stringMatching(/foreign key/i) });
    await expect(
      database.db
        .insertInto('rule_versions')
        .values({
          rule_id: 'nope',
          version: 1,
          definition: '{}',
          change: 'created',
          changed_at: 1,
          changed_by: null,
        })
        .execute(),
    ).rejects.toMatchObject({ message: expect.stringMatching(/foreign key/i) });
  });

  it('keeps a cursor position beyond 2^32 exactly', async () => {
    const database = await fresh();
    const position = 2 ** 40 + 7;
    await database.db
      .insertInto('consumer_cursors')
      .values({ name: 'alert-engine', position, snapshot: null, snapshot_position: null, updated_at: 1 })
      .execute();
    const row = await database.db.selectFrom('consumer_cursors').selectAll().executeTakeFirstOrThrow();
    expect(row.position).toBe(position);
  });
});
