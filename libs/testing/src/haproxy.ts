import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port';
import { describeWithServer } from './server-suites';

/**
 * A REAL HAProxy (Debian's `haproxy` package) in TCP mode in front of test backends — the load
 * balancer of a scale-out installation (several broker nodes behind one MQTT address), on a free
 * loopback port, its configuration file in a temporary directory.
 */

export const HAPROXY_MISSING_MESSAGE =
  'haproxy not found: install it (Debian: apt-get install -y haproxy) to run these tests';

const START_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 5_000;
const LOG_TAIL_CHARS = 8000;

/** The HAProxy binary: `IOC_HAPROXY_BIN`, else `haproxy` from PATH, /usr/sbin or /usr/bin. */
export function haproxyBin(): string | undefined {
  const configured = process.env['IOC_HAPROXY_BIN'];
  if (configured !== undefined && configured !== '') return existsSync(configured) ? configured : undefined;
  for (const dir of [...(process.env['PATH'] ?? '').split(':'), '/usr/sbin', '/usr/bin']) {
    if (dir !== '' && existsSync(join(dir, 'haproxy'))) return join(dir, 'haproxy');
  }
  return undefined;
}

export function haproxyAvailable(): boolean {
  return haproxyBin() !== undefined;
}

/** `describe` for suites that need a real HAProxy (skipped without it, failed in CI; see describeWithServer). */
export function describeWithHaproxy(name: string, fn: () => void): void {
  describeWithServer(name, { available: haproxyAvailable, missingMessage: HAPROXY_MISSING_MESSAGE }, fn);
}

/** A backend server: `name` (default `s1`, `s2`, …) as HAProxy reports it. */
export interface HaproxyBackend {
  host: string;
  port: number;
  name?: string;
}

export interface HaproxyOptions {
  backends: readonly HaproxyBackend[];
  /** How new connections are spread (HAProxy `balance`); default `roundrobin`. */
  balance?: 'roundrobin' | 'leastconn';
  /**
   * Health check period (HAProxy `check inter`), ms; default 500. A backend is taken out after
   * two failed checks (`fall 2`) and back in after one good one (`rise 1`), so a killed backend
   * stops receiving connections within about a second.
   */
  checkIntervalMs?: number;
}

/** One backend as HAProxy sees it now (`show stat`): `UP`, `DOWN`, `no check`, `MAINT`, … */
export interface HaproxyBackendState {
  name: string;
  status: string;
  /** Connections it holds now (`scur`). */
  current: number;
  /** Connections it was given since HAProxy started (`stot`). */
  total: number;
}

export interface HaproxyHandle {
  /** The frontend's address: 127.0.0.1. */
  readonly host: string;
  readonly port: number;
  /** `<scheme>://127.0.0.1:<port>` (default scheme `mqtt`). */
  url(scheme?: string): string;
  /** The configuration file it runs with. */
  readonly configFile: string;
  /** HAProxy's output (last 8 000 characters). */
  logs(): string;
  /** The backends' states, from the admin socket (`show stat`). */
  backends(): Promise<HaproxyBackendState[]>;
  /** Resolves once `count` backends (default: all) pass their health checks, or fails after `timeoutMs`. */
  waitForUp(count?: number, timeoutMs?: number): Promise<void>;
  /** Stops HAProxy (SIGTERM, then SIGKILL) and deletes its directory. Idempotent. */
  close(): Promise<void>;
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

/** Sends one command to HAProxy's admin socket and returns its whole answer. */
function adminCommand(socketPath: string, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ path: socketPath });
    let answer = '';
    socket.setTimeout(2000, () => socket.destroy(new Error('HAProxy admin socket timed out')));
    socket.on('data', (chunk) => (answer += chunk.toString()));
    socket.once('error', reject);
    socket.once('end', () => resolve(answer));
    socket.once('connect', () => socket.write(`${command}\n`));
  });
}

/**
 * How a failed connection to a backend is retried, as `deploy/haproxy/haproxy.cfg` does it (its
 * `defaults`; test/deploy-manifests.spec.ts checks both agree): up to 3 more attempts, each on
 * another backend. Only the health-check timings differ here (faster, for tests).
 */
export const HAPROXY_RETRY_SETTINGS = ['retries 3', 'option redispatch 1'] as const;

/** The HAProxy configuration for `options`, its frontend on `port` and admin socket at `socketPath`. */
export function haproxyConfig(options: HaproxyOptions, port: number, socketPath: string): string {
  const inter = options.checkIntervalMs ?? 500;
  const servers = options.backends.map(
    (backend, i) => `  server ${backend.name ?? `s${i + 1}`} ${backend.host}:${backend.port}`,
  );
  return [
    'global',
    `  stats socket ${socketPath} mode 600 level admin`,
    // Each connection costs two descriptors (client and server side); kept under common ulimits.
    '  maxconn 4000',
    '',
    'defaults',
    '  mode tcp',
    '  timeout connect 2s',
    // MQTT connections are long-lived and their keep-alive is the client's business.
    '  timeout client 1h',
    '  timeout server 1h',
    '',
    'frontend mqtt',
    `  bind 127.0.0.1:${port}`,
    '  default_backend nodes',
    '',
    'backend nodes',
    `  balance ${options.balance ?? 'roundrobin'}`,
    // A connection to a backend that fails is retried on another (`redispatch`).
    ...HAPROXY_RETRY_SETTINGS.map((line) => `  ${line}`),
    `  default-server check inter ${inter}ms fall 2 rise 1`,
    ...servers,
    '',
  ].join('\n');
}

/**
 * Starts HAProxy in front of `options.backends`; resolves once it listens (its backends may still
 * be starting: waitForUp waits for them).
 */
export async function startHaproxy(options: HaproxyOptions): Promise<HaproxyHandle> {
  const bin = haproxyBin();
  if (bin === undefined) throw new Error(HAPROXY_MISSING_MESSAGE);
  if (options.backends.length === 0) throw new Error('startHaproxy: at least one backend');
  const dir = mkdtempSync(join(tmpdir(), 'ioc-haproxy-'));
  const port = await freePort();
  const socketPath = join(dir, 'admin.sock');
  const configFile = join(dir, 'haproxy.cfg');
  writeFileSync(configFile, haproxyConfig(options, port, socketPath));
  let output = '';
  const child = spawn(bin, ['-f', configFile, '-db'], { stdio: ['ignore', 'pipe', 'pipe'], cwd: dir });
  const collect = (chunk: Buffer): void => {
    output = (output + chunk.toString()).slice(-LOG_TAIL_CHARS);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  live.add(child);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const p of live) p.kill('SIGKILL');
    });
  }
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      live.delete(child);
      resolve();
    }),
  );
  const running = (): boolean => child.exitCode === null && child.signalCode === null;
  const backends = async (): Promise<HaproxyBackendState[]> => {
    const csv = await adminCommand(socketPath, 'show stat');
    const lines = csv.split('\n').filter((line) => line.trim() !== '');
    const header = (lines[0] ?? '').replace(/^# /, '').split(',');
    const column = (name: string): number => header.indexOf(name);
    return lines
      .slice(1)
      .map((line) => line.split(','))
      .filter(
        (row) =>
          row[column('pxname')] === 'nodes' && !['FRONTEND', 'BACKEND'].includes(row[column('svname')] ?? ''),
      )
      .map((row) => ({
        name: row[column('svname')] ?? '',
        status: row[column('status')] ?? '',
        current: Number(row[column('scur')] ?? 0),
        total: Number(row[column('stot')] ?? 0),
      }));
  };
  let closed = false;
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    if (running()) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  // Ready once the admin socket answers (HAProxy binds its frontend before it serves the socket).
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (!running()) {
      await close();
      throw new Error(`haproxy exited before it was ready:\n${output}`);
    }
    if (
      existsSync(socketPath) &&
      (await backends().then(
        () => true,
        () => false,
      ))
    )
      break;
    if (Date.now() > deadline) {
      await close();
      throw new Error(`haproxy not ready after ${START_TIMEOUT_MS} ms:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    host: '127.0.0.1',
    port,
    url: (scheme = 'mqtt') => `${scheme}://127.0.0.1:${port}`,
    configFile,
    logs: () => output,
    backends,
    async waitForUp(count = options.backends.length, timeoutMs = 15_000) {
      const until = Date.now() + timeoutMs;
      let states: HaproxyBackendState[] = [];
      for (;;) {
        states = await backends();
        if (states.filter((s) => s.status === 'UP').length >= count) return;
        if (Date.now() > until) {
          throw new Error(
            `fewer than ${count} HAProxy backends up after ${timeoutMs} ms: ${JSON.stringify(states)}`,
          );
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    },
    close,
  };
}
