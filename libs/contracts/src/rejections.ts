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
  // The same key twice in one JSON object: JSON.parse would silently keep the last value.
  'duplicate-key',
  // A batch or SenML pack with more entries than MAX_ENTRIES_PER_MESSAGE.
  'too-many-readings',
  // A SenML record whose unit is not its metric's catalogue unit (nothing is converted).
  'unit-mismatch',
  // The platform, not the message: the durable spool is full because the store is down or slow.
  'spool-full',
  // An authenticated device (IOC_MQTT_AUTH=credentials) published, or left a will, on a topic
  // that is not under its own `ioc/v1/{its domain}/{its id}/`: another device's topic, another
  // domain. Answered on the publisher's own error topic; the message is delivered nowhere.
  'forbidden-topic',
] as const;
export type RejectionReason = (typeof REJECTION_REASONS)[number];

export interface Rejection {
  reason: RejectionReason;
  /** Human-readable and specific: which field, which value, which limit. */
  detail: string;
}

/**
 * A refusal of one part of a message, the rest of which may be accepted: one metric of a reading,
 * one element of a batch, one record of a SenML pack. A refusal of the whole message has neither
 * field. Both are copied into the `DeviceErrorMessage` answered on the device's error topic.
 */
export interface PartRejection extends Rejection {
  /** 0-based position of the element in a batch, or of the record in a SenML pack. */
  index?: number;
  /** The metric refused (a catalogue name, or the device-supplied name when it is not one). */
  metric?: string;
}

/**
 * Body published on a device's `.../error` topic: the refusal (with `index` and `metric` when only
 * part of the message was refused), the topic it arrived on and when.
 */
export interface DeviceErrorMessage extends PartRejection {
  topic: string;
  /** When the platform rejected the message, ISO-8601. */
  at: string;
}
