import { InternalBusClient, serviceClientId } from '@ioc/bus';
import type { IngestStatsMessage } from '@ioc/contracts';
import { createLogger } from '@ioc/runtime';
import type { IngestStatsView } from './common';
import { sleep } from './common';

/** One node's counters: `t` = when it took them, on performance.now()'s timeline (ms). */
export interface TimedStats {
  t: number;
  s: IngestStatsView;
}

let instances = 0;

/**
 * Every broker node's ingest counters, for a platform of several broker nodes on Redis. Each node
 * publishes its own on `$internal/ioc/v1/ingest-stats` every 2 s (retained), tagged with `node`
 * (`broker-{IOC_BROKER_ID}`); with the bus on Redis each message reaches every subscriber, so one
 * internal-bus connection to any node sees them all. The API's `/api/v1/ingest/stats` cannot be
 * used: it keeps the latest message, one node's counters at a time.
 *
 * Series are timestamped with the snapshot's own time (`at`, the broker's clock, converted to
 * `performance.now()`'s timeline; at receipt for a broker that does not send it), so a rate over a
 * window is computed per node (each node's first and last snapshot inside it) and the rates summed.
 */
export class NodeStatsCollector {
  private readonly latest = new Map<string, IngestStatsView>();
  private readonly series = new Map<string, TimedStats[]>();
  private readonly client: InternalBusClient;

  /**
   * @param brokerUrl any node, e.g. `mqtt://127.0.0.1:1883`
   * @param secret the platform's IOC_INTERNAL_SECRET (the internal login)
   * @param nodes the node names expected (`broker-1`, `broker-2`, …)
   */
  constructor(
    brokerUrl: string,
    secret: string,
    readonly nodes: readonly string[],
  ) {
    instances += 1;
    this.client = InternalBusClient.connect(
      {
        brokerUrl,
        secret,
        clientId: serviceClientId('bench', `${process.pid}-${instances}`),
        logger: createLogger('bench-node-stats', { level: 'warn' }),
      },
      { ingestStats: (stats) => this.receive(stats) },
    );
  }

  private receive(stats: IngestStatsMessage): void {
    // A node without `node` is a single-node broker (or one from before scale-out): not ours.
    if (stats.node === undefined || !this.nodes.includes(stats.node)) return;
    const view = stats as unknown as IngestStatsView;
    // On the broker's clock when it says when it took the snapshot (same machine), so rates are
    // exact even when messages arrive bunched (a busy event loop, Redis pub/sub under load).
    const t = stats.at === undefined ? performance.now() : stats.at - performance.timeOrigin;
    let list = this.series.get(stats.node);
    if (!list) this.series.set(stats.node, (list = []));
    // A retained copy delivered again (after a reconnection) is not a new sample.
    const last = list.at(-1);
    if (last !== undefined && t <= last.t) return;
    this.latest.set(stats.node, view);
    list.push({ t, s: view });
  }

  /** Resolves once every node has published its counters; fails after `timeoutMs`. */
  async waitForAll(timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.nodes.some((n) => !this.latest.has(n))) {
      if (Date.now() > deadline)
        throw new Error(
          `ingest stats of ${this.nodes.filter((n) => !this.latest.has(n)).join(', ')} not received within ${timeoutMs} ms`,
        );
      await sleep(100);
    }
  }

  /** Each node's series of counters since the collector connected, in `nodes` order. */
  nodeSeries(): { node: string; samples: TimedStats[] }[] {
    return this.nodes.map((node) => ({ node, samples: [...(this.series.get(node) ?? [])] }));
  }

  /**
   * The platform's counters: every node's latest, summed (spool consumers' lags by consumer,
   * flags OR-ed); undefined until every node has published once.
   */
  aggregate(): IngestStatsView | undefined {
    const views = this.nodes.map((n) => this.latest.get(n));
    if (views.some((v) => v === undefined)) return undefined;
    return sumStats(views as IngestStatsView[]);
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}

/** The sum of several brokers' counters (see NodeStatsCollector.aggregate). */
export function sumStats(views: readonly IngestStatsView[]): IngestStatsView {
  const total = (pick: (v: IngestStatsView) => number): number => views.reduce((a, v) => a + pick(v), 0);
  const rejected: Record<string, number> = {};
  const consumers = new Map<string, number>();
  for (const v of views) {
    for (const [reason, n] of Object.entries(v.rejected)) rejected[reason] = (rejected[reason] ?? 0) + n;
    for (const c of v.spool.consumers ?? [])
      consumers.set(c.consumer, (consumers.get(c.consumer) ?? 0) + c.lag);
  }
  const engines = views.map((v) => v.alertEngine).filter((e) => e !== undefined);
  return {
    acceptedTotal: total((v) => v.acceptedTotal),
    rejectedTotal: total((v) => v.rejectedTotal),
    rejected,
    spool: {
      records: total((v) => v.spool.records),
      bytes: total((v) => v.spool.bytes),
      maxBytes: total((v) => v.spool.maxBytes),
      commits: total((v) => v.spool.commits),
      committedRecords: total((v) => v.spool.committedRecords),
      full: views.some((v) => v.spool.full),
      ...(consumers.size > 0
        ? { consumers: [...consumers].map(([consumer, lag]) => ({ consumer, lag })) }
        : {}),
    },
    storage: {
      queued: total((v) => v.storage.queued),
      written: total((v) => v.storage.written),
      failedWrites: total((v) => v.storage.failedWrites),
      rejected: total((v) => v.storage.rejected),
      failing: views.some((v) => v.storage.failing),
    },
    ...(engines.length > 0
      ? {
          alertEngine: {
            evaluated: engines.reduce((a, e) => a + e.evaluated, 0),
            lag: engines.reduce((a, e) => a + e.lag, 0),
          },
        }
      : {}),
    connectedClients: total((v) => v.connectedClients ?? 0),
    healthConditions: views.flatMap((v) => v.healthConditions),
  };
}
