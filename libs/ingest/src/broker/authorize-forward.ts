import type { Aedes, AedesOptions } from 'aedes';
import { isReservedClientId } from '@ioc/contracts';
import type { Logger } from '@ioc/runtime';
import type { IngestStats } from '../ingest-stats';
import { aedesInternals } from './aedes-internals';
import { DISCARD_TOPIC } from './authorize-publish';
import { deviceReadableChannel } from './authorize-subscribe';
import type { DeviceSessions } from './device-sessions';
import type { InternalClients } from './internal-clients';

/**
 * Defence in depth behind authorizePublish (which already routes no device message): aedes asks
 * this for every delivery to every subscriber — live, retained, and queued ones re-sent on
 * reconnection — and a null answer drops that one delivery.
 *
 * - DISCARD_TOPIC reaches no one.
 * - Platform services (internal clients) receive everything else they subscribed to.
 * - Any other client receives only `ioc/v1/{domain}/{deviceId}/command` published by a platform
 *   service (a connected internal client, or a reserved client id, which only platform services
 *   can hold) or re-sent from a persistent session's queue (aedes keeps no publisher there), and
 *   `ioc/v1/{domain}/{deviceId}/error` published by the broker itself (no publishing client);
 *   never a `$…` topic, never another channel.
 *
 * A command whose `expiresAt` has passed (one queued for a persistent session while its device was
 * away) is not delivered (`broker.expiredCommandsDropped`).
 *
 * With device authentication (`sessions` given), a device receives only topics under its own
 * `ioc/v1/{domain}/{deviceId}/` as well (its subscriptions are already restricted to those; this
 * catches a session that subscribed otherwise). With `off`, any well-formed device topic passes
 * the channel rules above.
 *
 * An agency's account receives only topics under its own `ioc/v1/alerts/{agencyId}/` published by
 * a platform service (or retained / queued by the broker, which keeps no publisher: nothing but a
 * platform service can publish there, since every other client's publish is diverted).
 */
export function createAuthorizeForward(deps: {
  internal: InternalClients;
  broker: () => Aedes | undefined;
  stats: IngestStats;
  logger: Logger;
  sessions?: DeviceSessions;
}): NonNullable<AedesOptions['authorizeForward']> {
  const { internal, broker, stats, logger, sessions } = deps;
  const publishedByPlatform = (publisherId: string | undefined): boolean => {
    if (publisherId === undefined) return false;
    if (isReservedClientId(publisherId)) return true;
    const current = broker();
    const publisher = current ? aedesInternals(current).clients[publisherId] : undefined;
    return publisher !== undefined && internal.isInternal(publisher);
  };
  return (client, packet) => {
    if (packet.topic === DISCARD_TOPIC) return null;
    if (internal.isInternal(client)) return packet;
    const agency = sessions?.agencyOf(client);
    if (agency) {
      const publisherId = (packet as { clientId?: string }).clientId;
      if (
        packet.topic.startsWith(agency.topicPrefix) &&
        (publisherId === undefined || publishedByPlatform(publisherId))
      )
        return packet;
      stats.countGuard('forwardsBlocked');
      logger.warn(
        { clientId: client.id, agencyId: agency.agencyId, topic: packet.topic.slice(0, 200), publisherId },
        'delivery refused: the agency may not read this message',
      );
      return null;
    }
    const channel = deviceReadableChannel(packet.topic);
    const publisherId = (packet as { clientId?: string }).clientId;
    const own = sessions ? packet.topic.startsWith(sessions.identityOf(client)?.topicPrefix ?? '\0') : true;
    const allowed =
      own &&
      // A command queued for a persistent session comes back from aedes' persistence without its
      // publisher (publisherId undefined): it can only have been a platform service's, since no
      // device publish is ever routed under its own topic (authorizePublish diverts them all).
      ((channel === 'command' && (publisherId === undefined || publishedByPlatform(publisherId))) ||
        (channel === 'error' && publisherId === undefined));
    if (allowed) {
      if (channel === 'command' && commandExpired(packet.payload, Date.now())) {
        // Queued while the device was away and past its deadline now: the platform has recorded
        // it as timed out, so a device must not act on it (whether or not it checks expiresAt).
        stats.countGuard('expiredCommandsDropped');
        logger.info(
          { clientId: client.id, topic: packet.topic.slice(0, 200) },
          'expired command not delivered',
        );
        return null;
      }
      return packet;
    }
    stats.countGuard('forwardsBlocked');
    logger.warn(
      { clientId: client.id, topic: packet.topic.slice(0, 200), publisherId },
      'delivery refused: the recipient may not read this message',
    );
    return null;
  };
}

/**
 * True when a command message carries an `expiresAt` (epoch ms, commandMessageSchema) in the
 * past. A payload that cannot be read is not judged here (the device refuses it itself).
 */
function commandExpired(payload: Buffer | string, now: number): boolean {
  try {
    const message = JSON.parse(typeof payload === 'string' ? payload : payload.toString('utf8')) as {
      expiresAt?: unknown;
    };
    return typeof message.expiresAt === 'number' && message.expiresAt <= now;
  } catch {
    return false;
  }
}
