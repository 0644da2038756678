import type { Logger } from '@ioc/runtime';

/**
 * Where broker nodes tell each other about their device sessions (on the shared bus, so only with
 * IOC_REDIS_URL): under the reserved `$internal/` namespace, which authorizeForward delivers to
 * platform services only and authorizePublish refuses to every device.
 */
export const INTERNAL_BROKER_SESSIONS_TOPIC = '$internal/ioc/v1/broker-sessions';

/** Sessions per `state` message at most (a bound on one message, ~100 bytes per session). */
const STATE_CHUNK = 1000;

/** One live device session on a broker node. */
export interface NodeSession {
  deviceId: string;
  clientId: string;
  /** When the node accepted it (epoch ms, that node's clock). */
  at: number;
}

/**
 * A message between broker nodes about device sessions:
 * - `open`/`close`: a session began or ended on `node`;
 * - `sync`: `node` just started and asks the others for their sessions;
 * - `state`: `node`'s live sessions (all of them, in chunks), the answer to a `sync`.
 */
export type ClusterSessionMessage =
  | ({ kind: 'open' | 'close'; node: string } & NodeSession)
  | { kind: 'sync'; node: string }
  | { kind: 'state'; node: string; sessions: NodeSession[] };

/** What the tracker (DeviceStatusTracker) is told about sessions on other nodes. */
export interface RemoteSessionObserver {
  /** Another node holds a live session of the device: this node does not judge its status. */
  connectedElsewhere?(deviceId: string): void;
  /** No node but this one is known to hold a session of the device any more. */
  releasedElsewhere?(deviceId: string): void;
}

/**
 * The device sessions of the other broker nodes, as they announced them on the shared bus:
 * so that one device's sessions count against IOC_MQTT_MAX_SESSIONS_PER_DEVICE whichever node
 * holds them, a client id bound to one device on one node is refused to another device on
 * another, and a device that moved to another node is not marked offline by the node it left.
 *
 * Ordering: a node announces `open` before aedes announces the new client on the bus (the
 * `$SYS/<id>/new/clients` that makes the other nodes close a connection with the same client id,
 * [MQTT-3.1.4-2]); both travel on one Redis connection, so the node that closes the old
 * connection has heard of the new session first.
 *
 * A node's sessions are forgotten when it announces its birth (it restarted, with none) and when
 * it has not been heard from (heartbeat, any message) for `staleAfterMs` (it is gone: its devices
 * reconnect elsewhere); one heard again after that (the bus was away) is asked for them again.
 */
export class ClusterSessions {
  /** node → clientId → session */
  private readonly byNode = new Map<string, Map<string, NodeSession>>();
  /** deviceId → live remote sessions (over all other nodes) */
  private readonly byDevice = new Map<string, Set<NodeSession>>();
  private readonly lastHeard = new Map<string, number>();
  private readonly local = new Map<string, NodeSession>();
  /** Nodes forgotten for their silence: if heard again (it was the bus, e.g. a Redis outage), asked again. */
  private readonly silent = new Set<string>();

  constructor(
    private readonly options: {
      /** This node's aedes id. */
      node: string;
      /** Publishes a message to every node (this one included) on INTERNAL_BROKER_SESSIONS_TOPIC. */
      publish: (message: ClusterSessionMessage) => void;
      observer?: RemoteSessionObserver;
      /** After this long without a word from a node, its sessions are forgotten (ms). */
      staleAfterMs: number;
      logger: Logger;
      now?: () => number;
    },
  ) {}

  /** A device session began on this node: announced to the others. */
  opened(session: NodeSession): void {
    this.local.set(session.clientId, session);
    this.options.publish({ kind: 'open', node: this.options.node, ...session });
  }

  /** A device session on this node ended (only the connection that holds the client id now). */
  closed(session: NodeSession): void {
    if (this.local.get(session.clientId) === session) this.local.delete(session.clientId);
    this.options.publish({ kind: 'close', node: this.options.node, ...session });
  }

  /** Asks the other nodes for their sessions (once this node listens on the topic). */
  requestSync(): void {
    this.options.publish({ kind: 'sync', node: this.options.node });
  }

  /** Live sessions of `deviceId` on other nodes, not counting `exceptClientId` (about to be taken over). */
  remoteSessionCount(deviceId: string, exceptClientId?: string): number {
    let count = 0;
    for (const session of this.byDevice.get(deviceId) ?? []) if (session.clientId !== exceptClientId) count++;
    return count;
  }

  /** The device a live session on another node holds `clientId` for, if any. */
  remoteOwnerOf(clientId: string): string | undefined {
    for (const sessions of this.byNode.values()) {
      const session = sessions.get(clientId);
      if (session) return session.deviceId;
    }
    return undefined;
  }

  /** Whether another node holds a live session of the device. */
  heldElsewhere(deviceId: string): boolean {
    return (this.byDevice.get(deviceId)?.size ?? 0) > 0;
  }

  /**
   * Something was heard from `node` (its aedes heartbeat): it is alive. A node forgotten for its
   * silence that is heard again was cut off, not gone (a Redis outage longer than staleAfterMs):
   * this node asks for the sessions again (`sync`), as at its start.
   */
  heardFrom(node: string): void {
    if (node === this.options.node) return;
    this.lastHeard.set(node, this.now());
    if (this.silent.delete(node)) {
      this.options.logger.info(
        { node },
        'broker node heard again after its silence; asking for its sessions',
      );
      this.requestSync();
    }
  }

  /** `node` (re)started: whatever it held before is gone. */
  born(node: string): void {
    if (node === this.options.node) return;
    this.silent.delete(node);
    this.forget(node, 'restarted');
    this.lastHeard.set(node, this.now());
  }

  /** Forgets the nodes not heard from for staleAfterMs. */
  sweep(): void {
    const now = this.now();
    for (const [node, at] of this.lastHeard) {
      if (now - at > this.options.staleAfterMs) {
        this.lastHeard.delete(node);
        this.silent.add(node);
        this.forget(node, 'silent');
      }
    }
  }

  /** Handles a message from INTERNAL_BROKER_SESSIONS_TOPIC (this node's own included, ignored). */
  receive(message: ClusterSessionMessage): void {
    if (message.node === this.options.node) return;
    this.heardFrom(message.node);
    switch (message.kind) {
      case 'open':
        this.add(message.node, { deviceId: message.deviceId, clientId: message.clientId, at: message.at });
        break;
      case 'close':
        this.remove(message.node, message.clientId, message.at);
        break;
      case 'sync': {
        const sessions = [...this.local.values()];
        for (let start = 0; start < sessions.length || start === 0; start += STATE_CHUNK) {
          this.options.publish({
            kind: 'state',
            node: this.options.node,
            sessions: sessions.slice(start, start + STATE_CHUNK),
          });
        }
        break;
      }
      case 'state':
        for (const session of message.sessions) this.add(message.node, session);
        break;
    }
  }

  private add(node: string, session: NodeSession): void {
    let sessions = this.byNode.get(node);
    if (!sessions) this.byNode.set(node, (sessions = new Map()));
    const previous = sessions.get(session.clientId);
    // Replaced by a newer session of the same client id: no release in between.
    if (previous) this.unindex(previous, previous.deviceId !== session.deviceId);
    sessions.set(session.clientId, session);
    let ofDevice = this.byDevice.get(session.deviceId);
    if (!ofDevice) this.byDevice.set(session.deviceId, (ofDevice = new Set()));
    ofDevice.add(session);
    this.options.observer?.connectedElsewhere?.(session.deviceId);
  }

  private remove(node: string, clientId: string, at: number): void {
    const sessions = this.byNode.get(node);
    const session = sessions?.get(clientId);
    // A close older than the session known (a reconnection on that node overtook it) changes nothing.
    if (!sessions || !session || session.at > at) return;
    sessions.delete(clientId);
    this.unindex(session);
  }

  private unindex(session: NodeSession, notify = true): void {
    const ofDevice = this.byDevice.get(session.deviceId);
    ofDevice?.delete(session);
    if (ofDevice?.size === 0) {
      this.byDevice.delete(session.deviceId);
      if (notify) this.options.observer?.releasedElsewhere?.(session.deviceId);
    }
  }

  private forget(node: string, why: string): void {
    const sessions = this.byNode.get(node);
    if (!sessions) return;
    this.byNode.delete(node);
    if (sessions.size > 0) {
      this.options.logger.info(
        { node, sessions: sessions.size, why },
        'sessions of another broker node forgotten',
      );
    }
    for (const session of sessions.values()) this.unindex(session);
  }

  private now(): number {
    return (this.options.now ?? Date.now)();
  }
}
