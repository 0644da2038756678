import { Controller, Get, ServiceUnavailableException } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { InternalBusRepository } from '../live/internal-bus.repository';

@ApiTags('ingest')
@Controller('api/v1/ingest')
export class IngestStatsController {
  constructor(private readonly bus: InternalBusRepository) {}

  @Get('stats')
  @ApiOperation({
    summary: "The broker's ingest counters: accepted by domain, rejected by reason, storage queue",
  })
  stats() {
    const stats = this.bus.latestIngestStats();
    if (!stats) throw new ServiceUnavailableException('no ingest statistics received from the broker yet');
    return stats;
  }
}
