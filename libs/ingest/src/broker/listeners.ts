import { createServer as createHttpServer } from 'node:http';
import { createServer as createTcpServer, type Server } from 'node:net';
import type { Duplex } from 'node:stream';
import { createServer as createTlsServer, type TLSSocket } from 'node:tls';
import { createWebSocketStream, WebSocketServer } from 'ws';
import type { Logger } from '@ioc/runtime';
import type { ConnectionInfo, ListenerKind } from './device-sessions';

/** Path of the MQTT-over-WebSocket endpoint (the path MQTT clients use by convention, e.g. mqtt.js). */
export const WEBSOCKET_PATH = '/mqtt';

/**
 * The optional TLS listener (IOC_MQTT_TLS_*). With `ca`, the server asks every client for a
 * certificate (without requiring one): one that chains to `ca` and whose subject CN is a device id
 * authenticates that device without a password; one that does not verify is refused with CONNACK 4
 * (the TLS handshake itself completes, so the client learns why in MQTT terms); without a
 * certificate the username/password path applies.
 */
export interface TlsListenerOptions {
  host: string;
  port: number;
  /** PEM server certificate (chain), as read from IOC_MQTT_TLS_CERT_FILE. */
  cert: Buffer;
  /** PEM private key of `cert` (IOC_MQTT_TLS_KEY_FILE). */
  key: Buffer;
  /** PEM CA certificate(s) client certificates must chain to (IOC_MQTT_TLS_CA_FILE). */
  ca?: Buffer;
}

/** The optional MQTT-over-WebSocket listener (IOC_MQTT_WS_*), path WEBSOCKET_PATH. */
export interface WebSocketListenerOptions {
  host: string;
  port: number;
}

/** A listening socket handing each new connection (a byte stream) to `accept`. */
export interface Listener {
  kind: ListenerKind;
  port: number;
  /**
   * Stops accepting at once; resolves once every connection it accepted has closed (the broker
   * closes them: call this, then close aedes, then await it).
   */
  close(): Promise<void>;
}

type Accept = (stream: Duplex, info: ConnectionInfo) => void;

async function listen(server: Server, host: string, port: number): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  return typeof address === 'object' && address ? address.port : port;
}

const closeServer = (server: Server): Promise<void> =>
  new Promise<void>((resolve) => server.close(() => resolve()));

/** MQTT over plain TCP. */
export async function startTcpListener(host: string, port: number, accept: Accept): Promise<Listener> {
  const server = createTcpServer((socket) =>
    accept(socket, { listener: 'tcp', remoteAddress: socket.remoteAddress, remotePort: socket.remotePort }),
  );
  const bound = await listen(server, host, port);
  return { kind: 'tcp', port: bound, close: () => closeServer(server) };
}

/** The subject CN of a certificate (the first, if the subject repeats it). */
function commonName(subject: { CN?: string | string[] } | undefined): string | undefined {
  const cn = subject?.CN;
  return Array.isArray(cn) ? cn[0] : cn;
}

/** MQTT over TLS (see TlsListenerOptions for client certificates). */
export async function startTlsListener(
  options: TlsListenerOptions,
  accept: Accept,
  logger: Logger,
): Promise<Listener> {
  const server = createTlsServer(
    {
      cert: options.cert,
      key: options.key,
      ca: options.ca,
      requestCert: options.ca !== undefined,
      // Checked by authentication instead: a client without a certificate may still use a password.
      rejectUnauthorized: false,
    },
    (socket: TLSSocket) => {
      const peer = options.ca ? socket.getPeerCertificate() : undefined;
      const presented = peer !== undefined && Object.keys(peer).length > 0;
      const error = socket.authorizationError;
      accept(socket, {
        listener: 'tls',
        remoteAddress: socket.remoteAddress,
        remotePort: socket.remotePort,
        certificate: presented
          ? {
              verified: socket.authorized,
              deviceId: commonName(peer.subject),
              error: error === null || error === undefined ? undefined : String(error),
            }
          : undefined,
      });
    },
  );
  // A failed handshake (plain MQTT on the TLS port, an unknown protocol version): logged, no more.
  server.on('tlsClientError', (error, socket) => {
    logger.warn({ remoteAddress: socket.remoteAddress, err: error.message }, 'TLS handshake failed');
  });
  const bound = await listen(server, options.host, options.port);
  return { kind: 'tls', port: bound, close: () => closeServer(server) };
}

/**
 * MQTT over WebSocket on WEBSOCKET_PATH (any other path gets HTTP 400 from `ws`). Each WebSocket is
 * turned into a byte stream (`createWebSocketStream`) for aedes; the remote address is the TCP
 * socket's, never a forwarded-for header. WebSocket messages are capped at `maxPacketBytes` + 5
 * (the largest MQTT fixed header), so `ws` never buffers more than one oversized packet's worth.
 */
export async function startWebSocketListener(
  options: WebSocketListenerOptions,
  maxPacketBytes: number,
  accept: Accept,
  logger: Logger,
): Promise<Listener> {
  const http = createHttpServer((_request, response) => {
    response.writeHead(426, { 'content-type': 'text/plain' }).end('MQTT over WebSocket: upgrade on /mqtt\n');
  });
  const wss = new WebSocketServer({ server: http, path: WEBSOCKET_PATH, maxPayload: maxPacketBytes + 5 });
  wss.on('connection', (ws, request) => {
    const stream = createWebSocketStream(ws);
    // A peer that vanishes mid-frame errors the stream; aedes listens on its own once it owns it.
    stream.on('error', (error) => logger.debug({ err: error.message }, 'WebSocket stream error'));
    accept(stream, {
      listener: 'ws',
      remoteAddress: request.socket.remoteAddress,
      remotePort: request.socket.remotePort,
    });
  });
  wss.on('error', (error) => logger.warn({ err: error.message }, 'WebSocket server error'));
  const bound = await listen(http, options.host, options.port);
  return {
    kind: 'ws',
    port: bound,
    async close() {
      // Stops accepting at once; `wss` closes once every WebSocket has (aedes closes them).
      const httpClosed = closeServer(http);
      const wssClosed = new Promise<void>((resolve) => wss.close(() => resolve()));
      http.closeIdleConnections();
      await wssClosed;
      http.closeAllConnections();
      await httpClosed;
    },
  };
}
