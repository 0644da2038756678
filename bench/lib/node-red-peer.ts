/**
 * The peer the ingest benchmark compares the platform with: the stack most cities wire by hand —
 * **Mosquitto → Node-RED → InfluxDB 1.x** — on the same machine, driven by the same load
 * generator. Nothing of it is a project dependency:
 *
 * - `mosquitto` is Debian's (`/usr/sbin/mosquitto`, `apt-get install -y mosquitto`), started on a
 *   free loopback port with a configuration written to a temporary directory;
 * - Node-RED and its InfluxDB nodes are installed from npm at benchmark time into a cache
 *   directory under `os.tmpdir()` keyed by their pinned versions (so repeated runs do not
 *   reinstall), and started as a plain child process with a generated `settings.js` (no editor,
 *   no admin API, no HTTP nodes, user directory in a temporary folder) and flow;
 * - influxd is the repository's harness (`startInfluxd`, the shipped configuration).
 *
 * The flow (see {@link buildPeerFlow}) is what a careful integrator would wire: two `mqtt in`
 * nodes (QoS 1, parsed JSON) on the telemetry and event topics, one function node that turns a
 * message into an InfluxDB point with the same measurement, tags, fields and timestamp as the
 * platform's InfluxDB store writes (device type and area from a lookup table built from the same
 * seeds) and collects points into batches, and an `influxdb batch` node writing each batch.
 * There is no durability anywhere: Mosquitto acknowledges a publish as soon as it has routed it
 * (and drops messages for a subscriber whose queue is full), Node-RED holds batches in memory.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadSeeds } from '@ioc/registry';
import { freePort } from '@ioc/testing';
import { sleep } from './common';

/**
 * Pinned versions. Node-RED 5.x requires Node ≥ 22.9 (`npm view node-red@5.0.7 engines`), the
 * platform runs on Node 20, so the newest 4.x: 4.1.15 (engines `node >= 18.5`, 2026-09-10).
 * node-red-contrib-influxdb 0.7.0 (engines `node >= 10`, 2026-08-22) is the newest; for
 * InfluxDB 1.x its nodes write through the `influx` client (`writePoints`, one HTTP request per
 * input message).
 */
export const NODE_RED_VERSION = '4.1.15';
export const NODE_RED_INFLUXDB_VERSION = '0.7.0';

/** Debian's broker. */
export const MOSQUITTO_PATH = '/usr/sbin/mosquitto';

/** Topics the flow subscribes to (QoS 1): everything the load generator publishes. */
export const PEER_TOPICS = ['ioc/v1/+/+/telemetry', 'ioc/v1/+/+/event'] as const;

/**
 * Default batching of the flow: a batch is written when it holds this many readings or this many
 * milliseconds after its first reading — the same as the platform's InfluxDB store writes
 * (`writeBatchDefaults`: 5 000 readings / 100 ms), so what differs between the two is the stack,
 * not the batch size.
 */
export const PEER_BATCH_READINGS = 5000;
export const PEER_BATCH_MS = 100;

const INSTALL_TIMEOUT_MS = 10 * 60_000;
const START_TIMEOUT_MS = 60_000;
const STOP_GRACE_MS = 10_000;
const LOG_TAIL_CHARS = 64_000;

/** Whether Debian's mosquitto is installed (the node-red variant is skipped without it). */
export function mosquittoAvailable(): boolean {
  return existsSync(MOSQUITTO_PATH);
}

/**
 * Where the pinned Node-RED install is cached: `$TMPDIR/ioc-bench-node-red-<v>-influxdb-<v>`.
 * Removing that directory forces a fresh install on the next run.
 */
export function nodeRedInstallDir(): string {
  return join(tmpdir(), `ioc-bench-node-red-${NODE_RED_VERSION}-influxdb-${NODE_RED_INFLUXDB_VERSION}`);
}

function installedVersion(dir: string, name: string): string | undefined {
  try {
    const pkg = JSON.parse(readFileSync(join(dir, 'node_modules', name, 'package.json'), 'utf8')) as {
      version?: string;
    };
    return pkg.version;
  } catch {
    return undefined;
  }
}

function installComplete(dir: string): boolean {
  return (
    installedVersion(dir, 'node-red') === NODE_RED_VERSION &&
    installedVersion(dir, 'node-red-contrib-influxdb') === NODE_RED_INFLUXDB_VERSION
  );
}

/**
 * Returns the directory holding `node_modules/node-red` and `node_modules/node-red-contrib-influxdb`
 * at the pinned versions, installing them with `npm install --prefix` (≈ 20 s, ~125 MB, needs the
 * npm registry) the first time. The install goes to a directory of its own and is renamed into
 * place when complete, so an interrupted or concurrent install never leaves a half-filled cache.
 * Throws with npm's output when the install fails.
 */
export async function ensureNodeRedInstalled(log: (line: string) => void = console.log): Promise<string> {
  const dir = nodeRedInstallDir();
  if (installComplete(dir)) return dir;
  const partial = `${dir}.partial-${process.pid}`;
  rmSync(partial, { recursive: true, force: true });
  mkdirSync(partial, { recursive: true });
  // Without a package.json npm would look for one in the parent directories.
  writeFileSync(join(partial, 'package.json'), '{ "private": true }\n');
  log(
    `installing node-red@${NODE_RED_VERSION} node-red-contrib-influxdb@${NODE_RED_INFLUXDB_VERSION} into ${dir} (once)…`,
  );
  try {
    await new Promise<void>((resolveInstall, rejectInstall) => {
      execFile(
        'npm',
        [
          'install',
          '--prefix',
          partial,
          '--no-audit',
          '--no-fund',
          '--omit=dev',
          '--loglevel=error',
          `node-red@${NODE_RED_VERSION}`,
          `node-red-contrib-influxdb@${NODE_RED_INFLUXDB_VERSION}`,
        ],
        { cwd: partial, timeout: INSTALL_TIMEOUT_MS, maxBuffer: 16 * 2 ** 20 },
        (error, stdout, stderr) =>
          error
            ? rejectInstall(new Error(`npm install of Node-RED failed: ${error.message}\n${stdout}${stderr}`))
            : resolveInstall(),
      );
    });
    if (!installComplete(partial))
      throw new Error(`npm install finished but ${partial} lacks the pinned versions`);
    if (installComplete(dir)) {
      rmSync(partial, { recursive: true, force: true }); // another run installed it meanwhile
    } else {
      rmSync(dir, { recursive: true, force: true });
      renameSync(partial, dir);
    }
    return dir;
  } catch (error) {
    rmSync(partial, { recursive: true, force: true });
    throw error;
  }
}

/** A child process with the tail of its output (stdout and stderr interleaved). */
export interface PeerProcess {
  readonly name: string;
  readonly child: ChildProcess;
  output(): string;
  readonly exited: Promise<void>;
  running(): boolean;
  stop(): Promise<void>;
}

// Safety net: if the benchmark exits without stop() (an error, Ctrl-C while starting), neither
// Mosquitto nor Node-RED may outlive it. 'exit' handlers must be synchronous: SIGKILL + rmSync.
const live = new Set<{ child?: ChildProcess; dir?: string }>();
let exitHookInstalled = false;
function track(entry: { child?: ChildProcess; dir?: string }): () => void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const { child, dir } of live) {
        if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
        if (dir) rmSync(dir, { recursive: true, force: true });
      }
    });
  }
  live.add(entry);
  return () => live.delete(entry);
}

function startProcess(
  name: string,
  command: string,
  args: string[],
  cwd: string,
  env: Record<string, string> = {},
): PeerProcess {
  const child = spawn(command, args, {
    cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  let output = '';
  const append = (chunk: Buffer): void => {
    output = (output + chunk.toString('utf8')).slice(-LOG_TAIL_CHARS);
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  let done = false;
  const untrack = track({ child });
  const exited = new Promise<void>((resolveExit) => {
    child.once('exit', () => {
      done = true;
      untrack();
      resolveExit();
    });
    child.once('error', (error) => {
      append(Buffer.from(`\nspawn failed: ${error.message}\n`));
      done = true;
      resolveExit();
    });
  });
  return {
    name,
    child,
    output: () => output,
    exited,
    running: () => !done,
    async stop() {
      if (done) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Polls (until `deadline`) for `ready()`; fails with the process's output if it exits first. */
async function waitFor(
  proc: PeerProcess,
  what: string,
  ready: () => boolean | Promise<boolean>,
): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (!proc.running()) throw new Error(`${proc.name} exited before ${what}:\n${proc.output()}`);
    if (await ready()) return;
    await sleep(50);
  }
  throw new Error(`${proc.name}: no ${what} within ${START_TIMEOUT_MS} ms:\n${proc.output()}`);
}

function portAccepts(port: number): Promise<boolean> {
  return new Promise((done) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      done(true);
    });
    socket.once('error', () => done(false));
  });
}

/**
 * Mosquitto's configuration: one loopback listener, anonymous clients, no persistence, and the
 * broker's per-client limits written out at their documented defaults (mosquitto.conf(5) of
 * 2.0: `max_inflight_messages 20`, `max_queued_messages 1000` — beyond 1 000 queued QoS 1
 * messages for a slow subscriber, new ones are dropped, which the benchmark reports as readings
 * acknowledged and never stored). `log_type subscribe` lets the benchmark see Node-RED's
 * subscriptions arrive; `log_type notice` makes Mosquitto say when it starts dropping messages
 * for a client ("Outgoing messages are being dropped for client …", once per episode).
 */
export function mosquittoConfig(port: number): string {
  return [
    `listener ${port} 127.0.0.1`,
    'allow_anonymous true',
    'persistence false',
    'max_inflight_messages 20',
    'max_queued_messages 1000',
    'log_dest stderr', // unbuffered (stdout to a pipe is block-buffered)
    'log_type error',
    'log_type warning',
    'log_type notice',
    'log_type subscribe',
    'connection_messages false',
    '',
  ].join('\n');
}

/** Node-RED's settings: everything HTTP off, no prompts, nothing installed or sent anywhere. */
export function nodeRedSettings(userDir: string, uiPort: number): string {
  const settings = {
    uiHost: '127.0.0.1',
    uiPort,
    httpAdminRoot: false,
    httpNodeRoot: false,
    userDir,
    flowFile: 'flows.json',
    credentialSecret: false,
    logging: { console: { level: 'info', metrics: false, audit: false } },
    diagnostics: { enabled: false, ui: false },
    runtimeState: { enabled: false, ui: false },
    telemetry: { enabled: false },
    externalModules: {
      autoInstall: false,
      palette: { allowInstall: false },
      modules: { allowInstall: false },
    },
    functionExternalModules: false,
    contextStorage: { default: { module: 'memory' } },
    editorTheme: { projects: { enabled: false } },
  };
  return `module.exports = ${JSON.stringify(settings, null, 2)};\n`;
}

/**
 * The function node's code (Node-RED's function sandbox: `msg`, `node`, `context`, `setTimeout`).
 * `msg.topic` is `ioc/v1/<domain>/<deviceId>/<channel>`, `msg.payload` the parsed JSON
 * (`{ ts, seq, metrics, event? }`). It builds the point the platform's InfluxDB store writes for
 * the same reading — measurement `readings`, tags `areaId, deviceId, deviceType, domain, event,
 * kind`, one field per metric plus `seq`, time = `ts` in ms — drops what is not a device of the
 * lookup table or lacks `ts`/`metrics` (counted in `context.dropped`), and emits the collected
 * points as one message when `batchReadings` are collected or `batchMs` after the first.
 */
export function peerFunctionCode(batchReadings: number, batchMs: number): string {
  return `
const flush = () => {
  const batch = context.get('batch');
  clearTimeout(context.get('timer'));
  context.set('timer', undefined);
  if (!batch || batch.length === 0) return;
  context.set('batch', []);
  node.send({ payload: batch });
};
const parts = msg.topic.split('/');
const p = msg.payload;
const devices = context.get('devices');
const device = parts.length === 5 ? devices[parts[3]] : undefined;
if (device === undefined || p === null || typeof p !== 'object' || typeof p.ts !== 'number' ||
    p.metrics === null || typeof p.metrics !== 'object') {
  context.set('dropped', (context.get('dropped') || 0) + 1);
  return null;
}
const fields = {};
for (const name in p.metrics) {
  const v = p.metrics[name];
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'string') fields[name] = v;
}
if (typeof p.seq === 'number') fields.seq = p.seq;
const tags = { areaId: device[1], deviceId: parts[3], deviceType: device[0], domain: parts[2], kind: parts[4] };
if (typeof p.event === 'string' && p.event !== '') tags.event = p.event;
let batch = context.get('batch');
if (!batch) { batch = []; context.set('batch', batch); }
batch.push({ measurement: 'readings', tags, fields, timestamp: p.ts });
if (batch.length >= ${batchReadings}) flush();
else if (batch.length === 1) context.set('timer', setTimeout(flush, ${batchMs}));
return null;
`;
}

/** Where the flow connects (loopback ports), its database, and its batching (readings, ms). */
export interface PeerFlowOptions {
  mqttPort: number;
  influxPort: number;
  database: string;
  batchReadings: number;
  batchMs: number;
}

/**
 * The flow JSON: a tab, an `mqtt-broker` config node (MQTT 3.1.1, clean session, loopback), two
 * `mqtt in` nodes (QoS 1, `datatype: json`), the function node (its On Start code loads the
 * device lookup table `{ deviceId: [deviceType, areaId] }` from the seeds into its context), an
 * `influxdb` config node (1.x, loopback, the benchmark database) and an `influxdb batch` node
 * with ms precision.
 */
export function buildPeerFlow(options: PeerFlowOptions): unknown[] {
  const devices: Record<string, [string, string]> = {};
  for (const device of loadSeeds().devices) devices[device.id] = [device.type, device.areaId];
  const tab = 'bench-tab';
  return [
    { id: tab, type: 'tab', label: 'ioc ingest (benchmark peer)', disabled: false },
    {
      id: 'bench-broker',
      type: 'mqtt-broker',
      name: 'mosquitto',
      broker: '127.0.0.1',
      port: String(options.mqttPort),
      clientid: `bench-node-red-${process.pid}`,
      autoConnect: true,
      usetls: false,
      protocolVersion: '4',
      keepalive: '60',
      cleansession: true,
      autoUnsubscribe: true,
      birthTopic: '',
      closeTopic: '',
      willTopic: '',
    },
    ...PEER_TOPICS.map((topic, i) => ({
      id: `bench-mqtt-in-${i}`,
      type: 'mqtt in',
      z: tab,
      name: topic,
      topic,
      qos: '1',
      datatype: 'json',
      broker: 'bench-broker',
      nl: false,
      rap: true,
      rh: 0,
      inputs: 0,
      x: 150,
      y: 80 + 60 * i,
      wires: [['bench-to-points']],
    })),
    {
      id: 'bench-to-points',
      type: 'function',
      z: tab,
      name: 'to InfluxDB points, batched',
      func: peerFunctionCode(options.batchReadings, options.batchMs),
      outputs: 1,
      timeout: 0,
      noerr: 0,
      initialize: `context.set('devices', ${JSON.stringify(devices)});\ncontext.set('batch', []);\n`,
      finalize: `clearTimeout(context.get('timer'));\n`,
      libs: [],
      x: 420,
      y: 110,
      wires: [['bench-influx-batch']],
    },
    {
      id: 'bench-influx',
      type: 'influxdb',
      hostname: '127.0.0.1',
      port: String(options.influxPort),
      protocol: 'http',
      database: options.database,
      name: 'influxd',
      usetls: false,
      tls: '',
      influxdbVersion: '1.x',
    },
    {
      id: 'bench-influx-batch',
      type: 'influxdb batch',
      z: tab,
      influxdb: 'bench-influx',
      precision: 'ms',
      retentionPolicy: '',
      name: 'write batch',
      x: 660,
      y: 110,
      wires: [],
    },
  ];
}

/** A running peer: Mosquitto's port, both processes, and what they reported. */
export interface NodeRedPeer {
  mqttPort: number;
  mosquitto: PeerProcess;
  nodeRed: PeerProcess;
  /** Errors Node-RED logged (`[error]` lines: failed writes, function errors) since it started. */
  errorLines(): string[];
  /**
   * When Mosquitto began dropping messages for a client (epoch seconds, its log's resolution),
   * one entry per episode, from the tail of its log (the last 64 000 characters).
   */
  dropEpisodes(): number[];
  /** Processes that died, with an excerpt of their output. */
  problems(): string[];
  stop(): Promise<void>;
}

/** Options of {@link startNodeRedPeer}; batching defaults to PEER_BATCH_READINGS / PEER_BATCH_MS. */
export interface StartNodeRedPeerOptions {
  /** The influxd the flow writes to; `database` is created by the caller. */
  influxPort: number;
  database: string;
  batchReadings?: number;
  batchMs?: number;
  /** Extra environment for Node-RED (e.g. the event-loop probe's NODE_OPTIONS). */
  env?: Record<string, string>;
}

/**
 * Starts Mosquitto and Node-RED (installing Node-RED first if needed) on free loopback ports, in
 * a fresh temporary directory; resolves once Mosquitto has logged both of Node-RED's
 * subscriptions. `stop()` stops both (SIGTERM, SIGKILL after 10 s) and removes the directory.
 */
export async function startNodeRedPeer(options: StartNodeRedPeerOptions): Promise<NodeRedPeer> {
  if (!mosquittoAvailable()) throw new Error(`${MOSQUITTO_PATH} not found (apt-get install -y mosquitto)`);
  const installDir = await ensureNodeRedInstalled();
  const dir = mkdtempSync(join(tmpdir(), 'bench-node-red-peer-'));
  const userDir = join(dir, 'node-red');
  mkdirSync(userDir);
  const untrackDir = track({ dir });
  const started: PeerProcess[] = [];
  const stopAll = async (): Promise<void> => {
    for (const proc of [...started].reverse()) await proc.stop();
    rmSync(dir, { recursive: true, force: true });
    untrackDir();
  };
  try {
    const mqttPort = await freePort();
    writeFileSync(join(dir, 'mosquitto.conf'), mosquittoConfig(mqttPort));
    const mosquitto = startProcess('mosquitto', MOSQUITTO_PATH, ['-c', join(dir, 'mosquitto.conf')], dir);
    started.push(mosquitto);
    await waitFor(mosquitto, `a listener on 127.0.0.1:${mqttPort}`, () => portAccepts(mqttPort));

    writeFileSync(join(userDir, 'settings.js'), nodeRedSettings(userDir, await freePort()));
    writeFileSync(
      join(userDir, 'flows.json'),
      JSON.stringify(
        buildPeerFlow({
          mqttPort,
          influxPort: options.influxPort,
          database: options.database,
          batchReadings: options.batchReadings ?? PEER_BATCH_READINGS,
          batchMs: options.batchMs ?? PEER_BATCH_MS,
        }),
      ),
    );
    const redJs = join(installDir, 'node_modules', 'node-red', 'red.js');
    const nodeRed = startProcess(
      'node-red',
      process.execPath,
      [redJs, '--settings', join(userDir, 'settings.js'), '--userDir', userDir, 'flows.json'],
      installDir,
      options.env ?? {},
    );
    started.push(nodeRed);
    await waitFor(nodeRed, 'its flows started', () => nodeRed.output().includes('Started flows'));
    await waitFor(mosquitto, 'subscriptions from Node-RED', () =>
      PEER_TOPICS.every((topic) => mosquitto.output().includes(` ${topic}`)),
    );
    if (nodeRed.output().includes('Waiting for missing types')) {
      throw new Error(`Node-RED is missing node types:\n${nodeRed.output()}`);
    }
    return {
      mqttPort,
      mosquitto,
      nodeRed,
      errorLines: () =>
        nodeRed
          .output()
          .split('\n')
          .filter((line) => line.includes('[error]')),
      dropEpisodes: () =>
        mosquitto
          .output()
          .split('\n')
          .filter((line) => line.includes('are being dropped'))
          .map((line) => Number(line.slice(0, line.indexOf(':'))))
          .filter(Number.isFinite),
      problems: () =>
        [mosquitto, nodeRed]
          .filter((proc) => !proc.running())
          .map(
            (proc) => `${proc.name} exited: ${proc.output().split('\n').slice(-6).join(' | ').slice(0, 800)}`,
          ),
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}
