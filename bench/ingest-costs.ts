/**
 * What one reading costs in each stage of the broker's ingest path, measured in isolation in
 * this process with the platform's own code (the timing counters behind the bottleneck analysis
 * of bench/README.md). Each stage runs `--reps` times; the median is reported.
 *
 *   node -r ./scripts/register.js bench/ingest-costs.ts [--readings 50000] [--reps 3] [--no-influx]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  type DeviceChannel,
  type DeviceType,
  isReadingChannel,
  parseDeviceTopic,
  parsePayload,
  parsePayloadWithZod,
  type Reading,
} from '@ioc/contracts';
import {
  AlertEngineHost,
  AlertRepository,
  loadSeedRules,
  registryEngineDirectory,
  RuleRepository,
} from '@ioc/alerting';
import { openDatabase } from '@ioc/database';
import { IngestPipeline, jsonArray } from '@ioc/ingest';
import { DEFAULT_SEEDS_DIR, DeviceRegistry, loadSeeds, prepareRegistry } from '@ioc/registry';
import { createLogger } from '@ioc/runtime';
import { DurableSpool, ReadingJsonEncoder } from '@ioc/spool';
import { createTimeSeriesStore, EmbeddedTimeSeriesStore, InfluxTimeSeriesStore } from '@ioc/timeseries';
import { influxdAvailable, startInfluxd } from '@ioc/testing';
import { distribution, machineInfo, median, onInterrupt, round, table, treeState } from './lib/common';
import { buildTemplates } from './lib/payloads';
import { childPidsNamed, processCpuSeconds } from './lib/proc-cpu';

const { values: args } = parseArgs({
  options: {
    readings: { type: 'string', default: '50000' },
    reps: { type: 'string', default: '3' },
    'no-influx': { type: 'boolean', default: false },
  },
});
const N = Number(args.readings);
const REPS = Number(args.reps);

interface StageResult {
  stage: string;
  /** CPU µs per reading in this process (user + system). */
  cpuUs: number;
  /** Wall µs per reading. */
  wallUs: number;
  note?: string;
}

/** Runs `fn` REPS times and returns the median CPU and wall time per reading. */
async function measure(
  stage: string,
  count: number,
  fn: () => unknown | Promise<unknown>,
  note?: string,
): Promise<StageResult> {
  const cpu: number[] = [];
  const wall: number[] = [];
  for (let i = 0; i < REPS; i++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    await fn();
    const t1 = performance.now();
    const c1 = process.cpuUsage(c0);
    cpu.push((c1.user + c1.system) / count);
    wall.push(((t1 - t0) * 1000) / count);
  }
  return { stage, cpuUs: round(median(cpu), 2), wallUs: round(median(wall), 2), ...(note ? { note } : {}) };
}

async function main(): Promise<void> {
  const machine = machineInfo();
  const tree = treeState();
  console.log(
    `ingest-costs: ${N} readings per stage, median of ${REPS}\nmachine: ${machine.nproc} CPU (${machine.cpuModel}), ${machine.memory}, Node ${machine.node}\n` +
      `code: ${tree.commit}${tree.modified.length ? ` + uncommitted: ${tree.modified.join(', ')}` : ' (clean)'}`,
  );
  const seeds = loadSeeds();
  const registry = new DeviceRegistry(seeds);
  const pipeline = new IngestPipeline(registry, { maxPayloadBytes: 16_384, maxFutureSkewMs: 300_000 });
  const templates = buildTemplates(304);
  const now = Date.now();
  const messages: { topic: string; payload: Buffer; type: DeviceType; channel: DeviceChannel }[] = [];
  for (let i = 0; i < N; i++) {
    const t = templates[i % templates.length]!;
    const v = t.variants[Math.floor(i / templates.length) % t.variants.length]!;
    const topic = v.topic.toString();
    const parsed = parseDeviceTopic(topic);
    if (!parsed.ok || !isReadingChannel(parsed.topic.channel))
      throw new Error(`invalid bench topic ${topic}`);
    messages.push({
      topic,
      payload: Buffer.from(`{"ts":${now - N + i},"seq":${i}${v.rest}`),
      type: t.device.type,
      channel: parsed.topic.channel,
    });
  }
  const readings: Reading[] = messages.map((m) => {
    const outcome = pipeline.process(m.topic, m.payload);
    const refused = outcome.rejections[0];
    if (!outcome.ok || refused)
      throw new Error(`invalid bench message: ${refused?.reason ?? ''} ${refused?.detail ?? ''}`);
    return outcome.readings[0] as Reading;
  });
  const metricsPerReading = readings.reduce((a, r) => a + Object.keys(r.metrics).length, 0) / readings.length;
  const results: StageResult[] = [];
  let sink = 0;

  results.push(
    await measure('topic parse (parseDeviceTopic)', N, () => {
      for (const m of messages) sink += parseDeviceTopic(m.topic).ok ? 1 : 0;
    }),
  );
  results.push(
    await measure('JSON.parse of the payload', N, () => {
      for (const m of messages) sink += (JSON.parse(m.payload.toString('utf8')) as { seq: number }).seq;
    }),
  );
  results.push(
    await measure('parsePayload (JSON + validation)', N, () => {
      for (const m of messages) sink += parsePayload(m.type, m.channel, m.payload, { now }).ok ? 1 : 0;
    }),
  );
  results.push(
    await measure('IngestPipeline.process (topic + registry + JSON + validation + Reading)', N, () => {
      for (const m of messages) sink += pipeline.process(m.topic, m.payload).ok ? 1 : 0;
    }),
  );
  // After the pipeline, so the stages before it run as they did before the fast path existed.
  results.push(
    await measure('parsePayloadWithZod (JSON + zod alone: validation before the fast path)', N, () => {
      for (const m of messages) sink += parsePayloadWithZod(m.type, m.channel, m.payload, { now }).ok ? 1 : 0;
    }),
  );
  results.push(
    await measure('JSON.stringify(reading) (the spool record body before ReadingJsonEncoder)', N, () => {
      for (const r of readings) sink += Buffer.from(JSON.stringify(r)).length;
    }),
  );
  const encoder = new ReadingJsonEncoder();
  results.push(
    await measure('ReadingJsonEncoder.encode (spool record body)', N, () => {
      for (const r of readings) sink += encoder.encode(r).length;
    }),
  );
  const bodies = readings.map((r) => Buffer.from(encoder.encode(r)));
  results.push(
    await measure('relay: 1000-reading batches from the spool bodies (jsonArray)', N, () => {
      for (let i = 0; i < bodies.length; i += 1000)
        sink += jsonArray(bodies, i, Math.min(bodies.length, i + 1000)).length;
    }),
  );
  const relayed = [] as string[];
  for (let i = 0; i < readings.length; i += 1000) relayed.push(JSON.stringify(readings.slice(i, i + 1000)));
  results.push(
    await measure('API: JSON.parse of relayed batches', N, () => {
      for (const b of relayed) sink += (JSON.parse(b) as unknown[]).length;
    }),
  );
  results.push(
    await measure('API: socket.io encode per reading (JSON.stringify ["reading", r])', N, () => {
      for (const r of readings) sink += JSON.stringify(['reading', r]).length;
    }),
  );

  // Durable spool: append in bursts of 500 per event-loop turn (as aedes hands them over), group
  // commit with fdatasync, release as a store would.
  {
    const dir = mkdtempSync(join(tmpdir(), 'bench-spool-'));
    const unregister = onInterrupt(async () => rmSync(dir, { recursive: true, force: true }));
    try {
      let appended = 0;
      const { spool } = await DurableSpool.open<Reading>(
        { dir, maxBytes: 1 << 30 },
        { encode: (r) => encoder.encode(r), decode: (b) => JSON.parse(b.toString()) as Reading },
      );
      results.push(
        await measure(
          'DurableSpool append + group commit (bursts of 500, fdatasync)',
          N,
          async () => {
            for (let i = 0; i < readings.length; i += 500) {
              const count = Math.min(500, readings.length - i);
              await Promise.all(readings.slice(i, i + 500).map((r) => spool.append(r)));
              // Records are numbered from 0 in a fresh spool, on across repetitions.
              spool.releaseRecords(appended, count);
              appended += count;
            }
          },
          'wall includes one write + fdatasync per 500',
        ),
      );
      await spool.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
      unregister();
    }
  }

  // The alert engine host with the seeded default rules, on an embedded registry database: the
  // spool's second consumer in the broker. The load's readings cycle through eight times of a
  // day per device, so conditions open and drop constantly: the cost of committing alert changes
  // (pending, firing, resolved, each with its transition) shows here, as it does in
  // bench/ingest-throughput.ts's default variants.
  {
    const cpuPerReading: number[] = [];
    const cpuPerChange: number[] = [];
    let changes = 0;
    for (let rep = 0; rep < REPS; rep++) {
      const dir = mkdtempSync(join(tmpdir(), 'bench-alerts-'));
      const unregister = onInterrupt(async () => rmSync(dir, { recursive: true, force: true }));
      const database = openDatabase({ kind: 'sqlite', path: join(dir, 'registry.sqlite') });
      try {
        await prepareRegistry(database);
        await loadSeedRules(database.db, DEFAULT_SEEDS_DIR);
        const host = new AlertEngineHost({
          alerts: new AlertRepository(database.db),
          rules: new RuleRepository(database.db),
          directory: registryEngineDirectory(registry),
          readingBase: () => undefined,
          publish: () => undefined,
          logger: createLogger('bench-alerts', { level: 'silent' }),
        });
        host.attach({ release: () => undefined, appendDerived: async () => undefined });
        await host.start();
        const bodies = readings.map(() => Buffer.alloc(0));
        const c0 = process.cpuUsage();
        for (let i = 0; i < readings.length; i += 1000) {
          host.onRecords(readings.slice(i, i + 1000), bodies.slice(i, i + 1000), i, false);
        }
        const deadline = Date.now() + 600_000;
        while (host.stats().position < readings.length - 1 || host.stats().lag > 0) {
          if (Date.now() > deadline) throw new Error('alert engine host did not drain in 10 min');
          await new Promise((resolve) => setImmediate(resolve));
        }
        const c1 = process.cpuUsage(c0);
        changes = host.stats().changes;
        cpuPerReading.push((c1.user + c1.system) / N);
        cpuPerChange.push(changes > 0 ? (c1.user + c1.system) / changes : Number.NaN);
        await host.close();
      } finally {
        await database.close();
        rmSync(dir, { recursive: true, force: true });
        unregister();
      }
    }
    const us = round(median(cpuPerReading), 2);
    results.push({
      stage: 'AlertEngineHost, seeded rules (evaluate + commit alert changes, SQLite)',
      cpuUs: us,
      wallUs: Number.NaN,
      note: `${changes} alert changes committed (${round((changes / N) * 100, 1)} per 100 readings), ${round(median(cpuPerChange), 1)} µs CPU per change`,
    });
  }

  // Embedded store: the broker's writer calls write() with up to IOC_WRITE_BATCH_SIZE readings;
  // better-sqlite3 is synchronous, so this time blocks the broker's event loop.
  const writeCalls: Record<string, number[]> = {};
  for (const batch of [500, 5000, 20_000]) {
    const dir = mkdtempSync(join(tmpdir(), 'bench-sqlite-'));
    const unregister = onInterrupt(async () => rmSync(dir, { recursive: true, force: true }));
    const store = new EmbeddedTimeSeriesStore({ dataDir: dir });
    await store.init();
    const calls: number[] = [];
    let offset = 0;
    try {
      results.push(
        await measure(
          `EmbeddedTimeSeriesStore.write, batches of ${batch}`,
          N,
          async () => {
            // Fresh timestamps each repetition, so every write inserts (no upsert of old points).
            offset += 10_000_000;
            for (let i = 0; i < readings.length; i += batch) {
              const slice = readings.slice(i, i + batch).map((r) => ({ ...r, ts: r.ts - offset }));
              const t0 = performance.now();
              await store.write(slice);
              calls.push(performance.now() - t0);
            }
          },
          `${round(metricsPerReading, 1)} points per reading; on the store's worker thread in the platform`,
        ),
      );
      writeCalls[batch] = calls;
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
      unregister();
    }
  }

  // The platform's default: the store on its worker thread. What write() costs the calling thread
  // is its synchronous part (v8.serialize of the batch, postMessage); the rest runs on the worker.
  {
    const dir = mkdtempSync(join(tmpdir(), 'bench-worker-'));
    const unregister = onInterrupt(async () => rmSync(dir, { recursive: true, force: true }));
    const store = createTimeSeriesStore({ storage: 'embedded', thread: 'worker', dataDir: dir });
    try {
      await store.init();
      const callerUs: number[] = [];
      let offset = 0;
      for (let rep = 0; rep < REPS; rep++) {
        offset += 10_000_000;
        let callerMs = 0;
        for (let i = 0; i < readings.length; i += 20_000) {
          const slice = readings.slice(i, i + 20_000).map((r) => ({ ...r, ts: r.ts - offset }));
          const t0 = performance.now();
          const written = store.write(slice);
          callerMs += performance.now() - t0;
          await written;
        }
        callerUs.push((callerMs * 1000) / N);
      }
      const us = round(median(callerUs), 2);
      results.push({
        stage: "WorkerTimeSeriesStore.write, batches of 20000: the caller thread's part",
        cpuUs: us,
        wallUs: us,
        note: 'v8.serialize + postMessage; wall of the synchronous part = CPU of the caller',
      });
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
      unregister();
    }
  }

  let influxNote = 'skipped';
  if (!args['no-influx'] && influxdAvailable()) {
    const influxd = await startInfluxd();
    const unregister = onInterrupt(() => influxd.stop());
    try {
      const store = new InfluxTimeSeriesStore({ url: influxd.url, database: 'bench_costs' });
      await store.init();
      const pid = childPidsNamed(process.pid, 'influxd')[0];
      const i0 = pid === undefined ? undefined : processCpuSeconds(pid);
      let offset = 0;
      const r = await measure(
        'InfluxTimeSeriesStore.write, batches of 5000 (line protocol + HTTP)',
        N,
        async () => {
          offset += 10_000_000;
          for (let i = 0; i < readings.length; i += 5000) {
            await store.write(readings.slice(i, i + 5000).map((x) => ({ ...x, ts: x.ts - offset })));
          }
        },
      );
      const i1 = pid === undefined ? undefined : processCpuSeconds(pid);
      const influxdUs = i0 !== undefined && i1 !== undefined ? ((i1 - i0) * 1e6) / (N * REPS) : Number.NaN;
      r.note = `influxd used ${round(influxdUs, 1)} µs CPU per reading (all its threads)`;
      influxNote = r.note;
      results.push(r);
      await store.close();
    } finally {
      await influxd.stop();
      unregister();
    }
  }

  console.log(
    '\n' +
      table(
        ['stage', 'CPU µs/reading', 'wall µs/reading', 'max readings/s on one core', 'note'],
        results.map((r) => [
          r.stage,
          r.cpuUs,
          r.wallUs,
          round(1e6 / Math.max(r.cpuUs, r.wallUs)),
          r.note ?? '',
        ]),
      ),
  );
  for (const [batch, calls] of Object.entries(writeCalls)) {
    const d = distribution(calls);
    console.log(
      `EmbeddedTimeSeriesStore.write(${batch} readings) call duration: p50 ${d.p50} ms, p99 ${d.p99} ms, max ${d.max} ms ` +
        `(${d.count} calls) — on the store's worker thread; with IOC_STORE_THREAD=caller the event loop would be blocked this long`,
    );
  }
  if (sink === -1) console.log(sink); // keep the work observable
  console.log(
    JSON.stringify({
      bench: 'ingest-costs',
      machine,
      tree,
      config: { readings: N, reps: REPS, metricsPerReading: round(metricsPerReading, 2) },
      stages: results,
      embeddedWriteCallMs: Object.fromEntries(
        Object.entries(writeCalls).map(([b, c]) => [b, distribution(c)]),
      ),
      influx: influxNote,
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
