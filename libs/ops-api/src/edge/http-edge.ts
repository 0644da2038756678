import type { IncomingMessage } from 'node:http';
import type { INestApplication } from '@nestjs/common';
import type { CorsOptions } from '@nestjs/common/interfaces/external/cors-options.interface';
import { IoAdapter } from '@nestjs/platform-socket.io';
import type { Express, NextFunction, Request, Response } from 'express';
import helmet from 'helmet';
import type { Server, ServerOptions } from 'socket.io';
import type { OpsApiSettings } from '../api-config';
import type { Logger } from '@ioc/runtime';
import { basemapImageOrigins, DEFAULT_CONSOLE_SETTINGS } from '../console/console-config';
import { setupConsoleFiles } from '../console/console-files';
import type { LiveAdapterFactory } from '../cluster/api-redis';
import { LIVE_ADAPTER, LOGGER, OPS_API_SETTINGS } from '../tokens';
import { DEFAULT_HTTP_EDGE, type HttpEdgeSettings, originAllowed } from './edge-config';

/** How long a browser may cache a preflight answer (seconds): 10 minutes, Chromium's cap is 2 h. */
const PREFLIGHT_MAX_AGE_SECONDS = 600;

/**
 * helmet's headers (CSP, HSTS, X-Content-Type-Options, Referrer-Policy, Cross-Origin-*-Policy,
 * X-Frame-Options…) with its default Content-Security-Policy, which the OpenAPI explorer at
 * /api/docs satisfies (its scripts and stylesheet are same-origin files, its inline <style> is
 * allowed by `style-src 'unsafe-inline'`, its icons are `data:` images), minus
 * `upgrade-insecure-requests`: the API is also served over plain HTTP on a private network, where
 * that directive would make browsers fetch the explorer's assets over HTTPS and fail.
 */
export const HELMET_OPTIONS: Parameters<typeof helmet>[0] = helmetOptions([]);

/**
 * HELMET_OPTIONS with what the operators' console needs (it has no inline script either):
 * `img-src 'self' data: blob:` — Leaflet's CSS images are `data:` URLs once bundled, and a PMTiles
 * raster basemap becomes `blob:` images — plus `imageOrigins` (the XYZ tile server's origin,
 * basemapImageOrigins); `connect-src 'self'` (REST, socket.io, the PMTiles file: same origin);
 * `worker-src 'self' blob:` (a vector basemap may decode in a worker); and, tighter than helmet's
 * defaults, styles and fonts from the platform only (`style-src 'self' 'unsafe-inline'` — Leaflet
 * positions its panes with style attributes, the explorer has an inline <style> — and
 * `font-src 'self' data:`, without helmet's `https:`): the page cannot load anything from the
 * internet, as the console must work without it.
 */
export function helmetOptions(imageOrigins: readonly string[]): Parameters<typeof helmet>[0] {
  return {
    contentSecurityPolicy: {
      useDefaults: true,
      directives: {
        upgradeInsecureRequests: null,
        imgSrc: ["'self'", 'data:', 'blob:', ...imageOrigins],
        connectSrc: ["'self'"],
        workerSrc: ["'self'", 'blob:'],
        styleSrc: ["'self'", "'unsafe-inline'"],
        fontSrc: ["'self'", 'data:'],
      },
    },
  };
}

/**
 * The API's edge, applied to the app before anything else is mounted — call it right after
 * NestFactory.create and BEFORE setupOpenApi (Express runs middleware in the order it is added,
 * and the explorer's routes must get the headers too):
 *
 * - `trust proxy` from IOC_HTTP_TRUST_PROXY, so `request.ip` is the client's behind HAProxy;
 * - helmet's security headers on every answer (HELMET_OPTIONS);
 * - `Cache-Control: no-store` on every answer under `/api/` and on `/metrics` (noStore): tokens,
 *   secrets and authenticated data must not be kept by a browser or a shared cache;
 * - the operators' console's files and the PMTiles basemap (setupConsoleFiles: before Nest's
 *   routes, so not rate limited) when `OpsApiSettings.console` names them;
 * - CORS for the origins of IOC_HTTP_CORS_ORIGINS only (none by default: no CORS headers at
 *   all), credentials allowed for them; a preflight from another origin gets no CORS header
 *   (the browser then refuses the call);
 * - the socket.io server with the same origin rule (EdgeIoAdapter), on the module's LIVE_ADAPTER
 *   (the Redis streams adapter of several API nodes) when it has one.
 *
 * The settings are the module's (`OpsApiSettings.edge`, DEFAULT_HTTP_EDGE when absent).
 */
export function setupHttpEdge(app: INestApplication): HttpEdgeSettings {
  const settings = app.get<OpsApiSettings>(OPS_API_SETTINGS, { strict: false });
  const edge = settings.edge ?? DEFAULT_HTTP_EDGE;
  const express = app.getHttpAdapter().getInstance() as Express;
  express.set('trust proxy', edge.trustProxy === false ? false : edge.trustProxy);
  express.disable('x-powered-by');
  const consoleSettings = settings.console ?? DEFAULT_CONSOLE_SETTINGS;
  app.use(helmet(helmetOptions(basemapImageOrigins(consoleSettings))));
  app.use(noStore);
  setupConsoleFiles(app, consoleSettings, app.get<Logger>(LOGGER, { strict: false }));
  if (edge.corsOrigins.length > 0) {
    const listed: CorsOptions = {
      origin: true,
      credentials: true,
      methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'],
      allowedHeaders: ['Authorization', 'Content-Type', 'X-API-Key'],
      exposedHeaders: ['Retry-After', 'Content-Disposition', 'Location'],
      maxAge: PREFLIGHT_MAX_AGE_SECONDS,
    };
    app.enableCors((request: Request, callback: (error: Error | null, options: CorsOptions) => void) => {
      const origin = request.header('origin');
      callback(null, origin !== undefined && edge.corsOrigins.includes(origin) ? listed : { origin: false });
    });
  }
  const liveAdapter = app.get<LiveAdapterFactory | null>(LIVE_ADAPTER, { strict: false });
  app.useWebSocketAdapter(new EdgeIoAdapter(app, edge.corsOrigins, liveAdapter ?? undefined));
  return edge;
}

/**
 * `Cache-Control: no-store` on every answer (errors included), set before the route runs (a route
 * may still set its own). Answers carry access and refresh tokens, API keys and MQTT secrets
 * (RFC 6749 §5.1: a token answer MUST carry `Cache-Control: no-store`) and data read with a
 * principal's credentials, which no cache may serve to anyone else (RFC 9111 §5.2.2.5). Every
 * answer rather than a list of paths: Express matches routes ignoring case and a trailing slash
 * (`/API/v1/auth/login/`), so a prefix test would miss some; `/health` and the OpenAPI document
 * lose nothing by not being cached.
 */
export function noStore(_request: Request, response: Response, next: NextFunction): void {
  response.setHeader('Cache-Control', 'no-store');
  next();
}

/**
 * The socket.io adapter of the API: every namespace's server gets the edge's origin rule instead
 * of what a gateway's decorator says. A handshake (HTTP long-polling or WebSocket upgrade) whose
 * `Origin` is neither listed nor the API's own (same Host) is refused with 403 by socket.io's
 * `allowRequest`; one without `Origin` (not a browser: a service with a token) passes. Listed
 * origins get CORS headers with credentials on the polling transport. `liveAdapter` (when given)
 * is socket.io's adapter for every namespace (several API nodes: the Redis streams adapter).
 */
export class EdgeIoAdapter extends IoAdapter {
  constructor(
    app: INestApplication,
    private readonly corsOrigins: readonly string[],
    private readonly liveAdapter?: LiveAdapterFactory,
  ) {
    super(app);
  }

  override createIOServer(port: number, options?: ServerOptions): Server {
    const corsOrigins = this.corsOrigins;
    return super.createIOServer(port, {
      ...options,
      ...(this.liveAdapter ? { adapter: this.liveAdapter } : {}),
      cors: corsOrigins.length > 0 ? { origin: [...corsOrigins], credentials: true } : { origin: false },
      allowRequest: (
        request: IncomingMessage,
        callback: (error: string | null | undefined, ok: boolean) => void,
      ) => {
        const origin = request.headers.origin;
        callback(null, originAllowed(origin, request.headers.host, corsOrigins));
      },
    } as ServerOptions);
  }
}
