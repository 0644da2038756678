import { Inject, Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import type { Subscription } from 'rxjs';
import type { Namespace, Socket } from 'socket.io';
import type { Principal } from '@ioc/contracts';
import type { Logger } from '@ioc/runtime';
import type { AccessPort } from '../access-port';
import { ACCESS, LOGGER } from '../tokens';
import { type AccessEnded, AuthEvents } from './auth-events';
import { Authenticator, credentialsOfHeaders, type PresentedCredentials } from './authenticator';

/** Default period of the live sockets' re-check, ms: a revocation on another node ends them within it. */
export const LIVE_RECHECK_MS = 2000;

/** Longest delay Node's timers take (2^31 − 1 ms, about 24.8 days); a later expiry is re-armed. */
const MAX_TIMER_MS = 2_147_483_647;

/** A socket the feed keeps an eye on. */
interface Watched {
  socket: Socket;
  principal: Principal;
  timer?: NodeJS.Timeout;
}

/** What a socket carries once authenticated (`socket.data`). */
export interface LiveSocketData {
  principal?: Principal;
}

/**
 * Authentication of the socket.io `/live` namespace. A socket presents, in order, `auth.token`
 * (an access token or an API key) or the handshake's `Authorization`/`X-API-Key` headers, or the
 * session cookie; without a good one its connection is refused (`connect_error` with the message,
 * and `data: {statusCode: 401, reason}`). Its principal is put on `socket.data.principal`.
 * A socket ends (an `ended` event with the reason, then disconnect):
 * - when its access token expires (a timer at `exp`): the client refreshes and reconnects;
 * - at once when its session, account, key or agency is ended by a route of this node (AuthEvents);
 * - within `liveRecheckMs` (default 2 s) when that happens on another API node (a periodic re-check
 *   of the distinct sessions and keys of the live sockets, which also picks up role and scope changes).
 */
@Injectable()
export class LiveAuth implements OnModuleInit, OnModuleDestroy {
  private readonly watched = new Map<string, Watched>();
  private subscription?: Subscription;
  private interval?: NodeJS.Timeout;
  private rechecking = false;

  constructor(
    private readonly authenticator: Authenticator,
    private readonly events: AuthEvents,
    @Inject(ACCESS) private readonly access: AccessPort,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  onModuleInit(): void {
    this.subscription = this.events.ended$.subscribe((event) => this.endMatching(event));
    this.interval = setInterval(() => void this.recheck(), this.access.liveRecheckMs ?? LIVE_RECHECK_MS);
    this.interval.unref();
  }

  onModuleDestroy(): void {
    this.subscription?.unsubscribe();
    clearInterval(this.interval);
    for (const watched of this.watched.values()) clearTimeout(watched.timer);
    this.watched.clear();
  }

  /** Installs the authentication middleware on the namespace (the gateway's afterInit). */
  install(namespace: Namespace): void {
    namespace.use((socket, next) => {
      this.authenticate(socket).then(
        (error) => next(error),
        (error: unknown) => {
          this.logger.error({ err: error }, 'live socket authentication failed');
          next(Object.assign(new Error('authentication failed'), { data: { statusCode: 500 } }));
        },
      );
    });
  }

  /** The number of authenticated sockets this node watches (for tests and metrics). */
  get size(): number {
    return this.watched.size;
  }

  private async authenticate(socket: Socket): Promise<Error | undefined> {
    const outcome = await this.authenticator.authenticate(credentialsOfSocket(socket));
    if (!outcome.ok) {
      return Object.assign(new Error(outcome.message), { data: { statusCode: 401, reason: outcome.reason } });
    }
    (socket.data as LiveSocketData).principal = outcome.principal;
    const watched: Watched = { socket, principal: outcome.principal };
    this.watched.set(socket.id, watched);
    if (outcome.expiresAt !== undefined) this.armExpiry(watched, outcome.expiresAt);
    socket.once('disconnect', () => {
      clearTimeout(watched.timer);
      this.watched.delete(socket.id);
    });
    return undefined;
  }

  private armExpiry(watched: Watched, expiresAt: number): void {
    const delay = expiresAt - Date.now();
    watched.timer = setTimeout(
      () => {
        if (Date.now() >= expiresAt) this.end(watched, 'token-expired', 'the access token has expired');
        else this.armExpiry(watched, expiresAt);
      },
      Math.min(Math.max(delay, 0), MAX_TIMER_MS),
    );
    watched.timer.unref();
  }

  private endMatching(event: AccessEnded): void {
    for (const watched of [...this.watched.values()]) {
      const { principal } = watched;
      const matches =
        (event.kind === 'sessions' &&
          principal.sessionId !== undefined &&
          event.sessionIds.includes(principal.sessionId)) ||
        (event.kind === 'account' && principal.kind === 'account' && principal.id === event.accountId) ||
        (event.kind === 'apiKey' && principal.kind === 'apiKey' && principal.id === event.keyId) ||
        (event.kind === 'agency' && principal.agencyId === event.agencyId);
      if (matches) this.end(watched, event.reason, 'access ended');
    }
  }

  /** Re-checks each distinct session or key of the live sockets once; ends those no longer good. */
  private async recheck(): Promise<void> {
    if (this.rechecking || this.watched.size === 0) return;
    this.rechecking = true;
    try {
      const groups = new Map<string, { principal: Principal; members: Watched[] }>();
      for (const watched of this.watched.values()) {
        const key = `${watched.principal.kind}:${watched.principal.sessionId ?? watched.principal.id}`;
        const group = groups.get(key);
        if (group) group.members.push(watched);
        else groups.set(key, { principal: watched.principal, members: [watched] });
      }
      for (const { principal, members } of groups.values()) {
        const outcome = await this.authenticator.recheck(principal);
        for (const watched of members) {
          if (!this.watched.has(watched.socket.id)) continue;
          if (outcome.ok) {
            // Role and scope as stored now (an agency's new scope applies to its sockets).
            watched.principal = outcome.principal;
            (watched.socket.data as LiveSocketData).principal = outcome.principal;
          } else this.end(watched, outcome.reason, outcome.message);
        }
      }
    } catch (error) {
      this.logger.warn({ err: error }, 'live sockets re-check failed; retrying at the next period');
    } finally {
      this.rechecking = false;
    }
  }

  private end(watched: Watched, reason: string, message: string): void {
    clearTimeout(watched.timer);
    this.watched.delete(watched.socket.id);
    watched.socket.emit('ended', { reason, message });
    watched.socket.disconnect(true);
  }
}

/** A socket's credentials: `auth.token` first (as `Authorization: Bearer` would be), then its handshake headers. */
function credentialsOfSocket(socket: Socket): PresentedCredentials {
  const fromHeaders = credentialsOfHeaders(socket.handshake.headers);
  const token = (socket.handshake.auth as { token?: unknown } | undefined)?.token;
  return typeof token === 'string' && token !== '' ? { ...fromHeaders, bearer: token } : fromHeaders;
}
