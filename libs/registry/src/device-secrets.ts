import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Every device secret starts with this, so a leaked one is recognisable in logs and by secret
 * scanners (as GitHub's `ghp_` tokens are), and the platform can tell a secret from a typo.
 */
export const DEVICE_SECRET_PREFIX = 'iocds_';

/** Random bytes in a device secret: 32 bytes = 256 bits, encoded as 43 base64url characters. */
export const DEVICE_SECRET_BYTES = 32;

/** Characters of a secret kept in clear (after the prefix) so operators can tell credentials apart. */
export const DEVICE_SECRET_HINT_LENGTH = 4;

/**
 * A new device secret: `iocds_` + 43 base64url characters (256 random bits from the OS CSPRNG).
 * Shown once to whoever provisions the device; only its keyed hash is stored.
 */
export function generateDeviceSecret(): string {
  return DEVICE_SECRET_PREFIX + randomBytes(DEVICE_SECRET_BYTES).toString('base64url');
}

/**
 * The stored form of a device secret: HMAC-SHA256 keyed with the server's credential key
 * (32 bytes). A keyed fast hash, not a slow password hash, because the secret is a 256-bit
 * random token (no dictionary to guard against) and a reconnect storm of 10,000 devices must not
 * cost minutes of CPU; the key means a stolen database alone cannot test guesses offline.
 *
 * @param key the server key (IOC_DEVICE_CREDENTIAL_KEY, at least 32 bytes)
 * @param secret the secret as the device sends it in the MQTT CONNECT password
 * @returns 32 bytes
 */
export function hashDeviceSecret(key: Buffer, secret: string | Buffer): Buffer {
  return createHmac('sha256', key).update(secret).digest();
}

/** Constant-time comparison of two hashes (false when their lengths differ). */
export function deviceSecretHashesEqual(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The part of a secret shown in listings, e.g. `iocds_Ab3x…`: enough to tell two apart, too little to use. */
export function deviceSecretHint(secret: string): string {
  return secret.slice(0, DEVICE_SECRET_PREFIX.length + DEVICE_SECRET_HINT_LENGTH);
}
