import { z } from 'zod';
import { DOMAINS, type Domain } from './domains';
import type { DeviceStatus } from './device-status';
import type { RejectionNotice } from './internal-bus';
import type { CommandRecordBody } from './rest/command-bodies';
import type { Reading } from './reading';
import { isDeviceId } from './topics';

/*
 * The socket.io namespace `/live`: what operators' consoles and agency clients send and receive.
 * Typed for both ends: `io<ServerToClientEvents, ClientToServerEvents>(…)` in a browser,
 * `Namespace<ClientToServerEvents, ServerToClientEvents>` on the server.
 */

/** Area ids: the registry's (letters, digits, `-`, `_`, `.`), at most 128 characters. */
const areaId = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'malformed area id');

/**
 * One live subscription. The filters given are combined as an intersection: `{domain: 'traffic',
 * area: 'hoa-thanh'}` is the traffic readings of Hòa Thành and its sub-areas, not all traffic
 * plus all of Hòa Thành. An area includes its sub-areas. `rejections: true` adds the refused
 * messages (operators watching for faulty or hostile devices) — that one is its own stream, not a
 * filter. At least one of the four must be given.
 */
export const liveSubscriptionSchema = z
  .strictObject({
    domain: z.enum(DOMAINS).optional(),
    area: areaId.optional(),
    device: z.string().refine(isDeviceId, 'malformed device id').optional(),
    rejections: z.boolean().optional(),
  })
  .refine(
    (s) => s.domain !== undefined || s.area !== undefined || s.device !== undefined || s.rejections === true,
    'name a domain, an area, a device or rejections',
  );
export type LiveSubscription = z.infer<typeof liveSubscriptionSchema>;

/** Answer to `subscribe` / `unsubscribe`: the rooms joined or left, or why not. */
export type LiveAck = { ok: true; rooms: string[] } | { ok: false; error: string };

/** Events the server sends on `/live`. */
export interface ServerToClientEvents {
  /** A reading inside one of the socket's subscriptions, as soon as it is durable. */
  reading: (reading: Reading) => void;
  /** A refused device message (only with `rejections: true`). */
  rejection: (notice: RejectionNotice) => void;
  /**
   * A device's status changed (online/offline, or its clock flag): sent to the rooms a reading of
   * that device would go to (liveRoomsFor), so a subscription to a domain, an area or a device
   * gets the statuses of the devices whose readings it gets. The status as it is now, not every
   * intermediate change of the ~500 ms batch.
   */
  deviceStatus: (status: DeviceStatus) => void;
  /**
   * A command to a device was sent, acknowledged, failed or timed out: sent to the rooms a reading
   * of that device would go to, so the operator who sent it sees the answer.
   */
  command: (command: CommandRecordBody) => void;
  /**
   * Sent just before the server ends the socket because its access ended: `reason` as in a 401
   * (`token-expired`: refresh the token and connect again; `session-ended`, `logout`,
   * `account-disabled`, `api-key-revoked`, `agency-disabled` …).
   */
  ended: (notice: LiveEndedNotice) => void;
}

/** Why the server ended a live socket. */
export interface LiveEndedNotice {
  reason: string;
  message: string;
}

/** Events a client sends on `/live`; each is answered through its acknowledgement callback. */
export interface ClientToServerEvents {
  subscribe: (subscription: LiveSubscription, ack: (answer: LiveAck) => void) => void;
  unsubscribe: (subscription: LiveSubscription, ack: (answer: LiveAck) => void) => void;
}

/**
 * Names of the socket.io rooms a reading is delivered to: one per filter combination it matches
 * (`domain:env`, `device:x`, `area:a` for every area on its path, `domain:env/area:a` for every
 * area on its path). A subscription joins exactly one room (`liveRoomOf`), so a socket receives a
 * reading once, whatever else it subscribed to.
 */
export function liveRoomsFor(reading: Pick<Reading, 'domain' | 'deviceId' | 'areaPath'>): string[] {
  const rooms = [`domain:${reading.domain}`, `device:${reading.deviceId}`];
  for (const area of reading.areaPath) rooms.push(`area:${area}`, `domain:${reading.domain}/area:${area}`);
  return rooms;
}

/**
 * The room of one subscription's filters (rejections aside), or undefined when only `rejections`
 * was asked for. A device names its own room whatever else is given (the caller checks the device
 * lies inside the domain and area given, and refuses the subscription otherwise).
 */
export function liveRoomOf(filters: { domain?: Domain; area?: string; device?: string }): string | undefined {
  if (filters.device !== undefined) return `device:${filters.device}`;
  if (filters.domain !== undefined && filters.area !== undefined)
    return `domain:${filters.domain}/area:${filters.area}`;
  if (filters.domain !== undefined) return `domain:${filters.domain}`;
  if (filters.area !== undefined) return `area:${filters.area}`;
  return undefined;
}

/** Room of the operators watching refused messages. */
export const LIVE_REJECTIONS_ROOM = 'rejections';
