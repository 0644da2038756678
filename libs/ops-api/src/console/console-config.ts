import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { z } from 'zod';
import {
  type ConsoleConfigBody,
  type ConsoleLocale,
  CONSOLE_LOCALES,
  unsafeCharacterMessage,
} from '@ioc/contracts';
import { envField } from '@ioc/runtime';

/** The workspace root (libs/ops-api/src/console → four levels up). */
const WORKSPACE_ROOT = resolve(__dirname, '..', '..', '..', '..');

/** Where `npm run build:console` writes the operators' console (apps/console/vite.config.mjs). */
export const DEFAULT_CONSOLE_DIR = resolve(WORKSPACE_ROOT, 'dist', 'apps', 'console');

/** Where the API serves a PMTiles basemap (same origin: the page's CSP needs nothing more). */
export const PMTILES_BASEMAP_PATH = '/basemap/basemap.pmtiles';

/**
 * Leaflet's usual raster limit: OpenStreetMap's standard tile layer goes to zoom 19, and most
 * XYZ servers a province runs (a copy of it) too. Used for xyz, and for a PMTiles archive whose
 * header cannot be read.
 */
export const DEFAULT_BASEMAP_MAX_ZOOM = 19;

/** The map's background as the API knows it: a pmtiles basemap also names its file on disk. */
export type BasemapSettings =
  | { kind: 'none' }
  | { kind: 'xyz'; url: string; attribution: string; maxZoom: number }
  | { kind: 'pmtiles'; file: string; attribution: string; maxZoom: number };

/**
 * The operators' console as the API serves it (OpsApiSettings.console): the static files, the
 * basemap, and the defaults `GET /api/v1/console/config` answers.
 */
export interface ConsoleSettings {
  /** Absolute directory of the built console (index.html, assets/); null: no console at `/`. */
  dir: string | null;
  basemap: BasemapSettings;
  defaultLocale: ConsoleLocale;
  alerts: { sound: boolean; browserNotifications: boolean };
}

/** No console files, a plain background, Vietnamese, sound and notifications on. */
export const DEFAULT_CONSOLE_SETTINGS: ConsoleSettings = {
  dir: null,
  basemap: { kind: 'none' },
  defaultLocale: 'vi',
  alerts: { sound: true, browserNotifications: true },
};

/**
 * PMTiles v3 header (the `pmtiles` package's bytesToHeader, spec v3 §3): 127 bytes, magic
 * "PMTiles" at 0–6, spec version at 7, min zoom at byte 100, max zoom at byte 101.
 */
export const PMTILES_HEADER_BYTES = 127;
const PMTILES_MAGIC = 'PMTiles';
const PMTILES_MAX_ZOOM_OFFSET = 101;

/**
 * The max zoom of a PMTiles v3 archive, read from its header (127 bytes at the start of the file).
 * @returns the zoom (0–255 as stored), or undefined when the file is not a v3 archive or is shorter
 *   than a header
 * @throws the fs error when the file cannot be opened or read
 */
export function readPmtilesMaxZoom(file: string): number | undefined {
  const header = Buffer.alloc(PMTILES_HEADER_BYTES);
  const fd = openSync(file, 'r');
  let read: number;
  try {
    read = readSync(fd, header, 0, PMTILES_HEADER_BYTES, 0);
  } finally {
    closeSync(fd);
  }
  if (read < PMTILES_HEADER_BYTES) return undefined;
  if (header.toString('latin1', 0, 7) !== PMTILES_MAGIC || header[7] !== 3) return undefined;
  return header[PMTILES_MAX_ZOOM_OFFSET];
}

/** IOC_CONSOLE_BASEMAP parsed: what kind, and for pmtiles the file and its header's max zoom. */
export type BasemapSource =
  | { kind: 'none' }
  | { kind: 'xyz'; url: string }
  | { kind: 'pmtiles'; file: string; headerMaxZoom: number | undefined };

/**
 * Parses IOC_CONSOLE_BASEMAP: `none`; an `http(s)://` URL template containing `{z}`, `{x}` and
 * `{y}` (xyz; `{s}` and `{r}` as Leaflet reads them may appear too); or a path ending `.pmtiles`
 * to a readable file (relative to the working directory), whose header gives the max zoom.
 * @returns the source, or the problem as text
 */
export function parseBasemap(text: string): BasemapSource | { error: string } {
  const value = text.trim();
  if (value === 'none') return { kind: 'none' };
  if (/^https?:\/\//i.test(value)) {
    let url: URL;
    try {
      url = new URL(value.replace(/\{[a-z]\}/g, '0'));
    } catch {
      return { error: `"${value}" is not a URL` };
    }
    if (url.username !== '' || url.password !== '')
      return { error: 'a tile URL must not carry credentials (every browser would see them)' };
    const missing = ['{z}', '{x}', '{y}'].filter((part) => !value.includes(part));
    if (missing.length > 0)
      return { error: `an XYZ tile URL template needs {z}, {x} and {y}; ${missing.join(', ')} missing` };
    return { kind: 'xyz', url: value };
  }
  if (value.toLowerCase().endsWith('.pmtiles')) {
    const file = isAbsolute(value) ? value : resolve(value);
    try {
      if (!statSync(file).isFile()) return { error: `${file} is not a file` };
      return { kind: 'pmtiles', file, headerMaxZoom: readPmtilesMaxZoom(file) };
    } catch (error) {
      return { error: `cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}` };
    }
  }
  return {
    error:
      'expected none, an http(s):// XYZ tile URL template with {z}, {x} and {y}, or the path of a .pmtiles file',
  };
}

/** Environment variables of the operators' console (merged into apiEnvSchema). */
export const consoleEnvShape = {
  IOC_CONSOLE_DIR: z
    .string()
    .default(DEFAULT_CONSOLE_DIR)
    .transform((text) => (text === 'off' ? null : resolve(text)))
    .describe(
      'Directory of the built operators\' console served at / (default dist/apps/console, which npm start builds); "off": no console',
    ),
  IOC_CONSOLE_BASEMAP: z
    .string()
    .default('none')
    .transform((text, ctx) => {
      const parsed = parseBasemap(text);
      if ('error' in parsed) {
        ctx.addIssue({ code: 'custom', message: parsed.error });
        return z.NEVER;
      }
      return parsed;
    })
    .describe(
      "The console map's background: none (plain), an http(s):// XYZ tile URL template with {z}/{x}/{y}, or the path of a self-hosted .pmtiles file (served at /basemap/basemap.pmtiles)",
    ),
  IOC_CONSOLE_BASEMAP_ATTRIBUTION: z
    .string()
    .max(500)
    .default('')
    .superRefine((text, ctx) => {
      const problem = unsafeCharacterMessage(text);
      if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
    })
    .describe('Attribution text shown on the map for the basemap (plain text)'),
  IOC_CONSOLE_BASEMAP_MAX_ZOOM: z.coerce
    .number()
    .int()
    .min(0)
    .max(24)
    .optional()
    .describe(
      "Highest zoom of the basemap (0-24); default 19 for xyz, the PMTiles header's max zoom for pmtiles",
    ),
  IOC_CONSOLE_LOCALE: z
    .enum(CONSOLE_LOCALES)
    .default('vi')
    .describe('Language of the console before a person picks one: vi or en'),
  IOC_CONSOLE_ALERT_SOUND: envField
    .boolean(true)
    .describe('The console plays a sound when a critical alert fires'),
  IOC_CONSOLE_BROWSER_NOTIFICATIONS: envField
    .boolean(true)
    .describe('The console offers browser notifications for critical alerts'),
};

/** The console's settings from the API's parsed environment (consoleEnvShape). */
export function consoleSettingsFromEnv(env: {
  IOC_CONSOLE_DIR: string | null;
  IOC_CONSOLE_BASEMAP: BasemapSource;
  IOC_CONSOLE_BASEMAP_ATTRIBUTION: string;
  IOC_CONSOLE_BASEMAP_MAX_ZOOM?: number | undefined;
  IOC_CONSOLE_LOCALE: ConsoleLocale;
  IOC_CONSOLE_ALERT_SOUND: boolean;
  IOC_CONSOLE_BROWSER_NOTIFICATIONS: boolean;
}): ConsoleSettings {
  const source = env.IOC_CONSOLE_BASEMAP;
  const attribution = env.IOC_CONSOLE_BASEMAP_ATTRIBUTION;
  const basemap: BasemapSettings =
    source.kind === 'none'
      ? { kind: 'none' }
      : source.kind === 'xyz'
        ? {
            kind: 'xyz',
            url: source.url,
            attribution,
            maxZoom: env.IOC_CONSOLE_BASEMAP_MAX_ZOOM ?? DEFAULT_BASEMAP_MAX_ZOOM,
          }
        : {
            kind: 'pmtiles',
            file: source.file,
            attribution,
            maxZoom:
              env.IOC_CONSOLE_BASEMAP_MAX_ZOOM ??
              Math.min(24, source.headerMaxZoom ?? DEFAULT_BASEMAP_MAX_ZOOM),
          };
  return {
    dir: env.IOC_CONSOLE_DIR,
    basemap,
    defaultLocale: env.IOC_CONSOLE_LOCALE,
    alerts: {
      sound: env.IOC_CONSOLE_ALERT_SOUND,
      browserNotifications: env.IOC_CONSOLE_BROWSER_NOTIFICATIONS,
    },
  };
}

/** `GET /api/v1/console/config` of these settings (a pmtiles file is named by its URL, not its path). */
export function consoleConfigBodyOf(settings: ConsoleSettings): ConsoleConfigBody {
  const { basemap } = settings;
  return {
    basemap:
      basemap.kind === 'pmtiles'
        ? {
            kind: 'pmtiles',
            url: PMTILES_BASEMAP_PATH,
            attribution: basemap.attribution,
            maxZoom: basemap.maxZoom,
          }
        : basemap,
    defaultLocale: settings.defaultLocale,
    timeZone: 'Asia/Ho_Chi_Minh',
    alerts: { ...settings.alerts },
  };
}

/**
 * Origins the console's page loads images from besides its own: the XYZ tile server's, for the
 * Content-Security-Policy `img-src` (none for `none` and `pmtiles`, which are same-origin).
 */
export function basemapImageOrigins(settings: ConsoleSettings): string[] {
  if (settings.basemap.kind !== 'xyz') return [];
  // {s} subdomains: a URL template `https://{s}.tile.example/…` loads from every subdomain.
  const sample = settings.basemap.url.replace(/\{s\}/g, 'SUBDOMAIN').replace(/\{[a-z]\}/g, '0');
  const origin = new URL(sample).origin;
  return [origin.replace('subdomain', '*')];
}
