import { type ChildProcess, spawn } from 'node:child_process';
import { accessSync, constants, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import { freePort } from './free-port';
import { describeWithServer } from './server-suites';

/**
 * Starts a REAL influxd (InfluxDB 1.x) for integration tests, with the configuration file the
 * project ships (deploy/influxdb/influxdb.conf). Only what must differ per run — loopback ports
 * and a fresh temporary data directory — is passed through influxd's INFLUXDB_* environment
 * variables, which override the file: what is tested is what is shipped.
 */

/** The shipped server configuration. */
export const INFLUXDB_CONFIG_PATH = resolve(__dirname, '../../../deploy/influxdb/influxdb.conf');

export const INFLUXD_MISSING_MESSAGE =
  'influxd not found: install InfluxDB (Debian: apt-get install -y influxdb) to run these tests';

const DEFAULT_START_TIMEOUT_MS = 20_000;
const STOP_GRACE_MS = 10_000;
const LOG_TAIL_CHARS = 16_000;
const START_ATTEMPTS = 3;

export interface StartInfluxdOptions {
  /** How long to wait for `/ping` to answer; 20 s by default. */
  startTimeoutMs?: number;
  /**
   * Extra INFLUXDB_* overrides for this instance, e.g. `{ INFLUXDB_HTTP_AUTH_ENABLED: 'true' }`.
   * The ports and directories are always the harness's own.
   */
  env?: Readonly<Record<string, string>>;
}

export interface StopProcessOptions {
  /** SIGTERM (default) shuts down cleanly; SIGKILL simulates a crash. */
  signal?: 'SIGTERM' | 'SIGKILL';
}

export interface InfluxdHandle {
  /** Base URL of the HTTP API, e.g. `http://127.0.0.1:40123`. */
  readonly url: string;
  readonly port: number;
  /** Port of the backup/restore RPC service (also loopback). */
  readonly rpcPort: number;
  /** Temporary directory holding meta/, data/ and wal/. */
  readonly dataDir: string;
  /** Whether the influxd process is currently running. */
  readonly running: boolean;
  /** The last lines influxd wrote (stdout and stderr), for failure messages. */
  logs(): string;
  /**
   * Stops the process but keeps the ports reserved for it and the data directory, so a fault test
   * can observe the store being down; `startProcess()` brings the same server back.
   */
  stopProcess(options?: StopProcessOptions): Promise<void>;
  /** Starts influxd again on the same port with the same data; resolves once `/ping` answers. */
  startProcess(): Promise<void>;
  /** Stops influxd for good and deletes its data directory. Idempotent. */
  stop(): Promise<void>;
}

/** Absolute path of `influxd` on PATH, or undefined. */
export function influxdPath(): string | undefined {
  for (const dir of (process.env['PATH'] ?? '').split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, 'influxd');
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

export function influxdAvailable(): boolean {
  return influxdPath() !== undefined;
}

/**
 * `describe` for suites that need a real influxd. Without influxd on PATH the suite is skipped with
 * a message, except in CI (`CI=true`) where a missing server must fail the build instead of
 * silently testing nothing.
 */
export function describeWithInfluxd(name: string, fn: () => void): void {
  describeWithServer(name, { available: influxdAvailable, missingMessage: INFLUXD_MISSING_MESSAGE }, fn);
}

// Safety net: if the test process exits without stop() (a crashed suite, a forgotten afterAll),
// no influxd may outlive it. 'exit' handlers must be synchronous, hence kill + rmSync.
const liveInstances = new Set<InfluxdInstance>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const instance of liveInstances) instance.killSync();
  });
}

/** Starts a fresh influxd on free loopback ports with an empty temporary data directory. */
export async function startInfluxd(options: StartInfluxdOptions = {}): Promise<InfluxdHandle> {
  const binary = influxdPath();
  if (binary === undefined) throw new Error(INFLUXD_MISSING_MESSAGE);
  if (!existsSync(INFLUXDB_CONFIG_PATH)) {
    throw new Error(`shipped influxd configuration missing: ${INFLUXDB_CONFIG_PATH}`);
  }
  installExitHook();
  let lastError: unknown;
  // The ports are free when picked but another process may take them before influxd binds them;
  // only that race is retried, with new ports.
  for (let attempt = 1; attempt <= START_ATTEMPTS; attempt++) {
    const instance = new InfluxdInstance(binary, await freePort(), await freePort(), options);
    try {
      await instance.startProcess();
      return instance;
    } catch (err) {
      lastError = err;
      await instance.stop();
      if (!/address already in use/i.test(String(err))) break;
    }
  }
  throw lastError;
}

class InfluxdInstance implements InfluxdHandle {
  readonly url: string;
  readonly dataDir: string;
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private output = '';
  private removed = false;
  private readonly startTimeoutMs: number;

  constructor(
    private readonly binary: string,
    readonly port: number,
    readonly rpcPort: number,
    private readonly options: StartInfluxdOptions,
  ) {
    this.url = `http://127.0.0.1:${port}`;
    this.dataDir = mkdtempSync(join(tmpdir(), 'ioc-influxd-'));
    this.startTimeoutMs = options.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS;
    liveInstances.add(this);
  }

  get running(): boolean {
    return this.child !== undefined;
  }

  logs(): string {
    return this.output;
  }

  async startProcess(): Promise<void> {
    if (this.removed) throw new Error('influxd instance was stopped for good; start a new one');
    if (this.child !== undefined) return;
    const child = spawn(this.binary, ['run', '-config', INFLUXDB_CONFIG_PATH], {
      env: this.environment(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    const append = (chunk: Buffer): void => {
      this.output = (this.output + chunk.toString('utf8')).slice(-LOG_TAIL_CHARS);
    };
    child.stdout?.on('data', append);
    child.stderr?.on('data', append);
    let exitInfo: string | undefined;
    this.exited = new Promise<void>((resolveExit) => {
      child.once('exit', (code, signal) => {
        exitInfo = `exit code ${String(code)}, signal ${String(signal)}`;
        if (this.child === child) this.child = undefined;
        resolveExit();
      });
      child.once('error', (err) => {
        exitInfo = `spawn failed: ${err.message}`;
        if (this.child === child) this.child = undefined;
        resolveExit();
      });
    });

    const deadline = Date.now() + this.startTimeoutMs;
    while (Date.now() < deadline) {
      if (exitInfo !== undefined) {
        throw new Error(`influxd exited during startup (${exitInfo}):\n${this.output}`);
      }
      if (await pingOnce(this.port)) return;
      await sleep(50);
    }
    await this.stopProcess({ signal: 'SIGKILL' });
    throw new Error(
      `influxd did not answer /ping on ${this.url} within ${this.startTimeoutMs} ms:\n${this.output}`,
    );
  }

  async stopProcess(options: StopProcessOptions = {}): Promise<void> {
    const child = this.child;
    if (child === undefined) return;
    child.kill(options.signal ?? 'SIGTERM');
    let graceTimer: NodeJS.Timeout | undefined;
    const graceful = await Promise.race([
      this.exited.then(() => true),
      new Promise<boolean>((done) => {
        graceTimer = setTimeout(() => done(false), STOP_GRACE_MS);
      }),
    ]);
    clearTimeout(graceTimer);
    if (!graceful) {
      child.kill('SIGKILL');
      await this.exited;
    }
    this.child = undefined;
  }

  async stop(): Promise<void> {
    await this.stopProcess();
    this.removeDataDir();
    liveInstances.delete(this);
  }

  killSync(): void {
    this.child?.kill('SIGKILL');
    this.child = undefined;
    this.removeDataDir();
  }

  private removeDataDir(): void {
    if (this.removed) return;
    this.removed = true;
    rmSync(this.dataDir, { recursive: true, force: true });
  }

  private environment(): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = {};
    // The developer's own INFLUXDB_* settings must not change what the tests run against.
    for (const [key, value] of Object.entries(process.env)) {
      if (!key.startsWith('INFLUXDB_')) env[key] = value;
    }
    return {
      ...env,
      ...this.options.env,
      INFLUXDB_HTTP_BIND_ADDRESS: `127.0.0.1:${this.port}`,
      INFLUXDB_BIND_ADDRESS: `127.0.0.1:${this.rpcPort}`,
      INFLUXDB_META_DIR: join(this.dataDir, 'meta'),
      INFLUXDB_DATA_DIR: join(this.dataDir, 'data'),
      INFLUXDB_DATA_WAL_DIR: join(this.dataDir, 'wal'),
      INFLUXDB_REPORTING_DISABLED: 'true',
    };
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((done) => setTimeout(done, ms));
}

/** One GET /ping; true on 204. Never rejects: "not up yet" is the normal answer while starting. */
function pingOnce(port: number): Promise<boolean> {
  return new Promise((done) => {
    const request = get({ host: '127.0.0.1', port, path: '/ping', timeout: 1000, agent: false }, (res) => {
      res.resume();
      done(res.statusCode === 204);
    });
    request.once('timeout', () => request.destroy());
    request.once('error', () => done(false));
  });
}
