/**
 * Sustained ingest throughput with QoS 1 and durability on: the platform broker with the embedded
 * store, with a real influxd, and a bare aedes broker as the ceiling, driven by the same load
 * generator in the same run. See bench/README.md.
 *
 *   node -r ./scripts/register.js bench/ingest-throughput.ts [--seconds 60] [--rounds 3]
 *       [--variants embedded,influxdb,bare] [--connections 8] [--window 250]
 *       [--rates 5000,10000,20000]   (stepped, paced offered rates instead of a saturating run)
 *       [--profile DIR]              (V8 CPU profiles of the broker and API during the window)
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { influxdAvailable } from '@ioc/testing';
import { formatProfileSummary, summarizeProfile, type ProfileSummary } from './lib/cpu-profile';
import {
  type IngestStatsView,
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
import { CpuMeter, waitForQuietMachine } from './lib/proc-cpu';
import {
  LoaderProcess,
  type LoopDelay,
  probe,
  startTarget,
  type Target,
  VARIANT_LABELS,
  type VariantName,
} from './lib/targets';

const { values: args } = parseArgs({
  options: {
    'quiet-wait': { type: 'string', default: '20' },
    seconds: { type: 'string', default: '60' },
    warmup: { type: 'string', default: '3' },
    rounds: { type: 'string' },
    variants: { type: 'string', default: 'embedded,influxdb,bare' },
    connections: { type: 'string', default: '8' },
    window: { type: 'string', default: '250' },
    devices: { type: 'string', default: '304' },
    rates: { type: 'string' },
    profile: { type: 'string' },
    generator: { type: 'string', default: 'lean' },
    'catch-up-timeout': { type: 'string', default: '30' },
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
  if (!['embedded', 'influxdb', 'bare'].includes(v)) throw new Error(`unknown variant "${v}"`);
}
if (variants.includes('influxdb') && !influxdAvailable()) {
  console.warn('influxd not found on PATH (apt-get install -y influxdb): skipping the influxdb variant');
  variants = variants.filter((v) => v !== 'influxdb');
}

interface StatsSample {
  /** performance.now() when this snapshot was first seen (the broker refreshes it every 2 s). */
  t: number;
  s: IngestStatsView;
}

interface RunResult {
  variant: VariantName;
  round: number;
  offeredRate: number | null;
  /** PUBACKs per second over the window. */
  ackRate: number;
  /** Readings written to the store per second over the window (platform only). */
  storeRate: number | null;
  /** Broker-side accepted readings per second over the window (platform only). */
  acceptedRate: number | null;
  /** Bare broker: messages the no-op subscriber received per second. */
  deliveredRate: number | null;
  /** The figure reported: ack rate if the store kept up, else the store's own rate. */
  sustained: number;
  keptUp: boolean;
  verdict: string;
  /** Spool depth (records appended, not yet stored) at the end of the window, and its trend. */
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
    target = await startTarget(variant, { probeDir, cpuProfile });
  } catch (error) {
    await removeProbeDir();
    unregisterProbeDir();
    throw error;
  }
  const loader = new LoaderProcess();
  const meter = new CpuMeter({ ...target.pids, loader: loader.pid });
  const samples: StatsSample[] = [];
  let polling = true;
  const poller = (async () => {
    let last = '';
    while (polling) {
      const s = await target.stats();
      if (s) {
        const key = `${s.acceptedTotal}/${s.storage.written}/${s.spool.commits}/${s.spool.records}`;
        if (key !== last) samples.push({ t: performance.now(), s });
        last = key;
      }
      await sleep(250);
    }
  })();
  let windowStartAt = 0;
  let windowEndAt = 0;
  let delivered0 = 0;
  let delivered1 = 0;
  let cpu: Record<string, number> = {};
  let profiles: ProfileSummary[] | undefined;
  try {
    await loader.run(
      {
        host: '127.0.0.1',
        port: target.mqttPort,
        connections,
        window: windowPerConnection,
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
          delivered0 = target.subscriber?.received ?? 0;
          probe.start(probeDir);
        } else if (event.ev === 'window-end') {
          cpu = meter.measure();
          windowEndAt = performance.now();
          delivered1 = target.subscriber?.received ?? 0;
        }
      },
    );
    const end = await loader.waitWindowEnd();
    const probed = await probe.stop(probeDir, variant === 'bare' ? 1 : 2, cpuProfile);
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
          final.spool.records === 0 &&
          final.storage.queued === 0
        ) {
          catchUpSeconds = round((performance.now() - stopAt) / 1000, 1);
          break;
        }
        await sleep(250);
      }
    }
    const stored = await target.storedCount();
    const problems = target.problems();

    const windowSeconds = end.elapsedMs / 1000;
    const ackRate = end.acked / windowSeconds;
    const sA = sampleNear(samples, windowStartAt, true);
    const sB = sampleNear(samples, windowEndAt, false);
    const span = sA && sB && sB.t > sA.t ? (sB.t - sA.t) / 1000 : undefined;
    const storeRate = span && sA && sB ? (sB.s.storage.written - sA.s.storage.written) / span : null;
    const acceptedRate = span && sA && sB ? (sB.s.acceptedTotal - sA.s.acceptedTotal) / span : null;
    const commits = span && sA && sB ? sB.s.spool.commits - sA.s.spool.commits : null;
    const committed = span && sA && sB ? sB.s.spool.committedRecords - sA.s.spool.committedRecords : null;
    const inWindow = samples.filter((x) => x.t >= windowStartAt && x.t <= windowEndAt);
    const spoolSlope = target.httpUrl ? slope(inWindow.map((x) => ({ t: x.t, y: x.s.spool.records }))) : null;
    const spoolAtEnd = sB ? sB.s.spool.records : null;

    let keptUp = problems.length === 0;
    const notes: string[] = [...problems];
    if (target.httpUrl) {
      // Falling behind: the backlog grows by more than one full write batch (5000) and more than
      // 2 % of what was acknowledged over the window; batch-to-batch jitter stays below that.
      if (spoolSlope !== null && spoolSlope > Math.max(5000 / windowSeconds, 0.02 * ackRate)) {
        keptUp = false;
        notes.push(`spool grows ${Math.round(spoolSlope)}/s`);
      }
      if (spoolAtEnd !== null && spoolAtEnd > 2 * ackRate) {
        keptUp = false;
        notes.push(`spool ${spoolAtEnd} at end`);
      }
      if (catchUpSeconds === null) {
        keptUp = false;
        notes.push('store did not catch up');
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
    const sustained = keptUp ? ackRate : Math.min(ackRate, storeRate ?? ackRate);
    const perSecond = end.perSecond.length > 0 ? end.perSecond : [end.acked];
    return {
      variant,
      round: roundIndex + 1,
      offeredRate: offeredRate ?? null,
      ackRate: round(ackRate),
      storeRate: storeRate === null ? null : round(storeRate),
      acceptedRate: acceptedRate === null ? null : round(acceptedRate),
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
      commitsPerSecond: commits !== null && span ? round(commits / span, 1) : null,
      minSecond: Math.min(...perSecond),
      maxSecond: Math.max(...perSecond),
      cpu,
      loaderEventLoopUtilization: end.eventLoopUtilization,
      problems,
      loops,
      quietBefore: quiet ?? null,
      ...(profiles ? { profiles } : {}),
    };
  } finally {
    polling = false;
    await poller;
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
      (r.storeRate !== null
        ? `, stored ${r.storeRate}/s, spool at end ${r.spoolAtEnd}, caught up in ${r.catchUpSeconds ?? '>timeout'} s`
        : '') +
      (r.deliveredRate !== null ? `, delivered ${r.deliveredRate}/s` : '') +
      ` → ${r.verdict}\n    CPU (% of one core): ${cpu}\n    event-loop delay: ${formatLoops(r.loops)}` +
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
  r.loops.find((l) => l.name === 'broker' || l.name === 'bare-broker');

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
      const m = {
        sustained: round(median(runs.map((x) => x.sustained))),
        ackRate: round(median(runs.map((x) => x.ackRate))),
        storeRate: variant === 'bare' ? null : round(median(runs.map((x) => x.storeRate ?? Number.NaN))),
        ratioToBare: variant === 'bare' ? 1 : ratios.length ? round(median(ratios), 3) : null,
        keptUpRounds: runs.filter((x) => x.keptUp).length,
        rounds: runs.length,
        spoolAtEnd: variant === 'bare' ? null : median(runs.map((x) => x.spoolAtEnd ?? Number.NaN)),
        catchUpSeconds: variant === 'bare' ? null : median(runs.map((x) => x.catchUpSeconds ?? Number.NaN)),
        brokerCpu: round(median(runs.map((x) => x.cpu['broker'] ?? Number.NaN)), 1),
        apiCpu: variant === 'bare' ? null : round(median(runs.map((x) => x.cpu['api'] ?? Number.NaN)), 1),
        influxdCpu:
          variant === 'influxdb' ? round(median(runs.map((x) => x.cpu['influxd'] ?? Number.NaN)), 1) : null,
        loaderCpu: round(median(runs.map((x) => x.cpu['loader'] ?? Number.NaN)), 1),
        machineCpu: round(median(runs.map((x) => x.cpu['machine'] ?? Number.NaN)), 1),
        otherCpu: round(median(runs.map((x) => x.cpu['other'] ?? Number.NaN)), 1),
        recordsPerCommit:
          variant === 'bare' ? null : median(runs.map((x) => x.recordsPerCommit ?? Number.NaN)),
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
        `${m.keptUpRounds}/${m.rounds}`,
        m.spoolAtEnd ?? '–',
        m.catchUpSeconds ?? '–',
        m.brokerCpu,
        m.apiCpu ?? '–',
        m.influxdCpu ?? '–',
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
        'spool end',
        'slope/s',
        'catch-up s',
        'acked total',
        'stored pts',
        'expected pts',
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
    `\nMedians over ${rounds} round(s) (readings/s; CPU in % of one core, machine in % of all ${machine.nproc} cores; other = CPU of processes not ours, i.e. noise; loop = the broker's event-loop delay)`,
  );
  console.log(
    table(
      [
        'variant',
        'sustained',
        'acked',
        'stored',
        'vs bare',
        'kept up',
        'spool end',
        'catch-up s',
        'broker',
        'api',
        'influxd',
        'loader',
        'machine',
        'other',
        'broker loop p99/max ms',
      ],
      summaryRows,
    ),
  );

  const targets: Record<string, unknown> = {};
  if (rates[0] === undefined) {
    for (const variant of variants.filter((v) => v !== 'bare')) {
      const m = medians[variant] as { sustained: number; ratioToBare: number | null };
      const rate = m.sustained >= 20_000 ? 'PASS' : 'MISS';
      const ratio = m.ratioToBare === null ? 'n/a' : m.ratioToBare >= 0.7 ? 'PASS' : 'MISS';
      targets[variant] = {
        sustained: m.sustained,
        rateTarget: 20_000,
        rate,
        ratioToBare: m.ratioToBare,
        ratioTarget: 0.7,
        ratio,
      };
      console.log(
        `target ${VARIANT_LABELS[variant]}: ≥ 20 000 readings/s → ${m.sustained}/s ${rate}; ≥ 70 % of bare → ${m.ratioToBare === null ? 'n/a' : `${round(m.ratioToBare * 100, 1)} %`} ${ratio}`,
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
        connections,
        windowPerConnection,
        devices: deviceCount,
        mode: rates[0] === undefined ? 'saturate' : 'paced',
        generator,
        rates: rates[0] === undefined ? null : rates,
        profiled: Boolean(args.profile),
      },
      durationSeconds: round((Date.now() - startedAt) / 1000),
      medians,
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

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
