import { join } from 'node:path';
import { type IocDatabase, openDatabase, prepareDatabase } from '@ioc/database';
import {
  AgencyIndex,
  DeviceRegistry,
  hashDeviceSecret,
  RegistryRepository,
  RegistrySync,
} from '@ioc/registry';
import { createLogger } from '@ioc/runtime';
import { TempDirs } from '@ioc/testing';
import { AgencyRepository } from './agencies';

const KEY = Buffer.alloc(32, 9);

/**
 * What a broker learns of agency writes: each write that changes an MQTT login (disable, enable,
 * secret issued or removed) is in the registry change log, so a broker's RegistrySync applies it
 * to its AgencyIndex without a restart.
 */
describe('agency writes reach the brokers through the registry change log', () => {
  const dirs = new TempDirs('agency-changes-');
  let database: IocDatabase;
  let agencies: AgencyRepository;
  let index: AgencyIndex;
  let sync: RegistrySync;

  beforeAll(async () => {
    database = openDatabase({ kind: 'sqlite', path: join(await dirs.make(), 'registry.sqlite') });
    await prepareDatabase(database);
    const now = Date.now();
    await database.db
      .insertInto('areas')
      .values({
        id: 'prov',
        parent_id: null,
        name: 'prov',
        level: 'province',
        lat: null,
        lon: null,
        note: null,
        created_at: now,
        updated_at: now,
      })
      .execute();
    agencies = new AgencyRepository(database.db);
    index = new AgencyIndex();
    sync = new RegistrySync(new RegistryRepository(database.db), new DeviceRegistry(), {
      logger: createLogger('test', { level: 'silent' }),
      agencies: index,
      pollMs: 0,
    });
    await sync.start();
  });

  afterAll(async () => {
    sync.stop();
    await database.close();
    await dirs.removeAll();
  });

  it('applies a secret issued, rotated and removed, and the agency disabled and enabled', async () => {
    await agencies.create({ id: 'so-nnmt', name: 'Sở NN&MT', scope: { domains: ['env'] } });
    await sync.refresh();
    expect(index.agencyAccount('so-nnmt')).toBeUndefined();

    const first = await agencies.issueMqttSecret('so-nnmt', KEY);
    await sync.refresh();
    expect(index.agencyAccount('so-nnmt')).toEqual({
      hash: hashDeviceSecret(KEY, first.secret),
      active: true,
    });

    const second = await agencies.issueMqttSecret('so-nnmt', KEY);
    await sync.refresh();
    expect(index.agencyAccount('so-nnmt')?.hash).toEqual(hashDeviceSecret(KEY, second.secret));

    await agencies.disable('so-nnmt');
    await sync.refresh();
    expect(index.agencyAccount('so-nnmt')?.active).toBe(false);
    await agencies.enable('so-nnmt');
    await sync.refresh();
    expect(index.agencyAccount('so-nnmt')?.active).toBe(true);

    await agencies.removeMqttSecret('so-nnmt');
    await sync.refresh();
    expect(index.agencyAccount('so-nnmt')).toBeUndefined();

    const logged = await new RegistryRepository(database.db).changesSince(0);
    expect(logged.filter((c) => c.entity === 'agency').map((c) => c.action)).toEqual([
      'mqtt-secret-issued',
      'mqtt-secret-issued',
      'disabled',
      'enabled',
      'mqtt-secret-removed',
    ]);
  });
});
