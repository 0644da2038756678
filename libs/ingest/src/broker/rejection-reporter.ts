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
 * Answers on one device's `…/error` topic per ERROR_ANSWER_WINDOW_MS (ms) at most; the rest are
 * counted (`broker.errorAnswersSuppressed`) and not sent. Each answer fans out to every
 * subscriber of that topic, so without a bound a stream of invalid publishes becomes N× as many
 * writes to (possibly slow) subscribers: 500 subscribers and 1,500 invalid publishes held every
 * device's PUBACK near 1 s for 15 s (the measurement). The budget of 5 per second is a
 * choice, not a measurement: enough for a device to learn what is wrong with each kind of
 * message it sends, little enough that fan-out stays 5 × subscribers per device per second.
 */
export const ERROR_ANSWER_BURST = 5;
export const ERROR_ANSWER_WINDOW_MS = 1_000;
/**
 * Notices (answers, and relays on the internal rejections topic) per publishing client per
 * window, over all the device ids it names: one connection publishing to 2,000 made-up ids, or one
 * message refused in 499 parts, must not become 2,000 answers or 499 notices to every operator.
 * Like ERROR_ANSWER_BURST, a choice: room for a gateway's few devices, not for a flood.
 */
export const CLIENT_NOTICE_BURST = 20;

/** Takes from per-key budgets that refill every window; keys are forgotten at each refill. */
class WindowBudget {
  private windowStart = 0;
  private readonly used = new Map<string, number>();

  constructor(
    private readonly burst: number,
    private readonly windowMs: number,
  ) {}

  /** Whether `key` still had budget in this window (and takes one from it if so). */
  take(key: string, now: number): boolean {
    if (now - this.windowStart >= this.windowMs) {
      this.windowStart = now;
      this.used.clear();
    }
    const used = this.used.get(key) ?? 0;
    if (used >= this.burst) return false;
    this.used.set(key, used + 1);
    return true;
  }
}

/**
 * A rejection is counted by reason (every one, always), logged with the device id (at most
 * LOG_BURST lines per device per 10 s), answered on the device's `.../error` topic and relayed on
 * the internal rejections topic for operators — each of those at most ERROR_ANSWER_BURST per
 * device and CLIENT_NOTICE_BURST per publishing client per second; what is not sent is counted
 * (`broker.errorAnswersSuppressed`, `broker.rejectionNoticesSuppressed`).
 */
export class RejectionReporter {
  private logWindowStart = 0;
  private readonly loggedPerDevice = new Map<string, number>();
  /** Answers per error topic, and per publishing client, in the current window. */
  private readonly answersPerTopic = new WindowBudget(ERROR_ANSWER_BURST, ERROR_ANSWER_WINDOW_MS);
  private readonly answersPerClient = new WindowBudget(CLIENT_NOTICE_BURST, ERROR_ANSWER_WINDOW_MS);
  /** Internal relays per device (or client, when no device was named), and per client. */
  private readonly relaysPerSource = new WindowBudget(ERROR_ANSWER_BURST, ERROR_ANSWER_WINDOW_MS);
  private readonly relaysPerClient = new WindowBudget(CLIENT_NOTICE_BURST, ERROR_ANSWER_WINDOW_MS);

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
    const now = Date.now();
    const clientKey = client?.id ?? '';
    const errorTopic = device ? deviceTopic(device.domain, device.deviceId, 'error') : undefined;
    if (
      errorTopic &&
      this.answersPerTopic.take(errorTopic, now) &&
      this.answersPerClient.take(clientKey, now)
    ) {
      broker.publish(
        {
          cmd: 'publish',
          topic: errorTopic,
          payload,
          qos: 0,
          retain: false,
          dup: false,
        },
        () => answered?.(),
      );
    } else {
      if (errorTopic) this.stats.countGuard('errorAnswersSuppressed');
      answered?.();
    }
    const source = device?.deviceId ?? `client:${clientKey}`;
    if (!(this.relaysPerSource.take(source, now) && this.relaysPerClient.take(clientKey, now))) {
      this.stats.countGuard('rejectionNoticesSuppressed');
      return;
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
