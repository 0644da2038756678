import { Readable } from 'node:stream';
import Redis, { type Command } from 'ioredis';
import type { AedesOptions } from 'aedes';
import aedesPersistenceRedis from 'aedes-persistence-redis';
import mqemitterRedis = require('mqemitter-redis');
import { DISCARD_TOPIC } from './authorize-publish';
import { REDIS_KEY_PREFIX, type Logger, watchRedisConnection } from '@ioc/runtime';
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

/**
 * How long after its own re-subscription a node waits at most to hear the other nodes it knew
 * before a Redis outage (ms): two heartbeat intervals. A node that stopped meanwhile is not waited
 * for longer than this.
 */
export const CLUSTER_PEER_WAIT_MS = 2 * CLUSTER_HEARTBEAT_MS;

/** Where BusPublishGate reports (a part of Logger). */
type GateLogger = Pick<Logger, 'info' | 'warn'>;

/**
 * Holds a node's publishes on the shared bus while subscriptions are not in place in Redis.
 *
 * Redis pub/sub delivers a PUBLISH only to the connections subscribed at that moment. The bus has
 * two connections (mqemitter-redis' publisher and subscriber) which reconnect on their own after
 * a Redis outage: when the publisher is back first, it sends what waited in its offline queue
 * (commands, reading batches, the persistence's `$SYS/sub/…` broadcasts, which it then waits for
 * itself) before the subscriber has subscribed again (ioredis' autoResubscribe), and Redis drops
 * them — e.g. a command whose PUBACK the API got, that never reaches its device. Two conditions:
 *
 * 1. This node's subscriptions are confirmed: after each (re)connection of the subscriber a PING
 *    goes behind its re-subscriptions (replies come in order); once it is answered, and while both
 *    connections stay ready, this node's own subscribers get what it publishes.
 * 2. After an outage, the other nodes heard from in the three heartbeats before it have been heard
 *    again (any node's heartbeat, `$SYS/<id>/heartbeat`): each node holds its publishes behind its
 *    own condition 1, so a message from it proves that its subscriptions are back too. A node not
 *    heard within CLUSTER_PEER_WAIT_MS is not waited for any longer. This node's own heartbeat
 *    needs only condition 1 (else two nodes would wait for each other).
 *
 * Held publishes go out in the order they were made. Each node sends its heartbeats every
 * CLUSTER_HEARTBEAT_MS, so condition 2 holds publishes up to about that long after an outage.
 */
export class BusPublishGate {
  private subscribed = false;
  /** Other nodes (aedes ids) to hear from before condition 2 holds. */
  private awaiting = new Set<string>();
  /** Other nodes known before the outage now going on. */
  private expected = new Set<string>();
  private readonly lastHeard = new Map<string, number>();
  private held: Array<{ topic: string; publish: () => void }> = [];
  private peerTimer: NodeJS.Timeout | undefined;
  private readonly ownHeartbeat: string;
  /** Whether the subscriber was subscribed once already (what follows is a reconnection). */
  private wasSubscribed = false;
  /** When this node's subscriptions were last confirmed (epoch ms); undefined while they are not. */
  private subscribedSince: number | undefined;
  private closed = false;

  /**
   * @param subConn mqemitter-redis' subscriber connection, @param pubConn its publisher
   * @param options.selfId this node's aedes id; options.heartbeatMs aedes' heartbeatInterval;
   *   options.peerWaitMs the longest wait for other nodes after an outage (CLUSTER_PEER_WAIT_MS)
   */
  constructor(
    private readonly subConn: Redis,
    private readonly pubConn: Redis,
    private readonly options: {
      selfId: string;
      heartbeatMs: number;
      peerWaitMs: number;
      logger?: GateLogger;
      now?: () => number;
    },
  ) {
    this.ownHeartbeat = `$SYS/${options.selfId}/heartbeat`;
    subConn.on('ready', () => {
      // 'ready' is emitted a tick after ioredis wrote the re-subscriptions: this PING follows
      // them and is answered after them.
      subConn.ping().then(
        () => {
          if (subConn.status === 'ready' && !this.subscribed) this.onSubscribed();
        },
        () => undefined, // the connection dropped again: the next 'ready' pings again
      );
    });
    subConn.on('close', () => this.onLost());
    pubConn.on('ready', () => this.release());
  }

  /** A message from node `aedesId` arrived through Redis (its heartbeat). */
  heard(aedesId: string): void {
    if (aedesId === this.options.selfId) return;
    this.lastHeard.set(aedesId, this.now());
    if (this.awaiting.delete(aedesId) && this.awaiting.size === 0) {
      clearTimeout(this.peerTimer);
      this.release();
    }
  }

  /** Runs `publish` (a publish on `topic`) now if it may go, else once it may, after those held before it. */
  pass(topic: string, publish: () => void): void {
    if (this.closed) publish();
    else if (this.mayPublish(topic) && (this.held.length === 0 || topic === this.ownHeartbeat)) publish();
    else this.held.push({ topic, publish });
  }

  /**
   * The bus is closing: sends everything held (into ioredis' queue, or a closed bus's error) so
   * that each publish gets an answer rather than none, and lets every later one through.
   */
  close(): void {
    this.closed = true;
    clearTimeout(this.peerTimer);
    this.release(true);
  }

  /** Sends what may go now, in order (with `force`, everything). */
  private release(force = false): void {
    const held = this.held;
    this.held = [];
    for (const entry of held) {
      // Order is kept among the held publishes: once one must wait, so does every later one
      // (except this node's heartbeats, which carry nothing but liveness).
      if (
        force ||
        ((this.held.length === 0 || entry.topic === this.ownHeartbeat) && this.mayPublish(entry.topic))
      )
        entry.publish();
      else this.held.push(entry);
    }
  }

  private mayPublish(topic: string): boolean {
    const ready = this.subscribed && this.subConn.status === 'ready' && this.pubConn.status === 'ready';
    return ready && (topic === this.ownHeartbeat || this.awaiting.size === 0);
  }

  /**
   * How long the bus has been whole without a break (ms): since this node's subscriptions were last
   * confirmed; 0 while they are not. Heartbeats missed in a shorter time say nothing of a node.
   */
  steadyForMs(): number {
    return this.subscribed && this.subscribedSince !== undefined ? this.now() - this.subscribedSince : 0;
  }

  private onLost(): void {
    if (!this.subscribed) return;
    this.subscribed = false;
    this.subscribedSince = undefined;
    clearTimeout(this.peerTimer);
    const recent = this.now() - 3 * this.options.heartbeatMs;
    for (const [node, at] of this.lastHeard) if (at >= recent) this.expected.add(node);
    for (const node of this.awaiting) this.expected.add(node);
    this.awaiting.clear();
  }

  private onSubscribed(): void {
    this.subscribed = true;
    this.subscribedSince = this.now();
    this.awaiting = this.expected;
    this.expected = new Set();
    if (this.wasSubscribed) {
      this.options.logger?.info(
        { held: this.held.length, waitingFor: [...this.awaiting] },
        'bus subscriptions back in Redis; sending what was held once the other broker nodes are heard',
      );
    }
    this.wasSubscribed = true;
    if (this.awaiting.size > 0) {
      this.peerTimer = setTimeout(() => {
        this.options.logger?.warn(
          { nodes: [...this.awaiting], waitedMs: this.options.peerWaitMs },
          'broker nodes not heard after the Redis outage; publishing without them',
        );
        this.awaiting.clear();
        this.release();
      }, this.options.peerWaitMs);
      this.peerTimer.unref();
    }
    this.release();
  }

  private now(): number {
    return (this.options.now ?? Date.now)();
  }
}

/** aedes' table of the nodes it heard lately: aedes id → when (epoch ms) — `brokers` in aedes.js. */
type HeardBrokers = Record<string, number>;

/**
 * Keeps aedes from publishing the wills of nodes that are alive.
 *
 * Every four heartbeat intervals aedes publishes the wills left in Redis by nodes it has not heard
 * for three (aedes.js `_clearWills`). Heartbeats travel through Redis, so after a Redis outage of
 * more than three intervals every node — this one included — looks gone: aedes would publish the
 * wills of devices connected right now (an `online: false` status for a live device), and delete
 * them. It then asks the persistence for the wills of the nodes not in its table
 * (`streamWill(brokers)`), which is where this guard sits:
 * - this node is alive: it is put in the table;
 * - while the bus has not been steady for three heartbeat intervals (down, or back for less time
 *   than a live node needs to be heard again), no will is offered at all; the next pass decides.
 *
 * A will a pass does offer is judged in authorizePublish (its client back online: discarded;
 * not the device's own topic: refused), and never answered with an error there: aedes runs the
 * wills of a pass as promises it gathers late (lib/utils.js `batch`), so a refusal would be an
 * unhandled rejection that ends the process.
 */
export function guardOrphanWills(
  persistence: NonNullable<AedesOptions['persistence']>,
  gate: Pick<BusPublishGate, 'steadyForMs'>,
  selfId: string,
  heartbeatMs: number,
): void {
  const target = persistence as unknown as { streamWill(brokers: HeardBrokers): AsyncIterable<unknown> };
  const streamWill = target.streamWill.bind(target);
  target.streamWill = (brokers: HeardBrokers) => {
    brokers[selfId] = Date.now();
    if (gate.steadyForMs() < 3 * heartbeatMs) return Readable.from([]);
    return streamWill(brokers);
  };
}

/** The parts of aedes that live in Redis for a node of a scale-out installation. */
export interface BrokerClusterParts {
  /** aedes `id`: `ioc-broker-<IOC_BROKER_ID>` (names its wills and queued packets in Redis). */
  id: string;
  /** aedes' heartbeatInterval (ms): BrokerClusterOptions.heartbeatMs, else CLUSTER_HEARTBEAT_MS. */
  heartbeatMs: number;
  /**
   * mqemitter-redis on channels `ioc:mqtt:…`: every node's publishes reach every node's
   * subscribers; they pass a BusPublishGate (held while subscriptions are not back after an outage).
   */
  mq: NonNullable<AedesOptions['mq']>;
  /**
   * aedes-persistence-redis under `ioc:aedes:…`: retained messages, sessions, queues, wills. Its
   * wills are offered to aedes only while the bus is steady (see guardOrphanWills).
   */
  persistence: NonNullable<AedesOptions['persistence']>;
  /**
   * A connection for the CONNECT-time checks every node shares (SessionLedger, RedisFailedLoginLimiter).
   * Like the others its commands wait out a Redis outage (a CONNECT then waits, as it does for
   * aedes' session lookup); the failed-login counters do not wait (see RedisFailedLoginLimiter).
   */
  admission: Redis;
  /** Resolves once `admission` is connected (it refuses commands until then). */
  ready(): Promise<void>;
  /**
   * Releases what aedes does not: the persistence's connection (aedes closes the mq itself in
   * close()). Call after the broker closed; resolves within CLUSTER_CLOSE_TIMEOUT_MS even if Redis is down.
   */
  close(): Promise<void>;
}

/**
 * Builds aedes' message bus and persistence on Redis (IOC_REDIS_URL) for broker node `brokerId`:
 * three ioredis connections (mqemitter-redis' publisher and subscriber, the persistence's). ioredis
 * reconnects by itself after a Redis outage; errors are logged once per outage and connection
 * (watchRedisConnection), never thrown.
 */
export function createBrokerClusterParts(options: BrokerClusterOptions, logger: Logger): BrokerClusterParts {
  const heartbeatMs = options.heartbeatMs ?? CLUSTER_HEARTBEAT_MS;
  const redisLogger = logger.child({ component: 'redis' });
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
    // Its error listener: one warn per outage (not one per reconnection attempt), one info when back.
    watchRedisConnection(redis, redisLogger, what);
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
  // mqemitter-redis re-emits its two connections' errors here: already logged once per outage by
  // their own listeners (watchRedisConnection), so only at debug level.
  mq.state.on('error', (error: Error) =>
    redisLogger.debug({ err: error.message }, 'Redis message bus error'),
  );
  // Every device publish is diverted to DISCARD_TOPIC before aedes emits it (authorizePublish):
  // it reaches no subscriber on any node, so it does not go to Redis at all. Otherwise each
  // reading would cost a Redis PUBLISH (and its PUBACK a Redis round trip): the nodes share only
  // what is routed — reading batches, commands, statuses — not the raw device traffic.
  const emit = mq.emit.bind(mq);
  const gate = new BusPublishGate(mq.subConn, mq.pubConn, {
    selfId: aedesIdOf(options.brokerId),
    heartbeatMs,
    peerWaitMs: 2 * heartbeatMs,
    logger: redisLogger,
  });
  mq.emit = (packet: { topic: string }, done?: (error?: Error) => void): void => {
    if (packet.topic === DISCARD_TOPIC) done?.();
    else gate.pass(packet.topic, () => emit(packet, done));
  };
  mq.on('$SYS/+/heartbeat', (packet: { payload: Buffer | string }, callback: () => void) => {
    gate.heard(packet.payload.toString());
    callback();
  });
  const close = mq.close.bind(mq);
  mq.close = (callback: () => void): void => {
    gate.close();
    close(callback);
  };
  const persistenceConnection = connection('persistence', { keyPrefix: REDIS_PERSISTENCE_PREFIX });
  const persistence = aedesPersistenceRedis({ conn: persistenceConnection });
  guardOrphanWills(persistence, gate, aedesIdOf(options.brokerId), heartbeatMs);
  const admission = connection('admission');
  return {
    id: aedesIdOf(options.brokerId),
    heartbeatMs,
    mq,
    persistence,
    admission,
    async ready() {
      if (admission.status === 'ready') return;
      await new Promise<void>((resolve) => admission.once('ready', () => resolve()));
    },
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
      for (const redis of [persistenceConnection, mq.subConn, mq.pubConn, admission]) {
        if (redis.status !== 'end') redis.disconnect();
      }
    },
  };
}
