import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type IocDatabase, openDatabase } from '@ioc/database';
import { describeEachDatabase } from '@ioc/testing';
import { ensureDemoCredentials } from './demo-credentials';
import { deviceSecretHashesEqual, hashDeviceSecret } from './device-secrets';
import { prepareRegistry } from './prepare-registry';
import { RegistryRepository } from './registry-repository';
import { loadSeeds } from './seed-loader';

const KEY = Buffer.alloc(32, 7);

describeEachDatabase('ensureDemoCredentials (the demo set-up)', (context) => {
  const opened: IocDatabase[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'ioc-demo-'));
  afterAll(async () => {
    await Promise.all(opened.map((database) => database.close()));
    rmSync(dir, { recursive: true, force: true });
  });
  const seeds = loadSeeds();
  const seedIds = seeds.devices.map((d) => d.id);

  it('issues once per seeded device, never again for one an operator revoked, never for REST-provisioned devices', async () => {
    const database = openDatabase(await context.freshConfig());
    opened.push(database);
    await prepareRegistry(database);
    const repository = new RegistryRepository(database.db);
    const path = join(dir, `creds-${context.kind}.json`);
    const extra = { ...seeds.devices[0]!, id: 'sl-provisioned-001' };
    await repository.createDevice(extra);

    const first = await ensureDemoCredentials(database.db, { key: KEY, path, deviceIds: seedIds });
    expect(first).toEqual({ issued: seedIds.length, devices: seedIds.length });
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const file = JSON.parse(readFileSync(path, 'utf8')) as Record<string, string>;
    expect(Object.keys(file).sort()).toEqual([...seedIds].sort());
    const hashes = await repository.credentialHashes();
    for (const id of seedIds) {
      expect(
        hashes.get(id)?.some((e) => deviceSecretHashesEqual(e.hash, hashDeviceSecret(KEY, file[id]!))),
      ).toBe(true);
    }

    expect(await ensureDemoCredentials(database.db, { key: KEY, path, deviceIds: seedIds })).toEqual({
      issued: 0,
      devices: seedIds.length,
    });

    const revoked = seedIds[1]!;
    await repository.revokeCredentials(revoked);
    const afterRevocation = await ensureDemoCredentials(database.db, { key: KEY, path, deviceIds: seedIds });
    expect(afterRevocation).toEqual({ issued: 0, devices: seedIds.length - 1 });
    const rewritten = JSON.parse(readFileSync(path, 'utf8')) as Record<string, string>;
    expect(rewritten[revoked]).toBeUndefined();
    expect((await repository.credentialHashes([revoked])).get(revoked)).toBeUndefined();
    expect((await repository.listCredentials(extra.id)).length).toBe(0);

    // A suspended device keeps its (still valid) secret in the file, so it logs in again once resumed.
    const suspended = seedIds[2]!;
    await repository.setDeviceState(suspended, 'suspended');
    expect(await ensureDemoCredentials(database.db, { key: KEY, path, deviceIds: seedIds })).toEqual({
      issued: 0,
      devices: seedIds.length - 1,
    });
    expect((JSON.parse(readFileSync(path, 'utf8')) as Record<string, string>)[suspended]).toBe(
      file[suspended],
    );
    // A retired one leaves it.
    await repository.setDeviceState(suspended, 'retired');
    const afterRetirement = await ensureDemoCredentials(database.db, { key: KEY, path, deviceIds: seedIds });
    expect(afterRetirement).toEqual({ issued: 0, devices: seedIds.length - 2 });
  });
});
