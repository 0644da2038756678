/**
 * Sustained ingest throughput with QoS 1 and durability on: the platform broker with the embedded
 * store, with a real influxd, a bare aedes broker as the ceiling, and the hand-wired peer stack
 * Mosquitto → Node-RED → influxd, driven by the same load generator in the same run; CPU µs per
 * reading of each. See bench/README.md.
 *
 *   node -r ./scripts/register.js bench/ingest-throughput.ts [--seconds 60] [--rounds 3]
 *       [--variants embedded,influxdb,bare,node-red,auth-off,auth-on] [--connections 8] [--window 250]
 *       [--variants alerts-off,alerts-0,alerts-500] [--rules 500]   (alerting's cost, issue 10)
 *       [--peer-batch 5000] [--peer-batch-ms 100]   (the Node-RED flow's InfluxDB batches)
 *       [--variants embedded,influxdb,nodes-1,nodes-2,bare,node-red]   (scale-out, issue 12; also nodes-2-haproxy)
 *       [--rates 5000,10000,20000]   (stepped, paced offered rates instead of a saturating run)
 *       [--profile DIR]              (V8 CPU profiles of the broker and API during the window)
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { haproxyAvailable, influxdAvailable, postgresAvailable, redisAvailable } from '@ioc/testing';
import { formatProfileSummary, summarizeProfile, type ProfileSummary } from './lib/cpu-profile';
import {
  formatNumber,
  type IngestStatsView,
  spoolBacklog,
  machineInfo,
  onInterrupt,
  median,
  treeState,
  round,
  rotate,
  sleep,
  table,
} from './lib/common';
import type { LoaderEvent } from './lib/loader-process';
import {
  ensureNodeRedInstalled,
  mosquittoAvailable,
  MOSQUITTO_PATH,
  PEER_BATCH_MS,
  PEER_BATCH_READINGS,
} from './lib/node-red-peer';
import { CpuMeter, waitForQuietMachine } from './lib/proc-cpu';
import { generateRules } from './lib/bench-rules';
import {
  ALERT_VARIANTS,
  alertsOpened,
  AUTH_VARIANTS,
  brokerCpuOf,
  CLUSTER_NODE_COUNT,
  isComparedPlatform,
  isPlatformVariant,
  LoaderProcess,
  type LoopDelay,
  probe,
  PROCESS_TREES,
  rulesNotEvaluated,
  startTarget,
  type Target,
  TARGET_PROCESSES,
  VARIANT_LABELS,
  VARIANT_NAMES,
  type VariantName,
} from './lib/targets';

const { values: args } = parseArgs({
  options: {
    'quiet-wait': { type: 'string', default: '20' },
    seconds: { type: 'string', default: '60' },
    warmup: { type: 'string', default: '3' },
    rounds: { type: 'string' },
    variants: { type: 'string', default: 'embedded,influxdb,bare,node-red,auth-off,auth-on' },
    connections: { type: 'string', default: '8' },
    window: { type: 'string', default: '250' },
    devices: { type: 'string', default: '304' },
    rates: { type: 'string' },
    profile: { type: 'string' },
    generator: { type: 'string', default: 'lean' },
    'catch-up-timeout': { type: 'string', default: '30' },
    'peer-batch': { type: 'string', default: String(PEER_BATCH_READINGS) },
    'peer-batch-ms': { type: 'string', default: String(PEER_BATCH_MS) },
    rules: { type: 'string', default: '500' },
  },
});

const seconds = Number(args.seconds);
const warmupSeconds = Number(args.warmup);
const rounds = Number(args.rounds ?? (args.profile ? 1 : 3));
const connections = Number(args.connections);
const windowPerConnection = Number(args.window);
const deviceCount = Number(args.devices);
const catchUpTimeoutMs = Number(args['catch-up-timeout']) * 1000;
const generator = args.generator as 'lean' | 'simulator';
if (generator !== 'lean' && generator !== 'simulator') throw new Error('--generator is lean or simulator');
if (generator === 'simulator' && args.rates === undefined)
  throw new Error('--generator simulator needs --rates');
const rates: (number | undefined)[] = args.rates ? args.rates.split(',').map(Number) : [undefined];
let variants = args.variants.split(',').map((v) => v.trim()) as VariantName[];
for (const v of variants) {
  if (!VARIANT_NAMES.includes(v)) throw new Error(`unknown variant "${v}" (${VARIANT_NAMES.join(', ')})`);
}
if (!influxdAvailable()) {
  for (const v of ['influxdb', 'node-red'] as const) {
    if (!variants.includes(v)) continue;
    console.warn(`influxd not found on PATH (apt-get install -y influxdb): skipping the ${v} variant`);
    variants = variants.filter((x) => x !== v);
  }
}
for (const [v, available, what] of [
  [
    'nodes-1',
    redisAvailable() && postgresAvailable() && influxdAvailable(),
    'redis-server, postgresql, influxdb',
  ],
  [
    'nodes-2',
    redisAvailable() && postgresAvailable() && influxdAvailable(),
    'redis-server, postgresql, influxdb',
  ],
  [
    'nodes-2-haproxy',
    redisAvailable() && postgresAvailable() && influxdAvailable() && haproxyAvailable(),
    'redis-server, postgresql, influxdb, haproxy',
  ],
] as const) {
  if (!variants.includes(v) || available) continue;
  console.warn(
    `a server is missing (apt-get install -y ${what.split(', ').join(' ')}): skipping the ${v} variant`,
  );
  variants = variants.filter((x) => x !== v);
}
if (variants.includes('node-red') && !mosquittoAvailable()) {
  console.warn(`${MOSQUITTO_PATH} not found (apt-get install -y mosquitto): skipping the node-red variant`);
  variants = variants.filter((v) => v !== 'node-red');
}
/** Rules loaded by the `alerts-500` variant (bench/lib/bench-rules.ts), generated once per run. */
const ruleCount = Number(args.rules);
const alertRules = variants.includes('alerts-500') ? generateRules(ruleCount) : undefined;
/** The issue's bound on the ingest drop with 500 rules loaded. */
const ALERT_DROP_TARGET = 0.15;
const peerBatchReadings = Number(args['peer-batch']);
const peerBatchMs = Number(args['peer-batch-ms']);
/** Node-RED peer: after the load stops, a stored count that has not moved for this long is final. */
const PEER_SETTLED_MS = 3000;
/**
 * The issue's target: the platform's durable publish → stored rate at least 1.5× the hand-wired
 * Mosquitto → Node-RED → InfluxDB flow's, measured in the same run.
 */
const PEER_RATIO_TARGET = 1.5;

interface StatsSample {
  /** performance.now() when this snapshot was first seen (the broker refreshes it every 2 s). */
  t: number;
  s: IngestStatsView;
}

interface WritesSample {
  /** performance.now() when influxd's `pointsWrittenOK` was read. */
  t: number;
  written: number;
}

interface RunResult {
  variant: VariantName;
  round: number;
  offeredRate: number | null;
  /** PUBACKs per second over the window. */
  ackRate: number;
  /**
   * Readings written to the store per second over the window: the platform's `storage.written`,
   * the Node-RED peer's influxd `pointsWrittenOK` (null for the bare broker).
   */
  storeRate: number | null;
  /** Broker-side accepted readings per second over the window (platform only). */
  acceptedRate: number | null;
  /**
   * Scale-out variants: each broker node's accepted and stored readings per second over the
   * window (from its own counters); null for one-node variants.
   */
  nodes:
    | { node: string; acceptedRate: number | null; storeRate: number | null; connections: number | null }[]
    | null;
  /** Readings the broker's alert engine evaluated per second over the window (null: engine off). */
  engineRate: number | null;
  /** Alert rules the engine could not evaluate (its warnings; alert variants). */
  rulesNotEvaluated: number | null;
  /** Alerts the platform opened during the run (alert variants; the generated rules never fire). */
  alertsOpened: number | null;
  /** Bare broker: messages the no-op subscriber received per second. */
  deliveredRate: number | null;
  /** The figure reported: ack rate if the store kept up, else the store's own rate. */
  sustained: number;
  keptUp: boolean;
  verdict: string;
  /**
   * Backlog at the end of the window — readings acknowledged and not yet processed by the slowest
   * spool consumer (common.ts spoolBacklog: the store, the alert engine) — and its trend.
   */
  spoolAtEnd: number | null;
  spoolBytesAtEnd: number | null;
  writerQueuedAtEnd: number | null;
  spoolSlopePerSecond: number | null;
  /** After the load stopped: time until the spool was empty (stats granularity: 2 s). */
  catchUpSeconds: number | null;
  ackedTotal: number;
  storedReadings: number | null;
  storedPoints: number | null;
  expectedPoints: number;
  rejected: number | null;
  closedByBroker: number;
  skipped: number;
  recordsPerCommit: number | null;
  commitsPerSecond: number | null;
  minSecond: number;
  maxSecond: number;
  cpu: Record<string, number>;
  /** The target's processes whose CPU is summed below (see TARGET_PROCESSES), those measured. */
  targetProcesses: string[];
  /** CPU of the target's processes over the window, % of one core. */
  targetCpu: number;
  /** Target CPU µs per acknowledged reading (per PUBACK) and per stored reading, over the window. */
  cpuUsPerAcked: number | null;
  cpuUsPerStored: number | null;
  /**
   * The broker process alone (main thread + store worker; bare: aedes; scale-out: every broker
   * node together) µs per acked reading.
   */
  brokerUsPerAcked: number | null;
  /** Each target process's CPU µs per acknowledged reading over the window (TARGET_PROCESSES). */
  usPerAckedByProcess: Record<string, number>;
  /** Node-RED peer: readings acknowledged by Mosquitto and never stored (run total). */
  lostReadings: number | null;
  /** Node-RED peer: `[error]` lines Node-RED logged during the run. */
  peerErrors: number | null;
  /**
   * Node-RED peer: episodes of Mosquitto dropping messages for Node-RED (its queue of 1 000 full),
   * by when they began: before the window (warm-up), in it, after it (drain); 1 s resolution.
   */
  dropEpisodes: { warmup: number; window: number; after: number } | null;
  loaderEventLoopUtilization: number;
  /** Target processes that died during the run. */
  problems: string[];
  /** Event-loop delay of the broker (and API) during the window, ms. */
  loops: LoopDelay[];
  /** How busy the machine was just before the run (after waiting up to --quiet-wait s). */
  quietBefore: { waitedSeconds: number; busyPercent: number } | null;
  profiles?: ProfileSummary[];
}

function sampleNear(samples: StatsSample[], t: number, after: boolean): StatsSample | undefined {
  if (after) return samples.find((x) => x.t >= t);
  return [...samples].reverse().find((x) => x.t <= t);
}

/**
 * Counter rates over a window from one broker's series of counters: between its first and last
 * sample inside the window (or, with fewer than two inside, the nearest ones around it).
 */
interface SeriesRates {
  storeRate: number | null;
  acceptedRate: number | null;
  engineRate: number | null;
  commits: number | null;
  committed: number | null;
  commitsPerSecond: number | null;
}

function seriesRates(samples: StatsSample[], startAt: number, endAt: number): SeriesRates {
  let a = sampleNear(samples, startAt, true);
  let b = sampleNear(samples, endAt, false);
  if (!a || !b || b.t <= a.t) {
    // A window shorter than two stats intervals (2 s): the snapshots just outside it instead, a
    // rate over a slightly longer span.
    a = sampleNear(samples, startAt, false);
    b = sampleNear(samples, endAt, true);
  }
  if (!a || !b || b.t <= a.t)
    return {
      storeRate: null,
      acceptedRate: null,
      engineRate: null,
      commits: null,
      committed: null,
      commitsPerSecond: null,
    };
  const span = (b.t - a.t) / 1000;
  const commits = b.s.spool.commits - a.s.spool.commits;
  return {
    storeRate: (b.s.storage.written - a.s.storage.written) / span,
    acceptedRate: (b.s.acceptedTotal - a.s.acceptedTotal) / span,
    engineRate:
      a.s.alertEngine && b.s.alertEngine
        ? (b.s.alertEngine.evaluated - a.s.alertEngine.evaluated) / span
        : null,
    commits,
    committed: b.s.spool.committedRecords - a.s.spool.committedRecords,
    commitsPerSecond: commits / span,
  };
}

/**
 * Several brokers' rates, each over its own series, summed: a sum is null when any broker's is
 * (its counters did not arrive twice inside the window).
 */
function sumRates(parts: SeriesRates[]): SeriesRates {
  const sum = (pick: (r: SeriesRates) => number | null): number | null => {
    const values = parts.map(pick);
    return values.length === 0 || values.some((v) => v === null)
      ? null
      : (values as number[]).reduce((x, y) => x + y, 0);
  };
  return {
    storeRate: sum((r) => r.storeRate),
    acceptedRate: sum((r) => r.acceptedRate),
    engineRate: parts.every((r) => r.engineRate === null) ? null : sum((r) => r.engineRate ?? 0),
    commits: sum((r) => r.commits),
    committed: sum((r) => r.committed),
    commitsPerSecond: sum((r) => r.commitsPerSecond),
  };
}

/** Least-squares slope of y over t (per second). */
function slope(points: { t: number; y: number }[]): number {
  if (points.length < 3) return 0;
  const n = points.length;
  const mt = points.reduce((a, p) => a + p.t, 0) / n;
  const my = points.reduce((a, p) => a + p.y, 0) / n;
  let num = 0;
  let den = 0;
  for (const p of points) {
    num += (p.t - mt) * (p.y - my);
    den += (p.t - mt) ** 2;
  }
  return den === 0 ? 0 : (num / den) * 1000;
}

async function runOnce(
  variant: VariantName,
  offeredRate: number | undefined,
  roundIndex: number,
): Promise<RunResult> {
  const quietWaitSeconds = Number(args['quiet-wait']);
  const quiet = quietWaitSeconds > 0 ? await waitForQuietMachine(quietWaitSeconds * 1000) : undefined;
  // Every run probes the broker's (and API's) event-loop delay; --profile adds CPU profiles, kept
  // in that directory.
  const probeDir = args.profile
    ? join(args.profile, `${variant}-round${roundIndex + 1}${offeredRate ? `-${offeredRate}` : ''}`)
    : mkdtempSync(join(tmpdir(), 'bench-probe-'));
  mkdirSync(probeDir, { recursive: true });
  const cpuProfile = Boolean(args.profile);
  const removeProbeDir = async (): Promise<void> => {
    if (!args.profile) rmSync(probeDir, { recursive: true, force: true });
  };
  const unregisterProbeDir = onInterrupt(removeProbeDir);
  let target: Target;
  try {
    target = await startTarget(variant, {
      probeDir,
      cpuProfile,
      peerBatchReadings,
      peerBatchMs,
      ...(variant === 'alerts-500' && alertRules ? { rules: alertRules } : {}),
    });
  } catch (error) {
    await removeProbeDir();
    unregisterProbeDir();
    throw error;
  }
  const loader = new LoaderProcess();
  const meter = new CpuMeter({ ...target.pids, loader: loader.pid }, PROCESS_TREES);
  const samples: StatsSample[] = [];
  let polling = true;
  const poller = (async () => {
    let last = '';
    while (polling) {
      const s = await target.stats();
      if (s) {
        const key = `${s.acceptedTotal}/${s.storage.written}/${s.spool.commits}/${s.spool.records}/${s.alertEngine?.evaluated ?? ''}`;
        if (key !== last) samples.push({ t: performance.now(), s });
        last = key;
      }
      await sleep(250);
    }
  })();
  // The Node-RED peer has no stats endpoint: influxd's own count of points written is polled.
  const writes: WritesSample[] = [];
  const writesPoller = (async () => {
    while (polling && variant === 'node-red' && target.influxWrites) {
      const written = await target.influxWrites();
      if (written !== undefined) writes.push({ t: performance.now(), written });
      await sleep(250);
    }
  })();
  let windowStartAt = 0;
  let windowEndAt = 0;
  let windowStartEpoch = 0;
  let windowEndEpoch = 0;
  let delivered0 = 0;
  let delivered1 = 0;
  let cpu: Record<string, number> = {};
  let profiles: ProfileSummary[] | undefined;
  try {
    await loader.run(
      {
        host: '127.0.0.1',
        port: target.mqttPort,
        // Several broker nodes on their own ports: the connections are split between them.
        ...(target.mqttPorts ? { ports: target.mqttPorts } : {}),
        connections,
        // Per-device connections (auth variants): the same publishes in flight in total.
        window: AUTH_VARIANTS.includes(variant)
          ? Math.max(1, Math.ceil((connections * windowPerConnection) / deviceCount))
          : windowPerConnection,
        ...(AUTH_VARIANTS.includes(variant)
          ? { perDeviceLogin: variant === 'auth-on' ? ('credentials' as const) : ('anonymous' as const) }
          : {}),
        ...(offeredRate === undefined ? {} : { rate: offeredRate }),
        devices: deviceCount,
        clientIdPrefix: `bench-${process.pid}-${variant}`,
        warmupMs: warmupSeconds * 1000,
        windowMs: seconds * 1000,
        generator,
      },
      (event: LoaderEvent) => {
        if (event.ev === 'window-start') {
          meter.mark();
          windowStartAt = performance.now();
          windowStartEpoch = Date.now() / 1000;
          delivered0 = target.subscriber?.received ?? 0;
          probe.start(probeDir);
        } else if (event.ev === 'window-end') {
          cpu = meter.measure();
          windowEndAt = performance.now();
          windowEndEpoch = Date.now() / 1000;
          delivered1 = target.subscriber?.received ?? 0;
        }
      },
    );
    const end = await loader.waitWindowEnd();
    const probed = await probe.stop(
      probeDir,
      variant === 'bare' || variant === 'node-red' || AUTH_VARIANTS.includes(variant)
        ? 1
        : (CLUSTER_NODE_COUNT[variant] ?? 1) + 1,
      cpuProfile,
    );
    const loops = probed.loops;
    if (cpuProfile) {
      profiles = probed.profiles.map((file) =>
        summarizeProfile(file, {
          top: 20,
          inclusiveNames: [
            'authorizePublish',
            'process',
            'parsePayload',
            'safeParse',
            'append',
            'commitLoop',
            'sqliteTransaction',
            'readingToLine',
            'handlePublish',
          ],
        }),
      );
    }
    const done = await loader.waitDone();
    const stopAt = performance.now();

    // Let the store catch up with everything acknowledged.
    let catchUpSeconds: number | null = null;
    let final: IngestStatsView | undefined;
    if (target.httpUrl) {
      const deadline = Date.now() + catchUpTimeoutMs;
      while (Date.now() < deadline && target.problems().length === 0) {
        final = await target.stats();
        if (
          final &&
          final.acceptedTotal >= done.stats.acked &&
          spoolBacklog(final) === 0 &&
          final.storage.queued === 0
        ) {
          catchUpSeconds = round((performance.now() - stopAt) / 1000, 1);
          break;
        }
        await sleep(250);
      }
    } else if (variant === 'node-red' && target.influxWrites) {
      // Stored everything acknowledged, or nothing more arrives: what Mosquitto dropped is lost.
      const deadline = Date.now() + catchUpTimeoutMs;
      let last = -1;
      let lastChangeAt = Date.now();
      while (Date.now() < deadline && target.problems().length === 0) {
        const written = (await target.influxWrites()) ?? last;
        if (written >= done.stats.acked) {
          catchUpSeconds = round((performance.now() - stopAt) / 1000, 1);
          break;
        }
        if (written !== last) {
          last = written;
          lastChangeAt = Date.now();
        } else if (Date.now() - lastChangeAt >= PEER_SETTLED_MS) {
          break;
        }
        await sleep(250);
      }
    }
    const stored = await target.storedCount();
    const opened = ALERT_VARIANTS.includes(variant) ? await alertsOpened(target) : undefined;
    if (opened && opened.count > 0)
      console.warn(
        `    WARNING: ${opened.count}${opened.more ? '+' : ''} alert(s) opened by ${opened.rules.join(', ')}: the benchmark's rules are meant never to fire`,
      );
    const problems = target.problems();

    const windowSeconds = end.elapsedMs / 1000;
    const ackRate = end.acked / windowSeconds;
    const sB = sampleNear(samples, windowEndAt, false);
    const wA = writes.find((x) => x.t >= windowStartAt);
    const wB = [...writes].reverse().find((x) => x.t <= windowEndAt);
    // Several broker nodes: each node's rates over its own counters (timestamped as they
    // arrived), then summed; one node: the polled counters.
    const nodeSeries = target.nodeSeries?.();
    const perNode = nodeSeries?.map((n) => ({
      node: n.node,
      rates: seriesRates(n.samples, windowStartAt, windowEndAt),
      connections: sampleNear(n.samples, windowEndAt, false)?.s.connectedClients ?? null,
    }));
    const rates = perNode
      ? sumRates(perNode.map((n) => n.rates))
      : seriesRates(samples, windowStartAt, windowEndAt);
    const storeRate =
      variant === 'node-red'
        ? wA && wB && wB.t > wA.t
          ? ((wB.written - wA.written) / (wB.t - wA.t)) * 1000
          : null
        : rates.storeRate;
    const { acceptedRate, commits, committed, engineRate } = rates;
    const inWindow = samples.filter((x) => x.t >= windowStartAt && x.t <= windowEndAt);
    const spoolSlope = target.httpUrl ? slope(inWindow.map((x) => ({ t: x.t, y: spoolBacklog(x.s) }))) : null;
    const spoolAtEnd = sB ? spoolBacklog(sB.s) : null;

    let keptUp = problems.length === 0;
    const notes: string[] = [...problems];
    if (target.httpUrl) {
      // Falling behind: the backlog grows by more than one full write batch (5000) and more than
      // 2 % of what was acknowledged over the window; batch-to-batch jitter stays below that.
      if (spoolSlope !== null && spoolSlope > Math.max(5000 / windowSeconds, 0.02 * ackRate)) {
        keptUp = false;
        notes.push(`backlog grows ${Math.round(spoolSlope)}/s`);
      }
      if (spoolAtEnd !== null && spoolAtEnd > 2 * ackRate) {
        keptUp = false;
        notes.push(`backlog ${spoolAtEnd} at end`);
      }
      if (catchUpSeconds === null) {
        keptUp = false;
        notes.push('store or alert engine did not catch up');
      }
    }
    let lostReadings: number | null = null;
    let peerErrors: number | null = null;
    let dropEpisodes: RunResult['dropEpisodes'] = null;
    if (variant === 'node-red') {
      // Stored readings (count of `seq`, duplicates overwrite each other) against acknowledged.
      lostReadings = stored?.readings === undefined ? null : Math.max(0, done.stats.acked - stored.readings);
      if (storeRate === null) {
        keptUp = false;
        notes.push('no store rate (influxd did not answer)');
      } else if (storeRate < 0.98 * ackRate) {
        keptUp = false;
        notes.push(`stored ${Math.round((storeRate / ackRate) * 100)} % of acked`);
      }
      peerErrors = target.peerErrors?.().length ?? 0;
      if (peerErrors > 0) notes.push(`Node-RED logged ${peerErrors} errors`);
      const episodes = target.peerDropEpisodes?.() ?? [];
      // Mosquitto logs whole seconds: an episode in the window's first or last second is "in" it.
      dropEpisodes = {
        warmup: episodes.filter((t) => t < Math.floor(windowStartEpoch)).length,
        window: episodes.filter((t) => t >= Math.floor(windowStartEpoch) && t <= windowEndEpoch).length,
        after: episodes.filter((t) => t > windowEndEpoch).length,
      };
      if (episodes.length > 0)
        notes.push(
          `Mosquitto dropped messages for Node-RED: episodes beginning in warm-up ${dropEpisodes.warmup}, in the window ${dropEpisodes.window}, after ${dropEpisodes.after}`,
        );
      // Readings lost only while Node-RED was warming up (every drop episode began before the
      // window, no write error, and the window's stored rate kept up) do not fail the window:
      // the platform's verdict is about the window too. Any other loss does.
      const lostInWarmupOnly =
        dropEpisodes.warmup > 0 &&
        dropEpisodes.window === 0 &&
        dropEpisodes.after === 0 &&
        peerErrors === 0 &&
        storeRate !== null &&
        storeRate >= 0.98 * ackRate;
      if (lostReadings === null) {
        keptUp = false;
        notes.push('stored readings not counted');
      } else if (lostReadings > 0 && lostInWarmupOnly) {
        notes.push(`${lostReadings} acknowledged readings never stored, all dropped during the warm-up`);
      } else if (lostReadings > 0) {
        keptUp = false;
        notes.push(`${lostReadings} acknowledged readings never stored`);
      }
    }
    const deliveredRate = target.subscriber
      ? (delivered1 - delivered0) / ((windowEndAt - windowStartAt) / 1000)
      : null;
    if (deliveredRate !== null && deliveredRate < 0.95 * ackRate) notes.push('subscriber behind');
    if (done.stats.closedByBroker > 0)
      notes.push(`${done.stats.closedByBroker} connections closed by broker`);
    const rejected = final ? final.rejectedTotal : null;
    if (rejected) notes.push(`${rejected} rejected`);
    if (offeredRate !== undefined && ackRate < 0.98 * offeredRate) {
      keptUp = false;
      notes.push(
        `acked ${Math.round((ackRate / offeredRate) * 100)} % of offered` +
          (end.skipped > 0 ? `, ${end.skipped} not sent (connection window full)` : ''),
      );
    }
    // Not kept up: the rate of the slowest of the store and the alert engine.
    const sustained = keptUp ? ackRate : Math.min(ackRate, storeRate ?? ackRate, engineRate ?? ackRate);
    // CPU µs per reading = (CPU seconds of the target's processes per second of window) / rate.
    const targetProcesses = TARGET_PROCESSES[variant].filter((name) => cpu[name] !== undefined);
    const targetCpu = round(
      targetProcesses.reduce((sum, name) => sum + (cpu[name] ?? 0), 0),
      1,
    );
    // CPU % of one core over the window ÷ readings/s → CPU µs per reading.
    const usPer = (cpuPercent: number | null, rate: number | null): number | null =>
      cpuPercent !== null && rate !== null && rate > 0 ? round((cpuPercent / 100 / rate) * 1e6, 1) : null;
    const perSecond = end.perSecond.length > 0 ? end.perSecond : [end.acked];
    return {
      variant,
      round: roundIndex + 1,
      offeredRate: offeredRate ?? null,
      ackRate: round(ackRate),
      storeRate: storeRate === null ? null : round(storeRate),
      acceptedRate: acceptedRate === null ? null : round(acceptedRate),
      nodes: perNode
        ? perNode.map((n) => ({
            node: n.node,
            acceptedRate: n.rates.acceptedRate === null ? null : round(n.rates.acceptedRate),
            storeRate: n.rates.storeRate === null ? null : round(n.rates.storeRate),
            connections: n.connections,
          }))
        : null,
      engineRate: engineRate === null ? null : round(engineRate),
      rulesNotEvaluated: ALERT_VARIANTS.includes(variant) ? rulesNotEvaluated(target) : null,
      alertsOpened: opened?.count ?? null,
      deliveredRate: deliveredRate === null ? null : round(deliveredRate),
      sustained: round(sustained),
      keptUp,
      verdict: keptUp
        ? notes.length
          ? `sustained (${notes.join('; ')})`
          : 'sustained'
        : `NOT sustained: ${notes.join('; ')}`,
      spoolAtEnd,
      spoolBytesAtEnd: sB ? sB.s.spool.bytes : null,
      writerQueuedAtEnd: sB ? sB.s.storage.queued : null,
      spoolSlopePerSecond: spoolSlope === null ? null : round(spoolSlope),
      catchUpSeconds,
      ackedTotal: done.stats.acked,
      storedReadings: stored?.readings ?? (final ? final.storage.written : null),
      storedPoints: stored?.points ?? null,
      expectedPoints: done.stats.ackedMetrics,
      rejected,
      closedByBroker: done.stats.closedByBroker,
      skipped: end.skipped,
      recordsPerCommit: commits && committed ? round(committed / commits, 1) : null,
      commitsPerSecond: rates.commitsPerSecond === null ? null : round(rates.commitsPerSecond, 1),
      minSecond: Math.min(...perSecond),
      maxSecond: Math.max(...perSecond),
      cpu,
      targetProcesses,
      targetCpu,
      cpuUsPerAcked: usPer(targetCpu, ackRate),
      cpuUsPerStored: usPer(targetCpu, storeRate),
      brokerUsPerAcked: usPer(brokerCpuOf(cpu) ?? null, ackRate),
      usPerAckedByProcess: Object.fromEntries(
        targetProcesses.map((name) => [name, usPer(cpu[name] ?? null, ackRate) ?? Number.NaN]),
      ),
      lostReadings,
      peerErrors,
      dropEpisodes,
      loaderEventLoopUtilization: end.eventLoopUtilization,
      problems,
      loops,
      quietBefore: quiet ?? null,
      ...(profiles ? { profiles } : {}),
    };
  } finally {
    polling = false;
    await poller;
    await writesPoller;
    await loader.stop();
    await target.stop();
    await removeProbeDir();
    unregisterProbeDir();
  }
}

function printRun(r: RunResult): void {
  const cpu = Object.entries(r.cpu)
    .map(([k, v]) => `${k} ${v}%`)
    .join(', ');
  console.log(
    `  ${VARIANT_LABELS[r.variant].padEnd(26)} round ${r.round}${r.offeredRate ? ` offered ${r.offeredRate}/s` : ''}: ` +
      `acked ${r.ackRate}/s` +
      (r.storeRate !== null && r.variant !== 'node-red'
        ? `, stored ${r.storeRate}/s${r.engineRate !== null ? `, evaluated ${r.engineRate}/s` : ''}, backlog at end ${r.spoolAtEnd}, caught up in ${r.catchUpSeconds ?? '>timeout'} s` +
          (r.rulesNotEvaluated ? `, ${r.rulesNotEvaluated} RULES NOT EVALUATED` : '')
        : '') +
      (r.variant === 'node-red'
        ? `, stored ${r.storeRate ?? '–'}/s, lost ${r.lostReadings ?? '?'}, caught up in ${r.catchUpSeconds ?? '– (never)'} s`
        : '') +
      (r.deliveredRate !== null ? `, delivered ${r.deliveredRate}/s` : '') +
      ` → ${r.verdict}\n    CPU (% of one core): ${cpu}` +
      `\n    target CPU (${r.targetProcesses.join(' + ')}): ${r.targetCpu} % → ${r.cpuUsPerAcked ?? '–'} µs per acked reading, ${r.cpuUsPerStored ?? '–'} µs per stored reading` +
      ` (${Object.entries(r.usPerAckedByProcess)
        .map(([name, us]) => `${name} ${us}`)
        .join(', ')})` +
      (r.nodes
        ? `\n    per broker node (accepted/s, stored/s, MQTT connections incl. platform services): ${r.nodes.map((n) => `${n.node} ${n.acceptedRate ?? '–'}, ${n.storeRate ?? '–'}, ${n.connections ?? '–'}`).join('; ')}`
        : '') +
      `\n    event-loop delay: ${formatLoops(r.loops)}` +
      (r.quietBefore && r.quietBefore.busyPercent >= 15
        ? `\n    NOTE: the machine was ${r.quietBefore.busyPercent} % busy before this run (waited ${r.quietBefore.waitedSeconds} s)`
        : ''),
  );
}

function formatLoops(loops: LoopDelay[]): string {
  return loops.length === 0
    ? 'n/a'
    : loops.map((l) => `${l.name} p50 ${l.p50} / p99 ${l.p99} / max ${l.max} ms`).join('; ');
}

const brokerLoop = (r: RunResult): LoopDelay | undefined =>
  r.loops.find(
    (l) => l.name === 'broker' || l.name === 'bare-broker' || l.name === 'auth-broker' || l.name === 'red',
  );

async function main(): Promise<void> {
  const machine = machineInfo();
  const tree = treeState();
  const startedAt = Date.now();
  console.log(
    `ingest-throughput: ${variants.join(', ')}; ${rates[0] === undefined ? `saturating, ${connections} connections × ${windowPerConnection} in flight` : `offered rates ${rates.join(', ')}/s (paced, ≤ ${windowPerConnection} in flight per connection)`}; ` +
      `${seconds} s window after ${warmupSeconds} s warm-up; ${rounds} round(s); QoS 1; ${deviceCount} devices; ` +
      `generator: ${generator === 'lean' ? 'lean raw-MQTT loader (own process)' : 'devices-sim Simulator, shared mode (own process)'}\n` +
      `machine: ${machine.nproc} CPU (${machine.cpuModel}), ${machine.memory}, Node ${machine.node}\n` +
      `code: ${tree.commit}${tree.modified.length ? ` + ${tree.modified.length} uncommitted change(s) under apps/libs/devices-sim/seeds: ${tree.modified.join(', ')}` : ' (clean)'}`,
  );
  // Fail before the first round, not minutes into the run, when Node-RED cannot be installed.
  if (variants.includes('node-red')) console.log(`Node-RED peer: ${await ensureNodeRedInstalled()}`);
  const results: RunResult[] = [];
  for (let r = 0; r < rounds; r++) {
    for (const rate of rates) {
      for (const variant of rotate(variants, r)) {
        const result = await runOnce(variant, rate, r);
        results.push(result);
        printRun(result);
      }
    }
  }

  // Medians per (variant, rate), and the ratio to the bare broker measured in the same round.
  const summaryRows: (string | number)[][] = [];
  const medians: Record<string, Record<string, unknown>> = {};
  for (const rate of rates) {
    for (const variant of variants) {
      const runs = results.filter((x) => x.variant === variant && x.offeredRate === (rate ?? null));
      const ratios = runs
        .map((x) => {
          const bare = results.find(
            (b) => b.variant === 'bare' && b.round === x.round && b.offeredRate === x.offeredRate,
          );
          return bare ? x.sustained / bare.sustained : Number.NaN;
        })
        .filter(Number.isFinite);
      // The platform against the hand-wired peer, per round (same conditions), then the median.
      const peerRatios = runs
        .map((x) => {
          const peer = results.find(
            (b) => b.variant === 'node-red' && b.round === x.round && b.offeredRate === x.offeredRate,
          );
          return peer && peer.sustained > 0 ? x.sustained / peer.sustained : Number.NaN;
        })
        .filter(Number.isFinite);
      const m = {
        sustained: round(median(runs.map((x) => x.sustained))),
        ackRate: round(median(runs.map((x) => x.ackRate))),
        storeRate: variant === 'bare' ? null : round(median(runs.map((x) => x.storeRate ?? Number.NaN))),
        mosquittoCpu:
          variant === 'node-red' ? round(median(runs.map((x) => x.cpu['mosquitto'] ?? Number.NaN)), 1) : null,
        nodeRedCpu:
          variant === 'node-red' ? round(median(runs.map((x) => x.cpu['node-red'] ?? Number.NaN)), 1) : null,
        ratioToBare: variant === 'bare' ? 1 : ratios.length ? round(median(ratios), 3) : null,
        ratioToNodeRed:
          isComparedPlatform(variant) && peerRatios.length ? round(median(peerRatios), 3) : null,
        targetProcesses: TARGET_PROCESSES[variant],
        targetCpu: round(median(runs.map((x) => x.targetCpu)), 1),
        cpuUsPerAcked: round(median(runs.map((x) => x.cpuUsPerAcked ?? Number.NaN)), 1),
        cpuUsPerStored: round(median(runs.map((x) => x.cpuUsPerStored ?? Number.NaN)), 1),
        brokerUsPerAcked: round(median(runs.map((x) => x.brokerUsPerAcked ?? Number.NaN)), 1),
        lostReadings: variant === 'node-red' ? median(runs.map((x) => x.lostReadings ?? Number.NaN)) : null,
        keptUpRounds: runs.filter((x) => x.keptUp).length,
        rounds: runs.length,
        spoolAtEnd: variant === 'bare' ? null : median(runs.map((x) => x.spoolAtEnd ?? Number.NaN)),
        catchUpSeconds: variant === 'bare' ? null : median(runs.map((x) => x.catchUpSeconds ?? Number.NaN)),
        brokerCpu:
          variant === 'node-red' ? null : round(median(runs.map((x) => brokerCpuOf(x.cpu) ?? Number.NaN)), 1),
        apiCpu: isPlatformVariant(variant)
          ? round(median(runs.map((x) => x.cpu['api'] ?? Number.NaN)), 1)
          : null,
        influxdCpu: TARGET_PROCESSES[variant].includes('influxd')
          ? round(median(runs.map((x) => x.cpu['influxd'] ?? Number.NaN)), 1)
          : null,
        /** Each target process's CPU µs per acknowledged reading (median over rounds). */
        usPerAckedByProcess: Object.fromEntries(
          TARGET_PROCESSES[variant].map((name) => [
            name,
            round(median(runs.map((x) => x.usPerAckedByProcess[name] ?? Number.NaN)), 1),
          ]),
        ),
        /** Each broker node's accepted readings/s (scale-out variants; median over rounds). */
        nodeAcceptedRates: runs[0]?.nodes
          ? Object.fromEntries(
              runs[0].nodes.map((n) => [
                n.node,
                round(
                  median(
                    runs.map((x) => x.nodes?.find((y) => y.node === n.node)?.acceptedRate ?? Number.NaN),
                  ),
                ),
              ]),
            )
          : null,
        loaderCpu: round(median(runs.map((x) => x.cpu['loader'] ?? Number.NaN)), 1),
        machineCpu: round(median(runs.map((x) => x.cpu['machine'] ?? Number.NaN)), 1),
        otherCpu: round(median(runs.map((x) => x.cpu['other'] ?? Number.NaN)), 1),
        recordsPerCommit: isPlatformVariant(variant)
          ? median(runs.map((x) => x.recordsPerCommit ?? Number.NaN))
          : null,
        brokerLoopP99Ms: round(median(runs.map((x) => brokerLoop(x)?.p99 ?? Number.NaN)), 1),
        brokerLoopMaxMs: round(median(runs.map((x) => brokerLoop(x)?.max ?? Number.NaN)), 1),
      };
      medians[rate === undefined ? variant : `${variant}@${rate}`] = m;
      summaryRows.push([
        VARIANT_LABELS[variant] + (rate ? ` @${rate}/s` : ''),
        m.sustained,
        m.ackRate,
        m.storeRate ?? '–',
        m.ratioToBare === null ? '–' : `${round(m.ratioToBare * 100, 1)} %`,
        m.ratioToNodeRed === null ? '–' : `${round(m.ratioToNodeRed, 2)}×`,
        `${m.keptUpRounds}/${m.rounds}`,
        m.spoolAtEnd ?? '–',
        m.catchUpSeconds ?? '–',
        m.targetCpu,
        m.cpuUsPerAcked,
        m.cpuUsPerStored,
        m.brokerUsPerAcked,
        m.brokerCpu ?? '–',
        m.apiCpu ?? '–',
        m.influxdCpu ?? '–',
        m.mosquittoCpu ?? '–',
        m.nodeRedCpu ?? '–',
        m.loaderCpu,
        m.machineCpu,
        m.otherCpu,
        `${m.brokerLoopP99Ms} / ${m.brokerLoopMaxMs}`,
      ]);
    }
  }

  console.log('\nPer run');
  console.log(
    table(
      [
        'variant',
        'round',
        'offered/s',
        'sustained/s',
        'acked/s',
        'stored/s',
        'backlog end',
        'slope/s',
        'catch-up s',
        'acked total',
        'stored pts',
        'expected pts',
        'lost',
        'target CPU %',
        'µs/acked',
        'µs/stored',
        'rec/commit',
        'commits/s',
        'min s',
        'max s',
        'loop p99/max ms',
        'verdict',
      ],
      results.map((x) => [
        x.variant,
        x.round,
        x.offeredRate ?? 'sat.',
        x.sustained,
        x.ackRate,
        x.storeRate ?? '–',
        x.spoolAtEnd ?? '–',
        x.spoolSlopePerSecond ?? '–',
        x.catchUpSeconds ?? '–',
        x.ackedTotal,
        x.storedPoints ?? '–',
        x.variant === 'bare' ? '–' : x.expectedPoints,
        x.lostReadings ?? '–',
        x.targetCpu,
        x.cpuUsPerAcked ?? '–',
        x.cpuUsPerStored ?? '–',
        x.recordsPerCommit ?? '–',
        x.commitsPerSecond ?? '–',
        x.minSecond,
        x.maxSecond,
        `${brokerLoop(x)?.p99 ?? '–'} / ${brokerLoop(x)?.max ?? '–'}`,
        x.verdict,
      ]),
    ),
  );
  console.log(
    `\nMedians over ${rounds} round(s) (readings/s; CPU in % of one core, machine in % of all ${machine.nproc} cores; other = CPU of processes not ours, i.e. noise; loop = the broker's (Node-RED's) event-loop delay)\n` +
      `target CPU = the variant's own processes over the window (${variants.map((v) => `${v}: ${TARGET_PROCESSES[v].join(' + ')}`).join('; ')}); ` +
      "µs/acked = target CPU µs per PUBACK, µs/stored = per reading stored, broker µs/acked = the broker process alone; vs node-red = sustained ÷ the peer's sustained, per round",
  );
  console.log(
    table(
      [
        'variant',
        'sustained',
        'acked',
        'stored',
        'vs bare',
        'vs node-red',
        'kept up',
        'backlog end',
        'catch-up s',
        'target CPU',
        'µs/acked',
        'µs/stored',
        'broker µs/acked',
        'broker',
        'api',
        'influxd',
        'mosquitto',
        'node-red',
        'loader',
        'machine',
        'other',
        'broker loop p99/max ms',
      ],
      summaryRows,
    ),
  );

  const scaling = printScaling(results, medians);

  const targets: Record<string, unknown> = {};
  if (rates[0] === undefined) {
    for (const variant of variants.filter((v) => isComparedPlatform(v))) {
      const m = medians[variant] as {
        sustained: number;
        ratioToBare: number | null;
        ratioToNodeRed: number | null;
        cpuUsPerAcked: number;
      };
      const rate = m.sustained >= 20_000 ? 'PASS' : 'MISS';
      const ratio = m.ratioToBare === null ? 'n/a' : m.ratioToBare >= 0.7 ? 'PASS' : 'MISS';
      const peer =
        m.ratioToNodeRed === null ? 'n/a' : m.ratioToNodeRed >= PEER_RATIO_TARGET ? 'PASS' : 'MISS';
      targets[variant] = {
        sustained: m.sustained,
        rateTarget: 20_000,
        rate,
        ratioToBare: m.ratioToBare,
        ratioTarget: 0.7,
        ratio,
        ratioToNodeRed: m.ratioToNodeRed,
        ratioToNodeRedTarget: PEER_RATIO_TARGET,
        ratioToNodeRedVerdict: peer,
        cpuUsPerAcked: m.cpuUsPerAcked,
      };
      console.log(
        `target ${VARIANT_LABELS[variant]}: ≥ 20 000 readings/s → ${m.sustained}/s ${rate}; ≥ 70 % of bare → ${m.ratioToBare === null ? 'n/a' : `${round(m.ratioToBare * 100, 1)} %`} ${ratio}` +
          (variants.includes('node-red')
            ? `; ≥ ${PEER_RATIO_TARGET}× mosquitto → Node-RED → influxd → ${m.ratioToNodeRed === null ? 'n/a' : `${round(m.ratioToNodeRed, 2)}×`} ${peer}`
            : '') +
          `; ${formatNumber(m.cpuUsPerAcked)} CPU µs per acked reading`,
      );
    }
  } else {
    for (const variant of variants) {
      const passing = rates.filter((rate) => {
        const runs = results.filter((x) => x.variant === variant && x.offeredRate === rate);
        return runs.length > 0 && runs.filter((x) => x.keptUp).length * 2 > runs.length;
      });
      const max = passing.length ? Math.max(...(passing as number[])) : null;
      targets[variant] = { maxSustainedOfferedRate: max };
      console.log(
        `${VARIANT_LABELS[variant]}: highest offered rate sustained (majority of rounds): ${max ?? 'none'}`,
      );
    }
    // Stepped rates: the ratio of the highest offered rates each sustained.
    const peerMax = (targets['node-red'] as { maxSustainedOfferedRate: number | null } | undefined)
      ?.maxSustainedOfferedRate;
    for (const variant of variants.filter((v) => isComparedPlatform(v))) {
      if (peerMax === undefined) break;
      const own = (targets[variant] as { maxSustainedOfferedRate: number | null }).maxSustainedOfferedRate;
      const ratio = own !== null && peerMax !== null && peerMax > 0 ? round(own / peerMax, 3) : null;
      const verdict = ratio === null ? 'n/a' : ratio >= PEER_RATIO_TARGET ? 'PASS' : 'MISS';
      Object.assign(targets[variant] as object, {
        ratioToNodeRed: ratio,
        ratioToNodeRedTarget: PEER_RATIO_TARGET,
        ratioToNodeRedVerdict: verdict,
      });
      console.log(
        `target ${VARIANT_LABELS[variant]}: highest sustained offered rate ≥ ${PEER_RATIO_TARGET}× the peer's → ${own ?? 'none'} vs ${peerMax ?? 'none'}: ${ratio === null ? 'n/a' : `${ratio}×`} ${verdict}` +
          (ratio === null ? ' (a step above or below the tested rates: widen --rates)' : ''),
      );
    }
  }

  // Device authentication: credentials against none, same broker and load, per round.
  if (variants.includes('auth-on') && variants.includes('auth-off')) {
    const authRatios = results
      .filter((x) => x.variant === 'auth-on')
      .map((on) => {
        const off = results.find(
          (x) => x.variant === 'auth-off' && x.round === on.round && x.offeredRate === on.offeredRate,
        );
        return off && off.sustained > 0 ? on.sustained / off.sustained : Number.NaN;
      })
      .filter(Number.isFinite);
    const authRatio = authRatios.length ? round(median(authRatios), 3) : null;
    targets['auth'] = { ratioOnToOff: authRatio, perRound: authRatios.map((x) => round(x, 3)) };
    console.log(
      `device authentication: auth-on ÷ auth-off sustained (per round, then the median) → ${authRatio ?? 'n/a'}` +
        ` (rounds: ${authRatios.map((x) => round(x, 3)).join(', ') || 'none'}); compare with the round-to-round spread of auth-off itself`,
    );
  }

  // Alerting (issue 10): 500 rules loaded against no alerting and against the engine with no rule,
  // per round and offered rate (variants measured minutes apart), then the median.
  if (variants.includes('alerts-500')) {
    const alerting: Record<string, unknown> = {};
    for (const rate of rates) {
      const at = (variant: VariantName, round: number): RunResult | undefined =>
        results.find((x) => x.variant === variant && x.round === round && x.offeredRate === (rate ?? null));
      const loaded = results.filter((x) => x.variant === 'alerts-500' && x.offeredRate === (rate ?? null));
      const label = rate === undefined ? '' : ` @${rate}/s`;
      const rows: (string | number)[][] = [];
      for (const baseline of ['alerts-off', 'alerts-0'] as const) {
        if (!variants.includes(baseline)) continue;
        const pairs = loaded
          .map((x) => ({ x, base: at(baseline, x.round) }))
          .filter(
            (p): p is { x: RunResult; base: RunResult } => p.base !== undefined && p.base.sustained > 0,
          );
        const drops = pairs.map((p) => 1 - p.x.sustained / p.base.sustained);
        const brokerDeltas = pairs
          .map((p) => (p.x.brokerUsPerAcked ?? Number.NaN) - (p.base.brokerUsPerAcked ?? Number.NaN))
          .filter(Number.isFinite);
        const drop = drops.length ? median(drops) : Number.NaN;
        const verdict = Number.isFinite(drop) ? (drop < ALERT_DROP_TARGET ? 'PASS' : 'MISS') : 'n/a';
        alerting[`${baseline}${label}`] = {
          dropMedian: round(drop, 4),
          dropPerRound: drops.map((d) => round(d, 4)),
          brokerUsPerAckedDeltaMedian: round(median(brokerDeltas), 1),
          target: ALERT_DROP_TARGET,
          verdict,
        };
        rows.push([
          `${ruleCount} rules vs ${VARIANT_LABELS[baseline]}${label}`,
          drops.map((d) => `${round(d * 100, 1)} %`).join(', ') || '–',
          Number.isFinite(drop) ? `${round(drop * 100, 1)} %` : '–',
          brokerDeltas.length ? round(median(brokerDeltas), 1) : '–',
          `< ${ALERT_DROP_TARGET * 100} % ${verdict}` +
            (rate === undefined ? '' : ' (paced: the rate is held by design; the cost shows in broker Δµs)'),
        ]);
      }
      console.log(
        `\nAlerting's cost on ingest${label} — drop = 1 − sustained(${ruleCount} rules) ÷ sustained(baseline), per round then the median; ` +
          'broker Δµs = broker CPU µs per acked reading, loaded minus baseline. The headline baseline is IOC_ALERTS=off ' +
          '(what the platform costs with alerting against without it); engine-on-with-0-rules isolates what the rules themselves cost.',
      );
      console.log(table(['comparison', 'drop per round', 'median drop', 'broker Δµs/acked', 'target'], rows));
    }
    const notEvaluated = results.filter((x) => (x.rulesNotEvaluated ?? 0) > 0);
    if (notEvaluated.length > 0)
      console.log(
        `WARNING: the alert engine left rules out in ${notEvaluated.length} run(s) (its "alert rule not evaluated" warnings): those cost nothing`,
      );
    targets['alerting'] = alerting;
  }

  for (const r of results) {
    for (const p of r.profiles ?? []) {
      console.log(`\n${formatProfileSummary(p, `CPU profile ${r.variant} round ${r.round} — ${p.file}`)}`);
    }
  }

  console.log(
    JSON.stringify({
      bench: 'ingest-throughput',
      machine,
      tree,
      config: {
        seconds,
        warmupSeconds,
        rounds,
        variants,
        ...(alertRules ? { alertRules: ruleCount } : {}),
        connections,
        windowPerConnection,
        devices: deviceCount,
        mode: rates[0] === undefined ? 'saturate' : 'paced',
        generator,
        rates: rates[0] === undefined ? null : rates,
        profiled: Boolean(args.profile),
        peerBatchReadings,
        peerBatchMs,
        targetProcesses: Object.fromEntries(variants.map((v) => [v, TARGET_PROCESSES[v]])),
      },
      durationSeconds: round((Date.now() - startedAt) / 1000),
      medians,
      scaling,
      targets,
      runs: results.map((x) => {
        const { profiles, ...rest } = x;
        return profiles
          ? {
              ...rest,
              profiles: profiles.map((p) => ({
                file: p.file,
                byCategory: p.byCategory.slice(0, 10),
                inclusive: p.inclusive,
              })),
            }
          : rest;
      }),
    }),
  );
}

/** Cores of the machines the projection is printed for (what "more cores would give"). */
const PROJECTED_CORES = [4, 8, 16] as const;

/**
 * CPU µs per acknowledged reading of each of a variant's processes (medians), readings per
 * core-second of its processes together, and — with the scale-out variants — two nodes against
 * one per round, each node's share, and what a machine with more cores would give: cores ×
 * readings per core-second when the variant's processes have every core (an upper bound: the load
 * generator, the OS and other tenants take their share), and the ceiling of redis-server's one
 * thread (10⁶ ÷ its µs per reading) that no number of broker nodes passes. Returns the figures
 * for the JSON line.
 */
function printScaling(
  results: RunResult[],
  medians: Record<string, Record<string, unknown>>,
): Record<string, unknown> {
  const order = ['broker', 'broker-1', 'broker-2', 'api', 'redis', 'postgres', 'influxd', 'haproxy'];
  const rank = (name: string): number => (order.includes(name) ? order.indexOf(name) : order.length);
  const names = [...new Set(variants.flatMap((v) => TARGET_PROCESSES[v]))].sort((a, b) => rank(a) - rank(b));
  const rows: (string | number)[][] = [];
  const perCore: Record<string, unknown> = {};
  for (const rate of rates) {
    for (const variant of variants) {
      const key = rate === undefined ? variant : `${variant}@${rate}`;
      const m = medians[key] as
        { usPerAckedByProcess: Record<string, number>; cpuUsPerAcked: number; sustained: number } | undefined;
      if (!m) continue;
      const readingsPerCoreSecond = m.cpuUsPerAcked > 0 ? round(1e6 / m.cpuUsPerAcked) : Number.NaN;
      const redisUs = m.usPerAckedByProcess['redis'];
      perCore[key] = {
        cpuUsPerAcked: m.cpuUsPerAcked,
        readingsPerCoreSecond,
        projected: Object.fromEntries(
          PROJECTED_CORES.map((c) => [`${c}cores`, round(c * readingsPerCoreSecond)]),
        ),
        ...(redisUs !== undefined && redisUs > 0 ? { redisCeiling: round(1e6 / redisUs) } : {}),
      };
      rows.push([
        VARIANT_LABELS[variant] + (rate ? ` @${rate}/s` : ''),
        ...names.map((n) => m.usPerAckedByProcess[n] ?? '–'),
        m.cpuUsPerAcked,
        readingsPerCoreSecond,
        ...PROJECTED_CORES.map((c) => round(c * readingsPerCoreSecond)),
      ]);
    }
  }
  console.log(
    '\nCPU µs per acknowledged reading, by process (medians over rounds; the load generator is not charged), ' +
      "readings per core-second of the variant's processes together (10⁶ ÷ total µs), and what that gives on a machine " +
      `with ${PROJECTED_CORES.join(' / ')} cores if the variant's processes had every core (an upper bound: cores × readings per core-second)`,
  );
  console.log(
    table(
      ['variant', ...names, 'total µs', 'readings/core-s', ...PROJECTED_CORES.map((c) => `${c} cores`)],
      rows,
    ),
  );

  const scaleOut: Record<string, unknown> = {};
  for (const rate of rates) {
    const at = (variant: VariantName, r: number): RunResult | undefined =>
      results.find((x) => x.variant === variant && x.round === r && x.offeredRate === (rate ?? null));
    const label = rate === undefined ? '' : ` @${rate}/s`;
    const pairs: [VariantName, VariantName, string][] = [
      ['nodes-2', 'nodes-1', 'two broker nodes ÷ one'],
      ['nodes-2-haproxy', 'nodes-1', 'two nodes behind HAProxy ÷ one node'],
      ['nodes-2-haproxy', 'nodes-2', 'behind HAProxy ÷ direct (two nodes)'],
      ['nodes-1', 'influxdb', 'one node on Redis + PostgreSQL ÷ one node without (same influxd store)'],
      ['nodes-2', 'influxdb', 'two broker nodes ÷ one node without Redis'],
    ];
    for (const [a, b, what] of pairs) {
      if (!variants.includes(a) || !variants.includes(b)) continue;
      const perRound = results
        .filter((x) => x.variant === a && x.offeredRate === (rate ?? null))
        .map((x) => {
          const other = at(b, x.round);
          return other && other.sustained > 0 ? x.sustained / other.sustained : Number.NaN;
        })
        .filter(Number.isFinite);
      const ratio = perRound.length ? round(median(perRound), 3) : null;
      scaleOut[`${a}/${b}${label}`] = { ratio, perRound: perRound.map((x) => round(x, 3)) };
      console.log(
        `scale-out${label}: ${what} (sustained, per round then the median) → ${ratio === null ? 'n/a' : `${ratio}×`}` +
          ` (rounds: ${perRound.map((x) => round(x, 3)).join(', ') || 'none'})`,
      );
    }
    for (const variant of variants.filter((v) => (CLUSTER_NODE_COUNT[v] ?? 0) > 1)) {
      const m = medians[rate === undefined ? variant : `${variant}@${rate}`] as
        { nodeAcceptedRates: Record<string, number> | null } | undefined;
      if (m?.nodeAcceptedRates)
        console.log(
          `${VARIANT_LABELS[variant]}${label}: accepted per node (median) ${Object.entries(
            m.nodeAcceptedRates,
          )
            .map(([node, r]) => `${node} ${r}/s`)
            .join(', ')}`,
        );
    }
    for (const variant of variants.filter((v) => TARGET_PROCESSES[v].includes('redis'))) {
      const figures = perCore[rate === undefined ? variant : `${variant}@${rate}`] as
        { redisCeiling?: number } | undefined;
      if (figures?.redisCeiling)
        console.log(
          `${VARIANT_LABELS[variant]}${label}: redis-server runs on one thread: at its CPU per reading it saturates one core at ≈ ${figures.redisCeiling} readings/s, whatever the number of broker nodes`,
        );
    }
  }
  return { perCoreSecond: perCore, scaleOut, projectedCores: PROJECTED_CORES };
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
