import type { Aedes, AedesOptions, AuthenticateError, Client } from 'aedes';
import type { Logger } from '@ioc/runtime';
import {
  agencyOfUsername,
  type Device,
  INTERNAL_USERNAME,
  printable,
  RESERVED_CLIENT_ID_PREFIX,
  isReservedClientId,
} from '@ioc/contracts';
import { deviceSecretHashesEqual, hashDeviceSecret } from '@ioc/registry';
import { type AgencyAccounts, type BrokerAuth, checkDeviceSecret } from '../device-credentials';
import type { DeviceDirectory } from '../device-directory';
import type { BrokerGuardEvent, IngestStats } from '../ingest-stats';
import { aedesInternals, clientInternals } from './aedes-internals';
import type { DeviceSessions } from './device-sessions';
import type { FailedLoginLimiter } from './failed-logins';
import type { LedgerAdmission, SessionLedger } from './session-ledger';
import type { InternalClients } from './internal-clients';

/**
 * Live sessions one device may hold at once: a device needs one; a second covers a reconnect that
 * overlaps the old connection's end or a diagnostic tool. More is a stolen secret multiplying
 * connections (each costs the broker memory), refused with CONNACK 5. IOC_MQTT_MAX_SESSIONS_PER_DEVICE.
 */
export const DEFAULT_MAX_SESSIONS_PER_DEVICE = 4;

/** The device sessions other broker nodes hold (ClusterSessions implements it). */
export interface RemoteSessions {
  /** Live sessions of the device on other nodes, not counting `exceptClientId`. */
  remoteSessionCount(deviceId: string, exceptClientId?: string): number;
  /** The device (or `agency:{id}`) a live session on another node holds `clientId` for. */
  remoteOwnerOf(clientId: string): string | undefined;
}

/** CONNACK return codes, MQTT 3.1.1 §3.2.2.3 (Table 3.1). */
export const CONNACK_IDENTIFIER_REJECTED = 2;
export const CONNACK_BAD_USERNAME_OR_PASSWORD = 4;
/** The broker could not decide (the failed-login limiter failed): the client may retry. */
export const CONNACK_SERVER_UNAVAILABLE = 3;
export const CONNACK_NOT_AUTHORIZED = 5;

/** Refusal log lines per username (or address) per LOG_WINDOW_MS at most; the counters see them all. */
const LOG_BURST = 5;
const LOG_WINDOW_MS = 10_000;

/** A refused device login: the CONNACK code, the counter, and the log message. */
interface LoginRefusal {
  returnCode: number;
  event: BrokerGuardEvent;
  message: string;
  detail?: Record<string, unknown>;
}

/** The refusal for an admission the session ledger (several nodes) turned down. */
function ledgerRefusal(
  admission: Exclude<LedgerAdmission, { admitted: true }>,
  maxSessions?: number,
): LoginRefusal {
  switch (admission.reason) {
    case 'bound':
      return {
        returnCode: CONNACK_IDENTIFIER_REJECTED,
        event: 'clientIdBoundToOtherDevice',
        message:
          'CONNECT refused: the client id is in use by another device (connected or keeping a session)',
        detail: { boundTo: admission.boundTo },
      };
    case 'full':
      return {
        returnCode: CONNACK_NOT_AUTHORIZED,
        event: 'authTooManySessions',
        message: `CONNECT refused: the device already holds ${admission.open} live sessions (at most ${maxSessions})`,
      };
    case 'unavailable':
      return {
        returnCode: CONNACK_SERVER_UNAVAILABLE,
        event: 'sessionLedgerUnavailable',
        message:
          'CONNECT refused: a persistent session needs the session ledger in Redis, which failed; retry later',
      };
  }
}

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
 * Agencies, with `auth.mode === 'credentials'`: username `agency:{agencyId}`, password the
 * agency's MQTT secret (see createAgencyAuthentication): 4 for an unknown agency, one without an
 * MQTT account or a wrong secret; 5 for a disabled agency or while throttled; 2 for a client id
 * held by a device.
 *
 * Devices, with `auth.mode === 'credentials'` (see authenticateDevice for the order of checks):
 * username = device id, password = secret, or a verified TLS client certificate whose CN is the
 * device id. Return codes (MQTT 3.1.1 §3.2.2.3): 4 for no username, an unknown device, a wrong or
 * expired secret and a certificate that does not verify — the same code for all, so a client
 * cannot probe which device ids exist; 5 for a suspended or retired device with the right secret
 * and while failed logins are throttled; 2 for a client id bound to another device. Each refusal
 * is counted by reason in `broker` (BrokerGuardCounts) and logged at warn with client id, remote
 * address and username (never the password). With `off`, devices are not authenticated: they are
 * recognised by the device id in their topic, and unknown ids are refused message by message.
 */
export function createConnectHooks(deps: {
  internal: InternalClients;
  broker: () => Aedes | undefined;
  stats: IngestStats;
  logger: Logger;
  auth?: BrokerAuth;
  directory?: DeviceDirectory;
  sessions?: DeviceSessions;
  failedLogins?: FailedLoginLimiter;
  /** Live sessions one device may hold at once (default DEFAULT_MAX_SESSIONS_PER_DEVICE). */
  maxSessionsPerDevice?: number;
  /**
   * Several broker nodes: the device sessions the other nodes hold (ClusterSessions), counted
   * against maxSessionsPerDevice and against another device taking their client id.
   */
  remoteSessions?: RemoteSessions;
  /**
   * Several nodes (IOC_REDIS_URL): every node's live sessions and persistent client-id bindings in
   * Redis, checked atomically after this node's own checks (SessionLedger).
   */
  ledger?: SessionLedger;
}): Required<Pick<AedesOptions, 'preConnect' | 'authenticate'>> {
  const { internal, broker, stats, logger, sessions, failedLogins } = deps;
  const emptyIdWithSession = new WeakSet<Client>();
  const usernames = new WeakMap<Client, string>();

  const party = (client: Client): Record<string, unknown> => {
    const conn = clientInternals(client).conn;
    const info = sessions?.connectionOf(client);
    return {
      clientId: client.id,
      remoteAddress: info?.remoteAddress ?? conn.remoteAddress,
      remotePort: info?.remotePort ?? conn.remotePort,
      listener: info?.listener,
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
  const noteTakeover = (client: Client): void => {
    const current = broker();
    const previous = current ? aedesInternals(current).clients[client.id] : undefined;
    if (previous && previous !== client) {
      stats.countGuard('clientIdTakeovers');
      logger.warn(
        { clientId: client.id, previous: party(previous), newcomer: party(client) },
        'client id already connected: the older connection is closed [MQTT-3.1.4-2]',
      );
    }
  };

  // Refusal logs, at most LOG_BURST per username (or address) per window.
  let logWindowStart = 0;
  const logged = new Map<string, number>();
  const logRefusal = (client: Client, refusal: LoginRefusal): void => {
    const now = Date.now();
    if (now - logWindowStart > LOG_WINDOW_MS) {
      logWindowStart = now;
      logged.clear();
    }
    const info = party(client);
    const key = String(info['username'] ?? info['remoteAddress'] ?? '?');
    const count = (logged.get(key) ?? 0) + 1;
    logged.set(key, count);
    if (count > LOG_BURST) return;
    logger.warn(
      { ...info, returnCode: refusal.returnCode, reason: refusal.event, ...refusal.detail },
      count === LOG_BURST
        ? `${refusal.message} (further refusals for this username muted for 10 s)`
        : refusal.message,
    );
  };

  const auth = deps.auth ?? { mode: 'off' };
  const authenticateDevice =
    auth.mode === 'credentials' && deps.directory && sessions && failedLogins
      ? createDeviceAuthentication({
          auth,
          directory: deps.directory,
          sessions,
          failedLogins,
          maxSessions: deps.maxSessionsPerDevice ?? DEFAULT_MAX_SESSIONS_PER_DEVICE,
          ...(deps.remoteSessions ? { remoteSessions: deps.remoteSessions } : {}),
          ...(deps.ledger ? { ledger: deps.ledger } : {}),
        })
      : undefined;

  const authenticateAgency =
    auth.mode === 'credentials' && sessions && failedLogins
      ? createAgencyAuthentication({
          key: auth.key,
          agencies: auth.agencies,
          sessions,
          failedLogins,
          ...(deps.ledger ? { ledger: deps.ledger } : {}),
        })
      : undefined;

  const preConnect: NonNullable<AedesOptions['preConnect']> = (client, packet, callback) => {
    if (packet.clientId === '' && packet.clean === false) emptyIdWithSession.add(client);
    callback(null, true);
  };

  const authenticate: NonNullable<AedesOptions['authenticate']> = (client, username, password, done) => {
    // Logged as `printable` text: a control or bidirectional character in a username must not
    // rewrite a log line an operator reads in a terminal.
    if (username !== undefined) usernames.set(client, printable(username.slice(0, 100)));
    if (emptyIdWithSession.has(client)) {
      stats.countGuard('emptyClientIdRefused');
      logger.warn(party(client), 'CONNECT refused: empty client id with clean=false [MQTT-3.1.3-8]');
      return refuse(done, CONNACK_IDENTIFIER_REJECTED, 'an empty client id needs clean=true');
    }
    if (username === INTERNAL_USERNAME) {
      // Throttled per source address like device logins (never per username: that would let
      // anyone lock every platform service out), so the internal secret cannot be guessed at
      // network speed.
      const address = party(client)['remoteAddress'] as string | undefined;
      const checkInternal = async (): Promise<void> => {
        if (failedLogins && (await failedLogins.isBlocked(undefined, address))) {
          stats.countGuard('authThrottled');
          logger.warn(party(client), 'internal login refused: too many failed logins from this address');
          return refuse(done, CONNACK_NOT_AUTHORIZED, 'too many failed logins from this address');
        }
        if (!internal.secretMatches(password)) {
          stats.countGuard('internalAuthFailed');
          await failedLogins?.recordFailure(undefined, address);
          logger.warn(party(client), 'internal login with a wrong secret refused');
          return refuse(done, CONNACK_BAD_USERNAME_OR_PASSWORD, 'bad internal credentials');
        }
        if (client.closed) return done(null, false);
        internal.admit(client);
        noteTakeover(client);
        done(null, true);
      };
      checkInternal().catch((error: unknown) => {
        logger.error({ ...party(client), err: (error as Error).message }, 'internal authentication failed');
        refuse(done, CONNACK_SERVER_UNAVAILABLE, 'server unavailable');
      });
      return;
    } else if (isReservedClientId(client.id)) {
      stats.countGuard('reservedClientIdRefused');
      logger.warn(
        party(client),
        `CONNECT refused: client ids starting with "${RESERVED_CLIENT_ID_PREFIX}" are reserved for platform services`,
      );
      return refuse(done, CONNACK_IDENTIFIER_REJECTED, 'client id reserved for platform services');
    } else if (authenticateAgency && agencyOfUsername(username) !== undefined) {
      authenticateAgency(client, username as string, password).then(
        (outcome) => {
          if ('returnCode' in outcome) {
            stats.countGuard(outcome.event);
            logRefusal(client, outcome);
            return refuse(done, outcome.returnCode, outcome.message);
          }
          if (client.closed) return done(null, false);
          sessions?.bindAgency(client, outcome.agencyId, outcome.secretHash);
          noteTakeover(client);
          done(null, true);
        },
        (error: Error) => {
          logger.error({ ...party(client), err: error.message }, 'agency authentication failed');
          refuse(done, CONNACK_SERVER_UNAVAILABLE, 'server unavailable');
        },
      );
      return;
    } else if (authenticateDevice) {
      authenticateDevice(client, username, password).then(
        (outcome) => {
          if ('returnCode' in outcome) {
            stats.countGuard(outcome.event);
            logRefusal(client, outcome);
            return refuse(done, outcome.returnCode, outcome.message);
          }
          if (client.closed) return done(null, false);
          sessions?.bind(client, outcome.device, outcome.method, outcome.credentialId);
          noteTakeover(client);
          done(null, true);
        },
        (error: Error) => {
          logger.error({ ...party(client), err: error.message }, 'device authentication failed');
          refuse(done, CONNACK_SERVER_UNAVAILABLE, 'server unavailable');
        },
      );
      return;
    }
    noteTakeover(client);
    done(null, true);
  };

  return { preConnect, authenticate };
}

/**
 * A device login, checked in this order:
 * 1. A client certificate presented on the TLS listener decides alone: it must verify against the
 *    CA (else 4, `authBadCertificate`), a username, if sent, must be its CN (else 4), and the CN
 *    must be a registered device (else 4, `authUnknownDevice`); no password is needed or checked.
 *    Certificate logins are not throttled (they cannot be guessed).
 * 2. Throttle: if the username or the remote address failed too often lately (FailedLoginLimiter),
 *    5 (`authThrottled`) without checking the secret.
 * 3. No username: 4 (`authMissingUsername`; 4 rather than 5 because a device that sent none has
 *    not proved anything, exactly like a wrong one). Unknown device id: 4 (`authUnknownDevice`).
 *    Secret matching none of the device's current credentials: 4 (`authBadSecret`), or matching
 *    one whose grace period is over: 4 (`authExpiredSecret`). These count as failed logins.
 * 4. A suspended or retired device (right secret): 5 (`authDeviceInactive`).
 * 5. A client id bound to another device (connected, or keeping a persistent session): 2
 *    (`clientIdBoundToOtherDevice`).
 */
function createDeviceAuthentication(deps: {
  auth: Extract<BrokerAuth, { mode: 'credentials' }>;
  directory: DeviceDirectory;
  sessions: DeviceSessions;
  failedLogins: FailedLoginLimiter;
  maxSessions: number;
  remoteSessions?: RemoteSessions;
  ledger?: SessionLedger;
}): (
  client: Client,
  username: string | undefined,
  password: Buffer | undefined,
) => Promise<LoginRefusal | { device: Device; method: 'secret' | 'certificate'; credentialId?: string }> {
  const { auth, directory, sessions, failedLogins, maxSessions, remoteSessions, ledger } = deps;
  const refusal = (
    returnCode: number,
    event: BrokerGuardEvent,
    message: string,
    detail?: Record<string, unknown>,
  ): LoginRefusal => ({ returnCode, event, message, detail });

  /** The checks every authenticated device passes, whatever proved its identity. */
  const admit = async (
    client: Client,
    device: Device,
    method: 'secret' | 'certificate',
    credentialId?: string,
  ): Promise<LoginRefusal | { device: Device; method: 'secret' | 'certificate'; credentialId?: string }> => {
    if (device.state === 'suspended' || device.state === 'retired') {
      return refusal(
        CONNACK_NOT_AUTHORIZED,
        'authDeviceInactive',
        `CONNECT refused: device is ${device.state}`,
      );
    }
    // Another connection with the same client id is about to be taken over: not an extra session.
    // On another node too: that connection is closed by this one's CONNECT just the same.
    const open =
      sessions.sessionsOf(device.id).filter((other) => other.id !== client.id).length +
      (remoteSessions?.remoteSessionCount(device.id, client.id) ?? 0);
    if (open >= maxSessions) {
      return refusal(
        CONNACK_NOT_AUTHORIZED,
        'authTooManySessions',
        `CONNECT refused: the device already holds ${open} live sessions (at most ${maxSessions})`,
      );
    }
    const owner = sessions.ownerOf(client.id) ?? remoteSessions?.remoteOwnerOf(client.id);
    if (owner !== undefined && owner !== device.id) {
      return refusal(
        CONNACK_IDENTIFIER_REJECTED,
        'clientIdBoundToOtherDevice',
        'CONNECT refused: the client id is in use by another device (connected or keeping a session)',
        { boundTo: owner },
      );
    }
    if (ledger) {
      // Several nodes: the same two checks, atomically against every node's sessions in Redis.
      const admission = await ledger.admit(client, { owner: device.id, maxSessions });
      if (!admission.admitted) return ledgerRefusal(admission, maxSessions);
    }
    return { device, method, ...(credentialId === undefined ? {} : { credentialId }) };
  };

  return async (client, username, password) => {
    const certificate = sessions.connectionOf(client)?.certificate;
    if (certificate) {
      if (!certificate.verified || certificate.deviceId === undefined) {
        return refusal(
          CONNACK_BAD_USERNAME_OR_PASSWORD,
          'authBadCertificate',
          'CONNECT refused: the client certificate does not verify',
          { certificateError: certificate.error, certificateCn: certificate.deviceId?.slice(0, 100) },
        );
      }
      if (username !== undefined && username !== certificate.deviceId) {
        return refusal(
          CONNACK_BAD_USERNAME_OR_PASSWORD,
          'authBadCertificate',
          "CONNECT refused: the username is not the client certificate's device id",
          { certificateCn: certificate.deviceId },
        );
      }
      const device = directory.getDevice(certificate.deviceId);
      if (!device) {
        return refusal(
          CONNACK_BAD_USERNAME_OR_PASSWORD,
          'authUnknownDevice',
          "CONNECT refused: the client certificate's CN is not a registered device",
          { certificateCn: certificate.deviceId },
        );
      }
      return admit(client, device, 'certificate');
    }

    const address = sessions.connectionOf(client)?.remoteAddress;
    const deviceKey = username === undefined || username === '' ? undefined : username.slice(0, 100);
    if (await failedLogins.isBlocked(deviceKey, address)) {
      return refusal(
        CONNACK_NOT_AUTHORIZED,
        'authThrottled',
        'CONNECT refused: too many failed logins for this device id or address; retry later',
      );
    }
    const failed = async (event: BrokerGuardEvent, message: string): Promise<LoginRefusal> => {
      await failedLogins.recordFailure(deviceKey, address);
      return refusal(CONNACK_BAD_USERNAME_OR_PASSWORD, event, message);
    };
    if (deviceKey === undefined) return failed('authMissingUsername', 'CONNECT refused: no username');
    const device = directory.getDevice(deviceKey);
    // Hashed even for an unknown device, so the answer takes as long either way.
    const check = checkDeviceSecret(
      device ? auth.credentials.credentialsOf(device.id) : [],
      auth.key,
      password,
      Date.now(),
    );
    if (!device) return failed('authUnknownDevice', 'CONNECT refused: unknown device');
    if (check.outcome === 'invalid') return failed('authBadSecret', 'CONNECT refused: wrong secret');
    if (check.outcome === 'expired') {
      return failed('authExpiredSecret', 'CONNECT refused: the secret was rotated out (grace period over)');
    }
    return admit(client, device, 'secret', check.credentialId);
  };
}

/**
 * An agency login (username `agency:{agencyId}`, password its MQTT secret), checked in this order:
 * 1. Throttle: if the username or the remote address failed too often lately (the same
 *    FailedLoginLimiter as device logins), 5 (`authThrottled`) without checking the secret.
 * 2. An agency id that cannot stand in a topic, an unknown agency, one without an MQTT account,
 *    or a secret whose HMAC-SHA256 under the credential key is not the stored one: 4
 *    (`agencyAuthFailed`, the same answer for all, after the same one HMAC) — a failed login.
 * 3. A disabled agency (right secret): 5 (`authAgencyDisabled`).
 * 4. A client id held by a device (connected or keeping a session): 2 (`clientIdBoundToOtherDevice`).
 */
function createAgencyAuthentication(deps: {
  key: Buffer;
  agencies: AgencyAccounts | undefined;
  sessions: DeviceSessions;
  failedLogins: FailedLoginLimiter;
  ledger?: SessionLedger;
}): (
  client: Client,
  username: string,
  password: Buffer | undefined,
) => Promise<LoginRefusal | { agencyId: string; secretHash: Buffer }> {
  const { key, agencies, sessions, failedLogins, ledger } = deps;
  return async (client, username, password) => {
    const address = sessions.connectionOf(client)?.remoteAddress;
    const loginKey = username.slice(0, 100);
    if (await failedLogins.isBlocked(loginKey, address)) {
      return {
        returnCode: CONNACK_NOT_AUTHORIZED,
        event: 'authThrottled',
        message: 'CONNECT refused: too many failed logins for this agency or address; retry later',
      };
    }
    const agencyId = agencyOfUsername(username) ?? '';
    const account = agencyId === '' ? undefined : agencies?.agencyAccount(agencyId);
    // Hashed whatever the account, so an unknown agency takes as long to refuse as a wrong secret.
    const hash = hashDeviceSecret(key, password ?? Buffer.alloc(0));
    const matches =
      account !== undefined &&
      password !== undefined &&
      password.length > 0 &&
      deviceSecretHashesEqual(hash, account.hash);
    if (!account || !matches) {
      await failedLogins.recordFailure(loginKey, address);
      return {
        returnCode: CONNACK_BAD_USERNAME_OR_PASSWORD,
        event: 'agencyAuthFailed',
        message: 'CONNECT refused: unknown agency, no MQTT account, or wrong secret',
      };
    }
    if (!account.active) {
      return {
        returnCode: CONNACK_NOT_AUTHORIZED,
        event: 'authAgencyDisabled',
        message: 'CONNECT refused: the agency is disabled',
      };
    }
    const owner = sessions.ownerOf(client.id);
    if (owner !== undefined && owner !== username) {
      return {
        returnCode: CONNACK_IDENTIFIER_REJECTED,
        event: 'clientIdBoundToOtherDevice',
        message: 'CONNECT refused: the client id is in use by a device (connected or keeping a session)',
        detail: { boundTo: owner },
      };
    }
    if (ledger) {
      const admission = await ledger.admit(client, { owner: username });
      if (!admission.admitted) return ledgerRefusal(admission);
    }
    return { agencyId, secretHash: account.hash };
  };
}
