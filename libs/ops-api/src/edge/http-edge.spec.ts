import 'reflect-metadata';
import { io } from 'socket.io-client';
import type { Role } from '@ioc/contracts';
import { DeviceRegistry, loadSeeds } from '@ioc/registry';
import { ConfigError, parseEnv } from '@ioc/runtime';
import { TempDirs } from '@ioc/testing';
import { createTimeSeriesStore, type TimeSeriesStore } from '@ioc/timeseries';
import { apiEnvSchema } from '../api-config';
import { MetricsListener } from '../ingest/metrics-access';
import { startApiUnderTest } from '../test-support/api-under-test';
import {
  DEFAULT_HTTP_EDGE,
  type HttpEdgeSettings,
  httpEdgeSettingsFromEnv,
  parseCorsOrigins,
  parseTrustProxy,
} from './edge-config';

jest.setTimeout(60_000);

const registry = new DeviceRegistry(loadSeeds());
const tempDirs = new TempDirs('edge-spec-');
const CONSOLE = 'https://console.example.gov.vn';
const METRICS_TOKEN = 'metrics-token-0123456789abcdef';

interface Running {
  url: string;
  metricsPort?: number;
  /** A person of `role` with a live session (real account and access token). */
  user(role: Role): Promise<Record<string, string>>;
  close(): Promise<void>;
}

let store: TimeSeriesStore;

/** The API module as the app runs it (authentication, edge, OpenAPI), with `edge` settings, on a free loopback port. */
async function startApi(edge: Partial<HttpEdgeSettings>): Promise<Running> {
  const api = await startApiUnderTest({
    registry,
    store,
    settings: { nodeId: 'edge-spec', edge: { ...DEFAULT_HTTP_EDGE, ...edge } },
  });
  const metricsPort = api.app.get(MetricsListener, { strict: false }).port;
  return {
    url: api.url,
    ...(metricsPort === undefined ? {} : { metricsPort }),
    user: async (role) => (await api.createUser(role)).headers,
    close: () => api.close(),
  };
}

beforeAll(async () => {
  store = createTimeSeriesStore({ storage: 'embedded', dataDir: await tempDirs.make(), thread: 'caller' });
  await store.init();
});

afterAll(async () => {
  await store?.close();
  await tempDirs.removeAll();
});

describe('edge configuration', () => {
  it('takes exact origins and refuses "*", paths and other schemes with a reason', () => {
    expect(parseCorsOrigins(`${CONSOLE}, http://10.0.0.5:8080/ ,${CONSOLE}`)).toEqual({
      origins: [CONSOLE, 'http://10.0.0.5:8080'],
    });
    expect(parseCorsOrigins('*')).toEqual({ error: expect.stringContaining('exact origins') });
    expect(parseCorsOrigins('https://a.example/console')).toEqual({
      error: expect.stringContaining('no path'),
    });
    expect(parseCorsOrigins('ftp://a.example')).toEqual({ error: expect.stringContaining('not an origin') });
    expect(parseCorsOrigins('console.example')).toEqual({ error: expect.stringContaining('not an origin') });
  });

  it('takes a hop count or proxy addresses for trust proxy, and refuses "true"', () => {
    expect(parseTrustProxy('false')).toEqual({ trustProxy: false });
    expect(parseTrustProxy('1')).toEqual({ trustProxy: 1 });
    expect(parseTrustProxy('10.0.0.0/8, 127.0.0.1,loopback,::1')).toEqual({
      trustProxy: ['10.0.0.0/8', '127.0.0.1', 'loopback', '::1'],
    });
    expect(parseTrustProxy('true')).toEqual({ error: expect.stringContaining('any client') });
    expect(parseTrustProxy('10.0.0.0/33')).toEqual({ error: expect.stringContaining('10.0.0.0/33') });
    expect(parseTrustProxy('haproxy')).toEqual({ error: expect.stringContaining('haproxy') });
  });

  it('reads the environment into settings and names a wrong variable', () => {
    const env = parseEnv(apiEnvSchema, {
      IOC_HTTP_CORS_ORIGINS: CONSOLE,
      IOC_HTTP_TRUST_PROXY: '1',
      IOC_METRICS_TOKEN: METRICS_TOKEN,
      IOC_METRICS_PORT: '9464',
    });
    expect(httpEdgeSettingsFromEnv(env)).toEqual({
      corsOrigins: [CONSOLE],
      rateLimits: { perPrincipal: 600, anonymous: 120, login: 10 },
      trustProxy: 1,
      metrics: { token: METRICS_TOKEN, listener: { host: '127.0.0.1', port: 9464 } },
    });
    expect(httpEdgeSettingsFromEnv(parseEnv(apiEnvSchema, {}))).toEqual(DEFAULT_HTTP_EDGE);
    expect(() => parseEnv(apiEnvSchema, { IOC_HTTP_CORS_ORIGINS: '*' })).toThrow(ConfigError);
    expect(() => parseEnv(apiEnvSchema, { IOC_HTTP_CORS_ORIGINS: '*' })).toThrow(
      /IOC_HTTP_CORS_ORIGINS: "\*"/,
    );
    expect(() => parseEnv(apiEnvSchema, { IOC_HTTP_TRUST_PROXY: 'true' })).toThrow(/IOC_HTTP_TRUST_PROXY/);
    expect(() => parseEnv(apiEnvSchema, { IOC_METRICS_TOKEN: 'short' })).toThrow(/IOC_METRICS_TOKEN/);
  });
});

describe('security headers', () => {
  let api: Running;
  beforeAll(async () => {
    api = await startApi({});
  });
  afterAll(() => api.close());

  it('puts helmet headers on every answer, errors included, and no X-Powered-By', async () => {
    for (const path of ['/api/v1/areas', '/health', '/api/v1/devices/nope-404']) {
      const response = await fetch(`${api.url}${path}`);
      expect({ path, csp: response.headers.get('content-security-policy') }).toEqual({
        path,
        csp: expect.stringContaining("default-src 'self'"),
      });
      expect(response.headers.get('x-content-type-options')).toBe('nosniff');
      expect(response.headers.get('strict-transport-security')).toMatch(/max-age=\d+/);
      expect(response.headers.get('x-frame-options')).toBe('SAMEORIGIN');
      expect(response.headers.get('x-powered-by')).toBeNull();
      // Plain HTTP on a private network must keep working: no forced upgrade of subresources.
      expect(response.headers.get('content-security-policy')).not.toContain('upgrade-insecure-requests');
    }
  });

  it('marks every answer (token answers and errors included, in any letter case) Cache-Control: no-store', async () => {
    const admin = await api.user('admin');
    const answers = [
      ['GET', '/api/v1/areas', admin],
      ['GET', '/api/v1/areas', {}],
      ['GET', '/api/v1/devices/nope-404', admin],
      [
        'POST',
        '/api/v1/auth/login',
        { 'content-type': 'application/json' },
        '{"username":"x","password":"y"}',
      ],
      ['POST', '/api/v1/auth/refresh', { 'content-type': 'application/json' }, '{"refreshToken":"iocst_x"}'],
      ['GET', '/api/v1/auth/me', admin],
      ['GET', '/metrics', admin],
      ['GET', '/metrics', {}],
      // Express matches routes ignoring case and a trailing slash.
      [
        'POST',
        '/API/v1/auth/login/',
        { 'content-type': 'application/json' },
        '{"username":"x","password":"y"}',
      ],
      ['GET', '/METRICS', admin],
    ] as const;
    for (const [method, path, headers, body] of answers) {
      const response = await fetch(`${api.url}${path}`, {
        method,
        headers,
        ...(body === undefined ? {} : { body }),
      });
      await response.arrayBuffer();
      expect({ method, path, cacheControl: response.headers.get('cache-control') }).toEqual({
        method,
        path,
        cacheControl: 'no-store',
      });
    }
  });

  it('serves the OpenAPI explorer with a CSP its page and every asset it loads satisfy', async () => {
    const page = await fetch(`${api.url}/api/docs`, { redirect: 'follow' });
    expect(page.status).toBe(200);
    const csp = page.headers.get('content-security-policy') ?? '';
    expect(csp).toMatch(/script-src 'self'(;|$)/);
    const html = await page.text();
    // Every script is a file (script-src 'self' allows no inline script), and every asset is
    // same-origin, so 'self' covers it.
    const scripts = [...html.matchAll(/<script([^>]*)>/g)].map((m) => m[1] ?? '');
    expect(scripts.length).toBeGreaterThan(0);
    for (const attributes of scripts) expect(attributes).toMatch(/\ssrc="[^"]+"/);
    const assets = [
      ...[...html.matchAll(/<script[^>]*\ssrc="([^"]+)"/g)].map((m) => m[1] as string),
      ...[...html.matchAll(/<link[^>]*rel="stylesheet"[^>]*href="([^"]+)"/g)].map((m) => m[1] as string),
    ];
    expect(assets.length).toBeGreaterThanOrEqual(4);
    const base = new URL(page.url);
    for (const asset of assets) {
      const url = new URL(asset, base);
      expect({ asset, origin: url.origin }).toEqual({ asset, origin: base.origin });
      const response = await fetch(url);
      expect({ asset, status: response.status }).toEqual({ asset, status: 200 });
      await response.arrayBuffer();
    }
  });
});

/** A CORS preflight as a browser sends it. */
function preflight(url: string, origin: string): Promise<Response> {
  return fetch(url, {
    method: 'OPTIONS',
    headers: {
      Origin: origin,
      'Access-Control-Request-Method': 'POST',
      'Access-Control-Request-Headers': 'authorization,content-type',
    },
  });
}

/**
 * Opens a socket.io connection to /live as a viewer of `api` with `origin` (none: not a browser);
 * resolves with whether it connected.
 */
async function liveConnects(
  api: Running,
  origin: string | undefined,
  transport: 'polling' | 'websocket',
): Promise<boolean> {
  const token = (await api.user('viewer'))['authorization']?.replace(/^Bearer /, '');
  const socket = io(`${api.url}/live`, {
    transports: [transport],
    reconnection: false,
    forceNew: true,
    auth: { token },
    ...(origin === undefined ? {} : { extraHeaders: { Origin: origin } }),
  });
  return new Promise<boolean>((resolve) => {
    socket.once('connect', () => resolve(true));
    socket.once('connect_error', () => resolve(false));
  }).finally(() => socket.close());
}

describe('CORS', () => {
  it('is off by default: no CORS header for any origin, and socket.io refuses foreign origins', async () => {
    const api = await startApi({});
    try {
      const answer = await preflight(`${api.url}/api/v1/devices`, CONSOLE);
      expect(answer.headers.get('access-control-allow-origin')).toBeNull();
      expect(answer.headers.get('access-control-allow-credentials')).toBeNull();
      const get = await fetch(`${api.url}/api/v1/areas`, { headers: { Origin: CONSOLE } });
      expect(get.headers.get('access-control-allow-origin')).toBeNull();
      // Before: socket.io's `cors: {origin: true}` let any page open the live feed.
      expect(await liveConnects(api, CONSOLE, 'polling')).toBe(false);
      expect(await liveConnects(api, CONSOLE, 'websocket')).toBe(false);
      // A non-browser client (no Origin) and a page of the API itself (same origin) connect.
      expect(await liveConnects(api, undefined, 'polling')).toBe(true);
      expect(await liveConnects(api, api.url, 'websocket')).toBe(true);
    } finally {
      await api.close();
    }
  });

  it('answers a listed origin with credentials, and gives another origin nothing', async () => {
    const api = await startApi({ corsOrigins: [CONSOLE] });
    try {
      const listed = await preflight(`${api.url}/api/v1/devices`, CONSOLE);
      expect(listed.status).toBe(204);
      expect(listed.headers.get('access-control-allow-origin')).toBe(CONSOLE);
      expect(listed.headers.get('access-control-allow-credentials')).toBe('true');
      expect(listed.headers.get('access-control-allow-methods')).toContain('POST');
      expect(listed.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('authorization');
      expect(listed.headers.get('vary')).toContain('Origin');
      const get = await fetch(`${api.url}/api/v1/areas`, {
        headers: { Origin: CONSOLE, ...(await api.user('viewer')) },
      });
      expect(get.status).toBe(200);
      expect(get.headers.get('access-control-allow-origin')).toBe(CONSOLE);

      const other = await preflight(`${api.url}/api/v1/devices`, 'https://evil.example');
      expect(other.headers.get('access-control-allow-origin')).toBeNull();
      expect(other.headers.get('access-control-allow-credentials')).toBeNull();
      const otherGet = await fetch(`${api.url}/api/v1/areas`, {
        headers: { Origin: 'https://evil.example' },
      });
      expect(otherGet.headers.get('access-control-allow-origin')).toBeNull();

      expect(await liveConnects(api, CONSOLE, 'polling')).toBe(true);
      expect(await liveConnects(api, CONSOLE, 'websocket')).toBe(true);
      expect(await liveConnects(api, 'https://evil.example', 'polling')).toBe(false);
      expect(await liveConnects(api, 'https://evil.example', 'websocket')).toBe(false);
    } finally {
      await api.close();
    }
  });
});

/** GET `path` `times` times in sequence; the statuses. */
async function statuses(url: string, times: number, headers: Record<string, string> = {}): Promise<number[]> {
  const result: number[] = [];
  for (let i = 0; i < times; i++) {
    const response = await fetch(url, { headers });
    await response.arrayBuffer();
    result.push(response.status);
  }
  return result;
}

describe('rate limits', () => {
  it('counts anonymous requests per address across routes, principals per principal, and never /health', async () => {
    const api = await startApi({ rateLimits: { anonymous: 4, perPrincipal: 6, login: 100 } });
    try {
      expect(await statuses(`${api.url}/api/v1/areas`, 2)).toEqual([401, 401]);
      expect(await statuses(`${api.url}/api/v1/devices?limit=1`, 2)).toEqual([401, 401]);
      const refused = await fetch(`${api.url}/api/v1/areas`);
      expect(refused.status).toBe(429);
      expect(refused.headers.get('x-ratelimit-limit')).toBe('4');
      const retryAfter = Number(refused.headers.get('retry-after'));
      expect(retryAfter).toBeGreaterThanOrEqual(1);
      expect(retryAfter).toBeLessThanOrEqual(60);
      expect(await refused.json()).toEqual({
        statusCode: 429,
        error: 'Too Many Requests',
        reason: 'rate-limited',
        message: expect.stringContaining('4 requests per minute per address'),
        limit: { per: 'address', requests: 4, windowSeconds: 60 },
        retryAfterSeconds: retryAfter,
      });
      // Load balancers keep probing.
      expect(await statuses(`${api.url}/health`, 6)).not.toContain(429);

      // A principal has its own count, whatever its address has used.
      const alice = await api.user('viewer');
      expect(await statuses(`${api.url}/api/v1/areas`, 6, alice)).toEqual([200, 200, 200, 200, 200, 200]);
      const aliceRefused = await fetch(`${api.url}/api/v1/areas`, { headers: alice });
      expect(aliceRefused.status).toBe(429);
      expect(await aliceRefused.json()).toMatchObject({ limit: { per: 'principal', requests: 6 } });
      expect(await statuses(`${api.url}/api/v1/areas`, 1, await api.user('viewer'))).toEqual([200]);
    } finally {
      await api.close();
    }
  });

  it('limits logins per address on their own, below the general limit', async () => {
    const api = await startApi({ rateLimits: { anonymous: 100, perPrincipal: 100, login: 3 } });
    try {
      const login = (): Promise<Response> =>
        fetch(`${api.url}/api/v1/auth/login`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ username: 'nobody', password: 'not-the-password-at-all' }),
        });
      for (let i = 0; i < 3; i++) expect((await login()).status).toBe(401);
      const refused = await login();
      expect(refused.status).toBe(429);
      expect(refused.headers.get('retry-after')).toMatch(/^\d+$/);
      // The headers name the login limit that refused, not the general one that let it through.
      expect({
        limit: refused.headers.get('x-ratelimit-limit'),
        remaining: refused.headers.get('x-ratelimit-remaining'),
        retryAfterLogin: refused.headers.get('retry-after-login'),
      }).toEqual({ limit: '3', remaining: '0', retryAfterLogin: null });
      expect(await refused.json()).toMatchObject({
        reason: 'rate-limited',
        message: expect.stringContaining('3 login attempts per minute per address'),
        limit: { per: 'login', requests: 3 },
      });
      // Other routes are not affected by the login count.
      expect(await statuses(`${api.url}/api/v1/areas`, 1)).toEqual([401]);
    } finally {
      await api.close();
    }
  });

  it('takes the client address from X-Forwarded-For only when the proxy is trusted', async () => {
    const limits = { anonymous: 2, perPrincipal: 100, login: 100 };
    const behindProxy = await startApi({ rateLimits: limits, trustProxy: 1 });
    try {
      const from = (address: string) => ({ 'x-forwarded-for': address });
      // Anonymous: refused (401) but counted, per client address.
      expect(await statuses(`${behindProxy.url}/api/v1/areas`, 3, from('203.0.113.7'))).toEqual([
        401, 401, 429,
      ]);
      expect(await statuses(`${behindProxy.url}/api/v1/areas`, 1, from('203.0.113.8'))).toEqual([401]);
    } finally {
      await behindProxy.close();
    }
    const direct = await startApi({ rateLimits: limits });
    try {
      // Not trusted: a client cannot pick a fresh address by sending the header.
      expect(await statuses(`${direct.url}/api/v1/areas`, 2, { 'x-forwarded-for': '203.0.113.7' })).toEqual([
        401, 401,
      ]);
      expect(await statuses(`${direct.url}/api/v1/areas`, 1, { 'x-forwarded-for': '203.0.113.8' })).toEqual([
        429,
      ]);
    } finally {
      await direct.close();
    }
  });
});

describe('/metrics', () => {
  it('needs the metrics token or an admin on the HTTP port; the separate listener serves it openly', async () => {
    const api = await startApi({
      metrics: { token: METRICS_TOKEN, listener: { host: '127.0.0.1', port: 0 } },
    });
    try {
      const anonymous = await fetch(`${api.url}/metrics`);
      expect(anonymous.status).toBe(401);
      expect(anonymous.headers.get('www-authenticate')).toBe('Bearer');
      expect(await anonymous.json()).toMatchObject({ statusCode: 401, reason: 'missing-credentials' });

      const wrong = await fetch(`${api.url}/metrics`, {
        headers: { Authorization: 'Bearer not-the-token-at-all' },
      });
      expect(wrong.status).toBe(401);
      expect(await wrong.json()).toMatchObject({ reason: 'invalid-token' });

      const withToken = await fetch(`${api.url}/metrics`, {
        headers: { Authorization: `Bearer ${METRICS_TOKEN}` },
      });
      expect(withToken.status).toBe(200);
      expect(withToken.headers.get('content-type')).toMatch(/^text\/plain;.*version=0.0.4/);
      expect(await withToken.text()).toMatch(/^ioc_api_broker_connected 0$/m);

      const viewer = await fetch(`${api.url}/metrics`, { headers: await api.user('viewer') });
      expect(viewer.status).toBe(403);
      expect(await viewer.json()).toMatchObject({ reason: 'role-required', required: 'admin' });
      const admin = await fetch(`${api.url}/metrics`, { headers: await api.user('admin') });
      expect(admin.status).toBe(200);

      expect(api.metricsPort).toEqual(expect.any(Number));
      const separate = await fetch(`http://127.0.0.1:${api.metricsPort}/metrics`);
      expect(separate.status).toBe(200);
      expect(await separate.text()).toMatch(/^ioc_api_broker_connected 0$/m);
      // Only /metrics lives there.
      expect((await fetch(`http://127.0.0.1:${api.metricsPort}/api/v1/areas`)).status).toBe(404);
    } finally {
      await api.close();
    }
  });

  it('refuses anonymous scrapes on the HTTP port when no token is configured', async () => {
    const api = await startApi({});
    try {
      expect((await fetch(`${api.url}/metrics`)).status).toBe(401);
      expect(
        (await fetch(`${api.url}/metrics`, { headers: { Authorization: `Bearer ${METRICS_TOKEN}` } })).status,
      ).toBe(401);
    } finally {
      await api.close();
    }
  });
});
