import { ingestStatsSchema, readingBatchSchema, readingSchema, rejectionNoticeSchema } from './internal-bus';
import type { Reading } from './reading';

const reading: Reading = {
  deviceId: 'cam-tn-001',
  deviceType: 'camera',
  domain: 'camera',
  kind: 'event',
  areaId: 'tn-p-tan-ninh',
  areaPath: ['tn', 'tn-tay-ninh', 'tn-p-tan-ninh'],
  location: { lat: 11.31, lon: 106.1 },
  ts: 1_795_741_200_000,
  seq: 7,
  event: 'accident',
  metrics: { confidence: 0.93 },
};

describe('internal bus schemas', () => {
  it('accept a batch of readings as JSON carries them', () => {
    expect(readingBatchSchema.parse(JSON.parse(JSON.stringify([reading, reading])))).toEqual([
      reading,
      reading,
    ]);
  });

  it.each([
    ['an unknown domain', { domain: 'weather' }],
    ['an unknown device type', { deviceType: 'toaster' }],
    ['a fractional timestamp', { ts: 1.5 }],
    ['a metric that is an object', { metrics: { pm25: { $gt: 0 } } }],
    ['a non-numeric latitude', { location: { lat: 'north', lon: 1 } }],
    ['a negative sequence number', { seq: -1 }],
  ])('refuse a reading with %s', (_what, change) => {
    expect(readingSchema.safeParse({ ...reading, ...change }).success).toBe(false);
  });

  it('refuse a rejection notice with a reason the platform does not have', () => {
    const notice = {
      reason: 'out-of-range',
      detail: 'd',
      topic: 't',
      at: 'now',
      deviceId: null,
      clientId: 'c',
    };
    expect(rejectionNoticeSchema.safeParse(notice).success).toBe(true);
    expect(rejectionNoticeSchema.safeParse({ ...notice, reason: 'because' }).success).toBe(false);
  });

  it('refuse ingest statistics with negative or missing counters', () => {
    const stats = {
      node: 'broker-1',
      publishedAt: '2026-11-30T00:00:05.000Z',
      intervalMs: 2000,
      startedAt: '2026-11-30T00:00:00.000Z',
      accepted: { env: 3 },
      acceptedTotal: 3,
      rejected: {},
      rejectedTotal: 0,
      spool: {
        records: 0,
        bytes: 0,
        maxBytes: 10,
        segments: 1,
        commits: 1,
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
    };
    expect(ingestStatsSchema.safeParse(stats).success).toBe(true);
    expect(ingestStatsSchema.safeParse({ ...stats, acceptedTotal: -1 }).success).toBe(false);
    expect(ingestStatsSchema.safeParse({ ...stats, healthConditions: undefined }).success).toBe(false);
    // Which node sent it, and how often it publishes, are part of every message.
    expect(ingestStatsSchema.safeParse({ ...stats, node: undefined }).success).toBe(false);
    expect(ingestStatsSchema.safeParse({ ...stats, node: '' }).success).toBe(false);
    expect(ingestStatsSchema.safeParse({ ...stats, intervalMs: 0 }).success).toBe(false);
    expect(
      ingestStatsSchema.safeParse({
        ...stats,
        healthConditions: [{ code: 'x', severity: 'critical', message: '' }],
      }).success,
    ).toBe(false);
  });
});
