import { createHmac } from 'node:crypto';
import { join } from 'node:path';
import type { Kysely } from 'kysely';
import { z } from 'zod';
import { type DatabaseSchema, transaction } from '@ioc/database';
import { ConfigError, type Logger, loadServerKey } from '@ioc/runtime';

/** Minimum length of the credential key: HMAC-SHA256's block-size guidance (RFC 2104 §3) asks for at least the hash length. */
export const CREDENTIAL_KEY_MIN_BYTES = 32;

/**
 * `IOC_DEVICE_CREDENTIAL_KEY`, merged into the env schema of every app that checks or issues
 * device secrets (broker, API): they must share the key.
 */
export const credentialKeyEnvShape = {
  IOC_DEVICE_CREDENTIAL_KEY: z
    .string()
    .optional()
    .describe(
      'Key device secrets are hashed with (HMAC-SHA256), base64 or hex of at least 32 bytes; the same on every node. Unset: generated once in {IOC_DATA_DIR}/keys/device-credential.key; secret',
    ),
};

/** Where the generated key lives when IOC_DEVICE_CREDENTIAL_KEY is not set: `{IOC_DATA_DIR}/keys/device-credential.key`. */
export function defaultCredentialKeyPath(dataDir: string): string {
  return join(dataDir, 'keys', 'device-credential.key');
}

/**
 * The server key device secrets are hashed with (hashDeviceSecret). Broker and API must use the
 * same one.
 *
 * - `configured` (IOC_DEVICE_CREDENTIAL_KEY): base64 or hex of at least 32 bytes — what a
 *   deployment with several nodes sets from its secret store.
 * - Otherwise the key file under the data directory is read, or created (32 random bytes,
 *   base64, mode 0600) by whichever process gets there first; the other reads it (loadServerKey).
 *
 * Losing the key invalidates every issued device secret (devices must be given new ones), so
 * back it up with the registry database.
 *
 * @throws Error when the configured key or the file holds fewer than 32 bytes, or is not base64/hex
 */
export function loadCredentialKey(options: { configured?: string; dataDir: string }): Buffer {
  return loadServerKey({
    ...(options.configured === undefined ? {} : { configured: options.configured }),
    path: defaultCredentialKeyPath(options.dataDir),
    minBytes: CREDENTIAL_KEY_MIN_BYTES,
    name: 'IOC_DEVICE_CREDENTIAL_KEY',
    description: 'the device credential key',
  });
}

/** The row of `key_fingerprints` that holds the device credential key's fingerprint. */
export const CREDENTIAL_KEY_FINGERPRINT_NAME = 'device-credential';

/** The fixed label the fingerprint is computed over (versioned, so a future scheme can differ). */
const CREDENTIAL_KEY_FINGERPRINT_LABEL = 'ioc key fingerprint v1: device-credential';

/**
 * The fingerprint of a device credential key: HMAC-SHA256 (RFC 2104) of a fixed label under the
 * key, 64 lowercase hex digits. It identifies the key without revealing it: recovering the key
 * from it is as hard as from any HMAC output, and it is a different value from every secret hash
 * the key makes (those are HMACs of random 256-bit secrets).
 */
export function credentialKeyFingerprint(key: Buffer): string {
  return createHmac('sha256', key).update(CREDENTIAL_KEY_FINGERPRINT_LABEL).digest('hex');
}

/** What verifyCredentialKeyFingerprint found. */
export type CredentialKeyCheck =
  /** No fingerprint yet (first start, or a registry from before it): this key's was recorded. */
  | 'recorded'
  /** The registry's fingerprint is this key's. */
  | 'matched'
  /** Another key's fingerprint, but no live secret was hashed with it: this key's replaced it (a key change). */
  | 'replaced';

/**
 * Checks at a process's start that `key` (IOC_DEVICE_CREDENTIAL_KEY, or the generated key file) is
 * the key the registry's device and agency MQTT secrets were hashed with, so a node started with
 * another key stops at once, naming the variable, instead of refusing every device (broker) or
 * issuing secrets no broker accepts (API).
 *
 * The registry keeps the key's fingerprint (credentialKeyFingerprint) in `key_fingerprints`,
 * recorded by the first process that starts. A different key is accepted only while no live
 * device credential depends on the recorded one — none that is neither revoked nor past its
 * rotation grace period (`not_after`): that is how the key is changed (see
 * the README, "Configuration", IOC_DEVICE_CREDENTIAL_KEY), and the new key's fingerprint then
 * replaces the old one (logged at warn). Runs in one transaction, so two processes starting at
 * once record one fingerprint.
 *
 * @throws ConfigError naming IOC_DEVICE_CREDENTIAL_KEY when the key differs and live secrets
 *   depend on the recorded one
 */
export async function verifyCredentialKeyFingerprint(
  db: Kysely<DatabaseSchema>,
  key: Buffer,
  options: { logger?: Logger; now?: number } = {},
): Promise<CredentialKeyCheck> {
  const fingerprint = credentialKeyFingerprint(key);
  const now = options.now ?? Date.now();
  return transaction(db, async (trx) => {
    const inserted = await trx
      .insertInto('key_fingerprints')
      .values({ name: CREDENTIAL_KEY_FINGERPRINT_NAME, fingerprint, recorded_at: now })
      .onConflict((conflict) => conflict.column('name').doNothing())
      .executeTakeFirst();
    if (Number(inserted.numInsertedOrUpdatedRows ?? 0) > 0) return 'recorded';
    const recorded = await trx
      .selectFrom('key_fingerprints')
      .select('fingerprint')
      .where('name', '=', CREDENTIAL_KEY_FINGERPRINT_NAME)
      .executeTakeFirstOrThrow();
    if (recorded.fingerprint === fingerprint) return 'matched';
    const live = await liveCredentialCount(trx, now);
    if (live > 0) {
      throw new ConfigError([
        `IOC_DEVICE_CREDENTIAL_KEY: differs from the key the registry's credentials were hashed with ` +
          `(${live} device credential(s) depend on it; ` +
          `fingerprint ${recorded.fingerprint.slice(0, 12)}…, this key's ${fingerprint.slice(0, 12)}…). ` +
          'Every broker and API node must use the same key: set the one the other nodes use ' +
          '(or, without the variable, the file {IOC_DATA_DIR}/keys/device-credential.key they share)',
      ]);
    }
    await trx
      .updateTable('key_fingerprints')
      .set({ fingerprint, recorded_at: now })
      .where('name', '=', CREDENTIAL_KEY_FINGERPRINT_NAME)
      .execute();
    options.logger?.warn(
      { previous: recorded.fingerprint.slice(0, 12), current: fingerprint.slice(0, 12) },
      'IOC_DEVICE_CREDENTIAL_KEY changed: no live device credential depended on the former key; the registry now records this one (issue new agency MQTT secrets: those hashed with the former key no longer match)',
    );
    return 'replaced';
  });
}

/**
 * Device credentials hashed with the recorded key that are still accepted at `now` (neither
 * revoked nor past their rotation grace period). Agency MQTT secrets are not counted: the API has
 * no route that removes one (an admin issues a new one, hashed with the key of the day), so they
 * could not be cleared before a key change.
 */
async function liveCredentialCount(db: Kysely<DatabaseSchema>, now: number): Promise<number> {
  const devices = await db
    .selectFrom('device_credentials')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('revoked_at', 'is', null)
    .where((eb) => eb.or([eb('not_after', 'is', null), eb('not_after', '>', now)]))
    .executeTakeFirstOrThrow();
  return Number(devices.n);
}
