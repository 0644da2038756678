import 'reflect-metadata';
import { Aedes } from 'aedes';
import { connectAsync } from 'mqtt';
import { createServer, type Server } from 'node:net';
import { io, type Socket } from 'socket.io-client';
import { parse } from 'csv-parse/sync';
import { AlertRepository, loadSeedRules } from '@ioc/alerting';
import { AuditLog } from '@ioc/audit';
import {
  type Alert,
  type AlertBody,
  type AlertDetailBody,
  type AlertEvent,
  type AlertListBody,
  type ClientToServerEvents,
  INTERNAL_ALERTS_TOPIC,
  INTERNAL_USERNAME,
  type RuleBody,
  type RuleDefinitionInput,
  type RuleDryRunBody,
  type RuleListBody,
  type RuleVersionsBody,
  type ServerToClientEvents,
  type SilenceBody,
  type SilenceListBody,
} from '@ioc/contracts';
import { type IocDatabase, openDatabase, prepareDatabase } from '@ioc/database';
import { DEFAULT_SEEDS_DIR, DeviceRegistry, loadSeeds, RegistryRepository } from '@ioc/registry';
import { createLogger } from '@ioc/runtime';
import { freePort, TempDirs } from '@ioc/testing';
import { createTimeSeriesStore, type TimeSeriesStore } from '@ioc/timeseries';
import { createAlertingPort } from '../alerting-port';
import type { AuditListBody } from '../audit/audit-bodies';
import {
  type ApiUnderTest,
  startApiUnderTest,
  type TestAgencyKey,
  type TestUser,
  testReading,
} from '../test-support/api-under-test';

jest.setTimeout(120_000);

const SECRET = 'test-internal-secret-0123456789';
const logger = createLogger('alerts-spec', { level: 'silent' });
const tempDirs = new TempDirs('alerts-spec-');

interface Answer<T> {
  status: number;
  body: T;
  text: string;
  headers: Headers;
}

const RULE: RuleDefinitionInput = {
  id: 'spec-noise-high',
  kind: 'threshold',
  name: { vi: 'Ồn cao', en: 'Loud' },
  severity: 'warning',
  scope: { deviceTypes: ['noise-meter'] },
  metric: 'laeq',
  condition: { op: 'above', value: 75 },
  clear: { op: 'below', value: 72 },
  message: {
    vi: 'Tiếng ồn {value} {unit} tại {device} ({area})',
    en: 'Noise {value} {unit} at {device} ({area})',
  },
};

function alertOf(id: string, overrides: Partial<Alert>): Alert {
  return {
    id,
    ruleId: 'qcvn05-pm10-24h',
    ruleVersion: 1,
    ruleKind: 'threshold',
    subjectKind: 'device',
    subjectId: 'aq-tn-001',
    deviceId: 'aq-tn-001',
    deviceType: 'air-quality-station',
    domain: 'env',
    areaId: 'tay-ninh-city-phuong-1',
    areaPath: ['tay-ninh', 'tay-ninh-city', 'tay-ninh-city-phuong-1'],
    metric: 'pm10',
    event: null,
    severity: 'warning',
    state: 'firing',
    value: 120,
    limit: 100,
    unit: 'µg/m³',
    message: { vi: 'PM10 24 giờ tại Trạm 001 là 120 µg/m³, vượt 100', en: '=PM10 120' },
    pendingAt: Date.UTC(2026, 10, 30, 1),
    firingAt: Date.UTC(2026, 10, 30, 1),
    acknowledgedAt: null,
    acknowledgedBy: null,
    acknowledgementNote: null,
    resolvedAt: null,
    resolvedBy: null,
    resolution: null,
    updatedAt: Date.UTC(2026, 10, 30, 1),
    ...overrides,
  };
}

const opened = (alert: Alert): AlertEvent => ({
  alert,
  transition: {
    alertId: alert.id,
    seq: 1,
    at: alert.pendingAt,
    from: null,
    to: alert.state,
    kind: 'opened',
    severity: alert.severity,
    value: alert.value,
    by: { kind: 'engine' },
    note: null,
    resolution: null,
  },
});

describe('alerts over REST and /live (SQLite)', () => {
  let database: IocDatabase;
  let store: TimeSeriesStore;
  let api: ApiUnderTest;
  let broker: Aedes;
  let brokerServer: Server;
  let brokerUrl: string;
  let apiSubscribed: Promise<void>;
  let operator: TestUser;
  let viewer: TestUser;
  let envKey: TestAgencyKey;
  let envOperator: TestUser;
  const envAlert = alertOf('11111111-1111-4111-8111-111111111111', {});
  const trafficAlert = alertOf('22222222-2222-4222-8222-222222222222', {
    ruleId: 'traffic-congestion',
    subjectId: 'tc-tn-001',
    deviceId: 'tc-tn-001',
    deviceType: 'traffic-counter',
    domain: 'traffic',
    areaId: 'tay-ninh-city-ninh-son',
    areaPath: ['tay-ninh', 'tay-ninh-city', 'tay-ninh-city-ninh-son'],
    metric: 'averageVehicleSpeed',
    value: 7,
    limit: 10,
    unit: 'km/h',
    pendingAt: Date.UTC(2026, 10, 30, 2),
  });

  beforeAll(async () => {
    const dir = await tempDirs.make();
    const seeds = loadSeeds();
    database = openDatabase({ kind: 'sqlite', path: `${dir}/registry.sqlite` });
    await prepareDatabase(database, {
      afterMigrate: async (db) => {
        await new RegistryRepository(db).importSeeds(seeds);
        await loadSeedRules(db, DEFAULT_SEEDS_DIR);
      },
    });
    // The engine's stand-in: two open alerts committed as the engine would.
    await new AlertRepository(database.db).commit({ changes: [opened(envAlert), opened(trafficAlert)] });
    store = createTimeSeriesStore({ storage: 'embedded', dataDir: `${dir}/ts`, thread: 'caller' });
    await store.init();
    broker = await Aedes.createBroker();
    apiSubscribed = new Promise<void>((resolve) => {
      broker.on('subscribe', (subscriptions) => {
        if (subscriptions.some((s) => s.topic === INTERNAL_ALERTS_TOPIC)) resolve();
      });
    });
    brokerServer = createServer(broker.handle);
    const port = await freePort();
    await new Promise<void>((resolve) => brokerServer.listen(port, '127.0.0.1', resolve));
    brokerUrl = `mqtt://127.0.0.1:${port}`;
    api = await startApiUnderTest({
      database,
      registry: new DeviceRegistry(seeds),
      store,
      logger,
      settings: { brokerUrl, nodeId: 'alerts-spec', internalSecret: SECRET },
      audit: new AuditLog(database.db),
      alerting: createAlertingPort(database.db),
    });
    operator = await api.createUser('operator');
    viewer = await api.createUser('viewer');
    envKey = await api.issueAgencyKey({ agencyId: 'so-nnmt', scope: { domains: ['env'] } });
    envOperator = await api.createUser('operator', { agencyId: 'so-nnmt' });
  });

  afterAll(async () => {
    await api?.close();
    await new Promise<void>((resolve) => (brokerServer ? brokerServer.close(() => resolve()) : resolve()));
    await new Promise<void>((resolve) => (broker ? broker.close(() => resolve()) : resolve()));
    await store?.close();
    await database?.close();
    await tempDirs.removeAll();
  });

  async function call<T = Record<string, unknown>>(
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

  const auditOf = async (action: string) =>
    (await expectStatus(call<AuditListBody>('GET', `/api/v1/audit?action=${action}`, api.authHeaders), 200))
      .items;

  describe('rules', () => {
    it('lists the seed rules to any principal', async () => {
      const list = await expectStatus(call<RuleListBody>('GET', '/api/v1/rules', viewer.headers), 200);
      const ids = list.rules.map((r) => r.rule.id);
      expect(ids).toContain('qcvn05-pm25-24h-from-2026');
      expect(list.rules.find((r) => r.rule.id === 'vn-aqi-hourly-poor')?.origin).toBe('seed');
    });

    it('creates, updates (409 on a stale version), disables, deletes — versioned and audited', async () => {
      const created = await expectStatus(
        call<RuleBody>('POST', '/api/v1/rules', operator.headers, RULE),
        201,
      );
      expect(created).toMatchObject({ version: 1, origin: 'api', updatedBy: operator.id });
      expect((await auditOf('rule.create')).map((e) => [e.entity?.id, e.actor.id])).toContainEqual([
        RULE.id,
        operator.id,
      ]);
      await expectStatus(call('POST', '/api/v1/rules', operator.headers, RULE), 409);
      const edited = { ...RULE, condition: { op: 'above', value: 78 } };
      const updated = await expectStatus(
        call<RuleBody>('PUT', `/api/v1/rules/${RULE.id}?version=1`, operator.headers, edited),
        200,
      );
      expect(updated.version).toBe(2);
      const stale = await call<{ parameter: string }>(
        'PUT',
        `/api/v1/rules/${RULE.id}?version=1`,
        operator.headers,
        edited,
      );
      expect(stale.status).toBe(409);
      expect(stale.body.parameter).toBe('version');
      const disabled = await expectStatus(
        call<RuleBody>('POST', `/api/v1/rules/${RULE.id}/disable`, operator.headers),
        200,
      );
      expect(disabled.rule.enabled).toBe(false);
      await expectStatus(call('DELETE', `/api/v1/rules/${RULE.id}`, api.authHeaders), 200);
      await expectStatus(call('GET', `/api/v1/rules/${RULE.id}`, viewer.headers), 404);
      const versions = await expectStatus(
        call<RuleVersionsBody>('GET', `/api/v1/rules/${RULE.id}/versions`, viewer.headers),
        200,
      );
      expect(versions.versions.map((v) => v.change)).toEqual(['created', 'updated', 'disabled', 'deleted']);
      expect((await auditOf('rule.')).map((e) => e.action)).toEqual(
        expect.arrayContaining(['rule.create', 'rule.update', 'rule.disable', 'rule.delete']),
      );
      // Each write is in the registry change log for the broker's engine.
      const log = await new RegistryRepository(database.db).changesSince(0);
      expect(log.filter((c) => c.entity === 'rule' && c.entityId === RULE.id).map((c) => c.action)).toEqual([
        'created',
        'updated',
        'disabled',
        'deleted',
      ]);
    });

    it('refuses an unknown metric or placeholder with 400 naming the field, and a viewer with 403', async () => {
      const metric = await call<{ parameter: string; message: string }>(
        'POST',
        '/api/v1/rules',
        operator.headers,
        {
          ...RULE,
          id: 'spec-bad-metric',
          metric: 'loudness',
        },
      );
      expect(metric.status).toBe(400);
      expect(metric.body.parameter).toBe('metric');
      const placeholder = await call<{ parameter: string; message: string }>(
        'POST',
        '/api/v1/rules',
        operator.headers,
        {
          ...RULE,
          id: 'spec-bad-template',
          message: { vi: 'Ồn {muc_on}', en: 'Noise {value}' },
        },
      );
      expect(placeholder.status).toBe(400);
      expect(placeholder.body.parameter).toBe('message.vi');
      expect(placeholder.body.message).toContain('{muc_on}');
      await expectStatus(call('POST', '/api/v1/rules', viewer.headers, { ...RULE, id: 'spec-viewer' }), 403);
    });

    it('refuses a clear on the firing side, an escalation short of the limit, a metric the scoped devices or domains do not report, an unknown device', async () => {
      const refused = async (body: object, parameter: string, text: string) => {
        const answer = await call<{ parameter: string; message: string }>(
          'POST',
          '/api/v1/rules',
          operator.headers,
          body,
        );
        expect({ status: answer.status, parameter: answer.body.parameter }).toEqual({
          status: 400,
          parameter,
        });
        expect(answer.body.message).toContain(text);
      };
      // Fire above 100, clear below 150: 120 would fire and clear the alert at once (flapping).
      const flapping = { ...RULE, id: 'spec-flap', condition: { op: 'above', value: 100 } };
      await refused({ ...flapping, clear: { op: 'below', value: 150 } }, 'clear.value', 'hysteresis');
      await refused({ ...flapping, clear: { op: 'above', value: 150 } }, 'clear', 'hysteresis');
      await refused(
        { ...flapping, escalations: [{ severity: 'critical', condition: { op: 'above', value: 90 } }] },
        'escalations.0.condition.value',
        'beyond the firing condition',
      );
      await refused(
        { ...RULE, id: 'spec-pm25-noise', metric: 'pm25', scope: { deviceIds: ['nm-tn-001'] } },
        'metric',
        'noise-meter',
      );
      await refused(
        { ...RULE, id: 'spec-pm25-traffic', metric: 'pm25', scope: { domains: ['traffic'] } },
        'metric',
        'pm25',
      );
      await refused({ ...RULE, id: 'spec-noise-aq', scope: { deviceIds: ['aq-tn-001'] } }, 'metric', 'laeq');
      await refused(
        { ...RULE, id: 'spec-unknown-device', scope: { deviceIds: ['nm-tn-001', 'zz-none'] } },
        'scope.deviceIds',
        '"zz-none"',
      );
      await refused(
        { ...RULE, id: 'spec-regex-device', scope: { deviceIds: ['.*'] } },
        'scope.deviceIds',
        '".*"',
      );
      const dryRun = await call<{ parameter: string }>('POST', '/api/v1/rules/dry-run', operator.headers, {
        rule: { ...flapping, clear: { op: 'below', value: 150 } },
        from: new Date(Date.now() - 3_600_000).toISOString(),
        to: new Date().toISOString(),
      });
      expect({ status: dryRun.status, parameter: dryRun.body.parameter }).toEqual({
        status: 400,
        parameter: 'rule.clear.value',
      });
      await expectStatus(
        call('POST', '/api/v1/rules', operator.headers, {
          ...flapping,
          clear: { op: 'below', value: 95 },
          scope: { deviceIds: ['nm-tn-001'] },
        }),
        201,
      );
    });

    it('refuses control and bidirectional characters in every text of a rule, as in subscription names', async () => {
      const texts: Array<[string, object]> = [
        ['name.vi', { name: { vi: 'a\u0000b\u202e', en: 'x' } }],
        ['message.vi', { message: { vi: 'a\u001b[31m\u202e{device}', en: '{device}' } }],
        ['description.en', { description: { vi: 'x', en: 'a\u2066b' } }],
        ['source.clause', { source: { standard: 'QCVN 26:2010/BTNMT', clause: '\u200fBảng 1' } }],
        ['labels.team', { labels: { team: 'a\u0085' } }],
      ];
      for (const [field, patch] of texts) {
        const answer = await call<{ parameter: string; message: string }>(
          'POST',
          '/api/v1/rules',
          operator.headers,
          { ...RULE, id: 'spec-unsafe-text', ...patch },
        );
        expect({ field, status: answer.status, parameter: answer.body.parameter }).toEqual({
          field,
          status: 400,
          parameter: field,
        });
        expect(answer.body.message).toContain('control and bidirectional characters are refused');
      }
      await expectStatus(call('GET', '/api/v1/rules/spec-unsafe-text', viewer.headers), 404);
    });

    it('requires the version on PUT (no lost update from a stale copy)', async () => {
      const rule = { ...RULE, id: 'spec-put-version' };
      await expectStatus(call('POST', '/api/v1/rules', operator.headers, rule), 201);
      const bare = await call<{ parameter: string }>('PUT', `/api/v1/rules/${rule.id}`, operator.headers, {
        ...rule,
        condition: { op: 'above', value: 80 },
      });
      expect({ status: bare.status, parameter: bare.body.parameter }).toEqual({
        status: 400,
        parameter: 'version',
      });
      const current = await expectStatus(
        call<RuleBody>('GET', `/api/v1/rules/${rule.id}`, viewer.headers),
        200,
      );
      expect(current).toMatchObject({ version: 1, rule: { condition: { op: 'above', value: 75 } } });
    });

    it('dry-runs a rule over history: the devices it covers and what it would have fired, nothing stored', async () => {
      const seeds = loadSeeds();
      const registry = new DeviceRegistry(seeds);
      const meter = seeds.devices.find((d) => d.type === 'noise-meter')!;
      const t0 = Date.UTC(2026, 10, 29, 3, 0, 0);
      // 10 minutes at 70 dB(A), 5 above 75, 10 back at 70 (one reading a minute).
      const levels = [...Array(10).fill(70), 80, 81, 82, 80, 79, ...Array(10).fill(70)] as number[];
      await store.write(
        levels.map((laeq, i) => testReading(registry, meter, 'telemetry', t0 + i * 60_000, { laeq })),
      );
      const answer = await expectStatus(
        call<RuleDryRunBody>('POST', '/api/v1/rules/dry-run', operator.headers, {
          rule: { ...RULE, id: 'spec-dry-run' },
          from: new Date(t0 - 60_000).toISOString(),
          to: new Date(t0 + 3_600_000).toISOString(),
        }),
        200,
      );
      const meters = seeds.devices
        .filter((d) => d.type === 'noise-meter')
        .map((d) => d.id)
        .sort();
      expect(answer.covered).toEqual(meters);
      expect(answer.readings).toBe(levels.length);
      const mine = answer.changes.filter((c) => c.subjectId === meter.id);
      expect(mine.map((c) => [c.kind, c.at])).toEqual([
        ['fired', new Date(t0 + 10 * 60_000).toISOString()],
        ['resolved', new Date(t0 + 15 * 60_000).toISOString()],
      ]);
      await expectStatus(call('GET', '/api/v1/rules/spec-dry-run', viewer.headers), 404);
      const bad = await call<{ parameter: string }>('POST', '/api/v1/rules/dry-run', operator.headers, {
        rule: { ...RULE, metric: 'loudness' },
        from: new Date(t0).toISOString(),
        to: new Date(t0 + 3_600_000).toISOString(),
      });
      expect(bad.status).toBe(400);
      expect(bad.body.parameter).toBe('rule.metric');
      const long = await call<{ parameter: string }>('POST', '/api/v1/rules/dry-run', operator.headers, {
        rule: RULE,
        from: new Date(t0).toISOString(),
        to: new Date(t0 + 8 * 24 * 3_600_000).toISOString(),
      });
      expect(long.status).toBe(400);
      expect(long.body.parameter).toBe('to');
    });

    it('dry-runs the default rule vn-aqi-hourly-poor over stored hourly aqi (a derived metric) like a measured one', async () => {
      const seeds = loadSeeds();
      const registry = new DeviceRegistry(seeds);
      const station = seeds.devices.find((d) => d.id === 'aq-tn-001')!;
      const t0 = Date.UTC(2026, 10, 27, 0, 0, 0);
      // Hourly VN_AQI as the engine derives and stores it: poor (≥ 101), bad (≥ 151), back below 96.
      const hourly = [80, 120, 160, 130, 90];
      await store.write(
        hourly.map((aqi, i) =>
          testReading(registry, station, 'telemetry', t0 + i * 3_600_000, {
            aqi,
            aqiDominant: 'pm25',
          }),
        ),
      );
      const rule = await expectStatus(
        call<RuleBody>('GET', '/api/v1/rules/vn-aqi-hourly-poor', operator.headers),
        200,
      );
      const answer = await expectStatus(
        call<RuleDryRunBody>('POST', '/api/v1/rules/dry-run', operator.headers, {
          rule: { ...rule.rule, id: 'spec-dry-run-aqi' },
          from: new Date(t0 - 60_000).toISOString(),
          to: new Date(t0 + 6 * 3_600_000).toISOString(),
        }),
        200,
      );
      const stations = seeds.devices
        .filter((d) => d.type === 'air-quality-station')
        .map((d) => d.id)
        .sort();
      expect(answer.covered).toEqual(stations);
      expect(answer.readings).toBe(hourly.length);
      const mine = answer.changes.filter((c) => c.subjectId === station.id);
      expect(mine.map((c) => [c.kind, c.at, c.severity, c.value])).toEqual([
        ['fired', new Date(t0 + 3_600_000).toISOString(), 'warning', 120],
        ['escalated', new Date(t0 + 2 * 3_600_000).toISOString(), 'critical', 160],
        ['resolved', new Date(t0 + 4 * 3_600_000).toISOString(), 'critical', 90],
      ]);
    });

    it("refuses a scoped operator's rule that reaches beyond its scope", async () => {
      const wide = await call<{ outOfScope: unknown }>('POST', '/api/v1/rules', envOperator.headers, {
        ...RULE,
        id: 'spec-wide',
        scope: {},
      });
      expect(wide.status).toBe(403);
      const traffic = await call<{ outOfScope: unknown }>('POST', '/api/v1/rules', envOperator.headers, {
        ...RULE,
        id: 'spec-traffic',
        kind: 'threshold',
        metric: 'averageVehicleSpeed',
        scope: { deviceTypes: ['traffic-counter'] },
      });
      expect(traffic.status).toBe(403);
      expect(traffic.body.outOfScope).toEqual({ domain: 'traffic' });
      await expectStatus(
        call('POST', '/api/v1/rules', envOperator.headers, { ...RULE, id: 'spec-env-noise' }),
        201,
      );
      // A seed rule covering every device type is not theirs to edit.
      await expectStatus(call('POST', '/api/v1/rules/camera-offline/disable', envOperator.headers), 403);
    });
  });

  describe('alerts', () => {
    it("lists only what the caller's scope holds; an out-of-scope alert is 403, an unknown one 404", async () => {
      const all = await expectStatus(call<AlertListBody>('GET', '/api/v1/alerts', api.authHeaders), 200);
      expect(all.alerts.map((a) => a.id)).toEqual([trafficAlert.id, envAlert.id]);
      expect(all.alerts[1]).toMatchObject({
        pendingAt: new Date(envAlert.pendingAt).toISOString(),
        version: 1,
      });
      const env = await expectStatus(call<AlertListBody>('GET', '/api/v1/alerts', envKey.headers), 200);
      expect(env.alerts.map((a) => a.id)).toEqual([envAlert.id]);
      await expectStatus(call('GET', `/api/v1/alerts?domain=traffic`, envKey.headers), 403);
      await expectStatus(call('GET', `/api/v1/alerts/${trafficAlert.id}`, envKey.headers), 403);
      await expectStatus(
        call('GET', '/api/v1/alerts/33333333-3333-4333-8333-333333333333', envKey.headers),
        404,
      );
      const detail = await expectStatus(
        call<AlertDetailBody>('GET', `/api/v1/alerts/${envAlert.id}`, envKey.headers),
        200,
      );
      expect(detail.transitions.map((t) => t.kind)).toEqual(['opened']);
      const filtered = await expectStatus(
        call<AlertListBody>('GET', '/api/v1/alerts?area=tay-ninh-city-ninh-son&open=true', api.authHeaders),
        200,
      );
      expect(filtered.alerts.map((a) => a.id)).toEqual([trafficAlert.id]);
      const bad = await call<{ parameter: string }>('GET', '/api/v1/alerts?state=burning', api.authHeaders);
      expect(bad.status).toBe(400);
      expect(bad.body.parameter).toBe('state');
    });

    it('takes every id and enumeration filter as a comma-separated list (any value holds), like state and severity', async () => {
      const ids = async (query: string, as = api.authHeaders) =>
        (await expectStatus(call<AlertListBody>('GET', `/api/v1/alerts?${query}`, as), 200)).alerts.map(
          (a) => a.id,
        );
      const both = [trafficAlert.id, envAlert.id];
      expect(await ids('ruleId=qcvn05-pm10-24h,traffic-congestion')).toEqual(both);
      expect(await ids('ruleId=traffic-congestion,no-such-rule')).toEqual([trafficAlert.id]);
      expect(await ids('deviceId=aq-tn-001,tc-tn-001')).toEqual(both);
      expect(await ids('domain=env,traffic')).toEqual(both);
      expect(await ids('area=tay-ninh-city-phuong-1,tay-ninh-city-ninh-son')).toEqual(both);
      expect(await ids('area=tay-ninh-city-phuong-1,tay-ninh-city-ninh-son', envKey.headers)).toEqual([
        envAlert.id,
      ]);
      // Every value is checked: one outside the scope is a 403, one malformed a 400 naming the filter.
      await expectStatus(call('GET', '/api/v1/alerts?domain=env,traffic', envKey.headers), 403);
      await expectStatus(call('GET', '/api/v1/alerts?deviceId=aq-tn-001,tc-tn-001', envKey.headers), 403);
      for (const query of ['ruleId=ok-rule,Bad_Rule', 'domain=env,sky', 'deviceId=a,', 'area=,x']) {
        const refused = await call<{ parameter: string }>('GET', `/api/v1/alerts?${query}`, api.authHeaders);
        expect({ query, status: refused.status, parameter: refused.body.parameter }).toEqual({
          query,
          status: 400,
          parameter: query.split('=')[0],
        });
      }
    });

    it('answers CSV with a header, one row per alert and formula-like cells defused', async () => {
      const answer = await call('GET', '/api/v1/alerts?format=csv&domain=env', api.authHeaders);
      expect(answer.status).toBe(200);
      expect(answer.headers.get('content-type')).toMatch(/^text\/csv/);
      const rows = parse(answer.text.replace(/^\uFEFF/, ''), { columns: true }) as Array<
        Record<string, string>
      >;
      expect(rows.map((r) => r['id'])).toEqual([envAlert.id]);
      expect(rows[0]).toMatchObject({
        state: expect.any(String),
        value: '120',
        limit: '100',
        messageEn: "'=PM10 120",
      });
    });

    it('acknowledges and resolves with optimistic concurrency (ack after resolve is 409), audited', async () => {
      await expectStatus(
        call('POST', `/api/v1/alerts/${envAlert.id}/acknowledge`, viewer.headers, { note: 'x' }),
        403,
      );
      await expectStatus(
        call('POST', `/api/v1/alerts/${trafficAlert.id}/acknowledge`, envOperator.headers, {}),
        403,
      );
      const stale = await call<{ parameter: string }>(
        'POST',
        `/api/v1/alerts/${envAlert.id}/acknowledge`,
        operator.headers,
        {
          note: 'x',
          version: 7,
        },
      );
      expect(stale.status).toBe(409);
      const acked = await expectStatus(
        call<AlertBody>('POST', `/api/v1/alerts/${envAlert.id}/acknowledge`, envOperator.headers, {
          note: 'Đã cử đội kiểm tra',
          version: 1,
        }),
        200,
      );
      expect(acked).toMatchObject({ state: 'acknowledged', acknowledgedBy: envOperator.id, version: 2 });
      await expectStatus(
        call('POST', `/api/v1/alerts/${envAlert.id}/acknowledge`, operator.headers, {}),
        409,
      );
      const resolved = await expectStatus(
        call<AlertBody>('POST', `/api/v1/alerts/${envAlert.id}/resolve`, operator.headers, {
          note: 'đã xử lý',
        }),
        200,
      );
      expect(resolved).toMatchObject({ state: 'resolved', resolution: 'manual', version: 3 });
      await expectStatus(
        call('POST', `/api/v1/alerts/${envAlert.id}/acknowledge`, operator.headers, {}),
        409,
      );
      const detail = await expectStatus(
        call<AlertDetailBody>('GET', `/api/v1/alerts/${envAlert.id}`, api.authHeaders),
        200,
      );
      expect(
        detail.transitions.map((t) => [t.kind, t.by.kind === 'account' ? t.by.id : 'engine', t.note]),
      ).toEqual([
        ['opened', 'engine', null],
        ['acknowledged', envOperator.id, 'Đã cử đội kiểm tra'],
        ['resolved', operator.id, 'đã xử lý'],
      ]);
      expect((await auditOf('alert.')).map((e) => [e.action, e.actor.id])).toEqual([
        ['alert.resolve', operator.id],
        ['alert.acknowledge', envOperator.id],
      ]);
    });
  });

  describe('silences', () => {
    it('refuses control and bidirectional characters in a silence comment and in acknowledge/resolve notes', async () => {
      const endsAt = new Date(Date.now() + 3_600_000).toISOString();
      const attempts: Array<[string, string, object]> = [
        [
          '/api/v1/silences',
          'comment',
          { matchers: { deviceIds: ['aq-tn-001'] }, comment: 'x\u202e', endsAt },
        ],
        [`/api/v1/alerts/${envAlert.id}/acknowledge`, 'note', { note: 'a\u0000b\u202e\u001b[2J' }],
        [`/api/v1/alerts/${envAlert.id}/resolve`, 'note', { note: '=1+1\u0000' }],
      ];
      for (const [path, parameter, body] of attempts) {
        const answer = await call<{ parameter: string; message: string }>(
          'POST',
          path,
          operator.headers,
          body,
        );
        expect({ path, status: answer.status, parameter: answer.body.parameter }).toEqual({
          path,
          status: 400,
          parameter,
        });
        expect(answer.body.message).toContain('control and bidirectional characters are refused');
      }
    });

    it('creates, lists and ends a silence, audited; a scoped operator only within its scope', async () => {
      const endsAt = new Date(Date.now() + 3_600_000).toISOString();
      const created = await expectStatus(
        call<SilenceBody>('POST', '/api/v1/silences', operator.headers, {
          matchers: { deviceIds: ['aq-tn-001'] },
          reason: 'maintenance',
          comment: 'thay cảm biến PM',
          endsAt,
        }),
        201,
      );
      expect(created).toMatchObject({ active: true, reason: 'maintenance', createdBy: operator.id });
      const list = await expectStatus(
        call<SilenceListBody>('GET', '/api/v1/silences?active=true', viewer.headers),
        200,
      );
      expect(list.silences.map((s) => s.id)).toContain(created.id);
      const ended = await expectStatus(
        call<SilenceBody>('DELETE', `/api/v1/silences/${created.id}`, operator.headers),
        200,
      );
      expect(ended.active).toBe(false);
      await expectStatus(call('DELETE', `/api/v1/silences/${created.id}`, operator.headers), 409);
      expect((await auditOf('silence.')).map((e) => e.action)).toEqual(['silence.end', 'silence.create']);
      // The environment agency's operator cannot mute traffic, nor everything.
      await expectStatus(
        call('POST', '/api/v1/silences', envOperator.headers, {
          matchers: { domains: ['traffic'] },
          comment: 'x',
          endsAt,
        }),
        403,
      );
      await expectStatus(
        call('POST', '/api/v1/silences', envOperator.headers, {
          matchers: { severities: ['info'] },
          comment: 'x',
          endsAt,
        }),
        403,
      );
      await expectStatus(
        call('POST', '/api/v1/silences', envOperator.headers, {
          matchers: { domains: ['env'] },
          comment: 'x',
          endsAt,
        }),
        201,
      );
      const invalid = await call<{ parameter: string }>('POST', '/api/v1/silences', operator.headers, {
        matchers: {},
        comment: 'x',
        endsAt,
      });
      expect(invalid.status).toBe(400);
      expect(invalid.body.parameter).toBe('matchers');
    });
  });

  describe('live', () => {
    it('pushes an alert published on the internal topic to sockets whose scope holds it, and only to them', async () => {
      const sockets: Socket<ServerToClientEvents, ClientToServerEvents>[] = [];
      const open = async (
        auth: Record<string, string>,
        subscription: Parameters<ClientToServerEvents['subscribe']>[0],
      ) => {
        const socket: Socket<ServerToClientEvents, ClientToServerEvents> = io(`${api.url}/live`, {
          transports: ['websocket'],
          reconnection: false,
          auth,
        });
        sockets.push(socket);
        const ack = await socket.timeout(5000).emitWithAck('subscribe', subscription);
        expect(ack.ok).toBe(true);
        const received: AlertEvent[] = [];
        const waiters: Array<() => void> = [];
        socket.on('alert', (event) => {
          received.push(event);
          for (const wake of waiters.splice(0)) wake();
        });
        const until = async (count: number): Promise<void> => {
          while (received.length < count) await new Promise<void>((resolve) => waiters.push(resolve));
        };
        return Object.assign(received, { until });
      };
      const publisher = await connectAsync(brokerUrl, {
        reconnectPeriod: 0,
        clientId: 'ioc-broker-alerts-spec',
        username: INTERNAL_USERNAME,
        password: SECRET,
      });
      try {
        const agency = await open({ token: envKey.key }, { scope: true });
        const traffic = await open({ token: api.adminToken }, { domain: 'traffic' });
        const fresh = alertOf('44444444-4444-4444-8444-444444444444', {
          subjectId: 'aq-tn-002',
          deviceId: 'aq-tn-002',
        });
        await apiSubscribed;
        // A malformed message is dropped; the valid one after it arrives.
        await publisher.publishAsync(INTERNAL_ALERTS_TOPIC, JSON.stringify([{ alert: { id: 'x' } }]), {
          qos: 1,
        });
        await publisher.publishAsync(INTERNAL_ALERTS_TOPIC, JSON.stringify([opened(fresh)]), { qos: 1 });
        await agency.until(1);
        expect([...agency]).toEqual([opened(fresh)]);
        // The traffic socket got nothing of it; a traffic alert reaches it, not the agency.
        await publisher.publishAsync(INTERNAL_ALERTS_TOPIC, JSON.stringify([opened(trafficAlert)]), {
          qos: 1,
        });
        await traffic.until(1);
        expect(traffic.map((e) => e.alert.id)).toEqual([trafficAlert.id]);
        expect(agency.map((e) => e.alert.id)).toEqual([fresh.id]);
        // A person's acknowledgement on this node is pushed at once, to the same rooms.
        await expectStatus(
          call('POST', `/api/v1/alerts/${trafficAlert.id}/acknowledge`, operator.headers, {
            note: 'đã biết',
          }),
          200,
        );
        await traffic.until(2);
        expect(traffic[1]).toMatchObject({
          alert: { id: trafficAlert.id, state: 'acknowledged' },
          transition: { kind: 'acknowledged', note: 'đã biết', by: { kind: 'account', id: operator.id } },
        });
        expect(agency.map((e) => e.alert.id)).toEqual([fresh.id]);
      } finally {
        for (const socket of sockets) socket.disconnect();
        await publisher.endAsync();
      }
    });
  });
});
