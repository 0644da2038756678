/**
 * Just enough MQTT 3.1.1 framing for a load generator and a no-op subscriber: CONNECT,
 * SUBSCRIBE, PUBLISH (QoS 0/1) and DISCONNECT out, and a frame splitter for what comes back.
 * Encoding a PUBLISH is a few buffer copies, so the generator costs little CPU per message and
 * the broker, not the generator, is what a benchmark measures.
 */

export const PACKET = {
  CONNECT: 1,
  CONNACK: 2,
  PUBLISH: 3,
  PUBACK: 4,
  SUBSCRIBE: 8,
  SUBACK: 9,
  PINGRESP: 13,
  DISCONNECT: 14,
} as const;

/** Bytes the remaining-length varint takes. */
export function varintLength(n: number): number {
  return n < 128 ? 1 : n < 16_384 ? 2 : n < 2_097_152 ? 3 : 4;
}

export function writeVarint(buf: Buffer, offset: number, n: number): number {
  let value = n;
  do {
    let byte = value % 128;
    value = Math.floor(value / 128);
    if (value > 0) byte |= 0x80;
    buf[offset++] = byte;
  } while (value > 0);
  return offset;
}

function utf8Field(text: string | Buffer): Buffer {
  const body = typeof text === 'string' ? Buffer.from(text, 'utf8') : text;
  const out = Buffer.allocUnsafe(2 + body.length);
  out.writeUInt16BE(body.length, 0);
  body.copy(out, 2);
  return out;
}

function packet(firstByte: number, body: Buffer): Buffer {
  const out = Buffer.allocUnsafe(1 + varintLength(body.length) + body.length);
  out[0] = firstByte;
  const offset = writeVarint(out, 1, body.length);
  body.copy(out, offset);
  return out;
}

export function connectPacket(options: {
  clientId: string;
  username?: string;
  password?: string;
  keepaliveSeconds?: number;
}): Buffer {
  let flags = 0x02; // clean session
  if (options.username !== undefined) flags |= 0x80;
  if (options.password !== undefined) flags |= 0x40;
  const header = Buffer.from([0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x04, flags, 0, 0]);
  header.writeUInt16BE(options.keepaliveSeconds ?? 0, 8);
  const parts = [header, utf8Field(options.clientId)];
  if (options.username !== undefined) parts.push(utf8Field(options.username));
  if (options.password !== undefined) parts.push(utf8Field(options.password));
  return packet(0x10, Buffer.concat(parts));
}

export function subscribePacket(packetId: number, topic: string, qos: 0 | 1): Buffer {
  const id = Buffer.allocUnsafe(2);
  id.writeUInt16BE(packetId, 0);
  return packet(0x82, Buffer.concat([id, utf8Field(topic), Buffer.from([qos])]));
}

export const DISCONNECT_PACKET = Buffer.from([0xe0, 0x00]);

/** Size of a QoS 1 PUBLISH with this topic and payload length. */
export function publishSize(topicLength: number, payloadLength: number): number {
  const remaining = 2 + topicLength + 2 + payloadLength;
  return 1 + varintLength(remaining) + remaining;
}

/**
 * Writes a QoS 1 PUBLISH into `buf` at `offset` and returns the offset after it. `payload` is
 * written as UTF-8; `payloadLength` must be its byte length.
 */
export function writePublishQos1(
  buf: Buffer,
  offset: number,
  topic: Buffer,
  packetId: number,
  payload: string,
  payloadLength: number,
): number {
  const remaining = 2 + topic.length + 2 + payloadLength;
  buf[offset++] = 0x32;
  offset = writeVarint(buf, offset, remaining);
  buf.writeUInt16BE(topic.length, offset);
  offset += 2;
  offset += topic.copy(buf, offset);
  buf.writeUInt16BE(packetId, offset);
  offset += 2;
  offset += buf.write(payload, offset, payloadLength, 'utf8');
  return offset;
}

/**
 * Splits a byte stream into MQTT packets and calls `onPacket(type, flags, buf, bodyStart, bodyEnd)`
 * for each; partial packets wait for the next chunk.
 */
export class FrameReader {
  private pending: Buffer | undefined;

  constructor(
    private readonly onPacket: (type: number, flags: number, buf: Buffer, start: number, end: number) => void,
  ) {}

  push(chunk: Buffer): void {
    const buf = this.pending ? Buffer.concat([this.pending, chunk]) : chunk;
    this.pending = undefined;
    let offset = 0;
    const length = buf.length;
    while (offset < length) {
      if (length - offset < 2) break;
      let remaining = 0;
      let multiplier = 1;
      let cursor = offset + 1;
      let complete = false;
      for (let i = 0; i < 4 && cursor < length; i++) {
        const byte = buf[cursor++] as number;
        remaining += (byte & 0x7f) * multiplier;
        multiplier *= 128;
        if ((byte & 0x80) === 0) {
          complete = true;
          break;
        }
      }
      if (!complete || length - cursor < remaining) break;
      const first = buf[offset] as number;
      this.onPacket(first >> 4, first & 0x0f, buf, cursor, cursor + remaining);
      offset = cursor + remaining;
    }
    // A copy, so a partial packet does not keep a whole 64 KiB chunk alive.
    if (offset < length) this.pending = Buffer.from(buf.subarray(offset));
  }
}
