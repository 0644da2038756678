import { Controller, Get, HttpStatus, Inject, Res } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { type HealthBody, healthBody, type HealthCondition } from '@ioc/contracts';
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
}
