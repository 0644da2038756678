import { Module } from '@nestjs/common';
import { LiveModule } from '../live/live.module';
import { IngestStatsController } from './ingest-stats.controller';

/** `GET /metrics` (Prometheus) and `GET /api/v1/ingest/stats`, from the broker's ingest statistics. */
@Module({ imports: [LiveModule], controllers: [IngestStatsController] })
export class IngestStatsModule {}
