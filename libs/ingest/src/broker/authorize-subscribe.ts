import type { AedesOptions } from 'aedes';
import { isDeviceId, isDomain, TOPIC_ROOT } from '@ioc/contracts';
import type { Logger } from '@ioc/runtime';
import type { InternalClients } from './internal-clients';

const DEVICE_READABLE_CHANNELS = new Set(['command', 'error']);

/**
 * Devices may subscribe only to a device's own `command` and `error` topics, spelled out
 * without wildcards; anything else is negated (SUBACK 0x80, [MQTT-3.9.3-2]) rather than
 * disconnecting the client. So no device can read another's data or the internal topics.
 */
export function createAuthorizeSubscribe(
  internal: InternalClients,
  logger: Logger,
): NonNullable<AedesOptions['authorizeSubscribe']> {
  return (client, subscription, done) => {
    if (internal.isInternal(client) || deviceReadableChannel(subscription.topic) !== undefined)
      return done(null, subscription);
    logger.warn({ clientId: client.id, topic: subscription.topic.slice(0, 200) }, 'subscription refused');
    done(null, null);
  };
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
