import { type IocDatabase, openDatabase } from '@ioc/database';
import { ConfigError } from '@ioc/runtime';
import { describeEachDatabase } from '@ioc/testing';
import { credentialKeyFingerprint, verifyCredentialKeyFingerprint } from './credential-key';
import { prepareRegistry } from './prepare-registry';
import { RegistryRepository } from './registry-repository';

const KEY = Buffer.alloc(32, 1);
const OTHER_KEY = Buffer.alloc(32, 2);

describeEachDatabase('verifyCredentialKeyFingerprint (every node on one credential key)', (context) => {
  const opened: IocDatabase[] = [];
  afterAll(async () => {
    await Promise.all(opened.map((database) => database.close()));
  });

  const fresh = async (): Promise<{ database: IocDatabase; repository: RegistryRepository }> => {
    const database = openDatabase(await context.freshConfig());
    opened.push(database);
    await prepareRegistry(database);
    return { database, repository: new RegistryRepository(database.db) };
  };

  it('records the first key, accepts it again, and refuses another while secrets depend on it', async () => {
    const { database, repository } = await fresh();
    expect(await verifyCredentialKeyFingerprint(database.db, KEY)).toBe('recorded');
    expect(await verifyCredentialKeyFingerprint(database.db, KEY)).toBe('matched');
    const row = await database.db.selectFrom('key_fingerprints').selectAll().executeTakeFirstOrThrow();
    // A fingerprint, never the key.
    expect(row.fingerprint).toBe(credentialKeyFingerprint(KEY));
    expect(row.fingerprint).not.toContain(KEY.toString('hex'));
    expect(credentialKeyFingerprint(OTHER_KEY)).not.toBe(row.fingerprint);

    const device = (await repository.listDevices({}, { limit: 1, offset: 0 })).items[0];
    if (device === undefined) throw new Error('no seeded device');
    await repository.issueCredential(device.id, { key: KEY, graceMs: null });
    const refusal = await verifyCredentialKeyFingerprint(database.db, OTHER_KEY).catch(
      (error: unknown) => error,
    );
    expect(refusal).toBeInstanceOf(ConfigError);
    expect((refusal as Error).message).toContain(
      "IOC_DEVICE_CREDENTIAL_KEY: differs from the key the registry's credentials were hashed with (1 device credential(s) depend on it",
    );
    expect((refusal as Error).message).not.toContain(OTHER_KEY.toString('hex'));
    // Refused: the recorded key stays.
    expect(await verifyCredentialKeyFingerprint(database.db, KEY)).toBe('matched');
  });

  it('a key change: once no live secret depends on the former key, the new key is recorded', async () => {
    const { database, repository } = await fresh();
    await verifyCredentialKeyFingerprint(database.db, KEY);
    const device = (await repository.listDevices({}, { limit: 1, offset: 0 })).items[0];
    if (device === undefined) throw new Error('no seeded device');
    await repository.issueCredential(device.id, { key: KEY, graceMs: null });
    await expect(verifyCredentialKeyFingerprint(database.db, OTHER_KEY)).rejects.toThrow(ConfigError);
    await repository.revokeCredentials(device.id);
    expect(await verifyCredentialKeyFingerprint(database.db, OTHER_KEY)).toBe('replaced');
    expect(await verifyCredentialKeyFingerprint(database.db, OTHER_KEY)).toBe('matched');
    // And now the former key is the stranger once a secret is issued under the new one.
    await repository.issueCredential(device.id, { key: OTHER_KEY, graceMs: null });
    await expect(verifyCredentialKeyFingerprint(database.db, KEY)).rejects.toThrow(ConfigError);
  });
});
