import {
  type Domain,
  type Reading,
  type Rejection,
  type ReadingKind,
  parseDeviceTopic,
  parsePayload,
} from '@ioc/contracts';
import type { DeviceDirectory } from './device-directory';

export interface IngestPipelineOptions {
  maxPayloadBytes: number;
  maxFutureSkewMs: number;
  now?: () => number;
}

export type IngestOutcome =
  { ok: true; reading: Reading } | { ok: false; rejection: Rejection; deviceId?: string; domain?: Domain };

/**
 * One MQTT publish → one normalised Reading, or the specific reason it is refused. Pure and
 * synchronous (runs inside aedes' authorizePublish for every message): no I/O, no throws.
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
      return { ok: false, rejection: { reason: 'invalid-topic', detail: parsedTopic.detail } };
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
    const result = parsePayload(device.type, channel, payload, {
      now: this.now(),
      maxFutureSkewMs: this.options.maxFutureSkewMs,
    });
    if (!result.ok) return rejected(deviceId, domain, { reason: result.reason, detail: result.detail });

    const kind: ReadingKind = channel;
    const reading: Reading = {
      deviceId,
      deviceType: device.type,
      domain,
      kind,
      areaId: device.areaId,
      areaPath: this.directory.sharedAreaPath(device.areaId),
      location: device.location,
      ts: result.payload.ts,
      metrics: result.payload.metrics,
    };
    if (result.payload.seq !== undefined) reading.seq = result.payload.seq;
    if (result.payload.event !== undefined) reading.event = result.payload.event;
    return { ok: true, reading };
  }
}

/** A refusal naming the device the topic named (a plain function: no closure per message). */
function rejected(deviceId: string, domain: Domain, rejection: Rejection): IngestOutcome {
  return { ok: false, rejection, deviceId, domain };
}
