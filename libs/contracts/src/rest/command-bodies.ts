import { z } from 'zod';
import { COMMAND_ID_PATTERN, COMMAND_OUTCOMES } from '../device-commands';

/**
 * What became of a command sent to a device: `sent` (published with QoS 1, no answer yet),
 * `acknowledged` (the device answered `done`), `failed` (it answered `failed` or `rejected`, or
 * the command could not be published), `timed-out` (no answer before its deadline).
 */
export const COMMAND_STATES = ['sent', 'acknowledged', 'failed', 'timed-out'] as const;
export type CommandState = (typeof COMMAND_STATES)[number];

/** Default and bounds of a command's timeout (seconds): long enough for a device on a slow cellular link. */
export const DEFAULT_COMMAND_TIMEOUT_SECONDS = 30;
export const MAX_COMMAND_TIMEOUT_SECONDS = 3600;

/**
 * `POST /api/v1/devices/{id}/commands`: a command of the device's type (DEVICE_COMMANDS), its
 * parameters (checked with validateCommand), and how long to wait for the device's
 * acknowledgement.
 */
export const commandRequestBody = z.strictObject({
  command: z.string().min(1).max(64),
  params: z.record(z.string(), z.unknown()).default({}),
  timeoutSeconds: z
    .number()
    .int()
    .min(1)
    .max(MAX_COMMAND_TIMEOUT_SECONDS)
    .default(DEFAULT_COMMAND_TIMEOUT_SECONDS),
});
export type CommandRequestBody = z.infer<typeof commandRequestBody>;

/** A command as REST and the live feed (`command` event) show it. Times are ISO-8601. */
export const commandRecordBody = z.object({
  id: z.string().regex(COMMAND_ID_PATTERN),
  deviceId: z.string(),
  command: z.string(),
  params: z.record(z.string(), z.unknown()),
  state: z.enum(COMMAND_STATES),
  requestedBy: z.string().optional(),
  createdAt: z.string(),
  /** When it times out without an acknowledgement. */
  deadline: z.string(),
  /** When the acknowledgement, the failure or the timeout was recorded. */
  completedAt: z.string().optional(),
  /** The device's own answer. */
  outcome: z.enum(COMMAND_OUTCOMES).optional(),
  detail: z.string().optional(),
  /** The acknowledgement came after the deadline (the command had been marked timed out). */
  late: z.boolean().optional(),
});
export type CommandRecordBody = z.infer<typeof commandRecordBody>;

export const commandListBody = z.object({ items: z.array(commandRecordBody) });
export type CommandListBody = z.infer<typeof commandListBody>;
