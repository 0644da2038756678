import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { NotificationBody } from '@ioc/contracts';

/** One webhook request as it arrived. */
export interface ReceivedWebhook {
  /** performance.now() when the whole request body had arrived. */
  at: number;
  /** The Standard Webhooks `webhook-id` header (the same on every retry of one notification). */
  webhookId: string;
  body: NotificationBody;
}

/**
 * A real HTTP receiver on 127.0.0.1 (a free port) for the platform's webhooks: answers every
 * POST with 204 at once (the platform counts a 2xx as delivered), and hands each request —
 * arrival time, `webhook-id`, parsed body — to `onWebhook`. Signatures are not checked (the
 * notifier's own tests verify them with the `standardwebhooks` package); a body that is not JSON
 * is counted in `malformed` and answered 400.
 */
export class WebhookReceiver {
  private server: Server | undefined;
  /** Requests whose body was not a JSON notification. */
  malformed = 0;
  /** Requests received. */
  requests = 0;

  constructor(private readonly onWebhook: (webhook: ReceivedWebhook) => void) {}

  /** Starts listening; resolves with the URL to register (`http://127.0.0.1:{port}/hook`). */
  async start(): Promise<string> {
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const at = performance.now();
        this.requests++;
        let body: NotificationBody;
        try {
          body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as NotificationBody;
        } catch {
          this.malformed++;
          res.writeHead(400).end();
          return;
        }
        res.writeHead(204).end();
        this.onWebhook({ at, webhookId: String(req.headers['webhook-id'] ?? ''), body });
      });
    });
    server.keepAliveTimeout = 60_000;
    this.server = server;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
