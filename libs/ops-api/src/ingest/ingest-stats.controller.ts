import {
  Controller,
  Get,
  Header,
  HttpStatus,
  Query,
  ServiceUnavailableException,
  UseGuards,
} from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiOkResponse,
  ApiOperation,
  ApiProduces,
  ApiResponse,
  ApiTags,
} from '@nestjs/swagger';
import { errorBody, ingestStatsBody } from '@ioc/contracts';
import { Public } from '../common/auth.decorators';
import { ApiAnswers, openApiSchema } from '../common/openapi-zod';
import { NoParameters } from '../common/zod-validation.pipe';
import { InternalBusRepository } from '../live/internal-bus.repository';
import { MetricsAccessGuard, PROMETHEUS_CONTENT_TYPE } from './metrics-access';
import { renderPrometheus } from './prometheus-metrics';

/** The `reason` of the 503 answered before the broker has published any ingest statistics. */
export const NO_INGEST_STATS = 'no-ingest-stats';

@ApiTags('ingest')
@Controller()
export class IngestStatsController {
  constructor(private readonly bus: InternalBusRepository) {}

  /** `@Public()`: the authentication guard lets MetricsAccessGuard decide (metrics token or admin). */
  @Get('metrics')
  @Public()
  @UseGuards(MetricsAccessGuard)
  @Header('Content-Type', PROMETHEUS_CONTENT_TYPE)
  @ApiOperation({
    summary: 'Prometheus metrics: ingest counters, spool depth, store health, raised health conditions',
    description:
      'Needs `Authorization: Bearer {IOC_METRICS_TOKEN}` or an admin; a separate listener (IOC_METRICS_PORT) serves it without authentication.',
  })
  @ApiBearerAuth()
  @ApiResponse({
    status: HttpStatus.UNAUTHORIZED,
    description: 'no metrics token or admin credentials, or a wrong token',
    content: { 'application/json': { schema: openApiSchema(errorBody) } },
  })
  @ApiResponse({
    status: HttpStatus.FORBIDDEN,
    description: 'authenticated, but not an admin',
    content: { 'application/json': { schema: openApiSchema(errorBody) } },
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
  @ApiOperation({
    summary: "The broker's ingest counters: accepted by domain, rejected by reason, storage queue",
  })
  @ApiAnswers({ body: ingestStatsBody, errors: [HttpStatus.BAD_REQUEST, HttpStatus.SERVICE_UNAVAILABLE] })
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
