import { Inject, Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import type { Subscription } from 'rxjs';
import type { Namespace, Socket } from 'socket.io';
import type { Principal } from '@ioc/contracts';
import { DatabaseTaskLog } from '@ioc/database';
import type { Logger } from '@ioc/runtime';
import type { AccessPort } from '../access-port';
import { ACCESS, LIVE_ADAPTER, LOGGER } from '../tokens';
import { type AccessEnded, AuthEvents } from './auth-events';
import { Authenticator, credentialsOfHeaders, type PresentedCredentials } from './authenticator';

/** Default period of the live sockets' re-check, ms: a revocation on another node ends them within it. */
export const LIVE_RECHECK_MS = 2000;

/**
 * The server-side event (socket.io `serverSideEmit`, through the adapter) that carries an
 * AccessEnded notice from the API node that ended the access to every other node.
 */
export const ACCESS_ENDED_EVENT = 'ioc:access-ended';

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
 * - at once when its session, account, key or agency is ended by a route of this node (AuthEvents)
 *   or, with several API nodes on Redis (LIVE_ADAPTER), of another node: the node that ended it
 *   sends the notice to the others (`serverSideEmit(ACCESS_ENDED_EVENT)`, Redis PUB/SUB);
 * - within `liveRecheckMs` (default 2 s) in any case (a periodic re-check of the distinct sessions
 *   and keys of the live sockets against the database, which also picks up role and scope changes,
 *   and covers a notice lost while Redis was unreachable: PUB/SUB keeps nothing for later).
 */
@Injectable()
export class LiveAuth implements OnModuleInit, OnModuleDestroy {
  private readonly watched = new Map<string, Watched>();
  private subscription?: Subscription;
  private interval?: NodeJS.Timeout;
  private rechecking = false;
  private readonly recheckLog: DatabaseTaskLog;
  private namespace: Namespace | undefined;

  constructor(
    private readonly authenticator: Authenticator,
    private readonly events: AuthEvents,
    @Inject(ACCESS) private readonly access: AccessPort,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(LIVE_ADAPTER) private readonly clusterAdapter: unknown,
  ) {
    this.recheckLog = new DatabaseTaskLog(logger, 'live sockets re-check');
  }

  onModuleInit(): void {
    this.subscription = this.events.ended$.subscribe((event) => {
      this.endMatching(event);
      // The other API nodes' sockets of that principal end too (not this node's: the adapter
      // does not deliver a node's own server-side emits back to it).
      if (this.clusterAdapter !== null) this.namespace?.serverSideEmit(ACCESS_ENDED_EVENT, event);
    });
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
    this.namespace = namespace;
    if (this.clusterAdapter !== null) {
      namespace.on(ACCESS_ENDED_EVENT, (event: unknown) => {
        if (isAccessEnded(event)) this.endMatching(event);
        else this.logger.warn({ event }, 'malformed access-ended notice from another API node ignored');
      });
    }
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
      this.recheckLog.succeeded();
    } catch (error) {
      // A registry database outage is logged once, not every period.
      this.recheckLog.failed(error, 'live sockets re-check failed; retrying at the next period');
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

/** Whether a notice from another node has AccessEnded's shape (it came through Redis). */
function isAccessEnded(event: unknown): event is AccessEnded {
  if (typeof event !== 'object' || event === null) return false;
  const e = event as Record<string, unknown>;
  if (typeof e['reason'] !== 'string') return false;
  switch (e['kind']) {
    case 'sessions':
      return Array.isArray(e['sessionIds']) && e['sessionIds'].every((id) => typeof id === 'string');
    case 'account':
      return typeof e['accountId'] === 'string';
    case 'apiKey':
      return typeof e['keyId'] === 'string';
    case 'agency':
      return typeof e['agencyId'] === 'string';
    default:
      return false;
  }
}

/** A socket's credentials: `auth.token` first (as `Authorization: Bearer` would be), then its handshake headers. */
function credentialsOfSocket(socket: Socket): PresentedCredentials {
  const fromHeaders = credentialsOfHeaders(socket.handshake.headers);
  const token = (socket.handshake.auth as { token?: unknown } | undefined)?.token;
  return typeof token === 'string' && token !== '' ? { ...fromHeaders, bearer: token } : fromHeaders;
}
