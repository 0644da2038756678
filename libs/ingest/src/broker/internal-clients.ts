import { timingSafeEqual } from 'node:crypto';
import type { Client } from 'aedes';

/**
 * Platform services authenticate with a shared secret and may then use `$internal/…` topics,
 * which devices can neither publish nor subscribe to.
 */
export class InternalClients {
  private readonly clients = new WeakSet<Client>();
  private readonly secret: Buffer;

  constructor(secret: string) {
    this.secret = Buffer.from(secret, 'utf8');
  }

  secretMatches(password: Buffer | undefined): boolean {
    return (
      password !== undefined &&
      password.length === this.secret.length &&
      timingSafeEqual(password, this.secret)
    );
  }

  admit(client: Client): void {
    this.clients.add(client);
  }

  isInternal(client: Client | null): boolean {
    return client !== null && this.clients.has(client);
  }
}
