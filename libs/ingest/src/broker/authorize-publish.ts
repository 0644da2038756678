import type { AedesOptions, Client, PublishPacket } from 'aedes';
import { type CommandAckNotice, isDomain, type Reading, TOPIC_ROOT } from '@ioc/contracts';
import { SpoolFullError } from '@ioc/spool';
import type { Logger } from '@ioc/runtime';
import type { DeviceActivityObserver } from '../device-status-tracker';
import type { IngestPipeline } from '../ingest-pipeline';
import type { IngestStats } from '../ingest-stats';
import { clientInternals } from './aedes-internals';
import type { RemoteSessions } from './authenticate';
import { type DeviceIdentity, type DeviceSessions, WILL_TOPIC_PREFIX_FIELD } from './device-sessions';
import type { InternalClients } from './internal-clients';
import type { FirstCopyOutcome, Qos2Duplicates } from './qos2-duplicates';
import type { RejectionReporter } from './rejection-reporter';

/** Time a refusal's answer gets to reach the device before its connection is dropped. */
const ANSWER_GRACE_MS = 50;

/**
 * Where every device publish goes once it has been decided on, accepted or refused: a topic
 * under the reserved `$internal/` namespace that authorizeForward never delivers to anyone, with
 * retain cleared. Device messages are consumed by the platform (validated readings go out on
 * INTERNAL_READINGS_TOPIC), never routed raw, so a forged command or error, an invalid payload or
 * a will reaches no subscriber and is retained nowhere — while aedes still answers PUBACK/PUBREC
 * and the connection stays up.
 */
export const DISCARD_TOPIC = '$internal/discarded';

export interface ReadingSink {
  /** Resolves once the reading is durable; rejects (SpoolFullError among others) if it cannot be kept. */
  accept(reading: Reading): Promise<void>;
}

/** Hands a device's valid command ack to platform services (command-ack-relay.ts). */
export interface CommandAckSink {
  /** Relays the notice; `relayed` is called once the broker has handed it to its subscribers. */
  relay(notice: CommandAckNotice, relayed: () => void): void;
}

/**
 * Every device publish and will is validated here, before aedes acknowledges it: aedes writes
 * the PUBACK (QoS 1) or PUBREC (QoS 2) only once this callback is called, so for QoS ≥ 1 the
 * callback waits until the reading is on disk in the spool — "acknowledged ⇒ kept". QoS 0 is
 * called back at once (at most once).
 *
 * Nothing a device publishes is routed: accepted or refused, the packet is diverted to
 * DISCARD_TOPIC with retain=false before aedes publishes it. A message that fails validation is
 * still acknowledged — MQTT 3.1.1 has no PUBACK reason codes — but it is reported on the
 * device's `.../error` topic and counted; the connection stays up so the readings after it go on.
 * A valid reading the spool cannot take (full, disk error) is NOT acknowledged: the client is
 * disconnected [MQTT-3.3.5-2] and its MQTT stack sends it again after reconnecting.
 *
 * Wills (`packet === client.will`) go through the same validation; a refused will is answered with
 * an error, so aedes publishes nothing. An orphan will — one aedes found in Redis, left by a
 * broker node it took for gone (isOrphanWill) — is judged against the topic prefix its node stamped
 * on it at CONNECT (WILL_TOPIC_PREFIX_FIELD); it is discarded (`orphanWillsDiscarded`) when its
 * client id is connected again, here or on another node (the device is not offline), and is never
 * answered with an error: a refused one is diverted to DISCARD_TOPIC, and aedes then deletes it
 * (see guardOrphanWills in cluster.ts for why an error there would end the process).
 * A repeated QoS 2 PUBLISH is acknowledged without being processed again (Qos2Duplicates).
 * A valid command ack (`…/command/ack`) is no reading: it is relayed to platform services through
 * `acks` and acknowledged once handed over, never spooled; an invalid one is refused like any message.
 * Internal clients (platform services) publish unchecked: commands come only from them.
 *
 * With device authentication (`authenticated` true, IOC_MQTT_AUTH=credentials), deny by default:
 * a publish or will whose topic is not under the publisher's own `ioc/v1/{domain}/{deviceId}/`
 * (DeviceIdentity.topicPrefix) is refused as `forbidden-topic` before its payload is even parsed,
 * answered on the publisher's OWN error topic, and delivered nowhere; so is an orphan will without
 * a stamped prefix, or not under it. Within its own prefix, the channel rules of
 * the ingest pipeline apply as before (`invalid-topic` for anything but a device channel).
 * An agency's account may not publish at all: its publishes are acknowledged and discarded, its
 * will is not published, each counted as `broker.agencyPublishRefused` and logged.
 */
export function createAuthorizePublish(deps: {
  pipeline: IngestPipeline;
  internal: InternalClients;
  sink: ReadingSink;
  acks: CommandAckSink;
  rejections: RejectionReporter;
  qos2: Qos2Duplicates;
  stats: IngestStats;
  logger: Logger;
  /** Set with device authentication: publishes are then judged against the publisher's identity. */
  sessions?: DeviceSessions;
  /**
   * Told of every accepted device message (`seen`, with the newest reading timestamp it carried;
   * not for wills: a will is the broker speaking for a client that is gone), and of every
   * accepted `online: false` status, the device's own or its will (`announcedOffline`).
   */
  activity?: DeviceActivityObserver;
  /** Several nodes: the live sessions of the others (an orphan will's client may be back there). */
  remoteSessions?: Pick<RemoteSessions, 'remoteOwnerOf'>;
}): NonNullable<AedesOptions['authorizePublish']> {
  const { pipeline, internal, sink, acks, rejections, qos2, stats, logger, sessions, activity } = deps;

  /**
   * @param kind `publish` (the client's own), `will` (its will, on this node), `orphan-will` (see
   *   isOrphanWill); @param identity the device the message is judged against (undefined: none)
   */
  const decide = (
    client: Client | null,
    packet: PublishPacket,
    kind: 'publish' | 'will' | 'orphan-will',
    identity: Pick<DeviceIdentity, 'topicPrefix' | 'deviceId' | 'domain'> | undefined,
    done: (error?: Error | null) => void,
  ): void => {
    const isWill = kind !== 'publish';
    // A refused will is not published: on this node, aedes is answered with an error; an orphan
    // will is diverted to DISCARD_TOPIC like any message (an error there would end the process).
    const refuseWill = (message: string): void => done(kind === 'will' ? new Error(message) : null);
    const topic = packet.topic;
    // Whatever happens below, aedes routes this packet to nobody and retains nothing.
    packet.topic = DISCARD_TOPIC;
    packet.retain = false;
    // `$…` topics are the broker's own ($SYS, $internal): a device publishing there is spoofing.
    if (topic.startsWith('$')) {
      rejections.report(client, topic, undefined, {
        reason: 'invalid-topic',
        detail: 'topics starting with "$" are reserved for the platform',
      });
      return done(new Error('reserved topic'));
    }
    if (sessions) {
      const agency = sessions.agencyOf(client);
      if (agency) {
        // Agencies only read their alerts: whatever they send is acknowledged and delivered nowhere.
        stats.countGuard('agencyPublishRefused');
        logger.warn(
          { clientId: client?.id, agencyId: agency.agencyId, topic: topic.slice(0, 200), will: isWill },
          'publish refused: agency accounts may not publish',
        );
        return isWill ? refuseWill('will refused: agency accounts may not publish') : done(null);
      }
      if (identity === undefined || !topic.startsWith(identity.topicPrefix)) {
        rejections.report(
          client,
          topic,
          identity,
          identity
            ? {
                reason: 'forbidden-topic',
                detail: `device "${identity.deviceId}" may publish only on ${identity.topicPrefix}{telemetry|event|status|command/ack}`,
              }
            : { reason: 'forbidden-topic', detail: 'the publisher is not an authenticated device' },
        );
        return isWill ? refuseWill('will refused: forbidden-topic') : done(null);
      }
    }
    const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
    const outcome = pipeline.process(topic, payload);
    // Each refused part (or the whole message) is counted and answered; the valid readings of a
    // partly refused message are kept.
    const device =
      outcome.deviceId && outcome.domain ? { deviceId: outcome.deviceId, domain: outcome.domain } : undefined;
    for (const rejection of outcome.rejections) rejections.report(client, topic, device, rejection);
    if (!outcome.ok) {
      // A refused will is not published at all; a refused publish is acknowledged, not routed.
      return isWill ? refuseWill(`will refused: ${outcome.rejections[0]?.reason ?? 'invalid'}`) : done(null);
    }
    if ('ack' in outcome) {
      // A will on the ack topic is a device's own doing, relayed like any ack.
      return acks.relay(outcome.ack, () => done(null));
    }
    const { readings } = outcome;
    const reading = readings[0] as Reading;
    if (activity !== undefined) {
      const now = Date.now();
      if (!isWill) {
        let newest = reading.ts;
        for (let i = 1; i < readings.length; i++) newest = Math.max(newest, (readings[i] as Reading).ts);
        activity.seen(outcome.deviceId, now, newest);
      }
      // `{"metrics":{"online":false}}` on the status channel: the device's goodbye, or its will.
      if (reading.kind === 'status' && readings.some((r) => r.metrics['online'] === false))
        activity.announcedOffline(outcome.deviceId, now, isWill ? 'connection-lost' : 'disconnected');
    }
    const acknowledgeNow = packet.qos === 0 && !isWill;
    // Acknowledged only once EVERY reading of the message is durable. Should one fail, the message
    // is not acknowledged and is sent again; the readings already kept then arrive twice, which the
    // stores' record identity (device, metric, ts, kind, event) absorbs.
    // (A single reading, the usual message, skips Promise.all's array and extra promise.)
    const durable: Promise<unknown> =
      readings.length === 1 ? sink.accept(reading) : Promise.all(readings.map((r) => sink.accept(r)));
    durable.then(
      () => {
        if (!acknowledgeNow) done(null);
      },
      (error: Error) => {
        const refuse = (): void => {
          // aedes destroys the socket on error, discarding writes still buffered: let the
          // answer leave first.
          if (kind === 'orphan-will') done(null);
          else if (!acknowledgeNow) setTimeout(() => done(error), isWill ? 0 : ANSWER_GRACE_MS);
        };
        if (error instanceof SpoolFullError) {
          // Disconnect only after the answer is on its way, so the device learns why.
          const detail = `${error.message}; retry later`;
          rejections.report(client, topic, reading, { reason: 'spool-full', detail }, refuse);
        } else {
          logger.error({ deviceId: reading.deviceId, err: error.message }, 'spool append failed');
          refuse();
        }
      },
    );
    if (acknowledgeNow) done(null);
  };

  /** An orphan will: discarded if its client is connected again, else judged against its stamp. */
  const decideOrphanWill = (
    client: Client | null,
    packet: PublishPacket,
    done: (error?: Error | null) => void,
  ): void => {
    const will = packet as PublishPacket & OrphanWillFields;
    const clientId = String(will.clientId);
    if (client !== null || deps.remoteSessions?.remoteOwnerOf(clientId) !== undefined) {
      stats.countGuard('orphanWillsDiscarded');
      logger.info(
        { clientId: clientId.slice(0, 100), node: will.brokerId },
        'will of a broker node taken for gone not published: its client is connected again',
      );
      packet.topic = DISCARD_TOPIC;
      packet.retain = false;
      return done(null);
    }
    decide(null, packet, 'orphan-will', identityOfStamp(will[WILL_TOPIC_PREFIX_FIELD]), done);
  };

  return (client, packet, done) => {
    if (internal.isInternal(client)) return done(null);
    if (isOrphanWill(client, packet)) return decideOrphanWill(client, packet, done);
    const kind = client !== null && packet === clientInternals(client).will ? 'will' : 'publish';
    const identity = sessions?.identityOf(client);
    if (client === null || kind === 'will' || packet.qos !== 2)
      return decide(client, packet, kind, identity, done);
    const suppress = (first: FirstCopyOutcome): void => {
      stats.countGuard('qos2DuplicatesSuppressed');
      packet.topic = DISCARD_TOPIC;
      packet.retain = false;
      done(first === 'acknowledged' ? null : new Error('repeat of a refused QoS 2 message'));
    };
    const admission = qos2.admit(client, packet);
    if ('repeatOf' in admission) {
      void admission.repeatOf.then(suppress);
      return;
    }
    const processFirst = (): void =>
      decide(client, packet, 'publish', identity, (error) => {
        admission.settle(error ? 'refused' : 'acknowledged');
        done(error);
      });
    if (!admission.storedBefore) return processFirst();
    void admission.storedBefore.then((stored) => {
      if (!stored) return processFirst();
      admission.settle('acknowledged');
      suppress('acknowledged');
    });
  };
}

/** What aedes-persistence-redis adds to a will it stores (putWill), and the prefix a node stamps on it. */
interface OrphanWillFields {
  clientId?: unknown;
  brokerId?: unknown;
  [WILL_TOPIC_PREFIX_FIELD]?: unknown;
}

/**
 * Whether aedes is publishing a will it read back from Redis (aedes.js `_clearWills`: the will of
 * a connection on a node it took for gone) rather than a client's own publish or the will of a
 * connection of this node that just ended (`client.will`, the same object). Such a will carries
 * the `brokerId` and `clientId` the persistence stored with it; aedes passes the connected client
 * of that id if there is one here, else null.
 */
export function isOrphanWill(client: Client | null, packet: PublishPacket): boolean {
  if (!('brokerId' in packet)) return false;
  return client === null || packet !== clientInternals(client).will;
}

/** The device a will's stamp (`ioc/v1/{domain}/{deviceId}/`, DeviceIdentity.topicPrefix) names; undefined if none. */
function identityOfStamp(
  stamp: unknown,
): Pick<DeviceIdentity, 'topicPrefix' | 'deviceId' | 'domain'> | undefined {
  if (typeof stamp !== 'string') return undefined;
  const [root, version, domain, deviceId, rest] = stamp.split('/');
  if (
    `${root}/${version}` !== TOPIC_ROOT ||
    domain === undefined ||
    !isDomain(domain) ||
    !deviceId ||
    rest !== ''
  )
    return undefined;
  return { topicPrefix: stamp, deviceId, domain };
}
