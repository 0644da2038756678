import { Injectable } from '@nestjs/common';
import { Subject } from 'rxjs';

/**
 * Something that ends principals' access at once: sessions revoked (logout, password reset), an
 * account disabled, an API key revoked, an agency disabled. Published in-process by the routes
 * that do it, so this node's live sockets end without waiting for the periodic re-check (which
 * catches the same changes made on other API nodes).
 */
export type AccessEnded =
  | { kind: 'sessions'; sessionIds: readonly string[]; reason: string }
  | { kind: 'account'; accountId: string; reason: string }
  | { kind: 'apiKey'; keyId: string; reason: string }
  | { kind: 'agency'; agencyId: string; reason: string };

/** The in-process stream of AccessEnded notices. */
@Injectable()
export class AuthEvents {
  private readonly subject = new Subject<AccessEnded>();
  readonly ended$ = this.subject.asObservable();

  publish(event: AccessEnded): void {
    this.subject.next(event);
  }
}
