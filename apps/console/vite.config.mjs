// Vite build of the operators' console (apps/console): one static bundle the API serves at `/`.
// The workspace's path aliases (tsconfig.base.json) resolve to library sources, as in jest, so the
// browser bundle is built from @ioc/contracts and the console libraries directly.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const root = dirname(fileURLToPath(import.meta.url));
const workspace = join(root, '..', '..');
const { compilerOptions } = JSON.parse(readFileSync(join(workspace, 'tsconfig.base.json'), 'utf8'));

// Only the projects a browser may load (lint enforces the same: scope:frontend imports only
// scope:shared and scope:frontend). A backend alias here would let one slip into the bundle.
const BROWSER_SAFE = [
  '@ioc/contracts',
  '@ioc/aqi',
  '@ioc/console-data',
  '@ioc/console-map',
  '@ioc/console-ui',
];
const alias = Object.fromEntries(
  BROWSER_SAFE.map((name) => [name, join(workspace, compilerOptions.paths[name][0])]),
);

export default defineConfig({
  root,
  base: '/',
  resolve: { alias },
  // Everything the page needs is bundled: it fetches nothing from outside the platform.
  build: {
    outDir: process.env.IOC_CONSOLE_OUT_DIR ?? join(workspace, 'dist', 'apps', 'console'),
    emptyOutDir: true,
    sourcemap: true,
    target: 'es2022',
    chunkSizeWarningLimit: 1500,
  },
  // `npx vite --config apps/console/vite.config.mjs`: a development server with hot reload in
  // front of a running platform (IOC_CONSOLE_DEV_API, default http://127.0.0.1:3000), so the page
  // and the API share one origin as they do when the API serves the built console.
  server: {
    port: Number(process.env.IOC_CONSOLE_DEV_PORT ?? 5173),
    proxy: Object.fromEntries(
      ['/api', '/health', '/basemap', '/socket.io'].map((path) => [
        path,
        {
          target: process.env.IOC_CONSOLE_DEV_API ?? 'http://127.0.0.1:3000',
          ws: path === '/socket.io',
          changeOrigin: false,
        },
      ]),
    ),
  },
  logLevel: process.env.IOC_CONSOLE_BUILD_QUIET === 'true' ? 'warn' : 'info',
});
