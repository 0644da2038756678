import type { IngestStatsMessage } from '@ioc/contracts';
import { ingestStatsMessage } from '@ioc/testing';
import { platformIngestStats } from './platform-ingest-stats';
import { renderPrometheus as renderPlatform } from './prometheus-metrics';

const NOW = Date.parse('2026-11-30T06:10:00.000Z');
/** renderPrometheus of the platform made of these nodes' messages, each heard `ageMs` ago (0). */
const renderPrometheus = (
  nodes: IngestStatsMessage | IngestStatsMessage[],
  apiUp: Parameters<typeof renderPlatform>[1],
  ageMs = 0,
): string =>
  renderPlatform(
    platformIngestStats(
      [nodes].flat().map((stats) => ({ stats, heardAt: NOW - ageMs })),
      NOW,
    ),
    apiUp,
  );

const stats = (
  consumers?: NonNullable<IngestStatsMessage['spool']['consumers']>,
  node = 'broker-1',
): IngestStatsMessage => {
  const base = ingestStatsMessage({ node, publishedAt: new Date(NOW).toISOString() });
  return consumers ? { ...base, spool: { ...base.spool, consumers } } : base;
};

describe('renderPrometheus: spool consumers', () => {
  it('exposes each consumer’s lag, releases and oldest held record', () => {
    const text = renderPrometheus(
      stats([
        { consumer: 'store', released: 3, oldestHeld: null, lag: 0 },
        { consumer: 'alerts', released: 1, oldestHeld: 1, lag: 2 },
      ]),
      { brokerConnected: true },
    );
    const lines = text.split('\n');
    expect(lines).toContain('ioc_spool_consumer_lag{broker="broker-1",consumer="store"} 0');
    expect(lines).toContain('ioc_spool_consumer_lag{broker="broker-1",consumer="alerts"} 2');
    expect(lines).toContain('ioc_spool_consumer_released_total{broker="broker-1",consumer="alerts"} 1');
    expect(lines).toContain('ioc_spool_consumer_oldest_held{broker="broker-1",consumer="alerts"} 1');
    // A consumer holding nothing has no oldest record.
    expect(lines.filter((l) => l.startsWith('ioc_spool_consumer_oldest_held{'))).toHaveLength(1);
    expect(lines).toContain('# TYPE ioc_spool_consumer_lag gauge');
  });

  it('leaves the consumer metrics out for a broker that does not report consumers', () => {
    expect(renderPrometheus(stats(), { brokerConnected: true })).not.toContain('ioc_spool_consumer');
  });
});

describe('renderPrometheus: the alert engine', () => {
  it('exposes the engine host’s counters when the broker runs one, and nothing of it otherwise', () => {
    const alertEngine = {
      evaluated: 120,
      warmUp: 7,
      skipped: 3,
      changes: 4,
      commits: 5,
      commitFailures: 1,
      lag: 2,
      lastCommitMs: 6,
      aqiHoursEmitted: 9,
      outOfOrder: 11,
      aqiClosedHourReadings: 12,
      derivedFailures: 0,
      position: 129,
      snapshotPosition: 100,
    };
    const lines = renderPrometheus({ ...stats(), alertEngine }, { brokerConnected: true }).split('\n');
    expect(lines).toContain('ioc_alert_engine_evaluated_total{broker="broker-1"} 120');
    expect(lines).toContain('ioc_alert_engine_warm_up_total{broker="broker-1"} 7');
    expect(lines).toContain('ioc_alert_engine_changes_total{broker="broker-1"} 4');
    expect(lines).toContain('ioc_alert_engine_commit_failures_total{broker="broker-1"} 1');
    expect(lines).toContain('ioc_aqi_hours_emitted_total{broker="broker-1"} 9');
    expect(lines).toContain('ioc_alert_engine_out_of_order_total{broker="broker-1"} 11');
    expect(lines).toContain('ioc_aqi_closed_hour_readings_total{broker="broker-1"} 12');
    expect(lines).toContain('ioc_alert_engine_lag{broker="broker-1"} 2');
    expect(lines).toContain('ioc_alert_engine_last_commit_ms{broker="broker-1"} 6');
    const without = renderPrometheus(stats(), { brokerConnected: true });
    expect(without).not.toContain('ioc_alert_engine');
    expect(lines.join('\n')).not.toContain('ioc_alert_stream');
  });

  it('with several broker nodes: which node holds the lease, its token, the stream forwarded and its lag', () => {
    const alertEngine = {
      evaluated: 0,
      warmUp: 0,
      skipped: 0,
      changes: 0,
      commits: 0,
      commitFailures: 0,
      lag: 0,
      lastCommitMs: null,
      aqiHoursEmitted: 0,
      outOfOrder: 0,
      aqiClosedHourReadings: 0,
      derivedFailures: 0,
      position: -1,
      snapshotPosition: -1,
      lease: { holding: true, holder: 'broker-2:ab12cd34', token: 7, acquired: 2, lost: 1 },
      stream: {
        forward: { forwarded: 300, entries: 12, duplicates: 1, failures: 4, queued: 0 },
        input: { readPosition: 950, streamPosition: 1000, lag: 50, received: 900, gaps: 0, failures: 0 },
      },
    };
    const lines = renderPrometheus({ ...stats(), alertEngine }, { brokerConnected: true }).split('\n');
    expect(lines).toContain('ioc_alert_engine_lease_holding{broker="broker-1",holder="broker-2:ab12cd34"} 1');
    expect(lines).toContain('ioc_alert_engine_lease_token{broker="broker-1"} 7');
    expect(lines).toContain('ioc_alert_engine_lease_lost_total{broker="broker-1"} 1');
    expect(lines).toContain('ioc_alert_stream_forwarded_total{broker="broker-1"} 300');
    expect(lines).toContain('ioc_alert_stream_forward_failures_total{broker="broker-1"} 4');
    expect(lines).toContain('ioc_alert_stream_lag{broker="broker-1"} 50');
    // A standby: not holding, no stream input (no lag line).
    const standby = renderPrometheus(
      {
        ...stats(),
        alertEngine: {
          ...alertEngine,
          lease: { ...alertEngine.lease, holding: false },
          stream: { forward: alertEngine.stream.forward },
        },
      },
      { brokerConnected: true },
    ).split('\n');
    expect(standby).toContain(
      'ioc_alert_engine_lease_holding{broker="broker-1",holder="broker-2:ab12cd34"} 0',
    );
    expect(standby.join('\n')).not.toContain('ioc_alert_stream_lag');
  });
});

describe('renderPrometheus: several broker nodes', () => {
  it('exposes each node’s series under its own broker label, none overwriting another', () => {
    const two = { ...stats(undefined, 'broker-2'), accepted: { env: 5, traffic: 2 }, acceptedTotal: 7 };
    const lines = renderPrometheus([stats(), two], { brokerConnected: true }).split('\n');
    expect(lines).toContain('ioc_ingest_accepted_total{broker="broker-1",domain="env"} 3');
    expect(lines).toContain('ioc_ingest_accepted_total{broker="broker-2",domain="env"} 5');
    expect(lines).toContain('ioc_ingest_accepted_total{broker="broker-2",domain="traffic"} 2');
    expect(lines).toContain('ioc_broker_stats_age_seconds{broker="broker-2"} 0');
    // One HELP and TYPE per metric family, whatever the number of nodes.
    expect(lines.filter((l) => l === '# TYPE ioc_ingest_accepted_total counter')).toHaveLength(1);
    expect(lines.filter((l) => l.startsWith('ioc_spool_records{'))).toEqual([
      'ioc_spool_records{broker="broker-1"} 3',
      'ioc_spool_records{broker="broker-2"} 3',
    ]);
  });

  it('raises broker-node-silent for a node not heard from for three intervals', () => {
    const text = renderPrometheus(stats(), { brokerConnected: true }, 12_000);
    expect(text.split('\n')).toContain(
      'ioc_health_condition{code="broker-node-silent",severity="warning",broker="broker-1"} 1',
    );
    expect(text.split('\n')).toContain('ioc_broker_stats_age_seconds{broker="broker-1"} 12');
    expect(renderPrometheus(stats(), { brokerConnected: true }, 5_000)).not.toContain(
      'ioc_health_condition{code="broker-node-silent"',
    );
  });

  it('leaves out a stale node’s gauges and counters, keeping its age, its staleness and its condition', () => {
    const live = stats([{ consumer: 'store', released: 3, oldestHeld: null, lag: 0 }], 'broker-1');
    const silent = {
      ...stats([{ consumer: 'store', released: 9, oldestHeld: 4, lag: 5 }], 'broker-2'),
      // Heard 60 s ago: stale (3 intervals of 2 s, at least 10 s).
      publishedAt: new Date(NOW - 60_000).toISOString(),
      offlineSessions: { clients: 2, subscriptions: 2 },
    };
    const text = renderPlatform(
      platformIngestStats(
        [
          { stats: live, heardAt: NOW },
          { stats: silent, heardAt: NOW - 60_000 },
        ],
        NOW,
      ),
      { brokerConnected: true },
    );
    const lines = text.split('\n');
    const ofSilent = lines.filter((l) => l.includes('broker="broker-2"'));
    expect(ofSilent.sort()).toEqual(
      [
        'ioc_broker_stats_age_seconds{broker="broker-2"} 60',
        'ioc_broker_stats_stale{broker="broker-2"} 1',
        'ioc_health_condition{code="broker-node-silent",severity="warning",broker="broker-2"} 1',
      ].sort(),
    );
    // The live node keeps every series.
    expect(lines).toContain('ioc_broker_stats_stale{broker="broker-1"} 0');
    expect(lines).toContain('ioc_broker_connected_clients{broker="broker-1"} 1');
    expect(lines).toContain('ioc_spool_records{broker="broker-1"} 3');
    expect(lines).toContain('ioc_ingest_accepted_total{broker="broker-1",domain="env"} 3');
    expect(lines).toContain('ioc_spool_consumer_lag{broker="broker-1",consumer="store"} 0');
  });

  it('shows a node stopped gracefully (its last message says so) as stopped, not silent, and stale at once', () => {
    const stopped = { ...stats(undefined, 'broker-3'), stoppedAt: new Date(NOW - 1000).toISOString() };
    const lines = renderPrometheus(stopped, { brokerConnected: true }, 1000).split('\n');
    expect(lines).toContain('ioc_broker_stats_stale{broker="broker-3"} 1');
    expect(lines).toContain(
      'ioc_health_condition{code="broker-node-stopped",severity="warning",broker="broker-3"} 1',
    );
    expect(lines.some((l) => !l.startsWith('#') && l.includes('broker-node-silent'))).toBe(false);
    expect(lines.some((l) => l.startsWith('ioc_broker_connected_clients{'))).toBe(false);
  });
});

describe('renderPrometheus: the registry database', () => {
  it('says whether the database probe answers, and nothing without a probe', () => {
    expect(renderPrometheus(stats(), { brokerConnected: true, databaseUp: false }).split('\n')).toContain(
      'ioc_api_database_up 0',
    );
    expect(renderPrometheus(stats(), { brokerConnected: true, databaseUp: true }).split('\n')).toContain(
      'ioc_api_database_up 1',
    );
    expect(renderPrometheus(stats(), { brokerConnected: true })).not.toContain('ioc_api_database_up');
  });

  it('says whether the broker refuses the internal login', () => {
    expect(renderPrometheus(stats(), { brokerConnected: true }).split('\n')).toContain(
      'ioc_api_broker_login_refused 0',
    );
    expect(
      renderPrometheus(stats(), { brokerConnected: false, brokerRefused: 'internal-secret' }).split('\n'),
    ).toContain('ioc_api_broker_login_refused 1');
  });
});
