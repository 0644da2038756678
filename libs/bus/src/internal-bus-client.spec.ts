import { once } from 'node:events';
import { createServer, type Server } from 'node:net';
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
