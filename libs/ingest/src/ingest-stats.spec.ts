import type { BatchingWriterStats, SpoolStats } from '@ioc/spool';
import { holdingConsumer, IngestStats, SPOOL_CONSUMER_STALL_MS } from './ingest-stats';

const storage: BatchingWriterStats = { queued: 0, written: 0, failedWrites: 0, rejected: 0, failing: false };
const spool = (consumers: SpoolStats['consumers'], bytes = 100): SpoolStats => ({
  records: Math.max(0, ...consumers.map((c) => c.lag)),
  bytes,
  maxBytes: 1000,
  segments: 1,
  commits: 1,
  committedRecords: 10,
  full: false,
  consumers,
});

describe('IngestStats health conditions with spool consumers', () => {
  let now = Date.UTC(2026, 10, 30, 6, 0, 0);
  beforeEach(() => {
    jest.spyOn(Date, 'now').mockImplementation(() => now);
  });
  afterEach(() => jest.restoreAllMocks());
  const codes = (stats: IngestStats, s: SpoolStats, failing = false) =>
    stats.snapshot({
      node: 'broker-1',
      publishedAt: new Date().toISOString(),
      intervalMs: 2000,
      spool: s,
      storage: { ...storage, failing },
      connectedClients: 0,
    }).healthConditions;

  it('raises spool-consumer-stalled for a consumer that holds records and released none for the stall time', () => {
    const stats = new IngestStats();
    const held = spool([
      { consumer: 'store', released: 10, oldestHeld: null, lag: 0 },
      { consumer: 'alerts', released: 4, oldestHeld: 4, lag: 6 },
    ]);
    expect(codes(stats, held)).toEqual([]);
    now += SPOOL_CONSUMER_STALL_MS - 1;
    expect(codes(stats, held)).toEqual([]);
    now += 1;
    const raised = codes(stats, held);
    expect(raised.map((c) => c.code)).toEqual(['spool-consumer-stalled']);
    expect(raised[0]?.message).toContain('alerts (lag 6 records, oldest #4, nothing released for 60 s)');
    // It releases: cleared, and the clock starts again.
    const moved = spool([
      { consumer: 'store', released: 10, oldestHeld: null, lag: 0 },
      { consumer: 'alerts', released: 5, oldestHeld: 5, lag: 5 },
    ]);
    expect(codes(stats, moved)).toEqual([]);
    now += SPOOL_CONSUMER_STALL_MS / 2;
    expect(codes(stats, moved)).toEqual([]);
  });

  it('leaves a store writer stalled by a failing store to store-unavailable, and an idle consumer alone', () => {
    const stats = new IngestStats();
    const s = spool([
      { consumer: 'store', released: 0, oldestHeld: 0, lag: 10 },
      { consumer: 'alerts', released: 10, oldestHeld: null, lag: 0 },
    ]);
    codes(stats, s, true);
    now += SPOOL_CONSUMER_STALL_MS * 2;
    expect(codes(stats, s, true).map((c) => c.code)).toEqual(['store-unavailable']);
    // The store back but its writer still not releasing: now it is stalled.
    expect(codes(stats, s, false).map((c) => c.code)).toEqual(['spool-consumer-stalled']);
  });

  it('names the consumer holding a filling spool: the oldest record, then the largest lag', () => {
    const consumers = [
      { consumer: 'store', released: 0, oldestHeld: 7, lag: 3 },
      { consumer: 'alerts', released: 0, oldestHeld: 2, lag: 8 },
      { consumer: 'audit', released: 0, oldestHeld: 2, lag: 5 },
    ];
    expect(holdingConsumer(spool(consumers))?.consumer).toBe('alerts');
    expect(
      holdingConsumer(spool(consumers.map((c) => ({ ...c, oldestHeld: null, lag: 0 })))),
    ).toBeUndefined();
    const filling = codes(new IngestStats(), spool(consumers, 850));
    expect(filling).toEqual([
      {
        code: 'spool-filling',
        severity: 'warning',
        message: 'ingest spool 85 % full: held by consumer alerts (lag 8 records, oldest #2)',
      },
    ]);
    // With the store writer alone, the message stays what it was.
    expect(
      codes(new IngestStats(), spool([consumers[0] as SpoolStats['consumers'][number]], 850))[0]?.message,
    ).toBe('ingest spool 85 % full: the store is not keeping up');
  });
});
