import { z } from 'zod';
import type { AccessScope } from './access';
import type { AlertEvent } from './alerts';
import { DOMAINS, type Domain, isDomain } from './domains';
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
 * filter. `scope: true` is every reading the socket's principal may read: the rooms of its scope
 * (one per domain × area of the scope, or one per domain or per area when the other axis is
 * unrestricted, or one per domain for an unrestricted principal); it stands alone (rejections
 * aside). At least one of domain, area, device, scope or rejections must be given.
 *
 * A principal with a scope (an agency key, a user limited to domains or areas) may only name a
 * set inside it: a device of its scope, or a domain of it together with one of its areas or a
 * sub-area (just the domain when its scope has every area, just the area when it has every
 * domain); anything wider is refused in the ack. Only principals without a scope, of role
 * operator or admin, may ask for `rejections` (the notices carry device ids and payloads).
 */
export const liveSubscriptionSchema = z
  .strictObject({
    domain: z.enum(DOMAINS).optional(),
    area: areaId.optional(),
    device: z.string().refine(isDeviceId, 'malformed device id').optional(),
    scope: z.literal(true).optional().describe("every room of the principal's scope"),
    rejections: z.boolean().optional(),
  })
  .refine(
    (s) =>
      s.domain !== undefined ||
      s.area !== undefined ||
      s.device !== undefined ||
      s.scope === true ||
      s.rejections === true,
    'name a domain, an area, a device, scope or rejections',
  )
  .refine(
    (s) => s.scope !== true || (s.domain === undefined && s.area === undefined && s.device === undefined),
    { message: 'scope: true stands alone (rejections aside): drop domain, area and device', path: ['scope'] },
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
   * An alert transition (the alert as it is after it, and the step; times epoch ms as on the bus):
   * sent to the rooms a reading of the alert's device would go to (its domain, the device, every
   * area on its path, alone and with the domain); an area alert to its domain and area rooms. A
   * socket receives only alerts its principal's scope holds.
   */
  alert: (event: AlertEvent) => void;
  /**
   * Sent just before the server ends the socket because its access ended: `reason` as in a 401
   * (`token-expired`: refresh the token and connect again; `session-ended`, `logout`,
   * `account-disabled`, `api-key-revoked`, `agency-disabled` …).
   */
  ended: (notice: LiveEndedNotice) => void;
  /**
   * The server took the socket out of rooms its principal's scope no longer holds (an agency's or
   * an account's scope narrowed while the socket was open); it receives nothing from them now.
   */
  left: (notice: LiveLeftNotice) => void;
}

/** Rooms a socket was taken out of, and why (`reason: 'out-of-scope'`). */
export interface LiveLeftNotice {
  rooms: string[];
  reason: 'out-of-scope';
  message: string;
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

/**
 * The filters of a room liveRoomOf named (its inverse), or undefined for a name it does not make
 * (the rejections room, a socket's own room).
 */
export function liveRoomFilters(
  room: string,
): { domain?: Domain; area?: string; device?: string } | undefined {
  if (room.startsWith('device:')) return { device: room.slice('device:'.length) };
  if (room.startsWith('area:')) return { area: room.slice('area:'.length) };
  if (room.startsWith('domain:')) {
    const rest = room.slice('domain:'.length);
    const cut = rest.indexOf('/area:');
    const domain = cut < 0 ? rest : rest.slice(0, cut);
    if (!isDomain(domain)) return undefined;
    return cut < 0 ? { domain } : { domain, area: rest.slice(cut + '/area:'.length) };
  }
  return undefined;
}

/** Room of the operators watching refused messages. */
export const LIVE_REJECTIONS_ROOM = 'rejections';

/**
 * The rooms of `{scope: true}` for a principal of scope `scope`: one room per domain × area of
 * the scope (`domain:env/area:x`), one per domain when it has every area, one per area when it
 * has every domain, and one per domain of DOMAINS when it is unrestricted (null). A reading lies
 * in at least one of them exactly when the scope holds its device (scopeHoldsDevice), and a
 * socket in several of them still receives it once (socket.io delivers once per socket).
 */
export function liveRoomsOfScope(scope: AccessScope | null): string[] {
  const domains = scope?.domains;
  const areas = scope?.areas;
  // The room names liveRoomOf gives the same filters (the contracts spec checks they agree).
  if (domains && areas)
    return domains.flatMap((domain) => areas.map((area) => `domain:${domain}/area:${area}`));
  if (areas) return areas.map((area) => `area:${area}`);
  return (domains ?? DOMAINS).map((domain) => `domain:${domain}`);
}
