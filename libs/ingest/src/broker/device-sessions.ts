import type { Client } from 'aedes';
import { AGENCY_USERNAME_PREFIX, agencyAlertTopicPrefix, type Domain, TOPIC_ROOT } from '@ioc/contracts';
import { clientInternals } from './aedes-internals';

/** The listener a connection arrived on. */
export type ListenerKind = 'tcp' | 'tls' | 'ws';

/** What the listener knew about a connection before MQTT began, kept for authentication and logs. */
export interface ConnectionInfo {
  listener: ListenerKind;
  /** The socket's remote address (for WebSocket, the underlying TCP socket's, not a header's). */
  remoteAddress?: string;
  remotePort?: number;
  /**
   * The client certificate presented on the TLS listener (absent when none was): `verified` when it
   * chains to IOC_MQTT_TLS_CA_FILE; `deviceId` its subject CN; `error` Node's authorizationError.
   */
  certificate?: { verified: boolean; deviceId?: string; error?: string };
}

/** The device a connection authenticated as (IOC_MQTT_AUTH=credentials). */
export interface DeviceIdentity {
  deviceId: string;
  domain: Domain;
  /** `ioc/v1/{domain}/{deviceId}/`: every topic the device may use starts with it. */
  topicPrefix: string;
  /** How it proved it: a secret (CONNECT password) or a TLS client certificate. */
  method: 'secret' | 'certificate';
  /** The credential whose secret it gave (method `secret`): the session lasts while it is valid. */
  credentialId?: string;
}

/**
 * The property a connection's will carries into the broker's persistence (Redis, with several
 * nodes): the topic prefix of the device it authenticated as (DeviceIdentity.topicPrefix), set by
 * DeviceSessions.bind. When a node is gone, another publishes the wills it left (an orphan will,
 * with no connection to judge it by): the stamp, written by a broker node, is what it is judged
 * against. msgpack keeps it with the packet (aedes-persistence-redis putWill).
 */
export const WILL_TOPIC_PREFIX_FIELD = 'iocTopicPrefix';

/** The agency a connection authenticated as (username `agency:{agencyId}`). */
export interface AgencyIdentity {
  agencyId: string;
  /** `ioc/v1/alerts/{agencyId}/`: every topic the agency may read starts with it. */
  topicPrefix: string;
  /** The hash of the MQTT secret it logged in with: the session lasts while it is still the agency's. */
  secretHash: Buffer;
}

/**
 * Who holds a client id: the device (or `agency:{agencyId}`), and whether its session outlives
 * the connection (clean=false).
 */
interface ClientIdOwner {
  deviceId: string;
  client: Client;
  persistent: boolean;
}

/**
 * The broker's record of authenticated device connections:
 * - the identity each connection authenticated as (what its publishes, wills and subscriptions
 *   are judged against);
 * - the live connections of each device (IngestBroker.disconnectDevice closes them);
 * - the device each client id is bound to while it is connected or keeps a persistent session,
 *   so another device cannot take the id over (and with it the session and its queued commands).
 *
 * A persistent session's binding lasts as long as this process (aedes' in-memory persistence
 * keeps sessions no longer); it is released when its device connects with clean=true. So the
 * bindings grow with the distinct client ids that ever held a persistent session, as aedes'
 * own session store does.
 */
export class DeviceSessions {
  private readonly identities = new WeakMap<Client, DeviceIdentity>();
  private readonly agencies = new WeakMap<Client, AgencyIdentity>();
  private readonly liveAgencies = new Map<string, Set<Client>>();
  private readonly connections = new WeakMap<Client, ConnectionInfo>();
  private readonly live = new Map<string, Set<Client>>();
  private readonly owners = new Map<string, ClientIdOwner>();

  /** Records what the listener knew about a new connection. */
  noteConnection(client: Client, info: ConnectionInfo): void {
    this.connections.set(client, info);
  }

  connectionOf(client: Client): ConnectionInfo | undefined {
    return this.connections.get(client);
  }

  /** The device `client` authenticated as; undefined for platform services, and in `off` mode. */
  identityOf(client: Client | null): DeviceIdentity | undefined {
    return client === null ? undefined : this.identities.get(client);
  }

  /** The agency `client` authenticated as; undefined for devices and platform services. */
  agencyOf(client: Client | null): AgencyIdentity | undefined {
    return client === null ? undefined : this.agencies.get(client);
  }

  /** Live connections authenticated as the agency. */
  agencySessionsOf(agencyId: string): Client[] {
    return [...(this.liveAgencies.get(agencyId) ?? [])];
  }

  /**
   * Binds an accepted agency connection; its client id is then held by `agency:{agencyId}` (no
   * device may take it over, nor the agency a device's).
   */
  bindAgency(client: Client, agencyId: string, secretHash: Buffer): void {
    this.agencies.set(client, { agencyId, topicPrefix: agencyAlertTopicPrefix(agencyId), secretHash });
    let sessions = this.liveAgencies.get(agencyId);
    if (!sessions) this.liveAgencies.set(agencyId, (sessions = new Set()));
    sessions.add(client);
    this.hold(client, `${AGENCY_USERNAME_PREFIX}${agencyId}`, () => {
      const current = this.liveAgencies.get(agencyId);
      current?.delete(client);
      if (current?.size === 0) this.liveAgencies.delete(agencyId);
    });
  }

  /**
   * The device (or `agency:{agencyId}`) `clientId` is bound to (connected, or keeping a
   * persistent session), if any.
   */
  ownerOf(clientId: string): string | undefined {
    return this.owners.get(clientId)?.deviceId;
  }

  /** Every device with at least one live connection. */
  connectedDevices(): string[] {
    return [...this.live.keys()];
  }

  /** Live connections authenticated as `deviceId`. */
  sessionsOf(deviceId: string): Client[] {
    return [...(this.live.get(deviceId) ?? [])];
  }

  /** Binds an accepted connection (and its client id) to the device it authenticated as. */
  bind(
    client: Client,
    device: { id: string; domain: Domain },
    method: DeviceIdentity['method'],
    credentialId?: string,
  ): void {
    const identity: DeviceIdentity = {
      deviceId: device.id,
      domain: device.domain,
      topicPrefix: `${TOPIC_ROOT}/${device.domain}/${device.id}/`,
      method,
      ...(credentialId === undefined ? {} : { credentialId }),
    };
    this.identities.set(client, identity);
    const will = clientInternals(client)._will;
    if (will) will[WILL_TOPIC_PREFIX_FIELD] = identity.topicPrefix;
    let sessions = this.live.get(device.id);
    if (!sessions) this.live.set(device.id, (sessions = new Set()));
    sessions.add(client);
    this.hold(client, device.id, () => {
      const current = this.live.get(device.id);
      current?.delete(client);
      if (current?.size === 0) this.live.delete(device.id);
    });
  }

  /** Binds the client id to `owner` while connected (and after, for a persistent session). */
  private hold(client: Client, owner: string, onClose: () => void): void {
    // aedes sets client.clean from the CONNECT before it calls authenticate.
    this.owners.set(client.id, { deviceId: owner, client, persistent: client.clean === false });
    clientInternals(client).conn.once('close', () => {
      onClose();
      const current = this.owners.get(client.id);
      if (current?.client === client && !current.persistent) this.owners.delete(client.id);
    });
  }
}
