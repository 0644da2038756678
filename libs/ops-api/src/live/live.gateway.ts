import { Inject, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import {
  ConnectedSocket,
  MessageBody,
  type OnGatewayInit,
  SubscribeMessage,
  WebSocketGateway,
  WebSocketServer,
} from '@nestjs/websockets';
import type { Subscription } from 'rxjs';
import type { Namespace, Socket } from 'socket.io';
import {
  type AlertEvent,
  type ClientToServerEvents,
  LIVE_REJECTIONS_ROOM,
  type LiveAck,
  liveRoomOf,
  liveRoomFilters,
  liveRoomsFor,
  liveRoomsOfScope,
  liveSubscriptionSchema,
  type Principal,
  roleIncludes,
  scopeHoldsArea,
  type ServerToClientEvents,
} from '@ioc/contracts';
import { AuditTrail } from '../audit/audit-trail.service';
import { type LiveSocketData, LiveAuth } from '../auth/live-auth';
import { describeScope, ScopeService } from '../common/scope.service';
import type { RegistryReader } from '../registry-port';
import { DEVICE_REGISTRY } from '../tokens';
import { InternalBusRepository } from './internal-bus.repository';

/** What a subscription (or a room) names, as the scope check reads it. */
interface SubscriptionFilters {
  domain?: string;
  area?: string;
  device?: string;
  scope?: true;
  rejections?: boolean;
}

/** How often the feed checks every scoped socket's rooms against its principal's scope (ms). */
export const LIVE_SCOPE_CHECK_MS = 2000;

/**
 * At most this many out-of-scope `subscribe` refusals of one socket are audited per minute (the
 * socket's events are not rate-limited as REST requests are): the next entry after a pause counts
 * the refusals left out (`detail.unrecordedBefore`). A design choice: enough to see what was
 * tried, not a write per message of a flood.
 */
export const LIVE_DENIED_AUDITS_PER_MINUTE = 10;

/** A socket's audited refusals in the current minute. */
interface DeniedAudits {
  windowStart: number;
  recorded: number;
  unrecorded: number;
}

/**
 * The live rooms of an alert: those of a reading of its device (liveRoomsFor); for an area alert
 * (no device) its domain's and each area of its path, alone and with the domain; without a
 * domain, only the area rooms (which only principals of every domain may join).
 */
export function alertRooms(alert: AlertEvent['alert']): string[] {
  if (alert.domain !== null && alert.deviceId !== null) {
    return liveRoomsFor({ domain: alert.domain, deviceId: alert.deviceId, areaPath: alert.areaPath });
  }
  const rooms = alert.domain === null ? [] : [`domain:${alert.domain}`];
  if (alert.deviceId !== null) rooms.push(`device:${alert.deviceId}`);
  for (const area of alert.areaPath) {
    rooms.push(`area:${area}`);
    if (alert.domain !== null) rooms.push(`domain:${alert.domain}/area:${area}`);
  }
  return rooms;
}

/** Whether any socket is in a room other than its own (every socket is in a room named by its id). */
function anySubscription(adapter: Namespace['adapter']): boolean {
  for (const room of adapter.rooms.keys()) if (!adapter.sids.has(room)) return true;
  return false;
}

/**
 * Operators' live map feed, namespace `/live` (events typed in `@ioc/contracts` live-events.ts).
 * A client emits `subscribe` with a domain, an area (sub-areas included), a device, or several of
 * them — combined as an intersection — gets an ack with its room, then a `reading` event for
 * every matching reading as the broker ingests it, once per reading whatever it subscribed to,
 * and a `deviceStatus` event whenever the status of a device whose readings it gets changes.
 * A socket authenticates in its handshake (`auth: {token}`: an access token or an API key; or the
 * session cookie) and ends when its token expires or its session or key is revoked (LiveAuth).
 * Which browser origins may connect is the edge's rule for every namespace (EdgeIoAdapter,
 * IOC_HTTP_CORS_ORIGINS), not this decorator's.
 *
 * Scope: the socket acts as `socket.data.principal` (set by the authentication middleware). A
 * subscription must lie inside its scope — every reading of the room it joins must be one the
 * principal may read — or the ack refuses it (`out of scope: …`); `{scope: true}` joins every
 * room of the scope. `rejections` only for principals without a scope, of role operator or admin.
 * An out-of-scope refusal is audited (`auth.denied`, outcome `denied`, detail `{reason:
 * 'out-of-scope', via: 'live', subscription, message}`), at most LIVE_DENIED_AUDITS_PER_MINUTE per
 * socket.
 *
 * Several API nodes (IOC_REDIS_URL: socket.io's Redis streams adapter): every node receives every
 * internal-bus message itself (readings, rejections, device statuses, the engine's alerts), so
 * what derives from the bus goes to this node's own sockets only (`namespace.local`) — through
 * the adapter each socket would get it once per node. What only this node knows goes through the
 * adapter to every node's sockets: a command's changes (each made by exactly one node) and
 * people's steps on alerts (made by the node the request reached). Rooms are looked up locally
 * (`adapter.rooms` is this node's) only to skip work for local emits.
 */
@WebSocketGateway({ namespace: '/live' })
export class LiveGateway implements OnGatewayInit, OnModuleInit, OnModuleDestroy {
  @WebSocketServer() private readonly namespace!: Namespace<ClientToServerEvents, ServerToClientEvents>;
  private subscriptions: Subscription[] = [];
  private scopeCheck: NodeJS.Timeout | undefined;
  private readonly deniedAudits = new WeakMap<Socket, DeniedAudits>();

  constructor(
    private readonly bus: InternalBusRepository,
    @Inject(DEVICE_REGISTRY) private readonly registry: RegistryReader,
    private readonly auth: LiveAuth,
    private readonly scope: ScopeService,
    private readonly audit: AuditTrail,
  ) {}

  /** Every socket authenticates before it connects (LiveAuth: its principal on `socket.data.principal`). */
  afterInit(namespace: Namespace): void {
    this.auth.install(namespace);
  }

  onModuleInit(): void {
    this.scopeCheck = setInterval(() => this.evictOutOfScope(), LIVE_SCOPE_CHECK_MS);
    this.scopeCheck.unref();
    this.subscriptions = [
      this.bus.readings$.subscribe((batch) => {
        // Most readings interest nobody at a given moment: skip them before socket.io encodes
        // them, and the whole batch (not even decoded) while no client has subscribed at all.
        if (!anySubscription(this.namespace.adapter)) return;
        const occupied = this.namespace.adapter.rooms;
        for (const reading of batch.readings) {
          const rooms = liveRoomsFor(reading).filter((room) => occupied.has(room));
          if (rooms.length > 0) this.namespace.local.to(rooms).emit('reading', reading);
        }
      }),
      this.bus.rejections$.subscribe((rejection) =>
        this.namespace.local.to(LIVE_REJECTIONS_ROOM).emit('rejection', rejection),
      ),
      // A status goes where a reading of its device would: the device's domain, the device, and
      // every area on its path (alone and with the domain).
      this.bus.deviceStatus$.subscribe((statuses) => {
        if (!anySubscription(this.namespace.adapter)) return;
        const occupied = this.namespace.adapter.rooms;
        for (const status of statuses) {
          const device = this.registry.getDevice(status.deviceId);
          if (!device) continue;
          const rooms = liveRoomsFor({
            domain: device.domain,
            deviceId: device.id,
            areaPath: this.registry.areaPath(device.areaId),
          }).filter((room) => occupied.has(room));
          if (rooms.length > 0) this.namespace.local.to(rooms).emit('deviceStatus', status);
        }
      }),
      // A command's changes go where its device's readings go, on every API node (through the
      // adapter: no local room filter, the other nodes' rooms are theirs).
      this.bus.commandUpdates$.subscribe((command) => {
        const device = this.registry.getDevice(command.deviceId);
        if (!device) return;
        const rooms = liveRoomsFor({
          domain: device.domain,
          deviceId: device.id,
          areaPath: this.registry.areaPath(device.areaId),
        });
        this.namespace.to(rooms).emit('command', command);
      }),
      // An alert goes where its device's readings go (an area alert: its domain and area rooms),
      // so only sockets whose scope holds it receive it (a socket joins only rooms in its scope).
      this.bus.alerts$.subscribe((events) => {
        if (!anySubscription(this.namespace.adapter)) return;
        const occupied = this.namespace.adapter.rooms;
        for (const event of events) {
          const rooms = alertRooms(event.alert).filter((room) => occupied.has(room));
          if (rooms.length > 0) this.namespace.local.to(rooms).emit('alert', event);
        }
      }),
      // A person's step on an alert (this node's request), to every node's sockets.
      this.bus.alertSteps$.subscribe((event) => {
        const rooms = alertRooms(event.alert);
        // No rooms must not become "every socket" (`to([])` is a broadcast to all).
        if (rooms.length > 0) this.namespace.to(rooms).emit('alert', event);
      }),
    ];
  }

  onModuleDestroy(): void {
    for (const s of this.subscriptions) s.unsubscribe();
    clearInterval(this.scopeCheck);
  }

  /**
   * Takes every socket out of the rooms its principal may no longer read — LiveAuth's re-check
   * puts the stored role and scope on `socket.data.principal`, so a narrowed agency scope (or a
   * device moved out of it) ends its feed within two re-check periods — and tells it (`left`).
   * Sockets of unscoped operators and admins are skipped: they may read every room.
   */
  evictOutOfScope(): void {
    for (const socket of this.namespace.sockets.values()) {
      const principal = socketPrincipal(socket);
      if (!principal || (principal.scope === null && roleIncludes(principal.role, 'operator'))) continue;
      const left: string[] = [];
      for (const room of socket.rooms) {
        if (room === socket.id) continue;
        const filters: SubscriptionFilters | undefined =
          room === LIVE_REJECTIONS_ROOM ? { rejections: true } : liveRoomFilters(room);
        if (filters === undefined) continue;
        // An area no longer in the registry holds nothing this principal may be shown.
        const gone = filters.area !== undefined && !this.registry.getArea(filters.area);
        if (gone || this.outOfScope(principal, filters) !== undefined) left.push(room);
      }
      if (left.length === 0) continue;
      for (const room of left) void socket.leave(room);
      socket.emit('left', {
        rooms: left,
        reason: 'out-of-scope',
        message: `your scope no longer holds these rooms; it is ${describeScope(principal.scope)}`,
      });
    }
  }

  @SubscribeMessage('subscribe')
  async subscribe(@ConnectedSocket() socket: Socket, @MessageBody() body: unknown): Promise<LiveAck> {
    const principal = socketPrincipal(socket);
    if (!principal) return { ok: false, error: 'not authenticated' };
    const rooms = this.roomsOf(body, principal, 'subscribe');
    if (!rooms.ok) {
      if (rooms.outOfScope) await this.auditRefusal(socket, principal, body, rooms.error);
      return { ok: false, error: rooms.error };
    }
    await socket.join(rooms.rooms);
    return rooms;
  }

  /** Audits an out-of-scope subscribe (see the class); a failing audit log is logged, the refusal stands. */
  private async auditRefusal(socket: Socket, principal: Principal, body: unknown, message: string) {
    const now = Date.now();
    let audits = this.deniedAudits.get(socket);
    if (!audits || now - audits.windowStart >= 60_000) {
      audits = { windowStart: now, recorded: 0, unrecorded: audits?.unrecorded ?? 0 };
      this.deniedAudits.set(socket, audits);
    }
    if (audits.recorded >= LIVE_DENIED_AUDITS_PER_MINUTE) {
      audits.unrecorded++;
      return;
    }
    audits.recorded++;
    const unrecorded = audits.unrecorded;
    audits.unrecorded = 0;
    try {
      await this.audit.recordFrom(principal, socket.handshake.address || null, {
        action: 'auth.denied',
        outcome: 'denied',
        detail: {
          reason: 'out-of-scope',
          via: 'live',
          subscription: body as object,
          message,
          ...(unrecorded > 0 ? { unrecordedBefore: unrecorded } : {}),
        },
      });
    } catch {
      // AuditTrail logged it at error level.
    }
  }

  @SubscribeMessage('unsubscribe')
  async unsubscribe(@ConnectedSocket() socket: Socket, @MessageBody() body: unknown): Promise<LiveAck> {
    const principal = socketPrincipal(socket);
    if (!principal) return { ok: false, error: 'not authenticated' };
    // Leaving a room needs no permission: only the rooms are worked out (no scope check).
    const rooms = this.roomsOf(body, principal, 'unsubscribe');
    if (!rooms.ok) return { ok: false, error: rooms.error };
    await Promise.all(rooms.rooms.map((room) => socket.leave(room)));
    return rooms;
  }

  /**
   * The rooms of a subscription: validated, its area and device known, and — for `subscribe` —
   * inside the principal's scope (see the class).
   */
  private roomsOf(
    body: unknown,
    principal: Principal,
    purpose: 'subscribe' | 'unsubscribe',
  ): { ok: true; rooms: string[] } | { ok: false; error: string; outOfScope?: true } {
    const parsed = liveSubscriptionSchema.safeParse(body);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      return {
        ok: false,
        error: `${issue?.path.join('.') || 'subscription'}: ${issue?.message ?? 'invalid'}`,
      };
    }
    const { domain, area, device, scope, rejections } = parsed.data;
    if (area !== undefined && !this.registry.getArea(area))
      return { ok: false, error: `area: unknown area "${area}"` };
    if (device !== undefined) {
      const known = this.registry.getDevice(device);
      if (!known) return { ok: false, error: `device: unknown device "${device}"` };
      // Filters intersect: a device outside the domain or area also named would match nothing.
      if (domain !== undefined && known.domain !== domain)
        return { ok: false, error: `device: "${device}" is in domain "${known.domain}", not "${domain}"` };
      if (area !== undefined && !this.registry.areaPath(known.areaId).includes(area))
        return { ok: false, error: `device: "${device}" is not in area "${area}"` };
    }
    if (purpose === 'subscribe') {
      const refusal = this.outOfScope(principal, { domain, area, device, scope, rejections });
      if (refusal !== undefined) return { ok: false, error: `out of scope: ${refusal}`, outOfScope: true };
    }
    const rooms: string[] = scope ? liveRoomsOfScope(principal.scope) : [];
    const room = liveRoomOf({ domain, area, device });
    if (room !== undefined) rooms.push(room);
    if (rejections) rooms.push(LIVE_REJECTIONS_ROOM);
    return { ok: true, rooms };
  }

  /**
   * Why a (validated, known) subscription is not inside the principal's scope, or undefined when
   * it is: a device must be held by the scope; otherwise a scope limited to domains needs one of
   * them named, and one limited to areas needs one of them (or a sub-area) named — `{domain:
   * 'env'}` alone for an agency of env in one district would include other districts' readings.
   */
  private outOfScope(principal: Principal, filters: SubscriptionFilters): string | undefined {
    const scope = principal.scope;
    if (filters.rejections === true && (scope !== null || !roleIncludes(principal.role, 'operator'))) {
      return 'rejections are for operators and admins without a scope (the notices carry device ids and payloads)';
    }
    // `scope: true` stands alone (the schema) and joins the scope's own rooms.
    if (scope === null || filters.scope === true) return undefined;
    const yours = `your scope is ${describeScope(scope)}`;
    if (filters.device !== undefined) {
      const device = this.registry.getDevice(filters.device);
      return device && this.scope.holdsDevice(principal, device)
        ? undefined
        : `device "${filters.device}" is outside it; ${yours}`;
    }
    if (scope.domains !== undefined) {
      if (filters.domain === undefined)
        return `name one of your domains (${scope.domains.join(', ')}); ${yours}`;
      if (!scope.domains.includes(filters.domain as never)) return `domain "${filters.domain}"; ${yours}`;
    }
    if (scope.areas !== undefined) {
      if (filters.area === undefined) return `name one of your areas or a sub-area of one; ${yours}`;
      if (!scopeHoldsArea(scope, this.registry.areaPath(filters.area)))
        return `area "${filters.area}"; ${yours}`;
    }
    return undefined;
  }
}

/**
 * The principal a socket acts as: `socket.data.principal`, set by LiveAuth's middleware before
 * the socket connects (a socket without one never reaches a handler; undefined is refused).
 */
function socketPrincipal(socket: Socket): Principal | undefined {
  return (socket.data as LiveSocketData | undefined)?.principal;
}
