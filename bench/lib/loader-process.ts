/**
 * The load generator as its own process, so publishing never competes with the benchmark's
 * bookkeeping (stats polling, the bare broker's subscriber) for one event loop. Driven over IPC
 * by bench/lib/loader-client.ts:
 *
 *   → { cmd: 'run', config }         connect, then publish: warm-up, measured window, drain
 *   ← { ev: 'connected' }
 *   ← { ev: 'window-start', … }      marks the start of the measured window
 *   ← { ev: 'window-end', … }        acked in the window, the loader's own CPU use
 *   ← { ev: 'done', … }              after the drain and disconnect
 */
import { Simulator, selectDevices } from '@ioc/devices-sim';
import { benchDeviceSecret } from './bench-credentials';
import { loadSeeds } from '@ioc/registry';
import { Loader, type LoaderStats } from './loader';
import { buildTemplates } from './payloads';

export interface LoaderRunConfig {
  host: string;
  port: number;
  /** Lean generator only: broker nodes' ports, connection i to `ports[i % n]` (LoaderOptions.ports). */
  ports?: number[];
  connections: number;
  window: number;
  rate?: number;
  devices: number;
  clientIdPrefix: string;
  warmupMs: number;
  windowMs: number;
  /**
   * `lean` (default): the raw-MQTT loader of ./loader.ts. `simulator`: the devices-sim library
   * itself (shared-connection mode, QoS 1, its own pacing and model evaluation per message), to
   * show what it can offer; `rate` is then required and `window` × `connections` is its
   * maxInFlight.
   */
  generator?: 'lean' | 'simulator';
  /**
   * Lean generator only: one connection per device (`connections` is then ignored), logging in
   * with the device's benchmark credentials (`credentials`: username = device id, password =
   * benchDeviceSecret) or without any (`anonymous`) — the auth-on / auth-off variants.
   */
  perDeviceLogin?: 'credentials' | 'anonymous';
  /** Lean generator only: seeded devices left out of the load (a probe publishes as them). */
  excludeDeviceIds?: string[];
  /**
   * Lean generator only: the seeds directory whose devices.json is the fleet published as (the
   * platform's IOC_SEEDS_DIR); default the repository's seeds/.
   */
  seedsDir?: string;
  /** Lean generator only: message shapes pre-built per device (default 8; fewer for large fleets). */
  variantsPerDevice?: number;
  /** When set, a `stats` event (the generator's running totals) every this many ms. */
  statsEveryMs?: number;
}

/** The two generators behind one face. */
interface Generator {
  connect(): Promise<void>;
  start(): void;
  stop(drainTimeoutMs: number): Promise<void>;
  close(): Promise<void>;
  readonly stats: LoaderStats;
}

function simulatorGenerator(config: LoaderRunConfig): Generator {
  if (config.rate === undefined) throw new Error('the simulator generator needs --rates');
  if (config.ports && config.ports.length > 1)
    throw new Error(
      'the simulator generator connects to one port: use the lean generator for several broker nodes',
    );
  const seeds = loadSeeds();
  const simulator = new Simulator({
    brokerUrl: `mqtt://${config.host}:${config.port}`,
    devices: selectDevices(seeds.devices, config.devices),
    fleet: seeds.devices,
    ratePerSecond: config.rate,
    qos: 1,
    clientMode: 'shared',
    sharedConnections: config.connections,
    maxInFlight: config.window * config.connections,
    clientIdPrefix: config.clientIdPrefix,
  });
  let metrics = 0;
  simulator.on('publish', (message) => (metrics += Object.keys(message.body.metrics).length));
  const stats: LoaderStats = {
    sent: 0,
    acked: 0,
    ackedMetrics: 0,
    skipped: 0,
    inFlight: 0,
    closedByBroker: 0,
  };
  const refresh = (): LoaderStats => {
    const s = simulator.stats();
    stats.sent = s.published;
    stats.acked = s.acked;
    stats.skipped = s.skipped;
    stats.inFlight = s.published - s.acked - s.publishFailures;
    stats.ackedMetrics = metrics;
    return stats;
  };
  let started = false;
  return {
    // start() connects and starts publishing at once; "connect" is therefore also "start".
    async connect() {
      await simulator.start();
      started = true;
    },
    start: () => undefined,
    async stop() {
      if (started) await simulator.stop();
    },
    close: async () => undefined,
    get stats() {
      return refresh();
    },
  };
}

export type LoaderEvent =
  | { ev: 'connected' }
  | { ev: 'window-start'; acked: number; sent: number; skipped: number }
  | {
      ev: 'window-end';
      acked: number;
      sent: number;
      skipped: number;
      elapsedMs: number;
      /** Percent of one core the loader used during the window. */
      cpuPercent: number;
      /** Fraction of the window the loader's event loop was busy (0–1). */
      eventLoopUtilization: number;
      /** PUBACKs counted in each second of the window. */
      perSecond: number[];
    }
  | { ev: 'stats'; stats: LoaderStats }
  | { ev: 'done'; stats: LoaderStats }
  | { ev: 'error'; message: string };

const send = (event: LoaderEvent): void => {
  process.send?.(event);
};

async function run(config: LoaderRunConfig): Promise<void> {
  const loader: Generator =
    config.generator === 'simulator'
      ? simulatorGenerator(config)
      : new Loader({
          host: config.host,
          port: config.port,
          ...(config.ports ? { ports: config.ports } : {}),
          connections: config.perDeviceLogin ? config.devices : config.connections,
          window: config.window,
          ...(config.rate === undefined ? {} : { rate: config.rate }),
          templates: buildTemplates(
            config.devices,
            config.variantsPerDevice,
            undefined,
            config.excludeDeviceIds,
            config.seedsDir,
          ),
          clientIdPrefix: config.clientIdPrefix,
          ...(config.perDeviceLogin === 'credentials'
            ? { login: (device) => ({ username: device.id, password: benchDeviceSecret(device.id) }) }
            : {}),
        });
  await loader.connect();
  send({ ev: 'connected' });
  loader.start();
  const statsTimer =
    config.statsEveryMs === undefined
      ? undefined
      : setInterval(() => send({ ev: 'stats', stats: { ...loader.stats } }), config.statsEveryMs);
  await new Promise((r) => setTimeout(r, config.warmupMs));
  const start = { ...loader.stats };
  const startAt = performance.now();
  const cpu0 = process.cpuUsage();
  const elu0 = performance.eventLoopUtilization();
  send({ ev: 'window-start', acked: start.acked, sent: start.sent, skipped: start.skipped });
  const perSecond: number[] = [];
  let lastAcked = start.acked;
  const seconds = setInterval(() => {
    perSecond.push(loader.stats.acked - lastAcked);
    lastAcked = loader.stats.acked;
  }, 1000);
  await new Promise((r) => setTimeout(r, config.windowMs));
  clearInterval(seconds);
  const end = { ...loader.stats };
  const elapsedMs = performance.now() - startAt;
  const cpu = process.cpuUsage(cpu0);
  const elu = performance.eventLoopUtilization(elu0);
  send({
    ev: 'window-end',
    acked: end.acked - start.acked,
    sent: end.sent - start.sent,
    skipped: end.skipped - start.skipped,
    elapsedMs,
    cpuPercent: Math.round(((cpu.user + cpu.system) / 1000 / elapsedMs) * 1000) / 10,
    eventLoopUtilization: Math.round(elu.utilization * 1000) / 1000,
    perSecond,
  });
  if (statsTimer) clearInterval(statsTimer);
  await loader.stop(15_000);
  await loader.close();
  send({ ev: 'done', stats: { ...loader.stats } });
}

process.on('message', (message: { cmd: string; config?: LoaderRunConfig }) => {
  if (message.cmd === 'run' && message.config) {
    run(message.config).catch((error: unknown) => {
      send({ ev: 'error', message: error instanceof Error ? error.message : String(error) });
    });
  } else if (message.cmd === 'exit') {
    process.exit(0);
  }
});
process.on('disconnect', () => process.exit(0));
