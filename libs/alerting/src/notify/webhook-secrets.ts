import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { loadServerKey } from '@ioc/runtime';

/** Standard Webhooks' prefix of a symmetric signing secret ("Signature scheme" table). */
export const WEBHOOK_SECRET_PREFIX = 'whsec_';
/**
 * Random bytes of a generated secret: the spec asks at least 24 bytes (192 bits) and at most 64
 * ("Signing secret: Random. At least 24 bytes"); 32 (256 bits, the HMAC-SHA256 output size).
 */
export const WEBHOOK_SECRET_BYTES = 32;
/** Fewest bytes of the server key the secrets are encrypted under (AES-256). */
export const WEBHOOK_KEY_MIN_BYTES = 32;

/** A new `whsec_` + base64(32 random bytes from the OS CSPRNG). */
export function generateWebhookSecret(): string {
  return WEBHOOK_SECRET_PREFIX + randomBytes(WEBHOOK_SECRET_BYTES).toString('base64');
}

/** The secret's visible start, for listings: `whsec_` and 4 characters. */
export function webhookSecretHint(secret: string): string {
  return secret.slice(0, WEBHOOK_SECRET_PREFIX.length + 4);
}

/**
 * The Standard Webhooks symmetric signature: `v1,` + base64(HMAC-SHA256(key, `{id}.{timestamp}.{body}`))
 * where key = the base64-decoded part of the secret after `whsec_` (spec, "Signature scheme").
 * @param timestamp integer Unix seconds (the `webhook-timestamp` header)
 */
export function signWebhook(secret: string, id: string, timestamp: number, body: string): string {
  const key = Buffer.from(
    secret.startsWith(WEBHOOK_SECRET_PREFIX) ? secret.slice(WEBHOOK_SECRET_PREFIX.length) : secret,
    'base64',
  );
  return `v1,${createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64')}`;
}

/** Where the generated server key lives when IOC_WEBHOOK_SECRET_KEY is not set. */
export function defaultWebhookKeyPath(dataDir: string): string {
  return join(dataDir, 'keys', 'webhook-secret.key');
}

/**
 * Encrypts webhook endpoints' secrets at rest: AES-256-GCM (NIST SP 800-38D) with a random 96-bit
 * IV per secret and the endpoint id as associated data (a ciphertext copied to another row does
 * not decrypt), under a key derived with HKDF-SHA256 (RFC 5869) from the server key, so the server
 * key file itself is never used directly as a cipher key. Stored as
 * `v1.{iv b64}.{tag b64}.{ciphertext b64}`.
 */
export class WebhookSecretBox {
  private readonly key: Buffer;

  /** @param serverKey ≥ 32 bytes (loadWebhookSecretKey) */
  constructor(serverKey: Buffer) {
    if (serverKey.length < WEBHOOK_KEY_MIN_BYTES)
      throw new RangeError(`the webhook secret key must be at least ${WEBHOOK_KEY_MIN_BYTES} bytes`);
    this.key = Buffer.from(
      hkdfSync('sha256', serverKey, Buffer.alloc(0), 'ioc webhook endpoint secrets v1', 32),
    );
  }

  seal(endpointId: string, secret: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(Buffer.from(endpointId, 'utf8'));
    const ciphertext = Buffer.concat([cipher.update(secret, 'utf8'), cipher.final()]);
    return [
      'v1',
      iv.toString('base64'),
      cipher.getAuthTag().toString('base64'),
      ciphertext.toString('base64'),
    ].join('.');
  }

  /** @throws Error when the text was not sealed for this endpoint under this key (or was altered) */
  open(endpointId: string, sealed: string): string {
    const [version, iv, tag, ciphertext] = sealed.split('.');
    if (version !== 'v1' || iv === undefined || tag === undefined || ciphertext === undefined)
      throw new Error('not a sealed webhook secret');
    const decipher = createDecipheriv('aes-256-gcm', this.key, Buffer.from(iv, 'base64'));
    decipher.setAAD(Buffer.from(endpointId, 'utf8'));
    decipher.setAuthTag(Buffer.from(tag, 'base64'));
    return Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64')), decipher.final()]).toString(
      'utf8',
    );
  }
}

/**
 * The server key webhook secrets are sealed under: IOC_WEBHOOK_SECRET_KEY (base64 or hex, ≥ 32
 * bytes) when set, else `{dataDir}/keys/webhook-secret.key`, created by the first process
 * (loadServerKey). Every API node must have the same one; losing it makes every endpoint's secret
 * unreadable (rotate them all).
 * @throws Error when the configured key or the file holds fewer than 32 bytes
 */
export function loadWebhookSecretKey(options: { configured?: string | undefined; dataDir: string }): Buffer {
  return loadServerKey({
    ...(options.configured === undefined ? {} : { configured: options.configured }),
    path: defaultWebhookKeyPath(options.dataDir),
    minBytes: WEBHOOK_KEY_MIN_BYTES,
    name: 'IOC_WEBHOOK_SECRET_KEY',
    description: 'the webhook secret key',
  });
}
