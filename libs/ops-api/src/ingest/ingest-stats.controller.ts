import { Controller, Get, Header, ServiceUnavailableException } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { InternalBusRepository } from '../live/internal-bus.repository';
import { renderPrometheus } from './prometheus-metrics';

@ApiTags('ingest')
@Controller()
export class IngestStatsController {
  constructor(private readonly bus: InternalBusRepository) {}

  @Get('metrics')
  @Header('Content-Type', 'text/plain; version=0.0.4')
  @ApiOperation({
    summary: 'Prometheus metrics: ingest counters, spool depth, store health, raised health conditions',
  })
  metrics(): string {
    return renderPrometheus(this.bus.latestIngestStats(), {
      brokerConnected: this.bus.connected,
    });
  }

  @Get('api/v1/ingest/stats')
  @ApiOperation({
    summary: "The broker's ingest counters: accepted by domain, rejected by reason, storage queue",
  })
  stats() {
    const stats = this.bus.latestIngestStats();
    if (!stats) throw new ServiceUnavailableException('no ingest statistics received from the broker yet');
    return stats;
  }
}
