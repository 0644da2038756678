import type { BatchingWriterStats, SpoolConsumerStats, SpoolStats } from '@ioc/spool';
import {
  DOMAINS,
  type Domain,
  type HealthCondition,
  type IngestStatsMessage,
  REJECTION_REASONS,
  type RejectionReason,
} from '@ioc/contracts';

/** Spool fill ratio from which operators are warned that the store is not keeping up. */
export const SPOOL_WARNING_RATIO = 0.8;
/** How long after the last refusal the spool-full condition stays raised. */
const SPOOL_FULL_HOLD_MS = 30_000;
/**
 * How long a spool consumer may hold records without releasing any before `spool-consumer-stalled`
 * is raised (ms): twelve times the alert engine's default snapshot interval (IOC_ALERT_SNAPSHOT_MS,
 * 5 s), after which it releases; the store writer releases within IOC_WRITE_BATCH_DELAY_MS.
 */
export const SPOOL_CONSUMER_STALL_MS = 60_000;

/**
 * The consumer that holds the spool: the one holding its oldest record (the largest lag among
 * ties), or undefined when none holds anything (or the stats predate consumers).
 */
export function holdingConsumer(spool: SpoolStats): SpoolConsumerStats | undefined {
  let holder: SpoolConsumerStats | undefined;
  for (const c of spool.consumers ?? []) {
    if (c.oldestHeld === null) continue;
    if (
      holder === undefined ||
      c.oldestHeld < (holder.oldestHeld as number) ||
      (c.oldestHeld === holder.oldestHeld && c.lag > holder.lag)
    ) {
      holder = c;
    }
  }
  return holder;
}

/** The broker's counters, as published on `$internal/ioc/v1/ingest-stats` (`ingestStatsSchema`). */
export interface IngestStatsSnapshot extends IngestStatsMessage {
  startedAt: string;
  accepted: Record<Domain, number>;
  acceptedTotal: number;
  rejected: Record<RejectionReason, number>;
  rejectedTotal: number;
  /** The durable spool between acknowledgement and store: its depth is the store's backlog. */
  spool: SpoolStats;
  storage: BatchingWriterStats;
  connectedClients: number;
  offlineSessions?: { clients: number; subscriptions: number };
  /** Connection-level and routing refusals of the broker (not message rejections). */
  broker: BrokerGuardCounts;
  healthConditions: HealthCondition[];
}

/**
 * What the broker refused or suppressed outside message validation, counted since start.
 * - `reservedClientIdRefused`: CONNECTs with a reserved client id (RESERVED_CLIENT_ID_PREFIX)
 *   from a client that is not logged in as a platform service; answered CONNACK 2.
 * - `emptyClientIdRefused`: CONNECTs with an empty client id and clean=false; answered CONNACK 2
 *   [MQTT-3.1.3-8].
 * - `clientIdTakeovers`: connections closed because a newer one used the same client id
 *   [MQTT-3.1.4-2] (each is logged with both parties).
 * - `oversizedPacketsClosed`: connections closed because a packet's fixed header announced a
 *   remaining length above IOC_MQTT_MAX_PACKET_BYTES, before its body was read.
 * - `stalledPacketsClosed`: connections closed because a packet stayed half-received for 30 s
 *   (DEFAULT_PACKET_BODY_TIMEOUT_MS).
 * - `qos2DuplicatesSuppressed`: repeated QoS 2 PUBLISHes (DUP=1, same packet id, before PUBREL)
 *   that were acknowledged but not processed again [MQTT-4.3.3-2].
 * - `errorAnswersSuppressed`: `…/error` answers not sent because the device or the publishing
 *   client exceeded its answer budget (the rejection itself is still counted under `rejected`).
 * - `rejectionNoticesSuppressed`: rejections not relayed to operators on the internal rejections
 *   topic, for the same budgets (still counted under `rejected`).
 * - `forwardsBlocked`: deliveries authorizeForward refused (a message on a topic its recipient
 *   may not read); 0 unless something tried to route around the rules.
 *
 * Device logins (IOC_MQTT_AUTH=credentials; all 0 with `off`), one count per refused CONNECT:
 * - `authMissingUsername`: no username (CONNACK 4).
 * - `authUnknownDevice`: the username is not a registered device id (CONNACK 4).
 * - `authBadSecret`: no password, or one matching none of the device's credentials (CONNACK 4).
 * - `authExpiredSecret`: the password matches a credential whose grace period (`notAfter`) is
 *   over — a device still using a rotated-out secret (CONNACK 4, as a wrong one).
 * - `expiredCommandsDropped`: a command past its `expiresAt` not delivered (queued for a
 *   persistent session while the device was away; the platform has timed it out).
 * - `authTooManySessions`: a device that already holds IOC_MQTT_MAX_SESSIONS_PER_DEVICE live
 *   sessions tried another (CONNACK 5).
 * - `internalAuthFailed`: a login as the platform services' user (`ioc-internal`) with a wrong
 *   secret (CONNACK 4): a service misconfigured, or someone guessing.
 * - `authBadCertificate`: a TLS client certificate that does not verify against
 *   IOC_MQTT_TLS_CA_FILE, or a username other than the certificate's device id (CONNACK 4).
 * - `authDeviceInactive`: the right secret (or certificate) of a suspended or retired device (CONNACK 5).
 * - `authThrottled`: refused without checking the secret because the device id or the source
 *   address failed too often lately (CONNACK 5; see FailedLoginLimiter).
 * - `clientIdBoundToOtherDevice`: a client id connected, or holding a persistent session, as
 *   another device (CONNACK 2): taking it over would hand that device's session to this one.
 * - `forbiddenSubscriptions`: subscriptions refused with SUBACK 0x80: anything but an
 *   authenticated device's own `command` and `error` topics (in `off` mode: anything but a
 *   registered device's `command` and `error` topics in its domain).
 * - `devicesDisconnected`: live sessions closed by IngestBroker.disconnectDevice (credential
 *   revoked, device suspended or retired).
 * - `agencyAuthFailed`: a login as `agency:{agencyId}` with an unknown agency, an agency without
 *   an MQTT account, or a wrong secret (CONNACK 4, the same answer for all).
 * - `authAgencyDisabled`: the right MQTT secret of a disabled agency (CONNACK 5).
 * - `agencyPublishRefused`: a PUBLISH or will from an agency account (agencies only read):
 *   acknowledged, delivered nowhere.
 * - `agencySessionsClosed`: agency sessions closed because the agency was disabled or its MQTT
 *   secret rotated or removed (IngestBroker.revalidateAgency).
 *
 * Several broker nodes (IOC_REDIS_URL):
 * - `sessionLedgerUnavailable`: persistent-session CONNECTs refused with CONNACK 3 because the
 *   session ledger in Redis answered with an error (SessionLedger; clean sessions are admitted;
 *   during an outage CONNECTs wait for Redis instead).
 * - `orphanWillsDiscarded`: wills of a node taken for gone not published because their client is
 *   connected again (here or on another node): the device is not offline.
 */
export interface BrokerGuardCounts {
  reservedClientIdRefused: number;
  emptyClientIdRefused: number;
  clientIdTakeovers: number;
  oversizedPacketsClosed: number;
  stalledPacketsClosed: number;
  qos2DuplicatesSuppressed: number;
  errorAnswersSuppressed: number;
  rejectionNoticesSuppressed: number;
  forwardsBlocked: number;
  authMissingUsername: number;
  authUnknownDevice: number;
  authBadSecret: number;
  authExpiredSecret: number;
  authBadCertificate: number;
  internalAuthFailed: number;
  authTooManySessions: number;
  expiredCommandsDropped: number;
  authDeviceInactive: number;
  authThrottled: number;
  clientIdBoundToOtherDevice: number;
  forbiddenSubscriptions: number;
  devicesDisconnected: number;
  agencyAuthFailed: number;
  authAgencyDisabled: number;
  agencyPublishRefused: number;
  agencySessionsClosed: number;
  sessionLedgerUnavailable: number;
  orphanWillsDiscarded: number;
}

export type BrokerGuardEvent = keyof BrokerGuardCounts;

/** Counters of what ingest accepted and refused, by domain and by reason. */
export class IngestStats {
  private readonly startedAt = new Date().toISOString();
  private readonly accepted = Object.fromEntries(DOMAINS.map((d) => [d, 0])) as Record<Domain, number>;
  private readonly rejected = Object.fromEntries(REJECTION_REASONS.map((r) => [r, 0])) as Record<
    RejectionReason,
    number
  >;

  private readonly guards: BrokerGuardCounts = {
    reservedClientIdRefused: 0,
    emptyClientIdRefused: 0,
    clientIdTakeovers: 0,
    oversizedPacketsClosed: 0,
    stalledPacketsClosed: 0,
    qos2DuplicatesSuppressed: 0,
    errorAnswersSuppressed: 0,
    rejectionNoticesSuppressed: 0,
    forwardsBlocked: 0,
    authMissingUsername: 0,
    authUnknownDevice: 0,
    authBadSecret: 0,
    authExpiredSecret: 0,
    authBadCertificate: 0,
    internalAuthFailed: 0,
    authTooManySessions: 0,
    expiredCommandsDropped: 0,
    authDeviceInactive: 0,
    authThrottled: 0,
    clientIdBoundToOtherDevice: 0,
    forbiddenSubscriptions: 0,
    devicesDisconnected: 0,
    agencyAuthFailed: 0,
    authAgencyDisabled: 0,
    agencyPublishRefused: 0,
    agencySessionsClosed: 0,
    sessionLedgerUnavailable: 0,
    orphanWillsDiscarded: 0,
  };

  /** Counts one broker-level refusal or suppression (see BrokerGuardCounts). */
  countGuard(event: BrokerGuardEvent): void {
    this.guards[event] += 1;
  }

  countAccepted(domain: Domain): void {
    this.accepted[domain] += 1;
  }

  private lastSpoolFullAt = 0;

  countRejected(reason: RejectionReason): void {
    this.rejected[reason] += 1;
    if (reason === 'spool-full') this.lastSpoolFullAt = Date.now();
  }

  snapshot(
    extra: Pick<
      IngestStatsSnapshot,
      | 'node'
      | 'publishedAt'
      | 'intervalMs'
      | 'spool'
      | 'storage'
      | 'connectedClients'
      | 'offlineSessions'
      | 'alertEngine'
    >,
  ): IngestStatsSnapshot {
    const sum = (counts: Record<string, number>): number => Object.values(counts).reduce((a, b) => a + b, 0);
    return {
      startedAt: this.startedAt,
      accepted: { ...this.accepted },
      acceptedTotal: sum(this.accepted),
      rejected: { ...this.rejected },
      rejectedTotal: sum(this.rejected),
      ...extra,
      broker: { ...this.guards },
      healthConditions: this.healthConditions(extra),
    };
  }

  /** Per consumer: its `released` count when last seen moving (or holding nothing), and when. */
  private readonly consumerProgress = new Map<string, { released: number; since: number }>();

  private healthConditions({
    spool,
    storage,
  }: Pick<IngestStatsSnapshot, 'spool' | 'storage'>): HealthCondition[] {
    const conditions: HealthCondition[] = [];
    const now = Date.now();
    const percent = Math.round((spool.bytes / spool.maxBytes) * 100);
    // With several consumers, say which one the spool waits for.
    const holder = (spool.consumers?.length ?? 0) > 1 ? holdingConsumer(spool) : undefined;
    const heldBy =
      holder === undefined
        ? 'the store is not keeping up'
        : `held by consumer ${holder.consumer} (lag ${holder.lag} records, oldest #${holder.oldestHeld})`;
    if (spool.full || now - this.lastSpoolFullAt < SPOOL_FULL_HOLD_MS) {
      conditions.push({
        code: 'spool-full',
        severity: 'critical',
        message:
          holder === undefined
            ? `ingest spool full (${percent} %): device publishes are being refused until the store catches up`
            : `ingest spool full (${percent} %): device publishes are being refused; ${heldBy}`,
      });
    } else if (spool.bytes >= spool.maxBytes * SPOOL_WARNING_RATIO) {
      conditions.push({
        code: 'spool-filling',
        severity: 'warning',
        message: `ingest spool ${percent} % full: ${heldBy}`,
      });
    }
    const stalled: string[] = [];
    for (const c of spool.consumers ?? []) {
      const seen = this.consumerProgress.get(c.consumer);
      if (c.lag === 0 || seen === undefined || seen.released !== c.released) {
        this.consumerProgress.set(c.consumer, { released: c.released, since: now });
      } else if (
        now - seen.since >= SPOOL_CONSUMER_STALL_MS &&
        !(c.consumer === 'store' && storage.failing)
      ) {
        // The store writer stalled by a failing store is store-unavailable's to say.
        stalled.push(
          `${c.consumer} (lag ${c.lag} records, oldest #${c.oldestHeld}, nothing released for ${Math.round((now - seen.since) / 1000)} s)`,
        );
      }
    }
    if (stalled.length > 0) {
      conditions.push({
        code: 'spool-consumer-stalled',
        severity: 'warning',
        message: `spool consumer not releasing: ${stalled.join('; ')}; the spool keeps its records until it does`,
      });
    }
    if (storage.failing) {
      conditions.push({
        code: 'store-unavailable',
        severity: 'critical',
        message: `time-series store writes failing (${storage.lastError ?? 'unknown error'}); readings wait in the spool`,
      });
    }
    return conditions;
  }
}
