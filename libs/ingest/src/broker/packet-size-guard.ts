import type { Client } from 'aedes';
import { clientInternals } from './aedes-internals';

/**
 * Closes a connection as soon as a packet's fixed header announces a remaining length above
 * `maxPacketBytes`, before its body is read: otherwise mqtt-packet buffers the whole announced
 * body (up to 256 MiB, MQTT 3.1.1 §2.2.3) before any payload limit can apply — three 64 MiB
 * PUBLISHes took the broker from 190 to 465 MiB of RSS, never given back (issue measurement).
 *
 * Works on aedes 1.2's per-client mqtt-packet parser (`client._parser`): right after the
 * remaining length is decoded, an oversized value makes the parser fail with an error, which
 * stops parsing and makes aedes close the connection (clientError); the socket is destroyed as
 * well so no further bytes are read. At most one socket read (≤ 64 KiB by default in Node) of
 * the body is ever held. `onOversized` is called once per connection with the announced length.
 */
export function guardPacketSize(
  client: Client,
  maxPacketBytes: number,
  onOversized: (announcedBytes: number) => void,
): void {
  const { _parser: parser, conn } = clientInternals(client);
  const parseLength = parser._parseLength.bind(parser);
  let reported = false;
  parser._parseLength = (): boolean => {
    const complete = parseLength();
    const announced = parser.packet.length;
    if (complete && announced > maxPacketBytes) {
      if (!reported) {
        reported = true;
        onOversized(announced);
      }
      parser._emitError(
        new Error(
          `${parser.packet.cmd ?? 'packet'} of ${announced} bytes announced; the limit is ${maxPacketBytes}`,
        ),
      );
      conn.destroy();
      return false;
    }
    return complete;
  };
}

/**
 * Closes a connection that leaves a packet half-sent for `timeoutMs`: a fixed header announcing
 * a body that never comes would otherwise hold the connection (and what was buffered of the
 * packet) forever when the client turned keep-alive off (keepalive 0, [MQTT-3.1.2-24] lets it),
 * since then nothing else times it out. A timer runs only while bytes of an unfinished packet wait
 * in the parser, from the first of its bytes: every completed packet stops it, so a connection
 * streaming packets that straddle its socket reads is never closed (before, such a connection
 * under load was closed after `timeoutMs` of progress). `onStalled` is called once.
 */
export function guardStalledPackets(client: Client, timeoutMs: number, onStalled: () => void): void {
  const { _parser: parser, conn } = clientInternals(client);
  const parse = parser.parse.bind(parser);
  let timer: NodeJS.Timeout | undefined;
  const stop = (): void => {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
  };
  // Each packet the parser completes ends the wait of the one before: the timer measures how long
  // the CURRENT packet has been unfinished, not how long the stream has had a packet in flight (a
  // busy connection whose socket reads end mid-packet, chunk after chunk, is making progress).
  parser.on('packet', stop);
  parser.parse = (buffer: Buffer): number => {
    const left = parse(buffer);
    if (parser._list.length === 0) stop();
    else if (timer === undefined) {
      timer = setTimeout(() => {
        timer = undefined;
        onStalled();
        conn.destroy(new Error(`a packet was left unfinished for ${timeoutMs} ms`));
      }, timeoutMs);
      timer.unref();
    }
    return left;
  };
  conn.once('close', stop);
}
