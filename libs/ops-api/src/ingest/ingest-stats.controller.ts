import { Controller, Get, Header, HttpStatus, Query, ServiceUnavailableException } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import { ingestStatsBody } from '@ioc/contracts';
import { ApiAnswers } from '../common/openapi-zod';
import { UnscopedOnly } from '../common/scope.service';
import { NoParameters } from '../common/zod-validation.pipe';
import { InternalBusRepository } from '../live/internal-bus.repository';
import { renderPrometheus } from './prometheus-metrics';

/** The `reason` of the 503 answered before the broker has published any ingest statistics. */
export const NO_INGEST_STATS = 'no-ingest-stats';

@ApiTags('ingest')
@Controller()
export class IngestStatsController {
  constructor(private readonly bus: InternalBusRepository) {}

  @Get('metrics')
  @Header('Content-Type', 'text/plain; version=0.0.4')
  @ApiOperation({
    summary: 'Prometheus metrics: ingest counters, spool depth, store health, raised health conditions',
  })
  @ApiProduces('text/plain')
  @ApiOkResponse({
    description: 'Prometheus text exposition format 0.0.4',
    content: { 'text/plain': { schema: { type: 'string' } } },
  })
  metrics(): string {
    return renderPrometheus(this.bus.latestIngestStats(), {
      brokerConnected: this.bus.connected,
    });
  }

  @Get('api/v1/ingest/stats')
  @UnscopedOnly('ingest-stats')
  @ApiOperation({
    summary: "The broker's ingest counters: accepted by domain, rejected by reason, storage queue",
    description: 'Platform-wide: a principal with a scope is refused (403, reason out-of-scope).',
  })
  @ApiAnswers({
    body: ingestStatsBody,
    errors: [HttpStatus.BAD_REQUEST, HttpStatus.FORBIDDEN, HttpStatus.SERVICE_UNAVAILABLE],
  })
  stats(@Query(NoParameters) _query: object): Record<string, unknown> {
    const stats = this.bus.latestIngestStats();
    if (!stats)
      throw new ServiceUnavailableException({
        statusCode: 503,
        error: 'Service Unavailable',
        reason: NO_INGEST_STATS,
        message: 'no ingest statistics received from the broker yet',
      });
    return stats;
  }
}
