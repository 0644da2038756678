import type { Kysely, Migration } from 'kysely';

/**
 * `key_fingerprints`: a fingerprint of each server key whose use the registry's rows depend on
 * (issue 12, D8: a node started with another key than the rest), so a process started with a
 * different key is refused at start instead of silently refusing every device. One row per key
 * (`device-credential`: IOC_DEVICE_CREDENTIAL_KEY, which device and agency MQTT secret hashes are
 * made with): HMAC-SHA256 of a fixed label under the key, hex — never the key. See `@ioc/registry`
 * verifyCredentialKeyFingerprint.
 */
export const keyFingerprintsMigration: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .createTable('key_fingerprints')
      .addColumn('name', 'text', (c) => c.primaryKey())
      .addColumn('fingerprint', 'text', (c) => c.notNull())
      .addColumn('recorded_at', 'bigint', (c) => c.notNull())
      .execute();
  },
};
