import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port';
import { describeWithServer } from './server-suites';

/**
 * Starts a REAL Redis server (Debian's `redis-server` package) for integration tests: a fresh
 * temporary directory, a free loopback port, no password, append-only file on (`appendfsync
 * everysec`, Redis's documented default for AOF) so a stop and a start keep what was written, as a
 * production Redis for the platform would be configured.
 */

export const REDIS_MISSING_MESSAGE =
  'redis-server not found: install it (Debian: apt-get install -y redis-server) to run these tests';

const START_TIMEOUT_MS = 20_000;
const STOP_TIMEOUT_MS = 10_000;
const LOG_TAIL_CHARS = 8000;

/** The Redis binary: `IOC_REDIS_SERVER_BIN`, else `redis-server` from PATH or /usr/bin. */
export function redisServerBin(): string | undefined {
  const configured = process.env['IOC_REDIS_SERVER_BIN'];
  if (configured !== undefined && configured !== '') return existsSync(configured) ? configured : undefined;
  for (const dir of [...(process.env['PATH'] ?? '').split(':'), '/usr/bin', '/usr/sbin']) {
    if (dir !== '' && existsSync(join(dir, 'redis-server'))) return join(dir, 'redis-server');
  }
  return undefined;
}

export function redisAvailable(): boolean {
  return redisServerBin() !== undefined;
}

/**
 * `describe` for suites that need a real Redis. Without it the suite is skipped with a message,
 * except in CI (`CI=true`), where a missing server fails the build instead.
 */
export function describeWithRedis(name: string, fn: () => void): void {
  describeWithServer(name, { available: redisAvailable, missingMessage: REDIS_MISSING_MESSAGE }, fn);
}

/** Options of startRedis. */
export interface StartRedisOptions {
  /**
   * Require this password (`--requirepass`, as deploy/docker-compose.yml runs Redis); `url` then
   * carries it (`redis://:{password}@127.0.0.1:{port}`). Default: none.
   */
  password?: string;
}

export interface RedisHandle {
  /** `redis://127.0.0.1:{port}`, or `redis://:{password}@127.0.0.1:{port}` with a password. */
  readonly url: string;
  readonly port: number;
  /** Whether the server process runs now (false between `stop()` and `start()`). */
  readonly running: boolean;
  /** The server's output (last 8 000 characters). */
  logs(): string;
  /**
   * Stops the server (SIGTERM: Redis flushes the AOF and exits) and keeps its data directory, so
   * `start()` brings it back on the same port with the same data (an outage). Resolves once the
   * process has exited.
   */
  stop(): Promise<void>;
  /** Starts it again after `stop()` on the same port and data; resolves once it answers PING. */
  start(): Promise<void>;
  /** Kills it with SIGKILL (a crash; the AOF keeps what was fsynced), keeping its data directory. */
  kill(): Promise<void>;
  /** Stops the server and deletes its directory. Idempotent. */
  close(): Promise<void>;
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

/** Sends PING (after AUTH with `password`) over a raw socket; resolves true on `+PONG`. */
function ping(port: number, password?: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    let answer = '';
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('error', () => done(false));
    socket.on('data', (chunk) => {
      answer += chunk.toString();
      // With AUTH first: its `+OK` line, then PING's answer.
      const lines = answer.split('\r\n');
      if (password === undefined && lines.length > 1) done(answer.startsWith('+PONG'));
      if (password !== undefined && lines.length > 2) done(lines[0] === '+OK' && lines[1] === '+PONG');
    });
    socket.once('connect', () =>
      socket.write(password === undefined ? 'PING\r\n' : `AUTH ${JSON.stringify(password)}\r\nPING\r\n`),
    );
  });
}

/** Starts redis-server; resolves once it answers PING. */
export async function startRedis(options: StartRedisOptions = {}): Promise<RedisHandle> {
  const { password } = options;
  if (password !== undefined && !/^[\x21-\x7e]+$/.test(password)) {
    throw new Error('startRedis: the password must be printable ASCII without spaces');
  }
  const bin = redisServerBin();
  if (bin === undefined) throw new Error(REDIS_MISSING_MESSAGE);
  const dir = mkdtempSync(join(tmpdir(), 'ioc-redis-'));
  const port = await freePort();
  let output = '';
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let closed = false;

  const launch = async (): Promise<void> => {
    const args = [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--dir',
      dir,
      '--appendonly',
      'yes',
      '--appendfsync',
      'everysec',
      '--save',
      '',
      '--daemonize',
      'no',
      '--protected-mode',
      'yes',
      '--loglevel',
      'warning',
      ...(password === undefined ? [] : ['--requirepass', password]),
    ];
    const proc = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'], cwd: dir });
    const collect = (chunk: Buffer): void => {
      output = (output + chunk.toString()).slice(-LOG_TAIL_CHARS);
    };
    proc.stdout?.on('data', collect);
    proc.stderr?.on('data', collect);
    live.add(proc);
    if (!exitHookInstalled) {
      exitHookInstalled = true;
      process.once('exit', () => {
        for (const p of live) p.kill('SIGKILL');
      });
    }
    exited = new Promise<void>((resolve) =>
      proc.once('exit', () => {
        live.delete(proc);
        resolve();
      }),
    );
    child = proc;
    const deadline = Date.now() + START_TIMEOUT_MS;
    while (!(await ping(port, password))) {
      if (proc.exitCode !== null || proc.signalCode !== null || Date.now() > deadline) {
        proc.kill('SIGKILL');
        throw new Error(`redis-server did not start on port ${port}\n${output}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };

  const halt = async (signal: NodeJS.Signals): Promise<void> => {
    const proc = child;
    if (proc === undefined || proc.exitCode !== null || proc.signalCode !== null) return;
    proc.kill(signal);
    const timer = setTimeout(() => proc.kill('SIGKILL'), STOP_TIMEOUT_MS);
    await exited;
    clearTimeout(timer);
  };

  try {
    await launch();
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }

  return {
    url:
      password === undefined
        ? `redis://127.0.0.1:${port}`
        : `redis://:${encodeURIComponent(password)}@127.0.0.1:${port}`,
    port,
    get running(): boolean {
      return child !== undefined && child.exitCode === null && child.signalCode === null;
    },
    logs: () => output,
    stop: () => halt('SIGTERM'),
    kill: () => halt('SIGKILL'),
    async start(): Promise<void> {
      if (closed) throw new Error('redis handle closed');
      if (child !== undefined && child.exitCode === null && child.signalCode === null) return;
      await launch();
    },
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      await halt('SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
