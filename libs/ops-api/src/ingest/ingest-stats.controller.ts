import {
  Controller,
  Get,
  Header,
  HttpStatus,
  Inject,
  Query,
  ServiceUnavailableException,
  UseGuards,
} from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProduces, ApiResponse, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { errorBody, ingestStatsBody } from '@ioc/contracts';
import type { DatabaseProbe } from '@ioc/database';
import { Public } from '../common/auth.decorators';
import { ApiAnswers, openApiSchema } from '../common/openapi-zod';
import { UnscopedOnly } from '../common/scope.service';
import { NoParameters } from '../common/zod-validation.pipe';
import { InternalBusRepository } from '../live/internal-bus.repository';
import { SECURITY_SCHEMES } from '../openapi';
import { DATABASE_HEALTH } from '../tokens';
import { MetricsAccessGuard, PROMETHEUS_CONTENT_TYPE } from './metrics-access';
import { renderPrometheus } from './prometheus-metrics';

/** The `reason` of the 503 answered before the broker has published any ingest statistics. */
export const NO_INGEST_STATS = 'no-ingest-stats';

@ApiTags('ingest')
@Controller()
export class IngestStatsController {
  constructor(
    private readonly bus: InternalBusRepository,
    @Inject(DATABASE_HEALTH) private readonly database: Pick<DatabaseProbe, 'health'> | null,
  ) {}

  /** `@Public()`: the authentication guard lets MetricsAccessGuard decide (metrics token or admin). */
  @Get('metrics')
  @Public()
  @UseGuards(MetricsAccessGuard)
  @Header('Content-Type', PROMETHEUS_CONTENT_TYPE)
  @ApiOperation({
    summary: 'Prometheus metrics: ingest counters, spool depth, store health, raised health conditions',
    description:
      'Needs `Authorization: Bearer {IOC_METRICS_TOKEN}` (security scheme metricsToken) or an admin without a scope (an access token or the session cookie); a separate listener (IOC_METRICS_PORT) serves it without authentication. Answers `Cache-Control: no-store`.',
  })
  // Decorators apply bottom up: the document lists metricsToken, bearer, cookie.
  @ApiSecurity(SECURITY_SCHEMES.cookie)
  @ApiSecurity(SECURITY_SCHEMES.bearer)
  @ApiSecurity(SECURITY_SCHEMES.metricsToken)
  @ApiResponse({
    status: HttpStatus.UNAUTHORIZED,
    description:
      'no metrics token or admin credentials (`reason` missing-credentials), or a wrong token (invalid-token); `WWW-Authenticate: Bearer`',
    content: { 'application/json': { schema: openApiSchema(errorBody) } },
  })
  @ApiResponse({
    status: HttpStatus.FORBIDDEN,
    description:
      'authenticated, but not an admin (`reason` role-required), or an admin with a scope (out-of-scope, `outOfScope: {resource: "administration"}`)',
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
      ...(this.bus.refusedReason === undefined ? {} : { brokerRefused: this.bus.refusedReason }),
      ...(this.database ? { databaseUp: this.database.health().up } : {}),
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
