/// <reference types="node" />
// Browser test of the map library: builds the demo page (demo/) with Vite, serves it and a PNG tile
// server on loopback ports, and drives it in Debian's Chromium through playwright-core like a
// person would (mouse, keyboard). Skipped, with the reason printed, when /usr/bin/chromium is
// missing — except in CI (CI=true), where that fails.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { extname, join, normalize } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';

const CHROMIUM = process.env.IOC_CHROMIUM ?? '/usr/bin/chromium';
const WORKSPACE = join(__dirname, '..', '..', '..');
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium && process.env.CI === 'true') {
  throw new Error(`${CHROMIUM} is missing: CI must run the browser tests (apt-get install chromium)`);
}
if (!haveChromium) console.warn(`console-map browser tests skipped: ${CHROMIUM} is missing`);
const describeBrowser = haveChromium ? describe : describe.skip;

/** A 1×1 PNG (any valid image will do for Leaflet). */
const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=',
  'base64',
);
const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript',
  '.css': 'text/css',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
};
/** Devices in the demo page (`?n=`): 500 → device i has type index i % 11; cameras are i % 11 == 10. */
const N = 500;
const CAMERAS = Array.from({ length: N }, (_, i) => i).filter((i) => i % 11 === 10).length;

/**
 * A PMTiles v3 archive (spec: github.com/protomaps/PMTiles/blob/main/spec/v3/spec.md) holding one
 * PNG tile at z0: 127-byte header, root directory (one entry, uncompressed), metadata `{}`, tile.
 */
function pmtilesArchive(tile: Buffer, tileType: 1 | 2): Buffer {
  // Root directory: entry count, tile id delta (0), run length (1), length, offset + 1 (all < 128: one varint byte each).
  if (tile.length >= 128) throw new Error('the test tile must be under 128 bytes');
  const directory = Buffer.from([1, 0, 1, tile.length, 1]);
  const metadata = Buffer.from('{}');
  const header = Buffer.alloc(127);
  header.write('PMTiles', 0, 'ascii');
  header.writeUInt8(3, 7);
  const u64 = (offset: number, value: number): void => {
    header.writeBigUInt64LE(BigInt(value), offset);
  };
  u64(8, 127); // root directory offset
  u64(16, directory.length);
  u64(24, 127 + directory.length); // metadata offset
  u64(32, metadata.length);
  u64(40, 0); // leaf directories: none
  u64(48, 0);
  u64(56, 127 + directory.length + metadata.length); // tile data offset
  u64(64, tile.length);
  u64(72, 1); // addressed tiles
  u64(80, 1); // tile entries
  u64(88, 1); // tile contents
  header.writeUInt8(1, 96); // clustered
  header.writeUInt8(1, 97); // internal compression: none
  header.writeUInt8(1, 98); // tile compression: none
  header.writeUInt8(tileType, 99); // tile type: 1 MVT, 2 PNG
  header.writeUInt8(0, 100); // min zoom
  header.writeUInt8(0, 101); // max zoom
  header.writeInt32LE(-180e7, 102);
  header.writeInt32LE(-85e7, 106);
  header.writeInt32LE(180e7, 110);
  header.writeInt32LE(85e7, 114);
  header.writeUInt8(0, 118);
  header.writeInt32LE(106e7, 119);
  header.writeInt32LE(11e7, 123);
  return Buffer.concat([header, directory, metadata, tile]);
}
/**
 * A Mapbox Vector Tile (spec 2.1, protobuf) with one empty layer `earth`: Tile.layers (field 3) =
 * Layer { name (1) = "earth", extent (5) = 4096, version (15) = 2 }.
 */
const MVT = Buffer.from([0x1a, 0x0c, 0x0a, 0x05, ...Buffer.from('earth'), 0x28, 0x80, 0x20, 0x78, 0x02]);
const ARCHIVES: Record<string, Buffer> = {
  '/basemap/basemap.pmtiles': pmtilesArchive(PNG, 2),
  '/basemap/vector.pmtiles': pmtilesArchive(MVT, 1),
};

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describeBrowser('device map in Chromium', () => {
  let outDir: string;
  let site: Server;
  let tiles: Server;
  let siteOrigin: string;
  let tileOrigin: string;
  const tileRequests: string[] = [];
  const archiveRequests: string[] = [];
  let browser: Browser;

  beforeAll(async () => {
    outDir = mkdtempSync(join(tmpdir(), 'ioc-map-demo-'));
    const build = spawnSync(
      process.execPath,
      [
        join(WORKSPACE, 'node_modules', 'vite', 'bin', 'vite.js'),
        'build',
        '--config',
        join(WORKSPACE, 'libs', 'console-map', 'demo', 'vite.config.mjs'),
        '--outDir',
        outDir,
      ],
      {
        cwd: WORKSPACE,
        env: { ...process.env, IOC_CONSOLE_BUILD_QUIET: 'true' },
        encoding: 'utf8',
        timeout: 200_000,
      },
    );
    if (build.status !== 0) throw new Error(`demo build failed: ${build.stderr}${build.stdout}`);
    site = createServer((req, res) => {
      const ARCHIVE = ARCHIVES[req.url ?? ''];
      if (ARCHIVE !== undefined) {
        archiveRequests.push(req.headers.range ?? '');
        const range = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '');
        if (range === null) {
          res.writeHead(200, { 'content-length': ARCHIVE.length }).end(ARCHIVE);
          return;
        }
        const start = Number(range[1]);
        const end = Math.min(Number(range[2]), ARCHIVE.length - 1);
        res
          .writeHead(206, {
            'content-range': `bytes ${start}-${end}/${ARCHIVE.length}`,
            'content-length': end - start + 1,
            'content-type': 'application/octet-stream',
          })
          .end(ARCHIVE.subarray(start, end + 1));
        return;
      }
      const path = normalize(decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname)).replace(
        /^(\.\.[/\\])+/,
        '',
      );
      const file = join(outDir, path === '/' ? 'index.html' : path);
      if (!file.startsWith(outDir) || !existsSync(file) || (path.endsWith('/') && path !== '/')) {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' });
      res.end(readFileSync(file));
    });
    tiles = createServer((req, res) => {
      tileRequests.push(req.url ?? '');
      if (!/^\/tiles\/\d+\/\d+\/\d+\.png$/.test(req.url ?? '')) {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'image/png', 'access-control-allow-origin': '*' }).end(PNG);
    });
    siteOrigin = await listen(site);
    tileOrigin = await listen(tiles);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  }, 240_000);

  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => site?.close(resolve));
    await new Promise((resolve) => tiles?.close(resolve));
    if (outDir) rmSync(outDir, { recursive: true, force: true });
  });

  /** Opens the demo; returns the page and every URL it requested. */
  async function open(query: string): Promise<{ page: Page; requests: string[]; errors: string[] }> {
    const page = await browser.newPage({ viewport: { width: 1366, height: 768 } });
    const requests: string[] = [];
    const errors: string[] = [];
    page.on('request', (request) => requests.push(request.url()));
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(`${siteOrigin}/?n=${N}&${query}`);
    await page.waitForSelector('.ioc-cluster, .ioc-marker');
    return { page, requests, errors };
  }

  async function shownCount(page: Page): Promise<number> {
    return page.evaluate(() => {
      const clusters = [...document.querySelectorAll<HTMLElement>('.ioc-cluster')];
      return (
        clusters.reduce((sum, el) => sum + Number(el.dataset['count']), 0) +
        document.querySelectorAll('.ioc-map .ioc-marker[data-device-id]').length
      );
    });
  }

  it('renders every device as clusters and markers with the DOM contract, fetching nothing else (basemap none)', async () => {
    const { page, requests, errors } = await open('basemap=none');
    try {
      expect(await shownCount(page)).toBe(N);
      const clusters = await page.$$eval('.ioc-cluster', (els) =>
        els.map((el) => ({
          count: el.getAttribute('data-count'),
          state: el.getAttribute('data-state'),
          role: el.getAttribute('role'),
          label: el.getAttribute('aria-label'),
        })),
      );
      expect(clusters.length).toBeGreaterThan(0);
      for (const cluster of clusters) {
        expect(Number(cluster.count)).toBeGreaterThan(1);
        expect(['alerting', 'offline', 'unknown', 'online', 'inactive']).toContain(cluster.state);
        expect(cluster.role).toBe('button');
        expect(cluster.label).toContain(cluster.count);
      }
      // Area centres are labelled (districts at this zoom).
      expect(await page.locator('.ioc-area-label', { hasText: 'Hòa Thành' }).count()).toBeGreaterThan(0);
      // Clicking a cluster zooms in to where it splits: more, smaller items.
      const items = (): Promise<number> =>
        page.evaluate(
          () => document.querySelectorAll('.ioc-cluster, .ioc-map .ioc-marker[data-device-id]').length,
        );
      const before = await items();
      const largest = Math.max(...clusters.map((c) => Number(c.count)));
      await page.locator('.ioc-cluster').first().focus();
      await page.keyboard.press('Enter');
      await page.waitForFunction(
        ([count, max]) =>
          document.querySelectorAll('.ioc-cluster, .ioc-map .ioc-marker[data-device-id]').length > count &&
          [...document.querySelectorAll<HTMLElement>('.ioc-cluster')].every(
            (el) => Number(el.dataset['count']) <= max,
          ),
        [before, largest] as const,
      );
      expect(await items()).toBeGreaterThan(before);
      expect(requests.filter((url) => !url.startsWith(siteOrigin))).toEqual([]);
      expect(requests.filter((url) => /\/tiles\//.test(url))).toEqual([]);
      expect(errors).toEqual([]);
    } finally {
      await page.close();
    }
  }, 60_000);

  it('search by id with the keyboard focuses the marker; a state update changes its data-state; Enter selects', async () => {
    const { page } = await open('basemap=none');
    try {
      await page.locator('[data-testid=map-search]').click();
      await page.keyboard.type('AQ-00000');
      await page.waitForSelector('[role=listbox] [role=option][data-device-id="aq-00000"]');
      await page.keyboard.press('ArrowDown');
      await page.keyboard.press('Enter');
      const marker = page.locator('.ioc-marker[data-device-id="aq-00000"]');
      await marker.waitFor();
      await page.waitForFunction(() => document.activeElement?.getAttribute('data-device-id') === 'aq-00000');
      expect(await page.locator('[data-testid=demo-selected]').textContent()).toBe('aq-00000');
      expect(await marker.getAttribute('role')).toBe('button');
      expect(await marker.getAttribute('tabindex')).toBe('0');
      expect(await marker.getAttribute('data-domain')).toBe('env');
      expect(await marker.getAttribute('data-type')).toBe('air-quality-station');
      expect(await marker.getAttribute('aria-label')).toMatch(/^Trạm quan trắc không khí .+ 0, /);
      expect(await page.locator('.ioc-map-tooltip').textContent()).toContain('aq-00000');
      const initial = await marker.getAttribute('data-state');
      expect(initial).not.toBe('alerting');

      await page.locator('[data-testid=demo-alert]').click();
      await page.waitForFunction(
        () =>
          document.querySelector('.ioc-marker[data-device-id="aq-00000"]')?.getAttribute('data-state') ===
          'alerting',
        undefined,
        { timeout: 2000 },
      );
      expect(await marker.getAttribute('data-severity')).toBe('critical');
      expect(await marker.getAttribute('aria-label')).toContain('Đang cảnh báo');

      // Stations with an AQI carry the band as data and as words.
      for (const label of await page.$$eval('.ioc-marker[data-aqi-band]', (els) =>
        els.map((el) => el.getAttribute('aria-label')),
      )) {
        expect(label).toMatch(/AQI \d+ \((Tốt|Trung bình|Kém|Xấu|Rất xấu|Nguy hại)\)/);
      }

      await page
        .locator('[data-testid=demo-selected]')
        .evaluate((el) => ((el as HTMLOutputElement).value = ''));
      await marker.focus();
      await page.keyboard.press('Enter');
      expect(await page.locator('[data-testid=demo-selected]').textContent()).toBe('aq-00000');
      await page
        .locator('[data-testid=demo-selected]')
        .evaluate((el) => ((el as HTMLOutputElement).value = ''));
      await page.keyboard.press(' ');
      expect(await page.locator('[data-testid=demo-selected]').textContent()).toBe('aq-00000');
      await page
        .locator('[data-testid=demo-selected]')
        .evaluate((el) => ((el as HTMLOutputElement).value = ''));
      await marker.click();
      expect(await page.locator('[data-testid=demo-selected]').textContent()).toBe('aq-00000');
    } finally {
      await page.close();
    }
  }, 60_000);

  it('a live state change inside a cluster turns that cluster alerting, and only that one', async () => {
    const { page } = await open('basemap=none');
    try {
      await page.locator('[data-testid=map-search]').fill('aq-00000');
      await page.keyboard.press('Enter');
      await page.locator('.ioc-marker[data-device-id="aq-00000"]').waitFor();
      // Zoom out a level at a time until the station is inside a cluster.
      const marker = page.locator('.ioc-marker[data-device-id="aq-00000"]');
      for (let zoomOuts = 0; (await marker.count()) > 0; zoomOuts++) {
        expect(zoomOuts).toBeLessThan(10);
        await page.locator('.leaflet-control-zoom-out').click();
        await page.waitForFunction(() => !document.querySelector('.leaflet-zoom-anim'));
        // The map redraws on the animation frame after the zoom ends: wait two frames.
        await page.evaluate(
          () => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve))),
        );
      }
      const states = (): Promise<string[]> =>
        page.$$eval('.ioc-cluster', (els) =>
          els.map((el) => `${el.dataset['count']}:${el.dataset['state']}`),
        );
      const before = await states();
      const alertingBefore = before.filter((s) => s.endsWith(':alerting')).length;
      expect(alertingBefore).toBeLessThan(before.length);
      await page.locator('[data-testid=demo-alert]').click();
      await page.waitForFunction(
        (n) => document.querySelectorAll('.ioc-cluster[data-state="alerting"]').length === n + 1,
        alertingBefore,
        { timeout: 2000 },
      );
      const after = await states();
      // Same clusters with the same counts (no re-clustering); exactly one changed its state.
      expect(after.map((s) => s.split(':')[0])).toEqual(before.map((s) => s.split(':')[0]));
      expect(after.filter((s, i) => s !== before[i])).toHaveLength(1);
    } finally {
      await page.close();
    }
  }, 60_000);

  it('search is diacritics-insensitive and the listbox works with arrow keys', async () => {
    const { page } = await open('basemap=none');
    try {
      const input = page.locator('[data-testid=map-search]');
      await input.click();
      await page.keyboard.type('hoa thanh');
      const options = page.locator('[role=listbox] [role=option]');
      await options.first().waitFor();
      const names = await options.locator('.ioc-map-search__name').allTextContents();
      expect(names.length).toBeGreaterThan(1);
      for (const name of names) expect(name).toContain('Hòa Thành');
      expect(await input.getAttribute('aria-expanded')).toBe('true');
      // The areas come first (data-area-id), then the devices.
      const areas = await page.locator('[role=listbox] [role=option][data-area-id]').count();
      expect(areas).toBeGreaterThan(0);
      expect(await options.first().getAttribute('data-area-id')).not.toBeNull();
      for (let i = 0; i < areas + 2; i++) await page.keyboard.press('ArrowDown');
      const second = await options.nth(areas + 1).getAttribute('data-device-id');
      expect(second).not.toBeNull();
      expect(await input.getAttribute('aria-activedescendant')).toBe(
        await options.nth(areas + 1).getAttribute('id'),
      );
      await page.keyboard.press('Enter');
      expect(await page.locator('[data-testid=demo-selected]').textContent()).toBe(second);
      await page.waitForFunction(
        (id) => document.activeElement?.getAttribute('data-device-id') === id,
        second,
      );

      await input.fill('');
      await input.click();
      await page.keyboard.type('dem xe duong');
      await options.first().waitFor();
      for (const name of await options.locator('.ioc-map-search__name').allTextContents()) {
        expect(name).toMatch(/^Đếm xe đường /);
      }
    } finally {
      await page.close();
    }
  }, 60_000);

  it('the filter works with the keyboard: domain check box, area select; the legend names every state and band', async () => {
    const { page } = await open('basemap=none');
    try {
      const filter = page.locator('[data-testid=map-filter]');
      await filter.locator('summary').focus();
      await page.keyboard.press('Enter');
      await filter.locator('input[name=domain][value=camera]').focus();
      await page.keyboard.press('Space');
      await page.waitForFunction(
        (cameras) => {
          const clusters = [...document.querySelectorAll<HTMLElement>('.ioc-cluster')];
          const markers = [...document.querySelectorAll<HTMLElement>('.ioc-map .ioc-marker[data-device-id]')];
          return (
            clusters.reduce((s, el) => s + Number(el.dataset['count']), 0) + markers.length === cameras &&
            markers.every((el) => el.dataset['domain'] === 'camera')
          );
        },
        CAMERAS,
        { timeout: 5000 },
      );
      expect(await filter.locator('output').textContent()).toContain(`${CAMERAS}/${N}`);

      await filter.locator('select[name=area]').focus();
      await filter.locator('select[name=area]').selectOption('hoa-thanh');
      await page.waitForFunction((cameras) => {
        const clusters = [...document.querySelectorAll<HTMLElement>('.ioc-cluster')];
        const shown =
          clusters.reduce((s, el) => s + Number(el.dataset['count']), 0) +
          document.querySelectorAll('.ioc-map .ioc-marker[data-device-id]').length;
        return shown > 0 && shown < cameras;
      }, CAMERAS);

      await filter.locator('.ioc-map-filter__reset').focus();
      await page.keyboard.press('Enter');
      await page.waitForFunction((n) => {
        const clusters = [...document.querySelectorAll<HTMLElement>('.ioc-cluster')];
        return (
          clusters.reduce((s, el) => s + Number(el.dataset['count']), 0) +
            document.querySelectorAll('.ioc-map .ioc-marker[data-device-id]').length ===
          n
        );
      }, N);

      await page.locator('.ioc-map-legend summary').click();
      const legend = await page.locator('.ioc-map-legend').textContent();
      for (const word of [
        'Đang cảnh báo',
        'Mất kết nối',
        'Chưa rõ',
        'Trực tuyến',
        'Ngừng hoạt động',
        'Tốt',
        'Nguy hại',
        'Chiếu sáng',
      ]) {
        expect(legend).toContain(word);
      }
      await page.locator('[data-testid=demo-locale]').click();
      expect(await page.locator('[data-testid=map-search]').getAttribute('placeholder')).toBe(
        'Find a device or an area',
      );
      expect(await page.locator('.ioc-map-legend').textContent()).toContain('Hazardous');
    } finally {
      await page.close();
    }
  }, 60_000);

  it('an xyz basemap fetches tiles only from the configured origin', async () => {
    tileRequests.length = 0;
    const template = `${tileOrigin}/tiles/{z}/{x}/{y}.png`;
    const attribution = '<b>Bản đồ</b> <img src=x onerror="document.title=1"> ©';
    const { page, requests, errors } = await open(
      `basemap=xyz&maxZoom=12&tiles=${encodeURIComponent(template)}&attribution=${encodeURIComponent(attribution)}`,
    );
    try {
      const deadline = Date.now() + 10_000;
      while (tileRequests.length === 0 && Date.now() < deadline) await page.waitForTimeout(50);
      expect(tileRequests.length).toBeGreaterThan(0);
      for (const url of tileRequests) expect(url).toMatch(/^\/tiles\/\d+\/\d+\/\d+\.png$/);
      // The attribution is text, never markup.
      const control = page.locator('.leaflet-control-attribution');
      expect(await control.textContent()).toContain('<b>Bản đồ</b>');
      expect(await control.locator('b, img').count()).toBe(0);
      // Past the basemap's maxZoom (12) tiles are magnified, never requested; focus zooms to 16,
      // where the camera is its own marker.
      await page.locator('[data-testid=map-search]').fill('cam-00010');
      await page.keyboard.press('Enter');
      await page.locator('.ioc-marker[data-device-id="cam-00010"]').waitFor();
      for (const url of tileRequests) expect(Number(url.split('/')[2])).toBeLessThanOrEqual(12);
      const foreign = requests.filter(
        (url) => !url.startsWith(siteOrigin) && !url.startsWith(`${tileOrigin}/tiles/`),
      );
      expect(foreign).toEqual([]);
      expect(errors).toEqual([]);
    } finally {
      await page.close();
    }
  }, 60_000);

  it('a raster PMTiles basemap reads the archive from its URL with range requests and draws its tile', async () => {
    archiveRequests.length = 0;
    const { page, requests, errors } = await open('basemap=pmtiles&pmtiles=/basemap/basemap.pmtiles');
    try {
      await page.waitForFunction(
        () => document.querySelectorAll('.leaflet-tile-pane img.leaflet-tile[src^="blob:"]').length > 0,
        undefined,
        { timeout: 10_000 },
      );
      expect(archiveRequests.length).toBeGreaterThan(0);
      for (const range of archiveRequests) expect(range).toMatch(/^bytes=\d+-\d+$/);
      expect(await page.locator('.ioc-map').evaluate((el) => el.classList.contains('ioc-map--plain'))).toBe(
        false,
      );
      const foreign = requests.filter(
        (url) => !url.startsWith(siteOrigin) && !url.startsWith(`blob:${siteOrigin}`),
      );
      expect(foreign).toEqual([]);
      expect(errors).toEqual([]);
    } finally {
      await page.close();
    }
  }, 60_000);

  it('a vector PMTiles basemap is drawn by protomaps-leaflet with nothing fetched but the archive', async () => {
    archiveRequests.length = 0;
    const { page, requests, errors } = await open('basemap=pmtiles&pmtiles=/basemap/vector.pmtiles');
    try {
      await page.waitForFunction(
        () => document.querySelectorAll('.leaflet-tile-pane canvas').length > 0,
        undefined,
        {
          timeout: 10_000,
        },
      );
      expect(archiveRequests.length).toBeGreaterThan(0);
      expect(await page.locator('.ioc-map').evaluate((el) => el.classList.contains('ioc-map--plain'))).toBe(
        false,
      );
      const foreign = requests.filter(
        (url) => !url.startsWith(siteOrigin) && !url.startsWith(`blob:${siteOrigin}`),
      );
      expect(foreign).toEqual([]);
      expect(errors).toEqual([]);
    } finally {
      await page.close();
    }
  }, 60_000);
});
