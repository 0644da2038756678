import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { NotificationBody } from '@ioc/contracts';

/** One request a WebhookReceiver got, with the status it answered. */
export interface ReceivedWebhook {
  /** `webhook-id` header (`msg_…`): the notification's id, the same on every retry. */
  id: string;
  /** `webhook-timestamp` header (Unix seconds). */
  timestamp: string;
  headers: IncomingHttpHeaders;
  /** The body exactly as received (what the signature covers). */
  raw: string;
  body: NotificationBody;
  /** The request's path (a redirect answered by this receiver points to `/redirected`). */
  path: string;
  /** Real time it arrived (epoch ms). */
  at: number;
  /** `performance.now()` when its whole body had arrived (for latencies against the same clock). */
  monotonicAt: number;
  /** The HTTP status the receiver answered; 0: it never answered (held the request open). */
  status: number;
}

/**
 * A real HTTP receiver of webhooks on a loopback port (node:http). `respond` chooses each answer's
 * status: default 204; 0 holds the request unanswered (a receiver that hangs); a 3xx answer
 * carries `location: …/redirected` on this receiver, so a sender that followed it would show up
 * there. `close()` closes the port (a receiver that is down: connections refused) and `listen()`
 * opens the same port again.
 */
export class WebhookReceiver {
  /** Every request, in arrival order, whatever it was answered. */
  readonly requests: ReceivedWebhook[] = [];
  respond: (request: ReceivedWebhook, index: number) => number = () => 204;
  /** Called with each request once it is recorded and answered (a benchmark's latency probe). */
  onRequest: (request: ReceivedWebhook) => void = () => undefined;
  private server?: Server;
  private portNumber = 0;

  static async start(): Promise<WebhookReceiver> {
    const receiver = new WebhookReceiver();
    await receiver.listen();
    return receiver;
  }

  get port(): number {
    return this.portNumber;
  }

  url(path = '/hook'): string {
    return `http://127.0.0.1:${this.portNumber}${path}`;
  }

  /** Opens the port (the same one again after `close()`). */
  async listen(): Promise<void> {
    const server = createServer((req, res) => {
      // A body that is not JSON is answered 400 and not recorded (the platform only sends JSON).
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const monotonicAt = performance.now();
        const raw = Buffer.concat(chunks).toString('utf8');
        let body: NotificationBody;
        try {
          body = JSON.parse(raw) as NotificationBody;
        } catch {
          res.writeHead(400).end();
          return;
        }
        const request: ReceivedWebhook = {
          id: String(req.headers['webhook-id']),
          timestamp: String(req.headers['webhook-timestamp']),
          headers: req.headers,
          raw,
          body,
          path: req.url ?? '/',
          at: Date.now(),
          monotonicAt,
          status: 0,
        };
        request.status = this.respond(request, this.requests.length);
        this.requests.push(request);
        // 0: a receiver that hangs: no answer (the connection stays open until `close()`).
        if (request.status === 0) {
          this.onRequest(request);
          return;
        }
        const redirect = request.status >= 300 && request.status < 400;
        res.writeHead(request.status, redirect ? { location: this.url('/redirected') } : {});
        res.end();
        this.onRequest(request);
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.portNumber, '127.0.0.1', () => resolve());
    });
    this.portNumber = (server.address() as AddressInfo).port;
    this.server = server;
  }

  /** Closes the port and every open connection: requests are refused until `listen()`. */
  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** The requests answered 2xx (delivered), in arrival order. */
  delivered(): ReceivedWebhook[] {
    return this.requests.filter((r) => r.status >= 200 && r.status < 300);
  }
}
