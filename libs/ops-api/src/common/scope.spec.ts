import 'reflect-metadata';
import { createServer, type Server as NetServer } from 'node:net';
import { Aedes } from 'aedes';
import { connectAsync, type MqttClient } from 'mqtt';
import { io, type Socket } from 'socket.io-client';
import {
  areaListBody,
  type ClientToServerEvents,
  commandRecordBody,
  type Device,
  deviceListBody,
  deviceStatusListBody,
  errorBody,
  historyBody,
  INTERNAL_READINGS_TOPIC,
  INTERNAL_USERNAME,
  type AccessScope,
  type LiveLeftNotice,
  type LiveSubscription,
  type Reading,
  scopeHoldsDevice,
  type ServerToClientEvents,
} from '@ioc/contracts';
import { type IocDatabase, openDatabase, prepareDatabase } from '@ioc/database';
import {
  CommandRepository,
  DeviceRegistry,
  DeviceStatusRepository,
  loadSeeds,
  RegistryRepository,
} from '@ioc/registry';
import { describeEachDatabase, freePort, TempDirs } from '@ioc/testing';
import { createTimeSeriesStore, type TimeSeriesStore } from '@ioc/timeseries';
import { type ApiUnderTest, startApiUnderTest, testReading } from '../test-support/api-under-test';

jest.setTimeout(90_000);

/*
 * Scope enforcement over real HTTP and a real socket.io connection (issue 9): an agency key scoped
 * to `env` in one district, an operator limited to lighting in that district, an unscoped
 * operator, an admin limited to the district.
 *
 * Each principal is real: an agency's API key and accounts with bearer sessions, made by the
 * API's test helpers (issueAgencyKey, createUser) in the same database as the registry; every
 * request and socket authenticates through the real guard and the /live middleware.
 */

const seeds = loadSeeds();
const registry = new DeviceRegistry(seeds);
const SECRET = 'test-internal-secret-0123456789';
const HOUR = 3_600_000;
const T = Math.floor(Date.now() / HOUR) * HOUR - 2 * HOUR;

const districts = seeds.areas.filter((area) => area.level === 'district');
const stationsIn = (district: string): Device[] =>
  registry.listDevices({ type: 'air-quality-station', areaId: district });
/** The district the agency's scope holds: one with air-quality stations, traffic and lighting. */
const X = districts.find(
  (d) =>
    stationsIn(d.id).length > 0 &&
    registry.listDevices({ domain: 'traffic', areaId: d.id }).length > 0 &&
    registry.listDevices({ domain: 'lighting', areaId: d.id }).length > 1,
)!.id;
/** Another district with air-quality stations (outside every scope below). */
const Y = districts.find((d) => d.id !== X && stationsIn(d.id).length > 0)!.id;
const ROOT = seeds.areas.find((area) => area.parentId === null)!.id;
const wardOfX = seeds.areas.find(
  (area) => area.parentId === X && registry.listDevices({ domain: 'env', areaId: area.id }).length > 0,
)!.id;

const envInX = registry.listDevices({ domain: 'env', areaId: X });
const stationX = stationsIn(X)[0]!;
const stationY = stationsIn(Y)[0]!;
const trafficInX = registry.listDevices({ domain: 'traffic', areaId: X })[0]!;
const lightsInX = registry.listDevices({ type: 'street-light', areaId: X });
const lightInX = lightsInX[0]!;
const lightInY = registry.listDevices({ type: 'street-light', areaId: Y })[0]!;

/** Who the requests act as; each one's scope (null: the whole province). */
const SCOPES = {
  agency: { domains: ['env'], areas: [X] },
  lightingOperator: { domains: ['lighting'], areas: [X] },
  operator: null,
  viewer: null,
  districtAdmin: { areas: [X] },
} satisfies Record<string, AccessScope | null>;
type Who = keyof typeof SCOPES;

interface Answer {
  status: number;
  body: Record<string, unknown>;
}

describeEachDatabase('scope enforcement', (context) => {
  // A describe of its own, so its afterAll (API, database) runs before the suite stops PostgreSQL.
  describe('through the API', () => {
    const tempDirs = new TempDirs('scope-spec-');
    let database: IocDatabase;
    let store: TimeSeriesStore;
    let api: ApiUnderTest;
    let aedes: Aedes;
    let mqttServer: NetServer;
    let brokerUrl: string;
    let apiSubscribed: Promise<void>;
    /** Each principal's credentials: request headers, and the token a socket presents. */
    const credentials = {} as Record<Who, { headers: Record<string, string>; token: string }>;

    async function call(
      who: Who,
      path: string,
      init: { method?: string; body?: unknown } = {},
    ): Promise<Answer> {
      const response = await fetch(`${api.url}${path}`, {
        method: init.method ?? 'GET',
        headers: {
          ...credentials[who].headers,
          ...(init.body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
      });
      const text = await response.text();
      return { status: response.status, body: (text ? JSON.parse(text) : {}) as Record<string, unknown> };
    }

    /** A 403 out-of-scope answer naming `what`, in the error body's shape. */
    async function expectOutOfScope(
      who: Who,
      path: string,
      what: Record<string, string>,
      init?: { method?: string; body?: unknown },
    ): Promise<void> {
      const answer = await call(who, path, init);
      expect({ path, status: answer.status }).toEqual({ path, status: 403 });
      expect(errorBody.parse(answer.body)).toEqual(answer.body);
      expect(answer.body).toMatchObject({ statusCode: 403, error: 'Forbidden', reason: 'out-of-scope' });
      expect(answer.body['outOfScope']).toEqual(what);
      expect(String(answer.body['message'])).toContain(Object.values(what)[0]!);
    }

    beforeAll(async () => {
      const dir = await tempDirs.make();
      database = openDatabase(await context.freshConfig());
      await prepareDatabase(database, {
        afterMigrate: async (db) => {
          await new RegistryRepository(db).importSeeds(seeds);
        },
      });
      store = createTimeSeriesStore({ storage: 'embedded', dataDir: dir, thread: 'caller' });
      await store.init();
      const at = (device: Device, ts: number, metrics: Reading['metrics']): Reading =>
        testReading(registry, device, 'telemetry', ts, metrics);
      // Every air-quality station: 10 µg/m³ inside X, 1000 elsewhere — an aggregate that let one
      // outside station in would show it.
      await store.write(
        registry
          .listDevices({ type: 'air-quality-station' })
          .map((station) => at(station, T, { pm25: stationsIn(X).includes(station) ? 10 : 1000 })),
      );

      aedes = await Aedes.createBroker();
      apiSubscribed = new Promise<void>((resolve) => {
        aedes.on('subscribe', (subscriptions) => {
          if (subscriptions.some((s) => s.topic === INTERNAL_READINGS_TOPIC)) resolve();
        });
      });
      mqttServer = createServer(aedes.handle);
      const mqttPort = await freePort();
      await new Promise<void>((resolve) => mqttServer.listen(mqttPort, '127.0.0.1', resolve));
      brokerUrl = `mqtt://127.0.0.1:${mqttPort}`;

      api = await startApiUnderTest({
        registry,
        store,
        deviceStatus: new DeviceStatusRepository(database.db),
        commands: new CommandRepository(database.db),
        settings: { brokerUrl, nodeId: `scope-${context.kind}`, internalSecret: SECRET },
        database,
      });
      const agencyKey = await api.issueAgencyKey({ agencyId: 'env-agency-x', scope: SCOPES.agency });
      credentials.agency = { headers: agencyKey.headers, token: agencyKey.key };
      for (const [who, role] of [
        ['lightingOperator', 'operator'],
        ['operator', 'operator'],
        ['viewer', 'viewer'],
        ['districtAdmin', 'admin'],
      ] as const) {
        const scope = SCOPES[who];
        const user = await api.createUser(role, scope === null ? {} : { scope });
        credentials[who] = { headers: user.headers, token: user.token };
      }
    });

    afterAll(async () => {
      await api?.close();
      await store?.close();
      await database?.close();
      if (aedes) await new Promise<void>((resolve) => aedes.close(() => resolve()));
      if (mqttServer) await new Promise<void>((resolve) => mqttServer.close(() => resolve()));
      await tempDirs.removeAll();
    });

    it('lists only the devices in scope, and the whole registry to an unscoped principal', async () => {
      const agency = await call('agency', '/api/v1/devices?limit=5000');
      expect(agency.status).toBe(200);
      const listed = deviceListBody.parse(agency.body);
      expect(listed.items.map((d) => d.id).sort()).toEqual(envInX.map((d) => d.id).sort());
      expect(listed.total).toBe(envInX.length);
      expect(listed.total).toBeGreaterThan(0);
      // A filter inside the scope narrows further: a ward of X, the env domain, a type of env.
      const ward = deviceListBody.parse((await call('agency', `/api/v1/devices?area=${wardOfX}`)).body);
      expect(ward.items.map((d) => d.id).sort()).toEqual(
        registry
          .listDevices({ domain: 'env', areaId: wardOfX })
          .map((d) => d.id)
          .sort(),
      );
      expect((await call('agency', '/api/v1/devices?domain=env')).body['total']).toBe(envInX.length);
      const everything = deviceListBody.parse((await call('operator', '/api/v1/devices?limit=5000')).body);
      expect(everything.total).toBe(seeds.devices.length);
    });

    it('refuses a device filter outside the scope with 403 naming it, never an empty 200', async () => {
      await expectOutOfScope('agency', '/api/v1/devices?domain=traffic', { domain: 'traffic' });
      await expectOutOfScope('agency', '/api/v1/devices?type=traffic-counter', { domain: 'traffic' });
      await expectOutOfScope('agency', '/api/v1/devices?type=camera', { domain: 'camera' });
      await expectOutOfScope('agency', `/api/v1/devices?area=${Y}`, { area: Y });
      // The province holds other districts: naming it is naming more than the scope.
      await expectOutOfScope('agency', `/api/v1/devices?area=${ROOT}`, { area: ROOT });
      await expectOutOfScope('agency', '/api/v1/devices/status?domain=traffic', { domain: 'traffic' });
      await expectOutOfScope('agency', `/api/v1/devices/status?area=${Y}`, { area: Y });
      // An unknown area stays a 400.
      expect((await call('agency', '/api/v1/devices?area=nowhere')).status).toBe(400);
    });

    it('answers a device, its latest values, history and status history in scope, and 403 outside', async () => {
      expect((await call('agency', `/api/v1/devices/${stationX.id}`)).status).toBe(200);
      const latest = await call('agency', `/api/v1/devices/${stationX.id}/latest`);
      expect(latest.status).toBe(200);
      expect(latest.body).toMatchObject({ deviceId: stationX.id, metrics: { pm25: { value: 10, ts: T } } });
      const history = await call(
        'agency',
        `/api/v1/devices/${stationX.id}/history?metric=pm25&from=${T}&to=${T + 1}`,
      );
      expect(history.status).toBe(200);
      expect(history.body['points']).toEqual([{ ts: T, value: 10 }]);
      expect((await call('agency', `/api/v1/devices/${stationX.id}/status/history`)).status).toBe(200);

      // Traffic data in its own district, and its own domain in another district.
      for (const device of [trafficInX, stationY]) {
        for (const suffix of ['', '/latest', '/history?metric=online', '/status/history', '/commands']) {
          await expectOutOfScope('agency', `/api/v1/devices/${device.id}${suffix}`, { device: device.id });
        }
      }
      expect((await call('agency', '/api/v1/devices/no-such-device')).status).toBe(404);
    });

    it('answers the status list narrowed to the scope', async () => {
      const answer = await call('agency', '/api/v1/devices/status');
      expect(answer.status).toBe(200);
      const parsed = deviceStatusListBody.parse(answer.body);
      expect(parsed.items.map((d) => d.id).sort()).toEqual(envInX.map((d) => d.id).sort());
      const all = deviceStatusListBody.parse((await call('operator', '/api/v1/devices/status')).body);
      expect(all.total).toBe(seeds.devices.length);
    });

    it('lists the areas of the scope only, and refuses one outside', async () => {
      const answer = await call('agency', '/api/v1/areas');
      expect(answer.status).toBe(200);
      const ids = areaListBody
        .parse(answer.body)
        .map((a) => a.id)
        .sort();
      expect(ids).toEqual(
        seeds.areas
          .filter((a) => registry.areaPath(a.id).includes(X))
          .map((a) => a.id)
          .sort(),
      );
      expect(ids).toContain(wardOfX);
      expect((await call('agency', `/api/v1/areas/${wardOfX}`)).status).toBe(200);
      await expectOutOfScope('agency', `/api/v1/areas/${Y}`, { area: Y });
      await expectOutOfScope('agency', `/api/v1/areas/${ROOT}`, { area: ROOT });
      expect(areaListBody.parse((await call('operator', '/api/v1/areas')).body)).toHaveLength(
        seeds.areas.length,
      );
    });

    it('narrows a history query to the scope before grouping, and refuses names outside it', async () => {
      const window = `from=${T}&to=${T + HOUR}&every=1h`;
      // groupBy=none and type: one aggregate over the agency's stations only (all 10, none 1000).
      for (const groupBy of ['none', 'type'] as const) {
        const answer = await call(
          'agency',
          `/api/v1/history?metrics=pm25&type=air-quality-station&groupBy=${groupBy}&${window}`,
        );
        expect(answer.status).toBe(200);
        const body = historyBody.parse(answer.body);
        expect(body.series).toHaveLength(1);
        expect(body.series[0]!.devices).toBe(stationsIn(X).length);
        expect(body.series[0]!.points.map((p) => p.value)).toEqual([10]);
      }
      // groupBy=area over the agency's own district: its stations only.
      const byArea = historyBody.parse(
        (await call('agency', `/api/v1/history?metrics=pm25&areas=${X}&groupBy=area&${window}`)).body,
      );
      expect(byArea.series.map((s) => [s.group.key, s.devices, s.points[0]?.value])).toEqual([
        [X, stationsIn(X).length, 10],
      ]);
      // groupBy=device without naming devices: one series per in-scope station.
      const byDevice = historyBody.parse(
        (await call('agency', `/api/v1/history?metrics=pm25&domain=env&${window}`)).body,
      );
      expect(byDevice.series.map((s) => s.group.key).sort()).toEqual(
        stationsIn(X)
          .map((d) => d.id)
          .sort(),
      );
      // The same query unscoped includes the 1000s: the narrowing above is the scope's doing.
      const unscoped = historyBody.parse(
        (
          await call(
            'operator',
            `/api/v1/history?metrics=pm25&type=air-quality-station&groupBy=none&${window}`,
          )
        ).body,
      );
      expect(unscoped.series[0]!.devices).toBe(registry.listDevices({ type: 'air-quality-station' }).length);
      expect(unscoped.series[0]!.points[0]!.value).toBeGreaterThan(10);

      await expectOutOfScope('agency', `/api/v1/history?metrics=pm25&devices=${stationY.id}`, {
        device: stationY.id,
      });
      await expectOutOfScope('agency', `/api/v1/history?metrics=pm25&devices=${stationX.id},${stationY.id}`, {
        device: stationY.id,
      });
      await expectOutOfScope('agency', `/api/v1/history?metrics=pm25&areas=${Y}`, { area: Y });
      await expectOutOfScope('agency', `/api/v1/history?metrics=pm25&areas=${X},${ROOT}&groupBy=area`, {
        area: ROOT,
      });
      await expectOutOfScope('agency', '/api/v1/history?metrics=intensity&domain=traffic', {
        domain: 'traffic',
      });
      await expectOutOfScope('agency', '/api/v1/history?metrics=online&type=camera', { domain: 'camera' });
    });

    it('refuses platform-wide resources and registry writes to a scoped principal', async () => {
      await expectOutOfScope('agency', '/api/v1/ingest/stats', { resource: 'ingest-stats' });
      // Unscoped: past the scope check (no statistics published in this test: 503).
      expect((await call('operator', '/api/v1/ingest/stats')).status).toBe(503);
      await expectOutOfScope(
        'districtAdmin',
        '/api/v1/devices',
        { resource: 'registry-writes' },
        {
          method: 'POST',
          body: {
            id: 'new-light-x',
            type: 'street-light',
            name: 'x',
            areaId: X,
            location: { lat: 11, lon: 106 },
          },
        },
      );
      await expectOutOfScope(
        'districtAdmin',
        `/api/v1/areas/${X}`,
        { resource: 'registry-writes' },
        { method: 'PATCH', body: { name: 'renamed' } },
      );
      await expectOutOfScope('districtAdmin', `/api/v1/devices/${lightInX.id}/credentials`, {
        resource: 'registry-writes',
      });
      // A read of credentials is refused with a message that fits a read (not "Registry writes …").
      const read = await call('districtAdmin', `/api/v1/devices/${lightInX.id}/credentials`);
      expect(String(read.body['message'])).toMatch(/^Registry administration \(.*device credentials/);
      // The export (admin) is narrowed to the scope too, and refuses an area outside it.
      const exported = await fetch(`${api.url}/api/v1/devices/export?format=geojson`, {
        headers: credentials.districtAdmin.headers,
      });
      expect(exported.status).toBe(200);
      const features = ((await exported.json()) as { features: Array<{ properties: { id: string } }> })
        .features;
      expect(features.map((f) => f.properties.id).sort()).toEqual(
        registry
          .listDevices({ areaId: X })
          .map((d) => d.id)
          .sort(),
      );
      await expectOutOfScope('districtAdmin', `/api/v1/devices/export?format=csv&area=${Y}`, { area: Y });
      // The same admin still reads its district.
      expect((await call('districtAdmin', `/api/v1/devices/${lightInX.id}`)).status).toBe(200);
    });

    it('lets an operator limited to a scope command only the devices inside it', async () => {
      await apiSubscribed; // the API's bus client is connected: a command reaches the broker
      const dim = { command: 'dim', params: { level: 40 }, timeoutSeconds: 30 };
      const sent = await call('lightingOperator', `/api/v1/devices/${lightInX.id}/commands`, {
        method: 'POST',
        body: dim,
      });
      expect(sent.status).toBe(202);
      const record = commandRecordBody.parse(sent.body);
      expect((await call('lightingOperator', `/api/v1/commands/${record.id}`)).status).toBe(200);
      await expectOutOfScope(
        'lightingOperator',
        `/api/v1/devices/${lightInY.id}/commands`,
        { device: lightInY.id },
        { method: 'POST', body: dim },
      );
      // An unscoped operator commands the device in Y; its command is out of the scoped one's reach.
      const other = await call('operator', `/api/v1/devices/${lightInY.id}/commands`, {
        method: 'POST',
        body: dim,
      });
      expect(other.status).toBe(202);
      const otherId = commandRecordBody.parse(other.body).id;
      await expectOutOfScope('lightingOperator', `/api/v1/commands/${otherId}`, { device: lightInY.id });
      await expectOutOfScope('lightingOperator', `/api/v1/devices/${lightInY.id}/commands`, {
        device: lightInY.id,
      });
      expect((await call('lightingOperator', `/api/v1/devices/${lightInX.id}/commands`)).status).toBe(200);
    });

    describe('live feed', () => {
      const sockets: Socket<ServerToClientEvents, ClientToServerEvents>[] = [];
      let publisher: MqttClient | undefined;

      afterAll(async () => {
        for (const socket of sockets) socket.disconnect();
        await publisher?.endAsync();
      });

      async function connect(who: Who) {
        const socket: Socket<ServerToClientEvents, ClientToServerEvents> = io(`${api.url}/live`, {
          transports: ['websocket'],
          reconnection: false,
          auth: { token: credentials[who].token },
        });
        sockets.push(socket);
        const received: Reading[] = [];
        const waiters: Array<() => void> = [];
        socket.on('reading', (reading) => {
          received.push(reading);
          for (const wake of waiters.splice(0)) wake();
        });
        return {
          socket,
          received,
          subscribe: (subscription: LiveSubscription) =>
            socket.timeout(5000).emitWithAck('subscribe', subscription),
          /** Resolves once `count` readings have arrived (woken by the socket's events). */
          async until(count: number): Promise<void> {
            while (received.length < count) await new Promise<void>((resolve) => waiters.push(resolve));
          },
        };
      }

      it('refuses a subscription wider than the scope, naming why', async () => {
        const agency = await connect('agency');
        for (const subscription of [
          { domain: 'env' },
          { area: X },
          { domain: 'env', area: ROOT },
          { domain: 'env', area: Y },
          { domain: 'traffic', area: X },
          { device: trafficInX.id },
          { device: stationY.id },
          { rejections: true },
          { scope: true, rejections: true },
        ] satisfies LiveSubscription[]) {
          const ack = await agency.subscribe(subscription);
          expect({ subscription, ok: ack.ok }).toEqual({ subscription, ok: false });
          expect(ack.ok === false && ack.error).toMatch(/^out of scope: /);
        }
        // Inside: its domain in its district or a ward of it, one of its devices, or {scope: true}.
        for (const [subscription, rooms] of [
          [{ domain: 'env', area: X }, [`domain:env/area:${X}`]],
          [{ domain: 'env', area: wardOfX }, [`domain:env/area:${wardOfX}`]],
          [{ device: stationX.id }, [`device:${stationX.id}`]],
          [{ scope: true }, [`domain:env/area:${X}`]],
        ] as Array<[LiveSubscription, string[]]>) {
          expect(await agency.subscribe(subscription)).toEqual({ ok: true, rooms });
        }
        const lighting = await connect('lightingOperator');
        expect((await lighting.subscribe({ rejections: true })).ok).toBe(false);
        const viewer = await connect('viewer');
        expect((await viewer.subscribe({ rejections: true })).ok).toBe(false);
        const operator = await connect('operator');
        expect(await operator.subscribe({ rejections: true })).toEqual({ ok: true, rooms: ['rejections'] });
        for (const socket of [agency, lighting, viewer, operator]) socket.socket.disconnect();
      });

      it("delivers to a scoped socket only its own readings, to an unscoped operator's every reading", async () => {
        const agency = await connect('agency');
        const operator = await connect('operator');
        expect(await agency.subscribe({ scope: true })).toEqual({
          ok: true,
          rooms: [`domain:env/area:${X}`],
        });
        const all = await operator.subscribe({ scope: true });
        expect(all.ok).toBe(true);
        await apiSubscribed;
        publisher = await connectAsync(brokerUrl, {
          reconnectPeriod: 0,
          clientId: `ioc-broker-scope-${context.kind}`,
          username: INTERNAL_USERNAME,
          password: SECRET,
        });
        const now = Date.now();
        const outside = [
          testReading(registry, stationY, 'telemetry', now, { pm25: 1000 }),
          testReading(registry, trafficInX, 'status', now, { online: true }),
          testReading(registry, lightInY, 'status', now, { online: true }),
        ];
        const inside = testReading(registry, stationX, 'telemetry', now, { pm25: 10 });
        // The agency's reading last: once it has arrived, the others of the batch were emitted before it.
        const batch = [...outside, inside];
        await publisher.publishAsync(INTERNAL_READINGS_TOPIC, JSON.stringify(batch), { qos: 1 });
        await Promise.all([operator.until(batch.length), agency.until(1)]);
        expect(operator.received.map((r) => r.deviceId)).toEqual(batch.map((r) => r.deviceId));
        expect(agency.received).toEqual([inside]);
        // A second batch with only outside readings, then one inside: the agency gets the inside one only.
        await publisher.publishAsync(INTERNAL_READINGS_TOPIC, JSON.stringify(outside), { qos: 1 });
        await publisher.publishAsync(INTERNAL_READINGS_TOPIC, JSON.stringify([inside]), { qos: 1 });
        await Promise.all([operator.until(2 * batch.length), agency.until(2)]);
        expect(agency.received.map((r) => r.deviceId)).toEqual([stationX.id, stationX.id]);
        for (const reading of agency.received) {
          expect(scopeHoldsDevice(SCOPES.agency, reading)).toBe(true);
        }
      });

      it('takes a socket out of the rooms its narrowed scope no longer holds, and tells it', async () => {
        const agency = await connect('agency');
        expect((await agency.subscribe({ scope: true })).ok).toBe(true);
        expect((await agency.subscribe({ device: stationX.id })).ok).toBe(true);
        const left = new Promise<LiveLeftNotice>((resolve) => agency.socket.once('left', resolve));
        // The agency now covers env in Y only: the API's re-check picks it up, then the feed evicts.
        await api.access.agencies.update('env-agency-x', { scope: { domains: ['env'], areas: [Y] } });
        const notice = await left;
        expect(notice.reason).toBe('out-of-scope');
        expect(notice.rooms.sort()).toEqual([`device:${stationX.id}`, `domain:env/area:${X}`].sort());
        // Its new scope's rooms; a reading of X (first in the batch) no longer reaches it.
        expect(await agency.subscribe({ scope: true })).toEqual({
          ok: true,
          rooms: [`domain:env/area:${Y}`],
        });
        const now = Date.now();
        const batch = [
          testReading(registry, stationX, 'telemetry', now, { pm25: 11 }),
          testReading(registry, stationY, 'telemetry', now, { pm25: 12 }),
        ];
        await publisher!.publishAsync(INTERNAL_READINGS_TOPIC, JSON.stringify(batch), { qos: 1 });
        await agency.until(1);
        expect(agency.received).toEqual([batch[1]]);
      });
    });
  });
});
