import { z } from 'zod';
import { COMMAND_ID_PATTERN, COMMAND_OUTCOMES } from './device-commands';
import { deviceStatusSchema } from './device-status';
import { DEVICE_TYPES, type DeviceType } from './device-types';
import { DOMAINS } from './domains';
import { READING_KINDS } from './reading';
import { REJECTION_REASONS } from './rejections';

/*
 * The internal bus: `$internal/…` topics on the platform's own broker, between platform services
 * (broker → API, later → alert engine, console server). Every payload has a schema here; every
 * consumer validates what it receives with it (libs/bus does) and drops what does not parse.
 *
 * The schemas are tolerant readers: fields a newer producer added are ignored (stripped), but every
 * field named here must have the type named here. So a broker one version ahead of an API does not
 * break its live feed, while a malformed or forged message is refused.
 */

const finite = z.number().refine(Number.isFinite, 'not a finite number');
const count = z.number().int().nonnegative();

/** `Reading` (reading.ts) as it travels on the bus; `ts` is epoch milliseconds. */
export const readingSchema = z.object({
  deviceId: z.string().min(1),
  deviceType: z.enum(DEVICE_TYPES as [DeviceType, ...DeviceType[]]),
  domain: z.enum(DOMAINS),
  kind: z.enum(READING_KINDS),
  areaId: z.string().min(1),
  areaPath: z.array(z.string()),
  location: z.object({ lat: finite, lon: finite }),
  ts: z.number().int(),
  seq: count.optional(),
  event: z.string().optional(),
  metrics: z.record(z.string(), z.union([finite, z.boolean(), z.string()])),
});

/**
 * Payload of `$internal/ioc/v1/readings`: the readings of one group commit of the durable spool,
 * in spool order, at most 1 000 per message (the broker's LIVE_BATCH).
 */
export const readingBatchSchema = z.array(readingSchema);

/**
 * Payload of `$internal/ioc/v1/rejections`: one refused message (or part of one), for operators'
 * live view. `deviceId` is null when the topic did not name a known device.
 */
export const rejectionNoticeSchema = z.object({
  reason: z.enum(REJECTION_REASONS),
  detail: z.string(),
  topic: z.string(),
  at: z.string(),
  deviceId: z.string().nullable(),
  clientId: z.string().nullable(),
});
export type RejectionNotice = z.infer<typeof rejectionNoticeSchema>;

/**
 * Payload of `$internal/ioc/v1/command-acks` (INTERNAL_COMMAND_ACKS_TOPIC, QoS 1): one valid
 * acknowledgement a device published on its own `…/command/ack` topic, relayed by the broker for
 * the command service, which records it against the command `commandId`.
 * - `deviceId`, `domain`: from the topic, checked against the registry (and, with credentials, the
 *   device's login);
 * - `commandId`, `outcome`, `detail?`: the ack's `id`, `outcome`, `detail` (escaped for display);
 * - `deviceTs?`: the ack's `ts`, epoch ms (the device's clock, not checked against ours);
 * - `receivedAt`: when the broker received it, epoch ms.
 */
export const commandAckNoticeSchema = z.object({
  deviceId: z.string().min(1),
  domain: z.enum(DOMAINS),
  commandId: z.string().regex(COMMAND_ID_PATTERN),
  outcome: z.enum(COMMAND_OUTCOMES),
  detail: z.string().optional(),
  deviceTs: z.number().int().optional(),
  receivedAt: z.number().int(),
});
export type CommandAckNotice = z.infer<typeof commandAckNoticeSchema>;

/** Codes of the platform's own health conditions (not threshold alerts: those are rules' alerts). */
export const HEALTH_CONDITION_CODES = [
  'spool-filling',
  'spool-full',
  'store-unavailable',
  'spool-consumer-stalled',
  'broker-node-silent',
  'broker-node-stopped',
  'node-id-taken',
] as const;
export type HealthConditionCode = (typeof HEALTH_CONDITION_CODES)[number];

/**
 * A condition of the platform itself that operators must see (the spool filling up, the store
 * down): raised while it holds, cleared when it no longer does. Distinct from a threshold alert,
 * which a rule raises about what a device measured.
 */
export const healthConditionSchema = z.object({
  code: z.enum(HEALTH_CONDITION_CODES),
  severity: z.enum(['warning', 'critical']),
  message: z.string(),
  /**
   * The broker node it is about (`broker-<IOC_BROKER_ID>`), set in the platform-wide statistics
   * (`GET /api/v1/ingest/stats`); a broker's own message leaves it out.
   */
  node: z.string().min(1).max(64).optional(),
});
export type HealthCondition = z.infer<typeof healthConditionSchema>;

/**
 * Payload of `$internal/ioc/v1/ingest-stats/{node}` (retained, every `intervalMs`): one broker
 * node's counters since it started. `accepted` is by domain, `rejected` by rejection reason.
 */
export const ingestStatsSchema = z.object({
  /** The publishing broker node, `broker-<IOC_BROKER_ID>` (also the topic's last level). */
  node: z.string().min(1).max(64),
  /** When the node published this message (its clock, ISO 8601). */
  publishedAt: z.string(),
  /** How often the node publishes, ms: an API treats a node silent for 3 intervals (≥ 10 s) as stale. */
  intervalMs: z.number().int().positive(),
  /**
   * Set in the node's last message, published (retained) when it stopped gracefully (SIGTERM):
   * when it stopped (ISO 8601). API nodes then show it `broker-node-stopped` rather than silent.
   */
  stoppedAt: z.string().optional(),
  startedAt: z.string(),
  accepted: z.record(z.string(), count),
  acceptedTotal: count,
  rejected: z.record(z.string(), count),
  rejectedTotal: count,
  /** The durable spool between acknowledgement and store: its depth is the store's backlog. */
  spool: z.object({
    records: count,
    bytes: count,
    maxBytes: count,
    segments: count,
    commits: count,
    committedRecords: count,
    full: z.boolean(),
    /**
     * Each reader of the spool (`store`, the store writer; `alerts`, the alert engine…): records it
     * released since the broker started, the lowest record number it still holds (null: none),
     * and its lag (records appended it has not released). A record leaves the spool only once
     * every consumer released it, so the one with the oldest `oldestHeld` is what holds the spool.
     * Optional: brokers from before consumers do not send it.
     */
    consumers: z
      .array(
        z.object({
          consumer: z.string(),
          released: count,
          oldestHeld: count.nullable(),
          lag: count,
        }),
      )
      .optional(),
  }),
  storage: z.object({
    queued: count,
    written: count,
    failedWrites: count,
    rejected: count,
    failing: z.boolean(),
    lastError: z.string().optional(),
  }),
  connectedClients: count,
  /**
   * What the broker refused or suppressed outside message validation (`BrokerGuardCounts` in
   * libs/ingest/src/ingest-stats.ts): reserved or empty client ids refused, client-id takeovers,
   * connections closed for an oversized packet, QoS 2 duplicates, error answers and rejection notices suppressed,
   * deliveries blocked, device logins refused by reason, client ids bound to another device, throttled logins,
   * sessions closed by disconnectDevice, agency logins refused, agency publishes refused and agency sessions
   * closed by a registry change. The `auth…` and `agency…` counters are optional so a broker from before device
   * credentials still validates.
   */
  broker: z.object({
    reservedClientIdRefused: count,
    emptyClientIdRefused: count,
    clientIdTakeovers: count,
    oversizedPacketsClosed: count,
    stalledPacketsClosed: count,
    qos2DuplicatesSuppressed: count,
    errorAnswersSuppressed: count,
    rejectionNoticesSuppressed: count,
    forwardsBlocked: count,
    authMissingUsername: count.optional(),
    authUnknownDevice: count.optional(),
    authBadSecret: count.optional(),
    authExpiredSecret: count.optional(),
    authBadCertificate: count.optional(),
    internalAuthFailed: count.optional(),
    authTooManySessions: count.optional(),
    expiredCommandsDropped: count.optional(),
    authDeviceInactive: count.optional(),
    authThrottled: count.optional(),
    clientIdBoundToOtherDevice: count.optional(),
    forbiddenSubscriptions: count.optional(),
    devicesDisconnected: count.optional(),
    agencyAuthFailed: count.optional(),
    authAgencyDisabled: count.optional(),
    agencyPublishRefused: count.optional(),
    agencySessionsClosed: count.optional(),
    sessionLedgerUnavailable: count.optional(),
    orphanWillsDiscarded: count.optional(),
  }),
  /** Sessions the broker keeps for clients that are not connected (clean=false), and their subscriptions. */
  offlineSessions: z.object({ clients: count, subscriptions: count }).optional(),
  /**
   * The alert engine host running in the broker (libs/alerting AlertEngineHostStats), absent when
   * IOC_ALERTS=off: records evaluated / replayed in warm-up / skipped (already in its snapshot),
   * alert changes and commits, failed commits (retried), records waiting (`lag`), the last commit's
   * duration (ms), hourly VN_AQI readings emitted, readings ignored as out of order and AQI readings
   * for closed hours, failed derived appends (retried), its cursor and
   * snapshot positions (spool record numbers, −1 before any).
   */
  alertEngine: z
    .object({
      evaluated: count,
      warmUp: count,
      skipped: count,
      changes: count,
      commits: count,
      commitFailures: count,
      lag: count,
      lastCommitMs: count.nullable(),
      aqiHoursEmitted: count,
      /** Readings ignored as older than the device's newest evaluated reading of the metric. */
      outOfOrder: count,
      /** Air-quality readings for an hour whose VN_AQI was already closed. */
      aqiClosedHourReadings: count,
      derivedFailures: count,
      position: z.number().int(),
      snapshotPosition: z.number().int(),
      /**
       * Several broker nodes (IOC_REDIS_URL): the alert engine lease as this node sees it — whether
       * it holds it (only the holder evaluates; the counters above are its host's, zero on a
       * standby), its holder name, the token of its current (or last) term, terms acquired and lost.
       */
      lease: z
        .object({
          holding: z.boolean(),
          holder: z.string(),
          token: z.number().int().nullable(),
          acquired: count,
          lost: count,
        })
        .optional(),
      /**
       * Several broker nodes: `forward`, this node's spool records forwarded to the Redis stream
       * ioc:alerts:readings (readings, entries, duplicates skipped, failed attempts, readings
       * waiting); `input` (the holder only), its reading of the stream: last position read, the
       * stream's last position, the lag between them, readings received, positions missing, failures.
       */
      stream: z
        .object({
          forward: z.object({
            forwarded: count,
            entries: count,
            duplicates: count,
            failures: count,
            queued: count,
          }),
          input: z
            .object({
              readPosition: z.number().int(),
              streamPosition: z.number().int(),
              lag: count,
              received: count,
              gaps: count,
              failures: count,
            })
            .optional(),
        })
        .optional(),
    })
    .optional(),
  healthConditions: z.array(healthConditionSchema),
});
export type IngestStatsMessage = z.infer<typeof ingestStatsSchema>;

/** Most statuses one internal notice carries (the tracker splits larger batches). */
export const MAX_DEVICE_STATUS_NOTICE = 1000;

/**
 * Payload of `$internal/ioc/v1/device-status`: the statuses that changed since the previous
 * notice (one per device, its current status), at most MAX_DEVICE_STATUS_NOTICE.
 */
export const deviceStatusNoticeSchema = z.array(deviceStatusSchema).max(MAX_DEVICE_STATUS_NOTICE);
export type DeviceStatusNotice = z.infer<typeof deviceStatusNoticeSchema>;

/**
 * Payload of `$internal/ioc/v1/registry-changes`: a process committed registry changes up to
 * change-log sequence number `seq`. A notice only says "read the change log": receivers apply
 * the changes after their own cursor (RegistrySync), so a lost or repeated notice is harmless.
 */
export const registryChangeNoticeSchema = z.object({ seq: count });
export type RegistryChangeNotice = z.infer<typeof registryChangeNoticeSchema>;

/**
 * Payload of `$internal/ioc/v1/registry-position/{node}` (retained): the change-log sequence
 * number broker node `node` has applied to its in-memory registry and credentials.
 */
export const registryPositionSchema = z.object({
  node: z.string().min(1).max(64),
  seq: count,
  /** When the broker published it (epoch ms): brokers republish every few seconds, so an old one is a node that is gone. */
  at: count,
});
export type RegistryPosition = z.infer<typeof registryPositionSchema>;
