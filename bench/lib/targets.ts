import { fork, type ChildProcess } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import {
  freePort,
  type InfluxdHandle,
  type PostgresHandle,
  type RedisHandle,
  type RunningPlatform,
  startInfluxd,
  startPlatform,
  startPostgres,
  startRedis,
  startService,
  type ServiceProcess,
} from '@ioc/testing';
import type { AlertListBody, RuleDefinitionInput } from '@ioc/contracts';
import { generateRules, writeBenchSeeds } from './bench-rules';
import { getJson, type IngestStatsView, onInterrupt, sleep } from './common';
import type { LoaderEvent, LoaderRunConfig } from './loader-process';
import { startNodeRedPeer } from './node-red-peer';
import { NodeSeries, platformView, type PlatformStatsView, type TimedStats } from './node-stats';
import { NoopSubscriber } from './noop-subscriber';
import { childPidsNamed } from './proc-cpu';

export const WORKSPACE_ROOT = resolve(__dirname, '..', '..');
const REGISTER = join(WORKSPACE_ROOT, 'scripts', 'register.js');
const PROBE_HOOK = join(__dirname, 'process-probe.js');
const BARE_BROKER = join(__dirname, 'bare-broker.ts');
const LOADER_PROCESS = join(__dirname, 'loader-process.ts');
const AUTH_BROKER = join(__dirname, 'auth-broker.ts');

export type VariantName =
  | 'embedded'
  | 'influxdb'
  | 'bare'
  | 'node-red'
  | 'auth-off'
  | 'auth-on'
  | 'alerts-off'
  | 'alerts-0'
  | 'alerts-500'
  | 'nodes-1'
  | 'nodes-2'
  | 'nodes-2-haproxy';

export const VARIANT_NAMES: readonly VariantName[] = [
  'embedded',
  'influxdb',
  'bare',
  'node-red',
  'auth-off',
  'auth-on',
  'alerts-off',
  'alerts-0',
  'alerts-500',
  'nodes-1',
  'nodes-2',
  'nodes-2-haproxy',
];

export const VARIANT_LABELS: Record<VariantName, string> = {
  embedded: 'platform + embedded store',
  influxdb: 'platform + influxd 1.x',
  bare: 'bare aedes (ceiling)',
  'node-red': 'mosquitto → Node-RED → influxd',
  'auth-off': 'broker, per-device conns, auth off',
  'auth-on': 'broker, per-device conns, credentials',
  'alerts-off': 'platform, IOC_ALERTS=off',
  'alerts-0': 'platform, alert engine, 0 rules',
  'alerts-500': 'platform, alert engine, 500 rules',
  'nodes-1': '1 broker node, Redis + PostgreSQL',
  'nodes-2': '2 broker nodes, Redis + PostgreSQL',
  'nodes-2-haproxy': '2 broker nodes behind HAProxy',
};

/**
 * The scale-out variants (issue 12's benchmark): the platform in its several-node configuration —
 * a real redis-server (IOC_REDIS_URL: mqemitter-redis, aedes-persistence-redis, the alert engine's
 * reading stream and lease), a real PostgreSQL registry (IOC_DATABASE_URL), one influxd for every
 * node's readings (database `ioc_bench`), IOC_BROKER_ID per node, one API node — with one broker
 * node (`nodes-1`: what the cluster plumbing costs against `influxdb`, the same store without
 * Redis and PostgreSQL) or two (`nodes-2`: the load generator's connections split between the
 * nodes' own ports, connection i to node i mod 2; `nodes-2-haproxy`: every connection through
 * HAProxy, round robin, whose CPU is charged too). Every other setting is the default, as for
 * `influxdb` (durable spool, the alert engine with the shipped rules; IOC_MQTT_AUTH=off).
 */
export const CLUSTER_VARIANTS: readonly VariantName[] = ['nodes-1', 'nodes-2', 'nodes-2-haproxy'];

/** Broker nodes each scale-out variant runs. */
export const CLUSTER_NODE_COUNT: Partial<Record<VariantName, number>> = {
  'nodes-1': 1,
  'nodes-2': 2,
  'nodes-2-haproxy': 2,
};

/**
 * Variants whose sustained rate is compared with the Node-RED peer's and held to the platform's
 * targets: the platform on one node and in its scale-out configuration.
 */
export const isComparedPlatform = (variant: VariantName): boolean =>
  PLATFORM_VARIANTS.includes(variant) || CLUSTER_VARIANTS.includes(variant);

/**
 * CPU % of the broker processes in a run's CPU figures: `broker` (one-node variants, the bare
 * broker) or the sum of `broker-1`, `broker-2`, … (scale-out variants); undefined without any.
 */
export function brokerCpuOf(cpu: Record<string, number>): number | undefined {
  const names = Object.keys(cpu).filter((name) => name === 'broker' || /^broker-\d+$/.test(name));
  return names.length === 0 ? undefined : names.reduce((sum, name) => sum + (cpu[name] ?? 0), 0);
}

/**
 * The alerting trio (issue 10's ingest benchmark): the platform (broker + API, embedded store,
 * the seeded devices and areas) with IOC_ALERTS=off, with the alert engine on and no rule, and with
 * the engine on and 500 generated rules that never fire on the load (bench/lib/bench-rules.ts;
 * `TargetOptions.rules` replaces them). The shipped default rules are loaded by none of them.
 */
export const ALERT_VARIANTS: readonly VariantName[] = ['alerts-off', 'alerts-0', 'alerts-500'];

/** Variants that run the platform's broker and API processes (a durable spool, a store, the API). */
export const isPlatformVariant = (variant: VariantName): boolean =>
  PLATFORM_VARIANTS.includes(variant) ||
  ALERT_VARIANTS.includes(variant) ||
  CLUSTER_VARIANTS.includes(variant);

/**
 * The device-authentication pair: the platform broker alone (bench/lib/auth-broker.ts, embedded
 * store, no API) with one connection per device, logging in with credentials (`auth-on`) or
 * without (`auth-off`, IOC_MQTT_AUTH=off). Same process, same load: only authentication differs.
 */
export const AUTH_VARIANTS: readonly VariantName[] = ['auth-off', 'auth-on'];

/** The platform's variants: durable (a PUBACK means the reading is in the spool, fsynced). */
export const PLATFORM_VARIANTS: readonly VariantName[] = ['embedded', 'influxdb'];

/**
 * The processes whose CPU time is charged to each variant when CPU µs per reading is reported
 * (names as in `Target.pids`). Never the load generator or the benchmark process itself — so the
 * bare broker's no-op subscriber, which runs in the benchmark process, is not charged.
 */
export const TARGET_PROCESSES: Record<VariantName, readonly string[]> = {
  embedded: ['broker', 'api'],
  influxdb: ['broker', 'api', 'influxd'],
  bare: ['broker'],
  'node-red': ['mosquitto', 'node-red', 'influxd'],
  'auth-off': ['broker'],
  'auth-on': ['broker'],
  'alerts-off': ['broker', 'api'],
  'alerts-0': ['broker', 'api'],
  'alerts-500': ['broker', 'api'],
  'nodes-1': ['broker-1', 'api', 'redis', 'postgres', 'influxd'],
  'nodes-2': ['broker-1', 'broker-2', 'api', 'redis', 'postgres', 'influxd'],
  'nodes-2-haproxy': ['broker-1', 'broker-2', 'api', 'redis', 'postgres', 'influxd', 'haproxy'],
};

/**
 * Processes measured with all their descendants (CpuMeter's `trees`): PostgreSQL's postmaster
 * forks a backend per connection and its background workers.
 */
export const PROCESS_TREES: readonly string[] = ['postgres'];

export interface StoredCount {
  /** Readings in the store (InfluxDB: points carrying `seq`; embedded: not counted). */
  readings?: number;
  /** Stored points: one per (reading, metric). */
  points: number;
}

/** What a benchmark drives: an MQTT port and, for the platform, its API and store. */
export interface Target {
  variant: VariantName;
  mqttPort: number;
  /**
   * Scale-out variants without a load balancer: every broker node's own port; the load
   * generator's connection i goes to `mqttPorts[i % n]`.
   */
  mqttPorts?: number[];
  /**
   * Scale-out variants: each broker node's ingest counters, from the `nodes` of the API's answers
   * that `stats()` (their sum) polled, timestamped with their own `publishedAt` (NodeSeries).
   */
  nodeSeries?(): { node: string; samples: TimedStats[] }[];
  httpUrl?: string;
  /** Processes whose CPU use is reported (self = the benchmark process). */
  pids: Record<string, number | undefined>;
  platform?: RunningPlatform;
  influxd?: InfluxdHandle;
  subscriber?: NoopSubscriber;
  stats(): Promise<IngestStatsView | undefined>;
  storedCount(): Promise<StoredCount | undefined>;
  /**
   * Readings the target's influxd has acknowledged so far (its `pointsWrittenOK`: one point = one
   * line = one reading in both the platform's and the peer's writes); undefined without influxd
   * or when it does not answer. Cheap (no data scan), so it can be polled during the window.
   */
  influxWrites?(): Promise<number | undefined>;
  /** Node-RED peer: the `[error]` lines Node-RED logged so far (failed writes, function errors). */
  peerErrors?(): string[];
  /** Node-RED peer: when Mosquitto began dropping messages for a subscriber (epoch s), per episode. */
  peerDropEpisodes?(): number[];
  /** Processes of the target that died while it was supposed to run, with their last output. */
  problems(): string[];
  stop(): Promise<void>;
}

function exitedProblems(services: Record<string, ServiceProcess>): string[] {
  const problems: string[] = [];
  for (const [name, service] of Object.entries(services)) {
    const { exitCode, signalCode } = service.child;
    if (exitCode === null && signalCode === null) continue;
    // Its whole output goes to a file; the message quotes the first lines that are not info logs.
    const file = join(tmpdir(), `bench-${name}-${String(service.child.pid)}.log`);
    writeFileSync(file, service.output());
    const lines = service
      .output()
      .split('\n')
      .filter((l) => l.trim() !== '' && !l.includes('"level":30'));
    const excerpt = lines.slice(0, 6).join(' | ').slice(0, 800);
    problems.push(
      `${name} exited (${signalCode ?? `code ${String(exitCode)}`}): ${excerpt} [full output: ${file}]`,
    );
  }
  return problems;
}

export interface TargetOptions {
  /**
   * Directory through which the broker/API (or bare broker) are probed: event-loop delay, and
   * with `cpuProfile` V8 CPU profiles (see process-probe.js and `probe`).
   */
  probeDir?: string;
  cpuProfile?: boolean;
  /** Extra environment for the platform's processes. */
  env?: Record<string, string>;
  /** Node-RED peer: readings per InfluxDB write and the longest wait for a batch to fill. */
  peerBatchReadings?: number;
  peerBatchMs?: number;
  /**
   * Alert variants: the rules loaded (default: none for `alerts-off` and `alerts-0`,
   * `generateRules(500)` for `alerts-500`). The target starts once the broker's alert engine has
   * them all.
   */
  rules?: readonly RuleDefinitionInput[];
  /** Alert variants: the store (default embedded; influxdb starts a real influxd as that variant). */
  storage?: 'embedded' | 'influxdb';
}

/** How long a target waits for the broker's alert engine to have loaded the seeded rules. */
const RULES_LOADED_TIMEOUT_MS = 120_000;

/** The `rules` count of the broker's last "alert engine started" / "alert rules reloaded" log line. */
function rulesLoaded(brokerOutput: string): number | undefined {
  let count: number | undefined;
  for (const line of brokerOutput.split('\n')) {
    if (!line.includes('"msg":"alert engine started"') && !line.includes('"msg":"alert rules reloaded"'))
      continue;
    const match = /"rules":(\d+)/.exec(line);
    if (match) count = Number(match[1]);
  }
  return count;
}

/**
 * Alert rules the broker's engine could not evaluate (its "alert rule not evaluated" warnings): a
 * benchmark reports them, since a rule left out costs nothing.
 */
export function rulesNotEvaluated(target: Target): number {
  const output = target.platform?.broker.output() ?? '';
  return output.split('\n').filter((l) => l.includes('"msg":"alert rule not evaluated"')).length;
}

function probeEnv(options: TargetOptions): Record<string, string> {
  if (options.probeDir === undefined) return {};
  mkdirSync(options.probeDir, { recursive: true });
  const inherited = process.env['NODE_OPTIONS'] ?? '';
  return {
    NODE_OPTIONS: `${inherited} --require ${PROBE_HOOK}`.trim(),
    BENCH_PROBE_DIR: options.probeDir,
    ...(options.cpuProfile ? { BENCH_PROBE_CPU_PROFILE: '1' } : {}),
  };
}

/**
 * Starts a variant on free loopback ports with fresh temporary data directories; its processes
 * are stopped and directories removed by `stop()`, or on SIGINT/SIGTERM.
 */
export async function startTarget(variant: VariantName, options: TargetOptions = {}): Promise<Target> {
  const target = await startTargetProcesses(variant, options);
  const stop = target.stop.bind(target);
  let stopping: Promise<void> | undefined;
  const once = (): Promise<void> => (stopping ??= stop());
  const unregister = onInterrupt(once);
  target.stop = async () => {
    await once();
    unregister();
  };
  return target;
}

async function startTargetProcesses(variant: VariantName, options: TargetOptions): Promise<Target> {
  if (variant === 'bare') {
    const port = await freePort();
    const broker: ServiceProcess = await startService(
      BARE_BROKER,
      { BENCH_BARE_PORT: String(port), ...probeEnv(options) },
      'bare broker ready',
    );
    const subscriber = new NoopSubscriber();
    try {
      await subscriber.start('127.0.0.1', port, 'ioc/v1/#', `bench-noop-sub-${process.pid}`);
    } catch (error) {
      await broker.stop();
      throw error;
    }
    return {
      variant,
      mqttPort: port,
      pids: { broker: broker.child.pid, self: process.pid },
      subscriber,
      stats: async () => undefined,
      storedCount: async () => undefined,
      problems: () => exitedProblems({ broker }),
      async stop() {
        await subscriber.stop();
        await broker.stop();
      },
    };
  }

  if (variant === 'node-red') return startNodeRedTarget(options);
  if (CLUSTER_VARIANTS.includes(variant)) return startClusterTarget(variant, options);
  if (variant === 'auth-off' || variant === 'auth-on') {
    const broker = await startBenchBroker({
      auth: variant === 'auth-on' ? 'credentials' : 'off',
      env: probeEnv(options),
    });
    return {
      variant,
      mqttPort: broker.port,
      httpUrl: broker.httpUrl,
      pids: { broker: broker.service.child.pid, self: process.pid },
      stats: () => getJson<IngestStatsView>(`${broker.httpUrl}/api/v1/ingest/stats`),
      storedCount: () => Promise.resolve(sqliteCount(broker.dataDir)),
      problems: () => exitedProblems({ broker: broker.service }),
      stop: () => broker.stop(),
    };
  }

  const alerting = ALERT_VARIANTS.includes(variant);
  const storage =
    variant === 'influxdb' || (alerting && options.storage === 'influxdb') ? 'influxdb' : 'embedded';
  const rules = alerting
    ? (options.rules ?? (variant === 'alerts-500' ? generateRules(500) : []))
    : undefined;
  const seeds = rules ? writeBenchSeeds(rules) : undefined;
  let influxd: InfluxdHandle | undefined;
  let platform: RunningPlatform;
  try {
    if (storage === 'influxdb') influxd = await startInfluxd();
    platform = await startPlatform({
      storage,
      ...(influxd ? { influxUrl: influxd.url, influxDatabase: 'ioc_bench' } : {}),
      env: {
        // The load generator's shared connections log in as no device (the auth-on / auth-off
        // variants measure device authentication).
        IOC_MQTT_AUTH: 'off',
        ...(seeds ? { IOC_SEEDS_DIR: seeds.dir, IOC_ALERTS: variant === 'alerts-off' ? 'off' : 'on' } : {}),
        ...probeEnv(options),
        ...options.env,
      },
    });
  } catch (error) {
    await influxd?.stop();
    seeds?.remove();
    throw error;
  }
  if (rules && rules.length > 0 && variant !== 'alerts-off') {
    // The API writes the seed rules at its start; the broker's registry sync hands them to the engine.
    const deadline = Date.now() + RULES_LOADED_TIMEOUT_MS;
    while ((rulesLoaded(platform.broker.output()) ?? -1) < rules.length) {
      if (Date.now() > deadline || platform.broker.child.exitCode !== null) {
        await platform.stop();
        await influxd?.stop();
        seeds?.remove();
        throw new Error(
          `the broker's alert engine did not load the ${rules.length} rules within ${RULES_LOADED_TIMEOUT_MS / 1000} s (last count: ${rulesLoaded(platform.broker.output()) ?? 'none'})`,
        );
      }
      await sleep(200);
    }
  }
  const httpUrl = platform.httpUrl;
  const pids: Record<string, number | undefined> = {
    broker: platform.broker.child.pid,
    api: platform.api.child.pid,
    self: process.pid,
  };
  if (influxd) pids['influxd'] = childPidsNamed(process.pid, 'influxd')[0];
  return {
    variant,
    mqttPort: platform.mqttPort,
    httpUrl,
    pids,
    platform,
    ...(influxd ? { influxd } : {}),
    stats: async () => {
      const body = await getJson<PlatformStatsView>(
        `${httpUrl}/api/v1/ingest/stats`,
        (await platform.admin()).headers,
      );
      return body ? platformView(body) : undefined;
    },
    ...(influxd ? { influxWrites: () => influxPointsWritten(influxd.url) } : {}),
    storedCount: () =>
      influxd ? influxCount(influxd.url, 'ioc_bench') : Promise.resolve(sqliteCount(platform.dataDir)),
    problems: () => [
      ...exitedProblems({ broker: platform.broker, api: platform.api }),
      ...(influxd && !influxd.running ? ['influxd exited'] : []),
    ],
    async stop() {
      await platform.stop();
      await influxd?.stop();
      seeds?.remove();
    },
  };
}

/**
 * A scale-out variant (CLUSTER_VARIANTS): redis-server, PostgreSQL and influxd started fresh, then
 * the platform with CLUSTER_NODE_COUNT broker nodes and one API node (startPlatform); it is ready
 * once the API lists every node's counters. Stopped in reverse order.
 */
async function startClusterTarget(variant: VariantName, options: TargetOptions): Promise<Target> {
  const nodes = CLUSTER_NODE_COUNT[variant] ?? 1;
  const haproxy = variant === 'nodes-2-haproxy';
  let redis: RedisHandle | undefined;
  let postgres: PostgresHandle | undefined;
  let influxd: InfluxdHandle | undefined;
  let platform: RunningPlatform | undefined;
  const series = new NodeSeries();
  const stopAll = async (): Promise<void> => {
    await platform?.stop();
    await influxd?.stop();
    await postgres?.stop();
    await redis?.close();
  };
  try {
    redis = await startRedis();
    postgres = await startPostgres();
    const databaseUrl = await postgres.createDatabase('ioc_bench');
    influxd = await startInfluxd();
    platform = await startPlatform({
      storage: 'influxdb',
      influxUrl: influxd.url,
      influxDatabase: 'ioc_bench',
      brokerNodes: nodes,
      haproxy,
      env: {
        // As for the one-node variants: the load generator's shared connections log in as no device.
        IOC_MQTT_AUTH: 'off',
        IOC_REDIS_URL: redis.url,
        IOC_DATABASE_URL: databaseUrl,
        ...probeEnv(options),
        ...options.env,
      },
      // With IOC_REDIS_URL a broker node refuses to start without an explicit id (startPlatform
      // sets it for several nodes, not for one).
      brokerEnv: (n) => ({ IOC_BROKER_ID: String(n) }),
    });
    await platform.haproxy?.waitForUp(nodes, 20_000);
    // Every node publishes its counters every 2 s; the API lists each once it heard from it.
    const deadline = Date.now() + 20_000;
    for (;;) {
      const body = await getJson<PlatformStatsView>(
        `${platform.httpUrl}/api/v1/ingest/stats`,
        (await platform.admin()).headers,
      );
      if ((body?.nodes?.length ?? 0) >= nodes) break;
      if (Date.now() > deadline)
        throw new Error(`the API did not list the ${nodes} broker nodes' ingest statistics within 20 s`);
      await sleep(250);
    }
  } catch (error) {
    await stopAll();
    throw error;
  }
  const running = platform;
  const influx = influxd;
  const pids: Record<string, number | undefined> = { self: process.pid };
  for (const node of running.brokers) pids[`broker-${node.id}`] = node.process.child.pid;
  pids['api'] = running.api.child.pid;
  pids['redis'] = childPidsNamed(process.pid, 'redis-server')[0];
  pids['postgres'] = childPidsNamed(process.pid, 'postgres')[0];
  pids['influxd'] = childPidsNamed(process.pid, 'influxd')[0];
  if (haproxy) pids['haproxy'] = childPidsNamed(process.pid, 'haproxy')[0];
  const services = (): Record<string, ServiceProcess> => ({
    ...Object.fromEntries(running.brokers.map((b) => [`broker-${b.id}`, b.process])),
    api: running.api,
  });
  const redisHandle = redis;
  return {
    variant,
    mqttPort: running.mqttPort,
    ...(haproxy ? {} : { mqttPorts: running.brokers.map((b) => b.mqttPort) }),
    httpUrl: running.httpUrl,
    pids,
    platform: running,
    influxd: influx,
    stats: async () => {
      const body = await getJson<PlatformStatsView>(
        `${running.httpUrl}/api/v1/ingest/stats`,
        (await running.admin()).headers,
      );
      if (!body) return undefined;
      series.record(body.nodes);
      return platformView(body);
    },
    nodeSeries: () => series.nodeSeries(),
    influxWrites: () => influxPointsWritten(influx.url),
    storedCount: () => influxCount(influx.url, 'ioc_bench'),
    problems: () => [
      ...exitedProblems(services()),
      ...(influx.running ? [] : ['influxd exited']),
      ...(redisHandle.running ? [] : ['redis-server exited']),
    ],
    stop: stopAll,
  };
}

/**
 * Alerts the platform has opened (any state, any time), leaving out those of `exceptRuleId`, from
 * `GET /api/v1/alerts` as the admin: the generated benchmark rules must never fire, so anything
 * here means a rule's limit was within the load's values. At most 1 000 are counted (`more` when
 * there are others); undefined when the API does not answer.
 */
export async function alertsOpened(
  target: Target,
  exceptRuleId?: string,
): Promise<{ count: number; more: boolean; rules: string[] } | undefined> {
  if (!target.platform || !target.httpUrl) return undefined;
  const body = await getJson<AlertListBody>(
    `${target.httpUrl}/api/v1/alerts?limit=1000`,
    (await target.platform.admin()).headers,
  );
  if (!body) return undefined;
  const others = body.alerts.filter((a) => a.ruleId !== exceptRuleId);
  return {
    count: others.length,
    more: body.nextCursor !== null,
    rules: [...new Set(others.map((a) => a.ruleId))],
  };
}

/** A running bench/lib/auth-broker.ts process. */
export interface BenchBroker {
  service: ServiceProcess;
  port: number;
  /** Base URL of its stats endpoint (`/api/v1/ingest/stats`). */
  httpUrl: string;
  dataDir: string;
  /** Stops the process (SIGTERM, the broker and store closed) and removes its data directory. */
  stop(): Promise<void>;
  /** Stops the process only, keeping the data directory (a restart reuses it). */
  stopProcess(): Promise<void>;
}

/**
 * Starts bench/lib/auth-broker.ts on free loopback ports (or `port`) with a fresh temporary data
 * directory (or `dataDir`): the platform broker with device authentication `auth`, over the
 * seeded devices or `syntheticDevices` synthetic ones.
 */
export async function startBenchBroker(options: {
  auth: 'credentials' | 'off';
  port?: number;
  dataDir?: string;
  syntheticDevices?: number;
  env?: Record<string, string>;
}): Promise<BenchBroker> {
  const port = options.port ?? (await freePort());
  const statsPort = await freePort();
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'bench-auth-broker-'));
  const service = await startService(
    AUTH_BROKER,
    {
      BENCH_PORT: String(port),
      BENCH_STATS_PORT: String(statsPort),
      BENCH_DATA_DIR: dataDir,
      BENCH_AUTH: options.auth,
      BENCH_SYNTHETIC_DEVICES: String(options.syntheticDevices ?? 0),
      ...options.env,
    },
    'bench broker ready',
    120_000,
  );
  return {
    service,
    port,
    httpUrl: `http://127.0.0.1:${statsPort}`,
    dataDir,
    stopProcess: () => service.stop(),
    async stop() {
      await service.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

const PEER_DATABASE = 'ioc_bench';

/** Mosquitto → Node-RED → influxd (see node-red-peer.ts), with a fresh influxd and database. */
async function startNodeRedTarget(options: TargetOptions): Promise<Target> {
  const influxd = await startInfluxd();
  try {
    const created = await fetch(
      `${influxd.url}/query?q=${encodeURIComponent(`CREATE DATABASE ${PEER_DATABASE}`)}`,
      {
        method: 'POST',
      },
    );
    if (!created.ok)
      throw new Error(`CREATE DATABASE failed: HTTP ${created.status} ${await created.text()}`);
    const peer = await startNodeRedPeer({
      influxPort: influxd.port,
      database: PEER_DATABASE,
      ...(options.peerBatchReadings ? { batchReadings: options.peerBatchReadings } : {}),
      ...(options.peerBatchMs ? { batchMs: options.peerBatchMs } : {}),
      env: probeEnv(options),
    });
    return {
      variant: 'node-red',
      mqttPort: peer.mqttPort,
      pids: {
        mosquitto: peer.mosquitto.child.pid,
        'node-red': peer.nodeRed.child.pid,
        influxd: childPidsNamed(process.pid, 'influxd')[0],
        self: process.pid,
      },
      influxd,
      stats: async () => undefined,
      storedCount: () => influxCount(influxd.url, PEER_DATABASE),
      influxWrites: () => influxPointsWritten(influxd.url),
      peerErrors: () => peer.errorLines(),
      peerDropEpisodes: () => peer.dropEpisodes(),
      problems: () => [...peer.problems(), ...(influxd.running ? [] : ['influxd exited'])],
      async stop() {
        await peer.stop();
        await influxd.stop();
      },
    };
  } catch (error) {
    await influxd.stop();
    throw error;
  }
}

/**
 * Points influxd has written successfully through its HTTP API since it started: the
 * `pointsWrittenOK` counter of its `httpd` statistics, read from `GET /debug/vars` (expvar JSON,
 * served whatever `pprof-enabled` says). Undefined when influxd does not answer.
 */
export async function influxPointsWritten(url: string): Promise<number | undefined> {
  const vars = await getJson<Record<string, { values?: Record<string, number> } | undefined>>(
    `${url}/debug/vars`,
  );
  if (!vars) return undefined;
  const httpd = Object.entries(vars).find(([key]) => key.startsWith('httpd'))?.[1];
  return httpd?.values?.['pointsWrittenOK'];
}

/** Points in the embedded store, read through a read-only connection to its SQLite file. */
export function sqliteCount(dataDir: string): StoredCount | undefined {
  const file = join(dataDir, 'timeseries.sqlite');
  if (!existsSync(file)) return undefined;
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const row = db.prepare('SELECT count(*) AS n FROM points').get() as { n: number };
    return { points: row.n };
  } finally {
    db.close();
  }
}

/** `SELECT count(*)` over the readings measurement: `seq` counts readings, the other fields points. */
export async function influxCount(url: string, database: string): Promise<StoredCount | undefined> {
  const q = encodeURIComponent('SELECT count(*) FROM "readings"');
  const body = await getJson<{
    results?: { series?: { columns: string[]; values: number[][] }[] }[];
  }>(`${url}/query?db=${database}&q=${q}`, {}, 60_000);
  const series = body?.results?.[0]?.series?.[0];
  if (!series) return body ? { readings: 0, points: 0 } : undefined;
  let readings = 0;
  let points = 0;
  series.columns.forEach((column, i) => {
    if (column === 'time') return;
    const value = Number(series.values[0]?.[i] ?? 0);
    if (column === 'count_seq') readings += value;
    else points += value;
  });
  return { readings, points };
}

/** Event-loop delay of one process over the probed interval (ms). */
export interface LoopDelay {
  name: string;
  pid: number;
  seconds: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

/** Starts/stops probing every process started with `probeDir` (see process-probe.js). */
export const probe = {
  start(probeDir: string): void {
    writeFileSync(join(probeDir, 'start'), '');
  },
  /** Stops probing; resolves with each process's loop delay and the CPU profile files written. */
  async stop(
    probeDir: string,
    processes: number,
    cpuProfile: boolean,
    timeoutMs = 15_000,
  ): Promise<{ loops: LoopDelay[]; profiles: string[] }> {
    writeFileSync(join(probeDir, 'stop'), '');
    const deadline = Date.now() + timeoutMs;
    const list = (suffix: string): string[] => readdirSync(probeDir).filter((f) => f.endsWith(suffix));
    while (Date.now() < deadline) {
      if (list('.loop.json').length >= processes && (!cpuProfile || list('.cpuprofile').length >= processes))
        break;
      await sleep(100);
    }
    // The files are written synchronously by the probed process; give a large profile a moment.
    if (cpuProfile) await sleep(500);
    const loops = list('.loop.json').map(
      (f) => JSON.parse(readFileSync(join(probeDir, f), 'utf8')) as LoopDelay,
    );
    return { loops, profiles: list('.cpuprofile').map((f) => join(probeDir, f)) };
  },
};

/** One run of the load generator process against a port; events are passed to `onEvent`. */
export class LoaderProcess {
  private readonly child: ChildProcess;
  private readonly exited: Promise<void>;
  private done!: Promise<Extract<LoaderEvent, { ev: 'done' }>>;
  private windowEnd!: Promise<Extract<LoaderEvent, { ev: 'window-end' }>>;

  constructor() {
    this.child = fork(LOADER_PROCESS, [], {
      cwd: WORKSPACE_ROOT,
      execArgv: ['-r', REGISTER],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.exited = new Promise((r) => this.child.once('exit', () => r()));
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Whether the load generator process has exited (crashed, or stopped). */
  hasExited(): boolean {
    return this.child.exitCode !== null || this.child.signalCode !== null;
  }

  /**
   * Starts the run: resolves once connected; `onEvent` sees window-start/window-end as they come.
   */
  run(config: LoaderRunConfig, onEvent: (event: LoaderEvent) => void): Promise<void> {
    let failed: (error: Error) => void = () => undefined;
    const failure = new Promise<never>((_, reject) => (failed = reject));
    failure.catch(() => undefined);
    const connected = new Promise<void>((resolveConnected, rejectConnected) => {
      this.child.on('message', (event: LoaderEvent) => {
        if (event.ev === 'connected') resolveConnected();
        if (event.ev === 'error') {
          const error = new Error(`load generator: ${event.message}`);
          rejectConnected(error);
          failed(error);
        }
        onEvent(event);
      });
      void this.exited.then(() => {
        const error = new Error('load generator exited');
        rejectConnected(error);
        failed(error);
      });
    });
    this.windowEnd = Promise.race([
      new Promise<Extract<LoaderEvent, { ev: 'window-end' }>>((r) =>
        this.child.on('message', (e: LoaderEvent) => e.ev === 'window-end' && r(e)),
      ),
      failure,
    ]);
    this.done = Promise.race([
      new Promise<Extract<LoaderEvent, { ev: 'done' }>>((r) =>
        this.child.on('message', (e: LoaderEvent) => e.ev === 'done' && r(e)),
      ),
      failure,
    ]);
    this.child.send({ cmd: 'run', config });
    return connected;
  }

  waitWindowEnd(): Promise<Extract<LoaderEvent, { ev: 'window-end' }>> {
    return this.windowEnd;
  }

  waitDone(): Promise<Extract<LoaderEvent, { ev: 'done' }>> {
    return this.done;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.send({ cmd: 'exit' });
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    await this.exited;
    clearTimeout(timer);
  }
}

/** Removes a directory tree, ignoring errors (used for profile directories of a finished run). */
export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}
