import { type DeviceStatus, DEVICE_TYPE_CONTRACTS } from '@ioc/contracts';
import { type IocDatabase, openDatabase, prepareDatabase } from '@ioc/database';
import { DeviceRegistry, DeviceStatusRepository, loadSeeds, RegistryRepository } from '@ioc/registry';
import { createLogger } from '@ioc/runtime';
import { describeEachDatabase } from '@ioc/testing';
import type { DeviceDirectory } from './device-directory';
import { CLOCK_LAG_PERSIST_MS, DeviceStatusTracker } from './device-status-tracker';

jest.setTimeout(60_000);

const logger = createLogger('status-spec', { level: 'silent' });
const seeds = loadSeeds();
const light = seeds.devices.find((d) => d.type === 'street-light')!;
const camera = seeds.devices.find((d) => d.type === 'camera')!;
/** A camera whose own silence timeout (10 s, the least the registry takes) overrides its type's. */
const quickCamera = { ...seeds.devices.filter((d) => d.type === 'camera')[1]!, silenceTimeoutSeconds: 10 };
const directory = new DeviceRegistry({
  areas: seeds.areas,
  devices: seeds.devices.map((d) => (d.id === quickCamera.id ? quickCamera : d)),
});
const T0 = Date.UTC(2026, 10, 30, 8, 0, 0);

/** The real repository, with its writes counted. */
class CountingStore extends DeviceStatusRepository {
  writes = 0;
  override async writeBatch(batch: Parameters<DeviceStatusRepository['writeBatch']>[0]) {
    this.writes++;
    return super.writeBatch(batch);
  }
}

describeEachDatabase('DeviceStatusTracker', (context) => {
  let database: IocDatabase;
  beforeAll(async () => {
    database = openDatabase(await context.freshConfig());
    await prepareDatabase(database, {
      afterMigrate: async (db) => {
        await new RegistryRepository(db).importSeeds(seeds);
      },
    });
  });
  afterAll(async () => {
    await database.close();
  });

  /** A tracker on a controllable clock, without timers; its notices collected. */
  async function tracker(options: { restartGraceMs?: number; start?: number } = {}) {
    let now = options.start ?? T0;
    const store = new CountingStore(database.db);
    const notices: DeviceStatus[][] = [];
    const subject = new DeviceStatusTracker({
      store,
      directory,
      publish: (statuses) => notices.push(statuses),
      logger,
      now: () => now,
      timers: false,
      ...(options.restartGraceMs === undefined ? {} : { restartGraceMs: options.restartGraceMs }),
    });
    await subject.start();
    return {
      subject,
      store,
      notices,
      advance: (ms: number) => (now += ms),
      at: () => now,
    };
  }

  const historyOf = (id: string) => new DeviceStatusRepository(database.db).historyOf(id, 0, 8e15, 1000);
  const storedOf = async (id: string) =>
    (await new DeviceStatusRepository(database.db).latestOf([id])).get(id);

  it('connect → online, clean disconnect → disconnected, lost session → connection-lost; stored and announced', async () => {
    const { subject, notices } = await tracker();
    subject.connected(light.id, T0);
    expect(subject.statusOf(light.id)).toMatchObject({ status: 'online', reason: 'connected' });
    await subject.flushChanges();
    expect(await storedOf(light.id)).toMatchObject({ status: 'online', reason: 'connected', since: T0 });
    expect(notices.flat().map((s) => [s.deviceId, s.status, s.reason])).toEqual([
      [light.id, 'online', 'connected'],
    ]);

    subject.disconnected(light.id, T0 + 1000, true);
    subject.connected(light.id, T0 + 2000);
    // Two sessions (a takeover): the old one ending leaves the device online.
    subject.connected(light.id, T0 + 2500);
    subject.disconnected(light.id, T0 + 2600, false);
    expect(subject.statusOf(light.id).status).toBe('online');
    subject.disconnected(light.id, T0 + 3000, false);
    await subject.flushChanges();
    expect((await historyOf(light.id)).map((c) => [c.status, c.reason, c.at - T0])).toEqual([
      ['online', 'connected', 0],
      ['offline', 'disconnected', 1000],
      ['online', 'connected', 2000],
      ['offline', 'connection-lost', 3000],
    ]);
    expect(await storedOf(light.id)).toMatchObject({
      status: 'offline',
      reason: 'connection-lost',
      since: T0 + 3000,
      lastSeen: T0 + 2500,
    });
    await subject.close();
  });

  it('takes an online:false status or a will as the end of the session, unless another session is up', async () => {
    const { subject } = await tracker({ start: T0 + 50_000 });
    const device = seeds.devices[100]!.id;
    subject.connected(device, T0 + 50_000);
    subject.connected(device, T0 + 50_001);
    // The will of one of two sessions: the device is still connected by the other.
    subject.announcedOffline(device, T0 + 50_002, 'connection-lost');
    expect(subject.statusOf(device).status).toBe('online');
    subject.disconnected(device, T0 + 50_002, false);
    subject.announcedOffline(device, T0 + 50_003, 'disconnected');
    expect(subject.statusOf(device)).toMatchObject({ status: 'offline', reason: 'disconnected' });
    // The disconnection that follows changes nothing more.
    subject.disconnected(device, T0 + 50_004, true);
    expect(subject.statusOf(device)).toMatchObject({
      reason: 'disconnected',
      since: new Date(T0 + 50_003).toISOString(),
    });
    await subject.close();
  });

  it('marks a silent device offline after its timeout (its own, else its type’s) and online again on its next message', async () => {
    const { subject, advance, at } = await tracker({ start: T0 + 100_000 });
    const start = at();
    subject.connected(camera.id, start);
    subject.seen(quickCamera.id, start, start);
    const typeTimeout = DEVICE_TYPE_CONTRACTS.camera.silenceTimeoutSeconds * 1000;
    advance(9999);
    subject.sweep();
    expect(subject.statusOf(quickCamera.id).status).toBe('online');
    advance(1);
    subject.sweep();
    expect(subject.statusOf(quickCamera.id)).toMatchObject({
      status: 'offline',
      reason: 'silence-timeout',
      since: new Date(start + 10_000).toISOString(),
    });
    // Still connected, but silent: the type's timeout applies to it.
    expect(subject.statusOf(camera.id).status).toBe('online');
    advance(typeTimeout - 10_000);
    subject.sweep();
    expect(subject.statusOf(camera.id)).toMatchObject({ status: 'offline', reason: 'silence-timeout' });

    advance(1000);
    subject.seen(camera.id, at(), at());
    expect(subject.statusOf(camera.id)).toMatchObject({ status: 'online', reason: 'reading' });
    await subject.close();
    const reasons = (await historyOf(camera.id)).filter((c) => c.at >= start).map((c) => c.reason);
    expect(reasons).toEqual(['connected', 'silence-timeout', 'reading']);
  });

  it('flags a clock ahead at once, a persistent lag but not a backlog upload, and clears the flag', async () => {
    const { subject, advance, at } = await tracker({ start: T0 + 200_000 });
    const device = light.id;
    const limit = 120_000;
    subject.seen(device, at(), at() - 1000);
    expect(subject.statusOf(device)).toMatchObject({ clockSuspect: false, clockOffsetMs: 1000 });
    // Ahead by more than the limit: flagged at once.
    subject.seen(device, at(), at() + limit + 1);
    expect(subject.statusOf(device)).toMatchObject({ clockSuspect: true, clockOffsetMs: -(limit + 1) });
    subject.seen(device, at(), at());
    expect(subject.statusOf(device).clockSuspect).toBe(false);

    // A backlog: an hour of old readings uploaded over 2 minutes, then current ones again.
    for (let i = 0; i < 12; i++) {
      advance(10_000);
      subject.seen(device, at(), at() - 3_600_000 + i * 300_000);
      expect(subject.statusOf(device).clockSuspect).toBe(false);
    }
    subject.seen(device, at(), at());
    // A clock 5 minutes behind, for longer than CLOCK_LAG_PERSIST_MS: flagged.
    const lagStart = at();
    while (at() - lagStart < CLOCK_LAG_PERSIST_MS) {
      subject.seen(device, at(), at() - 300_000);
      expect(subject.statusOf(device).clockSuspect).toBe(false);
      advance(60_000);
    }
    subject.seen(device, at(), at() - 300_000);
    expect(subject.statusOf(device)).toMatchObject({ clockSuspect: true, clockOffsetMs: 300_000 });
    await subject.flushChanges();
    expect(await storedOf(device)).toMatchObject({ clockSuspect: true, clockOffsetMs: 300_000 });
    subject.seen(device, at(), at() - 5);
    expect(subject.statusOf(device).clockSuspect).toBe(false);
    await subject.close();
  });

  it('writes N transitions in one transaction and one notice; lastSeen alone only on its own flush', async () => {
    const { subject, store, notices, advance, at } = await tracker({ start: T0 + 300_000 });
    const devices = seeds.devices.slice(0, 120);
    for (const device of devices) subject.connected(device.id, at());
    expect(store.writes).toBe(0);
    await subject.flushChanges();
    expect(store.writes).toBe(1);
    expect(
      notices
        .at(-1)!
        .map((s) => s.deviceId)
        .sort(),
    ).toEqual(devices.map((d) => d.id).sort());
    // Nothing changed: no write.
    await subject.flushChanges();
    expect(store.writes).toBe(1);

    advance(2000);
    for (const device of devices) subject.seen(device.id, at(), at());
    await subject.flushChanges();
    expect(store.writes).toBe(1);
    expect((await storedOf(devices[0]!.id))?.lastSeen).toBe(at() - 2000);
    await subject.flushLastSeen();
    expect(store.writes).toBe(2);
    expect((await storedOf(devices[0]!.id))?.lastSeen).toBe(at());
    await subject.close();
  });

  it('after a restart, devices recorded online stay so for the grace period, then become offline unless back', async () => {
    const first = await tracker({ start: T0 + 400_000 });
    const [back, gone] = [seeds.devices[200]!, seeds.devices[201]!];
    first.subject.connected(back.id, first.at());
    first.subject.connected(gone.id, first.at());
    await first.subject.close();

    const restartAt = first.at() + 30_000;
    const second = await tracker({ start: restartAt, restartGraceMs: 60_000 });
    expect(second.subject.statusOf(gone.id).status).toBe('online');
    second.advance(10_000);
    second.subject.connected(back.id, second.at());
    second.advance(50_000);
    second.subject.sweep();
    expect(second.subject.statusOf(gone.id)).toMatchObject({
      status: 'offline',
      reason: 'broker-restart',
      since: new Date(restartAt).toISOString(),
    });
    expect(second.subject.statusOf(back.id)).toMatchObject({ status: 'online', reason: 'connected' });
    await second.subject.close();
    expect(await storedOf(gone.id)).toMatchObject({ status: 'offline', reason: 'broker-restart' });
  });

  it('with its timers, announces a silence timeout by itself', async () => {
    const notices: DeviceStatus[] = [];
    // A directory giving that camera a 1 s timeout (below the registry's least, to keep the test short).
    const oneSecond: DeviceDirectory = {
      getDevice: (id) => {
        const device = directory.getDevice(id);
        return device && id === quickCamera.id ? { ...device, silenceTimeoutSeconds: 1 } : device;
      },
      sharedAreaPath: (areaId) => directory.sharedAreaPath(areaId),
    };
    const subject = new DeviceStatusTracker({
      store: new DeviceStatusRepository(database.db),
      directory: oneSecond,
      publish: (statuses) => notices.push(...statuses),
      logger,
      restartGraceMs: 0,
    });
    await subject.start();
    try {
      subject.seen(quickCamera.id, Date.now(), Date.now());
      const offline = await new Promise<DeviceStatus>((resolve, reject) => {
        const deadline = Date.now() + 15_000;
        const poll = setInterval(() => {
          const found = notices.find((s) => s.deviceId === quickCamera.id && s.status === 'offline');
          if (found) resolve(found);
          else if (Date.now() > deadline) reject(new Error('no offline notice within 15 s'));
          else return;
          clearInterval(poll);
        }, 20);
      });
      expect(offline.reason).toBe('silence-timeout');
    } finally {
      await subject.close();
    }
  });
  describe('several broker nodes (one tracker each, one database)', () => {
    const movers = seeds.devices.filter((d) => d.type === 'street-light').slice(10, 13);

    it('a device moving from node A to node B ends online whichever node notices what first', async () => {
      const [taken, lost] = movers as [(typeof movers)[0], (typeof movers)[0]];
      const a = await tracker();
      const b = await tracker();
      // Takeover: B accepts the new session (and tells A before aedes closes A's connection).
      a.subject.connected(taken.id, T0);
      await a.subject.flushChanges();
      b.advance(1000);
      b.subject.connected(taken.id, b.at());
      a.subject.connectedElsewhere(taken.id);
      a.advance(1000);
      a.subject.disconnected(taken.id, a.at(), false);
      expect(a.subject.statusOf(taken.id).status).toBe('online');
      await b.subject.flushChanges();
      await a.subject.flushChanges();
      expect(await storedOf(taken.id)).toMatchObject({
        status: 'online',
        reason: 'connected',
        since: T0 + 1000,
      });

      // A notices its connection dead first (offline, written late), then the device reconnects to B.
      a.subject.connected(lost.id, T0);
      await a.subject.flushChanges();
      a.advance(500);
      a.subject.disconnected(lost.id, T0 + 1500, false);
      b.subject.connected(lost.id, T0 + 1800);
      a.subject.connectedElsewhere(lost.id);
      await b.subject.flushChanges();
      await a.subject.flushChanges();
      expect(await storedOf(lost.id)).toMatchObject({ status: 'online', since: T0 + 1800 });
      expect((await historyOf(lost.id)).map((c) => [c.status, c.reason, c.at])).toEqual([
        ['online', 'connected', T0],
        ['offline', 'connection-lost', T0 + 1500],
        ['online', 'connected', T0 + 1800],
      ]);

      // Node A neither sweeps nor restart-graces a device held elsewhere: long silent on A, still online.
      a.advance(24 * 3600_000);
      a.subject.sweep();
      await a.subject.flushChanges();
      expect(await storedOf(taken.id)).toMatchObject({ status: 'online' });

      // The device leaves B (B writes offline), then comes back to A, which last saw it online:
      // online again, as a new session.
      b.advance(2000);
      b.subject.disconnected(taken.id, b.at(), true);
      a.subject.releasedElsewhere(taken.id);
      await b.subject.flushChanges();
      expect(await storedOf(taken.id)).toMatchObject({ status: 'offline', reason: 'disconnected' });
      a.subject.connected(taken.id, a.at());
      await a.subject.flushChanges();
      expect(await storedOf(taken.id)).toMatchObject({
        status: 'online',
        reason: 'connected',
        since: a.at(),
      });
    });

    it('a restarted node leaves alone the devices another node holds, and times out only its own', async () => {
      const [held, gone] = movers.slice(1) as [(typeof movers)[0], (typeof movers)[0]];
      const before = await tracker();
      before.subject.connected(held.id, T0);
      before.subject.connected(gone.id, T0);
      await before.subject.flushChanges();
      // Restarted, with the grace: the other node answers its sync with the session it holds.
      const restarted = await tracker({ restartGraceMs: 60_000, start: T0 + 10_000 });
      restarted.subject.connectedElsewhere(held.id);
      restarted.advance(60_000);
      restarted.subject.sweep();
      await restarted.subject.flushChanges();
      expect(await storedOf(held.id)).toMatchObject({ status: 'online', reason: 'connected' });
      expect(await storedOf(gone.id)).toMatchObject({ status: 'offline', reason: 'broker-restart' });
    });
  });
});
