import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { Kysely } from 'kysely';
import { type DatabaseSchema, transaction } from '@ioc/database';
import { deviceSecretHashesEqual, hashDeviceSecret } from './device-secrets';
import { RegistryRepository } from './registry-repository';

/**
 * A credentials file, as the simulator's `--credentials` reads it: `{ "<deviceId>": "<secret>" }`.
 * Holds secrets in clear: mode 0600, for demonstrations and tests, never for a deployment's devices.
 */
export type CredentialsFile = Record<string, string>;

/**
 * The demo set-up (`npm start`): makes sure every active device has a secret in `path` that the
 * registry accepts, issuing one (in addition to any credential the device already has) for each
 * device whose entry is missing or no longer valid, then rewrites the file (mode 0600).
 * Re-running it with nothing changed issues nothing.
 *
 * @returns how many secrets were issued now
 */
export async function ensureDemoCredentials(
  db: Kysely<DatabaseSchema>,
  options: { key: Buffer; path: string; now?: number },
): Promise<{ issued: number; devices: number }> {
  const previous: CredentialsFile = existsSync(options.path)
    ? (JSON.parse(readFileSync(options.path, 'utf8')) as CredentialsFile)
    : {};
  const now = options.now ?? Date.now();
  return transaction(db, async (trx) => {
    const repository = new RegistryRepository(trx);
    const devices = (await repository.allDevices()).filter((d) => (d.state ?? 'active') === 'active');
    const hashes = await repository.credentialHashes();
    const next: CredentialsFile = {};
    let issued = 0;
    for (const device of devices) {
      const secret = previous[device.id];
      const valid =
        typeof secret === 'string' &&
        (hashes.get(device.id) ?? []).some(
          (entry) =>
            (entry.notAfter === undefined || entry.notAfter > now) &&
            deviceSecretHashesEqual(entry.hash, hashDeviceSecret(options.key, secret)),
        );
      if (valid) {
        next[device.id] = secret;
        continue;
      }
      next[device.id] = (
        await repository.issueCredential(device.id, { key: options.key, graceMs: null })
      ).secret;
      issued++;
    }
    if (issued > 0 || Object.keys(previous).length !== devices.length) {
      writeFileSync(options.path, `${JSON.stringify(next, null, 1)}\n`, { mode: 0o600 });
    }
    return { issued, devices: devices.length };
  });
}
