import type { Aedes, AedesOptions, AuthenticateError, Client } from 'aedes';
import type { Logger } from '@ioc/runtime';
import { INTERNAL_USERNAME, RESERVED_CLIENT_ID_PREFIX, isReservedClientId } from '@ioc/contracts';
import type { IngestStats } from '../ingest-stats';
import { aedesInternals, clientInternals } from './aedes-internals';
import type { InternalClients } from './internal-clients';

/** CONNACK return codes, MQTT 3.1.1 §3.2.2.3 (Table 3.1). */
export const CONNACK_IDENTIFIER_REJECTED = 2;
export const CONNACK_BAD_USERNAME_OR_PASSWORD = 4;

/**
 * The CONNECT-time checks, as aedes' preConnect and authenticate hooks.
 *
 * - Platform services prove themselves with the internal username and secret; a wrong secret is
 *   refused with CONNACK 4.
 * - A client id starting with RESERVED_CLIENT_ID_PREFIX is refused with CONNACK 2 unless the
 *   client logged in as a platform service, so no one else can take over (and knock off the
 *   broker, [MQTT-3.1.4-2]) a service's session. Counted as `broker.reservedClientIdRefused`.
 * - An empty client id with clean=false is refused with CONNACK 2 [MQTT-3.1.3-8] (aedes would
 *   invent an id, making a session no one can resume). Counted as `broker.emptyClientIdRefused`.
 *   aedes sends no CONNACK for a preConnect refusal, so preConnect only marks the client and
 *   authenticate (whose `returnCode` aedes honours, 2…5) refuses it.
 * - A client id already connected is taken over by the newcomer [MQTT-3.1.4-2]; both parties
 *   (client id, remote address, username) are logged at warn and `broker.clientIdTakeovers`
 *   counts it.
 *
 * Devices are not authenticated yet (per-device credentials arrive with the security work):
 * they are recognised by the device id in their topic, and unknown ids are refused message by
 * message in authorizePublish.
 */
export function createConnectHooks(deps: {
  internal: InternalClients;
  broker: () => Aedes | undefined;
  stats: IngestStats;
  logger: Logger;
}): Required<Pick<AedesOptions, 'preConnect' | 'authenticate'>> {
  const { internal, broker, stats, logger } = deps;
  const emptyIdWithSession = new WeakSet<Client>();
  const usernames = new WeakMap<Client, string>();

  const party = (client: Client): Record<string, unknown> => {
    const conn = clientInternals(client).conn;
    return {
      clientId: client.id,
      remoteAddress: conn.remoteAddress,
      remotePort: conn.remotePort,
      username: usernames.get(client),
    };
  };
  const refuse = (
    done: (error: AuthenticateError | null, success: boolean | null) => void,
    returnCode: number,
    message: string,
  ): void => {
    done(Object.assign(new Error(message), { returnCode }) as AuthenticateError, false);
  };

  const preConnect: NonNullable<AedesOptions['preConnect']> = (client, packet, callback) => {
    if (packet.clientId === '' && packet.clean === false) emptyIdWithSession.add(client);
    callback(null, true);
  };

  const authenticate: NonNullable<AedesOptions['authenticate']> = (client, username, password, done) => {
    if (username !== undefined) usernames.set(client, username.slice(0, 100));
    if (emptyIdWithSession.has(client)) {
      stats.countGuard('emptyClientIdRefused');
      logger.warn(party(client), 'CONNECT refused: empty client id with clean=false [MQTT-3.1.3-8]');
      return refuse(done, CONNACK_IDENTIFIER_REJECTED, 'an empty client id needs clean=true');
    }
    if (username === INTERNAL_USERNAME) {
      if (!internal.secretMatches(password)) {
        logger.warn(party(client), 'internal login with a wrong secret refused');
        return refuse(done, CONNACK_BAD_USERNAME_OR_PASSWORD, 'bad internal credentials');
      }
      internal.admit(client);
    } else if (isReservedClientId(client.id)) {
      stats.countGuard('reservedClientIdRefused');
      logger.warn(
        party(client),
        `CONNECT refused: client ids starting with "${RESERVED_CLIENT_ID_PREFIX}" are reserved for platform services`,
      );
      return refuse(done, CONNACK_IDENTIFIER_REJECTED, 'client id reserved for platform services');
    }
    const current = broker();
    const previous = current ? aedesInternals(current).clients[client.id] : undefined;
    if (previous && previous !== client) {
      stats.countGuard('clientIdTakeovers');
      logger.warn(
        { clientId: client.id, previous: party(previous), newcomer: party(client) },
        'client id already connected: the older connection is closed [MQTT-3.1.4-2]',
      );
    }
    done(null, true);
  };

  return { preConnect, authenticate };
}
