import type { IngestStatsMessage } from '@ioc/contracts';
import { renderPrometheus } from './prometheus-metrics';

const stats = (consumers?: NonNullable<IngestStatsMessage['spool']['consumers']>): IngestStatsMessage => ({
  startedAt: '2026-11-30T06:00:00.000Z',
  accepted: { env: 3 },
  acceptedTotal: 3,
  rejected: {},
  rejectedTotal: 0,
  spool: {
    records: 3,
    bytes: 900,
    maxBytes: 10_000,
    segments: 1,
    commits: 2,
    committedRecords: 3,
    full: false,
    ...(consumers ? { consumers } : {}),
  },
  storage: { queued: 0, written: 3, failedWrites: 0, rejected: 0, failing: false },
  connectedClients: 1,
  broker: {
    reservedClientIdRefused: 0,
    emptyClientIdRefused: 0,
    clientIdTakeovers: 0,
    oversizedPacketsClosed: 0,
    stalledPacketsClosed: 0,
    qos2DuplicatesSuppressed: 0,
    errorAnswersSuppressed: 0,
    rejectionNoticesSuppressed: 0,
    forwardsBlocked: 0,
  },
  healthConditions: [],
});

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
    expect(lines).toContain('ioc_spool_consumer_lag{consumer="store"} 0');
    expect(lines).toContain('ioc_spool_consumer_lag{consumer="alerts"} 2');
    expect(lines).toContain('ioc_spool_consumer_released_total{consumer="alerts"} 1');
    expect(lines).toContain('ioc_spool_consumer_oldest_held{consumer="alerts"} 1');
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
    expect(lines).toContain('ioc_alert_engine_evaluated_total 120');
    expect(lines).toContain('ioc_alert_engine_warm_up_total 7');
    expect(lines).toContain('ioc_alert_engine_changes_total 4');
    expect(lines).toContain('ioc_alert_engine_commit_failures_total 1');
    expect(lines).toContain('ioc_aqi_hours_emitted_total 9');
    expect(lines).toContain('ioc_alert_engine_out_of_order_total 11');
    expect(lines).toContain('ioc_aqi_closed_hour_readings_total 12');
    expect(lines).toContain('ioc_alert_engine_lag 2');
    expect(lines).toContain('ioc_alert_engine_last_commit_ms 6');
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
    expect(lines).toContain('ioc_alert_engine_lease_holding{holder="broker-2:ab12cd34"} 1');
    expect(lines).toContain('ioc_alert_engine_lease_token 7');
    expect(lines).toContain('ioc_alert_engine_lease_lost_total 1');
    expect(lines).toContain('ioc_alert_stream_forwarded_total 300');
    expect(lines).toContain('ioc_alert_stream_forward_failures_total 4');
    expect(lines).toContain('ioc_alert_stream_lag 50');
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
    expect(standby).toContain('ioc_alert_engine_lease_holding{holder="broker-2:ab12cd34"} 0');
    expect(standby.join('\n')).not.toContain('ioc_alert_stream_lag');
  });
});
