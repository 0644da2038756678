import type { IngestStatsView } from './common';

/** One broker node's counters: `t` = when it published them, on performance.now()'s timeline (ms). */
export interface TimedStats {
  t: number;
  s: IngestStatsView;
}

/** One broker node's counters as `GET /api/v1/ingest/stats` lists them in `nodes`. */
export interface NodeStatsView extends IngestStatsView {
  /** `broker-{IOC_BROKER_ID}`. */
  node: string;
  /** When the node published them (its clock, ISO 8601). */
  publishedAt: string;
}

/** The fields of `GET /api/v1/ingest/stats` a benchmark reads: the platform's totals and each node's. */
export interface PlatformStatsView extends IngestStatsView {
  /** Every broker node's own counters (absent from an API before per-node statistics). */
  nodes?: NodeStatsView[];
}

/**
 * The platform's counters as a benchmark needs them, from the API's answer: the sum of the nodes'
 * own counters (sumStats) when it lists them — the API's totals leave out the spool consumers'
 * lags, which the backlog is measured by (common.ts spoolBacklog) — else the answer itself.
 */
export function platformView(body: PlatformStatsView): IngestStatsView {
  return body.nodes && body.nodes.length > 0 ? sumStats(body.nodes) : body;
}

/**
 * Each broker node's series of counters, from the API's `nodes` polled by the benchmark (every
 * 250 ms; each node publishes every 2 s). A snapshot is timestamped with its own `publishedAt`
 * (the broker's clock, the same machine), converted to `performance.now()`'s timeline, so a rate
 * between two snapshots is exact whatever the polling or delivery delay; the same snapshot seen
 * again is not a new sample.
 */
export class NodeSeries {
  private readonly series = new Map<string, TimedStats[]>();

  /** Adds what is new in an API answer's `nodes`. */
  record(nodes: readonly NodeStatsView[] | undefined): void {
    for (const view of nodes ?? []) {
      const published = Date.parse(view.publishedAt);
      if (!Number.isFinite(published)) continue;
      const t = published - performance.timeOrigin;
      let list = this.series.get(view.node);
      if (!list) this.series.set(view.node, (list = []));
      const last = list.at(-1);
      if (last !== undefined && t <= last.t) continue;
      list.push({ t, s: view });
    }
  }

  /** Each node's samples so far, by node name (`broker-1`, `broker-2`, …). */
  nodeSeries(): { node: string; samples: TimedStats[] }[] {
    return [...this.series]
      .sort(([a], [b]) => a.localeCompare(b, 'en', { numeric: true }))
      .map(([node, samples]) => ({ node, samples: [...samples] }));
  }
}

/**
 * The sum of several brokers' counters: totals summed, each spool consumer's lag summed by
 * consumer, flags OR-ed, the alert engines' `evaluated` and `lag` summed (only the lease holder's
 * engine evaluates; the others report zeros).
 */
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
