import { join } from 'node:path';
import { z } from 'zod';
import { loadServerKey } from '@ioc/runtime';

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
