import { type IocDatabase, openDatabase, prepareDatabase } from '@ioc/database';
import { describeEachDatabase } from '@ioc/testing';
import {
  type DeviceStatusRecord,
  DeviceStatusRepository,
  type DeviceStatusTransition,
  toDeviceStatus,
} from './device-status-repository';
import { RegistryRepository } from './registry-repository';

jest.setTimeout(60_000);

const T0 = Date.UTC(2026, 10, 30, 8, 0, 0);

describeEachDatabase('DeviceStatusRepository', (context) => {
  let database: IocDatabase;
  let repository: DeviceStatusRepository;
  const ids = Array.from({ length: 1200 }, (_, i) => `st-${String(i).padStart(4, '0')}`);

  beforeAll(async () => {
    database = openDatabase(await context.freshConfig());
    await prepareDatabase(database);
    const registry = new RegistryRepository(database.db, () => T0);
    await registry.createArea({ id: 'root', name: 'Root', level: 'province', parentId: null });
    await registry.importDevices(
      ids.map((id, i) => ({
        row: i + 1,
        device: {
          id,
          type: 'street-light',
          domain: 'lighting',
          name: id,
          areaId: 'root',
          location: { lat: 11.3, lon: 106.1 },
        },
      })),
    );
    repository = new DeviceStatusRepository(database.db, () => T0);
  });
  afterAll(async () => {
    await database.close();
  });

  it('upserts the latest status and reads it back for many devices (more than one IN list)', async () => {
    const latest: DeviceStatusRecord[] = ids.map((deviceId, i) => ({
      deviceId,
      status: i % 2 === 0 ? 'online' : 'offline',
      reason: i % 2 === 0 ? 'connected' : 'silence-timeout',
      since: T0 + i,
      lastSeen: T0 + i + 5,
      ...(i % 3 === 0 ? { clockOffsetMs: 1000 - i * 1000 } : {}),
      clockSuspect: i % 3 === 0,
    }));
    await expect(repository.writeBatch({ latest, history: [] })).resolves.toEqual({
      latest: ids.length,
      history: 0,
      skipped: 0,
    });
    const read = await repository.latestOf(ids);
    expect(read.size).toBe(ids.length);
    for (const record of latest) expect(read.get(record.deviceId)).toEqual(record);
    expect((await repository.latestOf()).size).toBe(ids.length);

    // A second write replaces the row; fields now absent become absent.
    const changed: DeviceStatusRecord = {
      deviceId: ids[0]!,
      status: 'offline',
      reason: 'disconnected',
      since: T0 + 100_000,
      clockSuspect: false,
    };
    await repository.writeBatch({ latest: [changed], history: [] });
    expect((await repository.latestOf([ids[0]!])).get(ids[0]!)).toEqual(changed);
  });

  it('appends history and answers one device over [from, to), oldest first, bounded', async () => {
    const device = ids[7]!;
    const history: DeviceStatusTransition[] = [
      { deviceId: device, status: 'online', reason: 'connected', at: T0 + 3000 },
      { deviceId: device, status: 'offline', reason: 'connection-lost', at: T0 + 1000 },
      { deviceId: device, status: 'online', reason: 'reading', at: T0 + 2000 },
      { deviceId: ids[8]!, status: 'online', reason: 'connected', at: T0 + 1500 },
    ];
    await repository.writeBatch({ latest: [], history });
    const mine = history.filter((c) => c.deviceId === device).sort((a, b) => a.at - b.at);
    await expect(repository.historyOf(device, T0, T0 + 10_000, 100)).resolves.toEqual(mine);
    // `to` is exclusive, `from` inclusive.
    await expect(repository.historyOf(device, T0 + 1000, T0 + 3000, 100)).resolves.toEqual(mine.slice(0, 2));
    await expect(repository.historyOf(device, T0, T0 + 10_000, 1)).resolves.toEqual(mine.slice(0, 1));
    await expect(repository.historyOf('st-none', T0, T0 + 10_000, 10)).resolves.toEqual([]);
  });

  it('skips rows of devices the database does not know without failing the others', async () => {
    const good: DeviceStatusRecord = {
      deviceId: ids[20]!,
      status: 'online',
      reason: 'reading',
      since: T0 + 42,
      lastSeen: T0 + 43,
      clockSuspect: false,
    };
    const result = await repository.writeBatch({
      latest: [good, { ...good, deviceId: 'not-registered' }],
      history: [{ deviceId: 'not-registered', status: 'online', reason: 'reading', at: T0 }],
    });
    expect(result).toEqual({ latest: 1, history: 0, skipped: 2 });
    expect((await repository.latestOf([ids[20]!, 'not-registered'])).get(ids[20]!)).toEqual(good);
  });

  it('never moves a latest status back in time: an older transition written later only goes to the history', async () => {
    const deviceId = ids[7]!;
    // Two broker nodes: node B records the new session online at T0+2000; node A's write of the
    // old session's end (at T0+1000) commits afterwards.
    const online: DeviceStatusRecord = {
      deviceId,
      status: 'online',
      reason: 'connected',
      since: T0 + 2000,
      clockSuspect: false,
    };
    const lateOffline: DeviceStatusRecord = {
      deviceId,
      status: 'offline',
      reason: 'connection-lost',
      since: T0 + 1000,
      clockSuspect: false,
    };
    await repository.writeBatch({
      latest: [online],
      history: [{ deviceId, status: 'online', reason: 'connected', at: T0 + 2000 }],
    });
    await repository.writeBatch({
      latest: [lateOffline],
      history: [{ deviceId, status: 'offline', reason: 'connection-lost', at: T0 + 1000 }],
    });
    expect((await repository.latestOf([deviceId])).get(deviceId)).toEqual(online);
    // The same since (a lastSeen update) and a later one are applied.
    await repository.writeBatch({ latest: [{ ...online, lastSeen: T0 + 2500 }], history: [] });
    expect((await repository.latestOf([deviceId])).get(deviceId)?.lastSeen).toBe(T0 + 2500);
    const later: DeviceStatusRecord = { ...lateOffline, since: T0 + 3000 };
    await repository.writeBatch({ latest: [later], history: [] });
    expect((await repository.latestOf([deviceId])).get(deviceId)).toEqual(later);
  });

  it('turns a record into the contracts DeviceStatus (ISO times), unknown when there is none', () => {
    expect(toDeviceStatus('x', undefined)).toEqual({
      deviceId: 'x',
      status: 'unknown',
      reason: 'never-seen',
      since: null,
      clockSuspect: false,
    });
    expect(
      toDeviceStatus('x', {
        deviceId: 'x',
        status: 'online',
        reason: 'connected',
        since: T0,
        lastSeen: T0 + 1000,
        clockOffsetMs: 5,
        clockSuspect: true,
      }),
    ).toEqual({
      deviceId: 'x',
      status: 'online',
      reason: 'connected',
      since: '2026-11-30T08:00:00.000Z',
      lastSeen: '2026-11-30T08:00:01.000Z',
      clockOffsetMs: 5,
      clockSuspect: true,
    });
  });
});
