/**
 * End-to-end latency at a fixed offered rate: publish → PUBACK, publish → stored, and
 * publish → socket.io `reading` event, for the platform on the embedded store and on a real
 * influxd. The load generator, the socket.io client and the store probe run in this one process,
 * so every latency is a difference of the same clock. See bench/README.md.
 *
 *   node -r ./scripts/register.js bench/latency.ts [--rate 5000] [--seconds 30] [--rounds 3]
 *       [--variants embedded,influxdb] [--probe-every 25] [--poll-ms 2]
 */
import { Agent, request } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { io, type Socket } from 'socket.io-client';
import { DOMAINS } from '@ioc/contracts';
import { influxdAvailable } from '@ioc/testing';
import {
  distribution,
  type Distribution,
  machineInfo,
  onInterrupt,
  median,
  treeState,
  round,
  rotate,
  sleep,
  table,
} from './lib/common';
import { Loader, type PublishedMessage } from './lib/loader';
import { buildTemplates } from './lib/payloads';
import { CpuMeter, waitForQuietMachine } from './lib/proc-cpu';
import {
  type LoopDelay,
  probe,
  startTarget,
  type Target,
  VARIANT_LABELS,
  type VariantName,
} from './lib/targets';

const { values: args } = parseArgs({
  options: {
    rate: { type: 'string', default: '5000' },
    'quiet-wait': { type: 'string', default: '20' },
    seconds: { type: 'string', default: '30' },
    warmup: { type: 'string', default: '3' },
    rounds: { type: 'string', default: '3' },
    variants: { type: 'string', default: 'embedded,influxdb' },
    connections: { type: 'string', default: '4' },
    window: { type: 'string', default: '2000' },
    devices: { type: 'string', default: '304' },
    'probe-every': { type: 'string', default: '25' },
    'poll-ms': { type: 'string', default: '2' },
    'influx-poll-ms': { type: 'string', default: '10' },
  },
});

const rate = Number(args.rate);
const seconds = Number(args.seconds);
const warmupSeconds = Number(args.warmup);
const rounds = Number(args.rounds);
const probeEvery = Number(args['probe-every']);
const pollMs = Number(args['poll-ms']);
const influxPollMs = Number(args['influx-poll-ms']);
let variants = args.variants.split(',').map((v) => v.trim()) as VariantName[];
for (const v of variants) {
  if (v !== 'embedded' && v !== 'influxdb')
    throw new Error(`latency variants are embedded and influxdb, not "${v}"`);
}
if (variants.includes('influxdb') && !influxdAvailable()) {
  console.warn('influxd not found on PATH (apt-get install -y influxdb): skipping the influxdb variant');
  variants = variants.filter((v) => v !== 'influxdb');
}

interface Probe {
  seq: number;
  deviceId: string;
  metric: string;
  ts: number;
  at: number;
}

interface Reading {
  seq?: number;
  ts: number;
}

interface LatencyRun {
  variant: VariantName;
  round: number;
  offered: number;
  acked: number;
  published: number;
  skipped: number;
  /** Readings published in the window that never reached the socket.io client. */
  liveMissing: number;
  ack: Distribution;
  live: Distribution;
  /** The same, from `ts` (epoch ms, 1 ms resolution) instead of the exact publish instant. */
  liveFromTs: Distribution;
  stored: Distribution;
  storedMissing: number;
  /** How often the store probe looked while probes were pending (mean interval between checks, ms). */
  probeResolutionMs: number;
  /** Event-loop delay of this (measuring) process: how late a timestamp taken here can be. */
  measurerLoopDelayP99Ms: number;
  cpu: Record<string, number>;
  /** Target processes that died during the run. */
  problems: string[];
  /** Event-loop delay of the broker and the API during the window, ms. */
  loops: LoopDelay[];
  /** Durable spool group commits (write + fdatasync) per second, and readings per commit. */
  spoolCommitsPerSecond: number;
  recordsPerCommit: number;
  /** How busy the machine was just before the run (after waiting up to --quiet-wait s). */
  quietBefore: { waitedSeconds: number; busyPercent: number } | null;
}

/**
 * Store probe: which of the oldest pending probes are stored yet? Returns how many of them, from
 * the head, are found (points reach the store in publish order, so the first missing one ends
 * the scan).
 */
interface StoreProbe {
  storedPrefix(pending: readonly Probe[]): Promise<number> | number;
  close(): void;
}

function sqliteProbe(target: Target): StoreProbe {
  const dataDir = target.platform?.dataDir as string;
  const db = new Database(join(dataDir, 'timeseries.sqlite'), { readonly: true, fileMustExist: true });
  const statement = db.prepare('SELECT 1 AS found FROM points WHERE device_id = ? AND metric = ? AND ts = ?');
  return {
    storedPrefix(pending) {
      let n = 0;
      while (n < pending.length) {
        const p = pending[n] as Probe;
        if (statement.get(p.deviceId, p.metric, p.ts) === undefined) break;
        n++;
      }
      return n;
    },
    close: () => db.close(),
  };
}

/** InfluxQL over HTTP (keep-alive): one request asks about the oldest `batch` probes at once. */
function influxProbe(target: Target, batch = 16): StoreProbe {
  const url = new URL(target.influxd?.url as string);
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const query = (q: string): Promise<{ results?: { series?: unknown[] }[] }> =>
    new Promise((resolve, reject) => {
      const req = request(
        {
          host: url.hostname,
          port: url.port,
          path: `/query?db=ioc_bench&q=${encodeURIComponent(q)}`,
          agent,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            try {
              resolve(
                JSON.parse(Buffer.concat(chunks).toString('utf8')) as { results?: { series?: unknown[] }[] },
              );
            } catch (error) {
              reject(error as Error);
            }
          });
        },
      );
      req.on('error', reject);
      req.end();
    });
  return {
    async storedPrefix(pending) {
      const head = pending.slice(0, batch);
      if (head.length === 0) return 0;
      const q = head
        .map((p) => `SELECT "seq" FROM "readings" WHERE "deviceId" = '${p.deviceId}' AND time = ${p.ts}ms`)
        .join('; ');
      try {
        const body = await query(q);
        let n = 0;
        while (n < head.length && (body.results?.[n]?.series?.length ?? 0) > 0) n++;
        return n;
      } catch {
        return 0;
      }
    },
    close: () => agent.destroy(),
  };
}

async function connectLive(
  httpUrl: string,
  accessToken: string,
  onReading: (r: Reading) => void,
): Promise<Socket> {
  const socket = io(`${httpUrl}/live`, {
    transports: ['websocket'],
    reconnection: false,
    auth: { token: accessToken },
  });
  socket.on('reading', onReading);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', reject);
  });
  for (const domain of DOMAINS) {
    const ack = (await socket.timeout(5000).emitWithAck('subscribe', { domain })) as { ok: boolean };
    if (!ack.ok) throw new Error(`live subscription to ${domain} refused`);
  }
  return socket;
}

async function runOnce(variant: VariantName, roundIndex: number): Promise<LatencyRun> {
  const quietWaitSeconds = Number(args['quiet-wait']);
  const quiet = quietWaitSeconds > 0 ? await waitForQuietMachine(quietWaitSeconds * 1000) : undefined;
  // The broker's and API's event-loop delay during the window (bench/lib/process-probe.js).
  const probeDir = mkdtempSync(join(tmpdir(), 'bench-probe-'));
  const removeProbeDir = async (): Promise<void> => {
    rmSync(probeDir, { recursive: true, force: true });
  };
  const unregisterProbeDir = onInterrupt(removeProbeDir);
  let target: Target;
  try {
    target = await startTarget(variant, { probeDir });
  } catch (error) {
    await removeProbeDir();
    unregisterProbeDir();
    throw error;
  }
  const templates = buildTemplates(Number(args.devices));
  let measuring = false;
  let windowOpen = false;
  const publishedAt = new Map<number, number>();
  const liveLatencies: number[] = [];
  const liveTsLatencies: number[] = [];
  const storedLatencies: number[] = [];
  const pending: Probe[] = [];
  let published = 0;
  let probeChecks = 0;
  let probeSpanMs = 0;

  const loader = new Loader({
    host: '127.0.0.1',
    port: target.mqttPort,
    connections: Number(args.connections),
    window: Number(args.window),
    rate,
    templates,
    clientIdPrefix: `bench-lat-${process.pid}`,
    recordAckLatency: true,
    onPublish: (m: PublishedMessage) => {
      if (!windowOpen) return;
      published++;
      publishedAt.set(m.seq, m.at);
      if (m.seq % probeEvery === 0) {
        pending.push({
          seq: m.seq,
          deviceId: m.template.device.id,
          metric: m.variant.firstMetric,
          ts: m.ts,
          at: m.at,
        });
      }
    },
  });
  let socket: Socket | undefined;
  let store: StoreProbe | undefined;
  let probing = true;
  let prober: Promise<void> = Promise.resolve();
  const startObservers = async (): Promise<void> => {
    if (!target.platform) throw new Error(`${variant}: the latency benchmark needs the API`);
    const admin = await target.platform.admin();
    socket = await connectLive(target.httpUrl as string, admin.accessToken, (reading) => {
      const now = performance.now();
      const wall = Date.now();
      const at = reading.seq === undefined ? undefined : publishedAt.get(reading.seq);
      if (at === undefined) return;
      publishedAt.delete(reading.seq as number);
      if (!measuring) return;
      liveLatencies.push(now - at);
      liveTsLatencies.push(wall - reading.ts);
    });
    const probeStore = variant === 'embedded' ? sqliteProbe(target) : influxProbe(target);
    store = probeStore;
    // Looks every poll interval; latency = when the probe first saw the point − publish instant.
    prober = (async () => {
      let last = performance.now();
      while (probing) {
        if (pending.length > 0) {
          const n = await probeStore.storedPrefix(pending);
          const now = performance.now();
          probeChecks++;
          probeSpanMs += now - last;
          last = now;
          for (const head of pending.splice(0, n)) if (measuring) storedLatencies.push(now - head.at);
        } else {
          last = performance.now();
        }
        await sleep(variant === 'embedded' ? pollMs : influxPollMs);
      }
    })();
  };

  const meter = new CpuMeter(target.pids);
  const loopDelay = monitorEventLoopDelay({ resolution: 1 });
  try {
    await startObservers();
    await loader.connect();
    loader.start();
    await sleep(warmupSeconds * 1000);
    const ack0 = loader.ackLatencies.length;
    const stats0 = { ...loader.stats };
    measuring = true;
    windowOpen = true;
    meter.mark();
    loopDelay.enable();
    probe.start(probeDir);
    const ingest0 = await target.stats();
    await sleep(seconds * 1000);
    windowOpen = false;
    const cpu = meter.measure();
    loopDelay.disable();
    const { loops } = await probe.stop(probeDir, 2, false);
    const ingest1 = await target.stats();
    const commits = ingest0 && ingest1 ? ingest1.spool.commits - ingest0.spool.commits : Number.NaN;
    const committed =
      ingest0 && ingest1 ? ingest1.spool.committedRecords - ingest0.spool.committedRecords : Number.NaN;
    const stats1 = { ...loader.stats };
    const acks = loader.ackLatencies.slice(ack0);
    // Keep publishing a little (no longer measured) so the last window readings are not the tail
    // of a stopping stream, then give them time to arrive.
    await sleep(1000);
    await loader.stop();
    const deadline = Date.now() + 10_000;
    while (
      (publishedAt.size > 0 || pending.length > 0) &&
      Date.now() < deadline &&
      target.problems().length === 0
    ) {
      await sleep(50);
    }
    measuring = false;
    return {
      variant,
      round: roundIndex + 1,
      offered: rate,
      acked: round((stats1.acked - stats0.acked) / seconds),
      published,
      skipped: stats1.skipped - stats0.skipped,
      liveMissing: publishedAt.size,
      ack: distribution(acks),
      live: distribution(liveLatencies),
      liveFromTs: distribution(liveTsLatencies),
      stored: distribution(storedLatencies),
      storedMissing: pending.length,
      probeResolutionMs: round(probeChecks > 0 ? probeSpanMs / probeChecks : Number.NaN, 2),
      measurerLoopDelayP99Ms: round(loopDelay.percentile(99) / 1e6, 2),
      cpu,
      problems: target.problems(),
      loops,
      quietBefore: quiet ?? null,
      // The broker publishes its counters every 2 s: rates over the window are ±2 s approximate.
      spoolCommitsPerSecond: round(commits / seconds, 1),
      recordsPerCommit: round(committed / commits, 1),
    };
  } finally {
    probing = false;
    await prober;
    store?.close();
    socket?.close();
    await loader.close();
    await target.stop();
    await removeProbeDir();
    unregisterProbeDir();
  }
}

function row(x: LatencyRun, which: 'ack' | 'stored' | 'live'): (string | number)[] {
  const d = x[which];
  return [
    VARIANT_LABELS[x.variant],
    x.round,
    which === 'ack' ? 'publish → PUBACK' : which === 'stored' ? 'publish → stored' : 'publish → socket.io',
    d.count,
    d.p50,
    d.p95,
    d.p99,
    d.max,
  ];
}

async function main(): Promise<void> {
  const machine = machineInfo();
  const tree = treeState();
  const startedAt = Date.now();
  console.log(
    `latency: ${variants.join(', ')}; ${rate} readings/s offered (QoS 1, paced every 5 ms, ${args.connections} connections); ` +
      `${seconds} s window after ${warmupSeconds} s warm-up; ${rounds} round(s); store probe on 1 reading in ${probeEvery}\n` +
      `machine: ${machine.nproc} CPU (${machine.cpuModel}), ${machine.memory}, Node ${machine.node}\n` +
      `code: ${tree.commit}${tree.modified.length ? ` + ${tree.modified.length} uncommitted change(s) under apps/libs/devices-sim/seeds: ${tree.modified.join(', ')}` : ' (clean)'}`,
  );
  const results: LatencyRun[] = [];
  for (let r = 0; r < rounds; r++) {
    for (const variant of rotate(variants, r)) {
      const x = await runOnce(variant, r);
      results.push(x);
      console.log(
        `  ${VARIANT_LABELS[x.variant].padEnd(26)} round ${x.round}: acked ${x.acked}/s; ` +
          `p99 PUBACK ${x.ack.p99} ms, stored ${x.stored.p99} ms, socket.io ${x.live.p99} ms ` +
          `(missing: live ${x.liveMissing}, stored ${x.storedMissing}; skipped ${x.skipped}; ` +
          `probe every ${x.probeResolutionMs} ms; this process's loop delay p99 ${x.measurerLoopDelayP99Ms} ms)\n` +
          (x.problems.length ? `    PROBLEMS: ${x.problems.join('; ')}\n` : '') +
          `    CPU (% of one core): ${Object.entries(x.cpu)
            .map(([k, v]) => `${k} ${v}%`)
            .join(', ')}\n` +
          `    spool: ${x.spoolCommitsPerSecond} group commits/s, ${x.recordsPerCommit} readings each\n` +
          `    event-loop delay: ${x.loops.map((l) => `${l.name} p50 ${l.p50} / p99 ${l.p99} / max ${l.max} ms`).join('; ')}` +
          (x.quietBefore && x.quietBefore.busyPercent >= 15
            ? `\n    NOTE: the machine was ${x.quietBefore.busyPercent} % busy before this run (waited ${x.quietBefore.waitedSeconds} s)`
            : ''),
      );
    }
  }

  console.log('\nPer run (ms)');
  console.log(
    table(
      ['variant', 'round', 'path', 'samples', 'p50', 'p95', 'p99', 'max'],
      results.flatMap((x) => [row(x, 'ack'), row(x, 'stored'), row(x, 'live')]),
    ),
  );

  const medians: Record<string, Record<string, unknown>> = {};
  const medianRows: (string | number)[][] = [];
  for (const variant of variants) {
    const runs = results.filter((x) => x.variant === variant);
    const m = (pick: (x: LatencyRun) => number): number => round(median(runs.map(pick)), 2);
    const paths = {
      ack: {
        p50: m((x) => x.ack.p50),
        p95: m((x) => x.ack.p95),
        p99: m((x) => x.ack.p99),
        max: m((x) => x.ack.max),
      },
      stored: {
        p50: m((x) => x.stored.p50),
        p95: m((x) => x.stored.p95),
        p99: m((x) => x.stored.p99),
        max: m((x) => x.stored.max),
      },
      live: {
        p50: m((x) => x.live.p50),
        p95: m((x) => x.live.p95),
        p99: m((x) => x.live.p99),
        max: m((x) => x.live.max),
      },
      liveFromTs: { p99: m((x) => x.liveFromTs.p99) },
    };
    medians[variant] = {
      ...paths,
      acked: m((x) => x.acked),
      liveMissing: m((x) => x.liveMissing),
      storedMissing: m((x) => x.storedMissing),
      probeResolutionMs: m((x) => x.probeResolutionMs),
      measurerLoopDelayP99Ms: m((x) => x.measurerLoopDelayP99Ms),
      brokerCpu: m((x) => x.cpu['broker'] ?? Number.NaN),
      apiCpu: m((x) => x.cpu['api'] ?? Number.NaN),
      selfCpu: m((x) => x.cpu['self'] ?? Number.NaN),
      machineCpu: m((x) => x.cpu['machine'] ?? Number.NaN),
      brokerLoopP99Ms: m((x) => x.loops.find((l) => l.name === 'broker')?.p99 ?? Number.NaN),
      spoolCommitsPerSecond: m((x) => x.spoolCommitsPerSecond),
      recordsPerCommit: m((x) => x.recordsPerCommit),
      brokerLoopMaxMs: m((x) => x.loops.find((l) => l.name === 'broker')?.max ?? Number.NaN),
      apiLoopP99Ms: m((x) => x.loops.find((l) => l.name === 'api')?.p99 ?? Number.NaN),
      otherCpu: m((x) => x.cpu['other'] ?? Number.NaN),
    };
    for (const [name, label] of [
      ['ack', 'publish → PUBACK'],
      ['stored', 'publish → stored'],
      ['live', 'publish → socket.io'],
    ] as const) {
      const d = paths[name];
      medianRows.push([VARIANT_LABELS[variant], label, d.p50, d.p95, d.p99, d.max]);
    }
  }
  console.log(`\nMedians over ${rounds} round(s) (ms)`);
  console.log(table(['variant', 'path', 'p50', 'p95', 'p99', 'max'], medianRows));
  for (const variant of variants) {
    const m = medians[variant] as Record<string, number>;
    console.log(
      `${VARIANT_LABELS[variant]}: broker event-loop delay p99 ${m['brokerLoopP99Ms']} ms (max ${m['brokerLoopMaxMs']} ms), ` +
        `API p99 ${m['apiLoopP99Ms']} ms; CPU broker ${m['brokerCpu']} %, API ${m['apiCpu']} %, ` +
        `this process ${m['selfCpu']} %, other processes ${m['otherCpu']} % (of one core)`,
    );
  }

  const targets: Record<string, unknown> = {};
  for (const variant of variants) {
    const p99 = (medians[variant] as { live: { p99: number } }).live.p99;
    const verdict = p99 < 50 ? 'PASS' : 'MISS';
    targets[variant] = { liveP99: p99, target: 50, verdict };
    console.log(
      `target ${VARIANT_LABELS[variant]}: p99 publish → socket.io < 50 ms at ${rate}/s → ${p99} ms ${verdict}`,
    );
  }
  console.log(
    JSON.stringify({
      bench: 'latency',
      machine,
      tree,
      config: {
        rate,
        seconds,
        warmupSeconds,
        rounds,
        variants,
        probeEvery,
        pollMs,
        connections: Number(args.connections),
      },
      durationSeconds: round((Date.now() - startedAt) / 1000),
      medians,
      targets,
      runs: results,
    }),
  );
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
