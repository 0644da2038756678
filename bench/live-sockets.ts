/**
 * What live sockets cost an API node: for each socket count, the platform on the embedded store
 * (fresh, on free ports), that many socket.io clients on `/live` (websocket transport, each
 * subscribed to one of the nine seeded districts, round robin, as operators and agencies watching
 * a district would be), and a paced MQTT load. Prints, per socket count: the API's CPU (% of one
 * core and µs per delivered event), its resident memory with no socket and with them (KiB per
 * socket), events delivered per second, and the lag from a reading's `ts` to its arrival at a
 * socket (p50/p99). The clients run in this process, so keep rate × sockets within what one
 * core can receive (the default delivers ≈ 22 000 events/s at 1 000 sockets). See bench/README.md
 * and docs/scaling.md.
 *
 *   node -r ./scripts/register.js bench/live-sockets.ts [--sockets 100,1000] [--rate 200]
 *       [--seconds 20] [--warmup 5] [--devices 304] [--quiet-wait 20]
 */
import { parseArgs } from 'node:util';
import type { Reading } from '@ioc/contracts';
import { loadSeeds } from '@ioc/registry';
import { io, type Socket } from 'socket.io-client';
import { distribution, machineInfo, round, sleep, table, treeState } from './lib/common';
import { Loader } from './lib/loader';
import { buildTemplates } from './lib/payloads';
import { CpuMeter, processCpuSeconds, processRssMiB, waitForQuietMachine } from './lib/proc-cpu';
import { startTarget } from './lib/targets';

const { values: args } = parseArgs({
  options: {
    sockets: { type: 'string', default: '100,1000' },
    rate: { type: 'string', default: '200' },
    seconds: { type: 'string', default: '20' },
    warmup: { type: 'string', default: '5' },
    devices: { type: 'string', default: '304' },
    'quiet-wait': { type: 'string', default: '20' },
  },
});
const socketCounts = args.sockets.split(',').map(Number);
const rate = Number(args.rate);
const seconds = Number(args.seconds);
const warmupSeconds = Number(args.warmup);

interface SocketRun {
  sockets: number;
  apiCpuPercent: number | null;
  apiUsPerEvent: number | null;
  rssIdleMiB: number | null;
  rssWithSocketsMiB: number | null;
  kibPerSocket: number | null;
  eventsPerSecond: number;
  readingsPerSecond: number;
  lagMs: { p50: number; p99: number; max: number };
  machineCpuPercent: number | null;
}

const DISTRICTS = loadSeeds()
  .areas.filter((a) => a.level === 'district')
  .map((a) => a.id);

async function openSocket(
  url: string,
  token: string,
  area: string,
  onReading: (r: Reading) => void,
): Promise<Socket> {
  const socket = io(`${url}/live`, { transports: ['websocket'], reconnection: false, auth: { token } });
  socket.on('reading', onReading);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', reject);
  });
  const ack = (await socket.timeout(10_000).emitWithAck('subscribe', { area })) as { ok: boolean };
  if (!ack.ok) throw new Error(`live subscription to ${area} refused`);
  return socket;
}

async function runOnce(count: number): Promise<SocketRun> {
  const quietWait = Number(args['quiet-wait']);
  if (quietWait > 0) await waitForQuietMachine(quietWait * 1000);
  const target = await startTarget('embedded');
  const sockets: Socket[] = [];
  const loader = new Loader({
    host: '127.0.0.1',
    port: target.mqttPort,
    connections: 4,
    window: 250,
    rate,
    templates: buildTemplates(Number(args.devices)),
    clientIdPrefix: `bench-sockets-${process.pid}`,
  });
  try {
    if (!target.platform || target.httpUrl === undefined) throw new Error('the platform has no API');
    const apiPid = target.pids['api'];
    if (apiPid === undefined) throw new Error('no API process');
    const admin = await target.platform.admin();
    await sleep(2000); // the API's start-up work (seeding, first status) is not the sockets' cost
    const rssIdle = processRssMiB(apiPid) ?? null;
    let events = 0;
    let measuring = false;
    const lags: number[] = [];
    const onReading = (r: Reading): void => {
      if (!measuring) return;
      events++;
      if (events % 10 === 0) lags.push(Date.now() - r.ts);
    };
    for (let i = 0; i < count; i += 50) {
      const batch = Array.from({ length: Math.min(50, count - i) }, (_, k) =>
        openSocket(
          target.httpUrl as string,
          admin.accessToken,
          DISTRICTS[(i + k) % DISTRICTS.length] as string,
          onReading,
        ),
      );
      sockets.push(...(await Promise.all(batch)));
    }
    await loader.connect();
    loader.start();
    await sleep(warmupSeconds * 1000);
    const meter = new CpuMeter({ api: apiPid, self: process.pid });
    meter.mark();
    const api0 = processCpuSeconds(apiPid);
    const acked0 = loader.stats.acked;
    measuring = true;
    const t0 = performance.now();
    await sleep(seconds * 1000);
    measuring = false;
    const elapsed = (performance.now() - t0) / 1000;
    const api1 = processCpuSeconds(apiPid);
    const cpu = meter.measure();
    const rssWith = processRssMiB(apiPid) ?? null;
    const apiCpuSeconds = api0 === undefined || api1 === undefined ? null : api1 - api0;
    const lag = distribution(lags);
    return {
      sockets: count,
      apiCpuPercent: cpu['api'] ?? null,
      apiUsPerEvent: apiCpuSeconds === null || events === 0 ? null : round((apiCpuSeconds * 1e6) / events, 2),
      rssIdleMiB: rssIdle === null ? null : round(rssIdle, 1),
      rssWithSocketsMiB: rssWith === null ? null : round(rssWith, 1),
      kibPerSocket:
        rssIdle === null || rssWith === null ? null : round(((rssWith - rssIdle) * 1024) / count, 1),
      eventsPerSecond: round(events / elapsed),
      readingsPerSecond: round((loader.stats.acked - acked0) / elapsed),
      lagMs: { p50: lag.p50, p99: lag.p99, max: lag.max },
      machineCpuPercent: cpu['machine'] ?? null,
    };
  } finally {
    await loader.stop().catch(() => undefined);
    for (const socket of sockets) socket.disconnect();
    await target.stop();
  }
}

async function main(): Promise<void> {
  const machine = machineInfo();
  const tree = treeState();
  console.log(
    `live-sockets: ${socketCounts.join(', ')} sockets on one API node, each subscribed to one of ${DISTRICTS.length} districts; ${rate} readings/s offered; ${seconds} s measured after ${warmupSeconds} s\n` +
      `machine: ${machine.nproc} CPU (${machine.cpuModel}), ${machine.memory}, Node ${machine.node}\n` +
      `code: ${tree.commit}${tree.modified.length ? ` + uncommitted: ${tree.modified.join(', ')}` : ' (clean)'}`,
  );
  const runs: SocketRun[] = [];
  for (const count of socketCounts) {
    const run = await runOnce(count);
    runs.push(run);
    console.log(
      `${count} sockets: API ${run.apiCpuPercent} % of a core, ${run.apiUsPerEvent} µs per event; ${run.eventsPerSecond} events/s for ${run.readingsPerSecond} readings/s; lag p99 ${run.lagMs.p99} ms; RSS ${run.rssIdleMiB} → ${run.rssWithSocketsMiB} MiB`,
    );
  }
  console.log(
    '\n' +
      table(
        [
          'sockets',
          'readings/s',
          'events/s',
          'API CPU %',
          'API µs/event',
          'API RSS MiB (none → with)',
          'KiB/socket',
          'lag p50/p99 ms',
          'machine %',
        ],
        runs.map((r) => [
          r.sockets,
          r.readingsPerSecond,
          r.eventsPerSecond,
          r.apiCpuPercent ?? '–',
          r.apiUsPerEvent ?? '–',
          `${r.rssIdleMiB ?? '–'} → ${r.rssWithSocketsMiB ?? '–'}`,
          r.kibPerSocket ?? '–',
          `${r.lagMs.p50} / ${r.lagMs.p99}`,
          r.machineCpuPercent ?? '–',
        ]),
      ),
  );
  console.log(
    JSON.stringify({
      bench: 'live-sockets',
      machine,
      tree,
      config: { socketCounts, rate, seconds, warmupSeconds },
      runs,
    }),
  );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
