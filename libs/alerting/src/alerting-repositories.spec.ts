import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Alert, AlertTransition, RuleDefinitionInput } from '@ioc/contracts';
import { type IocDatabase, openDatabase, prepareDatabase } from '@ioc/database';
import { DeviceRegistry, RegistryRepository, RegistrySync, type RegistryChange } from '@ioc/registry';
import { createLogger } from '@ioc/runtime';
import { describeEachDatabase } from '@ioc/testing';
import {
  type AlertChange,
  AlertingError,
  AlertRepository,
  loadSeedRules,
  RuleRepository,
  SilenceRepository,
  silenceMatches,
} from './index';

const logger = createLogger('alerting-spec', { level: 'silent' });

const PM25_RULE: RuleDefinitionInput = {
  id: 'qcvn05-pm25-24h',
  kind: 'threshold',
  name: { vi: 'PM2.5 trung bình 24 giờ', en: 'PM2.5 24-hour mean' },
  severity: 'warning',
  scope: { deviceTypes: ['air-quality-station'] },
  metric: 'pm25',
  window: { seconds: 86_400, aggregate: 'mean' },
  condition: { op: 'above', value: 50 },
  clear: { op: 'below', value: 47 },
  message: {
    vi: 'PM2.5 24 giờ tại {device} ({area}) là {value} {unit}, vượt {limit} ({standard})',
    en: 'PM2.5 24-hour mean at {device} ({area}) is {value} {unit}, above {limit} ({standard})',
  },
  source: { standard: 'QCVN 05:2023/BTNMT' },
};

/** A clock the test moves by hand. */
function manualClock(start = Date.UTC(2026, 10, 30, 5, 0, 0)) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

function alert(id: string, overrides: Partial<Alert> = {}): Alert {
  return {
    id,
    ruleId: 'qcvn05-pm25-24h',
    ruleVersion: 1,
    ruleKind: 'threshold',
    subjectKind: 'device',
    subjectId: 'aq-tn-001',
    deviceId: 'aq-tn-001',
    deviceType: 'air-quality-station',
    domain: 'env',
    areaId: 'tay-ninh-city-phuong-1',
    areaPath: ['tay-ninh', 'tay-ninh-city', 'tay-ninh-city-phuong-1'],
    metric: 'pm25',
    event: null,
    severity: 'warning',
    state: 'pending',
    value: 52.5,
    limit: 50,
    unit: 'µg/m³',
    message: { vi: 'v', en: 'e' },
    pendingAt: 1000,
    firingAt: null,
    acknowledgedAt: null,
    acknowledgedBy: null,
    acknowledgementNote: null,
    resolvedAt: null,
    resolvedBy: null,
    resolution: null,
    updatedAt: 1000,
    ...overrides,
  };
}

function step(
  a: Alert,
  seq: number,
  kind: AlertTransition['kind'],
  from: Alert['state'] | null,
): AlertChange {
  return {
    alert: a,
    transition: {
      alertId: a.id,
      seq,
      at: a.updatedAt,
      from,
      to: a.state,
      kind,
      severity: a.severity,
      value: a.value,
      by: { kind: 'engine' },
      note: null,
      resolution: a.resolution,
    },
  };
}

async function refusal(
  promise: Promise<unknown>,
): Promise<{ code: string; field?: string; message: string }> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof AlertingError)
      return { code: error.code, field: error.field, message: error.message };
    throw error;
  }
  throw new Error('expected a refusal');
}

describeEachDatabase('alerting repositories', (context) => {
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

  describe('RuleRepository', () => {
    it('versions every write, keeps each version and logs each as a registry change of entity rule', async () => {
      const database = await fresh();
      const clock = manualClock();
      const rules = new RuleRepository(database.db, clock.now);
      const created = await rules.create(PM25_RULE, 'acc-1');
      expect(created).toMatchObject({ version: 1, origin: 'api', updatedBy: 'acc-1', deletedAt: null });
      expect(created.definition.enabled).toBe(true);
      clock.advance(1000);
      const updated = await rules.update(
        PM25_RULE.id,
        { ...PM25_RULE, condition: { op: 'above', value: 45 }, clear: { op: 'below', value: 42 } },
        'acc-2',
        1,
      );
      expect(updated.version).toBe(2);
      const disabled = await rules.setEnabled(PM25_RULE.id, false, 'acc-2');
      expect(disabled.definition.enabled).toBe(false);
      expect((await rules.all()).map((r) => [r.definition.id, r.version, r.definition.enabled])).toEqual([
        [PM25_RULE.id, 3, false],
      ]);
      await rules.delete(PM25_RULE.id, 'acc-1');
      expect(await rules.get(PM25_RULE.id)).toBeUndefined();
      expect(await rules.all()).toEqual([]);
      const versions = await rules.versions(PM25_RULE.id);
      expect(versions.map((v) => [v.version, v.change, v.changedBy])).toEqual([
        [1, 'created', 'acc-1'],
        [2, 'updated', 'acc-2'],
        [3, 'disabled', 'acc-2'],
        [4, 'deleted', 'acc-1'],
      ]);
      expect(versions[1]?.definition).toMatchObject({ condition: { op: 'above', value: 45 } });
      const log = await new RegistryRepository(database.db).changesSince(0);
      expect(log.map((c) => [c.entity, c.entityId, c.action])).toEqual([
        ['rule', PM25_RULE.id, 'created'],
        ['rule', PM25_RULE.id, 'updated'],
        ['rule', PM25_RULE.id, 'disabled'],
        ['rule', PM25_RULE.id, 'deleted'],
      ]);
      // Creating the id again revives it with the next version.
      expect((await rules.create(PM25_RULE, 'acc-1')).version).toBe(5);
    });

    it('refuses an unknown placeholder, metric or event naming the field, a taken id, and a stale version', async () => {
      const database = await fresh();
      const rules = new RuleRepository(database.db);
      expect(
        await refusal(
          rules.create({ ...PM25_RULE, message: { vi: 'Giá trị {gia_tri}', en: 'ok {value}' } }, null),
        ),
      ).toMatchObject({
        code: 'invalid',
        field: 'message.vi',
        message: expect.stringContaining('{gia_tri}'),
      });
      expect(await refusal(rules.create({ ...PM25_RULE, metric: 'pm1' }, null))).toMatchObject({
        code: 'invalid',
        field: 'metric',
      });
      expect(
        await refusal(rules.create({ ...PM25_RULE, scope: { deviceTypes: ['noise-meter'] } }, null)),
      ).toMatchObject({ code: 'invalid', field: 'metric', message: expect.stringContaining('noise-meter') });
      expect(
        await refusal(
          rules.create(
            {
              id: 'cam-fire',
              kind: 'event',
              event: 'fire',
              name: { vi: 'x', en: 'x' },
              severity: 'critical',
              message: { vi: '{event}', en: '{event}' },
            },
            null,
          ),
        ),
      ).toMatchObject({ code: 'invalid', field: 'event' });
      expect(await refusal(rules.create({ ...PM25_RULE, severity: 'fatal' }, null))).toMatchObject({
        code: 'invalid',
        field: 'severity',
      });
      await rules.create(PM25_RULE, null);
      expect(await refusal(rules.create(PM25_RULE, null))).toMatchObject({ code: 'conflict', field: 'id' });
      await rules.setEnabled(PM25_RULE.id, false, null);
      expect(await refusal(rules.update(PM25_RULE.id, PM25_RULE, null, 1))).toMatchObject({
        code: 'conflict',
        field: 'version',
      });
      expect(await refusal(rules.update('nope', { ...PM25_RULE, id: 'nope' }, null))).toMatchObject({
        code: 'not-found',
      });
      expect(await refusal(rules.update(PM25_RULE.id, { ...PM25_RULE, id: 'other' }, null))).toMatchObject({
        code: 'invalid',
        field: 'id',
      });
    });

    it('reaches the engine through RegistrySync.onChanges, devices untouched', async () => {
      const database = await fresh();
      const repository = new RegistryRepository(database.db);
      await repository.createArea({ id: 'tay-ninh', name: 'Tây Ninh', level: 'province', parentId: null });
      const registry = new DeviceRegistry();
      const seen: RegistryChange[] = [];
      const sync = new RegistrySync(repository, registry, {
        logger,
        pollMs: 0,
        onChanges: (changes) => seen.push(...changes),
      });
      await sync.start();
      try {
        await new RuleRepository(database.db).create(PM25_RULE, null);
        await sync.refresh();
        expect(seen.map((c) => [c.entity, c.entityId, c.action])).toEqual([
          ['rule', PM25_RULE.id, 'created'],
        ]);
        expect(registry.deviceCount).toBe(0);
      } finally {
        sync.stop();
      }
    });
  });

  describe('AlertRepository', () => {
    it("commits the engine's changes and its cursor together, and a replay adds nothing", async () => {
      const database = await fresh();
      const alerts = new AlertRepository(database.db);
      const opened = alert('a-1');
      const fired = alert('a-1', { state: 'firing', firingAt: 2000, updatedAt: 2000, value: 55 });
      const changes = [step(opened, 1, 'opened', null), step(fired, 2, 'fired', 'pending')];
      const first = await alerts.commit({
        changes,
        cursor: { name: 'alert-engine', position: 41, snapshot: { windows: [1, 2] }, snapshotPosition: 40 },
      });
      expect(first.applied).toHaveLength(2);
      expect(await alerts.openAlerts()).toEqual([fired]);
      expect(await alerts.openAlertsWithSeq()).toEqual([{ alert: fired, lastSeq: 2 }]);
      expect(await alerts.getWithSeq('a-1')).toEqual({ alert: fired, lastSeq: 2 });
      expect(await alerts.loadCursor('alert-engine')).toMatchObject({
        position: 41,
        snapshot: { windows: [1, 2] },
        snapshotPosition: 40,
      });
      // A crash before the spool release replays the same batch: nothing is stored twice.
      const replay = await alerts.commit({ changes, cursor: { name: 'alert-engine', position: 41 } });
      expect(replay.applied).toEqual([]);
      expect(replay.skipped.map((s) => s.reason)).toEqual(['replayed', 'replayed']);
      expect((await alerts.transitions('a-1')).map((t) => t.seq)).toEqual([1, 2]);
      // A cursor without a snapshot keeps the stored snapshot.
      await alerts.commit({ changes: [], cursor: { name: 'alert-engine', position: 50 } });
      expect(await alerts.loadCursor('alert-engine')).toMatchObject({ position: 50, snapshotPosition: 40 });
      expect(await alerts.loadCursor('other')).toBeUndefined();
    });

    it('rolls the whole commit back when one change fails (a second open alert of the same subject)', async () => {
      const database = await fresh();
      const alerts = new AlertRepository(database.db);
      await alerts.commit({ changes: [step(alert('a-1'), 1, 'opened', null)] });
      await expect(
        alerts.commit({
          changes: [
            step(alert('a-other', { subjectId: 'aq-tn-002', deviceId: 'aq-tn-002' }), 1, 'opened', null),
            step(alert('a-2'), 1, 'opened', null),
          ],
          cursor: { name: 'alert-engine', position: 9 },
        }),
      ).rejects.toMatchObject({
        // Matched by message: better-sqlite3's native part keeps the error class of the first test
        // file a jest worker loaded, so instanceof Error (what toThrow needs) fails in later files.
        message: expect.stringMatching(/unique|duplicate/i),
      });
      expect((await alerts.openAlerts()).map((a) => a.id)).toEqual(['a-1']);
      expect(await alerts.loadCursor('alert-engine')).toBeUndefined();
    });

    it('resolves an alert and opens its successor for the same rule and subject in one commit', async () => {
      const database = await fresh();
      const alerts = new AlertRepository(database.db);
      const first = alert('a-1', { state: 'firing', firingAt: 1500, updatedAt: 1500 });
      await alerts.commit({
        changes: [step(alert('a-1'), 1, 'opened', null), step(first, 2, 'fired', 'pending')],
      });
      const resolved = alert('a-1', {
        state: 'resolved',
        firingAt: 1500,
        resolvedAt: 3000,
        resolution: 'cleared',
        updatedAt: 3000,
      });
      const successor = alert('a-2', { pendingAt: 4000, updatedAt: 4000 });
      // The resolution must leave the open-subject index before the successor enters it.
      const result = await alerts.commit({
        changes: [step(resolved, 3, 'resolved', 'firing'), step(successor, 1, 'opened', null)],
      });
      expect(result.applied.map((c) => [c.alert.id, c.transition.seq])).toEqual([
        ['a-1', 3],
        ['a-2', 1],
      ]);
      expect((await alerts.openAlerts()).map((a) => a.id)).toEqual(['a-2']);
      expect((await alerts.get('a-1'))?.version).toBe(3);
      expect((await alerts.transitions('a-1')).map((t) => t.kind)).toEqual(['opened', 'fired', 'resolved']);
    });

    it('stores a commit larger than one statement holds (600 alerts, 1 200 transitions)', async () => {
      const database = await fresh();
      const alerts = new AlertRepository(database.db);
      const changes: AlertChange[] = [];
      for (let i = 0; i < 600; i++) {
        const subject = { subjectId: `dev-${i}`, deviceId: `dev-${i}` };
        changes.push(step(alert(`b-${i}`, subject), 1, 'opened', null));
        const fired = alert(`b-${i}`, { ...subject, state: 'firing', firingAt: 2000, updatedAt: 2000 });
        changes.push(step(fired, 2, 'fired', 'pending'));
      }
      const result = await alerts.commit({ changes, cursor: { name: 'alert-engine', position: 1199 } });
      expect(result.applied).toHaveLength(1200);
      const open = await alerts.openAlertsWithSeq();
      expect(open).toHaveLength(600);
      expect(open.every((o) => o.alert.state === 'firing' && o.lastSeq === 2)).toBe(true);
      expect((await alerts.get('b-599'))?.version).toBe(2);
      expect((await alerts.transitions('b-599')).map((t) => t.seq)).toEqual([1, 2]);
    });

    it('acknowledges and resolves with optimistic concurrency, a transition and a registry change each', async () => {
      const database = await fresh();
      const clock = manualClock(10_000);
      const alerts = new AlertRepository(database.db, clock.now);
      await alerts.commit({ changes: [step(alert('a-1'), 1, 'opened', null)] });
      const actor = { id: 'acc-op', name: 'operator' };
      expect(await refusal(alerts.acknowledge('a-1', actor, 'xem'))).toMatchObject({
        code: 'conflict',
        field: 'state',
      });
      await alerts.commit({
        changes: [
          step(alert('a-1', { state: 'firing', firingAt: 2000, updatedAt: 2000 }), 2, 'fired', 'pending'),
        ],
      });
      expect(await refusal(alerts.acknowledge('a-1', actor, 'xem', 1))).toMatchObject({
        code: 'conflict',
        field: 'version',
      });
      const acked = await alerts.acknowledge('a-1', actor, 'Đã cử đội kiểm tra', 2);
      expect(acked.version).toBe(3);
      expect(acked.alert).toMatchObject({
        state: 'acknowledged',
        acknowledgedBy: 'acc-op',
        acknowledgementNote: 'Đã cử đội kiểm tra',
        acknowledgedAt: 10_000,
      });
      expect(acked.transition).toMatchObject({
        seq: 3,
        from: 'firing',
        to: 'acknowledged',
        by: { kind: 'account', id: 'acc-op', name: 'operator' },
      });
      expect(await refusal(alerts.acknowledge('a-1', actor, null))).toMatchObject({ code: 'conflict' });
      clock.advance(5000);
      const resolved = await alerts.resolve('a-1', actor, 'đã xử lý');
      expect(resolved.alert).toMatchObject({ state: 'resolved', resolution: 'manual', resolvedAt: 15_000 });
      // Acknowledging after the resolution: 409.
      expect(await refusal(alerts.acknowledge('a-1', actor, null))).toMatchObject({
        code: 'conflict',
        field: 'state',
      });
      expect(await refusal(alerts.resolve('a-1', actor, null))).toMatchObject({ code: 'conflict' });
      expect(await refusal(alerts.resolve('nope', actor, null))).toMatchObject({ code: 'not-found' });
      const log = await new RegistryRepository(database.db).changesSince(0);
      expect(log.map((c) => [c.entity, c.entityId, c.action])).toEqual([
        ['alert', 'a-1', 'acknowledged'],
        ['alert', 'a-1', 'resolved'],
      ]);
      expect((await alerts.transitions('a-1')).map((t) => t.kind)).toEqual([
        'opened',
        'fired',
        'acknowledged',
        'resolved',
      ]);
    });

    it("rebases the engine's step on a person's acknowledgement, and drops it after a person's resolution", async () => {
      const database = await fresh();
      const alerts = new AlertRepository(database.db);
      const firing = alert('a-1', { state: 'firing', firingAt: 2000, updatedAt: 2000 });
      await alerts.commit({
        changes: [step(alert('a-1'), 1, 'opened', null), step(firing, 2, 'fired', 'pending')],
      });
      await alerts.acknowledge('a-1', { id: 'acc', name: 'op' }, 'ok');
      // The engine had not heard of the acknowledgement: it escalates as seq 3 of a firing alert.
      const escalated = alert('a-1', {
        state: 'firing',
        firingAt: 2000,
        severity: 'critical',
        updatedAt: 3000,
        value: 160,
      });
      const result = await alerts.commit({ changes: [step(escalated, 3, 'escalated', 'firing')] });
      expect(result.applied[0]?.transition).toMatchObject({
        seq: 4,
        from: 'acknowledged',
        to: 'acknowledged',
      });
      const stored = await alerts.get('a-1');
      expect(stored?.alert).toMatchObject({
        state: 'acknowledged',
        severity: 'critical',
        acknowledgedBy: 'acc',
      });
      await alerts.resolve('a-1', { id: 'acc', name: 'op' }, null);
      const late = await alerts.commit({
        changes: [
          step(
            alert('a-1', { state: 'resolved', resolvedAt: 4000, resolution: 'cleared', updatedAt: 4000 }),
            4,
            'resolved',
            'firing',
          ),
        ],
      });
      expect(late.skipped.map((s) => s.reason)).toEqual(['resolved']);
      expect((await alerts.get('a-1'))?.alert.resolution).toBe('manual');
    });

    it('lists with filters, scope and pagination, newest first', async () => {
      const database = await fresh();
      const alerts = new AlertRepository(database.db);
      const envA = alert('a-env-1', { pendingAt: 1000 });
      const envB = alert('a-env-2', {
        subjectId: 'wq-gd-001',
        deviceId: 'wq-gd-001',
        areaId: 'go-dau_x',
        areaPath: ['tay-ninh', 'go-dau', 'go-dau_x'],
        pendingAt: 2000,
        severity: 'critical',
      });
      const traffic = alert('a-tr-1', {
        ruleId: 'congestion',
        subjectId: 'tc-tn-001',
        deviceId: 'tc-tn-001',
        domain: 'traffic',
        pendingAt: 3000,
        state: 'resolved',
        resolvedAt: 5000,
        resolution: 'cleared',
      });
      await alerts.commit({
        changes: [
          step(envA, 1, 'opened', null),
          step(envB, 1, 'opened', null),
          step(traffic, 1, 'opened', null),
        ],
      });
      const ids = async (
        query: Parameters<AlertRepository['list']>[0],
        scope: Parameters<AlertRepository['list']>[1] = null,
      ) => (await alerts.list(query, scope)).items.map((i) => i.alert.id);
      expect(await ids({})).toEqual(['a-tr-1', 'a-env-2', 'a-env-1']);
      expect(await ids({ open: true })).toEqual(['a-env-2', 'a-env-1']);
      expect(await ids({ open: false })).toEqual(['a-tr-1']);
      expect(await ids({ domains: ['env'] })).toEqual(['a-env-2', 'a-env-1']);
      expect(await ids({ domains: ['env', 'traffic'] })).toEqual(['a-tr-1', 'a-env-2', 'a-env-1']);
      expect(await ids({ areaIds: ['go-dau'] })).toEqual(['a-env-2']);
      // `_` in an area id is a literal, not LIKE's one-character wildcard.
      expect(await ids({ areaIds: ['go-dau_x'] })).toEqual(['a-env-2']);
      expect(await ids({ areaIds: ['go-dauxx'] })).toEqual([]);
      expect(await ids({ areaIds: ['go-dauxx', 'go-dau'] })).toEqual(['a-env-2']);
      expect(await ids({ areaIds: ['go-dau', 'tay-ninh-city'] })).toEqual(['a-tr-1', 'a-env-2', 'a-env-1']);
      expect(await ids({ severities: ['critical'] })).toEqual(['a-env-2']);
      expect(await ids({ ruleIds: ['congestion'] })).toEqual(['a-tr-1']);
      expect(await ids({ ruleIds: ['congestion', 'no-such-rule'] })).toEqual(['a-tr-1']);
      expect(await ids({ deviceIds: ['aq-tn-001'] })).toEqual(['a-env-1']);
      expect(await ids({ from: 1500, to: 3000 })).toEqual(['a-env-2']);
      expect(await ids({ timeField: 'resolvedAt', from: 4000 })).toEqual(['a-tr-1']);
      expect(await ids({}, { domains: ['traffic'] })).toEqual(['a-tr-1']);
      expect(await ids({}, { areas: ['go-dau'] })).toEqual(['a-env-2']);
      expect(await ids({}, { domains: ['env'], areas: ['tay-ninh-city'] })).toEqual(['a-env-1']);
      const first = await alerts.list({ limit: 2 }, null);
      expect(first.items.map((i) => i.alert.id)).toEqual(['a-tr-1', 'a-env-2']);
      expect(first.nextCursor).not.toBeNull();
      const second = await alerts.list({ limit: 2, cursor: first.nextCursor as string }, null);
      expect(second.items.map((i) => i.alert.id)).toEqual(['a-env-1']);
      expect(second.nextCursor).toBeNull();
      expect(await refusal(alerts.list({ cursor: 'bm9wZQ' }, null))).toMatchObject({
        code: 'invalid',
        field: 'cursor',
      });
    });
  });

  describe('SilenceRepository', () => {
    it('creates, lists, finds the active ones and ends one early', async () => {
      const database = await fresh();
      const clock = manualClock(100_000);
      const silences = new SilenceRepository(database.db, clock.now);
      const now = clock.now();
      const repair = await silences.create(
        {
          matchers: { deviceIds: ['aq-tn-001'] },
          reason: 'maintenance',
          comment: 'thay cảm biến',
          endsAt: now + 3_600_000,
        },
        'acc-op',
      );
      const later = await silences.create(
        {
          matchers: { domains: ['traffic'] },
          reason: 'silence',
          comment: 'x',
          startsAt: now + 7_200_000,
          endsAt: now + 9_000_000,
        },
        'acc-op',
      );
      expect((await silences.activeAt(now)).map((s) => s.id)).toEqual([repair.id]);
      expect((await silences.activeAt(now + 7_200_000)).map((s) => s.id)).toEqual([later.id]);
      expect((await silences.list()).map((s) => s.id)).toEqual([later.id, repair.id]);
      clock.advance(60_000);
      const ended = await silences.expire(repair.id, 'acc-admin');
      expect(ended).toMatchObject({ endsAt: now + 60_000, endedAt: now + 60_000, endedBy: 'acc-admin' });
      expect(await silences.activeAt(clock.now())).toEqual([]);
      expect((await silences.list({ active: false })).map((s) => s.id)).toEqual([repair.id]);
      expect(await refusal(silences.expire(repair.id, null))).toMatchObject({ code: 'conflict' });
      expect(await refusal(silences.expire('nope', null))).toMatchObject({ code: 'not-found' });
      expect(
        await refusal(
          silences.create({ matchers: {}, reason: 'silence', comment: '', endsAt: now + 1e6 }, null),
        ),
      ).toMatchObject({ code: 'invalid', field: 'matchers' });
      expect(
        await refusal(
          silences.create(
            { matchers: { domains: ['env'] }, reason: 'silence', comment: '', endsAt: now - 1 },
            null,
          ),
        ),
      ).toMatchObject({ code: 'invalid', field: 'endsAt' });
    });
  });

  describe('loadSeedRules', () => {
    const dirs: string[] = [];
    afterAll(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));
    const seedsWith = (rules: unknown[]): string => {
      const dir = mkdtempSync(join(tmpdir(), 'ioc-seed-rules-'));
      dirs.push(dir);
      writeFileSync(join(dir, 'rules.json'), JSON.stringify(rules));
      return dir;
    };
    const other = {
      ...PM25_RULE,
      id: 'qcvn05-pm10-24h',
      metric: 'pm10',
      condition: { op: 'above', value: 100 },
    };

    it('applies the file once, updates unedited seed rules when it changes, keeps what an admin edited or deleted', async () => {
      const database = await fresh();
      const rules = new RuleRepository(database.db);
      const first = await loadSeedRules(database.db, seedsWith([PM25_RULE, other]));
      expect(first.created).toEqual([PM25_RULE.id, other.id]);
      expect((await rules.get(PM25_RULE.id))?.origin).toBe('seed');
      const again = await loadSeedRules(database.db, seedsWith([PM25_RULE, other]));
      expect(again).toMatchObject({ created: [], updated: [], unchanged: [PM25_RULE.id, other.id] });

      // An admin edits one seed rule through REST.
      await rules.update(other.id, { ...other, condition: { op: 'above', value: 90 } }, 'acc-admin');
      // The file changes both.
      const changed = await loadSeedRules(
        database.db,
        seedsWith([
          { ...PM25_RULE, condition: { op: 'above', value: 45 }, clear: { op: 'below', value: 42 } },
          { ...other, condition: { op: 'above', value: 110 } },
        ]),
      );
      expect(changed).toMatchObject({ updated: [PM25_RULE.id], keptEdited: [other.id] });
      expect((await rules.get(PM25_RULE.id))?.definition).toMatchObject({ condition: { value: 45 } });
      expect((await rules.get(PM25_RULE.id))?.version).toBe(2);
      expect((await rules.get(other.id))?.definition).toMatchObject({ condition: { value: 90 } });

      // Deleted by an admin: not revived. Left out of the file and unedited: removed.
      await rules.delete(other.id, 'acc-admin');
      const trimmed = await loadSeedRules(database.db, seedsWith([other]));
      expect(trimmed).toMatchObject({ keptDeleted: [other.id], removed: [PM25_RULE.id] });
      expect(await rules.all()).toEqual([]);
    });

    it('refuses a broken file naming the entry and field, writing nothing', async () => {
      const database = await fresh();
      const broken = seedsWith([PM25_RULE, { ...other, message: { vi: '{nope}', en: 'x' } }]);
      await expect(loadSeedRules(database.db, broken)).rejects.toThrow('rules.json[1].message.vi');
      expect(await new RuleRepository(database.db).all()).toEqual([]);
      await expect(loadSeedRules(database.db, seedsWith([PM25_RULE, PM25_RULE]))).rejects.toThrow(
        'rules.json[1].id',
      );
    });
  });
});

describe('silenceMatches', () => {
  const base = alert('a');
  it('holds when every matcher given holds', () => {
    expect(silenceMatches({ matchers: { deviceIds: ['aq-tn-001'] } }, base)).toBe(true);
    expect(silenceMatches({ matchers: { areaIds: ['tay-ninh-city'] } }, base)).toBe(true);
    expect(silenceMatches({ matchers: { areaIds: ['go-dau'] } }, base)).toBe(false);
    expect(silenceMatches({ matchers: { domains: ['env'], severities: ['critical'] } }, base)).toBe(false);
    expect(silenceMatches({ matchers: { domains: ['env'], severities: ['warning'] } }, base)).toBe(true);
    expect(silenceMatches({ matchers: { ruleIds: ['other'] } }, base)).toBe(false);
    expect(silenceMatches({ matchers: { deviceIds: ['x'] } }, { ...base, deviceId: null })).toBe(false);
  });
});
