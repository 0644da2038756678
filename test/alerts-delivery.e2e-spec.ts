import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { DeliveryBody, Device, NotificationBody } from '@ioc/contracts';
import { deviceTopic } from '@ioc/contracts';
import { DeviceRegistry, loadSeeds } from '@ioc/registry';
import { type ApiSession, eventually, type RunningPlatform, startPlatform } from '@ioc/testing';
import { DeviceClients } from './support/clients';
import { expectCall, verifyWebhook, WebhookReceiver } from './support/webhooks';

/*
 * Webhook delivery through the real platform: alerts made by the broker's engine from readings
 * published over MQTT, notified by the API's notifier to real HTTP receivers that are down, refuse,
 * redirect or are gone; the delivery log and replay through REST; the API killed with SIGKILL while
 * deliveries wait. The retry schedule is shortened by configuration (IOC_WEBHOOK_RETRY_SCHEDULE).
 */

jest.setTimeout(240_000);

const AGENCY = 'so-e2e-delivery';
/** 0.5 s after each failed attempt, 80 retries (≈ 40 s): long enough for every outage here. */
const RETRY_SCHEDULE = Array.from({ length: 80 }, () => '0.5').join(',');

const registry = new DeviceRegistry(loadSeeds());
const stations = registry.listDevices({ type: 'air-quality-station' });

/** A station whose pm25 readings fire (120) and clear (60) a rule of its own, one reading each. */
class Station {
  private k = 0;
  private readonly base = Date.now() - 3_600_000;
  constructor(
    readonly device: Device,
    private readonly clients: DeviceClients,
  ) {}

  private publish(pm25: number): Promise<void> {
    const ts = this.base + this.k++ * 1000;
    return this.clients.publishAsync(
      deviceTopic('env', this.device.id, 'telemetry'),
      JSON.stringify({ ts, metrics: { pm25 } }),
      { qos: 1 },
    );
  }

  /** A reading above 100: a new alert fires. */
  fire = (): Promise<void> => this.publish(120);
  /** A reading below 80: the open alert resolves. */
  clear = (): Promise<void> => this.publish(60);
}

/** Alerts of `ruleId` firing now, read from the registry database (SQLite, WAL: readable beside the processes). */
function firingAlerts(platform: RunningPlatform, ruleId: string): number {
  const db = new Database(join(platform.dataDir, 'registry.sqlite'), { readonly: true, fileMustExist: true });
  try {
    const row = db
      .prepare(`select count(*) as n from alerts where rule_id = ? and state = 'firing'`)
      .get(ruleId) as { n: number };
    return row.n;
  } finally {
    db.close();
  }
}

describe('webhook delivery: outages, 410, 3xx, log, replay, API SIGKILL (real processes)', () => {
  let platform: RunningPlatform;
  let admin: ApiSession;
  let clients: DeviceClients;

  beforeAll(async () => {
    platform = await startPlatform({
      storage: 'embedded',
      env: {
        IOC_WEBHOOK_ALLOW_PRIVATE: 'true',
        IOC_WEBHOOK_RETRY_SCHEDULE: RETRY_SCHEDULE,
        IOC_WEBHOOK_TIMEOUT_MS: '2000',
        IOC_NOTIFIER_POLL_MS: '100',
      },
    });
    admin = await platform.admin();
    clients = new DeviceClients(platform.mqttUrl, (id) => platform.deviceSecret(id), `e2e-delivery`);
    await expectCall(
      admin,
      'POST',
      '/api/v1/agencies',
      { id: AGENCY, name: 'Sở TN&MT (e2e giao nhận)', scope: { domains: ['env'] } },
      201,
    );
  }, 90_000);

  afterAll(async () => {
    await clients?.endAll();
    await platform?.stop();
  });

  /**
   * A rule of its own for `device` (pm25 above 100, clear below 80), an endpoint on `receiver` and
   * a subscription to the rule with no grouping delay; resolves once the broker's engine has it.
   */
  async function setUp(
    name: string,
    device: Device,
    receiver: WebhookReceiver,
    options: { mqtt?: boolean } = {},
  ): Promise<{ ruleId: string; endpointId: string; secret: string; station: Station }> {
    const ruleId = `e2e-delivery-${name}`;
    const logStart = platform.broker.output().length;
    await expectCall(
      admin,
      'POST',
      '/api/v1/rules',
      {
        id: ruleId,
        kind: 'threshold',
        name: { vi: `PM2.5 cao (${name})`, en: `PM2.5 high (${name})` },
        severity: 'warning',
        scope: { deviceIds: [device.id] },
        metric: 'pm25',
        condition: { op: 'above', value: 100 },
        clear: { op: 'below', value: 80 },
        message: { vi: '{device}: PM2.5 {value} {unit}', en: '{device}: PM2.5 {value} {unit}' },
      },
      201,
    );
    const endpoint = await expectCall(
      admin,
      'POST',
      `/api/v1/agencies/${AGENCY}/webhooks`,
      { url: receiver.url(), description: name },
      201,
    );
    await expectCall(
      admin,
      'POST',
      `/api/v1/agencies/${AGENCY}/subscriptions`,
      {
        name,
        filters: { ruleIds: [ruleId] },
        webhookEndpointIds: [endpoint['id']],
        mqtt: options.mqtt ?? false,
        groupWaitSeconds: 0,
        groupIntervalSeconds: 0,
      },
      201,
    );
    await eventually(
      async () => (platform.broker.output().indexOf(ruleId, logStart) >= 0 ? true : undefined),
      30_000,
      `the broker loading rule ${ruleId}`,
    );
    return {
      ruleId,
      endpointId: String(endpoint['id']),
      secret: String(endpoint['secret']),
      station: new Station(device, clients),
    };
  }

  /** The agency's deliveries (to `endpointId`, or all), oldest first. */
  async function deliveries(endpointId?: string): Promise<DeliveryBody[]> {
    const query = endpointId ? `?endpoint=${endpointId}&limit=500` : '?limit=500';
    const body = await expectCall(
      admin,
      'GET',
      `/api/v1/agencies/${AGENCY}/deliveries${query}`,
      undefined,
      200,
    );
    return (body['items'] as DeliveryBody[]).sort((a, b) => a.id - b.id);
  }

  /** Waits until `endpointId` has at least `count` deliveries (a notification per delivery here). */
  const deliveriesAtLeast = (
    endpointId: string,
    count: number,
    timeoutMs = 15_000,
  ): Promise<DeliveryBody[]> =>
    eventually(
      async () => {
        const list = await deliveries(endpointId);
        return list.length >= count ? list : undefined;
      },
      timeoutMs,
      `${count} deliveries to ${endpointId}`,
    );

  /**
   * Fires and clears `station`'s rule `cycles` times, waiting for each notification to be made
   * (so each change is a notification of its own: firing, resolved, firing, resolved, …).
   */
  async function cycles(endpointId: string, station: Station, count: number, made = 0): Promise<void> {
    for (let c = 0; c < count; c++) {
      await station.fire();
      await deliveriesAtLeast(endpointId, made + 2 * c + 1);
      await station.clear();
      await deliveriesAtLeast(endpointId, made + 2 * c + 2);
    }
  }

  /** `[type, alert state]` of each notification, for reading the order at a glance. */
  const shape = (body: NotificationBody): string =>
    `${body.type}:${body.data.alerts.map((a) => a.state).join(',')}`;

  /**
   * The receiver's requests collapsed to one entry per run of the same webhook-id: a receiver that
   * got the notifications in order (each retried until delivered before the next is sent) shows
   * each id once here, in the order they were made.
   */
  const runs = (receiver: WebhookReceiver): string[] =>
    receiver.requests.map((r) => r.id).filter((id, i, all) => i === 0 || all[i - 1] !== id);

  it('a receiver down (port closed, then 503) and back gets every notification once, in order; the log shows every attempt', async () => {
    const receiver = await WebhookReceiver.start();
    const { endpointId, secret, station } = await setUp('down', stations[0] as Device, receiver);
    await receiver.close();

    await cycles(endpointId, station, 2);
    // The head has been tried and refused (no answer: the port is closed) at least twice.
    await eventually(
      async () => {
        const head = (await deliveries(endpointId))[0];
        return head && head.attempts >= 2 ? head : undefined;
      },
      15_000,
      'the first delivery retried',
    );
    // Back, answering 503 twice before it accepts.
    let refusals = 0;
    receiver.respond = () => (refusals++ < 2 ? 503 : 204);
    await receiver.listen();

    const log = await eventually(
      async () => {
        const list = await deliveries(endpointId);
        return list.length === 4 && list.every((d) => d.state === 'delivered') ? list : undefined;
      },
      30_000,
      'all four delivered',
    );
    const made = log.map((d) => d.notificationId);
    expect(new Set(made).size).toBe(4);

    // Every notification exactly once among the 2xx answers, in the order made.
    expect(receiver.delivered().map((r) => r.id)).toEqual(made);
    expect(runs(receiver)).toEqual(made);
    expect(receiver.delivered().map((r) => shape(r.body))).toEqual([
      'alert.firing:firing',
      'alert.resolved:resolved',
      'alert.firing:firing',
      'alert.resolved:resolved',
    ]);
    // Two alerts, each fired then resolved.
    const alertIds = receiver.delivered().map((r) => r.body.data.alerts[0]?.id);
    expect(alertIds[0]).toBe(alertIds[1]);
    expect(alertIds[2]).toBe(alertIds[3]);
    expect(alertIds[0]).not.toBe(alertIds[2]);
    for (const request of receiver.requests) expect(() => verifyWebhook(secret, request)).not.toThrow();

    // The log: the head's attempts — refused (no status) while down, 503 twice, then 204.
    const head = log[0] as DeliveryBody;
    const statuses = head.attemptLog.map((a) => a.statusCode);
    expect(statuses.slice(-3)).toEqual([503, 503, 204]);
    expect(statuses.slice(0, -3).length).toBeGreaterThanOrEqual(2);
    expect(statuses.slice(0, -3).every((s) => s === null)).toBe(true);
    expect(head.attemptLog.slice(0, -3).every((a) => typeof a.error === 'string' && a.error.length > 0)).toBe(
      true,
    );
    expect(head).toMatchObject({ state: 'delivered', attempts: statuses.length, lastStatus: 204 });
    expect(head.attemptLog.map((a) => a.attempt)).toEqual(statuses.map((_, i) => i + 1));
    for (const d of log.slice(1)) expect(d.attemptLog.at(-1)?.statusCode).toBe(204);

    // Manual replay: the same notification again, same webhook-id and body, signed anew.
    const before = receiver.requests.length;
    const replay = await expectCall(
      admin,
      'POST',
      `/api/v1/agencies/${AGENCY}/deliveries/${head.id}/replay`,
      undefined,
      201,
    );
    expect(replay).toMatchObject({ notificationId: head.notificationId, replayOf: head.id });
    await eventually(
      async () => (receiver.requests.length > before ? true : undefined),
      15_000,
      'the replayed request',
    );
    const replayed = receiver.requests[before];
    expect(replayed?.id).toBe(head.notificationId);
    expect(replayed?.raw).toBe(receiver.delivered()[0]?.raw);
    expect(() => verifyWebhook(secret, replayed as NonNullable<typeof replayed>)).not.toThrow();
    await eventually(
      async () =>
        (await deliveries(endpointId)).find((d) => d.id === replay['id'])?.state === 'delivered'
          ? true
          : undefined,
      15_000,
      'the replay delivered',
    );
    await receiver.close();
  });

  it('a receiver answering 410 Gone has its endpoint disabled and is never called again', async () => {
    const receiver = await WebhookReceiver.start();
    receiver.respond = () => 410;
    const { endpointId, station } = await setUp('gone', stations[1] as Device, receiver, { mqtt: true });

    await station.fire();
    await eventually(
      async () => (receiver.requests.length > 0 ? true : undefined),
      15_000,
      'the first request',
    );
    const endpoint = await eventually(
      async () => {
        const list = (await expectCall(admin, 'GET', `/api/v1/agencies/${AGENCY}/webhooks`, undefined, 200))[
          'items'
        ] as Array<Record<string, unknown>>;
        const mine = list.find((e) => e['id'] === endpointId);
        return mine && mine['enabled'] === false ? mine : undefined;
      },
      15_000,
      'the endpoint disabled',
    );
    expect(endpoint).toMatchObject({ enabled: false, disabledReason: 'gone' });
    const gone = (await deliveries(endpointId))[0];
    expect(gone).toMatchObject({ state: 'failed', attempts: 1, lastStatus: 410 });

    // The resolution goes on MQTT (delivered) and not to the gone endpoint.
    await station.clear();
    const all = await eventually(
      async () => {
        const list = await deliveries();
        const resolvedMqtt = list.find(
          (d) => d.channel === 'mqtt' && d.type === 'alert.resolved' && d.state === 'delivered',
        );
        return resolvedMqtt ? list : undefined;
      },
      15_000,
      'the resolution delivered on MQTT',
    );
    const resolution = all.find((d) => d.channel === 'mqtt' && d.type === 'alert.resolved');
    expect(all.filter((d) => d.notificationId === resolution?.notificationId).map((d) => d.channel)).toEqual([
      'mqtt',
    ]);
    expect(await deliveries(endpointId)).toHaveLength(1);
    expect(receiver.requests).toHaveLength(1);
    await receiver.close();
  });

  it('a redirect (3xx) is a failed attempt, never followed, retried until a 2xx', async () => {
    const receiver = await WebhookReceiver.start();
    let redirects = 0;
    receiver.respond = () => (redirects++ < 2 ? 302 : 204);
    const { endpointId, secret, station } = await setUp('redirect', stations[2] as Device, receiver);

    await station.fire();
    const [delivery] = await eventually(
      async () => {
        const list = await deliveries(endpointId);
        return list[0]?.state === 'delivered' ? list : undefined;
      },
      15_000,
      'the delivery delivered after the redirects',
    );
    expect(delivery?.attemptLog.map((a) => a.statusCode)).toEqual([302, 302, 204]);
    expect(receiver.requests.map((r) => r.path)).toEqual(['/hook', '/hook', '/hook']);
    expect(new Set(receiver.requests.map((r) => r.id))).toEqual(new Set([delivery?.notificationId]));
    for (const request of receiver.requests) expect(() => verifyWebhook(secret, request)).not.toThrow();
    await receiver.close();
  });

  it('the API killed with SIGKILL in the middle of a request: sent again with the same webhook-id once its claim expires', async () => {
    const receiver = await WebhookReceiver.start();
    let killed = false;
    // Until the API is killed, the receiver holds every request unanswered.
    receiver.respond = () => (killed ? 204 : 0);
    const { endpointId, secret, station } = await setUp('mid-request', stations[4] as Device, receiver);

    await station.fire();
    await eventually(async () => (receiver.requests.length > 0 ? true : undefined), 15_000, 'the request');
    killed = true;
    await platform.api.stop('SIGKILL');
    await platform.restartApi();

    // The dead process's claim lasts IOC_WEBHOOK_TIMEOUT_MS + 30 s (CLAIM_MARGIN_MS of the outbox).
    const [delivery] = await eventually(
      async () => {
        const list = await deliveries(endpointId);
        return list[0]?.state === 'delivered' ? list : undefined;
      },
      60_000,
      'the delivery delivered after the claim expired',
    );
    const id = delivery?.notificationId;
    // At least once: the receiver saw the same webhook-id twice (the first never answered), and
    // accepted it once; the attempt the killed process made was never recorded.
    expect(receiver.requests.map((r) => [r.id, r.status])).toEqual([
      [id, 0],
      [id, 204],
    ]);
    expect(receiver.requests[1]?.raw).toBe(receiver.requests[0]?.raw);
    for (const request of receiver.requests) expect(() => verifyWebhook(secret, request)).not.toThrow();
    expect(delivery?.attemptLog.map((a) => a.statusCode)).toEqual([204]);
    await receiver.close();
  });

  it('the API killed with SIGKILL while deliveries wait loses nothing: every notification once, in order', async () => {
    const receiver = await WebhookReceiver.start();
    const { ruleId, endpointId, secret, station } = await setUp('restart', stations[3] as Device, receiver);
    await receiver.close();

    // Two notifications waiting in the outbox (the receiver is down)…
    await cycles(endpointId, station, 1);
    expect((await deliveries(endpointId)).map((d) => d.state).filter((s) => s === 'delivered')).toEqual([]);
    // The API dies (SIGKILL: nothing flushed) with those two waiting; meanwhile the broker commits
    // a new alert firing, whose bus message no API hears: the restarted notifier makes its
    // notification from the transitions after its durable cursor.
    await platform.api.stop('SIGKILL');
    await station.fire();
    await eventually(
      async () => (firingAlerts(platform, ruleId) > 0 ? true : undefined),
      15_000,
      'the alert firing in the registry database',
    );
    await platform.restartApi();
    await receiver.listen();
    await deliveriesAtLeast(endpointId, 3, 60_000);
    await station.clear();

    const log = await eventually(
      async () => {
        const list = await deliveries(endpointId);
        return list.length === 4 && list.every((d) => d.state === 'delivered') ? list : undefined;
      },
      // A claim held by the killed process expires after IOC_WEBHOOK_TIMEOUT_MS + 30 s.
      60_000,
      'all four delivered after the restart',
    );
    const made = log.map((d) => d.notificationId);
    expect(new Set(made).size).toBe(4);
    expect(receiver.delivered().map((r) => r.id)).toEqual(made);
    expect(runs(receiver)).toEqual(made);
    expect(receiver.delivered().map((r) => shape(r.body))).toEqual([
      'alert.firing:firing',
      'alert.resolved:resolved',
      'alert.firing:firing',
      'alert.resolved:resolved',
    ]);
    for (const request of receiver.requests) expect(() => verifyWebhook(secret, request)).not.toThrow();
    await receiver.close();
  });
});
