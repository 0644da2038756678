import 'reflect-metadata';
import { RequestMethod } from '@nestjs/common';
import { METHOD_METADATA, PATH_METADATA, ROUTE_ARGS_METADATA } from '@nestjs/common/constants';
import { RouteParamtypes } from '@nestjs/common/enums/route-paramtypes.enum';
import { z } from 'zod';
import {
  areaDetailBody,
  areaListBody,
  type Device,
  deviceDetailBody,
  deviceHistoryBody,
  deviceListBody,
  errorBody,
  HISTORY_AGGREGATIONS,
  historyBody,
  latestBody,
  type Reading,
} from '@ioc/contracts';
import { DeviceRegistry, loadSeeds } from '@ioc/registry';
import { createLogger } from '@ioc/runtime';
import { describeWithInfluxd, type InfluxdHandle, startInfluxd, TempDirs } from '@ioc/testing';
import { createTimeSeriesStore, MAX_TIMESTAMP_MS, type TimeSeriesStore } from '@ioc/timeseries';
import { MAX_DEVICE_PAGE } from './devices/device-queries';
import { FEATURE_MODULES } from './ops-api.module';
import { startApiUnderTest, testReading } from './test-support/api-under-test';
import { ZodValidationPipe } from './common/zod-validation.pipe';
import { DURATION_TEXT_PATTERN, MAX_WINDOW_MS } from './common/time-params';

jest.setTimeout(60_000);

const registry = new DeviceRegistry(loadSeeds());
const logger = createLogger('ops-api-spec', { level: 'silent' });
const tempDirs = new TempDirs('ops-api-spec-');
afterAll(() => tempDirs.removeAll());

interface RunningApi {
  url: string;
  close(): Promise<void>;
}

/** The admin's credentials of the API started last (every request of these specs authenticates). */
let authHeaders: Record<string, string> = {};

/** The API module in this process, on a free loopback port, over `store`; no broker (live feed idle). */
async function startApi(store: TimeSeriesStore): Promise<RunningApi> {
  const api = await startApiUnderTest({ registry, store, logger });
  authHeaders = api.authHeaders;
  return { url: api.url, close: api.close };
}

async function getJson(url: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(url, { headers: authHeaders });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/** A body parsed by its contracts schema is unchanged: no field the schema does not declare. */
function expectShape(schema: z.ZodType, body: unknown): void {
  expect(schema.parse(body)).toEqual(body);
}

const reading = (
  device: Device,
  kind: Reading['kind'],
  ts: number,
  metrics: Reading['metrics'],
  event?: string,
): Reading => testReading(registry, device, kind, ts, metrics, event);

const light = registry.listDevices({ type: 'street-light' })[0]!;
const camera = registry.listDevices({ type: 'camera' })[0]!;
const station = registry.listDevices({ type: 'air-quality-station' })[0]!;
const noiseMeter = registry.listDevices({ type: 'noise-meter' })[0]!;
const HOUR = 3_600_000;
const start = Math.floor(Date.now() / HOUR) * HOUR - 6 * HOUR;

describe('ops-api over the embedded store', () => {
  let store: TimeSeriesStore;
  let api: RunningApi;

  beforeAll(async () => {
    store = createTimeSeriesStore({ storage: 'embedded', dataDir: await tempDirs.make() });
    await store.init();
    await store.write([
      reading(light, 'telemetry', start, { on: true, activePower: 80 }),
      reading(light, 'status', start + 1, {
        online: true,
        batteryLevel: 0.9,
        rssi: -70,
        firmwareVersion: '2.4.1',
      }),
      reading(light, 'status', start + HOUR, {
        online: true,
        batteryLevel: 0.8,
        rssi: -75,
        firmwareVersion: '2.5.0',
      }),
      reading(camera, 'event', start + 2 * HOUR, { confidence: 0.93, lane: 2 }, 'accident'),
      // An air-quality station's telemetry and, at the same ts, the hourly VN_AQI the platform derived.
      reading(station, 'telemetry', start + HOUR, { pm25: 30, pm10: 40 }),
      reading(station, 'telemetry', start + HOUR, { aqi: 60, aqiDominant: 'pm25' }),
      // The next hour closed by the timer after the station went silent.
      reading(station, 'telemetry', start + 2 * HOUR, { aqi: 55, aqiDominant: 'pm25' }),
    ]);
    api = await startApi(store);
  });

  afterAll(async () => {
    await api?.close();
    await store?.close();
  });

  describe('OpenAPI document (/api/docs-json)', () => {
    let doc: {
      paths: Record<
        string,
        Record<
          string,
          {
            parameters?: Array<{
              name: string;
              in: string;
              required: boolean;
              schema: Record<string, unknown>;
            }>;
            requestBody?: { content?: Record<string, { schema?: Record<string, unknown> }> };
            responses: Record<string, { content?: Record<string, { schema?: Record<string, unknown> }> }>;
          }
        >
      >;
    };
    beforeAll(async () => {
      doc = (await getJson(`${api.url}/api/docs-json`)).body as unknown as typeof doc;
    });

    const WRITE = [400, 404, 409, 503];
    const ADMIN_WRITE = [400, 404, 409];
    /** Routes answered without credentials (`security: []`); every other one also answers 401 and 403. */
    const PUBLIC = new Set([
      '/health',
      '/health/ready',
      '/api/v1/auth/login',
      '/api/v1/auth/refresh',
      '/api/v1/auth/providers',
      '/api/v1/console/config',
      // Public to the guard; its own check (metrics token or admin) answers 401/403.
      '/metrics',
    ]);
    /** Every route: its methods and each method's statuses (successes, < 400, first). */
    const ROUTES: Record<string, Record<string, number[]>> = {
      '/health': { get: [200, 503] },
      '/health/ready': { get: [200, 503] },
      '/api/v1/auth/login': { post: [200, 400, 401, 429] },
      '/api/v1/auth/refresh': { post: [200, 400, 401] },
      '/api/v1/auth/logout': { post: [200, 400] },
      '/api/v1/auth/me': { get: [200, 400] },
      '/api/v1/auth/password': { post: [200, 400] },
      // The SSO redirect routes (/auth/oidc/login, /callback) are browser navigations, not in the document.
      '/api/v1/auth/providers': { get: [200] },
      '/api/v1/console/config': { get: [200, 400] },
      '/api/v1/accounts': { get: [200, 400], post: [201, ...ADMIN_WRITE] },
      '/api/v1/accounts/{id}': { get: [200, 400, 404], patch: [200, ...ADMIN_WRITE] },
      '/api/v1/accounts/{id}/disable': { post: [200, ...ADMIN_WRITE] },
      '/api/v1/accounts/{id}/enable': { post: [200, ...ADMIN_WRITE] },
      '/api/v1/accounts/{id}/password': { post: [200, ...ADMIN_WRITE] },
      '/api/v1/agencies': { get: [200, 400], post: [201, ...ADMIN_WRITE] },
      '/api/v1/agencies/{id}': { get: [200, 400, 404], patch: [200, ...ADMIN_WRITE] },
      '/api/v1/agencies/{id}/disable': { post: [200, ...ADMIN_WRITE] },
      '/api/v1/agencies/{id}/enable': { post: [200, ...ADMIN_WRITE] },
      '/api/v1/agencies/{id}/mqtt-credentials': { post: [201, ...WRITE] },
      '/api/v1/agencies/{id}/keys': { get: [200, 400, 404], post: [201, ...ADMIN_WRITE] },
      '/api/v1/agencies/{id}/keys/{keyId}': { delete: [200, 400, 404] },
      '/metrics': { get: [200, 401, 403] },
      '/api/v1/devices': { get: [200, 400], post: [201, ...WRITE] },
      '/api/v1/devices/export': { get: [200, 400] },
      '/api/v1/devices/import': { post: [200, 202, 400, 413, 415, 503] },
      '/api/v1/devices/import/jobs/{jobId}': { get: [200, 400, 404] },
      '/api/v1/devices/{id}': { get: [200, 400, 404], patch: [200, ...WRITE] },
      '/api/v1/devices/{id}/suspend': { post: [200, ...WRITE] },
      '/api/v1/devices/{id}/resume': { post: [200, ...WRITE] },
      '/api/v1/devices/{id}/retire': { post: [200, ...WRITE] },
      '/api/v1/devices/{id}/credentials': {
        get: [200, 400, 404, 503],
        post: [201, ...WRITE],
        delete: [200, 400, 404, 503],
      },
      '/api/v1/devices/{id}/credentials/{credentialId}': { delete: [200, 400, 404, 503] },
      '/api/v1/devices/status': { get: [200, 400, 503] },
      '/api/v1/devices/{id}/status/history': { get: [200, 400, 404] },
      '/api/v1/devices/{id}/latest': { get: [200, 400, 404, 503] },
      '/api/v1/devices/{id}/commands': { get: [200, 400, 404, 503], post: [202, 400, 404, 409, 503] },
      '/api/v1/commands/{commandId}': { get: [200, 400, 404, 503] },
      '/api/v1/devices/{id}/history': { get: [200, 400, 404, 503] },
      '/api/v1/history': { get: [200, 400, 503] },
      '/api/v1/areas': { get: [200, 400], post: [201, ...WRITE] },
      '/api/v1/areas/{id}': { get: [200, 400, 404], patch: [200, ...WRITE] },
      '/api/v1/ingest/stats': { get: [200, 400, 503] },
      '/api/v1/ingest/nodes/{node}': { delete: [200, ...WRITE] },
      '/api/v1/audit': { get: [200, 400, 503] },
      '/api/v1/audit/verify': { get: [200, 400, 503] },
      '/api/v1/rules': { get: [200, 400, 503], post: [201, ...WRITE] },
      '/api/v1/rules/{id}': {
        get: [200, 400, 404, 503],
        put: [200, ...WRITE],
        delete: [200, ...WRITE],
      },
      '/api/v1/rules/{id}/versions': { get: [200, 400, 404, 503] },
      '/api/v1/rules/dry-run': { post: [200, 400, 503] },
      '/api/v1/rules/{id}/enable': { post: [200, ...WRITE] },
      '/api/v1/rules/{id}/disable': { post: [200, ...WRITE] },
      '/api/v1/alerts': { get: [200, 400, 503] },
      '/api/v1/alerts/{id}': { get: [200, 400, 404, 503] },
      '/api/v1/alerts/{id}/acknowledge': { post: [200, ...WRITE] },
      '/api/v1/alerts/{id}/resolve': { post: [200, ...WRITE] },
      '/api/v1/silences': { get: [200, 400, 503], post: [201, 400, 503] },
      '/api/v1/silences/{id}': { delete: [200, ...WRITE] },
      '/api/v1/agencies/{agencyId}/webhooks': { get: [200, 400, 404, 503], post: [201, ...WRITE] },
      '/api/v1/agencies/{agencyId}/webhooks/{id}': { delete: [200, ...WRITE] },
      '/api/v1/agencies/{agencyId}/webhooks/{id}/enable': { post: [200, ...WRITE] },
      '/api/v1/agencies/{agencyId}/webhooks/{id}/disable': { post: [200, ...WRITE] },
      '/api/v1/agencies/{agencyId}/webhooks/{id}/ping': { post: [200, ...WRITE] },
      '/api/v1/agencies/{agencyId}/webhooks/{id}/rotate-secret': { post: [200, ...WRITE] },
      '/api/v1/agencies/{agencyId}/subscriptions': { get: [200, 400, 404, 503], post: [201, ...WRITE] },
      '/api/v1/agencies/{agencyId}/subscriptions/{id}': {
        get: [200, 400, 404, 503],
        patch: [200, ...WRITE],
        delete: [200, ...WRITE],
      },
      '/api/v1/agencies/{agencyId}/deliveries': { get: [200, 400, 404, 503] },
      '/api/v1/agencies/{agencyId}/deliveries/{id}/replay': { post: [201, ...WRITE] },
    };

    it('lists every route, each with a success body schema and its error answers with the error schema', () => {
      expect(Object.keys(doc.paths).sort()).toEqual(Object.keys(ROUTES).sort());
      for (const [path, routeMethods] of Object.entries(ROUTES)) {
        // Every route but /health is rate limited: 429 (the login route lists it already).
        const limited = (statuses: number[]) =>
          path.startsWith('/health') || statuses.includes(429) ? statuses : [...statuses, 429];
        const methods = Object.fromEntries(
          Object.entries(routeMethods).map(([method, statuses]) => [
            method,
            PUBLIC.has(path) ? limited(statuses) : [...limited(statuses), 401, 403],
          ]),
        );
        expect({ path, methods: Object.keys(doc.paths[path]!).sort() }).toEqual({
          path,
          methods: Object.keys(methods).sort(),
        });
        for (const [method, statuses] of Object.entries(methods)) {
          const operation = doc.paths[path]![method]!;
          expect({ path, method, statuses: Object.keys(operation.responses).sort() }).toEqual({
            path,
            method,
            statuses: statuses.map(String).sort(),
          });
          const errors = statuses.filter((status) => status >= 400);
          for (const success of statuses.filter((status) => status < 400)) {
            const ok = Object.values(operation.responses[String(success)]!.content ?? {});
            expect({
              path,
              method,
              success,
              okSchemas: ok.length > 0 && ok.every((c) => c.schema !== undefined),
            }).toEqual({
              path,
              method,
              success,
              okSchemas: true,
            });
          }
          for (const status of errors.filter((s) => !path.startsWith('/health') || s !== 503)) {
            const schema = operation.responses[String(status)]!.content?.['application/json']?.schema;
            expect({ path, method, status, required: schema?.['required'] }).toEqual({
              path,
              method,
              status,
              required: ['statusCode', 'error'],
            });
          }
        }
      }
    });

    /**
     * Every route handler of the feature modules, read from Nest's own route metadata: its path as
     * OpenAPI writes it, its method, and the arguments it takes (`@Body`, `@Req`, `@Query` with
     * the zod schema its pipe parses with).
     */
    function handlers() {
      type Controller = { prototype: Record<string, unknown> } & (new (...args: never[]) => unknown);
      const controllers = FEATURE_MODULES.flatMap(
        (module) => (Reflect.getMetadata('controllers', module) as Controller[] | undefined) ?? [],
      );
      return controllers.flatMap((controller) => {
        const base = String(Reflect.getMetadata(PATH_METADATA, controller) ?? '');
        return Object.getOwnPropertyNames(controller.prototype).flatMap((name) => {
          const handler = controller.prototype[name] as object;
          const route = Reflect.getMetadata(PATH_METADATA, handler) as string | undefined;
          if (name === 'constructor' || route === undefined) return [];
          const method = RequestMethod[Reflect.getMetadata(METHOD_METADATA, handler) as RequestMethod];
          const path = `/${[base, route].filter((part) => part !== '' && part !== '/').join('/')}`.replace(
            /:(\w+)/g,
            '{$1}',
          );
          const args = Object.entries(
            (Reflect.getMetadata(ROUTE_ARGS_METADATA, controller, name) ?? {}) as Record<
              string,
              { pipes?: unknown[] }
            >,
          ).map(([key, arg]) => {
            const pipe = (arg.pipes ?? []).find((p) => p instanceof ZodValidationPipe);
            return {
              type: Number(key.split(':')[0]) as RouteParamtypes,
              schema: pipe instanceof ZodValidationPipe ? (pipe.schema as z.ZodType) : undefined,
            };
          });
          return [{ name, path, method: method.toLowerCase(), args }];
        });
      });
    }

    it('marks a body that may be left out as not required (issuing a credential), others as required', () => {
      const required = (path: string): unknown =>
        (doc.paths[path]?.['post']?.requestBody as { required?: boolean } | undefined)?.required;
      expect(required('/api/v1/devices/{id}/credentials')).toBe(false);
      expect(required('/api/v1/devices')).toBe(true);
      expect(required('/api/v1/devices/{id}/commands')).toBe(true);
    });

    it('documents a request body on every POST and PATCH route that reads one, with the fields its schema parses', () => {
      const found = handlers();
      expect(found.length).toBeGreaterThan(20);
      for (const { path, method, args } of found) {
        if (method !== 'post' && method !== 'patch') continue;
        const reads = args.filter(
          (arg) => arg.type === RouteParamtypes.BODY || arg.type === RouteParamtypes.REQUEST,
        );
        const requestBody = doc.paths[path]?.[method]?.requestBody;
        const content = Object.values(requestBody?.content ?? {});
        expect({ path, method, documented: content.length > 0 && content.every((c) => c.schema) }).toEqual({
          path,
          method,
          documented: reads.length > 0,
        });
        const schema = reads.find((arg) => arg.schema instanceof z.ZodObject)?.schema as
          z.ZodObject | undefined;
        if (schema === undefined) continue;
        const properties = Object.keys(
          (requestBody?.content?.['application/json']?.schema?.['properties'] as object | undefined) ?? {},
        );
        expect({ path, method, properties: properties.sort() }).toEqual({
          path,
          method,
          properties: Object.keys(schema.shape).sort(),
        });
      }
    });

    it('documents exactly the query parameters each route validates', () => {
      for (const { path, method, args } of handlers()) {
        const query = args.find((arg) => arg.type === RouteParamtypes.QUERY && arg.schema);
        const validated = query?.schema instanceof z.ZodObject ? Object.keys(query.schema.shape) : [];
        const documented = (doc.paths[path]?.[method]?.parameters ?? [])
          .filter((parameter) => parameter.in === 'query')
          .map((parameter) => parameter.name);
        expect({ path, method, query: documented.sort() }).toEqual({
          path,
          method,
          query: validated.sort(),
        });
      }
    });

    it('declares the history answer as the contracts schema generates it', () => {
      const schema =
        doc.paths['/api/v1/history']!['get']!.responses['200']!.content!['application/json']!.schema!;
      expect(Object.keys(schema['properties'] as object).sort()).toEqual(
        Object.keys(historyBody.shape).sort(),
      );
    });

    it("declares each parameter's type and bounds", () => {
      const parameters = (path: string) =>
        Object.fromEntries(doc.paths[path]!['get']!.parameters!.map((p) => [p.name, p]));
      const list = parameters('/api/v1/devices');
      expect(list['limit']).toMatchObject({
        required: false,
        schema: { type: 'integer', minimum: 1, maximum: MAX_DEVICE_PAGE, default: 1000 },
      });
      expect(list['offset']!.schema).toMatchObject({ type: 'integer', minimum: 0 });
      const history = parameters('/api/v1/history');
      expect(history['metrics']).toMatchObject({ required: true, schema: { type: 'string' } });
      expect(history['every']!.schema).toMatchObject({ type: 'string', pattern: DURATION_TEXT_PATTERN });
      expect(String(history['every']!.schema['description'])).toContain(`${MAX_WINDOW_MS / 86_400_000}d`);
      expect(history['fn']!.schema).toMatchObject({ enum: [...HISTORY_AGGREGATIONS] });
      expect(history['groupBy']!.schema).toMatchObject({ default: 'device' });
      expect(history['from']!.schema['anyOf']).toEqual([
        expect.objectContaining({ type: 'string', format: 'date-time' }),
        expect.objectContaining({ type: 'integer', minimum: 0, maximum: MAX_TIMESTAMP_MS }),
      ]);
      for (const path of Object.keys(doc.paths)) {
        for (const p of Object.values(doc.paths[path]!).flatMap((operation) => operation.parameters ?? [])) {
          expect({ path, name: p.name, typed: 'type' in p.schema || 'anyOf' in p.schema }).toEqual({
            path,
            name: p.name,
            typed: true,
          });
        }
      }
    });
  });

  it('answers bodies of exactly the shapes the contracts declare', async () => {
    const area = light.areaId;
    const cases: Array<[z.ZodType, string]> = [
      [deviceListBody, '/api/v1/devices?type=street-light&limit=2'],
      [deviceDetailBody, `/api/v1/devices/${light.id}`],
      [latestBody, `/api/v1/devices/${light.id}/latest`],
      [deviceHistoryBody, `/api/v1/devices/${light.id}/history?metric=activePower&from=${start}`],
      [
        historyBody,
        `/api/v1/history?devices=${light.id}&metrics=activePower,rssi&every=1h&fn=last&from=${start}`,
      ],
      [areaListBody, '/api/v1/areas'],
      [areaDetailBody, `/api/v1/areas/${area}`],
      [errorBody, '/api/v1/devices/no-such-device'],
      [errorBody, '/api/v1/history?metrics=pm25&type=air-quality-station&foo=1'],
    ];
    for (const [schema, path] of cases) {
      const { status, body } = await getJson(`${api.url}${path}`);
      expect({ path, ok: status < 500 }).toEqual({ path, ok: true });
      expectShape(schema, body);
    }
  });

  it('refuses an unknown or repeated parameter on every /api/v1 route with a 400 naming it', async () => {
    const routes = [
      '/api/v1/devices?',
      `/api/v1/devices/${light.id}?`,
      `/api/v1/devices/${light.id}/latest?`,
      `/api/v1/devices/${light.id}/history?metric=on&`,
      `/api/v1/history?devices=${light.id}&metrics=on&`,
      '/api/v1/areas?',
      `/api/v1/areas/${light.areaId}?`,
      '/api/v1/ingest/stats?',
    ];
    for (const route of routes) {
      const { status, body } = await getJson(`${api.url}${route}foo=1`);
      expect({ route, status, parameter: body['parameter'] }).toEqual({
        route,
        status: 400,
        parameter: 'foo',
      });
      expectShape(errorBody, body);
    }
    const repeated = await getJson(
      `${api.url}/api/v1/devices/${light.id}/history?metric=on&every=1h&every=2h`,
    );
    expect(repeated).toMatchObject({ status: 400, body: { parameter: 'every' } });
    const nested = await getJson(`${api.url}/api/v1/devices?limit[a]=1`);
    // Express 5 reads queries with the simple parser: `limit[a]` is a parameter of its own, unknown.
    expect(nested).toMatchObject({ status: 400, body: { parameter: 'limit[a]' } });
  });

  it('answers the history of status metrics, which /latest shows too', async () => {
    const latest = (await getJson(`${api.url}/api/v1/devices/${light.id}/latest`)).body as z.infer<
      typeof latestBody
    >;
    expect(Object.keys(latest.metrics).sort()).toEqual(
      ['activePower', 'batteryLevel', 'firmwareVersion', 'on', 'online', 'rssi'].sort(),
    );
    const battery = await getJson(
      `${api.url}/api/v1/devices/${light.id}/history?metric=batteryLevel&from=${start}`,
    );
    expect(battery.status).toBe(200);
    expect((battery.body as z.infer<typeof deviceHistoryBody>).points).toEqual([
      { ts: start + 1, value: 0.9 },
      { ts: start + HOUR, value: 0.8 },
    ]);
    const firmware = await getJson(
      `${api.url}/api/v1/devices/${light.id}/history?metric=firmwareVersion&from=${start}&every=1d&fn=last`,
    );
    expect(firmware.status).toBe(200);
    expect((firmware.body as z.infer<typeof deviceHistoryBody>).points.map((p) => p.value)).toEqual([
      '2.5.0',
    ]);
    const meanOfText = await getJson(
      `${api.url}/api/v1/devices/${light.id}/history?metric=firmwareVersion&from=${start}&every=1d&fn=mean`,
    );
    expect(meanOfText).toMatchObject({ status: 400, body: { parameter: 'fn' } });
    const many = await getJson(
      `${api.url}/api/v1/history?devices=${light.id}&metrics=online,rssi&from=${start}&every=1h&fn=last`,
    );
    expect(many.status).toBe(200);
    expect((many.body as z.infer<typeof historyBody>).series.map((s) => [s.metric, s.points.length])).toEqual(
      [
        ['online', 2],
        ['rssi', 2],
      ],
    );
    const noSuch = await getJson(`${api.url}/api/v1/devices/${light.id}/history?metric=pm25`);
    expect(noSuch).toMatchObject({ status: 400, body: { parameter: 'metric' } });
    expect(String(noSuch.body['message'])).toContain('batteryLevel');
  });

  it('answers registry writes with 503 registry-unavailable on an API without a database', async () => {
    const response = await fetch(`${api.url}/api/v1/devices/${light.id}/suspend`, {
      method: 'POST',
      headers: authHeaders,
    });
    const body = (await response.json()) as Record<string, unknown>;
    expect({ status: response.status, reason: body['reason'] }).toEqual({
      status: 503,
      reason: 'registry-unavailable',
    });
    expectShape(errorBody, body);
    expect((await getJson(`${api.url}/api/v1/devices/${light.id}`)).status).toBe(200);
  });

  it('shows a station’s derived VN_AQI in /latest and answers its history; other types have none', async () => {
    const latest = (await getJson(`${api.url}/api/v1/devices/${station.id}/latest`)).body as z.infer<
      typeof latestBody
    >;
    expect(latest.metrics).toMatchObject({
      pm25: { value: 30, ts: start + HOUR },
      aqi: { value: 55, ts: start + 2 * HOUR, unit: '' },
      aqiDominant: { value: 'pm25', ts: start + 2 * HOUR },
    });
    // lastSeen is the station's own newest observation, not the derived AQI's hour end.
    expect(latest.lastSeen).toBe(start + HOUR);
    const history = await getJson(`${api.url}/api/v1/devices/${station.id}/history?metric=aqi&from=${start}`);
    expect(history.status).toBe(200);
    expect((history.body as z.infer<typeof deviceHistoryBody>).points).toEqual([
      { ts: start + HOUR, value: 60 },
      { ts: start + 2 * HOUR, value: 55 },
    ]);
    const many = await getJson(
      `${api.url}/api/v1/history?devices=${station.id}&metrics=aqi,aqiDominant&from=${start}`,
    );
    expect(many.status).toBe(200);
    expect((many.body as z.infer<typeof historyBody>).series.map((s) => [s.metric, s.points.length])).toEqual(
      [
        ['aqi', 2],
        ['aqiDominant', 2],
      ],
    );
    const notHers = await getJson(`${api.url}/api/v1/devices/${noiseMeter.id}/history?metric=aqi`);
    expect(notHers).toMatchObject({ status: 400, body: { parameter: 'metric' } });
  });

  it('says which camera event a value came from, in /latest and history', async () => {
    const latest = (await getJson(`${api.url}/api/v1/devices/${camera.id}/latest`)).body as z.infer<
      typeof latestBody
    >;
    expect(latest.metrics['confidence']).toMatchObject({ value: 0.93, event: 'accident' });
    const history = (
      await getJson(`${api.url}/api/v1/devices/${camera.id}/history?metric=confidence&from=${start}`)
    ).body as z.infer<typeof deviceHistoryBody>;
    expect(history.points).toEqual([{ ts: start + 2 * HOUR, value: 0.93, event: 'accident' }]);
  });
});

describeWithInfluxd('ops-api while InfluxDB is down', () => {
  let influxd: InfluxdHandle;
  let store: TimeSeriesStore;
  let api: RunningApi;

  beforeAll(async () => {
    influxd = await startInfluxd();
    store = createTimeSeriesStore({ storage: 'influxdb', url: influxd.url, database: 'ops_api_spec' });
    await store.init();
    await store.write([reading(light, 'telemetry', start, { on: true, activePower: 80 })]);
    api = await startApi(store);
  }, 60_000);

  afterAll(async () => {
    await api?.close();
    await store?.close();
    await influxd?.stop();
  });

  it('answers /latest and history with 503 storage-unavailable, and the registry still answers', async () => {
    expect((await getJson(`${api.url}/api/v1/devices/${light.id}/latest`)).status).toBe(200);
    await influxd.stopProcess();
    for (const path of [
      `/api/v1/devices/${light.id}/latest`,
      `/api/v1/devices/${light.id}/history?metric=activePower`,
      `/api/v1/history?devices=${light.id}&metrics=activePower`,
    ]) {
      const { status, body } = await getJson(`${api.url}${path}`);
      expect({ path, status, reason: body['reason'] }).toEqual({
        path,
        status: 503,
        reason: 'storage-unavailable',
      });
      expectShape(errorBody, body);
      expect(String(body['message'])).toContain('/live');
    }
    expect((await getJson(`${api.url}/api/v1/devices/${light.id}`)).status).toBe(200);
    await influxd.startProcess();
    expect((await getJson(`${api.url}/api/v1/devices/${light.id}/latest`)).status).toBe(200);
  });
});
