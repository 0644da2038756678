import { Inject, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import {
  ConnectedSocket,
  MessageBody,
  SubscribeMessage,
  WebSocketGateway,
  WebSocketServer,
} from '@nestjs/websockets';
import type { Subscription } from 'rxjs';
import type { Namespace, Socket } from 'socket.io';
import {
  type ClientToServerEvents,
  LIVE_REJECTIONS_ROOM,
  type LiveAck,
  liveRoomOf,
  liveRoomsFor,
  liveSubscriptionSchema,
  type ServerToClientEvents,
} from '@ioc/contracts';
import type { RegistryReader } from '../registry-port';
import { DEVICE_REGISTRY } from '../tokens';
import { InternalBusRepository } from './internal-bus.repository';

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
 * Which browser origins may connect is the edge's rule for every namespace (EdgeIoAdapter,
 * IOC_HTTP_CORS_ORIGINS), not this decorator's.
 */
@WebSocketGateway({ namespace: '/live' })
export class LiveGateway implements OnModuleInit, OnModuleDestroy {
  @WebSocketServer() private readonly namespace!: Namespace<ClientToServerEvents, ServerToClientEvents>;
  private subscriptions: Subscription[] = [];

  constructor(
    private readonly bus: InternalBusRepository,
    @Inject(DEVICE_REGISTRY) private readonly registry: RegistryReader,
  ) {}

  onModuleInit(): void {
    this.subscriptions = [
      this.bus.readings$.subscribe((batch) => {
        // Most readings interest nobody at a given moment: skip them before socket.io encodes
        // them, and the whole batch (not even decoded) while no client has subscribed at all.
        if (!anySubscription(this.namespace.adapter)) return;
        const occupied = this.namespace.adapter.rooms;
        for (const reading of batch.readings) {
          const rooms = liveRoomsFor(reading).filter((room) => occupied.has(room));
          if (rooms.length > 0) this.namespace.to(rooms).emit('reading', reading);
        }
      }),
      this.bus.rejections$.subscribe((rejection) =>
        this.namespace.to(LIVE_REJECTIONS_ROOM).emit('rejection', rejection),
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
          if (rooms.length > 0) this.namespace.to(rooms).emit('deviceStatus', status);
        }
      }),
      // A command's changes go where its device's readings go.
      this.bus.commandUpdates$.subscribe((command) => {
        const device = this.registry.getDevice(command.deviceId);
        if (!device || !anySubscription(this.namespace.adapter)) return;
        const occupied = this.namespace.adapter.rooms;
        const rooms = liveRoomsFor({
          domain: device.domain,
          deviceId: device.id,
          areaPath: this.registry.areaPath(device.areaId),
        }).filter((room) => occupied.has(room));
        if (rooms.length > 0) this.namespace.to(rooms).emit('command', command);
      }),
    ];
  }

  onModuleDestroy(): void {
    for (const s of this.subscriptions) s.unsubscribe();
  }

  @SubscribeMessage('subscribe')
  async subscribe(@ConnectedSocket() socket: Socket, @MessageBody() body: unknown): Promise<LiveAck> {
    const rooms = this.roomsOf(body);
    if (!rooms.ok) return rooms;
    await socket.join(rooms.rooms);
    return rooms;
  }

  @SubscribeMessage('unsubscribe')
  async unsubscribe(@ConnectedSocket() socket: Socket, @MessageBody() body: unknown): Promise<LiveAck> {
    const rooms = this.roomsOf(body);
    if (!rooms.ok) return rooms;
    await Promise.all(rooms.rooms.map((room) => socket.leave(room)));
    return rooms;
  }

  private roomsOf(body: unknown): LiveAck {
    const parsed = liveSubscriptionSchema.safeParse(body);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      return {
        ok: false,
        error: `${issue?.path.join('.') || 'subscription'}: ${issue?.message ?? 'invalid'}`,
      };
    }
    const { domain, area, device, rejections } = parsed.data;
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
    const rooms: string[] = [];
    const room = liveRoomOf({ domain, area, device });
    if (room !== undefined) rooms.push(room);
    if (rejections) rooms.push(LIVE_REJECTIONS_ROOM);
    return { ok: true, rooms };
  }
}
