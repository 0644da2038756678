import { z } from 'zod';

/*
 * Device connectivity status: whether the platform hears from a device, since when and why it
 * changed. Kept by the broker (DeviceStatusTracker in libs/ingest), stored in the registry
 * database (`device_status`, `device_status_history`), relayed to the API on the internal bus
 * (INTERNAL_DEVICE_STATUS_TOPIC) and pushed to operators (`deviceStatus` on socket.io `/live`).
 * Browser-safe: zod only.
 */

/**
 * `online`: connected, or heard from within its silence timeout; `offline`: not; `unknown`: never
 * heard from since the platform has kept statuses (only in answers, never stored).
 */
export const DEVICE_STATUSES = ['online', 'offline', 'unknown'] as const;
export type DeviceStatusValue = (typeof DEVICE_STATUSES)[number];

/**
 * Why a device's status last changed.
 * - `connected`: an authenticated MQTT session opened (CONNACK 0).
 * - `disconnected`: the device closed its session cleanly (DISCONNECT, [MQTT-3.14]).
 * - `connection-lost`: the session ended without DISCONNECT — keep-alive expired
 *   ([MQTT-3.1.2-24]: 1.5 × keep-alive without a packet), socket error or reset; the broker
 *   publishes the device's will then.
 * - `silence-timeout`: no message for the device's silence timeout (its own
 *   `silenceTimeoutSeconds`, else its type's), whether or not its session is open.
 * - `reading`: a message arrived while the device counted as offline (also how a device becomes
 *   online when the broker does not authenticate devices, IOC_MQTT_AUTH=off).
 * - `suspended`, `retired`, `revoked`: the registry closed its sessions (device suspended or
 *   retired, credential revoked).
 * - `broker-restart`: recorded online by a previous run of the broker and not back within the
 *   grace period after this one started.
 * - `never-seen`: the `unknown` status of a device the platform has never heard from.
 */
export const DEVICE_STATUS_REASONS = [
  'connected',
  'disconnected',
  'connection-lost',
  'silence-timeout',
  'reading',
  'suspended',
  'retired',
  'revoked',
  'broker-restart',
  'never-seen',
] as const;
export type DeviceStatusReason = (typeof DEVICE_STATUS_REASONS)[number];

const isoTime = z.iso.datetime({ offset: true }).describe('ISO-8601 time, UTC');

/**
 * A device's status. `since`: when the current status began; `lastSeen`: when the platform last
 * heard from the device (a connect or any accepted message); `clockOffsetMs`: the receive time
 * minus the newest reading timestamp of the device's latest message, ms (positive: the reading
 * is older than its arrival — a slow clock or a backlog; negative: the device's clock is ahead);
 * `clockSuspect`: the offset broke the platform's clock rule (IOC_CLOCK_SUSPECT_MS, see the
 * README's "Device status").
 */
export const deviceStatusSchema = z.object({
  deviceId: z.string().min(1),
  status: z.enum(DEVICE_STATUSES),
  reason: z.enum(DEVICE_STATUS_REASONS),
  since: isoTime.nullable().describe('when the current status began; null for `unknown`'),
  lastSeen: isoTime.optional(),
  clockOffsetMs: z.number().int().optional().describe('receive time − device timestamp, ms'),
  clockSuspect: z.boolean(),
});
export type DeviceStatus = z.infer<typeof deviceStatusSchema>;

/** One change of a device's status, as the history keeps it. */
export const deviceStatusChangeSchema = z.object({
  status: z.enum(DEVICE_STATUSES),
  reason: z.enum(DEVICE_STATUS_REASONS),
  at: isoTime,
});
export type DeviceStatusChange = z.infer<typeof deviceStatusChangeSchema>;
