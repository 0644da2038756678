import type {
  BrokerNodeIngestStatsBody,
  HealthCondition,
  IngestStatsBody,
  IngestStatsMessage,
} from '@ioc/contracts';

/**
 * A node is stale when it has not been heard from for this many of its own publishing intervals
 * (`intervalMs` in its message): three missed messages, as aedes judges a broker by three missed
 * heartbeats.
 */
export const BROKER_NODE_STALE_INTERVALS = 3;
/** …and never sooner than this (ms): a GC pause or a busy event loop delays a message by seconds. */
export const BROKER_NODE_STALE_MIN_MS = 10_000;
/**
 * A node silent this long (ms, 24 h) is forgotten: a retired node's retained statistics stay in
 * Redis, and a day of `broker-node-silent` is long enough for anyone to have seen it. An operator
 * forgets a retired node at once with `DELETE /api/v1/ingest/nodes/{node}` (IngestStatsController).
 */
export const BROKER_NODE_FORGET_MS = 24 * 3_600_000;

/** What an API node keeps of one broker node: its latest message and when it was heard from (ms since epoch). */
export interface BrokerNodeIngestStats {
  stats: IngestStatsMessage;
  heardAt: number;
}

/**
 * When a message was heard from: now for a live message; for a retained one delivered on
 * subscription (MQTT [MQTT-3.3.1-8]) when it was published, if that is earlier — the node may have
 * stopped long ago.
 */
export function heardAt(stats: IngestStatsMessage, retained: boolean, now: number): number {
  const published = Date.parse(stats.publishedAt);
  return retained && Number.isFinite(published) ? Math.min(now, published) : now;
}

function staleAfterMs(stats: IngestStatsMessage): number {
  return Math.max(BROKER_NODE_STALE_MIN_MS, BROKER_NODE_STALE_INTERVALS * stats.intervalMs);
}

/** The nodes not forgotten, by node name, each with `stale` and `ageSeconds`. */
export function brokerNodeViews(
  nodes: Iterable<BrokerNodeIngestStats>,
  now: number,
): BrokerNodeIngestStatsBody[] {
  const views: BrokerNodeIngestStatsBody[] = [];
  for (const { stats, heardAt: heard } of nodes) {
    const age = Math.max(0, now - heard);
    if (age > BROKER_NODE_FORGET_MS) continue;
    // A node that said it stopped (its last message, on a graceful stop) is stale at once.
    const stale = age > staleAfterMs(stats) || stats.stoppedAt !== undefined;
    views.push({ ...stats, stale, ageSeconds: Math.round(age / 100) / 10 });
  }
  return views.sort((a, b) => a.node.localeCompare(b.node, 'en', { numeric: true }));
}

const sumInto = (
  target: Record<string, number>,
  counts: Readonly<Record<string, number | undefined>>,
): void => {
  for (const [key, value] of Object.entries(counts)) {
    if (value !== undefined) target[key] = (target[key] ?? 0) + value;
  }
};

/**
 * The platform-wide statistics of `GET /api/v1/ingest/stats` from every broker node's latest
 * message (see `ingestStatsBody` for what each total is), or null before any node was heard from.
 * A stale node raises `broker-node-silent` (warning) with its node and age.
 */
export function platformIngestStats(
  nodes: Iterable<BrokerNodeIngestStats>,
  now: number,
): IngestStatsBody | null {
  const views = brokerNodeViews(nodes, now);
  if (views.length === 0) return null;
  const accepted: Record<string, number> = {};
  const rejected: Record<string, number> = {};
  const broker: Record<string, number> = {};
  const spool = {
    records: 0,
    bytes: 0,
    maxBytes: 0,
    segments: 0,
    commits: 0,
    committedRecords: 0,
    full: false,
  };
  const storage: IngestStatsBody['storage'] = {
    queued: 0,
    written: 0,
    failedWrites: 0,
    rejected: 0,
    failing: false,
  };
  let connectedClients = 0;
  let offlineSessions: IngestStatsBody['offlineSessions'];
  const healthConditions: HealthCondition[] = [];
  for (const node of views) {
    sumInto(accepted, node.accepted);
    sumInto(rejected, node.rejected);
    sumInto(broker, node.broker);
    for (const key of ['records', 'bytes', 'maxBytes', 'segments', 'commits', 'committedRecords'] as const)
      spool[key] += node.spool[key];
    spool.full ||= node.spool.full;
    for (const key of ['queued', 'written', 'failedWrites', 'rejected'] as const)
      storage[key] += node.storage[key];
    if (node.storage.failing) {
      storage.failing = true;
      if (node.storage.lastError !== undefined && storage.lastError === undefined)
        storage.lastError = `${node.node}: ${node.storage.lastError}`;
    }
    if (!node.stale) connectedClients += node.connectedClients;
    // Nodes on one Redis count the same shared sessions: the largest count, not the sum.
    if (node.offlineSessions && (!offlineSessions || node.offlineSessions.clients > offlineSessions.clients))
      offlineSessions = { ...node.offlineSessions };
    for (const condition of node.healthConditions) healthConditions.push({ ...condition, node: node.node });
    if (node.stoppedAt !== undefined)
      healthConditions.push({
        code: 'broker-node-stopped',
        severity: 'warning',
        node: node.node,
        message: `broker node ${node.node} stopped at ${node.stoppedAt} (a graceful stop); if it is retired for good: DELETE /api/v1/ingest/nodes/${node.node}`,
      });
    else if (node.stale)
      healthConditions.push({
        code: 'broker-node-silent',
        severity: 'warning',
        node: node.node,
        message: `broker node ${node.node} has sent no statistics for ${Math.round(node.ageSeconds)} s: killed, or cut off from the internal bus (if it is retired for good: DELETE /api/v1/ingest/nodes/${node.node})`,
      });
  }
  const sum = (counts: Record<string, number>): number => Object.values(counts).reduce((a, b) => a + b, 0);
  // The evaluating node's engine: the lease holder; on one node, its own.
  const engineNode =
    views.find((node) => node.alertEngine?.lease?.holding === true && !node.stale) ??
    views.find((node) => node.alertEngine !== undefined && node.alertEngine.lease === undefined);
  const singleNodeConsumers = views.length === 1 ? views[0]?.spool.consumers : undefined;
  const earliest = (key: 'startedAt' | 'publishedAt'): string =>
    views.map((node) => node[key]).reduce((a, b) => (Date.parse(b) < Date.parse(a) ? b : a));
  return {
    publishedAt: earliest('publishedAt'),
    startedAt: earliest('startedAt'),
    accepted,
    acceptedTotal: sum(accepted),
    rejected,
    rejectedTotal: sum(rejected),
    // One node: its spool consumers too (several nodes' record numbers cannot be added up).
    spool: singleNodeConsumers ? { ...spool, consumers: singleNodeConsumers } : spool,
    storage,
    connectedClients,
    broker: broker as IngestStatsBody['broker'],
    ...(offlineSessions ? { offlineSessions } : {}),
    ...(engineNode?.alertEngine ? { alertEngine: engineNode.alertEngine } : {}),
    healthConditions,
    nodes: views,
  };
}
