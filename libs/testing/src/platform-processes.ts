import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { type ApiSession, loginToApi, TEST_ADMIN_PASSWORD } from './api-login';
import { freePort } from './free-port';

const WORKSPACE_ROOT = resolve(__dirname, '..', '..', '..');
const REGISTER = join(WORKSPACE_ROOT, 'scripts', 'register.js');

export const BROKER_ENTRY = join(WORKSPACE_ROOT, 'apps', 'broker', 'src', 'main.ts');
export const API_ENTRY = join(WORKSPACE_ROOT, 'apps', 'api', 'src', 'main.ts');

export interface ServiceProcess {
  readonly child: ChildProcess;
  /** Everything the process printed so far (JSON log lines). */
  output(): string;
  /** Resolves when the process has exited. */
  exited: Promise<number | null>;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/**
 * Starts one of the platform's apps as a real Node.js process, exactly as `npm start` does, and
 * waits until it logs `readyMessage`. Fails with the process's output if it exits or times out.
 */
export async function startService(
  entry: string,
  env: Record<string, string>,
  readyMessage: string,
  timeoutMs = 30_000,
): Promise<ServiceProcess> {
  const child = spawn(process.execPath, ['-r', REGISTER, entry], {
    cwd: WORKSPACE_ROOT,
    env: { ...process.env, IOC_LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));

  await new Promise<void>((ready, fail) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      fail(new Error(`${entry} not ready after ${timeoutMs} ms:\n${output}`));
    }, timeoutMs);
    const check = (): void => {
      if (output.includes(readyMessage)) {
        clearTimeout(timer);
        child.stdout?.off('data', check);
        ready();
      }
    };
    child.stdout?.on('data', check);
    void exited.then((code) => {
      clearTimeout(timer);
      fail(new Error(`${entry} exited with ${code} before it was ready:\n${output}`));
    });
  });

  return {
    child,
    output: () => output,
    exited,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill(signal);
      const killTimer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(killTimer);
    },
  };
}

export interface PlatformOptions {
  storage: 'embedded' | 'influxdb';
  influxUrl?: string;
  influxDatabase?: string;
  /**
   * The built console the API serves at `/` (IOC_CONSOLE_DIR; buildConsole() makes one). Default
   * `off`: no console, so a test does not depend on whether `npm run build:console` ran.
   */
  consoleDir?: string;
  /** Extra environment for both processes. */
  env?: Record<string, string>;
  /**
   * API processes to start (default 1), each on its own HTTP port with `IOC_NODE_ID` = its number
   * (1, 2, …; node 1 keeps an IOC_NODE_ID given in `env`), sharing the broker, the data directory (its keys) and the registry database — give
   * `IOC_DATABASE_URL` (startPostgres) in `env` for more than one, and `IOC_REDIS_URL` (startRedis)
   * for shared live feeds and rate limits. Started one after the other unless `apiStartTogether`.
   */
  apiNodes?: number;
  /** Start the API processes at the same time (their migrations and seeding race under the lock). */
  apiStartTogether?: boolean;
}

export interface RunningPlatform {
  mqttUrl: string;
  mqttPort: number;
  httpUrl: string;
  dataDir: string;
  /**
   * The secret of a seeded device, for MQTT logins (username = device id): the broker issues one
   * to every active device at start (IOC_DEMO_CREDENTIALS_FILE, as `npm start` does).
   * @throws Error for a device without one
   */
  deviceSecret(deviceId: string): string;
  /**
   * A session of the first admin (`admin`, TEST_ADMIN_PASSWORD unless the options' env sets
   * IOC_ADMIN_PASSWORD), logged in on first use and kept: its access token is valid an hour
   * (IOC_AUTH_ACCESS_TOKEN_TTL_SECONDS=3600), on every API node of this data directory (they share
   * the database and the token-signing key), across API restarts.
   */
  admin(): Promise<ApiSession>;
  /** The current broker process (replaced by restartBroker). */
  readonly broker: ServiceProcess;
  /** The current API process (replaced by restartApi): node 1's. */
  readonly api: ServiceProcess;
  /** Every API node's HTTP base URL (`apiNodes` of them; [0] is `httpUrl`). */
  readonly httpUrls: readonly string[];
  /** Every API node's current process ([0] is `api`). */
  readonly apis: readonly ServiceProcess[];
  /** Stops the API with `signal` (SIGTERM: a clean shutdown) and starts it again with the same settings. */
  restartApi(signal?: NodeJS.Signals): Promise<void>;
  /** Kills the broker with `signal` (SIGKILL: no chance to flush anything) and waits for it to die. */
  killBroker(signal?: NodeJS.Signals): Promise<void>;
  /** Starts the broker again on the same port and data directory. */
  restartBroker(): Promise<void>;
  stop(): Promise<void>;
}

/** Broker and API as separate processes on free loopback ports, with their own data directory. */
export async function startPlatform(options: PlatformOptions): Promise<RunningPlatform> {
  const dataDir = mkdtempSync(join(tmpdir(), 'ioc-platform-'));
  const [mqttPort, httpPort] = [await freePort(), await freePort()];
  const apiNodes = options.apiNodes ?? 1;
  const httpPorts = [httpPort];
  while (httpPorts.length < apiNodes) httpPorts.push(await freePort());
  const env: Record<string, string> = {
    IOC_STORAGE: options.storage,
    IOC_DATA_DIR: dataDir,
    IOC_MQTT_HOST: '127.0.0.1',
    IOC_MQTT_PORT: String(mqttPort),
    IOC_HTTP_HOST: '127.0.0.1',
    IOC_HTTP_PORT: String(httpPort),
    IOC_BROKER_URL: `mqtt://127.0.0.1:${mqttPort}`,
    IOC_INTERNAL_SECRET: 'test-internal-secret-0123456789',
    ...(options.influxUrl ? { IOC_INFLUX_URL: options.influxUrl } : {}),
    IOC_INFLUX_DB: options.influxDatabase ?? 'ioc_e2e',
    IOC_DEMO_CREDENTIALS_FILE: join(dataDir, 'device-credentials.json'),
    IOC_ADMIN_PASSWORD: TEST_ADMIN_PASSWORD,
    // Longer than any test: a session logged in at the start serves the whole test file.
    IOC_AUTH_ACCESS_TOKEN_TTL_SECONDS: '3600',
    IOC_CONSOLE_DIR: options.consoleDir ?? 'off',
    ...options.env,
  };
  let admin: Promise<ApiSession> | undefined;
  const credentialsFile = env['IOC_DEMO_CREDENTIALS_FILE'] as string;
  let broker: ServiceProcess;
  // Node n's environment: its own port and an explicit id (IOC_REDIS_URL requires one); node 1
  // keeps the options' IOC_NODE_ID, if any.
  const apiEnv = (index: number): Record<string, string> => ({
    ...env,
    IOC_HTTP_PORT: String(httpPorts[index]),
    IOC_NODE_ID: index === 0 && env['IOC_NODE_ID'] ? env['IOC_NODE_ID'] : String(index + 1),
  });
  const apis: ServiceProcess[] = [];
  try {
    broker = await startService(BROKER_ENTRY, env, 'broker ready');
  } catch (error) {
    rmSync(dataDir, { recursive: true, force: true });
    throw error;
  }
  try {
    if (options.apiStartTogether) {
      const started = await Promise.allSettled(
        httpPorts.map((_, i) => startService(API_ENTRY, apiEnv(i), 'API listening')),
      );
      for (const outcome of started) if (outcome.status === 'fulfilled') apis.push(outcome.value);
      const failed = started.find((outcome) => outcome.status === 'rejected');
      if (failed) throw failed.reason;
    } else {
      for (let i = 0; i < apiNodes; i++) apis.push(await startService(API_ENTRY, apiEnv(i), 'API listening'));
    }
  } catch (error) {
    for (const api of apis) await api.stop();
    await broker.stop();
    rmSync(dataDir, { recursive: true, force: true });
    throw error;
  }
  return {
    mqttUrl: `mqtt://127.0.0.1:${mqttPort}`,
    mqttPort,
    httpUrl: `http://127.0.0.1:${httpPort}`,
    dataDir,
    deviceSecret(deviceId: string): string {
      const secrets = JSON.parse(readFileSync(credentialsFile, 'utf8')) as Record<string, string>;
      const secret = secrets[deviceId];
      if (secret === undefined) throw new Error(`no secret for device "${deviceId}" in ${credentialsFile}`);
      return secret;
    },
    admin() {
      admin ??= loginToApi(
        `http://127.0.0.1:${httpPort}`,
        env['IOC_ADMIN_USERNAME'] ?? 'admin',
        env['IOC_ADMIN_PASSWORD'] ?? TEST_ADMIN_PASSWORD,
      );
      // A failed login is not kept: the next call tries again.
      admin.catch(() => (admin = undefined));
      return admin;
    },
    get broker() {
      return broker;
    },
    get api() {
      return apis[0] as ServiceProcess;
    },
    httpUrls: httpPorts.map((port) => `http://127.0.0.1:${port}`),
    get apis() {
      return apis;
    },
    async restartApi(signal: NodeJS.Signals = 'SIGTERM') {
      await (apis[0] as ServiceProcess).stop(signal);
      apis[0] = await startService(API_ENTRY, apiEnv(0), 'API listening');
    },
    async killBroker(signal: NodeJS.Signals = 'SIGKILL') {
      await broker.stop(signal);
    },
    async restartBroker() {
      broker = await startService(BROKER_ENTRY, env, 'broker ready');
    },
    async stop() {
      for (const api of apis) await api.stop();
      await broker.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** An access token from a password login (POST /api/v1/auth/login). @throws Error when refused */
/** Polls `probe` until it returns a value that is not undefined, or fails after `timeoutMs`. */
export async function eventually<T>(
  probe: () => Promise<T | undefined>,
  timeoutMs = 10_000,
  what = 'condition',
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      throw new Error(`${what} not met within ${timeoutMs} ms${lastError ? `: ${String(lastError)}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}
