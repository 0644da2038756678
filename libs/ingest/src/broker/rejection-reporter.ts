import type { Aedes, Client } from 'aedes';
import {
  type DeviceErrorMessage,
  type Domain,
  INTERNAL_REJECTIONS_TOPIC,
  type Rejection,
  deviceTopic,
} from '@ioc/contracts';
import type { Logger } from '@ioc/runtime';
import type { IngestStats } from '../ingest-stats';

/** Log at most this many rejections per device per window; the counters still see them all. */
const LOG_BURST = 5;
const LOG_WINDOW_MS = 10_000;

/**
 * A rejection is counted by reason, logged with the device id, answered on the device's
 * `.../error` topic and relayed on the internal rejections topic for operators.
 */
export class RejectionReporter {
  private logWindowStart = 0;
  private readonly loggedPerDevice = new Map<string, number>();

  constructor(
    private readonly broker: () => Aedes | undefined,
    private readonly stats: IngestStats,
    private readonly logger: Logger,
  ) {}

  report(
    client: Client | null,
    topic: string,
    device: { deviceId: string; domain: Domain } | undefined,
    rejection: Rejection,
    /** Called once the answer has been handed to the device's subscription (before a disconnect). */
    answered?: () => void,
  ): void {
    this.stats.countRejected(rejection.reason);
    this.log(client, topic, device?.deviceId, rejection);
    const broker = this.broker();
    if (!broker) {
      answered?.();
      return;
    }
    const message: DeviceErrorMessage = {
      ...rejection,
      topic: topic.slice(0, 256),
      at: new Date().toISOString(),
    };
    const payload = Buffer.from(JSON.stringify(message));
    if (device) {
      broker.publish(
        {
          cmd: 'publish',
          topic: deviceTopic(device.domain, device.deviceId, 'error'),
          payload,
          qos: 0,
          retain: false,
          dup: false,
        },
        () => answered?.(),
      );
    } else {
      answered?.();
    }
    broker.publish(
      {
        cmd: 'publish',
        topic: INTERNAL_REJECTIONS_TOPIC,
        payload: Buffer.from(
          JSON.stringify({ ...message, deviceId: device?.deviceId ?? null, clientId: client?.id ?? null }),
        ),
        qos: 0,
        retain: false,
        dup: false,
      },
      () => undefined,
    );
  }

  private log(
    client: Client | null,
    topic: string,
    deviceId: string | undefined,
    rejection: Rejection,
  ): void {
    const now = Date.now();
    if (now - this.logWindowStart > LOG_WINDOW_MS) {
      this.logWindowStart = now;
      this.loggedPerDevice.clear();
    }
    const key = deviceId ?? client?.id ?? '?';
    const logged = this.loggedPerDevice.get(key) ?? 0;
    this.loggedPerDevice.set(key, logged + 1);
    if (logged >= LOG_BURST) return;
    this.logger.warn(
      {
        deviceId,
        clientId: client?.id,
        topic: topic.slice(0, 256),
        reason: rejection.reason,
        detail: rejection.detail,
      },
      logged + 1 === LOG_BURST
        ? 'message rejected (further rejections from this device muted for 10 s)'
        : 'message rejected',
    );
  }
}
