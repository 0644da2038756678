// Demo page of @ioc/console-map: the map with generated devices, no server needed.
//   npx vite --config libs/console-map/demo/vite.config.mjs          (http://127.0.0.1:5180/)
//   npx vite build --config libs/console-map/demo/vite.config.mjs --outDir /tmp/map-demo
// Query parameters: ?n=10000&basemap=none|xyz|pmtiles&tiles=<{z}/{x}/{y} URL>&pmtiles=<url>
// &locale=en&rate=5000 (readings/s streamed into updateDevices, coalesced per frame).
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const root = dirname(fileURLToPath(import.meta.url));
const workspace = join(root, '..', '..', '..');
const { compilerOptions } = JSON.parse(readFileSync(join(workspace, 'tsconfig.base.json'), 'utf8'));
const BROWSER_SAFE = ['@ioc/contracts', '@ioc/aqi', '@ioc/console-data', '@ioc/console-map'];

export default defineConfig({
  root,
  base: './',
  resolve: {
    alias: Object.fromEntries(BROWSER_SAFE.map((name) => [name, join(workspace, compilerOptions.paths[name][0])])),
  },
  build: { outDir: join(workspace, 'dist', 'libs', 'console-map-demo'), emptyOutDir: true, target: 'es2022' },
  server: { port: Number(process.env.IOC_MAP_DEMO_PORT ?? 5180), host: '127.0.0.1' },
  logLevel: process.env.IOC_CONSOLE_BUILD_QUIET === 'true' ? 'warn' : 'info',
});
