import type { AedesOptions } from 'aedes';
import { isDeviceId, isDomain, TOPIC_ROOT } from '@ioc/contracts';
import type { Logger } from '@ioc/runtime';
import type { DeviceDirectory } from '../device-directory';
import type { InternalClients } from './internal-clients';

const DEVICE_READABLE_CHANNELS = new Set(['command', 'error']);

/**
 * Devices may subscribe only to a registered device's own `command` and `error` topics, spelled
 * out without wildcards and in the device's own domain; anything else is negated (SUBACK 0x80,
 * [MQTT-3.9.3-2]) rather than disconnecting the client. So no device can read another's data or
 * the internal topics, nor wait on topics of ids that do not exist.
 */
export function createAuthorizeSubscribe(
  internal: InternalClients,
  directory: DeviceDirectory,
  logger: Logger,
): NonNullable<AedesOptions['authorizeSubscribe']> {
  return (client, subscription, done) => {
    if (internal.isInternal(client) || isRegisteredDeviceTopic(subscription.topic, directory))
      return done(null, subscription);
    logger.warn({ clientId: client.id, topic: subscription.topic.slice(0, 200) }, 'subscription refused');
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
