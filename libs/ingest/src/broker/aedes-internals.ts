import type { Aedes, Client, PublishPacket } from 'aedes';

/**
 * The parts of aedes 1.2 the hooks rely on that its type declarations leave out (read from
 * node_modules/aedes: aedes.js, lib/client.js, lib/handlers/publish.js). Kept in one place so an
 * aedes upgrade has one file to check.
 */
export interface AedesInternals {
  /** Connected clients by client id (aedes.js `clients`). */
  clients: Record<string, Client | undefined>;
  persistence: {
    /** Resolves with the stored inbound QoS 2 packet of that client id and packet id; rejects if none. */
    incomingGetPacket(client: Client, packet: { messageId?: number }): Promise<unknown>;
  };
}

/**
 * aedes' delivery of a routed message to one client (lib/client.js `deliver0`, `deliverQoS`): the
 * listener its subscriptions put on the message bus; `callback` once the packet is written (or dropped).
 */
export type Deliver = (packet: PublishPacket, callback: () => void) => void;

export interface ClientInternals {
  /** Delivers at QoS 0; captured by each QoS 0 subscription when it is made (lib/handlers/subscribe.js). */
  deliver0: Deliver;
  /** Delivers at the packet's QoS (1, 2; 0 passes to deliver0); captured by each QoS > 0 subscription. */
  deliverQoS: Deliver;
  /** The CONNECT's will while the CONNECT is processed (set before authenticate; lib/handlers/connect.js). */
  _will: (PublishPacket & Record<string, unknown>) | null | undefined;
  /** The will of the connection, set once CONNECT is accepted; `packet === will` identifies it in authorizePublish. */
  will: PublishPacket | null;
  /**
   * Set by aedes on a DISCONNECT packet (lib/handlers/index.js); when set, close() deletes the
   * will instead of publishing it (lib/client.js).
   */
  _disconnected: boolean;
  /** The client's mqtt-packet parser (lib/client.js `_parser`). */
  _parser: PacketParser;
  conn: {
    remoteAddress?: string;
    remotePort?: number;
    destroy(error?: Error): void;
    once(event: 'close', listener: () => void): unknown;
  };
}

/** mqtt-packet 9's Parser as far as the packet size guard uses it. */
export interface PacketParser {
  /** The packet being parsed; `length` is its remaining length, -1 until decoded. */
  packet: { cmd?: string; length: number };
  error: Error | null;
  /** Bytes received and not yet parsed into a packet (mqtt-packet's BufferList). */
  _list: { length: number };
  /** Parses a socket chunk: emits every complete packet in it and keeps the rest in `_list`. */
  parse(buffer: Buffer): number;
  /** Decodes the remaining length (MQTT 3.1.1 §2.2.3); true once it is complete. */
  _parseLength(): boolean;
  _emitError(error: Error): void;
  /** mqtt-packet's Parser is an EventEmitter: `packet` for each packet completed by `parse`. */
  on(event: 'packet', listener: () => void): unknown;
}

export function aedesInternals(broker: Aedes): AedesInternals {
  return broker as unknown as AedesInternals;
}

export function clientInternals(client: Client): ClientInternals {
  return client as unknown as ClientInternals;
}
