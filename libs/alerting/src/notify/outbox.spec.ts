import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { type IocDatabase, openDatabase, prepareDatabase } from '@ioc/database';
import { describeEachDatabase } from '@ioc/testing';
import { DestinationGuard } from './destination-guard';
import { newId, NotifyError } from './notify-error';
import { type DeliveryTarget, Outbox, type OutboxOptions } from './outbox';
import { FakeClock, insertAgency, TestReceiver } from './test-support/receivers';
import { WebhookEndpointRepository } from './webhook-endpoints';
import { WebhookSecretBox } from './webhook-secrets';

const box = new WebhookSecretBox(randomBytes(32));
const open = new DestinationGuard({ allowPrivate: true });

describeEachDatabase('outbox', (context) => {
  let database: IocDatabase;
  let receiver: TestReceiver;
  let clock: FakeClock;
  let endpoints: WebhookEndpointRepository;

  beforeEach(async () => {
    database = openDatabase(await context.freshConfig());
    await prepareDatabase(database);
    await insertAgency(database.db, 'so-nnmt');
    receiver = await TestReceiver.start();
    clock = new FakeClock(Date.now());
    endpoints = new WebhookEndpointRepository(database.db, { box, guard: open, clock });
  });
  afterEach(async () => {
    await receiver.stop();
    await database.close();
  });

  const outbox = (options: Partial<OutboxOptions> = {}): Outbox =>
    new Outbox(database.db, { kind: context.kind, endpoints, guard: open, clock, jitter: 0, ...options });

  /** A notification row and its deliveries, as the policy writes them. */
  async function notify(box: Outbox, targets: DeliveryTarget[], n = 1): Promise<string> {
    const id = newId('msg');
    const body = JSON.stringify({
      type: 'alert.firing',
      timestamp: new Date(clock.t).toISOString(),
      data: { n },
    });
    await database.db.transaction().execute(async (trx) => {
      await trx
        .insertInto('notifications')
        .values({
          id,
          agency_id: 'so-nnmt',
          subscription_id: 'sub_x',
          group_key: 'g',
          type: 'alert.firing',
          body,
          created_at: clock.t,
        })
        .execute();
      await box.enqueue(trx, { id, agencyId: 'so-nnmt' }, targets, clock.t);
    });
    return id;
  }

  it('signs every request as Standard Webhooks does: the standardwebhooks package verifies it', async () => {
    const { endpoint, secret } = await endpoints.create('so-nnmt', { url: receiver.url() }, null);
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    const box = outbox();
    const id = await notify(box, [{ channel: 'webhook', endpointId: endpoint.id }]);
    expect(await box.drain()).toEqual({ attempts: 1, delivered: 1 });
    const [request] = receiver.requests;
    expect(request?.headers['content-type']).toBe('application/json');
    expect(request?.headers['webhook-id']).toBe(id);
    expect(request?.headers['webhook-timestamp']).toBe(String(Math.floor(clock.t / 1000)));
    const verified = new Webhook(secret).verify(request!.body, request!.headers as Record<string, string>);
    expect(verified).toEqual(JSON.parse(request!.body));
    // Another endpoint's secret does not verify it.
    const other = await endpoints.create('so-nnmt', { url: receiver.url('/other') }, null);
    expect(() =>
      new Webhook(other.secret).verify(request!.body, request!.headers as Record<string, string>),
    ).toThrow();
    const [delivery] = await box.list('so-nnmt', { limit: 10 });
    expect(delivery).toMatchObject({ state: 'delivered', attempts: 1, lastStatus: 204 });
    expect(delivery?.attemptLog).toEqual([
      expect.objectContaining({ attempt: 1, statusCode: 204, error: null }),
    ]);
  });

  it('retries on the schedule until the receiver answers 2xx, then delivers the queue once each, in order', async () => {
    const { endpoint, secret } = await endpoints.create('so-nnmt', { url: receiver.url() }, null);
    let failures = 3;
    receiver.answer = (_r, _i, res) => {
      if (failures-- > 0) res.writeHead(503).end('down');
      else res.writeHead(200).end();
    };
    const box = outbox({ retryDelaysMs: [1000, 2000, 4000, 8000] });
    const ids = [
      await notify(box, [{ channel: 'webhook', endpointId: endpoint.id }], 1),
      await notify(box, [{ channel: 'webhook', endpointId: endpoint.id }], 2),
      await notify(box, [{ channel: 'webhook', endpointId: endpoint.id }], 3),
    ];
    // The head fails; the rest of its queue waits behind it.
    expect(await box.drain()).toEqual({ attempts: 1, delivered: 0 });
    clock.advance(999);
    expect(await box.drain()).toEqual({ attempts: 0, delivered: 0 });
    clock.advance(1);
    expect(await box.drain()).toEqual({ attempts: 1, delivered: 0 });
    clock.advance(2000);
    expect(await box.drain()).toEqual({ attempts: 1, delivered: 0 });
    clock.advance(4000);
    // Back up: the head and then the two behind it, in order.
    expect(await box.drain()).toEqual({ attempts: 3, delivered: 3 });
    expect(receiver.requests.map((r) => r.headers['webhook-id'])).toEqual([
      ids[0],
      ids[0],
      ids[0],
      ids[0],
      ids[1],
      ids[2],
    ]);
    for (const r of receiver.requests)
      expect(() => new Webhook(secret).verify(r.body, r.headers as Record<string, string>)).not.toThrow();
    const log = await box.list('so-nnmt', { limit: 10 });
    expect(log.map((d) => [d.notificationId, d.state, d.attempts])).toEqual([
      [ids[2], 'delivered', 1],
      [ids[1], 'delivered', 1],
      [ids[0], 'delivered', 4],
    ]);
    expect(log[2]?.attemptLog.map((a) => a.statusCode)).toEqual([503, 503, 503, 200]);
  });

  it('gives up after the last attempt of the schedule (failed), and the next in the queue goes on', async () => {
    const { endpoint } = await endpoints.create('so-nnmt', { url: receiver.url() }, null);
    receiver.answer = (_r, index, res) => res.writeHead(index < 2 ? 500 : 200).end();
    const box = outbox({ retryDelaysMs: [100] });
    await notify(box, [{ channel: 'webhook', endpointId: endpoint.id }], 1);
    await notify(box, [{ channel: 'webhook', endpointId: endpoint.id }], 2);
    await box.drain();
    clock.advance(100);
    await box.drain();
    const log = await box.list('so-nnmt', { limit: 10 });
    expect(log.map((d) => [d.state, d.attempts])).toEqual([
      ['delivered', 1],
      ['failed', 2],
    ]);
  });

  it('410 Gone disables the endpoint and skips its other deliveries', async () => {
    const { endpoint } = await endpoints.create('so-nnmt', { url: receiver.url() }, null);
    receiver.answer = (_r, _i, res) => res.writeHead(410).end();
    const box = outbox();
    await notify(box, [{ channel: 'webhook', endpointId: endpoint.id }], 1);
    await notify(box, [{ channel: 'webhook', endpointId: endpoint.id }], 2);
    await box.drain();
    expect(receiver.requests).toHaveLength(1);
    expect(await endpoints.get('so-nnmt', endpoint.id)).toMatchObject({
      enabled: false,
      disabledReason: 'gone',
    });
    const log = await box.list('so-nnmt', { limit: 10 });
    expect(log.map((d) => [d.state, d.lastStatus])).toEqual([
      ['skipped', null],
      ['failed', 410],
    ]);
    // Nothing more goes out to it.
    await notify(box, [{ channel: 'webhook', endpointId: endpoint.id }], 3);
    clock.advance(3600_000);
    expect(await box.drain()).toEqual({ attempts: 0, delivered: 0 });
  });

  it('a 3xx is a failure and is not followed', async () => {
    const { endpoint } = await endpoints.create('so-nnmt', { url: receiver.url() }, null);
    receiver.answer = (request, _i, res) => {
      if (request.path === '/hook') res.writeHead(307, { location: receiver.url('/elsewhere') }).end();
      else res.writeHead(200).end();
    };
    const box = outbox({ retryDelaysMs: [1000] });
    await notify(box, [{ channel: 'webhook', endpointId: endpoint.id }]);
    expect(await box.drain()).toEqual({ attempts: 1, delivered: 0 });
    expect(receiver.requests.map((r) => r.path)).toEqual(['/hook']);
    const [delivery] = await box.list('so-nnmt', { limit: 1 });
    expect(delivery).toMatchObject({ state: 'retrying', lastStatus: 307 });
    expect(delivery?.lastError).toMatch(/redirects are not followed/);
  });

  it('a receiver that does not answer within the timeout is a failure', async () => {
    const { endpoint } = await endpoints.create('so-nnmt', { url: receiver.url() }, null);
    receiver.answer = () => undefined; // never answers
    const box = outbox({ timeoutMs: 300, retryDelaysMs: [] });
    await notify(box, [{ channel: 'webhook', endpointId: endpoint.id }]);
    expect(await box.drain()).toEqual({ attempts: 1, delivered: 0 });
    const [delivery] = await box.list('so-nnmt', { limit: 1 });
    expect(delivery).toMatchObject({
      state: 'failed',
      lastStatus: null,
      lastError: 'timed out after 300 ms',
    });
  });

  it('a destination refused at send time (SSRF guard without the allowance) is never contacted', async () => {
    const { endpoint } = await endpoints.create('so-nnmt', { url: receiver.url() }, null);
    const box = outbox({ guard: new DestinationGuard(), retryDelaysMs: [] });
    await notify(box, [{ channel: 'webhook', endpointId: endpoint.id }]);
    await box.drain();
    expect(receiver.requests).toHaveLength(0);
    const [delivery] = await box.list('so-nnmt', { limit: 1 });
    expect(delivery?.state).toBe('failed');
    expect(delivery?.lastError).toMatch(/^refused: 127\.0\.0\.1: loopback/);
  });

  it('a destination refused at send time is not retried: failed at once, and the next of its queue goes on', async () => {
    // The host's DNS answer moves from a private address (refused) to the receiver (allowed).
    let address = '127.0.0.1';
    const guard = new DestinationGuard({
      allowedCidrs: ['127.0.0.1/32'],
      resolve: () => Promise.resolve([{ address, family: 4 }]),
    });
    const named = new WebhookEndpointRepository(database.db, { box, guard, clock });
    const { endpoint } = await named.create(
      'so-nnmt',
      { url: `http://receiver.invalid:${receiver.port}/hook` },
      null,
    );
    address = '10.0.0.7';
    // The default schedule (ten attempts over ~75 h): a retry would hold the queue for days.
    const box2 = new Outbox(database.db, { kind: context.kind, endpoints: named, guard, clock, jitter: 0 });
    const ids = [
      await notify(box2, [{ channel: 'webhook', endpointId: endpoint.id }], 1),
      await notify(box2, [{ channel: 'webhook', endpointId: endpoint.id }], 2),
    ];
    expect(await box2.drain()).toEqual({ attempts: 2, delivered: 0 });
    expect(receiver.requests).toHaveLength(0);
    const refused = await box2.list('so-nnmt', { limit: 10 });
    expect(refused.map((d) => [d.notificationId, d.state, d.attempts, d.nextAttemptAt])).toEqual([
      [ids[1], 'failed', 1, null],
      [ids[0], 'failed', 1, null],
    ]);
    for (const d of refused) {
      expect(d.attemptLog).toEqual([
        expect.objectContaining({
          attempt: 1,
          statusCode: null,
          error: expect.stringMatching(/^refused: receiver\.invalid resolves to 10\.0\.0\.7: private/),
        }),
      ]);
    }
    expect(await named.get('so-nnmt', endpoint.id)).toMatchObject({ enabled: true });
    // The destination is fine again: the next notification goes at once, nothing waits on a retry.
    address = '127.0.0.1';
    const third = await notify(box2, [{ channel: 'webhook', endpointId: endpoint.id }], 3);
    expect(await box2.drain()).toEqual({ attempts: 1, delivered: 1 });
    expect(receiver.requests.map((r) => r.headers['webhook-id'])).toEqual([third]);
  });

  it('a host that does not resolve is retried on the schedule (DNS may answer later), not refused', async () => {
    let resolves = true;
    const guard = new DestinationGuard({
      allowedCidrs: ['127.0.0.1/32'],
      resolve: () =>
        resolves
          ? Promise.resolve([{ address: '127.0.0.1', family: 4 }])
          : Promise.reject(new Error('getaddrinfo ENOTFOUND receiver.invalid')),
    });
    const named = new WebhookEndpointRepository(database.db, { box, guard, clock });
    const { endpoint } = await named.create('so-nnmt', { url: 'http://receiver.invalid/hook' }, null);
    resolves = false;
    const box2 = new Outbox(database.db, { kind: context.kind, endpoints: named, guard, clock, jitter: 0 });
    await notify(box2, [{ channel: 'webhook', endpointId: endpoint.id }]);
    expect(await box2.drain()).toEqual({ attempts: 1, delivered: 0 });
    const [delivery] = await box2.list('so-nnmt', { limit: 1 });
    expect(delivery).toMatchObject({ state: 'retrying', attempts: 1 });
    expect(delivery?.lastError).toMatch(/^receiver\.invalid does not resolve/);
  });

  it('connects to the address the guard checked (its own resolution), not a second DNS answer', async () => {
    const resolved: string[] = [];
    const guard = new DestinationGuard({
      allowedCidrs: ['127.0.0.1/32'],
      resolve: (host) => {
        resolved.push(host);
        return Promise.resolve([{ address: '127.0.0.1', family: 4 }]);
      },
    });
    const named = new WebhookEndpointRepository(database.db, { box, guard, clock });
    // `receiver.invalid` resolves nowhere (RFC 6761 §6.4): only the guard's answer can reach the receiver.
    const { endpoint } = await named.create(
      'so-nnmt',
      { url: `http://receiver.invalid:${receiver.port}/hook` },
      null,
    );
    const box2 = new Outbox(database.db, { kind: context.kind, endpoints: named, guard, clock, jitter: 0 });
    await notify(box2, [{ channel: 'webhook', endpointId: endpoint.id }]);
    expect(await box2.drain()).toEqual({ attempts: 1, delivered: 1 });
    expect(receiver.requests[0]?.headers.host).toBe(`receiver.invalid:${receiver.port}`);
    expect(resolved).toEqual(['receiver.invalid', 'receiver.invalid']);
  });

  it('replays a delivery as a new one with the same webhook-id; a manually disabled endpoint holds its queue', async () => {
    const { endpoint } = await endpoints.create('so-nnmt', { url: receiver.url() }, null);
    const box = outbox();
    const id = await notify(box, [{ channel: 'webhook', endpointId: endpoint.id }]);
    await box.drain();
    const [first] = await box.list('so-nnmt', { limit: 1 });
    await endpoints.setEnabled('so-nnmt', endpoint.id, false);
    const replay = await box.replay('so-nnmt', first!.id);
    expect(replay).toMatchObject({ notificationId: id, state: 'pending', replayOf: first!.id });
    expect(await box.drain()).toEqual({ attempts: 0, delivered: 0 });
    await endpoints.setEnabled('so-nnmt', endpoint.id, true);
    expect(await box.drain()).toEqual({ attempts: 1, delivered: 1 });
    expect(receiver.requests.map((r) => r.headers['webhook-id'])).toEqual([id, id]);
    expect(receiver.requests[1]?.body).toBe(receiver.requests[0]?.body);
    await expect(box.replay('other-agency', first!.id)).rejects.toThrow(NotifyError);
  });

  it('two workers never claim the same delivery, nor two of one target', async () => {
    const a = await endpoints.create('so-nnmt', { url: receiver.url('/a') }, null);
    const b = await endpoints.create('so-nnmt', { url: receiver.url('/b') }, null);
    const one = outbox({ workerId: 'one' });
    const two = outbox({ workerId: 'two' });
    for (let n = 0; n < 3; n++)
      await notify(
        one,
        [
          { channel: 'webhook', endpointId: a.endpoint.id },
          { channel: 'webhook', endpointId: b.endpoint.id },
        ],
        n,
      );
    const [first, second] = await Promise.all([one.claim(), two.claim()]);
    const claimed = [...first, ...second];
    // Only the head of each target is claimable, and by one worker.
    expect(claimed.map((d) => d.targetKey).sort()).toEqual(
      [`webhook:${a.endpoint.id}`, `webhook:${b.endpoint.id}`].sort(),
    );
  });
});

describe('webhook endpoint URLs', () => {
  it('are refused at creation when the destination is private (no allowance configured)', async () => {
    const database = openDatabase({
      kind: 'sqlite',
      path: `/tmp/ioc-notify-${process.pid}-${Date.now()}.sqlite`,
    });
    try {
      await prepareDatabase(database);
      await insertAgency(database.db, 'so-nnmt');
      const repo = new WebhookEndpointRepository(database.db, { box, guard: new DestinationGuard() });
      for (const url of [
        'http://127.0.0.1:8080/hook',
        'http://10.1.2.3/hook',
        'http://169.254.169.254/latest/meta-data',
        'http://[::1]:9000/',
        'http://localhost:9000/',
        'ftp://example.com/',
      ]) {
        await expect(repo.create('so-nnmt', { url }, null)).rejects.toMatchObject({
          code: 'invalid',
          field: 'url',
        });
      }
      expect(await repo.list('so-nnmt')).toEqual([]);
    } finally {
      await database.close();
    }
  });
});
