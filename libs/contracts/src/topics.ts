import { type Domain, isDomain } from './domains';

/**
 * Topic tree, version 1: `ioc/v1/{domain}/{deviceId}/{channel}`.
 * Devices publish telemetry, event and status (the last as their retained LWT), and the outcome
 * of a command on `.../command/ack`; the platform publishes commands and, on `.../error`, the
 * reason a device's message was rejected (MQTT 3.1.1 has no PUBACK reason codes).
 */
export const TOPIC_ROOT = 'ioc/v1';
export const DEVICE_CHANNELS = ['telemetry', 'event', 'status'] as const;
export type DeviceChannel = (typeof DEVICE_CHANNELS)[number];
export const PLATFORM_CHANNELS = ['command', 'error'] as const;
export type PlatformChannel = (typeof PLATFORM_CHANNELS)[number];
/**
 * The device→platform channel answering a command (`ioc/v1/{domain}/{deviceId}/command/ack`,
 * payload `CommandAck` in device-commands.ts). Not a reading channel: an ack is relayed to platform
 * services on INTERNAL_COMMAND_ACKS_TOPIC, never stored as a time series.
 */
export const COMMAND_ACK_CHANNEL = 'command/ack';
export type CommandAckChannel = typeof COMMAND_ACK_CHANNEL;
/** Every channel a device may publish on: its reading channels and the command acknowledgement. */
export type DevicePublishChannel = DeviceChannel | CommandAckChannel;

/** True for the reading channels (telemetry, event, status), false for COMMAND_ACK_CHANNEL. */
export function isReadingChannel(channel: DevicePublishChannel): channel is DeviceChannel {
  return channel !== COMMAND_ACK_CHANNEL;
}

/** Device ids: letters, digits, `-`, `_`, `.`; 1–64 characters. Safe in topics, URLs and tags. */
export const DEVICE_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export function isDeviceId(value: string): boolean {
  return DEVICE_ID_PATTERN.test(value);
}

/**
 * Alerts for agencies: `ioc/v1/alerts/{agencyId}/…`, published by the platform (the alerts issue)
 * and readable only by that agency's MQTT account. `alerts` is no domain, so these never meet a
 * device topic.
 */
export const ALERTS_TOPIC_ROOT = `${TOPIC_ROOT}/alerts`;

/** `ioc/v1/alerts/{agencyId}/`: every topic an agency's MQTT account may read starts with it. */
export function agencyAlertTopicPrefix(agencyId: string): string {
  return `${ALERTS_TOPIC_ROOT}/${agencyId}/`;
}

/**
 * Username prefix of an agency's MQTT account: `agency:{agencyId}`, password its MQTT secret.
 * `:` cannot appear in a device id (DEVICE_ID_PATTERN), so no device id is mistaken for an agency.
 */
export const AGENCY_USERNAME_PREFIX = 'agency:';

/** Agency ids that can stand in a username and a topic level: letters, digits, `-`, `_`, `.`; 1–64. */
const AGENCY_ID_IN_TOPIC = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/**
 * The agency an MQTT username names (`agency:{agencyId}`), or undefined when it is not an agency
 * username; `''` when it has the prefix but no usable id (no MQTT wildcard, `/` or other character
 * outside AGENCY_ID_IN_TOPIC can get into the agency's topic prefix).
 */
export function agencyOfUsername(username: string | undefined): string | undefined {
  if (username === undefined || !username.startsWith(AGENCY_USERNAME_PREFIX)) return undefined;
  const id = username.slice(AGENCY_USERNAME_PREFIX.length);
  return AGENCY_ID_IN_TOPIC.test(id) ? id : '';
}

/** Internal topic on which the broker republishes every accepted Reading for the API. */
export const INTERNAL_READINGS_TOPIC = '$internal/ioc/v1/readings';
/** Internal topic on which the broker republishes every rejection (for operators' live view). */
export const INTERNAL_REJECTIONS_TOPIC = '$internal/ioc/v1/rejections';
/**
 * Internal topic on which the broker relays every valid command acknowledgement a device
 * published (payload `CommandAckNotice`, internal-bus.ts), QoS 1, for the platform's command service.
 */
export const INTERNAL_COMMAND_ACKS_TOPIC = '$internal/ioc/v1/command-acks';

/**
 * Internal topic on which the broker announces device status changes (deviceStatusNoticeSchema),
 * at most one notice per ~500 ms batch of transitions, for the API's live feed.
 */
export const INTERNAL_DEVICE_STATUS_TOPIC = '$internal/ioc/v1/device-status';
/**
 * Prefix of the internal topics carrying each broker node's ingest counters (ingestStatsSchema),
 * `$internal/ioc/v1/ingest-stats/{node}` with node = `broker-<IOC_BROKER_ID>`: retained, refreshed
 * every few seconds; one topic per node, so with several nodes none overwrites another's.
 */
export const INTERNAL_INGEST_STATS_TOPIC_PREFIX = '$internal/ioc/v1/ingest-stats/';
/** The alert engine's committed transitions (alerts.ts `alertEventsSchema`), for API nodes. */
export const INTERNAL_ALERTS_TOPIC = '$internal/ioc/v1/alerts';
/**
 * Internal topic on which a process that wrote to the registry database announces it
 * (`registryChangeNoticeSchema`): every process then reads the change log after its own cursor.
 */
export const INTERNAL_REGISTRY_CHANGES_TOPIC = '$internal/ioc/v1/registry-changes';
/**
 * Retained, one per broker node (`…/registry-position/{node}`): the registry change-log position
 * that broker has applied (registryPositionSchema). An API answers a registry write once every
 * broker has reached it, so a revoked secret is refused and a new one accepted from then on.
 */
export const INTERNAL_REGISTRY_POSITION_TOPIC_PREFIX = '$internal/ioc/v1/registry-position/';
/** Username platform services (API, workers) log in with; only they may use `$internal/…`. */
export const INTERNAL_USERNAME = 'ioc-internal';
/**
 * Client ids starting with this prefix are reserved for platform services (e.g. the API's
 * `ioc-api-{nodeId}`): only a client logged in as INTERNAL_USERNAME with the internal secret may
 * use one; anyone else gets CONNACK return code 2, identifier rejected ([MQTT-3.1.3-9] lets a
 * server refuse a client id it does not accept). So no device can take over (and knock off the
 * broker, [MQTT-3.1.4-2]) a platform service's session.
 */
export const RESERVED_CLIENT_ID_PREFIX = 'ioc-';

/** True for client ids only platform services may use (see RESERVED_CLIENT_ID_PREFIX). */
export function isReservedClientId(clientId: string): boolean {
  // Case-insensitive: `IOC-api-1` must not pass for a name no operator could tell apart.
  return clientId.slice(0, RESERVED_CLIENT_ID_PREFIX.length).toLowerCase() === RESERVED_CLIENT_ID_PREFIX;
}

/** `ioc/v1/{domain}/{deviceId}/{channel}`; the id is not checked (see isDeviceId). */
export function deviceTopic(
  domain: Domain,
  deviceId: string,
  channel: DevicePublishChannel | PlatformChannel,
): string {
  return `${TOPIC_ROOT}/${domain}/${deviceId}/${channel}`;
}

export interface ParsedDeviceTopic {
  domain: Domain;
  deviceId: string;
  /** A reading channel (telemetry, event, status) or COMMAND_ACK_CHANNEL. */
  channel: DevicePublishChannel;
}

export type TopicParseResult = { ok: true; topic: ParsedDeviceTopic } | { ok: false; detail: string };

const TOPIC_PREFIX = `${TOPIC_ROOT}/`;

const DEPTH_DETAIL = `topic must be ${TOPIC_ROOT}/{domain}/{deviceId}/{telemetry|event|status|${COMMAND_ACK_CHANNEL}}`;

/**
 * Parses a topic a device published on; anything but a device→platform channel (DEVICE_CHANNELS
 * or COMMAND_ACK_CHANNEL) is refused with a detail naming what is wrong.
 */
export function parseDeviceTopic(topic: string): TopicParseResult {
  // `ioc/v1/` then exactly three segments, or four when the last two are `command/ack`: found with
  // indexOf rather than split('/'), since this runs for every message on the broker's thread and
  // split allocates an array and five strings.
  const domainEnd = topic.startsWith(TOPIC_PREFIX) ? topic.indexOf('/', TOPIC_PREFIX.length) : -1;
  const deviceIdEnd = domainEnd < 0 ? -1 : topic.indexOf('/', domainEnd + 1);
  if (deviceIdEnd < 0) return { ok: false, detail: DEPTH_DETAIL };
  const channelSlash = topic.indexOf('/', deviceIdEnd + 1);
  // The one two-level channel: compared in place (startsWith at an offset allocates nothing).
  const isAck =
    channelSlash >= 0 &&
    topic.length === deviceIdEnd + 1 + COMMAND_ACK_CHANNEL.length &&
    topic.startsWith(COMMAND_ACK_CHANNEL, deviceIdEnd + 1);
  if (channelSlash >= 0 && !isAck) return { ok: false, detail: DEPTH_DETAIL };
  const domain = topic.slice(TOPIC_PREFIX.length, domainEnd);
  const deviceId = topic.slice(domainEnd + 1, deviceIdEnd);
  if (!isDomain(domain)) return { ok: false, detail: `unknown domain "${truncate(domain)}"` };
  if (!isDeviceId(deviceId)) return { ok: false, detail: `malformed device id "${truncate(deviceId)}"` };
  if (isAck) return { ok: true, topic: { domain, deviceId, channel: COMMAND_ACK_CHANNEL } };
  const channel = topic.slice(deviceIdEnd + 1);
  if (!(DEVICE_CHANNELS as readonly string[]).includes(channel)) {
    return { ok: false, detail: `devices may not publish on channel "${truncate(channel)}"` };
  }
  return { ok: true, topic: { domain, deviceId, channel: channel as DeviceChannel } };
}

function truncate(value: string): string {
  return value.length > 40 ? `${value.slice(0, 40)}…` : value;
}
