import Redis from 'ioredis';
import type { AedesOptions } from 'aedes';
import aedesPersistenceRedis from 'aedes-persistence-redis';
import mqemitterRedis = require('mqemitter-redis');
import { REDIS_KEY_PREFIX, type Logger } from '@ioc/runtime';
import type { BrokerClusterOptions } from '../broker-config';

/**
 * Prefix of the Redis pub/sub channels of the broker nodes' shared message bus (mqemitter-redis):
 * an MQTT topic `t` travels on channel `ioc:mqtt:t`.
 */
export const REDIS_MQ_PREFIX = `${REDIS_KEY_PREFIX}mqtt:`;
/**
 * Prefix of the keys of the broker nodes' shared MQTT state (aedes-persistence-redis, through
 * ioredis' keyPrefix): `ioc:aedes:retained` (hash topic → packet), `ioc:aedes:clients` (set of
 * client ids with a persistent session), `ioc:aedes:client:{clientId}` (hash topic → subscription),
 * `ioc:aedes:outgoing:{clientId}` (list of queued packet keys), `ioc:aedes:outgoing-id:…`,
 * `ioc:aedes:packet:{brokerId}:{counter}` (a queued packet and its offlineCount),
 * `ioc:aedes:incoming:…` (inbound QoS 2 awaiting PUBREL), `ioc:aedes:will`, `ioc:aedes:will:…`.
 */
export const REDIS_PERSISTENCE_PREFIX = `${REDIS_KEY_PREFIX}aedes:`;

/** The aedes id of broker node `brokerId` (IOC_BROKER_ID). */
export function aedesIdOf(brokerId: string): string {
  return `ioc-broker-${brokerId}`;
}

/**
 * How long closing waits for Redis to answer QUIT before it drops the connections (ms): a Redis
 * that is down must not hold a shutdown.
 */
const CLOSE_TIMEOUT_MS = 2000;

/** mqemitter-redis' prefixed emitter, exported by the module but left out of its declarations. */
type PrefixedEmitterClass = new (
  prefix: string,
  options: Record<string, unknown>,
) => NonNullable<AedesOptions['mq']> & {
  subConn: Redis;
  pubConn: Redis;
  state: { on(event: 'error', listener: (error: Error) => void): unknown };
  close(callback: () => void): void;
};

/** The parts of aedes that live in Redis for a node of a scale-out installation. */
export interface BrokerClusterParts {
  /** aedes `id`: `ioc-broker-<IOC_BROKER_ID>` (names its wills and queued packets in Redis). */
  id: string;
  /** mqemitter-redis on channels `ioc:mqtt:…`: every node's publishes reach every node's subscribers. */
  mq: NonNullable<AedesOptions['mq']>;
  /** aedes-persistence-redis under `ioc:aedes:…`: retained messages, sessions, queues, wills. */
  persistence: NonNullable<AedesOptions['persistence']>;
  /**
   * Releases what aedes does not: the persistence's connection (aedes closes the mq itself in
   * close()). Call after the broker closed; resolves within CLOSE_TIMEOUT_MS even if Redis is down.
   */
  close(): Promise<void>;
}

/**
 * Builds aedes' message bus and persistence on Redis (IOC_REDIS_URL) for broker node `brokerId`:
 * three ioredis connections (mqemitter-redis' publisher and subscriber, the persistence's). ioredis
 * reconnects by itself after a Redis outage; errors are logged, never thrown.
 */
export function createBrokerClusterParts(options: BrokerClusterOptions, logger: Logger): BrokerClusterParts {
  const redisLogger = logger.child({ component: 'redis' });
  const onError = (what: string) => {
    // ioredis reports each failed reconnection attempt: one warn per outage, not per attempt.
    let reported = false;
    return (error: Error): void => {
      if (reported) return;
      reported = true;
      redisLogger.warn({ err: error.message, connection: what }, 'Redis connection error; reconnecting');
    };
  };
  const connection = (what: string, extra: Record<string, unknown> = {}): Redis => {
    const redis = new Redis(options.redisUrl, {
      connectionName: `${aedesIdOf(options.brokerId)}:${what}`,
      ...extra,
    });
    const report = onError(what);
    redis.on('error', report);
    return redis;
  };
  const Prefixed = (mqemitterRedis as unknown as { MQEmitterRedisPrefix: PrefixedEmitterClass })
    .MQEmitterRedisPrefix;
  const mq = new Prefixed(REDIS_MQ_PREFIX, {
    // aedes' own defaults for its in-memory mqemitter (aedes.js): the same delivery semantics.
    concurrency: 100,
    matchEmptyLevels: true, // [MQTT-4.7.1-3]
    // mqemitter-redis turns on auto-pipelining; separate connections, so it can own them.
    subConn: connection('mq-sub'),
    pubConn: connection('mq-pub'),
  });
  mq.state.on('error', (error: Error) => redisLogger.warn({ err: error.message }, 'Redis message bus error'));
  const persistenceConnection = connection('persistence', { keyPrefix: REDIS_PERSISTENCE_PREFIX });
  const persistence = aedesPersistenceRedis({ conn: persistenceConnection });
  return {
    id: aedesIdOf(options.brokerId),
    mq,
    persistence,
    async close() {
      const destroyed = Promise.resolve()
        .then(() => persistence.destroy())
        .catch((error: Error) =>
          redisLogger.warn({ err: error.message }, 'closing the Redis persistence failed'),
        );
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        destroyed,
        new Promise((resolve) => (timer = setTimeout(resolve, CLOSE_TIMEOUT_MS))),
      ]);
      clearTimeout(timer);
      for (const redis of [persistenceConnection, mq.subConn, mq.pubConn]) {
        if (redis.status !== 'end') redis.disconnect();
      }
    },
  };
}
