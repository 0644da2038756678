import { once } from 'node:events';
import { createServer, type Server } from 'node:net';
import { Writable } from 'node:stream';
import pino from 'pino';
import { Aedes } from 'aedes';
import { INTERNAL_INGEST_STATS_TOPIC_PREFIX, type IngestStatsMessage } from '@ioc/contracts';
import { createLogger } from '@ioc/runtime';
import { freePort, ingestStatsMessage } from '@ioc/testing';
import { InternalBusClient } from './internal-bus-client';

const stats = (node: string, acceptedTotal: number): IngestStatsMessage =>
  ingestStatsMessage({ node, accepted: { env: acceptedTotal }, acceptedTotal });

/** A real aedes broker on a free loopback port (no authentication: the client's options are not under test). */
describe('InternalBusClient: ingest statistics of several broker nodes', () => {
  let aedes: Aedes;
  let server: Server;
  let url: string;
  let client: InternalBusClient | undefined;
  const publish = (topic: string, message: unknown, retain: boolean): Promise<void> =>
    new Promise((resolve, reject) =>
      aedes.publish(
        { cmd: 'publish', topic, payload: Buffer.from(JSON.stringify(message)), qos: 0, retain, dup: false },
        (error) => (error ? reject(error) : resolve()),
      ),
    );

  beforeEach(async () => {
    aedes = await Aedes.createBroker();
    server = createServer(aedes.handle);
    const port = await freePort();
    server.listen(port, '127.0.0.1');
    await once(server, 'listening');
    url = `mqtt://127.0.0.1:${port}`;
  });
  afterEach(async () => {
    await client?.close();
    await new Promise<void>((resolve) => aedes.close(() => resolve()));
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('receives each node on its own topic (retained ones flagged), and refuses stats under another node’s topic', async () => {
    await publish(`${INTERNAL_INGEST_STATS_TOPIC_PREFIX}broker-1`, stats('broker-1', 5), true);
    const received: Array<{ node: string; acceptedTotal: number; retained: boolean }> = [];
    let wake: () => void = () => undefined;
    client = InternalBusClient.connect(
      {
        brokerUrl: url,
        clientId: 'ioc-api-test',
        secret: 'unused',
        logger: createLogger('bus-test', { level: 'silent' }),
      },
      {
        ingestStats: (message, { retained }) => {
          received.push({ node: message.node, acceptedTotal: message.acceptedTotal, retained });
          wake();
        },
      },
    );
    const next = (count: number): Promise<void> =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`only ${received.length} messages`)), 5000);
        wake = () => {
          if (received.length >= count) {
            clearTimeout(timer);
            resolve();
          }
        };
        wake();
      });
    // The retained message of node 1 arrives on subscription, flagged retained [MQTT-3.3.1-8].
    await next(1);
    // A live message of node 2, then one claiming node 1 on node 2's topic (dropped), then node 1 live.
    await publish(`${INTERNAL_INGEST_STATS_TOPIC_PREFIX}broker-2`, stats('broker-2', 7), true);
    await publish(`${INTERNAL_INGEST_STATS_TOPIC_PREFIX}broker-2`, stats('broker-1', 999), false);
    await publish(`${INTERNAL_INGEST_STATS_TOPIC_PREFIX}broker-1`, stats('broker-1', 6), true);
    await next(3);
    expect(received).toEqual([
      { node: 'broker-1', acceptedTotal: 5, retained: true },
      { node: 'broker-2', acceptedTotal: 7, retained: false },
      { node: 'broker-1', acceptedTotal: 6, retained: false },
    ]);
    expect(client.stats().invalid).toEqual({ [`${INTERNAL_INGEST_STATS_TOPIC_PREFIX}broker-2`]: 1 });
  });
});

/** A real aedes broker that checks the internal secret as the platform's does (CONNACK 4 when wrong). */
describe('InternalBusClient: a broker that refuses the internal secret', () => {
  let aedes: Aedes;
  let server: Server;
  let url: string;
  let client: InternalBusClient | undefined;
  let brokerSecret = 'the-brokers-secret-0123';
  const attempts: number[] = [];
  const lines: Array<Record<string, unknown>> = [];

  beforeEach(async () => {
    aedes = await Aedes.createBroker({
      authenticate: (_client, _username, password, done) => {
        attempts.push(Date.now());
        if (password?.toString() === brokerSecret) return done(null, true);
        done(Object.assign(new Error('bad internal credentials'), { returnCode: 4 }) as never, false);
      },
    });
    server = createServer(aedes.handle);
    const port = await freePort();
    server.listen(port, '127.0.0.1');
    await once(server, 'listening');
    url = `mqtt://127.0.0.1:${port}`;
  });
  afterEach(async () => {
    await client?.close();
    await new Promise<void>((resolve) => aedes.close(() => resolve()));
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('says IOC_INTERNAL_SECRET once, retries only every refusedRetryMs, and reconnects once the secrets agree', async () => {
    client = InternalBusClient.connect(
      {
        brokerUrl: url,
        clientId: 'ioc-api-test',
        secret: 'a-different-secret-4567',
        logger: pino(
          { level: 'info' },
          new Writable({
            write(chunk: Buffer, _encoding, done) {
              lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
              done();
            },
          }),
        ),
        // A blind retry would come every 20 ms.
        reconnectPeriodMs: 20,
        refusedRetryMs: 400,
      },
      {},
    );
    const bus = client;
    await until(() => bus.refused === 'internal-secret', 'the refusal');
    expect(bus.connected).toBe(false);
    // Retried (mqtt.js alone never does after a refused CONNACK), but only after refusedRetryMs.
    await until(() => attempts.length >= 3, 'three attempts');
    for (let i = 1; i < attempts.length; i++)
      expect((attempts[i] as number) - (attempts[i - 1] as number)).toBeGreaterThanOrEqual(350);
    const errors = lines.filter((line) => line['level'] === 50);
    expect(errors).toHaveLength(1);
    expect(String(errors[0]?.['msg'])).toContain('IOC_INTERNAL_SECRET differs from the broker');
    expect(JSON.stringify(lines)).not.toContain('a-different-secret-4567');
    // The broker's operator fixes the secret: the service connects at its next attempt.
    brokerSecret = 'a-different-secret-4567';
    await until(() => bus.connected, 'the connection once the secrets agree');
    expect(bus.refused).toBeUndefined();
    expect(lines.some((line) => line['msg'] === 'the broker accepts the internal secret again')).toBe(true);
  }, 20_000);
});

async function until(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
