import type { Aedes, Client } from 'aedes';
import { clientInternals, type Deliver } from './aedes-internals';

/**
 * Makes the CONNACK the first packet every connection receives [MQTT-3.2.0-1]: a message routed
 * to a client's subscriptions while its CONNECT is still being processed is held, and handed to
 * aedes' delivery once the CONNACK is written.
 *
 * Why: aedes 1.2 restores a persistent session's subscriptions on the message bus (connect.js
 * `restoreSubs`) before it stores the will and writes the CONNACK (`storeWill`, `doConnack`), and
 * its `write` sends to a client that is still `connecting`. A QoS 1 message arriving in between —
 * with Redis the gap is several round trips, e.g. a command published just as its device
 * reconnects — went out ahead of the CONNACK. mqtt.js (5.x) then queues its PUBACK until it is
 * connected and does not read the next packet until that PUBACK is sent: the CONNACK behind it is
 * never read, and the client gives up with "connack timeout" after its connectTimeout (30 s).
 *
 * A held message keeps its delivery callback, as aedes' own delivery does while a socket drains,
 * so the message bus counts it as in flight until it is written. If the connection closes before
 * its CONNACK, held messages are not delivered (their callbacks are called): the client is gone,
 * and a QoS > 0 message for a persistent session is still in the session's queue, where the
 * publishing node put it (aedes `enqueueOffline`), for its next connection.
 */
export class ConnackFirst {
  private readonly releases = new WeakMap<Client, () => void>();

  constructor(broker: Aedes) {
    // aedes emits `connackSent` from the CONNACK's write callback, before it sets
    // client.connackSent and before it empties the session's queue (connect.js doConnack).
    broker.on('connackSent', (_packet, client) => this.releases.get(client)?.());
  }

  /** Wraps a new connection's delivery functions (call right after aedes' `handle`, before its CONNECT). */
  guard(client: Client): void {
    const internals = clientInternals(client);
    const held: ((send: boolean) => void)[] = [];
    let open = false;
    const release = (): void => {
      if (open) return;
      open = true;
      this.releases.delete(client);
      for (const deliver of held.splice(0)) deliver(true);
    };
    const drop = (): void => {
      open = true;
      this.releases.delete(client);
      for (const deliver of held.splice(0)) deliver(false);
    };
    const hold =
      (deliver: Deliver): Deliver =>
      (packet, callback) => {
        if (open) deliver(packet, callback);
        else held.push((send) => (send ? deliver(packet, callback) : callback()));
      };
    // aedes' subscriptions capture client.deliver0 / client.deliverQoS when they are made
    // (subscribe.js addSubs), so the wrappers are in place before any subscription exists.
    internals.deliver0 = hold(internals.deliver0);
    internals.deliverQoS = hold(internals.deliverQoS);
    this.releases.set(client, release);
    internals.conn.once('close', drop);
  }
}
