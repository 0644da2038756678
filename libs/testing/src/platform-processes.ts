import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { type ApiSession, loginToApi, TEST_ADMIN_PASSWORD } from './api-login';
import { freePort } from './free-port';
import { type HaproxyHandle, startHaproxy } from './haproxy';

const WORKSPACE_ROOT = resolve(__dirname, '..', '..', '..');
const REGISTER = join(WORKSPACE_ROOT, 'scripts', 'register.js');

export const BROKER_ENTRY = join(WORKSPACE_ROOT, 'apps', 'broker', 'src', 'main.ts');
export const API_ENTRY = join(WORKSPACE_ROOT, 'apps', 'api', 'src', 'main.ts');

export interface ServiceProcess {
  readonly child: ChildProcess;
  /** The environment it was started with, on top of the test runner's own (process.env). */
  readonly env: Readonly<Record<string, string>>;
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
    env: { IOC_LOG_LEVEL: 'info', ...env },
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
  /**
   * Broker nodes to start (default 1). With more, `env` must set IOC_REDIS_URL (startRedis) and
   * IOC_DATABASE_URL (startPostgres): the nodes share them. Node n (1-based) runs with
   * IOC_BROKER_ID=n, an MQTT port of its own and a data directory of its own (its spool; node 1's
   * is `dataDir`, node n's `dataDir/broker-n`); one IOC_DEVICE_CREDENTIAL_KEY is generated for all
   * unless `env` sets it; node 1 alone writes the demo credentials file. Use InfluxDB storage to
   * see every node's readings in one store.
   */
  brokerNodes?: number;
  /**
   * HAProxy in front of the broker nodes (startHaproxy, round robin): `mqttUrl` is then HAProxy's
   * and the API reaches the broker through it, as devices do.
   */
  haproxy?: boolean;
  /** How HAProxy spreads device connections (`balance`); default `roundrobin`. */
  haproxyBalance?: 'roundrobin' | 'leastconn';
  /** Start the API process (default true); without it `api` throws. */
  api?: boolean;
  /** Extra environment for the broker nodes only, per node (1-based). */
  brokerEnv?: (node: number) => Record<string, string>;
  /**
   * Extra environment for the API nodes only, per node (1-based), applied last (over `env`, the
   * node's IOC_HTTP_PORT and IOC_NODE_ID).
   */
  apiEnv?: (node: number) => Record<string, string>;
}

/** One broker node of a RunningPlatform. */
export interface BrokerNode {
  /** IOC_BROKER_ID. */
  readonly id: number;
  readonly mqttPort: number;
  /** `mqtt://127.0.0.1:<its own port>` (not through HAProxy). */
  readonly mqttUrl: string;
  /** Its IOC_DATA_DIR (its spool under `spool/`). */
  readonly dataDir: string;
  /** Its current process (replaced by restartBroker). */
  readonly process: ServiceProcess;
  /** The environment it runs with (to start a process like it: startService(BROKER_ENTRY, env, …)). */
  readonly env: Readonly<Record<string, string>>;
}

export interface RunningPlatform {
  /** Where devices connect: HAProxy's address with `haproxy`, else broker node 1's. */
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
  /** The current process of broker node 1 (replaced by restartBroker). */
  readonly broker: ServiceProcess;
  /** Every broker node, in IOC_BROKER_ID order (node 1 first). */
  readonly brokers: readonly BrokerNode[];
  /** HAProxy in front of the broker nodes (option `haproxy`). */
  readonly haproxy?: HaproxyHandle;
  /** The current API process (replaced by restartApi). @throws Error when started with `api: false` */
  readonly api: ServiceProcess;
  /** Every API node's HTTP base URL (`apiNodes` of them; [0] is `httpUrl`). */
  readonly httpUrls: readonly string[];
  /** Every API node's current process ([0] is `api`). */
  readonly apis: readonly ServiceProcess[];
  /** Stops the API with `signal` (SIGTERM: a clean shutdown) and starts it again with the same settings. */
  restartApi(signal?: NodeJS.Signals): Promise<void>;
  /**
   * Kills broker node `node` (default 1) with `signal` (SIGKILL: no chance to flush anything) and
   * waits for it to die.
   */
  killBroker(signal?: NodeJS.Signals, node?: number): Promise<void>;
  /** Starts broker node `node` (default 1) again on the same port and data directory. */
  restartBroker(node?: number): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Broker and API as separate processes on free loopback ports, with their own data directory;
 * several broker nodes behind HAProxy with `brokerNodes` and `haproxy`.
 */
export async function startPlatform(options: PlatformOptions): Promise<RunningPlatform> {
  const dataDir = mkdtempSync(join(tmpdir(), 'ioc-platform-'));
  const nodeCount = options.brokerNodes ?? 1;
  if (nodeCount > 1 && (!options.env?.['IOC_REDIS_URL'] || !options.env?.['IOC_DATABASE_URL'])) {
    throw new Error('startPlatform: several broker nodes need IOC_REDIS_URL and IOC_DATABASE_URL in env');
  }
  const brokerPorts: number[] = [];
  for (let n = 1; n <= nodeCount; n++) brokerPorts.push(await freePort());
  const mqttPort = brokerPorts[0] as number;
  const httpPort = await freePort();
  const apiNodes = options.apiNodes ?? 1;
  const httpPorts = [httpPort];
  while (httpPorts.length < apiNodes) httpPorts.push(await freePort());
  let haproxy: HaproxyHandle | undefined;
  if (options.haproxy) {
    haproxy = await startHaproxy({
      ...(options.haproxyBalance ? { balance: options.haproxyBalance } : {}),
      backends: brokerPorts.map((port, i) => ({ host: '127.0.0.1', port, name: `broker-${i + 1}` })),
    });
  }
  const deviceMqttPort = haproxy?.port ?? mqttPort;
  const env: Record<string, string> = {
    IOC_STORAGE: options.storage,
    IOC_DATA_DIR: dataDir,
    IOC_MQTT_HOST: '127.0.0.1',
    IOC_MQTT_PORT: String(mqttPort),
    IOC_HTTP_HOST: '127.0.0.1',
    IOC_HTTP_PORT: String(httpPort),
    IOC_BROKER_URL: `mqtt://127.0.0.1:${deviceMqttPort}`,
    IOC_INTERNAL_SECRET: 'test-internal-secret-0123456789',
    ...(options.influxUrl ? { IOC_INFLUX_URL: options.influxUrl } : {}),
    IOC_INFLUX_DB: options.influxDatabase ?? 'ioc_e2e',
    IOC_DEMO_CREDENTIALS_FILE: join(dataDir, 'device-credentials.json'),
    IOC_ADMIN_PASSWORD: TEST_ADMIN_PASSWORD,
    // Longer than any test: a session logged in at the start serves the whole test file.
    IOC_AUTH_ACCESS_TOKEN_TTL_SECONDS: '3600',
    IOC_CONSOLE_DIR: options.consoleDir ?? 'off',
    // Nodes must hash device secrets with one key (each would generate its own in its data dir).
    ...(nodeCount > 1 ? { IOC_DEVICE_CREDENTIAL_KEY: randomBytes(32).toString('hex') } : {}),
    ...options.env,
  };
  /** The environment of broker node n: its id, port and data directory; the demo file on node 1 only. */
  const brokerEnvOf = (n: number): Record<string, string> => {
    if (nodeCount === 1) return { ...env, ...options.brokerEnv?.(1) };
    const nodeDir = n === 1 ? dataDir : join(dataDir, `broker-${n}`);
    mkdirSync(nodeDir, { recursive: true });
    const nodeEnv: Record<string, string> = {
      ...env,
      IOC_BROKER_ID: String(n),
      IOC_MQTT_PORT: String(brokerPorts[n - 1]),
      IOC_DATA_DIR: nodeDir,
      ...options.brokerEnv?.(n),
    };
    if (n > 1) delete nodeEnv['IOC_DEMO_CREDENTIALS_FILE'];
    return nodeEnv;
  };
  let admin: Promise<ApiSession> | undefined;
  const credentialsFile = env['IOC_DEMO_CREDENTIALS_FILE'] as string;
  const brokers: { id: number; process: ServiceProcess; env: Record<string, string> }[] = [];
  // API node n's environment: its own port and an explicit id (IOC_REDIS_URL requires one); node 1
  // keeps the options' IOC_NODE_ID, if any.
  const apiEnv = (index: number): Record<string, string> => ({
    ...env,
    IOC_HTTP_PORT: String(httpPorts[index]),
    IOC_NODE_ID: index === 0 && env['IOC_NODE_ID'] ? env['IOC_NODE_ID'] : String(index + 1),
    ...options.apiEnv?.(index + 1),
  });
  const apis: ServiceProcess[] = [];
  const stopAll = async (): Promise<void> => {
    for (const api of apis) await api.stop();
    await Promise.all(brokers.map((node) => node.process.stop()));
    await haproxy?.close();
    rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    // One after the other: node 1 prepares the registry and the demo credentials first.
    for (let n = 1; n <= nodeCount; n++) {
      const nodeEnv = brokerEnvOf(n);
      brokers.push({
        id: n,
        env: nodeEnv,
        process: await startService(BROKER_ENTRY, nodeEnv, 'broker ready'),
      });
    }
    if (options.api !== false && options.apiStartTogether) {
      const started = await Promise.allSettled(
        httpPorts.map((_, i) => startService(API_ENTRY, apiEnv(i), 'API listening')),
      );
      for (const outcome of started) if (outcome.status === 'fulfilled') apis.push(outcome.value);
      const failed = started.find((outcome) => outcome.status === 'rejected');
      if (failed) throw failed.reason;
    } else if (options.api !== false) {
      for (let i = 0; i < apiNodes; i++) apis.push(await startService(API_ENTRY, apiEnv(i), 'API listening'));
    }
  } catch (error) {
    await stopAll();
    throw error;
  }
  const nodeOf = (n: number) => {
    const node = brokers[n - 1];
    if (!node) throw new Error(`no broker node ${n} (there are ${brokers.length})`);
    return node;
  };
  return {
    mqttUrl: `mqtt://127.0.0.1:${deviceMqttPort}`,
    mqttPort: deviceMqttPort,
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
      return nodeOf(1).process;
    },
    get brokers() {
      return brokers.map((node) => ({
        id: node.id,
        mqttPort: Number(node.env['IOC_MQTT_PORT']),
        mqttUrl: `mqtt://127.0.0.1:${node.env['IOC_MQTT_PORT']}`,
        dataDir: node.env['IOC_DATA_DIR'] as string,
        process: node.process,
        env: node.env,
      }));
    },
    haproxy,
    get api() {
      const api = apis[0];
      if (!api) throw new Error('startPlatform: started without the API (api: false)');
      return api;
    },
    httpUrls: httpPorts.map((port) => `http://127.0.0.1:${port}`),
    get apis() {
      return apis;
    },
    async restartApi(signal: NodeJS.Signals = 'SIGTERM') {
      await apis[0]?.stop(signal);
      apis[0] = await startService(API_ENTRY, apiEnv(0), 'API listening');
    },
    async killBroker(signal: NodeJS.Signals = 'SIGKILL', node = 1) {
      await nodeOf(node).process.stop(signal);
    },
    async restartBroker(node = 1) {
      const entry = nodeOf(node);
      entry.process = await startService(BROKER_ENTRY, entry.env, 'broker ready');
    },
    stop: stopAll,
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
