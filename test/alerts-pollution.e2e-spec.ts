import { connectAsync, type MqttClient } from 'mqtt';
import {
  agencyAlertTopicPrefix,
  type AlertEvent,
  type Device,
  type NotificationBody,
  type NotifiedAlert,
} from '@ioc/contracts';
import { planScenario, ScenarioRunner } from '@ioc/devices-sim';
import { loadSeeds } from '@ioc/registry';
import { type ApiSession, eventually, loginToApi, type RunningPlatform, startPlatform } from '@ioc/testing';
import { liveClient, type LiveClient } from './support/clients';
import { commonDistrict } from './support/seed-areas';
import { call, expectCall, verifyWebhook, WebhookReceiver } from './support/webhooks';

/*
 * The pollution episode end to end: devices-sim's `pollution-episode` scenario publishes over MQTT
 * (each station logged in with its own secret) to the real broker, whose alert engine derives the
 * hourly VN_AQI and evaluates the default rule `vn-aqi-hourly-poor`; the API's notifier tells the
 * agencies that subscribed (created here through REST) on real HTTP receivers and on the agency's
 * MQTT alert topic; an operator's socket sees the alerts live.
 */

jest.setTimeout(240_000);

const RULE_ID = 'vn-aqi-hourly-poor';
const ENV_AGENCY = 'so-tnmt-e2e';
const TRAFFIC_AGENCY = 'so-gtvt-e2e';
/** ×1440: the 12 simulated hours in 30 s (an hour in 2.5 s). */
const TIME_SCALE = 1440;
const OPERATOR_PASSWORD = 'e2e-operator-correct-horse-battery';

const seeds = loadSeeds();

describe('pollution episode → VN_AQI alerts → agencies (real processes, real receivers)', () => {
  let platform: RunningPlatform;
  let admin: ApiSession;
  let envReceiver: WebhookReceiver;
  let trafficReceiver: WebhookReceiver;
  let envSecret: string;
  let agencyMqtt: MqttClient;
  const mqttMessages: Array<{ topic: string; body: NotificationBody }> = [];
  let operator: LiveClient;
  const liveAlerts: AlertEvent[] = [];
  let otherOperator: LiveClient;
  const otherLiveAlerts: AlertEvent[] = [];

  beforeAll(async () => {
    [envReceiver, trafficReceiver] = await Promise.all([WebhookReceiver.start(), WebhookReceiver.start()]);
    platform = await startPlatform({
      storage: 'embedded',
      env: { IOC_WEBHOOK_ALLOW_PRIVATE: 'true', IOC_NOTIFIER_POLL_MS: '200' },
    });
    admin = await platform.admin();
  }, 90_000);

  afterAll(async () => {
    operator?.close();
    otherOperator?.close();
    await agencyMqtt?.endAsync();
    await platform?.stop();
    await Promise.all([envReceiver?.close(), trafficReceiver?.close()]);
  });

  it('one alert per affected station, each notified once (signed) firing then resolved, to the environment agency only, on every channel', async () => {
    const plan = planScenario('pollution-episode', seeds, { timeScale: TIME_SCALE });
    const stations: Device[] = [...plan.target.devices];
    expect(stations.length).toBeGreaterThan(0);
    // The district the scenario picked: the first area on the stations' path below the province.
    const district = commonDistrict(stations, seeds.areas);

    // Agencies, their receivers and subscriptions, through REST.
    await expectCall(
      admin,
      'POST',
      '/api/v1/agencies',
      { id: ENV_AGENCY, name: 'Sở TN&MT (e2e)', scope: { domains: ['env'], areas: [district] } },
      201,
    );
    await expectCall(
      admin,
      'POST',
      '/api/v1/agencies',
      { id: TRAFFIC_AGENCY, name: 'Sở GTVT (e2e)', scope: { domains: ['traffic'] } },
      201,
    );
    const envHook = await expectCall(
      admin,
      'POST',
      `/api/v1/agencies/${ENV_AGENCY}/webhooks`,
      { url: envReceiver.url(), description: 'môi trường' },
      201,
    );
    envSecret = String(envHook['secret']);
    expect(envSecret).toMatch(/^whsec_/);
    const trafficHook = await expectCall(
      admin,
      'POST',
      `/api/v1/agencies/${TRAFFIC_AGENCY}/webhooks`,
      { url: trafficReceiver.url() },
      201,
    );
    await expectCall(
      admin,
      'POST',
      `/api/v1/agencies/${ENV_AGENCY}/subscriptions`,
      {
        name: 'Không khí (e2e)',
        filters: { domains: ['env'], areaIds: [district] },
        webhookEndpointIds: [envHook['id']],
        mqtt: true,
        groupWaitSeconds: 1,
        groupIntervalSeconds: 1,
      },
      201,
    );
    await expectCall(
      admin,
      'POST',
      `/api/v1/agencies/${TRAFFIC_AGENCY}/subscriptions`,
      {
        name: 'Giao thông (e2e)',
        filters: { minSeverity: 'info' },
        webhookEndpointIds: [trafficHook['id']],
        groupWaitSeconds: 1,
        groupIntervalSeconds: 1,
      },
      201,
    );

    // The environment agency's MQTT account, subscribed to its alert topic.
    const mqttLogin = await expectCall(
      admin,
      'POST',
      `/api/v1/agencies/${ENV_AGENCY}/mqtt-credentials`,
      undefined,
      201,
    );
    agencyMqtt = await connectAsync(platform.mqttUrl, {
      clientId: 'e2e-agency-tnmt',
      username: String(mqttLogin['username']),
      password: String(mqttLogin['secret']),
      reconnectPeriod: 0,
      connectTimeout: 5000,
    });
    agencyMqtt.on('message', (topic, payload) =>
      mqttMessages.push({ topic, body: JSON.parse(payload.toString()) as NotificationBody }),
    );
    const granted = await agencyMqtt.subscribeAsync(`${agencyAlertTopicPrefix(ENV_AGENCY)}#`, { qos: 1 });
    expect(granted[0]?.qos).toBe(1);

    // An operator of the district, live.
    await expectCall(
      admin,
      'POST',
      '/api/v1/accounts',
      {
        username: 'op-tn-e2e',
        displayName: 'Trực ban (e2e)',
        role: 'operator',
        password: OPERATOR_PASSWORD,
        scope: { domains: ['env'], areas: [district] },
      },
      201,
    );
    const operatorSession = await loginToApi(platform.httpUrl, 'op-tn-e2e', OPERATOR_PASSWORD);
    operator = await liveClient(platform.httpUrl, operatorSession);
    operator.socket.on('alert', (event: AlertEvent) => liveAlerts.push(event));
    expect((await operator.subscribe({ scope: true })).ok).toBe(true);
    // …and one of another district, who must see none of it.
    const otherDistrict = seeds.areas.find(
      (a) => a.parentId === seeds.areas.find((p) => p.id === district)?.parentId && a.id !== district,
    )?.id as string;
    expect(otherDistrict).toBeDefined();
    await expectCall(
      admin,
      'POST',
      '/api/v1/accounts',
      {
        username: 'op-other-e2e',
        displayName: 'Trực ban huyện khác (e2e)',
        role: 'operator',
        password: OPERATOR_PASSWORD,
        scope: { domains: ['env'], areas: [otherDistrict] },
      },
      201,
    );
    otherOperator = await liveClient(
      platform.httpUrl,
      await loginToApi(platform.httpUrl, 'op-other-e2e', OPERATOR_PASSWORD),
    );
    otherOperator.socket.on('alert', (event: AlertEvent) => otherLiveAlerts.push(event));
    expect((await otherOperator.subscribe({ scope: true })).ok).toBe(true);

    // The scenario, over real MQTT, each station with its own secret.
    const runner = new ScenarioRunner({
      plan,
      brokerUrl: platform.mqttUrl,
      fleet: seeds.devices,
      qos: 1,
      clientIdSuffix: '-e2e',
      credentials: ({ device }) =>
        device ? { username: device.id, password: platform.deviceSecret(device.id) } : undefined,
    });
    await runner.start();
    const result = await runner.finished;
    expect(result.completed).toBe(true);
    expect(result.stats).toMatchObject({ publishFailures: 0, skipped: 0, errorsReceived: 0 });
    expect(result.stats.acked).toBe(result.stats.published);

    // Exactly one VN_AQI alert per station, fired then resolved.
    const alerts = await eventually(
      async () => {
        const { body } = await call(admin, 'GET', `/api/v1/alerts?ruleId=${RULE_ID}&limit=100`);
        const list = body['alerts'] as Array<Record<string, unknown>>;
        return stations.every((s) => list.some((a) => a['subjectId'] === s.id && a['state'] === 'resolved'))
          ? list
          : undefined;
      },
      30_000,
      'every station an alert, resolved',
    );
    for (const station of stations) {
      const mine = alerts.filter((a) => a['subjectId'] === station.id);
      expect(mine).toHaveLength(1);
      expect(mine[0]).toMatchObject({ state: 'resolved', resolution: 'cleared', domain: 'env' });
      const detail = await expectCall(
        admin,
        'GET',
        `/api/v1/alerts/${String(mine[0]?.['id'])}`,
        undefined,
        200,
      );
      const kinds = (detail['transitions'] as Array<{ kind: string }>).map((t) => t.kind);
      expect(kinds[0]).toBe('fired');
      expect(kinds[kinds.length - 1]).toBe('resolved');
      expect(kinds.filter((k) => k === 'fired')).toHaveLength(1);
      expect(kinds.filter((k) => k === 'resolved')).toHaveLength(1);
    }
    const alertIds = new Set(alerts.map((a) => String(a['id'])));

    // The environment receiver: a resolution of every station's alert follows its firing.
    const resolvedIn = (r: { body: NotificationBody }, id: string): boolean =>
      r.body.data.alerts.some((a) => a.id === id && a.state === 'resolved');
    await eventually(
      async () =>
        [...alertIds].every((id) => envReceiver.requests.some((r) => resolvedIn(r, id))) ? true : undefined,
      30_000,
      'a resolved notification for every station',
    );
    // …and on MQTT (published after the webhook or before it: each channel on its own).
    await eventually(
      async () =>
        [...alertIds].every((id) => mqttMessages.some((m) => resolvedIn(m, id))) ? true : undefined,
      15_000,
      'the resolutions on the agency MQTT topic',
    );

    const received = envReceiver.requests;
    // Every request signed as Standard Webhooks says, verified with the secret shown at creation.
    for (const request of received) {
      expect(() => verifyWebhook(envSecret, request)).not.toThrow();
      expect(request.body.data.notificationId).toBe(request.id);
      expect(request.body.data.agencyId).toBe(ENV_AGENCY);
      expect(request.status).toBe(204);
    }
    // Exactly once: the receiver answered 2xx, so no webhook-id came twice.
    const ids = received.map((r) => r.id);
    expect(new Set(ids).size).toBe(ids.length);

    for (const id of alertIds) {
      const carrying = received.flatMap((r) =>
        r.body.data.alerts.filter((a) => a.id === id).map((a) => ({ at: r.at, type: r.body.type, alert: a })),
      );
      const firing = carrying.filter((c) => c.alert.state === 'firing');
      const resolved = carrying.filter((c) => c.alert.state === 'resolved');
      expect(firing.length).toBeGreaterThanOrEqual(1);
      expect(resolved).toHaveLength(1);
      // The first time it was heard of, it was firing; its resolution comes after every firing one.
      expect(carrying[0]?.alert.state).toBe('firing');
      expect(carrying[carrying.length - 1]?.alert.state).toBe('resolved');
      for (const c of firing) expectVietnameseText(c.alert);
      // The resolution carries the clearing value (below the clear limit 96) and the last firing
      // text (not the firing template rendered with the clearing value).
      expect(resolved[0]?.alert.value as number).toBeLessThan(96);
      expect(resolved[0]?.alert.message).toBe(firing[firing.length - 1]?.alert.message);
    }
    // Resolutions are typed so, unless a new firing alert rode in the same flush.
    for (const r of received) {
      const anyNews = r.body.data.alerts.some((a) => a.state === 'firing');
      if (!anyNews) expect(r.body.type).toBe('alert.resolved');
    }

    // The same notifications on the agency's MQTT topic: one message per notification, same body.
    const mqttIds = mqttMessages.map((m) => m.body.data.notificationId);
    expect(new Set(mqttIds).size).toBe(mqttIds.length);
    expect(new Set(mqttIds)).toEqual(new Set(ids));
    for (const m of mqttMessages) {
      expect(m.topic).toBe(`${agencyAlertTopicPrefix(ENV_AGENCY)}${m.body.data.notificationId}`);
      const webhook = received.find((r) => r.id === m.body.data.notificationId);
      expect(m.body).toEqual(webhook?.body);
    }

    // The transport agency heard nothing: no request, no delivery in its log.
    expect(trafficReceiver.requests).toHaveLength(0);
    const trafficLog = await expectCall(
      admin,
      'GET',
      `/api/v1/agencies/${TRAFFIC_AGENCY}/deliveries`,
      undefined,
      200,
    );
    expect(trafficLog['items']).toEqual([]);
    // The environment agency's delivery log: every webhook delivery delivered at the first attempt.
    const envLog = (
      await expectCall(admin, 'GET', `/api/v1/agencies/${ENV_AGENCY}/deliveries?limit=500`, undefined, 200)
    )['items'] as Array<Record<string, unknown>>;
    const webhookLog = envLog.filter((d) => d['channel'] === 'webhook');
    expect(new Set(webhookLog.map((d) => d['notificationId']))).toEqual(new Set(ids));
    for (const d of webhookLog) expect(d).toMatchObject({ state: 'delivered', attempts: 1, lastStatus: 204 });

    // The operator saw each station's alert fire and resolve, live.
    for (const id of alertIds) {
      const kinds = liveAlerts.filter((e) => e.alert.id === id).map((e) => e.transition.kind);
      expect(kinds).toContain('fired');
      expect(kinds[kinds.length - 1]).toBe('resolved');
    }
    expect(liveAlerts.every((e) => e.alert.domain === 'env')).toBe(true);
    // The operator of another district saw none of them (its socket got every event by now: the
    // same API node pushed the district's resolutions to the first operator).
    expect(otherLiveAlerts).toEqual([]);
  });
});

/** A firing alert's text: Vietnamese, with its value, unit, limit, standard and area name. */
function expectVietnameseText(alert: NotifiedAlert): void {
  expect(alert.ruleId).toBe(RULE_ID);
  expect(typeof alert.value).toBe('number');
  expect(alert.value as number).toBeGreaterThanOrEqual(101);
  expect(alert.limit).not.toBeNull();
  expect(alert.standard).toContain('1459/QĐ-TCMT');
  expect(alert.message).toContain('Chỉ số chất lượng không khí');
  expect(alert.message).toContain(String(alert.value));
  expect(alert.message).toContain(String(alert.limit));
  expect(alert.message).toContain(alert.standard as string);
  expect(alert.message).toContain(alert.areaName);
  if (alert.unit) expect(alert.message).toContain(alert.unit);
}
