import { type Socket, connect } from 'node:net';

/**
 * A bare MQTT 3.1.1 client over TCP for tests that need what MQTT.js will not send: an empty
 * client id with clean=false, a repeated QoS 2 PUBLISH (DUP=1, same packet id) before PUBREL,
 * a fixed header announcing a body that never comes. Frames are built by hand (MQTT 3.1.1 §2, §3).
 */

/** Control packet types, MQTT 3.1.1 §2.2.1. */
export const PACKET_TYPE = {
  CONNECT: 1,
  CONNACK: 2,
  PUBLISH: 3,
  PUBACK: 4,
  PUBREC: 5,
  PUBREL: 6,
  PUBCOMP: 7,
  SUBSCRIBE: 8,
  SUBACK: 9,
} as const;

export interface RawPacket {
  type: number;
  flags: number;
  body: Buffer;
}

/** Remaining length as MQTT's variable byte integer (§2.2.3): 1–4 bytes, up to 268,435,455. */
export function remainingLength(n: number): Buffer {
  const bytes: number[] = [];
  let value = n;
  do {
    let byte = value % 128;
    value = Math.floor(value / 128);
    if (value > 0) byte |= 0x80;
    bytes.push(byte);
  } while (value > 0);
  return Buffer.from(bytes);
}

function field(text: string | Buffer): Buffer {
  const body = typeof text === 'string' ? Buffer.from(text, 'utf8') : text;
  const length = Buffer.alloc(2);
  length.writeUInt16BE(body.length, 0);
  return Buffer.concat([length, body]);
}

function frame(firstByte: number, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from([firstByte]), remainingLength(body.length), body]);
}

function packetId(id: number): Buffer {
  const out = Buffer.alloc(2);
  out.writeUInt16BE(id, 0);
  return out;
}

export function connectFrame(options: {
  clientId: string;
  clean: boolean;
  username?: string;
  password?: string;
  will?: { topic: string; payload: string; qos?: 0 | 1 | 2; retain?: boolean };
}): Buffer {
  let flags = options.clean ? 0x02 : 0;
  const parts: Buffer[] = [field(options.clientId)];
  if (options.will) {
    flags |= 0x04 | ((options.will.qos ?? 0) << 3) | (options.will.retain ? 0x20 : 0);
    parts.push(field(options.will.topic), field(options.will.payload));
  }
  if (options.username !== undefined) {
    flags |= 0x80;
    parts.push(field(options.username));
  }
  if (options.password !== undefined) {
    flags |= 0x40;
    parts.push(field(options.password));
  }
  // Protocol name "MQTT", level 4 (3.1.1), flags, keep alive 0 (none).
  const header = Buffer.from([0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x04, flags, 0, 0]);
  return frame(0x10, Buffer.concat([header, ...parts]));
}

export function publishFrame(options: {
  topic: string;
  payload: string | Buffer;
  qos: 0 | 1 | 2;
  messageId?: number;
  dup?: boolean;
  retain?: boolean;
}): Buffer {
  const first = 0x30 | (options.dup ? 0x08 : 0) | (options.qos << 1) | (options.retain ? 1 : 0);
  const parts = [field(options.topic)];
  if (options.qos > 0) parts.push(packetId(options.messageId ?? 1));
  parts.push(typeof options.payload === 'string' ? Buffer.from(options.payload) : options.payload);
  return frame(first, Buffer.concat(parts));
}

export function pubrelFrame(messageId: number): Buffer {
  return frame(0x62, packetId(messageId));
}

export function subscribeFrame(messageId: number, topic: string, qos: 0 | 1 | 2): Buffer {
  return frame(0x82, Buffer.concat([packetId(messageId), field(topic), Buffer.from([qos])]));
}

/** One TCP connection speaking raw MQTT frames; every packet received is kept in `received`. */
export class RawMqttConnection {
  readonly received: RawPacket[] = [];
  readonly closed: Promise<void>;
  private pending = Buffer.alloc(0);
  private readonly waiters = new Set<() => void>();
  private isClosed = false;

  private constructor(private readonly socket: Socket) {
    this.closed = new Promise((resolve) =>
      socket.once('close', () => {
        this.isClosed = true;
        resolve();
        for (const wake of this.waiters) wake();
      }),
    );
    socket.on('error', () => undefined);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
  }

  static open(port: number): Promise<RawMqttConnection> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, '127.0.0.1', () => {
        socket.off('error', reject);
        resolve(new RawMqttConnection(socket));
      });
      socket.once('error', reject);
    });
  }

  get isOpen(): boolean {
    return !this.isClosed;
  }

  send(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  /** Sends CONNECT and resolves with the CONNACK return code (§3.2.2.3). */
  async connect(options: Parameters<typeof connectFrame>[0]): Promise<number> {
    this.send(connectFrame(options));
    const connack = await this.next((p) => p.type === PACKET_TYPE.CONNACK, 'CONNACK');
    return connack.body[1] ?? -1;
  }

  /** Resolves with the first received packet (from the start of the connection) matching `match`. */
  next(match: (packet: RawPacket) => boolean, what: string, timeoutMs = 5000): Promise<RawPacket> {
    return this.until(() => this.received.find(match), what, timeoutMs);
  }

  /** Resolves once `count` received packets match. */
  count(match: (packet: RawPacket) => boolean, count: number, what: string, timeoutMs = 5000): Promise<void> {
    return this.until(
      () => (this.received.filter(match).length >= count ? true : undefined),
      what,
      timeoutMs,
    ).then(() => undefined);
  }

  private until<T>(probe: () => T | undefined, what: string, timeoutMs: number): Promise<T> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        const found = probe();
        if (found !== undefined) {
          finish();
          resolve(found);
          return true;
        }
        if (this.isClosed) {
          finish();
          reject(new Error(`connection closed while waiting for ${what}`));
          return true;
        }
        return false;
      };
      const timer = setTimeout(() => {
        finish();
        reject(new Error(`timed out waiting for ${what}`));
      }, timeoutMs);
      const wake = (): void => void check();
      const finish = (): void => {
        clearTimeout(timer);
        this.waiters.delete(wake);
      };
      if (!check()) this.waiters.add(wake);
    });
  }

  close(): Promise<void> {
    this.socket.destroy();
    return this.closed;
  }

  private onData(chunk: Buffer): void {
    this.pending = Buffer.concat([this.pending, chunk]);
    for (;;) {
      if (this.pending.length < 2) break;
      let length = 0;
      let multiplier = 1;
      let offset = 1;
      let complete = false;
      while (offset < this.pending.length && offset <= 4) {
        const byte = this.pending[offset++] as number;
        length += (byte & 0x7f) * multiplier;
        multiplier *= 128;
        if ((byte & 0x80) === 0) {
          complete = true;
          break;
        }
      }
      if (!complete || this.pending.length < offset + length) break;
      const first = this.pending[0] as number;
      this.received.push({
        type: first >> 4,
        flags: first & 0x0f,
        body: this.pending.subarray(offset, offset + length),
      });
      this.pending = this.pending.subarray(offset + length);
    }
    for (const wake of [...this.waiters]) wake();
  }
}

/** The packet id of a PUBACK/PUBREC/PUBREL/PUBCOMP body. */
export function ackId(packet: RawPacket): number {
  return packet.body.readUInt16BE(0);
}
