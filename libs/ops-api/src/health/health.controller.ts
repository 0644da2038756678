import { Controller, Get, HttpStatus, Inject, Res } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import {
  type HealthBody,
  healthBody,
  type HealthCondition,
  type ReadinessBody,
  readinessBody,
} from '@ioc/contracts';
import { DATABASE_UNAVAILABLE, type DatabaseProbe } from '@ioc/database';
import type { TimeSeriesStore } from '@ioc/timeseries';
import { Public } from '../common/auth.decorators';
import { openApiSchema } from '../common/openapi-zod';
import { NoRateLimit } from '../edge/rate-limit';
import { InternalBusRepository } from '../live/internal-bus.repository';
import { DATABASE_HEALTH, NODE_HEALTH, TIME_SERIES_STORE } from '../tokens';

@ApiTags('health')
@NoRateLimit()
@Controller()
export class HealthController {
  constructor(
    @Inject(TIME_SERIES_STORE) private readonly store: TimeSeriesStore,
    private readonly bus: InternalBusRepository,
    @Inject(NODE_HEALTH) private readonly nodeHealth: () => HealthCondition[],
    @Inject(DATABASE_HEALTH) private readonly database: Pick<DatabaseProbe, 'health'> | null,
  ) {}

  @Get('health')
  @Public()
  @ApiOperation({
    summary:
      'Liveness and dependencies: 200 when storage, broker and registry database answer and the node has no health condition, 503 otherwise',
  })
  @ApiOkResponse({
    description: 'storage, broker and registry database answer',
    schema: openApiSchema(healthBody),
  })
  @ApiResponse({
    status: HttpStatus.SERVICE_UNAVAILABLE,
    description:
      'storage, broker or registry database does not answer, the broker refused the internal secret, or the node has a health condition such as node-id-taken (status: degraded)',
    schema: openApiSchema(healthBody),
  })
  async health(@Res({ passthrough: true }) response: Response): Promise<HealthBody> {
    const storage = await this.store.ping().catch(() => false);
    const broker = this.bus.connected;
    const conditions = this.nodeHealth();
    const refused = this.bus.refusedReason;
    const database = this.database?.health();
    const status = storage && broker && database?.up !== false && conditions.length === 0 ? 'ok' : 'degraded';
    response.status(status === 'ok' ? 200 : 503);
    return {
      status,
      storage: { kind: this.store.kind, up: storage },
      broker: { connected: broker, ...(refused === undefined ? {} : { refused }) },
      ...(database === undefined
        ? {}
        : {
            database: {
              kind: database.kind,
              up: database.up,
              ...(database.up ? {} : { reason: DATABASE_UNAVAILABLE, problem: database.problem ?? 'error' }),
            },
          }),
      ...(conditions.length > 0 ? { healthConditions: conditions } : {}),
    };
  }

  @Get('health/ready')
  @Public()
  @ApiOperation({
    summary:
      "Readiness for a load balancer or Kubernetes: 503 only when something is wrong with this node itself (its own health condition, the broker refusing its internal secret); outages of shared dependencies (store, registry database, brokers) are /health's",
  })
  @ApiOkResponse({ description: 'this node can serve like any other', schema: openApiSchema(readinessBody) })
  @ApiResponse({
    status: HttpStatus.SERVICE_UNAVAILABLE,
    description:
      'this node has a problem of its own (node-id-taken, internal-secret-refused): send traffic elsewhere',
    schema: openApiSchema(readinessBody),
  })
  ready(@Res({ passthrough: true }) response: Response): ReadinessBody {
    const problems: string[] = this.nodeHealth().map((condition) => condition.code);
    if (this.bus.refusedReason === 'internal-secret') problems.push('internal-secret-refused');
    response.status(problems.length === 0 ? 200 : 503);
    return { ready: problems.length === 0, problems };
  }
}
