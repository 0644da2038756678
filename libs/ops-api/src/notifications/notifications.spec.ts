import 'reflect-metadata';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { createNotifierParts, DeferredAlertPublisher, Notifier, type NotifierParts } from '@ioc/alerting';
import { AuditLog } from '@ioc/audit';
import type {
  DeliveryBody,
  DeliveryListBody,
  NotificationBody,
  SubscriptionBody,
  WebhookEndpointBody,
  WebhookEndpointListBody,
  WebhookEndpointWithSecretBody,
} from '@ioc/contracts';
import { type IocDatabase, openDatabase, prepareDatabase } from '@ioc/database';
import { DeviceRegistry, loadSeeds, RegistryRepository } from '@ioc/registry';
import { createLogger } from '@ioc/runtime';
import { TempDirs } from '@ioc/testing';
import { createTimeSeriesStore, type TimeSeriesStore } from '@ioc/timeseries';
import type { AuditListBody } from '../audit/audit-bodies';
import { createNotificationsPort } from '../notifications-port';
import { type ApiUnderTest, startApiUnderTest, type TestUser } from '../test-support/api-under-test';

jest.setTimeout(60_000);

interface Answer<T> {
  status: number;
  body: T;
  text: string;
}

describe('notifications REST', () => {
  const tempDirs = new TempDirs('ops-api-notify-');
  const logger = createLogger('notify-spec', { level: 'silent' });
  let database: IocDatabase;
  let store: TimeSeriesStore;
  let api: ApiUnderTest;
  let parts: NotifierParts;
  let notifier: Notifier;
  let receiver: Server;
  let receiverUrl: string;
  const received: Array<{ headers: IncomingHttpHeaders; body: string }> = [];
  let envOperator: TestUser;
  let trafficOperator: TestUser;
  let envViewer: TestUser;

  beforeAll(async () => {
    const dir = await tempDirs.make();
    const seeds = loadSeeds();
    database = openDatabase({ kind: 'sqlite', path: `${dir}/registry.sqlite` });
    await prepareDatabase(database, {
      afterMigrate: async (db) => {
        await new RegistryRepository(db).importSeeds(seeds);
      },
    });
    store = createTimeSeriesStore({ storage: 'embedded', dataDir: `${dir}/ts`, thread: 'caller' });
    await store.init();
    receiver = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        received.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
    const mqtt = new DeferredAlertPublisher();
    parts = createNotifierParts(
      database,
      {
        IOC_DATA_DIR: dir,
        IOC_NOTIFIER_POLL_MS: 1000,
        IOC_WEBHOOK_TIMEOUT_MS: 5000,
        IOC_WEBHOOK_ALLOW_PRIVATE: false,
        // Only the loopback receiver: everything else private stays refused.
        IOC_WEBHOOK_ALLOWED_CIDRS: '127.0.0.1/32',
      },
      { nodeId: 'spec', mqtt },
    );
    notifier = new Notifier(parts, { pollMs: 60_000, logger });
    api = await startApiUnderTest({
      database,
      registry: new DeviceRegistry(seeds),
      store,
      logger,
      audit: new AuditLog(database.db),
      notifications: createNotificationsPort(parts, { mqtt }),
    });
    await api.issueAgencyKey({ agencyId: 'so-nnmt', scope: { domains: ['env'] } });
    await api.issueAgencyKey({ agencyId: 'so-gtvt', scope: { domains: ['traffic'] } });
    envOperator = await api.createUser('operator', { agencyId: 'so-nnmt' });
    envViewer = await api.createUser('viewer', { agencyId: 'so-nnmt' });
    trafficOperator = await api.createUser('operator', { agencyId: 'so-gtvt' });
  });

  afterAll(async () => {
    await api?.close();
    await new Promise<void>((resolve) => receiver.close(() => resolve()));
    await store?.close();
    await database?.close();
    await tempDirs.removeAll();
  });

  async function call<T>(
    method: string,
    path: string,
    as: Record<string, string>,
    body?: unknown,
  ): Promise<Answer<T>> {
    const response = await fetch(`${api.url}${path}`, {
      method,
      headers: { ...as, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    return { status: response.status, body: (text ? JSON.parse(text) : null) as T, text };
  }
  const expectStatus = async <T>(answer: Promise<Answer<T>>, status: number): Promise<T> => {
    const { status: got, text, body } = await answer;
    expect({ status: got, text: got === status ? '' : text }).toEqual({ status, text: '' });
    return body;
  };

  it('an agency operator manages its webhooks; the secret is shown once; others are refused', async () => {
    const created = await expectStatus(
      call<WebhookEndpointWithSecretBody>('POST', '/api/v1/agencies/so-nnmt/webhooks', envOperator.headers, {
        url: receiverUrl,
        description: 'Trung tâm điều hành',
      }),
      201,
    );
    expect(created.secret).toMatch(/^whsec_/);
    expect(created.secretHint).toBe(created.secret.slice(0, 10));
    const list = await expectStatus(
      call<WebhookEndpointListBody>('GET', '/api/v1/agencies/so-nnmt/webhooks', envOperator.headers),
      200,
    );
    expect(list.items.map((e) => e.id)).toEqual([created.id]);
    expect(JSON.stringify(list)).not.toContain(created.secret);
    // Another agency's operator, the agency's own viewer: refused.
    expect((await call('GET', '/api/v1/agencies/so-nnmt/webhooks', trafficOperator.headers)).status).toBe(
      403,
    );
    expect((await call('GET', '/api/v1/agencies/so-nnmt/webhooks', envViewer.headers)).status).toBe(403);
    // An admin may.
    expect((await call('GET', '/api/v1/agencies/so-nnmt/webhooks', api.authHeaders)).status).toBe(200);
    // The secret never reaches the audit log.
    const audit = await expectStatus(
      call<AuditListBody>('GET', '/api/v1/audit?action=webhook.create', api.authHeaders),
      200,
    );
    expect(audit.items).toHaveLength(1);
    expect(JSON.stringify(audit)).not.toContain(created.secret.slice(6));
  });

  it('refuses private, link-local and loopback destinations outside the allowed CIDRs (400 url)', async () => {
    for (const url of [
      'http://10.1.2.3/hook',
      'http://169.254.169.254/latest',
      'http://[::1]:8080/',
      'http://127.0.0.2/',
    ]) {
      const answer = await call<{ parameter: string; message: string }>(
        'POST',
        '/api/v1/agencies/so-nnmt/webhooks',
        envOperator.headers,
        { url },
      );
      expect({ url, status: answer.status, parameter: answer.body.parameter }).toEqual({
        url,
        status: 400,
        parameter: 'url',
      });
    }
  });

  it('subscriptions send signed notifications; the log shows attempts; a replay resends the same webhook-id; ping is signed', async () => {
    const [endpoint] = (
      await expectStatus(
        call<WebhookEndpointListBody>('GET', '/api/v1/agencies/so-nnmt/webhooks', envOperator.headers),
        200,
      )
    ).items as [WebhookEndpointBody];
    const rotated = await expectStatus(
      call<WebhookEndpointWithSecretBody>(
        'POST',
        `/api/v1/agencies/so-nnmt/webhooks/${endpoint.id}/rotate-secret`,
        envOperator.headers,
      ),
      200,
    );
    const subscription = await expectStatus(
      call<SubscriptionBody>('POST', '/api/v1/agencies/so-nnmt/subscriptions', envOperator.headers, {
        name: 'Bụi mịn',
        webhookEndpointIds: [endpoint.id],
        groupWaitSeconds: 0,
      }),
      201,
    );
    expect(subscription).toMatchObject({
      language: 'vi',
      filters: { minSeverity: 'warning' },
      groupIntervalSeconds: 300,
    });
    // Another agency cannot name this agency's endpoint.
    expect(
      (
        await call('POST', '/api/v1/agencies/so-gtvt/subscriptions', trafficOperator.headers, {
          name: 'x',
          webhookEndpointIds: [endpoint.id],
        })
      ).status,
    ).toBe(400);

    // An env alert fires (as the engine commits it).
    const now = Date.now();
    await database.db
      .insertInto('alerts')
      .values({
        id: 'a-1',
        rule_id: 'qcvn05-pm25-1h',
        rule_version: 1,
        rule_kind: 'threshold',
        subject_kind: 'device',
        subject_id: 'x',
        device_id: 'x',
        device_type: 'air-quality-station',
        domain: 'env',
        area_id: 'hn',
        area_path: '["hn"]',
        metric: 'pm25',
        event: null,
        severity: 'critical',
        state: 'firing',
        value: '120',
        limit_value: 50,
        unit: 'µg/m³',
        message: JSON.stringify({ vi: 'PM2.5 120', en: 'PM2.5 120' }),
        pending_at: now,
        firing_at: now,
        acknowledged_at: null,
        acknowledged_by: null,
        acknowledgement_note: null,
        resolved_at: null,
        resolved_by: null,
        resolution: null,
        updated_at: now,
        version: 1,
      })
      .execute();
    await database.db
      .insertInto('alert_transitions')
      .values({
        alert_id: 'a-1',
        seq: 1,
        at: now,
        from_state: null,
        to_state: 'firing',
        kind: 'fired',
        severity: 'critical',
        value: '120',
        actor: '{"kind":"engine"}',
        note: null,
        resolution: null,
      })
      .execute();
    expect(await notifier.runOnce()).toMatchObject({ plan: { notifications: 1 }, drain: { delivered: 1 } });
    expect(received).toHaveLength(1);
    const body = new Webhook(rotated.secret).verify(
      received[0]!.body,
      received[0]!.headers as Record<string, string>,
    ) as NotificationBody;
    expect(body).toMatchObject({
      type: 'alert.firing',
      data: { agencyId: 'so-nnmt', alerts: [{ id: 'a-1', message: 'PM2.5 120' }] },
    });

    const log = await expectStatus(
      call<DeliveryListBody>(
        'GET',
        `/api/v1/agencies/so-nnmt/deliveries?state=delivered&endpoint=${endpoint.id}`,
        envOperator.headers,
      ),
      200,
    );
    expect(log.items).toHaveLength(1);
    expect(log.items[0]).toMatchObject({
      state: 'delivered',
      attempts: 1,
      lastStatus: 204,
      notificationId: body.data.notificationId,
    });
    expect(log.items[0]?.attemptLog[0]).toMatchObject({ attempt: 1, statusCode: 204, error: null });
    // Another agency sees none of it.
    expect((await call('GET', '/api/v1/agencies/so-nnmt/deliveries', trafficOperator.headers)).status).toBe(
      403,
    );
    expect(
      (
        await expectStatus(
          call<DeliveryListBody>('GET', '/api/v1/agencies/so-gtvt/deliveries', trafficOperator.headers),
          200,
        )
      ).items,
    ).toEqual([]);
    expect(
      (await call('GET', '/api/v1/agencies/so-nnmt/deliveries?state=lost', envOperator.headers)).status,
    ).toBe(400);

    const replay = await expectStatus(
      call<DeliveryBody>(
        'POST',
        `/api/v1/agencies/so-nnmt/deliveries/${log.items[0]!.id}/replay`,
        envOperator.headers,
      ),
      201,
    );
    expect(replay).toMatchObject({
      state: 'pending',
      replayOf: log.items[0]!.id,
      notificationId: body.data.notificationId,
    });
    await notifier.runOnce();
    expect(received.map((r) => r.headers['webhook-id'])).toEqual([
      body.data.notificationId,
      body.data.notificationId,
    ]);
    expect(
      (
        await call(
          'POST',
          `/api/v1/agencies/so-gtvt/deliveries/${log.items[0]!.id}/replay`,
          trafficOperator.headers,
        )
      ).status,
    ).toBe(404);

    const ping = await expectStatus(
      call<{ delivered: boolean; statusCode: number; notificationId: string }>(
        'POST',
        `/api/v1/agencies/so-nnmt/webhooks/${endpoint.id}/ping`,
        envOperator.headers,
      ),
      200,
    );
    expect(ping).toMatchObject({ delivered: true, statusCode: 204 });
    const pinged = received.at(-1)!;
    expect(
      (
        new Webhook(rotated.secret).verify(
          pinged.body,
          pinged.headers as Record<string, string>,
        ) as NotificationBody
      ).type,
    ).toBe('ping');
    const audit = await expectStatus(
      call<AuditListBody>('GET', '/api/v1/audit?action=delivery.replay', api.authHeaders),
      200,
    );
    expect(audit.items).toHaveLength(1);
  });

  it("refuses a subscription filter that could never match inside the agency's scope (400 naming it), on create and PATCH", async () => {
    type Refusal = { parameter: string; message: string };
    const refusal = async (answer: Promise<Answer<Refusal>>) => {
      const { status, body } = await answer;
      return { status, parameter: body.parameter };
    };
    const subs = '/api/v1/agencies/so-nnmt/subscriptions';
    // so-nnmt's scope is { domains: ['env'] }.
    expect(
      await refusal(
        call('POST', subs, envOperator.headers, { name: 'x', filters: { domains: ['traffic'] } }),
      ),
    ).toEqual({ status: 400, parameter: 'filters.domains' });
    expect(
      await refusal(
        call('POST', subs, envOperator.headers, { name: 'x', filters: { areaIds: ['no-such-area'] } }),
      ),
    ).toEqual({ status: 400, parameter: 'filters.areaIds' });
    const kept = await expectStatus(
      call<SubscriptionBody>('POST', subs, envOperator.headers, {
        name: 'Môi trường',
        filters: { domains: ['env'] },
      }),
      201,
    );
    expect(
      await refusal(
        call('PATCH', `${subs}/${kept.id}`, envOperator.headers, {
          filters: { domains: ['env', 'traffic'] },
        }),
      ),
    ).toEqual({ status: 400, parameter: 'filters.domains' });
    // An agency scoped to one district: an area inside it or wider than it may match; a sibling never.
    await api.issueAgencyKey({ agencyId: 'ubnd-hoa-thanh', scope: { areas: ['hoa-thanh'] } });
    const districtOperator = await api.createUser('operator', { agencyId: 'ubnd-hoa-thanh' });
    const district = '/api/v1/agencies/ubnd-hoa-thanh/subscriptions';
    for (const areaIds of [['hoa-thanh-long-hoa'], ['tay-ninh'], ['hoa-thanh']])
      await expectStatus(
        call('POST', district, districtOperator.headers, { name: 'x', filters: { areaIds } }),
        201,
      );
    const outside = await call<Refusal>('POST', district, districtOperator.headers, {
      name: 'x',
      filters: { areaIds: ['hoa-thanh-long-hoa', 'tay-ninh-city-phuong-1'] },
    });
    expect({ status: outside.status, parameter: outside.body.parameter }).toEqual({
      status: 400,
      parameter: 'filters.areaIds',
    });
    expect(outside.body.message).toContain('"tay-ninh-city-phuong-1"');
    expect(outside.body.message).not.toContain('"hoa-thanh-long-hoa"');
    const list = await expectStatus(
      call<{ items: SubscriptionBody[] }>('GET', district, districtOperator.headers),
      200,
    );
    expect(list.items).toHaveLength(3);
    for (const s of list.items)
      await expectStatus(call('DELETE', `${district}/${s.id}`, districtOperator.headers), 200);
    await expectStatus(call('DELETE', `${subs}/${kept.id}`, envOperator.headers), 200);
  });

  it('deletes a subscription and an endpoint, audited', async () => {
    const subs = await expectStatus(
      call<{ items: SubscriptionBody[] }>(
        'GET',
        '/api/v1/agencies/so-nnmt/subscriptions',
        envOperator.headers,
      ),
      200,
    );
    const patched = await expectStatus(
      call<SubscriptionBody>(
        'PATCH',
        `/api/v1/agencies/so-nnmt/subscriptions/${subs.items[0]!.id}`,
        envOperator.headers,
        {
          language: 'en',
          filters: { minSeverity: 'critical', domains: ['env'] },
        },
      ),
      200,
    );
    expect(patched).toMatchObject({ language: 'en', filters: { minSeverity: 'critical', domains: ['env'] } });
    for (const s of subs.items)
      await expectStatus(
        call('DELETE', `/api/v1/agencies/so-nnmt/subscriptions/${s.id}`, envOperator.headers),
        200,
      );
    const endpoints = await expectStatus(
      call<WebhookEndpointListBody>('GET', '/api/v1/agencies/so-nnmt/webhooks', envOperator.headers),
      200,
    );
    for (const e of endpoints.items)
      await expectStatus(
        call('DELETE', `/api/v1/agencies/so-nnmt/webhooks/${e.id}`, envOperator.headers),
        200,
      );
    expect(
      (await call<WebhookEndpointListBody>('GET', '/api/v1/agencies/so-nnmt/webhooks', envOperator.headers))
        .body.items,
    ).toEqual([]);
    const audit = await expectStatus(
      call<AuditListBody>('GET', '/api/v1/audit?action=webhook.delete', api.authHeaders),
      200,
    );
    expect(audit.items).toHaveLength(1);
  });
});
