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
import { z } from 'zod';
import { DOMAINS, type Reading, isDeviceId } from '@ioc/contracts';
import type { RegistryReader } from '../registry-port';
import { DEVICE_REGISTRY } from '../tokens';
import { InternalBusRepository } from './internal-bus.repository';
import type { LiveAck, ServerToClientEvents } from './live-events';

const subscriptionSchema = z
  .strictObject({
    domain: z.enum(DOMAINS).optional(),
    area: z.string().max(128).optional(),
    device: z.string().refine(isDeviceId, 'malformed device id').optional(),
    rejections: z.boolean().optional(),
  })
  .refine(
    (s) => s.domain ?? s.area ?? s.device ?? s.rejections,
    'name a domain, an area, a device or rejections',
  );

const REJECTIONS_ROOM = 'rejections';

/** Rooms a reading is delivered to; socket.io sends it once to a socket in several of them. */
export function roomsFor(reading: Reading): string[] {
  return [
    `domain:${reading.domain}`,
    `device:${reading.deviceId}`,
    ...reading.areaPath.map((a) => `area:${a}`),
  ];
}

/** Whether any socket is in a room other than its own (every socket is in a room named by its id). */
function anySubscription(adapter: Namespace['adapter']): boolean {
  for (const room of adapter.rooms.keys()) if (!adapter.sids.has(room)) return true;
  return false;
}

/**
 * Operators' live map feed, namespace `/live`. A client emits `subscribe` with a domain, an area
 * (sub-areas included) or a device, gets an ack with its rooms, then a `reading` event for every
 * matching reading as the broker ingests it.
 */
@WebSocketGateway({ namespace: '/live', cors: { origin: true } })
export class LiveGateway implements OnModuleInit, OnModuleDestroy {
  @WebSocketServer() private readonly namespace!: Namespace<Record<string, never>, ServerToClientEvents>;
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
          const rooms = roomsFor(reading).filter((room) => occupied.has(room));
          if (rooms.length > 0) this.namespace.to(rooms).emit('reading', reading);
        }
      }),
      this.bus.rejections$.subscribe((rejection) =>
        this.namespace.to(REJECTIONS_ROOM).emit('rejection', rejection),
      ),
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
    const parsed = subscriptionSchema.safeParse(body);
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
    if (device !== undefined && !this.registry.getDevice(device)) {
      return { ok: false, error: `device: unknown device "${device}"` };
    }
    const rooms: string[] = [];
    if (domain) rooms.push(`domain:${domain}`);
    if (area) rooms.push(`area:${area}`);
    if (device) rooms.push(`device:${device}`);
    if (rejections) rooms.push(REJECTIONS_ROOM);
    return { ok: true, rooms };
  }
}
