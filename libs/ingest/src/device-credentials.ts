import { deviceSecretHashesEqual, hashDeviceSecret } from '@ioc/registry';

/**
 * One credential of a device as the broker sees it: the keyed hash of its secret
 * (`hashDeviceSecret(key, secret)`, HMAC-SHA256, 32 bytes), never the secret itself.
 */
export interface DeviceCredentialEntry {
  /** The credential's id in the registry (logged when it is used, never secret). */
  id: string;
  /** HMAC-SHA256 of the secret under the server's credential key: 32 bytes. */
  hash: Buffer;
  /**
   * End of the credential's grace period after a rotation, epoch milliseconds; absent while it
   * is the current credential. From this instant on, the secret is refused.
   */
  notAfter?: number;
}

/**
 * Where the broker finds a device's credentials on every CONNECT. Called on the broker's hot
 * path (a reconnect storm calls it once per device): an in-memory lookup, never a query — the
 * registry keeps it up to date from the registry database.
 */
export interface DeviceCredentials {
  /** Unrevoked credentials of a device (expired ones may be included: the broker checks notAfter). */
  credentialsOf(deviceId: string): readonly DeviceCredentialEntry[];
}

/**
 * An agency's MQTT account as the broker sees it (the registry's AgencyIndex keeps them): the
 * keyed hash of its secret (`hashDeviceSecret(key, secret)`, 32 bytes) and whether the agency is
 * active. Looked up on every agency CONNECT: in memory, never a query.
 */
export interface AgencyAccounts {
  /** The agency's MQTT account; undefined when it has none or does not exist. */
  agencyAccount(agencyId: string): { hash: Buffer; active: boolean } | undefined;
}

/**
 * How the broker authenticates devices (`IngestBrokerOptions.auth`, from IOC_MQTT_AUTH):
 * - `credentials`: username = device id, password = secret, checked against `credentials` with
 *   `key` (the server credential key, `loadCredentialKey`); each device is then bound to its own
 *   topics (deny by default).
 *   Agencies log in as `agency:{agencyId}` with their MQTT secret, checked against `agencies`
 *   with the same key (none given: every agency login is refused), and may only read their own
 *   alert topics (createAuthorizeSubscribe).
 * - `off`: no device authentication (development and benchmarks only): the device named in a
 *   topic is taken at its word, as before device credentials existed. Logged at warn at start.
 *   Agency accounts do not exist in this mode (no one may subscribe to alert topics).
 */
export type BrokerAuth =
  | { mode: 'credentials'; credentials: DeviceCredentials; key: Buffer; agencies?: AgencyAccounts }
  | { mode: 'off' };

/** What a password proves about a device's credentials. */
export type SecretCheck =
  | { outcome: 'valid'; credentialId: string }
  /** The secret is one of the device's, but its grace period ended (`notAfter` ≤ now). */
  | { outcome: 'expired'; credentialId: string }
  | { outcome: 'invalid' };

/**
 * Checks a password against every credential of a device: one HMAC-SHA256 (a few µs, the cost a
 * reconnect storm pays per device), then a constant-time comparison with EVERY entry, so the
 * time taken does not tell which entry (or whether any) matched. An entry whose `notAfter` is
 * not in the future (≤ `now`) no longer authenticates.
 *
 * @param key the server credential key (≥ 32 bytes)
 * @param password the CONNECT password as received (undefined when the client sent none)
 * @param now epoch milliseconds
 */
export function checkDeviceSecret(
  entries: readonly DeviceCredentialEntry[],
  key: Buffer,
  password: Buffer | undefined,
  now: number,
): SecretCheck {
  // Hashed even with no entries, so an unknown device costs as much as a known one.
  const hash = hashDeviceSecret(key, password ?? Buffer.alloc(0));
  let valid: string | undefined;
  let expired: string | undefined;
  for (const entry of entries) {
    if (!deviceSecretHashesEqual(hash, entry.hash)) continue;
    if (entry.notAfter === undefined || entry.notAfter > now) valid ??= entry.id;
    else expired ??= entry.id;
  }
  if (password === undefined || password.length === 0) return { outcome: 'invalid' };
  if (valid !== undefined) return { outcome: 'valid', credentialId: valid };
  if (expired !== undefined) return { outcome: 'expired', credentialId: expired };
  return { outcome: 'invalid' };
}

/**
 * DeviceCredentials in a Map, for tests, benchmarks and tools; the broker process gets the
 * registry's instead. Entries are stored as given (hashes, not secrets).
 */
export class InMemoryDeviceCredentials implements DeviceCredentials {
  private readonly byDevice = new Map<string, DeviceCredentialEntry[]>();

  /** Builds it from device id → secret in clear (as a credentials file holds them), hashed under `key`. */
  static fromSecrets(key: Buffer, secrets: Record<string, string>): InMemoryDeviceCredentials {
    const credentials = new InMemoryDeviceCredentials();
    for (const [deviceId, secret] of Object.entries(secrets)) {
      credentials.add(deviceId, { id: `${deviceId}-1`, hash: hashDeviceSecret(key, secret) });
    }
    return credentials;
  }

  credentialsOf(deviceId: string): readonly DeviceCredentialEntry[] {
    return this.byDevice.get(deviceId) ?? [];
  }

  /** Adds a credential to a device (a rotation adds the new one and gives the old a `notAfter`). */
  add(deviceId: string, entry: DeviceCredentialEntry): void {
    const entries = this.byDevice.get(deviceId) ?? [];
    entries.push(entry);
    this.byDevice.set(deviceId, entries);
  }

  /** Sets or clears the grace end of a credential; false when there is no such credential. */
  setNotAfter(deviceId: string, credentialId: string, notAfter: number | undefined): boolean {
    const entry = this.byDevice.get(deviceId)?.find((e) => e.id === credentialId);
    if (!entry) return false;
    if (notAfter === undefined) delete entry.notAfter;
    else entry.notAfter = notAfter;
    return true;
  }

  /** Revokes (removes) a credential; false when there was no such credential. */
  revoke(deviceId: string, credentialId: string): boolean {
    const entries = this.byDevice.get(deviceId) ?? [];
    const kept = entries.filter((e) => e.id !== credentialId);
    this.byDevice.set(deviceId, kept);
    return kept.length !== entries.length;
  }
}
