import {
  ConflictException,
  Controller,
  Delete,
  Get,
  Header,
  HttpStatus,
  Inject,
  NotFoundException,
  Param,
  Query,
  ServiceUnavailableException,
  UseGuards,
} from '@nestjs/common';
import {
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiProduces,
  ApiResponse,
  ApiSecurity,
  ApiTags,
} from '@nestjs/swagger';
import { INGEST_STATS_NODE_PATTERN } from '@ioc/bus';
import {
  brokerNodeIngestStatsBody,
  type BrokerNodeIngestStatsBody,
  errorBody,
  ingestStatsBody,
} from '@ioc/contracts';
import type { DatabaseProbe } from '@ioc/database';
import { AuditedRequest, AuditTrail } from '../audit/audit-trail.service';
import { type AuthenticatedRequest, Public, Roles } from '../common/auth.decorators';
import { badParameter } from '../common/bad-parameter';
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
/** The `reason` of the 409 answered when asked to forget a broker node that still publishes. */
export const BROKER_NODE_LIVE = 'broker-node-live';

@ApiTags('ingest')
@Controller()
export class IngestStatsController {
  constructor(
    private readonly bus: InternalBusRepository,
    private readonly audit: AuditTrail,
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

  @Delete('api/v1/ingest/nodes/:node')
  @Roles('admin')
  @UnscopedOnly('administration')
  @ApiOperation({
    summary:
      'Forgets a retired broker node: its statistics leave /api/v1/ingest/stats, /metrics and its health conditions',
    description:
      "Clears the node's retained statistics on the internal bus (an empty retained message on `$internal/ioc/v1/ingest-stats/{node}`), which every API node receives: each forgets the node. Only a stale node (stopped, or silent for 3 of its intervals) can be forgotten: 409 `broker-node-live` for one still publishing. A node that publishes again later shows up again. Audited (`broker-node.forget`).",
  })
  @ApiParam({
    name: 'node',
    description: 'The node, `broker-<IOC_BROKER_ID>` (as in `nodes[].node`)',
    example: 'broker-3',
  })
  @ApiAnswers({
    body: brokerNodeIngestStatsBody,
    description: 'the node as it was last seen, now forgotten',
    errors: [
      HttpStatus.BAD_REQUEST,
      HttpStatus.FORBIDDEN,
      HttpStatus.NOT_FOUND,
      HttpStatus.CONFLICT,
      HttpStatus.SERVICE_UNAVAILABLE,
    ],
  })
  async forgetNode(
    @Param('node') node: string,
    @Query(NoParameters) _query: object,
    @AuditedRequest() request: AuthenticatedRequest,
  ): Promise<BrokerNodeIngestStatsBody> {
    if (!INGEST_STATS_NODE_PATTERN.test(node))
      throw badParameter(
        'node',
        'expected a broker node name such as broker-3 ([A-Za-z0-9._-], at most 64 characters)',
      );
    let outcome: Awaited<ReturnType<InternalBusRepository['forgetBrokerNode']>>;
    try {
      outcome = await this.bus.forgetBrokerNode(node);
    } catch (error) {
      throw new ServiceUnavailableException({
        statusCode: 503,
        error: 'Service Unavailable',
        reason: 'broker-unavailable',
        message: `the node's statistics could not be cleared: ${(error as Error).message}`,
      });
    }
    if (outcome === 'unknown')
      throw new NotFoundException({
        statusCode: 404,
        error: 'Not Found',
        message: `no statistics of broker node "${node}" on this API node (never heard from, or already forgotten)`,
      });
    if (outcome === 'live')
      throw new ConflictException({
        statusCode: 409,
        error: 'Conflict',
        reason: BROKER_NODE_LIVE,
        message: `broker node ${node} is still publishing statistics: stop it first (a node is forgotten only once it is stale)`,
      });
    await this.audit.record(request, {
      action: 'broker-node.forget',
      entity: { type: 'broker-node', id: node },
      before: {
        publishedAt: outcome.publishedAt,
        startedAt: outcome.startedAt,
        stoppedAt: outcome.stoppedAt,
        ageSeconds: outcome.ageSeconds,
      },
    });
    return outcome;
  }
}
