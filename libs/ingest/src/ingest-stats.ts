import type { BatchingWriterStats, SpoolStats } from '@ioc/storage';
import { DOMAINS, type Domain, REJECTION_REASONS, type RejectionReason } from '@ioc/contracts';

export interface IngestStatsSnapshot {
  startedAt: string;
  accepted: Record<Domain, number>;
  acceptedTotal: number;
  rejected: Record<RejectionReason, number>;
  rejectedTotal: number;
  /** The durable spool between acknowledgement and store: its depth is the store's backlog. */
  spool: SpoolStats;
  storage: BatchingWriterStats;
  connectedClients: number;
}

/** Counters of what ingest accepted and refused, by domain and by reason. */
export class IngestStats {
  private readonly startedAt = new Date().toISOString();
  private readonly accepted = Object.fromEntries(DOMAINS.map((d) => [d, 0])) as Record<Domain, number>;
  private readonly rejected = Object.fromEntries(REJECTION_REASONS.map((r) => [r, 0])) as Record<
    RejectionReason,
    number
  >;

  countAccepted(domain: Domain): void {
    this.accepted[domain] += 1;
  }

  countRejected(reason: RejectionReason): void {
    this.rejected[reason] += 1;
  }

  snapshot(extra: Pick<IngestStatsSnapshot, 'spool' | 'storage' | 'connectedClients'>): IngestStatsSnapshot {
    const sum = (counts: Record<string, number>): number => Object.values(counts).reduce((a, b) => a + b, 0);
    return {
      startedAt: this.startedAt,
      accepted: { ...this.accepted },
      acceptedTotal: sum(this.accepted),
      rejected: { ...this.rejected },
      rejectedTotal: sum(this.rejected),
      ...extra,
    };
  }
}
