import type { IngestStatsMessage } from '@ioc/contracts';
import { ingestStatsBody } from '@ioc/contracts';
import { ingestStatsMessage } from '@ioc/testing';
import {
  BROKER_NODE_FORGET_MS,
  BROKER_NODE_STALE_MIN_MS,
  heardAt,
  platformIngestStats,
} from './platform-ingest-stats';

const NOW = Date.parse('2026-11-30T06:10:00.000Z');

const node = (name: string, overrides: Partial<IngestStatsMessage> = {}): IngestStatsMessage => {
  const base = ingestStatsMessage();
  return ingestStatsMessage({
    node: name,
    publishedAt: new Date(NOW - 1000).toISOString(),
    accepted: { env: 3, traffic: 1 },
    acceptedTotal: 4,
    rejected: { 'invalid-json': 1 },
    rejectedTotal: 1,
    storage: { ...base.storage, queued: 1 },
    connectedClients: 10,
    broker: { ...base.broker, reservedClientIdRefused: 1, clientIdTakeovers: 2 },
    offlineSessions: { clients: 5, subscriptions: 9 },
    ...overrides,
  });
};

const engine = (holding: boolean | undefined, evaluated: number): IngestStatsMessage['alertEngine'] => ({
  evaluated,
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
  ...(holding === undefined
    ? {}
    : { lease: { holding, holder: holding ? 'me' : 'other', token: 1, acquired: 1, lost: 0 } }),
});

describe('platformIngestStats', () => {
  it('is null before any node was heard from', () => {
    expect(platformIngestStats([], NOW)).toBeNull();
  });

  it('one node: the totals are that node’s, and the body validates', () => {
    const one = node('broker-1', {
      alertEngine: engine(undefined, 40),
      spool: {
        ...node('broker-1').spool,
        consumers: [{ consumer: 'store', released: 3, oldestHeld: null, lag: 0 }],
      },
    });
    const body = platformIngestStats([{ stats: one, heardAt: NOW }], NOW)!;
    expect(ingestStatsBody.parse(body)).toEqual(body);
    expect(body).toMatchObject({
      accepted: one.accepted,
      acceptedTotal: 4,
      rejected: one.rejected,
      spool: { records: 3, bytes: 900, maxBytes: 10_000, full: false, consumers: one.spool.consumers },
      connectedClients: 10,
      offlineSessions: { clients: 5, subscriptions: 9 },
      alertEngine: { evaluated: 40 },
    });
    expect(body.nodes.map((n) => [n.node, n.stale])).toEqual([['broker-1', false]]);
  });

  it('two nodes: counters and spools summed, shared offline sessions counted once, the lease holder’s engine', () => {
    const one = node('broker-1', { alertEngine: engine(false, 0) });
    const two = node('broker-2', {
      accepted: { env: 10, lighting: 2 },
      acceptedTotal: 12,
      spool: {
        records: 7,
        bytes: 2100,
        maxBytes: 10_000,
        segments: 2,
        commits: 5,
        committedRecords: 7,
        full: true,
      },
      storage: {
        queued: 0,
        written: 9,
        failedWrites: 2,
        rejected: 0,
        failing: true,
        lastError: 'ECONNREFUSED',
      },
      connectedClients: 20,
      offlineSessions: { clients: 6, subscriptions: 11 },
      alertEngine: engine(true, 77),
      healthConditions: [{ code: 'store-unavailable', severity: 'critical', message: 'store down' }],
      startedAt: '2026-11-30T05:00:00.000Z',
    });
    const body = platformIngestStats(
      [
        { stats: two, heardAt: NOW },
        { stats: one, heardAt: NOW },
      ],
      NOW,
    )!;
    expect(body.accepted).toEqual({ env: 13, traffic: 1, lighting: 2 });
    expect(body.acceptedTotal).toBe(16);
    expect(body.rejected).toEqual({ 'invalid-json': 2 });
    expect(body.spool).toEqual({
      records: 10,
      bytes: 3000,
      maxBytes: 20_000,
      segments: 3,
      commits: 7,
      committedRecords: 10,
      full: true,
    });
    expect(body.storage).toEqual({
      queued: 1,
      written: 12,
      failedWrites: 2,
      rejected: 0,
      failing: true,
      lastError: 'broker-2: ECONNREFUSED',
    });
    expect(body.connectedClients).toBe(30);
    expect(body.broker.clientIdTakeovers).toBe(4);
    expect(body.offlineSessions).toEqual({ clients: 6, subscriptions: 11 });
    expect(body.alertEngine?.evaluated).toBe(77);
    expect(body.startedAt).toBe('2026-11-30T05:00:00.000Z');
    expect(body.healthConditions).toEqual([
      { code: 'store-unavailable', severity: 'critical', message: 'store down', node: 'broker-2' },
    ]);
    // Nodes in name order, whatever order they were heard in.
    expect(body.nodes.map((n) => n.node)).toEqual(['broker-1', 'broker-2']);
    expect(ingestStatsBody.safeParse(body).success).toBe(true);
  });

  it('a silent node: broker-node-silent, its clients no longer counted, its counters kept; forgotten after a day', () => {
    const silentFor = BROKER_NODE_STALE_MIN_MS + 5000;
    const nodes = [
      { stats: node('broker-1'), heardAt: NOW },
      { stats: node('broker-2'), heardAt: NOW - silentFor },
    ];
    const body = platformIngestStats(nodes, NOW)!;
    expect(body.nodes.map((n) => [n.node, n.stale, n.ageSeconds])).toEqual([
      ['broker-1', false, 0],
      ['broker-2', true, silentFor / 1000],
    ]);
    expect(body.connectedClients).toBe(10);
    expect(body.acceptedTotal).toBe(8);
    expect(body.healthConditions).toEqual([
      expect.objectContaining({ code: 'broker-node-silent', severity: 'warning', node: 'broker-2' }),
    ]);
    expect(body.healthConditions[0]?.message).toContain('broker-2 has sent no statistics for 15 s');
    // Not yet silent: less than three of its intervals (and the 10 s floor).
    expect(
      platformIngestStats([{ stats: node('broker-2'), heardAt: NOW - 9000 }], NOW)!.nodes[0]!.stale,
    ).toBe(false);
    // A node publishing every 10 s is stale only after 30 s.
    const slow = node('broker-3', { intervalMs: 10_000 });
    expect(platformIngestStats([{ stats: slow, heardAt: NOW - 25_000 }], NOW)!.nodes[0]!.stale).toBe(false);
    expect(platformIngestStats([{ stats: slow, heardAt: NOW - 31_000 }], NOW)!.nodes[0]!.stale).toBe(true);
    // A day later it is gone (a retired node's retained statistics).
    const later = platformIngestStats(nodes, NOW - silentFor + BROKER_NODE_FORGET_MS + 1)!;
    expect(later.nodes.map((n) => n.node)).toEqual(['broker-1']);
  });

  it('heardAt: now for a live message; the publication time for an old retained one', () => {
    const old = node('broker-1', { publishedAt: new Date(NOW - 3_600_000).toISOString() });
    expect(heardAt(old, false, NOW)).toBe(NOW);
    expect(heardAt(old, true, NOW)).toBe(NOW - 3_600_000);
    // A node whose clock runs ahead does not make its retained message newer than now.
    const ahead = node('broker-1', { publishedAt: new Date(NOW + 60_000).toISOString() });
    expect(heardAt(ahead, true, NOW)).toBe(NOW);
  });
});
