import type { IngestStatsMessage } from '@ioc/contracts';

/**
 * A valid ingest statistics message of one broker node (`ingestStatsSchema`), for tests of what
 * reads them: node `broker-1` publishing every 2 000 ms, published now, 3 readings accepted (env),
 * nothing rejected, a small spool, one client, every required broker counter at zero — then
 * `overrides` (shallow: give a whole `spool` or `broker` to change one of its fields).
 */
export function ingestStatsMessage(overrides: Partial<IngestStatsMessage> = {}): IngestStatsMessage {
  return {
    node: 'broker-1',
    publishedAt: new Date().toISOString(),
    intervalMs: 2000,
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
    ...overrides,
  };
}
