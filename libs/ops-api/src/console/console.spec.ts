import 'reflect-metadata';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { consoleConfigBody } from '@ioc/contracts';
import { DeviceRegistry, loadSeeds } from '@ioc/registry';
import { ConfigError, parseEnv } from '@ioc/runtime';
import { TempDirs } from '@ioc/testing';
import { createTimeSeriesStore, type TimeSeriesStore } from '@ioc/timeseries';
import { apiEnvSchema } from '../api-config';
import { type ApiUnderTest, startApiUnderTest } from '../test-support/api-under-test';
import {
  type ConsoleSettings,
  consoleSettingsFromEnv,
  DEFAULT_CONSOLE_SETTINGS,
  PMTILES_HEADER_BYTES,
  readPmtilesMaxZoom,
} from './console-config';
import { ASSET_CACHE_CONTROL, BASEMAP_CACHE_CONTROL, CONSOLE_NOT_BUILT_TEXT } from './console-files';

jest.setTimeout(60_000);

const registry = new DeviceRegistry(loadSeeds());
const tempDirs = new TempDirs('console-spec-');
let store: TimeSeriesStore;

/** A minimal PMTiles v3 header (spec v3 §3): magic, version 3, min zoom at byte 100, max zoom at 101. */
function pmtilesHeader(minZoom: number, maxZoom: number): Buffer {
  const header = Buffer.alloc(PMTILES_HEADER_BYTES);
  header.write('PMTiles', 0, 'latin1');
  header[7] = 3;
  header[100] = minZoom;
  header[101] = maxZoom;
  return header;
}

/** The console's settings as the API parses them from `env` (only IOC_CONSOLE_* given). */
function settingsOf(env: Record<string, string>): ConsoleSettings {
  return consoleSettingsFromEnv(parseEnv(apiEnvSchema, env));
}

/** The ConfigError's text for `env`, or undefined when it parses. */
function refusal(env: Record<string, string>): string | undefined {
  try {
    parseEnv(apiEnvSchema, env);
    return undefined;
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    return error.message;
  }
}

async function startApi(console: ConsoleSettings): Promise<ApiUnderTest> {
  return startApiUnderTest({ registry, store, settings: { nodeId: 'console-spec', console } });
}

beforeAll(async () => {
  store = createTimeSeriesStore({ storage: 'embedded', dataDir: await tempDirs.make(), thread: 'caller' });
  await store.init();
});

afterAll(async () => {
  await store?.close();
  await tempDirs.removeAll();
});

describe('console settings from the environment (IOC_CONSOLE_*)', () => {
  it('defaults: no basemap, Vietnamese, sound and notifications on, the built console under dist/apps/console', () => {
    const settings = settingsOf({});
    expect(settings).toEqual({
      ...DEFAULT_CONSOLE_SETTINGS,
      dir: expect.stringMatching(/dist\/apps\/console$/),
    });
    expect(settingsOf({ IOC_CONSOLE_DIR: 'off' }).dir).toBeNull();
  });

  it('an XYZ template is xyz with max zoom 19 unless set, and its attribution', () => {
    expect(
      settingsOf({
        IOC_CONSOLE_BASEMAP: 'https://tiles.tayninh.gov.vn/{z}/{x}/{y}.png',
        IOC_CONSOLE_BASEMAP_ATTRIBUTION: '© OpenStreetMap, Sở TT&TT Tây Ninh',
      }).basemap,
    ).toEqual({
      kind: 'xyz',
      url: 'https://tiles.tayninh.gov.vn/{z}/{x}/{y}.png',
      attribution: '© OpenStreetMap, Sở TT&TT Tây Ninh',
      maxZoom: 19,
    });
    expect(
      settingsOf({
        IOC_CONSOLE_BASEMAP: 'http://10.0.0.5:8080/{z}/{x}/{y}',
        IOC_CONSOLE_BASEMAP_MAX_ZOOM: '17',
      }).basemap,
    ).toMatchObject({ kind: 'xyz', maxZoom: 17 });
  });

  it('a .pmtiles file takes its max zoom from the archive header, unless IOC_CONSOLE_BASEMAP_MAX_ZOOM says', async () => {
    const dir = await tempDirs.make();
    const file = join(dir, 'tay-ninh.pmtiles');
    writeFileSync(file, Buffer.concat([pmtilesHeader(0, 15), Buffer.alloc(64)]));
    expect(readPmtilesMaxZoom(file)).toBe(15);
    expect(settingsOf({ IOC_CONSOLE_BASEMAP: file }).basemap).toEqual({
      kind: 'pmtiles',
      file,
      attribution: '',
      maxZoom: 15,
    });
    expect(
      settingsOf({ IOC_CONSOLE_BASEMAP: file, IOC_CONSOLE_BASEMAP_MAX_ZOOM: '12' }).basemap,
    ).toMatchObject({
      maxZoom: 12,
    });
    // Not a v3 archive (or too short for a header): the usual 19.
    const other = join(dir, 'not-an-archive.pmtiles');
    writeFileSync(other, 'hello');
    expect(readPmtilesMaxZoom(other)).toBeUndefined();
    expect(settingsOf({ IOC_CONSOLE_BASEMAP: other }).basemap).toMatchObject({ maxZoom: 19 });
  });

  it.each([
    [{ IOC_CONSOLE_BASEMAP: 'https://tiles.example/{z}/{x}.png' }, 'IOC_CONSOLE_BASEMAP', '{y} missing'],
    [{ IOC_CONSOLE_BASEMAP: 'osm' }, 'IOC_CONSOLE_BASEMAP', 'expected none, an http(s)://'],
    [{ IOC_CONSOLE_BASEMAP: 'ftp://tiles.example/{z}/{x}/{y}' }, 'IOC_CONSOLE_BASEMAP', 'expected none'],
    [{ IOC_CONSOLE_BASEMAP: 'https://u:p@tiles.example/{z}/{x}/{y}' }, 'IOC_CONSOLE_BASEMAP', 'credentials'],
    [{ IOC_CONSOLE_BASEMAP: '/nonexistent/tay-ninh.pmtiles' }, 'IOC_CONSOLE_BASEMAP', 'ENOENT'],
    [{ IOC_CONSOLE_BASEMAP_MAX_ZOOM: '25' }, 'IOC_CONSOLE_BASEMAP_MAX_ZOOM', ''],
    [{ IOC_CONSOLE_BASEMAP_MAX_ZOOM: 'high' }, 'IOC_CONSOLE_BASEMAP_MAX_ZOOM', ''],
    [{ IOC_CONSOLE_LOCALE: 'fr' }, 'IOC_CONSOLE_LOCALE', ''],
    [{ IOC_CONSOLE_ALERT_SOUND: 'maybe' }, 'IOC_CONSOLE_ALERT_SOUND', ''],
    [{ IOC_CONSOLE_BROWSER_NOTIFICATIONS: 'on' }, 'IOC_CONSOLE_BROWSER_NOTIFICATIONS', ''],
    [{ IOC_CONSOLE_BASEMAP_ATTRIBUTION: 'OSM\u202e' }, 'IOC_CONSOLE_BASEMAP_ATTRIBUTION', 'U+202E'],
    [{ IOC_CONSOLE_BASEMAP_ATTRIBUTION: 'OSM\nx' }, 'IOC_CONSOLE_BASEMAP_ATTRIBUTION', 'U+000A'],
  ])('refuses %j naming %s', (env, variable, words) => {
    const message = refusal(env);
    expect(message).toContain(`${variable}: `);
    expect(message).toContain(words);
  });
});

describe('GET /api/v1/console/config', () => {
  it('answers the defaults without a login, refuses unknown parameters, and is public in OpenAPI', async () => {
    const api = await startApi(DEFAULT_CONSOLE_SETTINGS);
    try {
      const answer = await fetch(`${api.url}/api/v1/console/config`);
      expect(answer.status).toBe(200);
      const body = (await answer.json()) as unknown;
      expect(consoleConfigBody.parse(body)).toEqual(body);
      expect(body).toEqual({
        basemap: { kind: 'none' },
        defaultLocale: 'vi',
        timeZone: 'Asia/Ho_Chi_Minh',
        alerts: { sound: true, browserNotifications: true },
      });
      const unknown = await fetch(`${api.url}/api/v1/console/config?basemap=xyz`);
      expect(unknown.status).toBe(400);
      expect(await unknown.text()).toContain('basemap');
      const document = (await (await fetch(`${api.url}/api/docs-json`)).json()) as {
        paths: Record<string, { get: { security?: unknown[]; responses: Record<string, unknown> } }>;
      };
      const operation = document.paths['/api/v1/console/config']?.get;
      expect(operation?.security).toEqual([]);
      expect(operation?.responses['200']).toBeDefined();
      // No console files: `/` is the API's 404, as before the console existed.
      expect((await fetch(`${api.url}/`)).status).toBe(404);
    } finally {
      await api.close();
    }
  });

  it('answers an xyz basemap and puts its origin in the CSP img-src', async () => {
    const api = await startApi(
      settingsOf({
        IOC_CONSOLE_DIR: 'off',
        IOC_CONSOLE_BASEMAP: 'https://{s}.tiles.tayninh.gov.vn:8443/osm/{z}/{x}/{y}.png',
        IOC_CONSOLE_BASEMAP_ATTRIBUTION: '© OpenStreetMap',
        IOC_CONSOLE_LOCALE: 'en',
        IOC_CONSOLE_ALERT_SOUND: 'false',
      }),
    );
    try {
      const answer = await fetch(`${api.url}/api/v1/console/config`);
      expect(await answer.json()).toEqual({
        basemap: {
          kind: 'xyz',
          url: 'https://{s}.tiles.tayninh.gov.vn:8443/osm/{z}/{x}/{y}.png',
          attribution: '© OpenStreetMap',
          maxZoom: 19,
        },
        defaultLocale: 'en',
        timeZone: 'Asia/Ho_Chi_Minh',
        alerts: { sound: false, browserNotifications: true },
      });
      const csp = answer.headers.get('content-security-policy') ?? '';
      expect(csp).toContain("img-src 'self' data: blob: https://*.tiles.tayninh.gov.vn:8443");
      expect(csp).toContain("connect-src 'self'");
      expect(csp).not.toMatch(/script-src[^;]*unsafe/);
    } finally {
      await api.close();
    }
  });
});

describe('the console files at / and the PMTiles basemap', () => {
  it('serves index.html (no-cache), hashed assets (immutable), 404 elsewhere, not rate limited', async () => {
    const dir = await tempDirs.make();
    mkdirSync(join(dir, 'assets'));
    writeFileSync(
      join(dir, 'index.html'),
      '<!doctype html><title>IOC</title><script type="module" src="/assets/app-1a2b.js"></script>',
    );
    writeFileSync(join(dir, 'assets', 'app-1a2b.js'), 'console.log("console")');
    const api = await startApiUnderTest({
      registry,
      store,
      settings: {
        nodeId: 'console-spec',
        console: { ...DEFAULT_CONSOLE_SETTINGS, dir },
        // Two anonymous requests a minute: static files must not count.
        edge: {
          corsOrigins: [],
          rateLimits: { perPrincipal: 1000, anonymous: 2, login: 10 },
          trustProxy: false,
          metrics: {},
        },
      },
    });
    try {
      for (const path of ['/', '/index.html']) {
        const page = await fetch(`${api.url}${path}`);
        expect({ path, status: page.status }).toEqual({ path, status: 200 });
        expect(page.headers.get('cache-control')).toBe('no-cache');
        expect(page.headers.get('content-type')).toMatch(/^text\/html/);
        expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
        expect(page.headers.get('x-content-type-options')).toBe('nosniff');
        expect(await page.text()).toContain('/assets/app-1a2b.js');
      }
      for (let i = 0; i < 5; i++) {
        const asset = await fetch(`${api.url}/assets/app-1a2b.js`);
        expect(asset.status).toBe(200);
        expect(asset.headers.get('cache-control')).toBe(ASSET_CACHE_CONTROL);
        expect(asset.headers.get('content-type')).toMatch(/javascript/);
      }
      // No SPA fallback: an unknown page or asset is a 404.
      expect((await fetch(`${api.url}/devices/aq-tn-001`)).status).toBe(404);
      expect((await fetch(`${api.url}/assets/missing.js`)).status).toBe(404);
      expect((await fetch(`${api.url}/basemap/basemap.pmtiles`)).status).toBe(404);
    } finally {
      await api.close();
    }
  });

  it('answers 503 "console not built" at / when the directory has no index.html', async () => {
    const api = await startApi({ ...DEFAULT_CONSOLE_SETTINGS, dir: await tempDirs.make() });
    try {
      const page = await fetch(`${api.url}/`);
      expect(page.status).toBe(503);
      expect(await page.text()).toContain(CONSOLE_NOT_BUILT_TEXT);
      expect(page.headers.get('content-security-policy')).toBeTruthy();
      expect((await fetch(`${api.url}/other`)).status).toBe(404);
    } finally {
      await api.close();
    }
  });

  it('serves the PMTiles file with byte ranges (206, Accept-Ranges, Content-Range), HEAD, and its config', async () => {
    const dir = await tempDirs.make();
    const file = join(dir, 'tay-ninh.pmtiles');
    const tail = Buffer.from(Array.from({ length: 4096 }, (_, i) => i % 251));
    const bytes = Buffer.concat([pmtilesHeader(0, 14), tail]);
    writeFileSync(file, bytes);
    const api = await startApi(settingsOf({ IOC_CONSOLE_DIR: 'off', IOC_CONSOLE_BASEMAP: file }));
    try {
      expect(await (await fetch(`${api.url}/api/v1/console/config`)).json()).toMatchObject({
        basemap: { kind: 'pmtiles', url: '/basemap/basemap.pmtiles', attribution: '', maxZoom: 14 },
      });
      const url = `${api.url}/basemap/basemap.pmtiles`;
      // The header, as a PMTiles reader asks for it first.
      const first = await fetch(url, { headers: { range: 'bytes=0-126' } });
      expect(first.status).toBe(206);
      expect(first.headers.get('accept-ranges')).toBe('bytes');
      expect(first.headers.get('content-range')).toBe(`bytes 0-126/${bytes.length}`);
      expect(first.headers.get('cache-control')).toBe(BASEMAP_CACHE_CONTROL);
      expect(Buffer.from(await first.arrayBuffer())).toEqual(bytes.subarray(0, 127));
      const middle = await fetch(url, { headers: { range: 'bytes=1000-1999' } });
      expect(middle.status).toBe(206);
      expect(Buffer.from(await middle.arrayBuffer())).toEqual(bytes.subarray(1000, 2000));
      const whole = await fetch(url);
      expect(whole.status).toBe(200);
      expect(Buffer.from(await whole.arrayBuffer())).toEqual(bytes);
      const head = await fetch(url, { method: 'HEAD' });
      expect(head.status).toBe(200);
      expect(head.headers.get('content-length')).toBe(String(bytes.length));
      expect(head.headers.get('accept-ranges')).toBe('bytes');
      const beyond = await fetch(url, { headers: { range: `bytes=${bytes.length + 10}-` } });
      expect(beyond.status).toBe(416);
      expect(beyond.headers.get('content-range')).toBe(`bytes */${bytes.length}`);
      // Nothing else under /basemap, and the file's real path is never a URL.
      expect((await fetch(`${api.url}/basemap/tay-ninh.pmtiles`)).status).toBe(404);
      expect((await fetch(`${api.url}/basemap/basemap.pmtiles/x`)).status).toBe(404);
      expect((await fetch(url, { method: 'POST' })).status).toBe(404);
    } finally {
      await api.close();
    }
  });
});
