import { Controller, Get, HttpStatus, Inject, Res } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { type HealthBody, healthBody, type HealthCondition } from '@ioc/contracts';
import type { TimeSeriesStore } from '@ioc/timeseries';
import { Public } from '../common/auth.decorators';
import { openApiSchema } from '../common/openapi-zod';
import { NoRateLimit } from '../edge/rate-limit';
import { InternalBusRepository } from '../live/internal-bus.repository';
import { NODE_HEALTH, TIME_SERIES_STORE } from '../tokens';

@ApiTags('health')
@NoRateLimit()
@Controller()
export class HealthController {
  constructor(
    @Inject(TIME_SERIES_STORE) private readonly store: TimeSeriesStore,
    private readonly bus: InternalBusRepository,
    @Inject(NODE_HEALTH) private readonly nodeHealth: () => HealthCondition[],
  ) {}

  @Get('health')
  @Public()
  @ApiOperation({
    summary:
      'Liveness and dependencies: 200 when storage and broker answer and the node has no health condition, 503 otherwise',
  })
  @ApiOkResponse({ description: 'storage and broker answer', schema: openApiSchema(healthBody) })
  @ApiResponse({
    status: HttpStatus.SERVICE_UNAVAILABLE,
    description:
      'storage or broker does not answer, or the node has a health condition such as node-id-taken (status: degraded)',
    schema: openApiSchema(healthBody),
  })
  async health(@Res({ passthrough: true }) response: Response): Promise<HealthBody> {
    const storage = await this.store.ping().catch(() => false);
    const broker = this.bus.connected;
    const conditions = this.nodeHealth();
    const status = storage && broker && conditions.length === 0 ? 'ok' : 'degraded';
    response.status(status === 'ok' ? 200 : 503);
    return {
      status,
      storage: { kind: this.store.kind, up: storage },
      broker: { connected: broker },
      ...(conditions.length > 0 ? { healthConditions: conditions } : {}),
    };
  }
}
