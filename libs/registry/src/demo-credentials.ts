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
 * The demo set-up (`npm start`): gives each of `deviceIds` (the seeded devices) a secret once —
 * only a device that is active and has never had a credential gets one — and keeps the secrets
 * in `path` (mode 0600) for the simulator. An entry stays while its secret is valid (a suspended
 * device's too, so it logs in again once resumed); a device whose credentials were revoked,
 * expired or rotated by an operator, or that was retired, gets nothing new and leaves the file:
 * revocation survives a restart. Devices provisioned over REST get their secrets there, never here. Re-running it with
 * nothing changed issues nothing.
 *
 * @returns how many secrets were issued now, and how many devices the file holds
 */
export async function ensureDemoCredentials(
  db: Kysely<DatabaseSchema>,
  options: { key: Buffer; path: string; deviceIds: readonly string[]; now?: number },
): Promise<{ issued: number; devices: number }> {
  const previous: CredentialsFile = existsSync(options.path)
    ? (JSON.parse(readFileSync(options.path, 'utf8')) as CredentialsFile)
    : {};
  const now = options.now ?? Date.now();
  return transaction(db, async (trx) => {
    const repository = new RegistryRepository(trx);
    const wanted = new Set(options.deviceIds);
    // Suspended devices keep their entry while the secret is valid (a resumed device logs in with
    // it again); retired ones leave the file.
    const devices = (await repository.allDevices()).filter(
      (d) => wanted.has(d.id) && (d.state ?? 'active') !== 'retired',
    );
    const hashes = await repository.credentialHashes();
    const everIssued = new Set(
      (await trx.selectFrom('device_credentials').select('device_id').distinct().execute()).map(
        (r) => r.device_id,
      ),
    );
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
      // A device that has had credentials is managed by someone: revoked stays revoked. A
      // suspended one gets none either.
      if (everIssued.has(device.id) || device.state === 'suspended') continue;
      next[device.id] = (
        await repository.issueCredential(device.id, { key: options.key, graceMs: null })
      ).secret;
      issued++;
    }
    const unchanged =
      Object.keys(previous).length === Object.keys(next).length &&
      Object.entries(next).every(([id, secret]) => previous[id] === secret);
    if (!unchanged) {
      writeFileSync(options.path, `${JSON.stringify(next, null, 1)}\n`, { mode: 0o600 });
    }
    return { issued, devices: Object.keys(next).length };
  });
}
