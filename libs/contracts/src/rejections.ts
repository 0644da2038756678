/**
 * Why a message was refused. Each reason is counted separately, logged with the device id and
 * sent back to the device on `.../error`.
 */
export const REJECTION_REASONS = [
  'payload-too-large',
  'malformed-json',
  'invalid-topic',
  'unknown-device',
  'wrong-domain',
  'schema-violation',
  'out-of-range',
  'timestamp-in-future',
  'timestamp-too-old',
  // The platform, not the message: the durable spool is full because the store is down or slow.
  'spool-full',
] as const;
export type RejectionReason = (typeof REJECTION_REASONS)[number];

export interface Rejection {
  reason: RejectionReason;
  /** Human-readable and specific: which field, which value, which limit. */
  detail: string;
}

/** Body published on a device's `.../error` topic. */
export interface DeviceErrorMessage extends Rejection {
  topic: string;
  /** When the platform rejected the message, ISO-8601. */
  at: string;
}
