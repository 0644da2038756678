import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { type Browser, chromium, type LaunchOptions, type Page } from 'playwright-core';
import { describeWithServer } from './server-suites';

const WORKSPACE_ROOT = resolve(__dirname, '..', '..', '..');

/** Where Debian's and Ubuntu's `chromium` packages put the browser. */
const CHROMIUM_CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser'];

/** How a machine without a browser gets one (playwright's own browser download is impossible here). */
export const CHROMIUM_MISSING_MESSAGE =
  'no Chromium found: apt-get install chromium (or set IOC_CHROMIUM_PATH to a Chromium executable)';

/**
 * The Chromium executable the browser tests drive: `IOC_CHROMIUM_PATH` when set (and present),
 * else Debian's `/usr/bin/chromium`, else `/usr/bin/chromium-browser`; undefined when there is none.
 */
export function chromiumPath(): string | undefined {
  const configured = process.env['IOC_CHROMIUM_PATH'];
  if (configured !== undefined && configured !== '') return existsSync(configured) ? configured : undefined;
  return CHROMIUM_CANDIDATES.find((path) => existsSync(path));
}

/**
 * Launches the system Chromium headless through playwright-core (`executablePath`: playwright's
 * browser download is never used). As root — CI and these machines — Chromium refuses to start
 * without `--no-sandbox`, which is added then. `options` are playwright's; their `args` come after
 * ours.
 * @throws Error with CHROMIUM_MISSING_MESSAGE when there is no Chromium
 */
export async function launchBrowser(options: LaunchOptions = {}): Promise<Browser> {
  const executablePath = chromiumPath();
  if (executablePath === undefined) throw new Error(CHROMIUM_MISSING_MESSAGE);
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  return chromium.launch({
    ...options,
    executablePath,
    headless: true,
    args: [...(root ? ['--no-sandbox'] : []), ...(options.args ?? [])],
  });
}

/**
 * `describe` for suites that drive a real browser: skipped with a printed CHROMIUM_MISSING_MESSAGE
 * when there is no Chromium, except under `CI=true`, where it fails instead (describeWithServer).
 */
export function describeWithBrowser(name: string, fn: () => void): void {
  describeWithServer(
    name,
    { available: () => chromiumPath() !== undefined, missingMessage: CHROMIUM_MISSING_MESSAGE },
    fn,
  );
}

let built: Promise<string> | undefined;

/**
 * A fresh production build of the operators' console (`vite build --config
 * apps/console/vite.config.mjs` with `IOC_CONSOLE_OUT_DIR`) in a temporary directory, made once
 * per jest process (memoised; a failed build is retried at the next call) and removed when the
 * process exits. Pass it to the API as `IOC_CONSOLE_DIR` (startPlatform's `consoleDir`).
 * @returns the directory holding index.html and assets/
 * @throws Error with the build's output when vite fails
 */
export function buildConsole(): Promise<string> {
  built ??= runViteBuild();
  built.catch(() => (built = undefined));
  return built;
}

async function runViteBuild(): Promise<string> {
  const outDir = mkdtempSync(join(tmpdir(), 'ioc-console-build-'));
  process.once('exit', () => rmSync(outDir, { recursive: true, force: true }));
  const child = spawn(
    process.execPath,
    [
      join(WORKSPACE_ROOT, 'node_modules', 'vite', 'bin', 'vite.js'),
      'build',
      '--config',
      'apps/console/vite.config.mjs',
    ],
    {
      cwd: WORKSPACE_ROOT,
      env: { ...process.env, IOC_CONSOLE_OUT_DIR: outDir, IOC_CONSOLE_BUILD_QUIET: 'true' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const code = await new Promise<number | null>((done) => child.once('exit', done));
  if (code !== 0 || !existsSync(join(outDir, 'index.html'))) {
    throw new Error(`vite build of the console failed (exit ${code}):\n${output}`);
  }
  return outDir;
}

/** What watchPage saw on a page: every list empty means the page behaved. */
export interface PageWatch {
  /** URLs the page requested (or opened a WebSocket to) outside `origin` (data: and blob: excluded). */
  readonly foreignRequests: string[];
  /** Console messages of type error that are not CSP violations (failed loads included). */
  readonly consoleErrors: string[];
  /** Console messages reporting a Content Security Policy violation. */
  readonly cspViolations: string[];
  /** Uncaught exceptions in the page (`pageerror`). */
  readonly pageErrors: string[];
  /**
   * Every problem above, each prefixed with its kind: `expect(watch.problems()).toEqual([])`.
   * `allowed`: patterns of problems a test expects (e.g. Chromium's console error for an expected
   * 401: /status of 401/), left out.
   */
  problems(allowed?: readonly RegExp[]): string[];
}

/**
 * Watches `page` from now on: requests and WebSockets to anything but `origin` (`http://host:port`;
 * the console must fetch nothing from outside the platform), console errors, Content Security
 * Policy violations (Chromium reports them as console errors containing "Content Security
 * Policy") and uncaught page errors. Attach it before `page.goto`.
 */
export function watchPage(page: Page, origin: string): PageWatch {
  const own = new URL(origin);
  const watch: PageWatch = {
    foreignRequests: [],
    consoleErrors: [],
    cspViolations: [],
    pageErrors: [],
    problems: (allowed = []) =>
      [
        ...watch.foreignRequests.map((url) => `request to another origin: ${url}`),
        ...watch.cspViolations.map((text) => `CSP violation: ${text}`),
        ...watch.consoleErrors.map((text) => `console error: ${text}`),
        ...watch.pageErrors.map((text) => `page error: ${text}`),
      ].filter((problem) => !allowed.some((pattern) => pattern.test(problem))),
  };
  const foreign = (url: string): boolean => {
    const parsed = new URL(url);
    if (parsed.protocol === 'data:' || parsed.protocol === 'blob:') return false;
    return parsed.host !== own.host;
  };
  page.on('request', (request) => {
    if (foreign(request.url())) watch.foreignRequests.push(request.url());
  });
  page.on('websocket', (socket) => {
    if (foreign(socket.url())) watch.foreignRequests.push(socket.url());
  });
  page.on('console', (message) => {
    const text = message.text();
    if (text.includes('Content Security Policy')) watch.cspViolations.push(text);
    else if (message.type() === 'error') {
      const location = message.location();
      watch.consoleErrors.push(location.url ? `${text} (${location.url})` : text);
    }
  });
  page.on('pageerror', (error) => watch.pageErrors.push(error.stack ?? error.message));
  return watch;
}
