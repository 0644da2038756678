import { connect, type IClientOptions, type MqttClient } from 'mqtt';
import type { z } from 'zod';
import {
  agencyAlertTopicPrefix,
  type AlertEvent,
  alertEventsSchema,
  INTERNAL_ALERTS_TOPIC,
  type CommandAckNotice,
  type CommandMessage,
  commandAckNoticeSchema,
  commandMessageSchema,
  deviceTopic,
  type DeviceType,
  type Domain,
  INTERNAL_COMMAND_ACKS_TOPIC,
  type DeviceStatusNotice,
  deviceStatusNoticeSchema,
  INTERNAL_DEVICE_STATUS_TOPIC,
  INTERNAL_INGEST_STATS_TOPIC_PREFIX,
  INTERNAL_READINGS_TOPIC,
  INTERNAL_REGISTRY_CHANGES_TOPIC,
  INTERNAL_REGISTRY_POSITION_TOPIC_PREFIX,
  INTERNAL_REJECTIONS_TOPIC,
  INTERNAL_USERNAME,
  type IngestStatsMessage,
  type RegistryChangeNotice,
  type RejectionNotice,
  ingestStatsSchema,
  registryChangeNoticeSchema,
  type RegistryPosition,
  registryPositionSchema,
  rejectionNoticeSchema,
  validateCommand,
} from '@ioc/contracts';
import type { Logger } from '@ioc/runtime';
import { firstIssue, ReadingBatch, type InvalidBusMessage } from './reading-batch';
import { isServiceClientId } from './service-client-id';

/** What a service wants from the bus; only the topics with a handler are subscribed. */
export interface InternalBusHandlers {
  /** Each relayed group commit of the spool; decoded and validated on first use of `.readings`. */
  readings?: (batch: ReadingBatch) => void;
  /** Each refused device message (or refused part of one). */
  rejection?: (notice: RejectionNotice) => void;
  /**
   * Each broker node's counters (`$internal/ioc/v1/ingest-stats/{node}`, retained: each node's
   * latest arrives right after subscribing, with `retained` true — it may be old, see `publishedAt`).
   * A message whose `node` is not its topic's is refused as invalid.
   */
  ingestStats?: (stats: IngestStatsMessage, delivery: { retained: boolean }) => void;
  /**
   * A node's retained statistics were cleared (an empty retained publish on its topic, by
   * clearIngestStats on any API node: a retired broker node is forgotten). `node` is the topic's
   * last level.
   */
  ingestStatsCleared?: (node: string) => void;
  /**
   * Each valid command ack a device published, relayed by the broker (QoS 1). Subscribed only
   * while connected (clean session): acks relayed while the service is away are not queued.
   */
  commandAck?: (notice: CommandAckNotice) => void;
  /** Device statuses that changed (one per device, its current status; ≤ MAX_DEVICE_STATUS_NOTICE). */
  deviceStatus?: (statuses: DeviceStatusNotice) => void;
  /** A process (this one included) committed registry changes: read the change log. */
  registryChanges?: (notice: RegistryChangeNotice) => void;
  /** A broker node applied the registry up to a change-log position (retained: the latest on subscribing). */
  registryPosition?: (position: RegistryPosition) => void;
  /**
   * Alert transitions the alert engine committed, in commit order (INTERNAL_ALERTS_TOPIC, QoS 1,
   * validated with alertEventsSchema). Not queued while away (clean session): the database holds them.
   */
  alerts?: (events: AlertEvent[]) => void;
}

/** A broker node's name as clearIngestStats accepts it (`broker-<IOC_BROKER_ID>`: one topic level). */
export const INGEST_STATS_NODE_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;

/** How long publishAgencyAlert waits for the broker's PUBACK (ms). */
export const ALERT_PUBLISH_TIMEOUT_MS = 10_000;

/** Keep-alive of platform services' broker connections (seconds). */
export const INTERNAL_KEEPALIVE_SECONDS = 5;

/** How long publishCommand waits for the broker's PUBACK before it gives up (ms). */
export const COMMAND_PUBLISH_TIMEOUT_MS = 5000;

/** The device a command goes to: its domain and id name the topic; its type, if given, checks the params. */
export interface CommandTarget {
  domain: Domain;
  id: string;
  type?: DeviceType;
}

export interface InternalBusClientOptions {
  /** The platform's broker, e.g. `mqtt://127.0.0.1:1883`. */
  brokerUrl: string;
  /**
   * This service node's reserved client id (`serviceClientId('api', nodeId)`): stable across
   * restarts, unique per node, usable only with the internal login.
   */
  clientId: string;
  /** The internal secret (`IOC_INTERNAL_SECRET`). */
  secret: string;
  logger: Logger;
  /** Delay between reconnection attempts; 1 000 ms by default. */
  reconnectPeriodMs?: number;
  /**
   * Delay before trying again after the broker refused the login (CONNACK 4 or 5: the internal
   * secret is wrong, or the broker throttles this address after wrong ones); default
   * INTERNAL_LOGIN_REFUSED_RETRY_MS.
   */
  refusedRetryMs?: number;
}

/**
 * How long a platform service waits after the broker refused its internal login before it tries
 * again (ms). A wrong IOC_INTERNAL_SECRET is a configuration fault that retrying cannot mend, and
 * each wrong attempt counts against the broker's failed-login throttle of the service's address
 * (IOC_MQTT_AUTH_MAX_FAILURES_PER_ADDRESS — behind a load balancer, every service's): one attempt
 * a minute stays far below it, and still reconnects within a minute of the secrets being made equal.
 */
export const INTERNAL_LOGIN_REFUSED_RETRY_MS = 60_000;

/** MQTT 3.1.1 CONNACK return codes of a refused login [MQTT-3.2.2.3]: 4 bad user name or password, 5 not authorized. */
const CONNACK_LOGIN_REFUSED = new Set([4, 5]);

/** Why the broker refused the service: `internal-secret` (CONNACK 4 or 5 on the internal username). */
export type InternalBusRefusal = 'internal-secret';

/** Messages received and refused per internal topic since the client was created. */
export interface InternalBusStats {
  received: Record<string, number>;
  invalid: Record<string, number>;
}

/** Log at most this many invalid internal messages per minute; the counters see them all. */
const INVALID_LOG_BURST = 5;
const INVALID_LOG_WINDOW_MS = 60_000;

/**
 * A platform service's connection to the internal bus (`$internal/…` topics on the platform's
 * broker), free of any framework: the API, a future alert engine or the console's server use it
 * alike.
 *
 * Session: clean (`clean: true`) under a stable reserved client id. The live feed is live: what
 * is relayed while a service is away is not queued for it (the durable record of every reading
 * is the spool and the store), so restarting a service leaves no session behind on the broker,
 * and a node that never comes back leaves nothing that grows with the readings. Consumers that
 * must see every reading (the alert engine) read the spool through a durable cursor instead.
 *
 * Every payload is validated against its schema in `@ioc/contracts` (`internal-bus.ts`); what
 * does not parse is counted (`stats().invalid`), logged and dropped, never handed to a handler.
 */
export class InternalBusClient {
  private readonly client: MqttClient;
  private readonly counters: InternalBusStats = { received: {}, invalid: {} };
  private invalidLogWindowStart = 0;
  private invalidLogged = 0;
  private refusal: InternalBusRefusal | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private closing = false;

  private constructor(
    private readonly options: InternalBusClientOptions,
    private readonly handlers: InternalBusHandlers,
  ) {
    if (!isServiceClientId(options.clientId)) {
      throw new RangeError(
        `internal bus client id "${options.clientId}" is not a reserved service client id (ioc-<role>-<node id>)`,
      );
    }
    const mqttOptions: IClientOptions = {
      clientId: options.clientId,
      username: INTERNAL_USERNAME,
      password: options.secret,
      clean: true,
      // Subscriptions are made again on every connect (a clean session starts with none).
      resubscribe: false,
      reconnectPeriod: options.reconnectPeriodMs ?? 1000,
      // A broker that stops answering (hung, not gone) is noticed within about two keep-alive
      // periods [MQTT-3.1.2-24]: the connection is dropped, `connected` turns false, /health 503.
      keepalive: INTERNAL_KEEPALIVE_SECONDS,
    };
    this.client = connect(options.brokerUrl, mqttOptions);
    this.client.on('connect', () => this.onConnect());
    this.client.on('error', (error) => this.onError(error));
    this.client.on('message', (topic, payload, packet) => this.dispatch(topic, payload, packet.retain));
  }

  /** Connects (and keeps reconnecting) in the background; handlers run as messages arrive. */
  static connect(options: InternalBusClientOptions, handlers: InternalBusHandlers): InternalBusClient {
    return new InternalBusClient(options, handlers);
  }

  get connected(): boolean {
    return this.client.connected;
  }

  /**
   * Set while the broker refuses this service's login (CONNACK 4 or 5: IOC_INTERNAL_SECRET differs
   * from the broker's); cleared when a later attempt is accepted.
   */
  get refused(): InternalBusRefusal | undefined {
    return this.refusal;
  }

  stats(): InternalBusStats {
    return { received: { ...this.counters.received }, invalid: { ...this.counters.invalid } };
  }

  /**
   * Publishes `message` on the device's `ioc/v1/{domain}/{id}/command` topic with QoS 1 (not
   * retained); resolves on the broker's PUBACK. The message is checked first with
   * `commandMessageSchema` and, when `device.type` is given, its command and params with
   * `validateCommand`: an invalid one throws a RangeError naming the field, and nothing is sent.
   * While the connection is down MQTT.js queues the publish and sends it after reconnecting.
   * @throws Error when the broker has not acknowledged it within `timeoutMs` (default
   *   COMMAND_PUBLISH_TIMEOUT_MS); MQTT.js may still deliver it later, so the message's
   *   `expiresAt` is what stops a device from acting on it too late
   */
  async publishCommand(
    device: CommandTarget,
    message: CommandMessage,
    timeoutMs = COMMAND_PUBLISH_TIMEOUT_MS,
  ): Promise<void> {
    const envelope = commandMessageSchema.safeParse(message);
    if (!envelope.success) {
      throw new RangeError(`invalid command for ${device.id}: ${firstIssue(envelope.error)}`);
    }
    if (device.type !== undefined) {
      const checked = validateCommand(device.type, message.command, message.params);
      if (!checked.ok) throw new RangeError(`invalid command for ${device.id}: ${checked.detail}`);
    }
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        this.client.publishAsync(
          deviceTopic(device.domain, device.id, 'command'),
          JSON.stringify(envelope.data),
          {
            qos: 1,
            retain: false,
          },
        ),
        new Promise<never>((_resolve, reject) => {
          timer = setTimeout(
            () => reject(new Error(`the broker did not acknowledge the command within ${timeoutMs} ms`)),
            timeoutMs,
          );
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Announces registry changes committed up to change-log `seq` to every platform process
   * (QoS 1, not retained: a process that starts later loads the database anyway). Resolves when
   * the broker has acknowledged it; while the bus is down it rejects at once rather than queue —
   * the other processes' periodic change-log check (REGISTRY_POLL_MS) catches the change up.
   * @throws Error when not connected or the broker refuses the publish
   */
  async publishRegistryChanges(notice: RegistryChangeNotice): Promise<void> {
    if (!this.client.connected) throw new Error('not connected to the internal bus');
    await this.client.publishAsync(
      INTERNAL_REGISTRY_CHANGES_TOPIC,
      JSON.stringify(registryChangeNoticeSchema.parse(notice)),
      { qos: 1 },
    );
  }

  /**
   * Publishes a notification (its NotificationBody JSON, exactly as stored) on the agency's alert
   * topic `ioc/v1/alerts/{agencyId}/{notificationId}`, QoS 1, not retained; resolves on the
   * broker's PUBACK — the broker has then routed it to the agency's subscribed sessions (queued
   * for a persistent one that is away). Only platform services may publish there (the broker's
   * authorizePublish diverts everyone else's publishes) and only the agency's account may read it.
   * @throws Error when not connected, or not acknowledged within `timeoutMs` (the outbox retries)
   */
  async publishAgencyAlert(
    agencyId: string,
    notificationId: string,
    body: string,
    timeoutMs = ALERT_PUBLISH_TIMEOUT_MS,
  ): Promise<void> {
    if (!this.client.connected) throw new Error('not connected to the internal bus');
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        this.client.publishAsync(`${agencyAlertTopicPrefix(agencyId)}${notificationId}`, body, {
          qos: 1,
          retain: false,
        }),
        new Promise<never>((_resolve, reject) => {
          timer = setTimeout(
            () => reject(new Error(`the broker did not acknowledge the alert within ${timeoutMs} ms`)),
            timeoutMs,
          );
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Publishes alert transitions the engine committed (INTERNAL_ALERTS_TOPIC, QoS 1, not
   * retained), validated with alertEventsSchema. Best effort by design: API nodes read the
   * database after their own cursor, so a lost message only delays a notification.
   * @throws ZodError for events the schema refuses (nothing sent); Error when not connected
   */
  async publishAlerts(events: readonly AlertEvent[]): Promise<void> {
    if (!this.client.connected) throw new Error('not connected to the internal bus');
    await this.client.publishAsync(INTERNAL_ALERTS_TOPIC, JSON.stringify(alertEventsSchema.parse(events)), {
      qos: 1,
    });
  }

  /**
   * Clears a broker node's retained statistics (`$internal/ioc/v1/ingest-stats/{node}`): an empty
   * retained publish, QoS 1, which removes the retained message [MQTT-3.3.1-10] — from Redis too
   * with several broker nodes — and reaches every subscribed API node as a zero-length message
   * [MQTT-3.3.1-12] (their `ingestStatsCleared`). Resolves on the broker's PUBACK.
   * @throws RangeError for a node name that is not one topic level of [A-Za-z0-9._-]{1,64};
   *   Error when not connected
   */
  async clearIngestStats(node: string): Promise<void> {
    if (!INGEST_STATS_NODE_PATTERN.test(node))
      throw new RangeError(`not a broker node name: ${node.slice(0, 80)}`);
    if (!this.client.connected) throw new Error('not connected to the internal bus');
    await this.client.publishAsync(`${INTERNAL_INGEST_STATS_TOPIC_PREFIX}${node}`, Buffer.alloc(0), {
      qos: 1,
      retain: true,
    });
  }

  /** Disconnects cleanly (DISCONNECT sent, so the broker publishes no will and keeps no session). */
  async close(): Promise<void> {
    this.closing = true;
    clearTimeout(this.retryTimer);
    await this.client.endAsync();
  }

  /**
   * A connection error. A refused CONNACK stops MQTT.js from reconnecting by itself (mqtt 5:
   * `reconnectOnConnackError` off), so this client schedules the next attempt: after
   * `refusedRetryMs` for a refused login — logged once at error level, naming IOC_INTERNAL_SECRET,
   * and shown by `refused` (the API's /health: 503, `broker.refused: internal-secret`) — and after
   * the usual reconnect period for any other refusal (3 server unavailable). Other errors
   * (a refused TCP connection, a reset) are logged and MQTT.js reconnects as usual.
   */
  private onError(error: Error & { code?: unknown }): void {
    const { logger, clientId, brokerUrl } = this.options;
    const code = typeof error.code === 'number' ? error.code : undefined;
    const connackRefusal = code !== undefined && code > 0 && error.message.startsWith('Connection refused');
    if (!connackRefusal) {
      logger.warn({ err: error.message, clientId }, 'broker connection error');
      return;
    }
    if (CONNACK_LOGIN_REFUSED.has(code)) {
      if (this.refusal === undefined) {
        logger.error(
          { brokerUrl, clientId, returnCode: code },
          `the broker refused this platform service's login (CONNACK ${code}): IOC_INTERNAL_SECRET differs from the broker's ` +
            `(or the broker throttles this address after wrong ones). Set the same IOC_INTERNAL_SECRET on every broker and API node; ` +
            `trying again every ${Math.round(this.refusedRetryMs / 1000)} s`,
        );
      }
      this.refusal = 'internal-secret';
      this.retryLater(this.refusedRetryMs);
      return;
    }
    logger.warn({ err: error.message, clientId, returnCode: code }, 'broker refused the connection');
    this.retryLater(this.options.reconnectPeriodMs ?? 1000);
  }

  private get refusedRetryMs(): number {
    return this.options.refusedRetryMs ?? INTERNAL_LOGIN_REFUSED_RETRY_MS;
  }

  private retryLater(delayMs: number): void {
    if (this.closing) return;
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      if (!this.closing && !this.client.connected) this.client.reconnect();
    }, delayMs);
    this.retryTimer.unref();
  }

  private onConnect(): void {
    const { logger, brokerUrl, clientId } = this.options;
    if (this.refusal !== undefined) {
      logger.info({ brokerUrl, clientId }, 'the broker accepts the internal secret again');
      this.refusal = undefined;
    }
    logger.info({ brokerUrl, clientId }, 'connected to the internal bus');
    const topics: Record<string, { qos: 0 | 1 }> = {};
    if (this.handlers.readings) topics[INTERNAL_READINGS_TOPIC] = { qos: 1 };
    if (this.handlers.rejection) topics[INTERNAL_REJECTIONS_TOPIC] = { qos: 0 };
    if (this.handlers.ingestStats) topics[`${INTERNAL_INGEST_STATS_TOPIC_PREFIX}+`] = { qos: 0 };
    if (this.handlers.commandAck) topics[INTERNAL_COMMAND_ACKS_TOPIC] = { qos: 1 };
    if (this.handlers.deviceStatus) topics[INTERNAL_DEVICE_STATUS_TOPIC] = { qos: 1 };
    if (this.handlers.registryChanges) topics[INTERNAL_REGISTRY_CHANGES_TOPIC] = { qos: 1 };
    if (this.handlers.registryPosition) topics[`${INTERNAL_REGISTRY_POSITION_TOPIC_PREFIX}+`] = { qos: 1 };
    if (this.handlers.alerts) topics[INTERNAL_ALERTS_TOPIC] = { qos: 1 };
    if (Object.keys(topics).length === 0) return;
    this.client.subscribe(topics, (error, granted) => {
      if (error) logger.error({ err: error }, 'internal subscription failed');
      for (const grant of granted ?? []) {
        if (grant.qos === 0x80)
          logger.error({ topic: grant.topic }, 'internal subscription refused by the broker');
      }
    });
  }

  private dispatch(topic: string, payload: Buffer, retained: boolean): void {
    this.counters.received[topic] = (this.counters.received[topic] ?? 0) + 1;
    const onInvalid = (problem: InvalidBusMessage): void => this.invalid(topic, problem);
    switch (topic) {
      case INTERNAL_READINGS_TOPIC:
        this.handlers.readings?.(new ReadingBatch(payload, onInvalid));
        return;
      case INTERNAL_REJECTIONS_TOPIC: {
        const notice = parseJson(payload, rejectionNoticeSchema, onInvalid);
        if (notice) this.handlers.rejection?.(notice);
        return;
      }
      case INTERNAL_COMMAND_ACKS_TOPIC: {
        const notice = parseJson(payload, commandAckNoticeSchema, onInvalid);
        if (notice) this.handlers.commandAck?.(notice);
        return;
      }
      case INTERNAL_DEVICE_STATUS_TOPIC: {
        const statuses = parseJson(payload, deviceStatusNoticeSchema, onInvalid);
        if (statuses) this.handlers.deviceStatus?.(statuses);
        return;
      }
      case INTERNAL_REGISTRY_CHANGES_TOPIC: {
        const notice = parseJson(payload, registryChangeNoticeSchema, onInvalid);
        if (notice) this.handlers.registryChanges?.(notice);
        return;
      }
      case INTERNAL_ALERTS_TOPIC: {
        const events = parseJson(payload, alertEventsSchema, onInvalid);
        if (events) this.handlers.alerts?.(events);
        return;
      }
      default: {
        if (topic.startsWith(INTERNAL_INGEST_STATS_TOPIC_PREFIX)) {
          if (payload.length === 0) {
            this.handlers.ingestStatsCleared?.(topic.slice(INTERNAL_INGEST_STATS_TOPIC_PREFIX.length));
            return;
          }
          const stats = parseJson(payload, ingestStatsSchema, onInvalid);
          if (!stats) return;
          if (topic !== `${INTERNAL_INGEST_STATS_TOPIC_PREFIX}${stats.node}`) {
            onInvalid({ detail: `ingest statistics of node ${stats.node} on another node's topic` });
            return;
          }
          this.handlers.ingestStats?.(stats, { retained });
          return;
        }
        if (topic.startsWith(INTERNAL_REGISTRY_POSITION_TOPIC_PREFIX)) {
          const position = parseJson(payload, registryPositionSchema, onInvalid);
          if (position) this.handlers.registryPosition?.(position);
          return;
        }
        onInvalid({ detail: 'not a topic this client subscribed to' });
      }
    }
  }

  private invalid(topic: string, problem: InvalidBusMessage): void {
    this.counters.invalid[topic] = (this.counters.invalid[topic] ?? 0) + 1;
    const now = Date.now();
    if (now - this.invalidLogWindowStart > INVALID_LOG_WINDOW_MS) {
      this.invalidLogWindowStart = now;
      this.invalidLogged = 0;
    }
    if (this.invalidLogged++ < INVALID_LOG_BURST) {
      this.options.logger.error({ topic, detail: problem.detail }, 'invalid internal message dropped');
    }
  }
}

/** JSON.parse + schema; undefined (after reporting why) when either fails. */
function parseJson<T>(
  payload: Buffer,
  schema: z.ZodType<T>,
  onInvalid: (problem: InvalidBusMessage) => void,
): T | undefined {
  let body: unknown;
  try {
    body = JSON.parse(payload.toString('utf8'));
  } catch (error) {
    onInvalid({ detail: `not JSON: ${(error as Error).message}` });
    return undefined;
  }
  const parsed = schema.safeParse(body);
  if (parsed.success) return parsed.data;
  onInvalid({ detail: firstIssue(parsed.error) });
  return undefined;
}
