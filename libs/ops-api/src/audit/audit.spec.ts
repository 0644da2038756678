import 'reflect-metadata';
import { Aedes } from 'aedes';
import { createServer, type Server } from 'node:net';
import { type AddressInfo } from 'node:net';
import { parse } from 'csv-parse/sync';
import { sql } from 'kysely';
import { AuditLog } from '@ioc/audit';
import { errorBody, type ImportJobBody, type IssuedCredentialBody } from '@ioc/contracts';
import { type IocDatabase, openDatabase, prepareDatabase } from '@ioc/database';
import {
  CommandRepository,
  DeviceRegistry,
  loadSeeds,
  RegistryRepository,
  RegistrySync,
} from '@ioc/registry';
import { createLogger } from '@ioc/runtime';
import { TempDirs } from '@ioc/testing';
import { createTimeSeriesStore, type TimeSeriesStore } from '@ioc/timeseries';
import type { AuthenticatedRequest } from '../common/auth.decorators';
import { type ApiUnderTest, startApiUnderTest, TEST_ADMIN_USERNAME } from '../test-support/api-under-test';
import type { AuditEntryBody, AuditListBody, AuditVerificationBody } from './audit-bodies';
import { AuditTrail } from './audit-trail.service';

jest.setTimeout(120_000);

const KEY = Buffer.alloc(32, 7);
const logger = createLogger('audit-spec', { level: 'silent' });
const tempDirs = new TempDirs('audit-spec-');

interface Answer<T> {
  status: number;
  body: T;
  text: string;
  headers: Headers;
}

describe('audit trail over REST (SQLite)', () => {
  let database: IocDatabase;
  let sync: RegistrySync;
  let store: TimeSeriesStore;
  let api: ApiUnderTest;
  let broker: Aedes;
  let brokerServer: Server;
  let audit: AuditLog;
  /** Resolves once the API's bus client has connected to the broker. */
  let apiConnected: Promise<void>;
  const seeds = loadSeeds();
  const ward = seeds.devices[0]!.areaId;
  const station = seeds.devices.find(
    (d) => d.type === 'air-quality-station' && (d.state ?? 'active') === 'active',
  )!;

  beforeAll(async () => {
    const dir = await tempDirs.make();
    database = openDatabase({ kind: 'sqlite', path: `${dir}/registry.sqlite` });
    await prepareDatabase(database, {
      afterMigrate: async (db) => {
        await new RegistryRepository(db).importSeeds(seeds);
      },
    });
    const repository = new RegistryRepository(database.db);
    const registry = new DeviceRegistry(seeds);
    sync = new RegistrySync(repository, registry, { logger, pollMs: 0 });
    await sync.start();
    store = createTimeSeriesStore({ storage: 'embedded', dataDir: dir });
    await store.init();
    // A plain broker: the API's bus client publishes commands to it (QoS 1, PUBACK).
    broker = await Aedes.createBroker();
    brokerServer = createServer(broker.handle);
    await new Promise<void>((resolve) => brokerServer.listen(0, '127.0.0.1', resolve));
    const brokerPort = (brokerServer.address() as AddressInfo).port;
    apiConnected = new Promise<void>((resolve) =>
      broker.on('client', (client) => {
        if (client.id.startsWith('ioc-api-')) resolve();
      }),
    );
    audit = new AuditLog(database.db);
    api = await startApiUnderTest({
      database,
      registry,
      store,
      logger,
      settings: { brokerUrl: `mqtt://127.0.0.1:${brokerPort}` },
      provisioning: {
        repository,
        credentialKey: KEY,
        refresh: () => sync.refresh(),
        notify: () => sync.notify(),
      },
      commands: new CommandRepository(database.db),
      audit,
    });
  });

  afterAll(async () => {
    sync?.stop();
    await api?.close();
    await new Promise<void>((resolve) => (brokerServer ? brokerServer.close(() => resolve()) : resolve()));
    await new Promise<void>((resolve) => (broker ? broker.close(() => resolve()) : resolve()));
    await store?.close();
    await database?.close();
    await tempDirs.removeAll();
  });

  /** A request as the spec's admin (or with `as`'s headers: another principal, or `{}` for none). */
  async function call<T = Record<string, unknown>>(
    method: string,
    path: string,
    body?: unknown,
    contentType = 'application/json',
    as?: Record<string, string>,
  ): Promise<Answer<T>> {
    const response = await fetch(`${api.url}${path}`, {
      method,
      headers: {
        ...(as ?? api.authHeaders),
        ...(body === undefined ? {} : { 'content-type': contentType }),
      },
      ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    });
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // CSV
    }
    return { status: response.status, body: parsed as T, text, headers: response.headers };
  }

  const expectStatus = async <T>(answer: Promise<Answer<T>>, status: number): Promise<T> => {
    const { status: got, text, body } = await answer;
    expect({ status: got, text: got === status ? '' : text }).toEqual({ status, text: '' });
    return body;
  };

  const newest = async (): Promise<AuditEntryBody> =>
    (await expectStatus(call<AuditListBody>('GET', '/api/v1/audit?limit=1'), 200)).items[0]!;

  it('records every registry write and command with actor, address, entity, before and after; the chain verifies', async () => {
    const adminId = (await api.access.accounts.findByUsername(TEST_ADMIN_USERNAME))!.id;
    const light = {
      id: 'audit-sl-1',
      type: 'street-light',
      name: 'Đèn audit',
      areaId: ward,
      location: { lat: 11.3, lon: 106.1 },
    };
    await expectStatus(call('POST', '/api/v1/devices', light), 201);
    let entry = await newest();
    expect(entry).toMatchObject({
      action: 'device.create',
      outcome: 'success',
      actor: { kind: 'account', id: adminId, name: TEST_ADMIN_USERNAME },
      entity: { type: 'device', id: 'audit-sl-1' },
      before: null,
      after: { id: 'audit-sl-1', name: 'Đèn audit', state: 'active' },
    });
    expect(entry.address).toMatch(/127\.0\.0\.1$/);

    await expectStatus(call('PATCH', '/api/v1/devices/audit-sl-1', { name: 'Đèn mới' }), 200);
    entry = await newest();
    expect(entry).toMatchObject({
      action: 'device.update',
      entity: { type: 'device', id: 'audit-sl-1' },
      before: { name: 'Đèn audit' },
      after: { name: 'Đèn mới' },
    });

    for (const [verb, state] of [
      ['suspend', 'suspended'],
      ['resume', 'active'],
    ] as const) {
      const previous = (await newest()).after as { state: string };
      await expectStatus(call('POST', `/api/v1/devices/audit-sl-1/${verb}`), 200);
      expect(await newest()).toMatchObject({
        action: `device.${verb}`,
        before: { state: previous.state },
        after: { state },
      });
    }

    const issued = await expectStatus(
      call<IssuedCredentialBody>('POST', '/api/v1/devices/audit-sl-1/credentials', { graceSeconds: 0 }),
      201,
    );
    expect(await newest()).toMatchObject({
      action: 'credential.issue',
      entity: { type: 'device', id: 'audit-sl-1' },
      after: { id: issued.credential.id, hint: issued.credential.hint },
      detail: { credentialId: issued.credential.id, graceSeconds: 0 },
    });
    await expectStatus(call('DELETE', `/api/v1/devices/audit-sl-1/credentials/${issued.credential.id}`), 200);
    expect(await newest()).toMatchObject({
      action: 'credential.revoke',
      detail: { credentialId: issued.credential.id, revoked: 1 },
    });
    await expectStatus(call('DELETE', '/api/v1/devices/audit-sl-1/credentials'), 200);
    expect(await newest()).toMatchObject({
      action: 'credential.revoke',
      detail: { credentialId: null, revoked: 0 },
    });

    await expectStatus(call('POST', '/api/v1/devices/audit-sl-1/retire'), 200);
    expect(await newest()).toMatchObject({ action: 'device.retire', after: { state: 'retired' } });

    await expectStatus(
      call('POST', '/api/v1/areas', { id: 'audit-area', name: 'Khu audit', level: 'ward', parentId: ward }),
      201,
    );
    expect(await newest()).toMatchObject({
      action: 'area.create',
      entity: { type: 'area', id: 'audit-area' },
      after: { name: 'Khu audit' },
    });
    await expectStatus(call('PATCH', '/api/v1/areas/audit-area', { name: 'Khu audit 2' }), 200);
    expect(await newest()).toMatchObject({
      action: 'area.update',
      before: { name: 'Khu audit' },
      after: { name: 'Khu audit 2' },
    });

    const csv = 'id,type,name,areaId,lat,lon\r\naudit-sl-2,street-light,Đèn 2,audit-area,11.3,106.1\r\n';
    await expectStatus(call('POST', '/api/v1/devices/import?dryRun=true', csv, 'text/csv'), 200);
    expect((await newest()).action).toBe('area.update'); // a dry run changes nothing: not audited
    await expectStatus(call('POST', '/api/v1/devices/import', csv, 'text/csv'), 200);
    expect(await newest()).toMatchObject({
      action: 'device.import',
      entity: null,
      detail: {
        format: 'csv',
        rows: 1,
        created: 1,
        updated: 0,
        devices: [{ id: 'audit-sl-2', outcome: 'created' }],
      },
    });
    const csv3 = 'id,type,name,areaId,lat,lon\r\naudit-sl-3,street-light,Đèn 3,audit-area,11.3,106.1\r\n';
    const job = await expectStatus(
      call<ImportJobBody>('POST', '/api/v1/devices/import?async=true', csv3, 'text/csv'),
      202,
    );
    const deadline = Date.now() + 30_000;
    while (
      (await call<ImportJobBody>('GET', `/api/v1/devices/import/jobs/${job.id}`)).body.state === 'running'
    ) {
      if (Date.now() > deadline) throw new Error('import job did not finish');
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    expect(await newest()).toMatchObject({
      action: 'device.import',
      detail: { devices: [{ id: 'audit-sl-3', outcome: 'created' }] },
    });

    await apiConnected; // a command sent before the bus client is connected is a 503
    const sent = await call<{ id: string }>('POST', `/api/v1/devices/${station.id}/commands`, {
      command: 'restart',
    });
    expect({ status: sent.status, text: sent.status === 202 ? '' : sent.text }).toEqual({
      status: 202,
      text: '',
    });
    expect(await newest()).toMatchObject({
      action: 'command.send',
      entity: { type: 'device', id: station.id },
      after: { id: sent.body.id, command: 'restart', state: 'sent' },
      detail: { commandId: sent.body.id, command: 'restart' },
    });

    // Refused writes are not audited.
    const count = async () => (await audit.query({ limit: 1000 })).length;
    const before = await count();
    await expectStatus(call('PATCH', '/api/v1/devices/no-such-device', { name: 'x' }), 404);
    await expectStatus(call('POST', '/api/v1/devices', { ...light, id: 'audit-sl-2' }), 409);
    expect(await count()).toBe(before);

    // The secret issued above is nowhere in the trail.
    const all = await expectStatus(call('GET', '/api/v1/audit?format=csv&limit=1000'), 200);
    expect(String(all)).not.toContain(issued.secret);

    const verified = await expectStatus(call<AuditVerificationBody>('GET', '/api/v1/audit/verify'), 200);
    expect(verified).toMatchObject({ ok: true, entries: before, head: { seq: before } });
    const { seq, hash } = verified.head!;
    expect(await expectStatus(call('GET', `/api/v1/audit/verify?head=${seq}:${hash}`), 200)).toEqual(
      verified,
    );
    const ahead = await expectStatus(
      call<AuditVerificationBody>('GET', `/api/v1/audit/verify?head=${seq + 1}:${hash}`),
      200,
    );
    expect(ahead).toEqual({ ok: false, entries: before, brokenAt: seq + 1, problem: 'missing-entry' });
  });

  it('filters, pages with nextBefore, answers CSV, and refuses unknown or bad parameters naming them', async () => {
    const page = await expectStatus(call<AuditListBody>('GET', '/api/v1/audit?action=device.&limit=2'), 200);
    expect(page.items).toHaveLength(2);
    expect(page.items.every((e) => e.action.startsWith('device.'))).toBe(true);
    expect(page.items[0]!.seq).toBeGreaterThan(page.items[1]!.seq);
    expect(page.nextBefore).toBe(page.items[1]!.seq);
    const next = await expectStatus(
      call<AuditListBody>('GET', `/api/v1/audit?action=device.&limit=2&before=${page.nextBefore}`),
      200,
    );
    expect(next.items[0]!.seq).toBeLessThan(page.nextBefore!);

    const one = await expectStatus(
      call<AuditListBody>('GET', '/api/v1/audit?entityType=area&entityId=audit-area&action=area.update'),
      200,
    );
    expect(one.items.map((e) => e.action)).toEqual(['area.update']);
    expect(one.nextBefore).toBeUndefined();
    expect(new Date(one.items[0]!.time).toISOString()).toBe(one.items[0]!.time);
    const none = await expectStatus(
      call<AuditListBody>('GET', '/api/v1/audit?from=2262-01-01T00:00:00Z'),
      200,
    );
    expect(none.items).toEqual([]);
    expect((await call<AuditListBody>('GET', '/api/v1/audit?outcome=failure')).body.items).toEqual([]);

    const csv = await call('GET', '/api/v1/audit?action=area.&format=csv');
    expect(csv.headers.get('content-type')).toMatch(/^text\/csv/);
    const rows = parse(csv.text.slice(1), { columns: true }) as Array<Record<string, string>>;
    expect(rows.map((r) => r.action)).toEqual(['area.update', 'area.create']);

    for (const [query, parameter] of [
      ['actor=x', 'actor'],
      ['limit=1001', 'limit'],
      ['limit=0', 'limit'],
      ['action=Device', 'action'],
      ['action=device.%25', 'action'],
      ['outcome=maybe', 'outcome'],
      ['from=yesterday', 'from'],
      ['from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z', 'from'],
      ['before=-1', 'before'],
      ['format=xml', 'format'],
    ]) {
      const answer = await call('GET', `/api/v1/audit?${query}`);
      expect({ query, status: answer.status, parameter: answer.body['parameter'] }).toEqual({
        query,
        status: 400,
        parameter,
      });
      expect(errorBody.parse(answer.body)).toEqual(answer.body);
    }
    for (const [query, parameter] of [
      ['seq=1', 'seq'],
      ['head=1', 'head'],
      ['from=0', 'from'],
    ]) {
      const answer = await call('GET', `/api/v1/audit/verify?${query}`);
      expect({ query, status: answer.status, parameter: answer.body['parameter'] }).toEqual({
        query,
        status: 400,
        parameter,
      });
    }
  });

  it('answers admins only: 401 without credentials, 403 role-required for an operator or a viewer', async () => {
    for (const path of ['/api/v1/audit', '/api/v1/audit/verify']) {
      const anonymous = await call('GET', path, undefined, undefined, {});
      expect({ path, status: anonymous.status, reason: anonymous.body['reason'] }).toEqual({
        path,
        status: 401,
        reason: 'missing-credentials',
      });
      for (const role of ['operator', 'viewer'] as const) {
        const user = await api.createUser(role);
        const refused = await call('GET', path, undefined, undefined, user.headers);
        expect({ path, role, status: refused.status, reason: refused.body['reason'] }).toEqual({
          path,
          role,
          status: 403,
          reason: 'role-required',
        });
      }
    }
    const key = await api.issueAgencyKey();
    expect((await call('GET', '/api/v1/audit', undefined, undefined, key.headers)).status).toBe(403);
  });

  it('records the principal the guard set as the actor (AuditTrail)', async () => {
    const trail = new AuditTrail(audit, logger);
    const request = {
      ip: '203.0.113.9',
      principal: { kind: 'account', id: 'acc_1', name: 'lan', role: 'admin', scope: null },
    } as unknown as AuthenticatedRequest;
    await trail.record(request, { action: 'device.update', entity: { type: 'device', id: 'x' } });
    expect(await newest()).toMatchObject({
      actor: { kind: 'account', id: 'acc_1', name: 'lan' },
      address: '203.0.113.9',
    });
    await trail.record({ ip: '203.0.113.9' } as AuthenticatedRequest, {
      actor: { kind: 'anonymous', name: 'eve' },
      action: 'auth.login',
      outcome: 'failure',
    });
    expect(await newest()).toMatchObject({ actor: { kind: 'anonymous', name: 'eve' }, outcome: 'failure' });
  });

  it('verify names the entry an attacker edited after dropping the trigger', async () => {
    const target = (await audit.query({ action: 'area.create' }))[0]!;
    // The triggers refusing UPDATE and DELETE are there (libs/audit's spec shows them refusing, on
    // both dialects); an attacker with the database's rights drops one first.
    const triggers = await sql<{
      name: string;
    }>`SELECT name FROM sqlite_master WHERE type = 'trigger'`.execute(database.db);
    expect(triggers.rows.map((t) => t.name).sort()).toEqual(['audit_log_no_delete', 'audit_log_no_update']);
    await sql`DROP TRIGGER audit_log_no_update`.execute(database.db);
    await database.db.updateTable('audit_log').set({ after: '{}' }).where('seq', '=', target.seq).execute();
    const answer = await expectStatus(call<AuditVerificationBody>('GET', '/api/v1/audit/verify'), 200);
    expect(answer).toMatchObject({
      ok: false,
      brokenAt: target.seq,
      problem: 'hash-mismatch',
      found: target.hash,
    });
    const later = await expectStatus(
      call<AuditVerificationBody>('GET', `/api/v1/audit/verify?from=${target.seq + 1}`),
      200,
    );
    expect(later.ok).toBe(true);
  });
});
