import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { z } from 'zod';

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
 *   base64, mode 0600) by whichever process gets there first; the other reads it.
 *
 * Losing the key invalidates every issued device secret (devices must be given new ones), so
 * back it up with the registry database.
 *
 * @throws Error when the configured key or the file holds fewer than 32 bytes, or is not base64/hex
 */
export function loadCredentialKey(options: { configured?: string; dataDir: string }): Buffer {
  if (options.configured !== undefined && options.configured !== '') {
    return decodeKey(options.configured, 'IOC_DEVICE_CREDENTIAL_KEY');
  }
  const path = defaultCredentialKeyPath(options.dataDir);
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  try {
    // 'wx': only the first process creates it; a second one fails with EEXIST and reads it.
    writeFileSync(path, `${randomBytes(CREDENTIAL_KEY_MIN_BYTES).toString('base64')}\n`, {
      flag: 'wx',
      mode: 0o600,
    });
    chmodSync(path, 0o600);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  // A process racing the creator may read the file before its one write lands: retry briefly.
  for (let attempt = 0; ; attempt++) {
    const text = readFileSync(path, 'utf8').trim();
    if (text !== '' || attempt >= 50) return decodeKey(text, path);
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
  }
}

function decodeKey(text: string, source: string): Buffer {
  const trimmed = text.trim();
  const key =
    /^[0-9a-fA-F]+$/.test(trimmed) && trimmed.length % 2 === 0
      ? Buffer.from(trimmed, 'hex')
      : Buffer.from(trimmed, 'base64');
  if (key.length < CREDENTIAL_KEY_MIN_BYTES) {
    throw new Error(
      `${source}: the device credential key must be at least ${CREDENTIAL_KEY_MIN_BYTES} bytes (base64 or hex); got ${key.length}`,
    );
  }
  return key;
}
