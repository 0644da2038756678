import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * What loadServerKey needs to find (or create) one of the platform's server-side keys: the
 * device credential key (`@ioc/registry`), the auth token signing secret (`@ioc/access`).
 */
export interface ServerKeyOptions {
  /** The configured value (an environment variable): base64 or hex; empty or undefined = use the file. */
  configured?: string;
  /** Where the generated key lives when none is configured, e.g. `{IOC_DATA_DIR}/keys/auth-token.key`. */
  path: string;
  /** Fewest bytes the key may have, and the length of a generated one. */
  minBytes: number;
  /** How errors name the configured value, e.g. `IOC_AUTH_TOKEN_SECRET`. */
  name: string;
  /** What the key is for, in errors, e.g. `the device credential key`. */
  description: string;
}

/**
 * A server key every node of a deployment must share:
 *
 * - `configured` (an environment variable set from a deployment's secret store): base64 or hex
 *   of at least `minBytes` bytes;
 * - otherwise the key file at `path` is read, or created (`minBytes` random bytes from the OS
 *   CSPRNG, base64, mode 0600 in a 0700 directory) by whichever process gets there first; the
 *   others read it (the `wx` flag makes the creation exclusive).
 *
 * @returns the key's bytes
 * @throws Error naming `name` (or the file) when the key holds fewer than `minBytes` bytes
 */
export function loadServerKey(options: ServerKeyOptions): Buffer {
  if (options.configured !== undefined && options.configured !== '') {
    return decodeServerKey(options.configured, options.name, options);
  }
  const path = options.path;
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  try {
    // 'wx': only the first process creates it; a second one fails with EEXIST and reads it.
    writeFileSync(path, `${randomBytes(options.minBytes).toString('base64')}\n`, {
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
    if (text !== '' || attempt >= 50) return decodeServerKey(text, path, options);
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
  }
}

/** Hex when the text is only hex digits of even length, else base64. */
function decodeServerKey(text: string, source: string, options: ServerKeyOptions): Buffer {
  const trimmed = text.trim();
  const key =
    /^[0-9a-fA-F]+$/.test(trimmed) && trimmed.length % 2 === 0
      ? Buffer.from(trimmed, 'hex')
      : Buffer.from(trimmed, 'base64');
  if (key.length < options.minBytes) {
    throw new Error(
      `${source}: ${options.description} must be at least ${options.minBytes} bytes (base64 or hex); got ${key.length}`,
    );
  }
  return key;
}
