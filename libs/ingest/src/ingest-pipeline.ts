import {
  type CommandAckNotice,
  type Domain,
  type PartRejection,
  type Reading,
  type Rejection,
  type ReadingKind,
  isReadingChannel,
  parseCommandAck,
  parseDeviceTopic,
  parsePayload,
} from '@ioc/contracts';
import type { DeviceDirectory } from './device-directory';

export interface IngestPipelineOptions {
  maxPayloadBytes: number;
  maxFutureSkewMs: number;
  now?: () => number;
}

/**
 * What one MQTT publish yields.
 * - `ok: true`: `readings`, one or more normalised Readings in message order (one for a single
 *   message; one per valid element of a batch; one per distinct time of a SenML pack), every one
 *   to be made durable before the publish is acknowledged; and `rejections`, each refused part
 *   (a metric: `metric` set; a batch element or SenML record: `index` set), to be counted by
 *   reason and answered on the device's error topic. Empty when nothing was refused.
 * - `ok: false`: nothing is stored. `rejections` (≥ 1) holds the whole-message refusal, or the
 *   refusal of every part when none survived; each is counted and answered. `deviceId` and
 *   `domain` are set when the topic named a device (not for `invalid-topic`).
 */
export type IngestOutcome =
  | { ok: true; readings: Reading[]; rejections: readonly PartRejection[]; deviceId: string; domain: Domain }
  | CommandAckOutcome
  | { ok: false; rejections: readonly PartRejection[]; deviceId?: string; domain?: Domain };

/**
 * A valid command acknowledgement (topic `…/command/ack`): no reading, nothing to store; `ack` is
 * the notice to relay on INTERNAL_COMMAND_ACKS_TOPIC. An invalid ack is an `ok: false` outcome
 * like any refused message (malformed-json, duplicate-key, schema-violation, and the topic's
 * unknown-device, wrong-domain, payload-too-large).
 */
export interface CommandAckOutcome {
  ok: true;
  ack: CommandAckNotice;
  readings: readonly [];
  rejections: readonly [];
  deviceId: string;
  domain: Domain;
}

/**
 * One MQTT publish → its normalised Readings and the specific reason for each part refused. Pure
 * and synchronous (runs inside aedes' authorizePublish for every message): no I/O, no throws.
 * Device metadata comes from the registry, never from the payload, so a device cannot claim
 * another area or type.
 */
export class IngestPipeline {
  private readonly now: () => number;

  constructor(
    private readonly directory: DeviceDirectory,
    private readonly options: IngestPipelineOptions,
  ) {
    this.now = options.now ?? Date.now;
  }

  process(topic: string, payload: Uint8Array): IngestOutcome {
    const parsedTopic = parseDeviceTopic(topic);
    if (!parsedTopic.ok)
      return { ok: false, rejections: [{ reason: 'invalid-topic', detail: parsedTopic.detail }] };
    const { domain, deviceId, channel } = parsedTopic.topic;

    if (payload.byteLength > this.options.maxPayloadBytes) {
      return rejected(deviceId, domain, {
        reason: 'payload-too-large',
        detail: `payload is ${payload.byteLength} bytes; the limit is ${this.options.maxPayloadBytes}`,
      });
    }
    const device = this.directory.getDevice(deviceId);
    if (!device)
      return rejected(deviceId, domain, {
        reason: 'unknown-device',
        detail: `device "${deviceId}" is not registered`,
      });
    if (device.domain !== domain) {
      return rejected(deviceId, domain, {
        reason: 'wrong-domain',
        detail: `device "${deviceId}" (${device.type}) belongs to domain "${device.domain}", not "${domain}"`,
      });
    }
    if (!isReadingChannel(channel)) return this.commandAck(deviceId, domain, payload);
    const result = parsePayload(device.type, channel, payload, {
      now: this.now(),
      maxFutureSkewMs: this.options.maxFutureSkewMs,
      deviceId,
    });
    if (!result.ok) return { ok: false, rejections: result.rejections, deviceId, domain };

    const kind: ReadingKind = channel;
    const areaPath = this.directory.sharedAreaPath(device.areaId);
    const readings: Reading[] = [];
    for (const payload of result.readings) {
      const reading: Reading = {
        deviceId,
        deviceType: device.type,
        domain,
        kind,
        areaId: device.areaId,
        areaPath,
        location: device.location,
        ts: payload.ts,
        metrics: payload.metrics,
      };
      if (payload.seq !== undefined) reading.seq = payload.seq;
      if (payload.event !== undefined) reading.event = payload.event;
      readings.push(reading);
    }
    return { ok: true, readings, rejections: result.rejections, deviceId, domain };
  }

  /** A device's ack on its `…/command/ack` topic → the notice to relay, or the refusal. */
  private commandAck(deviceId: string, domain: Domain, payload: Uint8Array): IngestOutcome {
    const parsed = parseCommandAck(payload);
    if (!parsed.ok) return rejected(deviceId, domain, { reason: parsed.reason, detail: parsed.detail });
    const { id, outcome, detail, ts } = parsed.ack;
    const ack: CommandAckNotice = { deviceId, domain, commandId: id, outcome, receivedAt: this.now() };
    if (detail !== undefined) ack.detail = detail;
    if (ts !== undefined) ack.deviceTs = ts;
    return { ok: true, ack, readings: [], rejections: [], deviceId, domain };
  }
}

/** A refusal naming the device the topic named (a plain function: no closure per message). */
function rejected(deviceId: string, domain: Domain, rejection: Rejection): IngestOutcome {
  return { ok: false, rejections: [rejection], deviceId, domain };
}
