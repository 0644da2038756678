import type { Area, Device } from '@ioc/contracts';
import { type IocDatabase, openDatabase, prepareDatabase } from '@ioc/database';
import { createLogger } from '@ioc/runtime';
import { describeEachDatabase } from '@ioc/testing';
import { DeviceRegistry } from './device-registry';
import { hashDeviceSecret } from './device-secrets';
import { devicesToCsv, devicesToGeoJson, parseDeviceCsv, parseDeviceGeoJson } from './device-import-formats';
import { MAX_DEVICE_ATTRIBUTES } from './seed-schemas';
import { loadSeeds } from './seed-loader';
import {
  type ImportRow,
  RegistryError,
  RegistryRepository,
  type RegistryChange,
} from './registry-repository';
import { CredentialIndex, RegistrySync } from './registry-sync';

const KEY = Buffer.alloc(32, 7);
const logger = createLogger('registry-repository-spec', { level: 'silent' });

const AREAS: Area[] = [
  {
    id: 'prov',
    name: 'Tỉnh Tây Ninh',
    level: 'province',
    parentId: null,
    location: { lat: 11.3, lon: 106.1 },
  },
  { id: 'dist-a', name: 'Huyện A', level: 'district', parentId: 'prov' },
  { id: 'ward-a1', name: 'Phường 1', level: 'ward', parentId: 'dist-a', note: 'approximate' },
  { id: 'dist-b', name: 'Huyện B', level: 'district', parentId: 'prov' },
];

const light = (id: string, overrides: Partial<Device> = {}): Device => ({
  id,
  type: 'street-light',
  domain: 'lighting',
  name: `Đèn ${id}`,
  areaId: 'ward-a1',
  location: { lat: 11.31, lon: 106.11 },
  attributes: { cabinetId: 'lc-001', road: 'Đường 30 Tháng 4' },
  ...overrides,
});
const station = (id: string, overrides: Partial<Device> = {}): Device => ({
  id,
  type: 'air-quality-station',
  domain: 'env',
  name: `Trạm ${id}`,
  areaId: 'dist-b',
  location: { lat: 11.2, lon: 106.2 },
  ...overrides,
});

/** The error a promise rejects with, checked to be a RegistryError. */
async function refusal(
  promise: Promise<unknown>,
): Promise<{ code: string; message: string; field?: string }> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(RegistryError);
    const { code, message, field } = error as RegistryError;
    return { code, message, ...(field === undefined ? {} : { field }) };
  }
  throw new Error('expected a RegistryError');
}

describeEachDatabase('RegistryRepository', (context) => {
  const opened: IocDatabase[] = [];
  let now = Date.UTC(2026, 10, 30, 8, 0, 0);
  const clock = () => now;
  afterAll(async () => {
    await Promise.all(opened.map((database) => database.close()));
  });

  /** A migrated database with the four areas and, unless `devices: false`, two devices. */
  async function fresh(options: { devices?: boolean } = {}): Promise<RegistryRepository> {
    const database = openDatabase(await context.freshConfig());
    opened.push(database);
    await prepareDatabase(database);
    const repo = new RegistryRepository(database.db, clock);
    for (const area of AREAS) await repo.createArea(area);
    if (options.devices !== false) {
      await repo.createDevice(light('sl-001'));
      await repo.createDevice(station('aq-001'));
    }
    return repo;
  }

  describe('areas', () => {
    it('creates and reads areas, keeping optional fields', async () => {
      const repo = await fresh({ devices: false });
      const byId = (a: Area, b: Area) => (a.id < b.id ? -1 : 1);
      // Oldest first, then by id (all four were created at the same millisecond here).
      expect(await repo.listAreas()).toEqual([...AREAS].sort(byId));
      expect(await repo.getArea('ward-a1')).toEqual(AREAS[2]);
      expect(await repo.getArea('nowhere')).toBeUndefined();
    });

    it('refuses a taken id, a second root and an unknown parent', async () => {
      const repo = await fresh({ devices: false });
      expect(await refusal(repo.createArea({ ...AREAS[1]!, name: 'again' }))).toEqual({
        code: 'conflict',
        message: 'area "dist-a" already exists',
        field: 'id',
      });
      expect(
        await refusal(repo.createArea({ id: 'other', name: 'O', level: 'province', parentId: null })),
      ).toEqual({ code: 'conflict', message: 'the tree already has a root ("prov")', field: 'parentId' });
      expect(
        await refusal(repo.createArea({ id: 'x', name: 'X', level: 'ward', parentId: 'atlantis' })),
      ).toEqual({
        code: 'not-found',
        message: 'no parent area "atlantis"',
        field: 'parentId',
      });
      expect(await repo.listAreas()).toHaveLength(AREAS.length);
    });

    it('renames and moves an area; refuses a move under itself or its own subtree', async () => {
      const repo = await fresh({ devices: false });
      expect(await repo.updateArea('dist-a', { name: 'Thị xã A' })).toMatchObject({
        name: 'Thị xã A',
        parentId: 'prov',
      });
      expect(await repo.updateArea('ward-a1', { parentId: 'dist-b' })).toMatchObject({ parentId: 'dist-b' });
      expect(await refusal(repo.updateArea('prov', { parentId: 'ward-a1' }))).toEqual({
        code: 'conflict',
        message: 'area "prov" cannot move under its own subtree ("ward-a1")',
        field: 'parentId',
      });
      expect(await refusal(repo.updateArea('dist-b', { parentId: 'dist-b' }))).toMatchObject({
        code: 'conflict',
      });
      expect(await refusal(repo.updateArea('dist-b', { parentId: null }))).toMatchObject({
        code: 'conflict',
        message: 'the tree already has a root ("prov")',
      });
      expect(await refusal(repo.updateArea('nowhere', { name: 'N' }))).toEqual({
        code: 'not-found',
        message: 'no area "nowhere"',
      });
      const actions = (await repo.changesSince(0)).filter((c) => c.entity === 'area').map((c) => c.action);
      expect(actions.slice(-2)).toEqual(['updated', 'moved']);
    });
  });

  describe('devices', () => {
    it('creates a device active by default, and refuses a taken id, a wrong domain and an unknown area', async () => {
      const repo = await fresh();
      expect(await repo.getDevice('sl-001')).toEqual({ ...light('sl-001'), state: 'active' });
      expect(await refusal(repo.createDevice(light('sl-001')))).toEqual({
        code: 'conflict',
        message: 'device "sl-001" already exists',
        field: 'id',
      });
      expect(await refusal(repo.createDevice(light('sl-002', { domain: 'env' })))).toEqual({
        code: 'invalid',
        message: 'domain "env" does not match type "street-light" (domain "lighting")',
        field: 'domain',
      });
      expect(await refusal(repo.createDevice(light('sl-002', { areaId: 'atlantis' })))).toEqual({
        code: 'not-found',
        message: 'no area "atlantis"',
        field: 'areaId',
      });
      expect(await repo.getDevice('sl-002')).toBeUndefined();
    });

    it('refuses an id that differs from a registered one only in case (409), and keeps exact lookups', async () => {
      const repo = await fresh();
      await repo.createDevice(light('sl-tn-new-01'));
      for (const id of ['SL-TN-NEW-01', 'Sl-Tn-New-01', 'SL-001']) {
        const existing = id.toLowerCase();
        expect(await refusal(repo.createDevice(light(id)))).toEqual({
          code: 'conflict',
          message: `device id "${id}" differs only in case from the device "${existing}"`,
          field: 'id',
        });
      }
      expect(await repo.getDevice('SL-TN-NEW-01')).toBeUndefined();
      // The other way round too: an upper-case id first, then its lower-case twin.
      await repo.createDevice(station('AQ-UPPER'));
      expect(await refusal(repo.createDevice(station('aq-upper')))).toMatchObject({ code: 'conflict' });
      expect((await repo.listDevices({ q: 'sl-tn-new' }, { limit: 10, offset: 0 })).total).toBe(1);
    });

    it('refuses all but one of concurrent creations of one id with a 409, not a database error', async () => {
      const repo = await fresh();
      const outcomes = await Promise.allSettled(
        Array.from({ length: 6 }, (_, i) => repo.createDevice(light('sl-race', { name: `Đèn ${i}` }))),
      );
      expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
      for (const outcome of outcomes.filter((o) => o.status === 'rejected')) {
        expect((outcome as PromiseRejectedResult).reason).toMatchObject({
          name: 'RegistryError',
          code: 'conflict',
          message: 'device "sl-race" already exists',
        });
      }
      const areas = await Promise.allSettled(
        Array.from({ length: 6 }, () =>
          repo.createArea({ id: 'race', name: 'R', level: 'x', parentId: 'prov' }),
        ),
      );
      expect(areas.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
      for (const outcome of areas.filter((o) => o.status === 'rejected')) {
        expect((outcome as PromiseRejectedResult).reason).toMatchObject({ code: 'conflict' });
      }
    });

    it('updates name, area, location, attributes and silence timeout; null clears the optional ones', async () => {
      const repo = await fresh();
      const updated = await repo.updateDevice('sl-001', {
        name: 'Đèn mới',
        areaId: 'dist-b',
        location: { lat: 11.4, lon: 106.3 },
        silenceTimeoutSeconds: 600,
      });
      expect(updated).toMatchObject({
        name: 'Đèn mới',
        areaId: 'dist-b',
        location: { lat: 11.4, lon: 106.3 },
      });
      expect(await repo.getDevice('sl-001')).toEqual(updated);
      expect(updated.silenceTimeoutSeconds).toBe(600);
      const cleared = await repo.updateDevice('sl-001', { attributes: null, silenceTimeoutSeconds: null });
      expect(cleared.attributes).toBeUndefined();
      expect(cleared.silenceTimeoutSeconds).toBeUndefined();
      expect(await refusal(repo.updateDevice('sl-001', { areaId: 'atlantis' }))).toMatchObject({
        code: 'not-found',
        field: 'areaId',
      });
      expect(await refusal(repo.updateDevice('ghost', { name: 'x' }))).toEqual({
        code: 'not-found',
        message: 'no device "ghost"',
      });
    });

    it('follows the life cycle: suspend, resume, retire; retired is final', async () => {
      const repo = await fresh();
      expect((await repo.setDeviceState('sl-001', 'suspended')).state).toBe('suspended');
      expect((await repo.setDeviceState('sl-001', 'suspended')).state).toBe('suspended');
      expect((await repo.setDeviceState('sl-001', 'active')).state).toBe('active');
      await repo.issueCredential('sl-001', { key: KEY, graceMs: 0 });
      expect((await repo.setDeviceState('sl-001', 'retired')).state).toBe('retired');
      // Retiring revokes every credential: the listing says so and the broker loads none.
      expect((await repo.listCredentials('sl-001')).map((c) => c.status)).toEqual(['revoked']);
      expect((await repo.credentialHashes(['sl-001'])).get('sl-001')).toBeUndefined();
      for (const state of ['active', 'suspended'] as const) {
        expect(await refusal(repo.setDeviceState('sl-001', state))).toEqual({
          code: 'conflict',
          message: `device "sl-001" is retired: it cannot become ${state}`,
          field: 'state',
        });
      }
      expect(await refusal(repo.setDeviceState('ghost', 'active'))).toMatchObject({ code: 'not-found' });
      const actions = (await repo.changesSince(0))
        .filter((c) => c.entityId === 'sl-001')
        .map((c) => c.action);
      expect(actions).toEqual(['created', 'suspended', 'resumed', 'issued', 'retired', 'revoked']);
    });

    it('lists with filters (domain, type, state, area subtree, q) and pages with the total', async () => {
      const repo = await fresh();
      for (let i = 2; i <= 5; i++) await repo.createDevice(light(`sl-00${i}`, { name: `Đèn_${i}` }));
      await repo.setDeviceState('sl-003', 'suspended');
      const ids = async (
        filter: Parameters<RegistryRepository['listDevices']>[0],
        limit = 100,
        offset = 0,
      ) => {
        const page = await repo.listDevices(filter, { limit, offset });
        return { total: page.total, ids: page.items.map((d) => d.id) };
      };
      expect(await ids({ domain: 'env' })).toEqual({ total: 1, ids: ['aq-001'] });
      expect(await ids({ type: 'street-light' }, 2, 1)).toEqual({ total: 5, ids: ['sl-002', 'sl-003'] });
      expect(await ids({ state: 'suspended' })).toEqual({ total: 1, ids: ['sl-003'] });
      expect(await ids({ areaId: 'dist-a' })).toEqual({
        total: 5,
        ids: ['sl-001', 'sl-002', 'sl-003', 'sl-004', 'sl-005'],
      });
      expect(await ids({ areaId: 'prov' })).toMatchObject({ total: 6 });
      expect(await ids({ q: 'AQ-0' })).toEqual({ total: 1, ids: ['aq-001'] });
      // `_` is a literal underscore, not LIKE's any-character (the names "Đèn_2"… have one; "Đèn sl-001" not).
      expect(await ids({ q: 'n_' })).toEqual({ total: 4, ids: ['sl-002', 'sl-003', 'sl-004', 'sl-005'] });
      expect(await ids({ q: '%' })).toEqual({ total: 0, ids: [] });
      expect(await refusal(repo.listDevices({ areaId: 'atlantis' }, { limit: 1, offset: 0 }))).toMatchObject({
        code: 'not-found',
      });
    });
  });

  describe('importDevices', () => {
    it('reports each row created, updated, unchanged or refused, and stores only the good ones', async () => {
      const repo = await fresh();
      const rows: ImportRow[] = [
        { row: 2, device: light('sl-001') }, // as stored (state absent: kept)
        { row: 3, device: station('aq-001', { name: 'Trạm mới' }) },
        { row: 4, device: light('sl-010') },
        { row: 5, device: light('sl-011', { areaId: 'atlantis' }) },
        { row: 6, error: 'column lat: "abc" is not a number', id: 'sl-012' },
        { row: 7, device: light('sl-010', { name: 'twice' }) },
        { row: 8, device: { ...station('sl-001'), id: 'sl-001' } },
        { row: 9, device: light('sl-013', { domain: 'env' }) },
      ];
      const report = await repo.importDevices(rows);
      expect(report).toEqual({
        created: 1,
        updated: 1,
        unchanged: 1,
        refused: 5,
        rows: [
          { row: 2, id: 'sl-001', outcome: 'unchanged' },
          { row: 3, id: 'aq-001', outcome: 'updated', changed: ['name'] },
          { row: 4, id: 'sl-010', outcome: 'created' },
          { row: 5, id: 'sl-011', outcome: 'refused', reason: 'no area "atlantis"' },
          { row: 6, id: 'sl-012', outcome: 'refused', reason: 'column lat: "abc" is not a number' },
          {
            row: 7,
            id: 'sl-010',
            outcome: 'refused',
            reason: 'device "sl-010" appears earlier in the same file',
          },
          {
            row: 8,
            id: 'sl-001',
            outcome: 'refused',
            reason: 'device "sl-001" appears earlier in the same file',
          },
          {
            row: 9,
            id: 'sl-013',
            outcome: 'refused',
            reason: 'domain "env" does not match type "street-light" (domain "lighting")',
          },
        ],
      });
      expect((await repo.getDevice('aq-001'))?.name).toBe('Trạm mới');
      expect(await repo.getDevice('sl-010')).toEqual({ ...light('sl-010'), state: 'active' });
      expect(await repo.getDevice('sl-011')).toBeUndefined();
    });

    it('refuses rows whose id differs only in case from a registered device or an earlier row', async () => {
      const repo = await fresh();
      const report = await repo.importDevices([
        { row: 2, device: light('SL-001') },
        { row: 3, device: light('sl-020') },
        { row: 4, device: light('SL-020') },
        { row: 5, device: station('aq-001', { name: 'Trạm đổi tên' }) },
      ]);
      expect(report).toEqual({
        created: 1,
        updated: 1,
        unchanged: 0,
        refused: 2,
        rows: [
          {
            row: 2,
            id: 'SL-001',
            outcome: 'refused',
            reason: 'device id "SL-001" differs only in case from the device "sl-001"',
          },
          { row: 3, id: 'sl-020', outcome: 'created' },
          {
            row: 4,
            id: 'SL-020',
            outcome: 'refused',
            reason:
              'device id "SL-020" differs only in case from the device "sl-020", earlier in the same file',
          },
          { row: 5, id: 'aq-001', outcome: 'updated', changed: ['name'] },
        ],
      });
      expect(await repo.getDevice('SL-001')).toBeUndefined();
      expect(await repo.getDevice('SL-020')).toBeUndefined();
      expect((await repo.allDevices()).map((d) => d.id)).toEqual(['aq-001', 'sl-001', 'sl-020']);
    });

    it('changes nothing when the same file is imported twice (not even the change log)', async () => {
      const repo = await fresh({ devices: false });
      const rows: ImportRow[] = Array.from({ length: 1200 }, (_, i) => ({
        row: i + 2,
        device: light(`sl-${String(i).padStart(4, '0')}`, { attributes: { z: 'last', a: 'first' } }),
      }));
      const progress: number[] = [];
      const first = await repo.importDevices(rows, (done) => progress.push(done));
      expect(first).toMatchObject({ created: 1200, updated: 0, unchanged: 0, refused: 0 });
      expect(progress).toEqual([1000, 1200]);
      const seq = await repo.latestChangeSeq();
      now += 1000;
      const second = await repo.importDevices(rows);
      expect(second).toMatchObject({ created: 0, updated: 0, unchanged: 1200, refused: 0 });
      expect(await repo.latestChangeSeq()).toBe(seq);
    });

    it('refuses a type change and a life-cycle transition the device cannot make', async () => {
      const repo = await fresh();
      await repo.setDeviceState('aq-001', 'retired');
      const report = await repo.importDevices([
        { row: 1, device: { ...light('aq-001'), id: 'aq-001' } },
        { row: 2, device: station('aq-001', { state: 'active' }) },
      ]);
      expect(report.rows).toEqual([
        {
          row: 1,
          id: 'aq-001',
          outcome: 'refused',
          reason: 'device "aq-001" is a air-quality-station: its type cannot change to street-light',
        },
        {
          row: 2,
          id: 'aq-001',
          outcome: 'refused',
          reason: 'device "aq-001" appears earlier in the same file',
        },
      ]);
      const again = await repo.importDevices([{ row: 1, device: station('aq-001', { state: 'active' }) }]);
      expect(again.rows[0]).toEqual({
        row: 1,
        id: 'aq-001',
        outcome: 'refused',
        reason: 'device "aq-001" is retired: it cannot become active',
      });
      const suspend = await repo.importDevices([{ row: 1, device: light('sl-001', { state: 'suspended' }) }]);
      expect(suspend.rows[0]?.outcome).toBe('updated');
      expect((await repo.changesSince(0)).at(-1)).toMatchObject({ entityId: 'sl-001', action: 'suspended' });
    });

    it('a dry run reports what an import would do and stores nothing', async () => {
      const repo = await fresh();
      const seq = await repo.latestChangeSeq();
      const rows: ImportRow[] = [
        { row: 2, device: light('sl-new') },
        { row: 3, device: station('aq-001', { name: 'Trạm đổi' }) },
        { row: 4, device: light('sl-bad', { areaId: 'atlantis' }) },
      ];
      const preview = await repo.importDevices(rows, undefined, { dryRun: true });
      expect(preview).toMatchObject({ created: 1, updated: 1, refused: 1 });
      expect(await repo.getDevice('sl-new')).toBeUndefined();
      expect((await repo.getDevice('aq-001'))?.name).toBe('Trạm aq-001');
      expect(await repo.latestChangeSeq()).toBe(seq);
      expect(await repo.importDevices(rows)).toEqual(preview);
    });

    it('a file leaves fields it does not give as stored, clears the ones it gives empty, and merges attributes by name', async () => {
      const repo = await fresh();
      await repo.updateDevice('sl-001', { silenceTimeoutSeconds: 600 });
      await repo.setDeviceState('sl-001', 'suspended');
      const stored = await repo.getDevice('sl-001');
      const header = 'id,type,name,areaId,lat,lon';
      const place = 'street-light,Đèn mới,ward-a1,11.31,106.11';
      // No attr.*, silenceTimeoutSeconds or state column: only the name changes.
      const renamed = await repo.importDevices(parseDeviceCsv(`${header}\nsl-001,${place}`));
      expect(renamed.rows).toEqual([{ row: 2, id: 'sl-001', outcome: 'updated', changed: ['name'] }]);
      expect(await repo.getDevice('sl-001')).toEqual({ ...stored, name: 'Đèn mới' });
      // The same again: unchanged.
      expect((await repo.importDevices(parseDeviceCsv(`${header}\nsl-001,${place}`))).unchanged).toBe(1);
      // attr.road empty removes road, attr.lanes sets lanes, cabinetId (not named) stays; an
      // empty silenceTimeoutSeconds clears it; an empty state keeps it.
      const csv = `${header},attr.road,attr.lanes,silenceTimeoutSeconds,state\nsl-001,${place},,2,,`;
      const preview = await repo.importDevices(parseDeviceCsv(csv), undefined, { dryRun: true });
      expect(preview.rows).toEqual([
        {
          row: 2,
          id: 'sl-001',
          outcome: 'updated',
          changed: ['attributes.lanes', 'attributes.road', 'silenceTimeoutSeconds'],
        },
      ]);
      expect(await repo.importDevices(parseDeviceCsv(csv))).toEqual(preview);
      const merged = {
        ...stored,
        name: 'Đèn mới',
        attributes: { cabinetId: 'lc-001', lanes: '2' },
      } as Device;
      delete merged.silenceTimeoutSeconds;
      expect(await repo.getDevice('sl-001')).toEqual(merged);

      // GeoJSON: absent properties keep, null clears, "attributes": null clears them all.
      const feature = (properties: Record<string, unknown>) =>
        JSON.stringify({
          type: 'FeatureCollection',
          features: [
            {
              type: 'Feature',
              geometry: { type: 'Point', coordinates: [106.11, 11.31] },
              properties: {
                id: 'sl-001',
                type: 'street-light',
                name: 'Đèn mới',
                areaId: 'ward-a1',
                ...properties,
              },
            },
          ],
        });
      expect((await repo.importDevices(parseDeviceGeoJson(feature({})))).unchanged).toBe(1);
      const set = await repo.importDevices(
        parseDeviceGeoJson(feature({ silenceTimeoutSeconds: 120, 'attr.lanes': null })),
      );
      expect(set.rows[0]).toMatchObject({ changed: ['attributes.lanes', 'silenceTimeoutSeconds'] });
      expect(await repo.getDevice('sl-001')).toMatchObject({
        attributes: { cabinetId: 'lc-001' },
        silenceTimeoutSeconds: 120,
      });
      const cleared = await repo.importDevices(
        parseDeviceGeoJson(feature({ attributes: null, silenceTimeoutSeconds: null })),
      );
      expect(cleared.rows[0]).toMatchObject({ changed: ['attributes.cabinetId', 'silenceTimeoutSeconds'] });
      const after = await repo.getDevice('sl-001');
      expect(after).not.toHaveProperty('attributes');
      expect(after).not.toHaveProperty('silenceTimeoutSeconds');
      expect(after?.state).toBe('suspended');
    });

    it('refuses a row whose attributes, merged with the stored ones, exceed MAX_DEVICE_ATTRIBUTES', async () => {
      const repo = await fresh();
      const names = Array.from({ length: MAX_DEVICE_ATTRIBUTES - 1 }, (_, i) => `a${i}`);
      const csv = `id,type,name,areaId,lat,lon,${names.map((n) => `attr.${n}`).join(',')}\nsl-001,street-light,Đèn sl-001,ward-a1,11.31,106.11,${names.map(() => 'v').join(',')}`;
      // Stored: cabinetId and road; the file adds 49 others: 51 in all.
      expect((await repo.importDevices(parseDeviceCsv(csv))).rows).toEqual([
        {
          row: 2,
          id: 'sl-001',
          outcome: 'refused',
          reason: `attributes: ${MAX_DEVICE_ATTRIBUTES + 1} with the stored ones: at most ${MAX_DEVICE_ATTRIBUTES}`,
        },
      ]);
      expect(await repo.getDevice('sl-001')).toEqual({ ...light('sl-001'), state: 'active' });
    });

    it('export then import changes nothing, attributes named like Object.prototype members or with spaces around included', async () => {
      const repo = await fresh();
      await repo.createDevice(
        light('sl-002', {
          // Names are trimmed by the device schema (REST and import alike); attribute values are kept as given.
          name: 'Đèn "có" dấu, phẩy',
          attributes: { constructor: 'c', toString: ' =1', valueOf: 'x  ', hasOwnProperty: '  ' },
          silenceTimeoutSeconds: 60,
        }),
      );
      await repo.createDevice(
        light('sl-003', { location: { lat: 1e-7, lon: -2.5e-8 }, attributes: { road: ' Đường 1 ' } }),
      );
      const devices = await repo.allDevices();
      expect(devices.find((d) => d.id === 'sl-002')?.attributes).toEqual({
        constructor: 'c',
        toString: ' =1',
        valueOf: 'x  ',
        hasOwnProperty: '  ',
      });
      const seq = await repo.latestChangeSeq();
      for (const rows of [
        parseDeviceCsv(devicesToCsv(devices)),
        parseDeviceGeoJson(JSON.stringify(devicesToGeoJson(devices))),
      ]) {
        const report = await repo.importDevices(rows);
        expect(report.rows.map((r) => [r.id, r.outcome])).toEqual(devices.map((d) => [d.id, 'unchanged']));
        expect(report.unchanged).toBe(devices.length);
      }
      expect(await repo.latestChangeSeq()).toBe(seq);
    });

    it("imports the repository's seeds once; a second import finds them unchanged", async () => {
      const database = openDatabase(await context.freshConfig());
      opened.push(database);
      await prepareDatabase(database);
      const repo = new RegistryRepository(database.db, clock);
      const seeds = loadSeeds();
      const first = await repo.importSeeds(seeds);
      expect(first).toMatchObject({ created: seeds.devices.length, refused: 0 });
      expect((await repo.listAreas()).map((a) => a.id).sort()).toEqual(seeds.areas.map((a) => a.id).sort());
      const second = await repo.importSeeds(seeds);
      expect(second).toMatchObject({ created: 0, unchanged: seeds.devices.length });
      const registry = new DeviceRegistry({
        areas: await repo.listAreas(),
        devices: await repo.allDevices(),
      });
      expect(registry.deviceCount).toBe(seeds.devices.length);
    });
  });

  describe('credentials', () => {
    it('issues a secret once: only its keyed hash is stored, listings never show it', async () => {
      const repo = await fresh();
      const issued = await repo.issueCredential('sl-001', { key: KEY, graceMs: 0 });
      expect(issued.secret).toMatch(/^iocds_[A-Za-z0-9_-]{43}$/);
      expect(issued.credential).toMatchObject({ deviceId: 'sl-001', status: 'active' });
      const hashes = await repo.credentialHashes(['sl-001']);
      expect(hashes.get('sl-001')).toEqual([
        { id: issued.credential.id, hash: hashDeviceSecret(KEY, issued.secret) },
      ]);
      const listed = await repo.listCredentials('sl-001');
      expect(listed).toEqual([issued.credential]);
      expect(JSON.stringify(listed)).not.toContain(issued.secret);
      expect(await refusal(repo.listCredentials('ghost'))).toMatchObject({ code: 'not-found' });
    });

    it('rotates with a grace period: the old secret stays valid until it ends, then is expired', async () => {
      const repo = await fresh();
      const first = await repo.issueCredential('sl-001', { key: KEY, graceMs: 0 });
      now += 1000;
      const second = await repo.issueCredential('sl-001', { key: KEY, graceMs: 60_000 });
      const graceEnd = now + 60_000;
      const hashes = (await repo.credentialHashes()).get('sl-001');
      expect(hashes).toEqual([
        { id: first.credential.id, hash: hashDeviceSecret(KEY, first.secret), notAfter: graceEnd },
        { id: second.credential.id, hash: hashDeviceSecret(KEY, second.secret) },
      ]);
      expect((await repo.listCredentials('sl-001')).map((c) => c.status)).toEqual(['expiring', 'active']);
      now = graceEnd;
      expect((await repo.listCredentials('sl-001')).map((c) => c.status)).toEqual(['expired', 'active']);
      // A rotation without grace ends the previous one at once, and never extends an earlier end.
      const third = await repo.issueCredential('sl-001', { key: KEY, graceMs: 0 });
      const ends = (await repo.credentialHashes()).get('sl-001')!.map((h) => h.notAfter);
      expect(ends).toEqual([graceEnd, now, undefined]);
      expect(third.credential.status).toBe('active');
    });

    it('revokes one credential or all; a revoked one is gone from the hashes; a retired device gets none', async () => {
      const repo = await fresh();
      const a = await repo.issueCredential('sl-001', { key: KEY, graceMs: 3_600_000 });
      const b = await repo.issueCredential('sl-001', { key: KEY, graceMs: 3_600_000 });
      expect(await repo.revokeCredentials('sl-001', a.credential.id)).toBe(1);
      expect((await repo.credentialHashes()).get('sl-001')?.map((h) => h.id)).toEqual([b.credential.id]);
      expect(await repo.revokeCredentials('sl-001', a.credential.id)).toBe(0);
      expect(await refusal(repo.revokeCredentials('sl-001', 'cred_nope'))).toEqual({
        code: 'not-found',
        message: 'device "sl-001" has no credential "cred_nope"',
      });
      expect(await refusal(repo.revokeCredentials('aq-001', b.credential.id))).toMatchObject({
        code: 'not-found',
      });
      await repo.issueCredential('sl-001', { key: KEY, graceMs: 0 });
      expect(await repo.revokeCredentials('sl-001')).toBe(2);
      expect((await repo.credentialHashes()).has('sl-001')).toBe(false);
      expect((await repo.listCredentials('sl-001')).map((c) => c.status)).toEqual([
        'revoked',
        'revoked',
        'revoked',
      ]);
      await repo.setDeviceState('sl-001', 'retired');
      expect(await refusal(repo.issueCredential('sl-001', { key: KEY, graceMs: 0 }))).toEqual({
        code: 'conflict',
        message: 'device "sl-001" is retired',
        field: 'state',
      });
    });
  });

  describe('change log and RegistrySync', () => {
    it("brings a process's in-memory registry and credential index up to date on refresh()", async () => {
      const repo = await fresh();
      const issued = await repo.issueCredential('aq-001', { key: KEY, graceMs: 0 });
      const registry = new DeviceRegistry({ areas: AREAS, devices: [] });
      const credentials = new CredentialIndex();
      const seen: RegistryChange[][] = [];
      const sync = new RegistrySync(repo, registry, {
        logger,
        credentials,
        pollMs: 0,
        onChanges: (changes) => seen.push([...changes]),
      });
      await sync.start();
      try {
        expect(registry.deviceCount).toBe(2);
        expect(credentials.credentialsOf('aq-001').map((c) => c.id)).toEqual([issued.credential.id]);
        const startedAt = sync.position;
        expect(startedAt).toBe(await repo.latestChangeSeq());

        await repo.createDevice(station('aq-002', { areaId: 'ward-a1' }));
        await sync.refresh();
        expect(registry.getDevice('aq-002')?.name).toBe('Trạm aq-002');
        expect(
          registry
            .listDevices({ areaId: 'dist-a' })
            .map((d) => d.id)
            .sort(),
        ).toEqual(['aq-002', 'sl-001']);

        await repo.updateDevice('aq-002', { areaId: 'dist-b' });
        await sync.refresh();
        expect(registry.areaPath(registry.getDevice('aq-002')!.areaId)).toEqual(['prov', 'dist-b']);
        expect(registry.listDevices({ areaId: 'dist-a' }).map((d) => d.id)).toEqual(['sl-001']);

        await repo.updateArea('dist-a', { name: 'Thị xã A' });
        await sync.refresh();
        expect(registry.getArea('dist-a')?.name).toBe('Thị xã A');

        await repo.updateArea('ward-a1', { parentId: 'dist-b' });
        await sync.refresh();
        expect(registry.areaPath('ward-a1')).toEqual(['prov', 'dist-b', 'ward-a1']);
        expect(
          registry
            .listDevices({ areaId: 'dist-b' })
            .map((d) => d.id)
            .sort(),
        ).toEqual(['aq-001', 'aq-002', 'sl-001']);

        await repo.setDeviceState('sl-001', 'suspended');
        await repo.revokeCredentials('aq-001');
        await sync.refresh();
        expect(registry.getDevice('sl-001')?.state).toBe('suspended');
        expect(credentials.credentialsOf('aq-001')).toEqual([]);

        expect(seen.flat().map((c) => `${c.entity}:${c.entityId}:${c.action}`)).toEqual([
          'device:aq-002:created',
          'device:aq-002:updated',
          'area:dist-a:updated',
          'area:ward-a1:moved',
          'device:sl-001:suspended',
          'credential:aq-001:revoked',
        ]);
        expect(sync.position).toBe(await repo.latestChangeSeq());
        await sync.refresh();
        expect(seen).toHaveLength(5);
      } finally {
        sync.stop();
      }
    });

    it('applies the changes of a notice: notify() refreshes on its own', async () => {
      const repo = await fresh();
      const registry = new DeviceRegistry({ areas: AREAS, devices: [] });
      let applied: () => void = () => undefined;
      const changed = new Promise<void>((resolve) => (applied = resolve));
      const sync = new RegistrySync(repo, registry, { logger, pollMs: 0, onChanges: () => applied() });
      await sync.start();
      try {
        await repo.createDevice(light('sl-002'));
        sync.notify();
        sync.notify();
        await changed;
        expect(registry.getDevice('sl-002')).toBeDefined();
      } finally {
        sync.stop();
      }
    });
  });
});
