import { z } from 'zod';

/**
 * `GET /api/v1/console/config` (public): the deployment settings the operators' console reads
 * before anyone logs in — its basemap and its defaults. Nothing secret lives here.
 */

/**
 * The map's background, chosen at deployment (never a hard-coded internet tile server):
 * - `none`: areas and markers on a plain background (the default; works with no network at all);
 * - `xyz`: a raster tile server the operators' PCs can reach (`{z}/{x}/{y}` URL template);
 * - `pmtiles`: one self-hosted PMTiles v3 archive (raster or vector) the API serves itself with
 *   HTTP range requests at `url`.
 */
export const basemapBody = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('none') }),
  z.object({
    kind: z.literal('xyz'),
    url: z.string().describe('tile URL template with {z}, {x}, {y} (and optionally {s})'),
    attribution: z.string().describe('attribution shown on the map (may be empty)'),
    maxZoom: z.number().int().min(0).max(24),
  }),
  z.object({
    kind: z.literal('pmtiles'),
    url: z.string().describe('where the API serves the archive (same origin)'),
    attribution: z.string(),
    maxZoom: z.number().int().min(0).max(24),
  }),
]);
export type BasemapBody = z.infer<typeof basemapBody>;

/** Console languages: Vietnamese first. */
export const CONSOLE_LOCALES = ['vi', 'en'] as const;
export type ConsoleLocale = (typeof CONSOLE_LOCALES)[number];

/** `GET /api/v1/console/config`. */
export const consoleConfigBody = z.object({
  basemap: basemapBody,
  defaultLocale: z
    .enum(CONSOLE_LOCALES)
    .describe('the language before a person picks one (IOC_CONSOLE_LOCALE)'),
  timeZone: z.literal('Asia/Ho_Chi_Minh').describe('times are shown in Vietnam time (UTC+7 all year)'),
  alerts: z.object({
    sound: z.boolean().describe('play a sound when a critical alert fires (IOC_CONSOLE_ALERT_SOUND)'),
    browserNotifications: z
      .boolean()
      .describe('offer browser notifications for critical alerts (IOC_CONSOLE_BROWSER_NOTIFICATIONS)'),
  }),
});
export type ConsoleConfigBody = z.infer<typeof consoleConfigBody>;
