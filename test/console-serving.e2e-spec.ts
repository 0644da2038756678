import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import {
  API_ENTRY,
  buildConsole,
  describeWithBrowser,
  freePort,
  launchBrowser,
  type RunningPlatform,
  type ServiceProcess,
  startPlatform,
  startService,
  viteBuild,
  watchPage,
} from '@ioc/testing';
import { pmtilesWithOneTile, solidPngTile } from './support/tiles';

jest.setTimeout(120_000);

describeWithBrowser("the operators' console served by the API", () => {
  let platform: RunningPlatform;
  let browser: Browser;

  beforeAll(async () => {
    const consoleDir = await buildConsole();
    platform = await startPlatform({ storage: 'embedded', consoleDir });
    browser = await launchBrowser();
  });

  afterAll(async () => {
    await browser?.close();
    await platform?.stop();
  });

  it('loads / in Chromium from the platform alone: cache headers, no other origin, no CSP violation, no error', async () => {
    const page = await browser.newPage();
    try {
      const watch = watchPage(page, platform.httpUrl);
      const answers = new Map<string, { status: number; cacheControl: string | undefined }>();
      page.on('response', (response) => {
        const url = new URL(response.url());
        answers.set(url.pathname, {
          status: response.status(),
          cacheControl: response.headers()['cache-control'],
        });
      });
      const document = await page.goto(`${platform.httpUrl}/`, { waitUntil: 'networkidle' });
      expect(document?.status()).toBe(200);
      expect(document?.headers()['cache-control']).toBe('no-cache');
      const csp = document?.headers()['content-security-policy'] ?? '';
      expect(csp).toContain("script-src 'self'");
      expect(csp).not.toMatch(/script-src[^;]*unsafe-(inline|eval)/);
      expect(csp).toContain("img-src 'self' data: blob:");

      // Vite's hashed bundle (at least the entry script) came with a year's immutable caching.
      const assets = [...answers].filter(([path]) => path.startsWith('/assets/'));
      expect(assets.length).toBeGreaterThan(0);
      for (const [path, answer] of assets) {
        expect({ path, ...answer }).toEqual({
          path,
          status: 200,
          cacheControl: 'public, max-age=31536000, immutable',
        });
      }
      // The page's own API calls before login may be refused (401): expected, not a problem.
      expect(watch.problems([/status of 401/])).toEqual([]);
    } finally {
      await page.close();
    }
  });

  it('answers the default console configuration without a login', async () => {
    const answer = await fetch(`${platform.httpUrl}/api/v1/console/config`);
    expect(answer.status).toBe(200);
    expect(await answer.json()).toEqual({
      basemap: { kind: 'none' },
      defaultLocale: 'vi',
      timeZone: 'Asia/Ho_Chi_Minh',
      alerts: { sound: true, browserNotifications: true },
    });
  });

  it('keeps every other path outside the API a 404 (no SPA fallback) and the API where it was', async () => {
    expect((await fetch(`${platform.httpUrl}/map/aq-tn-001`)).status).toBe(404);
    expect((await fetch(`${platform.httpUrl}/assets/nothing-here.js`)).status).toBe(404);
    expect((await fetch(`${platform.httpUrl}/api/v1/devices`)).status).toBe(401);
    expect((await fetch(`${platform.httpUrl}/health`)).status).toBeLessThan(600);
  });

  it('refuses bad console settings at start, naming each variable', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'ioc-console-config-'));
    try {
      const failure = startService(
        API_ENTRY,
        {
          IOC_DATA_DIR: dataDir,
          IOC_CONSOLE_BASEMAP: 'https://tiles.example/{z}/{x}.png',
          IOC_CONSOLE_LOCALE: 'fr',
          IOC_CONSOLE_BASEMAP_MAX_ZOOM: '30',
        },
        'API listening',
      );
      await expect(failure).rejects.toThrow(/IOC_CONSOLE_BASEMAP: .*\{y\} missing/);
      const message = String(await failure.catch((error: unknown) => error));
      expect(message).toContain('IOC_CONSOLE_LOCALE: ');
      expect(message).toContain('IOC_CONSOLE_BASEMAP_MAX_ZOOM: ');
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

/**
 * The API's Content-Security-Policy against a real map page (test/fixtures/basemap-page: Leaflet
 * with the basemap /api/v1/console/config names, built by Vite like the console): Leaflet's CSS,
 * XYZ tiles from the configured tile server, and PMTiles read with range requests and shown as
 * blob: images all load, with no violation — whatever the console's own page does.
 */
describeWithBrowser("the basemap under the API's Content-Security-Policy", () => {
  let browser: Browser;
  let pageDir: string;
  const dirs: string[] = [];

  beforeAll(async () => {
    pageDir = await viteBuild('test/fixtures/basemap-page/vite.config.mjs');
    browser = await launchBrowser();
  });

  afterAll(async () => {
    await browser?.close();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  /** The API alone (no broker: the page needs none) serving the fixture page with `basemap`. */
  async function startApi(basemap: string): Promise<{ api: ServiceProcess; url: string }> {
    const dataDir = mkdtempSync(join(tmpdir(), 'ioc-basemap-'));
    dirs.push(dataDir);
    const port = await freePort();
    const api = await startService(
      API_ENTRY,
      {
        IOC_DATA_DIR: dataDir,
        IOC_HTTP_HOST: '127.0.0.1',
        IOC_HTTP_PORT: String(port),
        IOC_BROKER_URL: `mqtt://127.0.0.1:${await freePort()}`,
        IOC_CONSOLE_DIR: pageDir,
        IOC_CONSOLE_BASEMAP: basemap,
      },
      'API listening',
    );
    return { api, url: `http://127.0.0.1:${port}` };
  }

  /** Loads the page, waits for the basemap's tiles to show, and answers what the page saw. */
  async function showMap(url: string, kind: string) {
    const page = await browser.newPage();
    const watch = watchPage(page, url);
    const statuses: string[] = [];
    page.on('response', (response) =>
      statuses.push(`${response.status()} ${new URL(response.url()).pathname}`),
    );
    await page.goto(`${url}/`);
    await page.waitForSelector(`body[data-basemap="${kind}"]`);
    // Leaflet marks a tile image leaflet-tile-loaded once it has loaded (GridLayer._tileReady).
    await page.waitForSelector('img.leaflet-tile-loaded');
    // (These run in the page; the node type-check has no DOM library, hence the narrow types.)
    const tiles = await page.$$eval('img.leaflet-tile-loaded', (images) =>
      images.map((image) => {
        const { src, naturalWidth } = image as unknown as { src: string; naturalWidth: number };
        return { src: src.split(':')[0], width: naturalWidth };
      }),
    );
    // Leaflet's stylesheet loaded: .leaflet-container { overflow: hidden } applies.
    const leafletCss = await page.$eval('.leaflet-container', (element) => {
      const view = globalThis as unknown as { getComputedStyle(node: unknown): { overflow: string } };
      return view.getComputedStyle(element).overflow;
    });
    await page.close();
    return { watch, statuses, tiles, leafletCss };
  }

  it('shows a PMTiles basemap: range requests (206) to /basemap/basemap.pmtiles, blob: tiles, no violation', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ioc-pmtiles-'));
    dirs.push(dir);
    const file = join(dir, 'tay-ninh.pmtiles');
    writeFileSync(file, pmtilesWithOneTile(solidPngTile([180, 200, 240])));
    const { api, url } = await startApi(file);
    try {
      const seen = await showMap(url, 'pmtiles');
      expect(seen.leafletCss).toBe('hidden');
      expect(seen.statuses).toContain('206 /basemap/basemap.pmtiles');
      expect(seen.tiles.length).toBeGreaterThan(0);
      expect(seen.tiles.every((tile) => tile.src === 'blob' && tile.width === 256)).toBe(true);
      expect(seen.watch.problems()).toEqual([]);
    } finally {
      await api.stop();
    }
  });

  it("shows an XYZ basemap from the configured tile server, whose origin the CSP's img-src allows", async () => {
    const png = solidPngTile([200, 230, 200]);
    const requested: string[] = [];
    const tileServer: Server = createServer((request, response) => {
      requested.push(request.url ?? '');
      response.writeHead(200, { 'content-type': 'image/png' }).end(png);
    });
    await new Promise<void>((listening) => tileServer.listen(0, '127.0.0.1', listening));
    const tileOrigin = `http://127.0.0.1:${(tileServer.address() as AddressInfo).port}`;
    const { api, url } = await startApi(`${tileOrigin}/{z}/{x}/{y}.png`);
    try {
      const seen = await showMap(url, 'xyz');
      expect(seen.leafletCss).toBe('hidden');
      expect(requested).toContain('/0/0/0.png');
      expect(seen.tiles).toContainEqual({ src: 'http', width: 256 });
      // The tile server is the one other origin the page may reach, and only for tiles.
      expect(seen.watch.foreignRequests.every((request) => request.startsWith(`${tileOrigin}/0/`))).toBe(
        true,
      );
      expect(seen.watch.problems([/^request to another origin: http:\/\/127\.0\.0\.1:\d+\/0\//])).toEqual([]);
    } finally {
      await api.stop();
      await new Promise((closed) => tileServer.close(closed));
    }
  });
});
