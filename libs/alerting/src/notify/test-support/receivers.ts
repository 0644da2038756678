import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Kysely } from 'kysely';
import type { DatabaseSchema } from '@ioc/database';

/** A request a test receiver got. */
export interface ReceivedRequest {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/**
 * A real HTTP receiver on a free loopback port. `answer` decides each response (default 204);
 * `next(n)` resolves once n requests have arrived in all.
 */
export class TestReceiver {
  readonly requests: ReceivedRequest[] = [];
  answer: (request: ReceivedRequest, index: number, res: ServerResponse) => void = (_r, _i, res) => {
    res.writeHead(204).end();
  };
  private waiters: Array<{ count: number; resolve: () => void }> = [];
  private readonly server: Server;

  private constructor() {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const request = {
          path: req.url ?? '/',
          headers: req.headers,
          body: Buffer.concat(chunks).toString('utf8'),
        };
        this.requests.push(request);
        this.answer(request, this.requests.length - 1, res);
        for (const w of this.waiters.filter((x) => this.requests.length >= x.count)) w.resolve();
        this.waiters = this.waiters.filter((x) => this.requests.length < x.count);
      });
    });
  }

  static async start(): Promise<TestReceiver> {
    const receiver = new TestReceiver();
    await new Promise<void>((resolve) => receiver.server.listen(0, '127.0.0.1', resolve));
    return receiver;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  url(path = '/hook'): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  /** Resolves once `count` requests have arrived in all (rejects after `timeoutMs`). */
  async next(count: number, timeoutMs = 10_000): Promise<void> {
    if (this.requests.length >= count) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      new Promise<void>((resolve) => this.waiters.push({ count, resolve })),
      new Promise<never>((_r, reject) => {
        timer = setTimeout(
          () => reject(new Error(`only ${this.requests.length} of ${count} requests arrived`)),
          timeoutMs,
        );
      }),
    ]).finally(() => clearTimeout(timer));
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** A clock tests move by hand. */
export class FakeClock {
  constructor(public t: number) {}
  now = (): number => this.t;
  advance(ms: number): void {
    this.t += ms;
  }
}

/** Inserts an agency (what webhook endpoints and subscriptions belong to). */
export async function insertAgency(
  db: Kysely<DatabaseSchema>,
  id: string,
  scope: { domains?: string[]; areas?: string[] } = {},
): Promise<void> {
  await db
    .insertInto('agencies')
    .values({
      id,
      name: id,
      scope: JSON.stringify(scope),
      state: 'active',
      mqtt_secret_hash: null,
      mqtt_secret_hint: null,
      note: null,
      created_at: 0,
      updated_at: 0,
    })
    .execute();
}
