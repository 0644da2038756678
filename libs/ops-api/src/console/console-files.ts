import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { INestApplication } from '@nestjs/common';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { Logger } from '@ioc/runtime';
import { type ConsoleSettings, PMTILES_BASEMAP_PATH } from './console-config';

/** `index.html`: revalidated on every load, so a new build is picked up at the next reload. */
export const INDEX_CACHE_CONTROL = 'no-cache';
/** Vite's content-hashed files under `/assets/`: a new build has new names, so they never change (RFC 8246). */
export const ASSET_CACHE_CONTROL = 'public, max-age=31536000, immutable';
/** The PMTiles basemap: an hour, as it changes only when an operator replaces the file. */
export const BASEMAP_CACHE_CONTROL = 'public, max-age=3600';

/** Paths the API answers itself, never the console's directory. */
const API_PATHS = /^\/(api|health|metrics|socket\.io|basemap)(\/|$)/i;

/** What `GET /` answers (503) when the console directory has no index.html. */
export const CONSOLE_NOT_BUILT_TEXT = 'console not built — run `npm run build:console` (npm start builds it)';

/**
 * Mounts the operators' console's files on the app's Express instance — called by setupHttpEdge
 * after the security headers, so every answer has them, and before Nest's routes, so static files
 * are not counted by the API's rate limits:
 *
 * - `settings.dir` (when not null): `GET|HEAD /` and `/index.html` answer index.html with
 *   `Cache-Control: no-cache`; `/assets/*` with `public, max-age=31536000, immutable`; other
 *   files of the directory with `no-cache`. No SPA fallback: any other path goes on to Nest (404).
 *   Without index.html, `/` and `/index.html` answer 503 with CONSOLE_NOT_BUILT_TEXT, and one
 *   warning is logged now.
 * - a pmtiles basemap: `GET|HEAD /basemap/basemap.pmtiles` answers the file with byte ranges
 *   (RFC 9110 §14: 206, `Accept-Ranges: bytes`, `Content-Range`) and `public, max-age=3600`.
 */
export function setupConsoleFiles(app: INestApplication, settings: ConsoleSettings, logger?: Logger): void {
  const { basemap } = settings;
  if (basemap.kind === 'pmtiles') {
    app.use(PMTILES_BASEMAP_PATH, (request: Request, response: Response, next: NextFunction) => {
      // Mounted at the exact path: anything after it (`/basemap/basemap.pmtiles/x`) is another path.
      if ((request.method !== 'GET' && request.method !== 'HEAD') || request.path !== '/') return next();
      response.sendFile(
        basemap.file,
        {
          acceptRanges: true,
          cacheControl: false,
          dotfiles: 'allow',
          headers: { 'Cache-Control': BASEMAP_CACHE_CONTROL, 'Content-Type': 'application/vnd.pmtiles' },
        },
        (error?: Error & { status?: number; headers?: Record<string, string> }) => {
          if (!error || response.headersSent) return;
          // send's refusals: 416 with `Content-Range: bytes */<size>` (RFC 9110 §15.5.17), 404
          // when the file went away; anything else is the server's fault.
          const status = error.status ?? 500;
          if (status >= 500) return next(error);
          for (const [name, value] of Object.entries(error.headers ?? {})) response.setHeader(name, value);
          response
            .status(status)
            .type('text/plain; charset=utf-8')
            .send(status === 416 ? 'range not satisfiable\n' : 'basemap file missing\n');
        },
      );
    });
  }
  const dir = settings.dir;
  if (dir === null) return;
  if (!existsSync(join(dir, 'index.html'))) {
    logger?.warn({ dir }, `${CONSOLE_NOT_BUILT_TEXT}: GET / answers 503 until it is built`);
  }
  const files = express.static(dir, {
    index: 'index.html',
    redirect: false,
    dotfiles: 'ignore',
    fallthrough: true,
    cacheControl: false,
    setHeaders: (response: Response, path: string) => {
      const assets = join(dir, 'assets') + '/';
      response.setHeader(
        'Cache-Control',
        path.startsWith(assets) ? ASSET_CACHE_CONTROL : INDEX_CACHE_CONTROL,
      );
    },
  });
  // The API's own paths never touch the disk (and no file there could shadow them).
  app.use((request: Request, response: Response, next: NextFunction) =>
    API_PATHS.test(request.path) ? next() : files(request, response, next),
  );
  // Reached only when the file is missing: the directory exists but the build did not run (yet).
  app.use((request: Request, response: Response, next: NextFunction) => {
    if (request.method !== 'GET' && request.method !== 'HEAD') return next();
    if (request.path !== '/' && request.path !== '/index.html') return next();
    response
      .status(503)
      .type('text/plain; charset=utf-8')
      .setHeader('Retry-After', '60')
      .send(`${CONSOLE_NOT_BUILT_TEXT}\n`);
  });
}
