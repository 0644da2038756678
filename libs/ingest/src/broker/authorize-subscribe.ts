import type { AedesOptions } from 'aedes';
import { isDeviceId, isDomain, TOPIC_ROOT } from '@ioc/contracts';
import type { Logger } from '@ioc/runtime';
import type { DeviceDirectory } from '../device-directory';
import type { IngestStats } from '../ingest-stats';
import type { DeviceSessions } from './device-sessions';
import type { InternalClients } from './internal-clients';

const DEVICE_READABLE_CHANNELS = new Set(['command', 'error']);

/**
 * Devices may subscribe only to a registered device's own `command` and `error` topics, spelled
 * out without wildcards and in the device's own domain; anything else is negated (SUBACK 0x80,
 * [MQTT-3.9.3-2]) rather than disconnecting the client, logged and counted
 * (`broker.forbiddenSubscriptions`). So no device can read another's data or the internal topics,
 * nor wait on topics of ids that do not exist.
 *
 * "Own" is checked when devices authenticate (`sessions` given, IOC_MQTT_AUTH=credentials): the
 * topic must be exactly `{identity.topicPrefix}command` or `…error`. With `off`, any registered
 * device's command and error topics pass (the client cannot be told from that device).
 *
 * An agency's account (credentials mode) may subscribe only inside its own alert topics: a filter
 * starting with `ioc/v1/alerts/{agencyId}/` (`…/#` for all of them; wildcards after that prefix
 * cannot leave it). Anything else — another agency's alerts, `ioc/v1/alerts/+/…`, `#`, device
 * topics, `$share/…` — is negated the same way.
 */
export function createAuthorizeSubscribe(
  internal: InternalClients,
  directory: DeviceDirectory,
  logger: Logger,
  deps: { stats?: IngestStats; sessions?: DeviceSessions } = {},
): NonNullable<AedesOptions['authorizeSubscribe']> {
  const { stats, sessions } = deps;
  const allowed = (client: Parameters<NonNullable<AedesOptions['authorizeSubscribe']>>[0], topic: string) => {
    if (!sessions) return isRegisteredDeviceTopic(topic, directory);
    const agency = sessions.agencyOf(client);
    if (agency) return topic.startsWith(agency.topicPrefix) && topic.length > agency.topicPrefix.length;
    const identity = sessions.identityOf(client);
    return (
      identity !== undefined &&
      (topic === `${identity.topicPrefix}command` || topic === `${identity.topicPrefix}error`)
    );
  };
  return (client, subscription, done) => {
    if (internal.isInternal(client) || allowed(client, subscription.topic)) return done(null, subscription);
    stats?.countGuard('forbiddenSubscriptions');
    logger.warn(
      {
        clientId: client.id,
        deviceId: sessions?.identityOf(client)?.deviceId,
        agencyId: sessions?.agencyOf(client)?.agencyId,
        topic: subscription.topic.slice(0, 200),
      },
      'subscription refused',
    );
    done(null, null);
  };
}

/** A device-readable topic (deviceReadableChannel) of a registered device, in its own domain. */
function isRegisteredDeviceTopic(topic: string, directory: DeviceDirectory): boolean {
  if (deviceReadableChannel(topic) === undefined) return false;
  const [, , domain, deviceId] = topic.split('/');
  return directory.getDevice(deviceId ?? '')?.domain === domain;
}

/**
 * The channel, `command` or `error`, when `topic` is exactly `ioc/v1/{domain}/{deviceId}/command`
 * or `…/error` (no wildcards: the device id must match DEVICE_ID_PATTERN); undefined otherwise.
 */
export function deviceReadableChannel(topic: string): 'command' | 'error' | undefined {
  const parts = topic.split('/');
  const channel = parts[4] ?? '';
  return parts.length === 5 &&
    `${parts[0]}/${parts[1]}` === TOPIC_ROOT &&
    isDomain(parts[2] ?? '') &&
    isDeviceId(parts[3] ?? '') &&
    DEVICE_READABLE_CHANNELS.has(channel)
    ? (channel as 'command' | 'error')
    : undefined;
}
