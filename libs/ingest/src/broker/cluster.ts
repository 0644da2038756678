import Redis, { type Command } from 'ioredis';
import type { AedesOptions } from 'aedes';
import aedesPersistenceRedis from 'aedes-persistence-redis';
import mqemitterRedis = require('mqemitter-redis');
import { DISCARD_TOPIC } from './authorize-publish';
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

/**
 * aedes' heartbeatInterval on a node of several (ms; aedes' default, 60 000, on one node): each
 * node publishes `$SYS/<id>/heartbeat` this often; a node silent for three intervals is taken
 * for gone — its sessions are forgotten by the others (ClusterSessions) and aedes publishes the
 * wills it left in Redis (checked every four intervals). 5 s: a crashed node's devices count
 * against nothing after ~15 s, for one tiny message per node every 5 s.
 */
export const CLUSTER_HEARTBEAT_MS = 5000;

/** The aedes id of broker node `brokerId` (IOC_BROKER_ID). */
export function aedesIdOf(brokerId: string): string {
  return `ioc-broker-${brokerId}`;
}

/**
 * How long closing a node waits for Redis (aedes' closing of its clients and bus, the
 * persistence's unsubscriptions) before it drops the connections (ms): a Redis that is down must
 * not hold a shutdown — the spool, not Redis, keeps what was acknowledged.
 */
export const CLUSTER_CLOSE_TIMEOUT_MS = 2000;

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

/**
 * The libraries send some commands without awaiting their replies — aedes-persistence-redis
 * 11.2.2 the `lrem`/`rpush` of the will list (putWill, delWill), mqemitter-redis 7.2.1 its `quit`
 * on close — so one that fails (its connection closed while it is pending, at shutdown or when
 * Redis goes away) would be an unhandled rejection, which ends a Node.js process. Every command's
 * reply gets a handler here; whoever awaits it still gets the same promise, error included.
 */
function observeEveryReply(redis: Redis): void {
  const send = redis.sendCommand.bind(redis);
  redis.sendCommand = ((command: Command, stream?: unknown) => {
    command.promise.catch(() => undefined);
    return (send as (command: Command, stream?: unknown) => unknown)(command, stream);
  }) as Redis['sendCommand'];
}

/** Resolves when `promise` settles or after `ms`, whichever comes first. */
async function settle(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    promise.then(
      () => undefined,
      () => undefined,
    ),
    new Promise<void>((resolve) => (timer = setTimeout(resolve, ms))),
  ]);
  clearTimeout(timer);
}

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
   * close()). Call after the broker closed; resolves within CLUSTER_CLOSE_TIMEOUT_MS even if Redis is down.
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
      // During a Redis outage commands wait for the reconnection however long it takes (ioredis'
      // default fails them after 20 reconnection attempts, ~10 s): a publish then completes late
      // (its PUBACK with it; the reading is already in the spool) rather than failing.
      maxRetriesPerRequest: null,
      ...extra,
    });
    observeEveryReply(redis);
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
  // Every device publish is diverted to DISCARD_TOPIC before aedes emits it (authorizePublish):
  // it reaches no subscriber on any node, so it does not go to Redis at all. Otherwise each
  // reading would cost a Redis PUBLISH (and its PUBACK a Redis round trip): the nodes share only
  // what is routed — reading batches, commands, statuses — not the raw device traffic.
  const emit = mq.emit.bind(mq);
  mq.emit = (packet: { topic: string }, done?: (error?: Error) => void): void => {
    if (packet.topic === DISCARD_TOPIC) done?.();
    else emit(packet, done);
  };
  const persistenceConnection = connection('persistence', { keyPrefix: REDIS_PERSISTENCE_PREFIX });
  const persistence = aedesPersistenceRedis({ conn: persistenceConnection });
  return {
    id: aedesIdOf(options.brokerId),
    mq,
    persistence,
    async close() {
      // Replies come in order: once PING is answered, every command sent before it is done, so
      // the persistence's disconnect (in destroy) cuts none short.
      const drained = persistenceConnection.ping().catch(() => undefined);
      const destroyed = settle(drained, CLUSTER_CLOSE_TIMEOUT_MS)
        .then(() => persistence.destroy())
        .catch((error: Error) =>
          redisLogger.warn({ err: error.message }, 'closing the Redis persistence failed'),
        );
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        destroyed,
        new Promise((resolve) => (timer = setTimeout(resolve, CLUSTER_CLOSE_TIMEOUT_MS))),
      ]);
      clearTimeout(timer);
      for (const redis of [persistenceConnection, mq.subConn, mq.pubConn]) {
        if (redis.status !== 'end') redis.disconnect();
      }
    },
  };
}
