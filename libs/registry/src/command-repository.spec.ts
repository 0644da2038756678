import { type IocDatabase, openDatabase } from '@ioc/database';
import { describeEachDatabase } from '@ioc/testing';
import { CommandRepository } from './command-repository';
import { prepareRegistry } from './prepare-registry';
import { RegistryRepository } from './registry-repository';
import { loadSeeds } from './seed-loader';

describeEachDatabase('CommandRepository and first-start seeding', (context) => {
  const opened: IocDatabase[] = [];
  afterAll(async () => {
    await Promise.all(opened.map((database) => database.close()));
  });
  const seededDatabase = async (): Promise<IocDatabase> => {
    const database = openDatabase(await context.freshConfig());
    opened.push(database);
    await prepareRegistry(database);
    return database;
  };

  it('seeds the seed files on the first start only', async () => {
    const database = openDatabase(await context.freshConfig());
    opened.push(database);
    const first = await prepareRegistry(database);
    const seeds = loadSeeds();
    expect(first.seeded).toBe(true);
    const repository = new RegistryRepository(database.db);
    expect((await repository.listAreas()).map((a) => a.id).sort()).toEqual(
      seeds.areas.map((a) => a.id).sort(),
    );
    expect((await repository.allDevices()).map((d) => d.id)).toEqual(seeds.devices.map((d) => d.id).sort());
    // A device changed through the registry survives the next start: the seeds are not read again.
    const someone = seeds.devices[0]!;
    await repository.updateDevice(someone.id, { name: 'Renamed by an operator' });
    const second = await prepareRegistry(database);
    expect(second).toEqual({ applied: [], seeded: false });
    expect((await repository.getDevice(someone.id))?.name).toBe('Renamed by an operator');
  });

  it('records a command, its acknowledgement once, and only from its own device', async () => {
    const database = await seededDatabase();
    const commands = new CommandRepository(database.db);
    const [light, other] = loadSeeds().devices;
    await commands.create({
      id: 'cmd_1',
      deviceId: light!.id,
      command: 'dim',
      params: { level: 40 },
      createdAt: 1000,
      deadline: 31_000,
    });
    expect(
      await commands.acknowledge({ id: 'cmd_1', deviceId: other!.id, outcome: 'done', at: 2000 }),
    ).toBeUndefined();
    const acked = await commands.acknowledge({ id: 'cmd_1', deviceId: light!.id, outcome: 'done', at: 2000 });
    expect(acked).toMatchObject({
      id: 'cmd_1',
      state: 'acknowledged',
      outcome: 'done',
      params: { level: 40 },
    });
    expect(acked?.late).toBeUndefined();
    // A repeated ack (QoS 1 redelivery) changes nothing.
    expect(
      await commands.acknowledge({ id: 'cmd_1', deviceId: light!.id, outcome: 'failed', at: 3000 }),
    ).toBeUndefined();
    expect((await commands.get('cmd_1'))?.outcome).toBe('done');
    // An acknowledged command never times out.
    expect(await commands.expire(100_000)).toEqual([]);
  });

  it('times out unanswered commands once, and a late acknowledgement still records the outcome', async () => {
    const database = await seededDatabase();
    const commands = new CommandRepository(database.db);
    const device = loadSeeds().devices[0]!;
    await commands.create({
      id: 'cmd_a',
      deviceId: device.id,
      command: 'restart',
      params: {},
      createdAt: 0,
      deadline: 10_000,
    });
    await commands.create({
      id: 'cmd_b',
      deviceId: device.id,
      command: 'restart',
      params: {},
      createdAt: 0,
      deadline: 50_000,
    });
    expect((await commands.expire(9_999)).map((c) => c.id)).toEqual([]);
    expect((await commands.expire(10_000)).map((c) => c.id)).toEqual(['cmd_a']);
    expect((await commands.expire(20_000)).map((c) => c.id)).toEqual([]);
    expect((await commands.get('cmd_a'))?.state).toBe('timed-out');
    const late = await commands.acknowledge({
      id: 'cmd_a',
      deviceId: device.id,
      outcome: 'rejected',
      detail: 'busy',
      at: 12_000,
    });
    expect(late).toMatchObject({ state: 'failed', outcome: 'rejected', detail: 'busy', late: true });
    expect(
      (await commands.listForDevice(device.id, { limit: 10, offset: 0 })).map((c) => c.id).sort(),
    ).toEqual(['cmd_a', 'cmd_b']);
  });
});
