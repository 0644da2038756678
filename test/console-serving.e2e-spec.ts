import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import {
  API_ENTRY,
  buildConsole,
  describeWithBrowser,
  launchBrowser,
  type RunningPlatform,
  startPlatform,
  startService,
  watchPage,
} from '@ioc/testing';

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
