import { readFileSync, statSync } from 'node:fs';
import type { Device } from '@ioc/contracts';
import type { CredentialsHook } from './simulator';

/** Device ids named in a "no secret" error before the rest are only counted. */
const LISTED_MISSING = 5;

/** A credentials file that cannot be used: unreadable, not the expected JSON, or missing a device. */
export class CredentialsFileError extends Error {
  override readonly name = 'CredentialsFileError';
}

/** What loadCredentialsFile gives: the hook for the Simulator, and whether the file is group/world-readable. */
export interface LoadedCredentials {
  credentials: CredentialsHook;
  /** True when the file's mode lets anyone but its owner read it (it should be 0600). */
  readableByOthers: boolean;
  /** Ids of `devices` the file has no secret for (only with `skipMissing`; otherwise that throws). */
  missing: string[];
}

/**
 * Reads a device credentials file — JSON `{ "<deviceId>": "<secret>", … }`, as `npm start` writes
 * `{IOC_DATA_DIR}/demo-device-credentials.json` — and makes the per-device credentials hook:
 * username = device id, password = its secret (the broker's CONNECT rule with device credentials).
 * Entries for devices not simulated are ignored.
 *
 * @throws CredentialsFileError naming the file when it cannot be read, is not a JSON object of
 *   non-empty strings, or has no secret for one of `devices` (the first LISTED_MISSING ids are
 *   named, the rest counted) — unless `skipMissing`, which lists them in `missing` instead.
 */
export function loadCredentialsFile(
  path: string,
  devices: readonly Device[],
  options: { skipMissing?: boolean } = {},
): LoadedCredentials {
  let text: string;
  let mode: number;
  try {
    text = readFileSync(path, 'utf8');
    mode = statSync(path).mode;
  } catch (error) {
    throw new CredentialsFileError(`cannot read credentials file ${path}: ${(error as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new CredentialsFileError(`credentials file ${path} is not JSON: ${(error as Error).message}`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new CredentialsFileError(
      `credentials file ${path} must be a JSON object { "<deviceId>": "<secret>" }`,
    );
  }
  const secrets = new Map<string, string>();
  for (const [deviceId, secret] of Object.entries(json)) {
    if (typeof secret !== 'string' || secret === '') {
      throw new CredentialsFileError(
        `credentials file ${path}: the secret of "${deviceId.slice(0, 64)}" must be a non-empty string`,
      );
    }
    secrets.set(deviceId, secret);
  }
  const missing = devices.filter((device) => !secrets.has(device.id)).map((device) => device.id);
  if (missing.length > 0 && options.skipMissing !== true) {
    const more = missing.length > LISTED_MISSING ? ` and ${missing.length - LISTED_MISSING} more` : '';
    throw new CredentialsFileError(
      `credentials file ${path} has no secret for ${missing.slice(0, LISTED_MISSING).join(', ')}${more} ` +
        `(${missing.length} of the ${devices.length} simulated devices)`,
    );
  }
  return {
    credentials: ({ device }) => {
      const secret = device ? secrets.get(device.id) : undefined;
      return device && secret !== undefined ? { username: device.id, password: secret } : undefined;
    },
    readableByOthers: (mode & 0o077) !== 0,
    missing,
  };
}
