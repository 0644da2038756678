import { Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module';
import { LiveModule } from '../live/live.module';
import { IngestStatsController } from './ingest-stats.controller';
import { MetricsAccessGuard, MetricsListener } from './metrics-access';

/**
 * `GET /metrics` (Prometheus; token or admin, see MetricsAccessGuard) and `GET /api/v1/ingest/stats`,
 * from the broker's ingest statistics, and the separate unauthenticated /metrics listener.
 */
@Module({
  imports: [LiveModule, AuditModule],
  controllers: [IngestStatsController],
  providers: [MetricsAccessGuard, MetricsListener],
})
export class IngestStatsModule {}
