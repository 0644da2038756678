import 'reflect-metadata';
import {
  type AreaDetailBody,
  type CredentialListBody,
  type DeviceDetailBody,
  type DeviceListBody,
  errorBody,
  type ImportJobBody,
  type ImportReportBody,
  type IssuedCredentialBody,
} from '@ioc/contracts';
import { type IocDatabase, openDatabase, prepareDatabase } from '@ioc/database';
import { DeviceRegistry, hashDeviceSecret, loadSeeds, RegistryRepository, RegistrySync } from '@ioc/registry';
import { createLogger } from '@ioc/runtime';
import { TempDirs } from '@ioc/testing';
import { MAX_ATTRIBUTE_VALUE_LENGTH, MAX_AREA_NOTE_LENGTH, MAX_NAME_LENGTH } from '@ioc/registry';
import { createTimeSeriesStore, type TimeSeriesStore } from '@ioc/timeseries';
import { type ApiUnderTest, startApiUnderTest } from '../test-support/api-under-test';

jest.setTimeout(120_000);

const KEY = Buffer.alloc(32, 9);
const logger = createLogger('provisioning-spec', { level: 'silent' });
const tempDirs = new TempDirs('provisioning-spec-');

interface Answer<T = Record<string, unknown>> {
  status: number;
  body: T;
  headers: Headers;
  text: string;
}

describe('provisioning REST over a registry database (SQLite)', () => {
  let database: IocDatabase;
  let repository: RegistryRepository;
  let sync: RegistrySync;
  let store: TimeSeriesStore;
  let api: ApiUnderTest;
  let url: string;
  const seeds = loadSeeds();
  const ward = seeds.devices[0]!.areaId;

  beforeAll(async () => {
    const dir = await tempDirs.make();
    database = openDatabase({ kind: 'sqlite', path: `${dir}/registry.sqlite` });
    await prepareDatabase(database, {
      afterMigrate: async (db) => {
        await new RegistryRepository(db).importSeeds(seeds);
      },
    });
    repository = new RegistryRepository(database.db);
    const registry = new DeviceRegistry(seeds);
    sync = new RegistrySync(repository, registry, { logger, pollMs: 0 });
    await sync.start();
    store = createTimeSeriesStore({ storage: 'embedded', dataDir: dir });
    await store.init();
    api = await startApiUnderTest({
      database,
      registry,
      store,
      logger,
      provisioning: {
        repository,
        credentialKey: KEY,
        refresh: () => sync.refresh(),
        notify: () => sync.notify(),
      },
    });
    url = api.url;
  });

  afterAll(async () => {
    sync?.stop();
    await api?.close();
    await store?.close();
    await database?.close();
    await tempDirs.removeAll();
  });

  async function call<T = Record<string, unknown>>(
    method: string,
    path: string,
    body?: unknown,
    contentType = 'application/json',
  ): Promise<Answer<T>> {
    const response = await fetch(`${url}${path}`, {
      method,
      headers: { ...api.authHeaders, ...(body === undefined ? {} : { 'content-type': contentType }) },
      ...(body === undefined
        ? {}
        : { body: typeof body === 'string' || body instanceof Uint8Array ? body : JSON.stringify(body) }),
    });
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // CSV or empty
    }
    return { status: response.status, body: parsed as T, headers: response.headers, text };
  }

  /** A refusal: status, and the error body's message and parameter. */
  async function refused(method: string, path: string, body?: unknown) {
    const answer = await call(method, path, body);
    expect(errorBody.parse(answer.body)).toEqual(answer.body);
    return { status: answer.status, message: answer.body['message'], parameter: answer.body['parameter'] };
  }

  const newLight = (id: string, extra: Record<string, unknown> = {}) => ({
    id,
    type: 'street-light',
    name: `Đèn ${id}`,
    areaId: ward,
    location: { lat: 11.3, lon: 106.1 },
    ...extra,
  });

  describe('devices', () => {
    it('creates a device (201, domain derived), which the GETs that follow show', async () => {
      const created = await call<DeviceDetailBody>('POST', '/api/v1/devices', newLight('sl-new-1'));
      expect(created.status).toBe(201);
      expect(created.body).toMatchObject({ id: 'sl-new-1', domain: 'lighting', state: 'active' });
      expect(created.body.areaPath.at(-1)).toBe(ward);
      const got = await call<DeviceDetailBody>('GET', '/api/v1/devices/sl-new-1');
      expect(got.body).toEqual(created.body);
      const listed = await call<DeviceListBody>('GET', '/api/v1/devices?q=SL-NEW&state=active');
      expect(listed.body).toEqual({ total: 1, items: [expect.objectContaining({ id: 'sl-new-1' })] });
      const folded = await call<DeviceListBody>(
        'GET',
        `/api/v1/devices?q=${encodeURIComponent('đèn sl-new')}`,
      );
      expect(folded.body.items.map((d) => d.id)).toEqual(['sl-new-1']);
    });

    it('refuses a bad body with a 400 naming the field, a taken id 409, an unknown area 404', async () => {
      await call('POST', '/api/v1/devices', newLight('sl-new-2'));
      expect(await refused('POST', '/api/v1/devices', newLight('sl-new-2'))).toEqual({
        status: 409,
        message: 'device "sl-new-2" already exists',
        parameter: 'id',
      });
      expect(await refused('POST', '/api/v1/devices', newLight('sl-new-3', { areaId: 'atlantis' }))).toEqual({
        status: 404,
        message: 'no area "atlantis"',
        parameter: 'areaId',
      });
      expect(await refused('POST', '/api/v1/devices', newLight('sl-new-3', { domain: 'env' }))).toEqual({
        status: 400,
        message: 'domain "env" does not match type "street-light" (domain "lighting")',
        parameter: 'domain',
      });
      expect(
        await refused('POST', '/api/v1/devices', newLight('sl-new-3', { location: { lat: 91, lon: 0 } })),
      ).toMatchObject({
        status: 400,
        message: expect.stringMatching(/^Invalid field "location\.lat": /) as string,
        parameter: 'location',
      });
      expect(await refused('POST', '/api/v1/devices', newLight('sl-new-3', { colour: 'red' }))).toEqual({
        status: 400,
        message: 'Unknown field "colour"',
        parameter: 'colour',
      });
      expect(await refused('POST', '/api/v1/devices', '[1]')).toMatchObject({ status: 400 });
      expect(await refused('POST', '/api/v1/devices', '{"id":')).toMatchObject({ status: 400 });
      expect((await call('GET', '/api/v1/devices/sl-new-3')).status).toBe(404);
    });

    it('refuses a JSON body over its limit with a 413', async () => {
      const big = await call('POST', '/api/v1/devices', newLight('sl-big', { name: 'x'.repeat(100_000) }));
      expect(big.status).toBe(413);
      expect(errorBody.parse(big.body)).toEqual(big.body);
    });

    it('updates a device with PATCH; null clears attributes', async () => {
      await call('POST', '/api/v1/devices', newLight('sl-upd', { attributes: { road: 'Đường 1' } }));
      const patched = await call<DeviceDetailBody>('PATCH', '/api/v1/devices/sl-upd', {
        name: 'Đèn đổi tên',
        attributes: null,
        silenceTimeoutSeconds: 900,
      });
      expect(patched.status).toBe(200);
      expect(patched.body).toMatchObject({ name: 'Đèn đổi tên', silenceTimeoutSeconds: 900 });
      expect(patched.body.attributes).toBeUndefined();
      expect((await call<DeviceDetailBody>('GET', '/api/v1/devices/sl-upd')).body.name).toBe('Đèn đổi tên');
      expect(await refused('PATCH', '/api/v1/devices/sl-upd', {})).toMatchObject({
        status: 400,
        message: expect.stringContaining('at least one field') as string,
      });
      expect(await refused('PATCH', '/api/v1/devices/sl-upd', { type: 'camera' })).toMatchObject({
        status: 400,
        parameter: 'type',
      });
      expect(await refused('PATCH', '/api/v1/devices/ghost', { name: 'x' })).toEqual({
        status: 404,
        message: 'no device "ghost"',
      });
    });

    it('suspends, resumes and retires; a retired device cannot come back (409)', async () => {
      await call('POST', '/api/v1/devices', newLight('sl-life'));
      for (const [action, state] of [
        ['suspend', 'suspended'],
        ['resume', 'active'],
        ['retire', 'retired'],
      ] as const) {
        const answer = await call<DeviceDetailBody>('POST', `/api/v1/devices/sl-life/${action}`);
        expect({ action, status: answer.status, state: answer.body.state }).toEqual({
          action,
          status: 200,
          state,
        });
      }
      expect(
        (await call<DeviceListBody>('GET', '/api/v1/devices?state=retired')).body.items.map((d) => d.id),
      ).toEqual(['sl-life']);
      expect(await refused('POST', '/api/v1/devices/sl-life/resume')).toEqual({
        status: 409,
        message: 'device "sl-life" is retired: it cannot become active',
        parameter: 'state',
      });
      expect((await refused('POST', '/api/v1/devices/ghost/suspend')).status).toBe(404);
    });
  });

  describe('areas', () => {
    it('creates, renames and moves an area; its devices follow; a move under its own subtree is a 409', async () => {
      const root = seeds.areas.find((a) => a.parentId === null)!;
      const created = await call<AreaDetailBody>('POST', '/api/v1/areas', {
        id: 'khu-moi',
        name: 'Khu mới',
        level: 'district',
        parentId: root.id,
      });
      expect(created.status).toBe(201);
      expect(created.body.path).toEqual([root.id, 'khu-moi']);
      const renamed = await call<AreaDetailBody>('PATCH', '/api/v1/areas/khu-moi', { name: 'Khu đổi tên' });
      expect(renamed.body.name).toBe('Khu đổi tên');
      await call('POST', '/api/v1/areas', { id: 'ap-1', name: 'Ấp 1', level: 'hamlet', parentId: 'khu-moi' });
      await call('POST', '/api/v1/devices', newLight('sl-area', { areaId: 'ap-1' }));
      const other = seeds.areas.find((a) => a.parentId === root.id)!;
      const moved = await call<AreaDetailBody>('PATCH', '/api/v1/areas/khu-moi', { parentId: other.id });
      expect(moved.body.path).toEqual([root.id, other.id, 'khu-moi']);
      const device = await call<DeviceDetailBody>('GET', '/api/v1/devices/sl-area');
      expect(device.body.areaPath).toEqual([root.id, other.id, 'khu-moi', 'ap-1']);
      const under = await call<DeviceListBody>('GET', `/api/v1/devices?area=${other.id}&q=sl-area`);
      expect(under.body.total).toBe(1);
      expect(await refused('PATCH', '/api/v1/areas/khu-moi', { parentId: 'ap-1' })).toEqual({
        status: 409,
        message: 'area "khu-moi" cannot move under its own subtree ("ap-1")',
        parameter: 'parentId',
      });
      expect(
        await refused('POST', '/api/v1/areas', { id: 'Khu Mới', name: 'x', level: 'x', parentId: root.id }),
      ).toMatchObject({
        status: 400,
        parameter: 'id',
      });
      expect((await refused('PATCH', '/api/v1/areas/nowhere', { name: 'x' })).status).toBe(404);
    });
  });

  describe('credentials', () => {
    it('issues a secret shown once, lists without it, rotates with grace, revokes one and all', async () => {
      await call('POST', '/api/v1/devices', newLight('sl-cred'));
      const first = await call<IssuedCredentialBody>('POST', '/api/v1/devices/sl-cred/credentials');
      expect(first.status).toBe(201);
      expect(first.body.secret).toMatch(/^iocds_/);
      const stored = await repository.credentialHashes(['sl-cred']);
      expect(stored.get('sl-cred')?.[0]?.hash).toEqual(hashDeviceSecret(KEY, first.body.secret));

      const second = await call<IssuedCredentialBody>('POST', '/api/v1/devices/sl-cred/credentials', {
        graceSeconds: 600,
      });
      expect(second.status).toBe(201);
      const listed = await call<CredentialListBody>('GET', '/api/v1/devices/sl-cred/credentials');
      expect(listed.body.map((c) => [c.id, c.status])).toEqual([
        [first.body.credential.id, 'expiring'],
        [second.body.credential.id, 'active'],
      ]);
      const grace = Date.parse(listed.body[0]!.notAfter!) - Date.parse(second.body.credential.createdAt);
      expect(grace).toBe(600_000);
      expect(listed.text).not.toContain(first.body.secret);
      expect(listed.text).not.toContain(second.body.secret);
      expect(listed.text).not.toContain(hashDeviceSecret(KEY, first.body.secret).toString('hex'));

      expect(
        await refused('POST', '/api/v1/devices/sl-cred/credentials', { graceSeconds: -1 }),
      ).toMatchObject({
        status: 400,
        parameter: 'graceSeconds',
      });
      const one = await call('DELETE', `/api/v1/devices/sl-cred/credentials/${first.body.credential.id}`);
      expect(one.body).toEqual({ revoked: 1 });
      expect((await refused('DELETE', '/api/v1/devices/sl-cred/credentials/cred_nope')).status).toBe(404);
      const all = await call('DELETE', '/api/v1/devices/sl-cred/credentials');
      expect(all.body).toEqual({ revoked: 1 });
      const after = await call<CredentialListBody>('GET', '/api/v1/devices/sl-cred/credentials');
      expect(after.body.map((c) => c.status)).toEqual(['revoked', 'revoked']);
      expect((await repository.credentialHashes(['sl-cred'])).has('sl-cred')).toBe(false);
      expect((await refused('GET', '/api/v1/devices/ghost/credentials')).status).toBe(404);
    });
  });

  describe('import and export', () => {
    const csv = [
      'id,type,name,areaId,lat,lon,attr.road',
      `imp-001,street-light,Đèn nhập 1,${ward},11.31,106.11,Đường 1`,
      `imp-002,noise-meter,Máy đo ồn,${ward},11.32,106.12,`,
      `imp-003,street-light,Đèn nhập 3,atlantis,11.3,106.1,`,
      `imp-004,street-light,Đèn nhập 4,${ward},north,106.1,`,
      `imp-001,street-light,Lần hai,${ward},11.31,106.11,`,
    ].join('\n');

    it('imports a CSV: stores the good rows, reports each bad one; the same file twice changes nothing', async () => {
      const preview = await call<ImportReportBody>(
        'POST',
        '/api/v1/devices/import?dryRun=true',
        csv,
        'text/csv',
      );
      expect(preview.body).toMatchObject({ dryRun: true, created: 2, refused: 3 });
      expect((await call('GET', '/api/v1/devices/imp-001')).status).toBe(404);
      expect(await repository.getDevice('imp-001')).toBeUndefined();

      const first = await call<ImportReportBody>(
        'POST',
        '/api/v1/devices/import',
        csv,
        'text/csv; charset=utf-8',
      );
      expect(first.status).toBe(200);
      expect(first.body).toEqual({
        dryRun: false,
        created: 2,
        updated: 0,
        unchanged: 0,
        refused: 3,
        rows: [
          { row: 2, id: 'imp-001', outcome: 'created' },
          { row: 3, id: 'imp-002', outcome: 'created' },
          { row: 4, id: 'imp-003', outcome: 'refused', reason: 'no area "atlantis"' },
          {
            row: 5,
            id: 'imp-004',
            outcome: 'refused',
            reason:
              'column lat: "north" is not a plain decimal number (an optional sign, digits, an optional fraction)',
          },
          {
            row: 6,
            id: 'imp-001',
            outcome: 'refused',
            reason: 'device "imp-001" appears earlier in the same file',
          },
        ],
      });
      const got = await call<DeviceDetailBody>('GET', '/api/v1/devices/imp-001');
      expect(got.body).toMatchObject({ name: 'Đèn nhập 1', attributes: { road: 'Đường 1' } });
      const seq = await repository.latestChangeSeq();
      const second = await call<ImportReportBody>('POST', '/api/v1/devices/import', csv, 'text/csv');
      expect(second.body).toMatchObject({ created: 0, updated: 0, unchanged: 2, refused: 3 });
      expect(await repository.latestChangeSeq()).toBe(seq);
    });

    it('imports GeoJSON: good features stored, bad ones reported by feature number', async () => {
      const feature = (properties: Record<string, unknown>, geometry: unknown) => ({
        type: 'Feature',
        geometry,
        properties,
      });
      const collection = {
        type: 'FeatureCollection',
        features: [
          feature(
            { id: 'geo-001', type: 'air-quality-station', name: 'Trạm GeoJSON', areaId: ward },
            { type: 'Point', coordinates: [106.2, 11.2] },
          ),
          feature(
            { id: 'geo-002', type: 'air-quality-station', name: 'Tuyến', areaId: ward },
            { type: 'LineString', coordinates: [[106.2, 11.2]] },
          ),
        ],
      };
      const answer = await call<ImportReportBody>(
        'POST',
        '/api/v1/devices/import',
        collection,
        'application/geo+json',
      );
      expect(answer.body.rows).toEqual([
        { row: 1, id: 'geo-001', outcome: 'created' },
        { row: 2, id: 'geo-002', outcome: 'refused', reason: 'geometry is a LineString, not a Point' },
      ]);
      const got = await call<DeviceDetailBody>('GET', '/api/v1/devices/geo-001');
      expect(got.body.location).toEqual({ lat: 11.2, lon: 106.2 });
    });

    it('refuses a file it cannot read with a 400 naming the problem, another Content-Type with a 415', async () => {
      expect(await refused('POST', '/api/v1/devices/import', { type: 'Feature' })).toMatchObject({
        status: 400,
        message: expect.stringContaining('not a GeoJSON FeatureCollection') as string,
      });
      const noHeader = await call('POST', '/api/v1/devices/import', 'a,b,c\n1,2,3', 'text/csv');
      expect(noHeader).toMatchObject({
        status: 400,
        body: { message: expect.stringContaining('missing columns') as string },
      });
      const xml = await call('POST', '/api/v1/devices/import', '<devices/>', 'application/xml');
      expect(xml.status).toBe(415);
      const empty = await call('POST', '/api/v1/devices/import', '', 'text/csv');
      expect(empty.status).toBe(400);
    });

    it('exports CSV and GeoJSON that import back unchanged', async () => {
      const csvExport = await call('GET', '/api/v1/devices/export?format=csv');
      expect(csvExport.status).toBe(200);
      expect(csvExport.headers.get('content-type')).toMatch(/^text\/csv/);
      expect(csvExport.headers.get('content-disposition')).toContain('devices.csv');
      const geoExport = await call<{ features: Array<{ geometry: { coordinates: number[] } }> }>(
        'GET',
        '/api/v1/devices/export?format=geojson',
      );
      expect(geoExport.headers.get('content-type')).toMatch(/^application\/geo\+json/);
      const total = (await call<DeviceListBody>('GET', '/api/v1/devices?limit=1')).body.total;
      expect(geoExport.body.features).toHaveLength(total);
      for (const [text, type] of [
        [csvExport.text, 'text/csv'],
        [geoExport.text, 'application/geo+json'],
      ] as const) {
        const back = await call<ImportReportBody>('POST', '/api/v1/devices/import', text, type);
        expect({ type, ...back.body, rows: undefined }).toEqual({
          type,
          dryRun: false,
          created: 0,
          updated: 0,
          unchanged: total,
          refused: 0,
          rows: undefined,
        });
      }
      const lights = await call('GET', '/api/v1/devices/export?format=csv&type=street-light&state=active');
      expect(
        lights.text
          .trim()
          .split('\r\n')
          .slice(1)
          .every((line) => line.split(',')[1] === 'street-light'),
      ).toBe(true);
    });

    it('imports a 10,000-device CSV in one request, and reports progress of an async import', async () => {
      const lines = ['id,type,name,areaId,lat,lon,attr.pole'];
      for (let i = 0; i < 10_000; i++) {
        lines.push(
          `bulk-${String(i).padStart(5, '0')},street-light,Đèn hàng loạt ${i},${ward},11.${i},106.${i},P${i}`,
        );
      }
      const body = lines.join('\r\n');
      const started = await call<ImportJobBody>(
        'POST',
        '/api/v1/devices/import?async=true',
        body,
        'text/csv',
      );
      expect(started.status).toBe(202);
      expect(started.headers.get('location')).toBe(`/api/v1/devices/import/jobs/${started.body.id}`);
      expect(started.body).toMatchObject({ state: 'running', total: 10_000 });
      const progress: number[] = [];
      const deadline = Date.now() + 60_000;
      let job = started.body;
      while (job.state === 'running') {
        if (Date.now() > deadline) throw new Error(`import job still running: ${JSON.stringify(job)}`);
        await new Promise<void>((resolve) => setImmediate(resolve));
        job = (await call<ImportJobBody>('GET', started.headers.get('location')!)).body;
        progress.push(job.done);
      }
      expect(job.state).toBe('done');
      expect(job.report).toMatchObject({ created: 10_000, refused: 0 });
      expect(progress.at(-1)).toBe(10_000);
      expect([...progress].sort((a, b) => a - b)).toEqual(progress);
      expect((await call<DeviceListBody>('GET', '/api/v1/devices?q=bulk-&limit=1')).body.total).toBe(10_000);
      const again = await call<ImportReportBody>('POST', '/api/v1/devices/import', body, 'text/csv');
      expect(again.body).toMatchObject({ created: 0, unchanged: 10_000 });
      expect((await refused('GET', '/api/v1/devices/import/jobs/imp_nope')).status).toBe(404);
    });
  });

  describe('hostile input', () => {
    it('refuses a text field over its limit with a 400 naming the field, in POST and PATCH', async () => {
      expect(
        await refused(
          'POST',
          '/api/v1/devices',
          newLight('sl-long', { name: 'Đ'.repeat(MAX_NAME_LENGTH + 1) }),
        ),
      ).toEqual({
        status: 400,
        message: `Invalid field "name": must be at most ${MAX_NAME_LENGTH} characters`,
        parameter: 'name',
      });
      expect(
        await refused(
          'POST',
          '/api/v1/devices',
          newLight('sl-long', { attributes: { road: 'x'.repeat(MAX_ATTRIBUTE_VALUE_LENGTH + 1) } }),
        ),
      ).toEqual({
        status: 400,
        message: `Invalid field "attributes.road": must be at most ${MAX_ATTRIBUTE_VALUE_LENGTH} characters`,
        parameter: 'attributes',
      });
      await call('POST', '/api/v1/devices', newLight('sl-long'));
      expect(
        await refused('PATCH', '/api/v1/devices/sl-long', {
          attributes: { note: 'y'.repeat(MAX_ATTRIBUTE_VALUE_LENGTH + 1) },
        }),
      ).toMatchObject({ status: 400, parameter: 'attributes' });
      expect(
        await refused('POST', '/api/v1/areas', {
          id: 'khu-dai',
          name: 'Khu',
          level: 'zone',
          parentId: ward,
          note: 'n'.repeat(MAX_AREA_NOTE_LENGTH + 1),
        }),
      ).toEqual({
        status: 400,
        message: `Invalid field "note": must be at most ${MAX_AREA_NOTE_LENGTH} characters`,
        parameter: 'note',
      });
    });

    it('refuses control and bidirectional characters with a 400 naming the field and the code point', async () => {
      // The tester's body, byte for byte: JSON escapes for NUL and RIGHT-TO-LEFT OVERRIDE.
      const answer = await call(
        'POST',
        '/api/v1/devices',
        `{"id":"sl-ctl","type":"street-light","name":"a\\u0000b\\u202e<script>","areaId":"${ward}","location":{"lat":11.3,"lon":106.1}}`,
      );
      expect({
        status: answer.status,
        message: answer.body['message'],
        parameter: answer.body['parameter'],
      }).toEqual({
        status: 400,
        message:
          'Invalid field "name": contains the control character U+0000 at position 2 (control and bidirectional characters are refused)',
        parameter: 'name',
      });
      expect(
        await refused(
          'POST',
          '/api/v1/devices',
          newLight('sl-ctl', { attributes: { road: 'abc\u202etxt' } }),
        ),
      ).toMatchObject({
        status: 400,
        message: expect.stringContaining(
          '"attributes.road": contains the bidirectional control character U+202E',
        ) as string,
        parameter: 'attributes',
      });
      expect(
        await refused('POST', '/api/v1/areas', {
          id: 'khu-ctl',
          name: 'Khu\u2066',
          level: 'zone',
          parentId: ward,
        }),
      ).toMatchObject({
        status: 400,
        message: expect.stringContaining('U+2066') as string,
        parameter: 'name',
      });
      expect(await refused('PATCH', `/api/v1/areas/${ward}`, { level: 'ward\u0085' })).toMatchObject({
        status: 400,
        parameter: 'level',
        message: expect.stringContaining('U+0085') as string,
      });
      expect((await call('GET', '/api/v1/devices/sl-ctl')).status).toBe(404);
      const csv = await call('GET', '/api/v1/devices/export?format=csv');
      for (const c of ['\u0000', '\u202e', '\u2066', '\u0085']) expect(csv.text).not.toContain(c);
    });

    it('refuses ids reserved for platform services and ids differing from a registered one only in case', async () => {
      for (const id of ['ioc-internal', 'ioc-api-9', 'IOC-broker']) {
        expect(await refused('POST', '/api/v1/devices', newLight(id))).toEqual({
          status: 400,
          message:
            'Invalid field "id": is reserved (ids starting with "ioc-", in any case, belong to platform services)',
          parameter: 'id',
        });
      }
      expect((await call('POST', '/api/v1/devices', newLight('sl-tn-case-01'))).status).toBe(201);
      expect(await refused('POST', '/api/v1/devices', newLight('SL-TN-CASE-01'))).toEqual({
        status: 409,
        message: 'device id "SL-TN-CASE-01" differs only in case from the device "sl-tn-case-01"',
        parameter: 'id',
      });
      const report = await call<ImportReportBody>(
        'POST',
        '/api/v1/devices/import',
        [
          'id,type,name,areaId,lat,lon',
          `Sl-Tn-Case-01,street-light,Đèn,${ward},11.3,106.1`,
          `ioc-x,street-light,Đèn,${ward},11.3,106.1`,
        ].join('\n'),
        'text/csv',
      );
      expect(report.body.rows).toEqual([
        {
          row: 2,
          id: 'Sl-Tn-Case-01',
          outcome: 'refused',
          reason: 'device id "Sl-Tn-Case-01" differs only in case from the device "sl-tn-case-01"',
        },
        {
          row: 3,
          id: 'ioc-x',
          outcome: 'refused',
          reason: 'id: is reserved (ids starting with "ioc-", in any case, belong to platform services)',
        },
      ]);
    });

    it('imports a CSV with a 31 MB cell as a refused row, stores its neighbour, and the list stays small', async () => {
      const huge = 'x'.repeat(31 * 1024 * 1024);
      const csv = [
        'id,type,name,areaId,lat,lon,attr.x',
        `big-001,street-light,Đèn lớn,${ward},11.3,106.1,${huge}`,
        `big-002,street-light,Đèn nhỏ,${ward},11.3,106.1,small`,
      ].join('\n');
      const answer = await call<ImportReportBody>('POST', '/api/v1/devices/import', csv, 'text/csv');
      expect(answer.status).toBe(200);
      expect(answer.body.rows).toEqual([
        {
          row: 2,
          id: 'big-001',
          outcome: 'refused',
          reason: `attributes.x: must be at most ${MAX_ATTRIBUTE_VALUE_LENGTH} characters`,
        },
        { row: 3, id: 'big-002', outcome: 'created' },
      ]);
      const list = await call('GET', '/api/v1/devices?q=big-&limit=10');
      expect(list.text.length).toBeLessThan(10_000);
    });

    it('refuses a file that is not UTF-8 with a 400 naming the byte offset, storing nothing', async () => {
      const before = `id,type,name,areaId,lat,lon\nlatin-001,street-light,Caf`;
      const bytes = new Uint8Array([...Buffer.from(before), 0xe9, ...Buffer.from(`,${ward},11.3,106.1\n`)]);
      expect(await refused('POST', '/api/v1/devices/import', bytes)).toMatchObject({ status: 400 });
      const answer = await call('POST', '/api/v1/devices/import', bytes, 'text/csv');
      expect({ status: answer.status, message: answer.body['message'] }).toEqual({
        status: 400,
        message: `not UTF-8 (RFC 3629): byte 0xE9 at byte offset ${before.length} (line 2) does not begin a valid UTF-8 sequence; save the file as UTF-8 ("CSV UTF-8" in a spreadsheet program)`,
      });
      // Even when the Content-Type claims Latin-1: import files are UTF-8.
      const claimed = await call('POST', '/api/v1/devices/import', bytes, 'text/csv; charset=iso-8859-1');
      expect(claimed.status).toBe(400);
      expect((await call('GET', '/api/v1/devices/latin-001')).status).toBe(404);
      // A UTF-8 GeoJSON file with Vietnamese text still imports (bytes decoded as UTF-8).
      const geo = Buffer.from(
        JSON.stringify({
          type: 'FeatureCollection',
          features: [
            {
              type: 'Feature',
              geometry: { type: 'Point', coordinates: [106.1, 11.3] },
              properties: {
                id: 'utf8-001',
                type: 'street-light',
                name: 'Đèn đường Trưng Nữ Vương',
                areaId: ward,
              },
            },
          ],
        }),
      );
      const ok = await call<ImportReportBody>(
        'POST',
        '/api/v1/devices/import',
        new Uint8Array(geo),
        'application/geo+json',
      );
      expect(ok.body.rows).toEqual([{ row: 1, id: 'utf8-001', outcome: 'created' }]);
      expect((await call<DeviceDetailBody>('GET', '/api/v1/devices/utf8-001')).body.name).toBe(
        'Đèn đường Trưng Nữ Vương',
      );
    });

    it('exports formula-like names with a leading apostrophe, and imports them back unchanged', async () => {
      const names = ['=HYPERLINK("http://evil","x")', '+cmd|" /C calc"!A0', '-1+1', '@SUM(A1)'];
      for (const [i, name] of names.entries()) {
        const created = await call(
          'POST',
          '/api/v1/devices',
          newLight(`formula-${i}`, { name, attributes: { x: name } }),
        );
        expect(created.status).toBe(201);
      }
      const exported = await call('GET', '/api/v1/devices/export?format=csv&type=street-light');
      const lines = exported.text.split('\r\n').filter((line) => line.startsWith('formula-'));
      expect(lines).toHaveLength(names.length);
      for (const line of lines) {
        // After the id and the fixed columns, no cell starts with a formula character.
        for (const cell of line.split(',')) expect(cell.replace(/^"/, '')).not.toMatch(/^[=+\-@]/);
      }
      expect(lines[0]).toContain(`"'=HYPERLINK(""http://evil"",""x"")"`);
      const back = await call<ImportReportBody>('POST', '/api/v1/devices/import', exported.text, 'text/csv');
      expect(back.body).toMatchObject({ created: 0, updated: 0, refused: 0 });
      for (const [i, name] of names.entries()) {
        const got = await call<DeviceDetailBody>('GET', `/api/v1/devices/formula-${i}`);
        expect(got.body).toMatchObject({ name, attributes: { x: name } });
      }
    });

    it('refuses GeoJSON features whose properties contradict the geometry, the feature id or each other', async () => {
      const feature = (properties: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
        type: 'Feature',
        geometry: { type: 'Point', coordinates: [106.1, 11.3] },
        properties: { type: 'street-light', name: 'Đèn', areaId: ward, ...properties },
        ...extra,
      });
      const answer = await call<ImportReportBody>(
        'POST',
        '/api/v1/devices/import',
        {
          type: 'FeatureCollection',
          features: [
            feature({ id: 'gc-001', lat: 12.9 }),
            feature({ id: 'gc-002' }, { id: 'gc-999' }),
            feature({ id: 'gc-003', attributes: { road: 'A' }, 'attr.road': 'B' }),
            feature({ id: 'gc-004', lat: 11.3, lon: 106.1 }, { id: 'gc-004' }),
          ],
        },
        'application/geo+json',
      );
      expect(answer.body.rows).toEqual([
        {
          row: 1,
          id: 'gc-001',
          outcome: 'refused',
          reason: "properties.lat 12.9 contradicts the geometry's latitude 11.3",
        },
        {
          row: 2,
          id: 'gc-002',
          outcome: 'refused',
          reason: 'feature id "gc-999" differs from properties.id "gc-002"',
        },
        {
          row: 3,
          id: 'gc-003',
          outcome: 'refused',
          reason: 'attribute "road" is given twice, as attributes.road and as attr.road: give it once',
        },
        { row: 4, id: 'gc-004', outcome: 'created' },
      ]);
    });
  });
  describe('import and export: attribute names, absent fields, numbers, spaces', () => {
    it('exports a device with an attribute named constructor, toString, valueOf or hasOwnProperty beside others (no 500), and imports it back unchanged', async () => {
      const names = ['constructor', 'toString', 'valueOf', 'hasOwnProperty'];
      for (const [i, name] of names.entries()) {
        const created = await call('POST', '/api/v1/devices', {
          ...newLight(`proto-${i}`, { attributes: { [name]: `v${i}` } }),
          type: 'noise-meter',
        });
        expect(created.status).toBe(201);
      }
      await call('POST', '/api/v1/devices', {
        ...newLight('proto-x', { attributes: { road: 'Đường 9' } }),
        type: 'noise-meter',
      });
      for (const format of ['csv', 'geojson']) {
        const exported = await call('GET', `/api/v1/devices/export?format=${format}&type=noise-meter`);
        expect({ format, status: exported.status }).toEqual({ format, status: 200 });
        const back = await call<ImportReportBody>(
          'POST',
          `/api/v1/devices/import?format=${format}`,
          exported.text,
          format === 'csv' ? 'text/csv' : 'application/geo+json',
        );
        expect(back.body.rows.filter((r) => r.outcome !== 'unchanged')).toEqual([]);
        expect(back.body.unchanged).toBeGreaterThanOrEqual(5);
      }
      const got = await call<DeviceDetailBody>('GET', '/api/v1/devices/proto-0');
      expect(got.body.attributes).toEqual({ constructor: 'v0' });
    });

    it('refuses an attribute __proto__ with a 400 naming the field (POST and PATCH) and per import row', async () => {
      const body = JSON.stringify(newLight('proto-bad')).replace(/}$/, ',"attributes":{"__proto__":"x"}}');
      const message =
        /attribute name "__proto__" must be letters, digits, _, - or \. \(1 to 64\), starting with a letter or digit/;
      expect(await refused('POST', '/api/v1/devices', body)).toMatchObject({
        status: 400,
        parameter: 'attributes',
        message: expect.stringMatching(message) as string,
      });
      expect((await call('GET', '/api/v1/devices/proto-bad')).status).toBe(404);
      await call('POST', '/api/v1/devices', newLight('proto-ok'));
      expect(
        await refused('PATCH', '/api/v1/devices/proto-ok', '{"attributes":{"__proto__":{"x":"1"}}}'),
      ).toMatchObject({
        status: 400,
        parameter: 'attributes',
      });
      const csv = `id,type,name,areaId,lat,lon,attr.__proto__\nproto-csv,street-light,Đèn,${ward},11.3,106.1,x`;
      const report = await call<ImportReportBody>('POST', '/api/v1/devices/import', csv, 'text/csv');
      expect(report.body.rows).toEqual([
        { row: 2, id: 'proto-csv', outcome: 'refused', reason: expect.stringMatching(message) as string },
      ]);
    });

    it('an import keeps what the file does not give, clears what it gives empty, and the dry run names the changed fields', async () => {
      await call(
        'POST',
        '/api/v1/devices',
        newLight('keep-1', { attributes: { road: 'Đường 1', lanes: '2' }, silenceTimeoutSeconds: 600 }),
      );
      await call('POST', '/api/v1/devices/keep-1/suspend');
      const before = (await call<DeviceDetailBody>('GET', '/api/v1/devices/keep-1')).body;
      const plain = `id,type,name,areaId,lat,lon\nkeep-1,street-light,Đèn giữ,${ward},11.3,106.1`;
      const dry = await call<ImportReportBody>(
        'POST',
        '/api/v1/devices/import?dryRun=true',
        plain,
        'text/csv',
      );
      expect(dry.body.rows).toEqual([{ row: 2, id: 'keep-1', outcome: 'updated', changed: ['name'] }]);
      await call('POST', '/api/v1/devices/import', plain, 'text/csv');
      expect((await call<DeviceDetailBody>('GET', '/api/v1/devices/keep-1')).body).toEqual({
        ...before,
        name: 'Đèn giữ',
      });
      const emptied = `id,type,name,areaId,lat,lon,attr.road,silenceTimeoutSeconds\nkeep-1,street-light,Đèn giữ,${ward},11.3,106.1,,`;
      const report = await call<ImportReportBody>('POST', '/api/v1/devices/import', emptied, 'text/csv');
      expect(report.body.rows).toEqual([
        { row: 2, id: 'keep-1', outcome: 'updated', changed: ['attributes.road', 'silenceTimeoutSeconds'] },
      ]);
      const after = (await call<DeviceDetailBody>('GET', '/api/v1/devices/keep-1')).body;
      expect(after).toMatchObject({ attributes: { lanes: '2' }, state: 'suspended' });
      expect(after.silenceTimeoutSeconds).toBeUndefined();
    });

    it('refuses numbers that are not plain decimals and names an empty cell as such', async () => {
      const csv = [
        'id,type,name,areaId,lat,lon,silenceTimeoutSeconds',
        `num-1,street-light,Đèn,${ward},0x10,106.1,`,
        `num-2,street-light,Đèn,${ward},11.3,1e2,`,
        `num-3,street-light,Đèn,${ward},11.3,106.1,0b1111111`,
        `num-4,street-light,Đèn,${ward}, 11.3,106.1,`,
        `num-5,street-light,Đèn,${ward},,106.1,`,
        `num-6,street-light,Đèn,${ward},-11.25,+106.5,600`,
      ].join('\n');
      const report = await call<ImportReportBody>('POST', '/api/v1/devices/import', csv, 'text/csv');
      const plain = 'is not a plain decimal number (an optional sign, digits, an optional fraction)';
      expect(report.body.rows.map((r) => r.reason ?? r.outcome)).toEqual([
        `column lat: "0x10" ${plain}`,
        `column lon: "1e2" ${plain}`,
        `column silenceTimeoutSeconds: "0b1111111" ${plain}`,
        `column lat: " 11.3" ${plain}`,
        'empty cell in column lat',
        'created',
      ]);
      expect((await call<DeviceDetailBody>('GET', '/api/v1/devices/num-6')).body).toMatchObject({
        location: { lat: -11.25, lon: 106.5 },
        silenceTimeoutSeconds: 600,
      });
    });

    it('keeps spaces around attribute values as REST does, so export then import is unchanged; names are trimmed in both', async () => {
      const created = await call<DeviceDetailBody>('POST', '/api/v1/devices', {
        ...newLight('space-1', {
          name: '  Đèn có khoảng trắng  ',
          attributes: { note: ' =1', road: 'Đường 1  ', blank: '   ' },
        }),
        type: 'weather-station',
      });
      expect(created.status).toBe(201);
      expect(created.body.name).toBe('Đèn có khoảng trắng');
      expect(created.body.attributes).toEqual({ note: ' =1', road: 'Đường 1  ', blank: '   ' });
      for (const format of ['csv', 'geojson']) {
        const exported = await call('GET', `/api/v1/devices/export?format=${format}&type=weather-station`);
        const back = await call<ImportReportBody>(
          'POST',
          `/api/v1/devices/import?format=${format}`,
          exported.text,
          format === 'csv' ? 'text/csv' : 'application/geo+json',
        );
        expect(back.body.rows.filter((r) => r.outcome !== 'unchanged')).toEqual([]);
      }
      const csv = `id,type,name,areaId,lat,lon,attr.note\nspace-2,street-light,  Đèn 2  ,${ward},11.3,106.1, =1 `;
      await call('POST', '/api/v1/devices/import', csv, 'text/csv');
      expect((await call<DeviceDetailBody>('GET', '/api/v1/devices/space-2')).body).toMatchObject({
        name: 'Đèn 2',
        attributes: { note: ' =1 ' },
      });
    });
  });
});
