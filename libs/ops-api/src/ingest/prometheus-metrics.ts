import type { BrokerNodeIngestStatsBody, IngestStatsBody } from '@ioc/contracts';

type Sample = [labels: Record<string, string>, value: number];
type MetricFn = (name: string, type: 'counter' | 'gauge', help: string, samples: Sample[]) => void;

/**
 * Prometheus text exposition (version 0.0.4) of the ingest counters and gauges: every broker
 * node's series carry the label `broker` (its node name, `broker-<IOC_BROKER_ID>`), so several
 * nodes never overwrite each other; `ioc_broker_stats_age_seconds` says how fresh each node's are.
 * Every API node exposes every broker node's series: aggregate with `max by (broker, …)` before
 * summing over nodes (see deploy/helm/ioc-platform/dashboards/ingest-health.json).
 */
export function renderPrometheus(
  platform: IngestStatsBody | null,
  apiUp: {
    brokerConnected: boolean;
    /** The registry database's probe (DatabaseProbe); undefined: no `ioc_api_database_up` line. */
    databaseUp?: boolean;
    /** The broker refuses this node's internal login (InternalBusClient.refused); undefined: no. */
    brokerRefused?: string;
  },
): string {
  const families = new Map<string, { type: 'counter' | 'gauge'; help: string; samples: Sample[] }>();
  const labelled =
    (base: Record<string, string>): MetricFn =>
    (name, type, help, samples) => {
      let family = families.get(name);
      if (!family) families.set(name, (family = { type, help, samples: [] }));
      for (const [labels, value] of samples) family.samples.push([{ ...base, ...labels }, value]);
    };
  const metric = labelled({});
  metric('ioc_api_broker_connected', 'gauge', 'Whether the API is connected to the broker', [
    [{}, apiUp.brokerConnected ? 1 : 0],
  ]);
  metric(
    'ioc_api_broker_login_refused',
    'gauge',
    'Whether the broker refuses this API node’s internal login (1: IOC_INTERNAL_SECRET differs from the broker’s; /health reports broker.refused)',
    [[{}, apiUp.brokerRefused === undefined ? 0 : 1]],
  );
  if (apiUp.databaseUp !== undefined)
    metric(
      'ioc_api_database_up',
      'gauge',
      'Whether the registry database answers this API node (its SELECT 1 probe, every 2 s); 0 while /health reports database-unavailable',
      [[{}, apiUp.databaseUp ? 1 : 0]],
    );
  for (const stats of platform?.nodes ?? []) renderNode(stats, labelled({ broker: stats.node }));
  if (platform) {
    metric(
      'ioc_health_condition',
      'gauge',
      'Health conditions of the platform currently raised (1 per condition and broker node): spool filling or full, store unavailable, spool consumer stalled, broker node silent or stopped, node id taken',
      platform.healthConditions.map(
        (c) => [{ code: c.code, severity: c.severity, ...(c.node ? { broker: c.node } : {}) }, 1] as Sample,
      ),
    );
  }
  const lines: string[] = [];
  for (const [name, family] of families) {
    lines.push(`# HELP ${name} ${family.help}`, `# TYPE ${name} ${family.type}`);
    for (const [labels, value] of family.samples) {
      const text = Object.entries(labels)
        .map(([k, v]) => `${k}="${v.replace(/["\\\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`))}"`)
        .join(',');
      lines.push(`${name}${text ? `{${text}}` : ''} ${value}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

/**
 * One broker node's series (labelled with its node by `metric`). A stale node (silent for 3 of its
 * intervals, or stopped) gets only `ioc_broker_stats_age_seconds` and `ioc_broker_stats_stale`, so
 * its staleness stays visible and alertable; its other series are left out:
 * - gauges (connected clients, spool depth, store queue…) would be exported as if current while
 *   they describe the moment the node fell silent;
 * - counters too: a frozen counter reads as a live node doing nothing (`rate()` 0), an absent one
 *   as a series that ended, which is what it is — and when the node comes back its counters
 *   restart from 0, which Prometheus takes as a counter reset either way.
 * `GET /api/v1/ingest/stats` still adds a stale node's counters into its platform totals.
 */
function renderNode(stats: BrokerNodeIngestStatsBody, metric: MetricFn): void {
  metric(
    'ioc_broker_stats_age_seconds',
    'gauge',
    'Seconds since this API node last heard the broker node’s statistics (published every 2 s; stale after 10 s: broker-node-silent)',
    [[{}, stats.ageSeconds]],
  );
  metric(
    'ioc_broker_stats_stale',
    'gauge',
    'Whether the broker node’s statistics are stale (1: silent for 3 of its intervals, or stopped; its other series are then left out)',
    [[{}, stats.stale ? 1 : 0]],
  );
  if (stats.stale) return;
  metric(
    'ioc_ingest_accepted_total',
    'counter',
    'Readings accepted, by domain',
    entries(stats.accepted, 'domain'),
  );
  metric(
    'ioc_ingest_rejected_total',
    'counter',
    'Messages, or parts of messages (a metric, a batch element, a SenML record), rejected, by reason',
    entries(stats.rejected, 'reason'),
  );
  metric('ioc_spool_records', 'gauge', 'Acknowledged readings waiting in the durable spool for the store', [
    [{}, stats.spool.records],
  ]);
  metric('ioc_spool_bytes', 'gauge', 'Bytes in the durable spool', [[{}, stats.spool.bytes]]);
  metric('ioc_spool_max_bytes', 'gauge', 'Bound of the durable spool', [[{}, stats.spool.maxBytes]]);
  metric('ioc_spool_commits_total', 'counter', 'Group commits (write + fdatasync) of the spool', [
    [{}, stats.spool.commits],
  ]);
  const engine = stats.alertEngine;
  if (engine) {
    const counter = (name: string, help: string, value: number): void =>
      metric(name, 'counter', help, [[{}, value]]);
    counter('ioc_alert_engine_evaluated_total', 'Spool records the alert engine evaluated', engine.evaluated);
    counter(
      'ioc_alert_engine_warm_up_total',
      'Spool records replayed in warm-up after a restart (state only, evaluated before the restart)',
      engine.warmUp,
    );
    counter('ioc_alert_engine_changes_total', 'Alert transitions the engine committed', engine.changes);
    counter('ioc_alert_engine_commits_total', 'Transactions the alert engine committed', engine.commits);
    counter(
      'ioc_alert_engine_commit_failures_total',
      'Alert engine commits that failed (retried with backoff; its records stay in the spool)',
      engine.commitFailures,
    );
    counter(
      'ioc_alert_engine_out_of_order_total',
      'Readings the alert engine ignored as older than the device’s newest evaluated reading of the metric (e.g. a simulator scenario beside a live feed of the same devices)',
      engine.outOfOrder,
    );
    counter(
      'ioc_aqi_closed_hour_readings_total',
      'Air-quality readings that came for an hour whose VN_AQI was already closed (never reach an hourly AQI)',
      engine.aqiClosedHourReadings,
    );
    counter(
      'ioc_aqi_hours_emitted_total',
      'Hourly VN_AQI readings derived and appended to the spool',
      engine.aqiHoursEmitted,
    );
    metric(
      'ioc_alert_engine_lag',
      'gauge',
      'Spool records received by the alert engine and not yet evaluated',
      [[{}, engine.lag]],
    );
    if (engine.lease) {
      metric(
        'ioc_alert_engine_lease_holding',
        'gauge',
        'Several broker nodes: 1 on the node holding the alert engine lease (the one evaluating), 0 on a standby',
        [[{ holder: engine.lease.holder }, engine.lease.holding ? 1 : 0]],
      );
      if (engine.lease.token !== null) {
        metric(
          'ioc_alert_engine_lease_token',
          'gauge',
          'Fencing token of the lease term this node holds (or last held): +1 on every takeover',
          [[{}, engine.lease.token]],
        );
      }
      counter(
        'ioc_alert_engine_lease_lost_total',
        'Lease terms this node lost or gave up',
        engine.lease.lost,
      );
    }
    if (engine.stream) {
      counter(
        'ioc_alert_stream_forwarded_total',
        'Readings this node forwarded to the Redis stream ioc:alerts:readings (released from its spool once Redis acknowledged)',
        engine.stream.forward.forwarded,
      );
      counter(
        'ioc_alert_stream_forward_failures_total',
        'Failed forwards to the Redis stream (Redis down: retried, the records held in the spool)',
        engine.stream.forward.failures,
      );
      if (engine.stream.input) {
        metric(
          'ioc_alert_stream_lag',
          'gauge',
          'Lease holder: readings in the Redis stream the alert engine has not received yet',
          [[{}, engine.stream.input.lag]],
        );
      }
    }
    if (engine.lastCommitMs !== null) {
      metric('ioc_alert_engine_last_commit_ms', 'gauge', 'Duration of the alert engine’s last commit, ms', [
        [{}, engine.lastCommitMs],
      ]);
    }
  }
  const consumers = stats.spool.consumers ?? [];
  if (consumers.length > 0) {
    metric(
      'ioc_spool_consumer_lag',
      'gauge',
      'Records appended to the durable spool and not yet released by this consumer (store writer, alert engine…); the spool keeps a record until every consumer released it',
      consumers.map((c) => [{ consumer: c.consumer }, c.lag] as Sample),
    );
    metric(
      'ioc_spool_consumer_released_total',
      'counter',
      'Spool records released by this consumer since the broker started',
      consumers.map((c) => [{ consumer: c.consumer }, c.released] as Sample),
    );
    metric(
      'ioc_spool_consumer_oldest_held',
      'gauge',
      'Lowest spool record number this consumer still holds (absent when it holds none): one that stops moving while the lag grows is a stalled consumer',
      consumers.flatMap((c) =>
        c.oldestHeld === null ? [] : [[{ consumer: c.consumer }, c.oldestHeld] as Sample],
      ),
    );
  }
  metric('ioc_store_written_total', 'counter', 'Readings written to the time-series store', [
    [{}, stats.storage.written],
  ]);
  metric('ioc_store_failed_writes_total', 'counter', 'Failed (retried) store writes', [
    [{}, stats.storage.failedWrites],
  ]);
  metric('ioc_store_queue', 'gauge', 'Readings queued for the store', [[{}, stats.storage.queued]]);
  metric('ioc_broker_connected_clients', 'gauge', 'MQTT clients connected to the broker', [
    [{}, stats.connectedClients],
  ]);
  metric(
    'ioc_broker_refusals_total',
    'counter',
    'Refusals and suppressions of the broker outside message validation, by event (reserved or empty client ids, takeovers, oversized packets, QoS 2 duplicates, error answers, blocked deliveries, device logins refused by reason, throttled logins, client ids bound to another device, refused subscriptions, sessions closed on revocation, agency logins and publishes refused, agency sessions closed)',
    entries(stats.broker, 'event'),
  );
  if (stats.offlineSessions) {
    metric(
      'ioc_broker_offline_sessions',
      'gauge',
      'Sessions the broker keeps for absent clients (clean=false)',
      [[{}, stats.offlineSessions.clients]],
    );
  }
}

function entries(counts: Record<string, number>, label: string): Sample[] {
  return Object.entries(counts).map(([key, value]) => [{ [label]: key }, value]);
}
