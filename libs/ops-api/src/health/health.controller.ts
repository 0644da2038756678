import { Controller, Get, HttpStatus, Inject, Res } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { type HealthBody, healthBody } from '@ioc/contracts';
import type { TimeSeriesStore } from '@ioc/timeseries';
import { openApiSchema } from '../common/openapi-zod';
import { NoRateLimit } from '../edge/rate-limit';
import { InternalBusRepository } from '../live/internal-bus.repository';
import { TIME_SERIES_STORE } from '../tokens';

@ApiTags('health')
@NoRateLimit()
@Controller()
export class HealthController {
  constructor(
    @Inject(TIME_SERIES_STORE) private readonly store: TimeSeriesStore,
    private readonly bus: InternalBusRepository,
  ) {}

  @Get('health')
  @ApiOperation({ summary: 'Liveness and dependencies: 200 when storage and broker answer, 503 otherwise' })
  @ApiOkResponse({ description: 'storage and broker answer', schema: openApiSchema(healthBody) })
  @ApiResponse({
    status: HttpStatus.SERVICE_UNAVAILABLE,
    description: 'storage or broker does not answer (status: degraded)',
    schema: openApiSchema(healthBody),
  })
  async health(@Res({ passthrough: true }) response: Response): Promise<HealthBody> {
    const storage = await this.store.ping().catch(() => false);
    const broker = this.bus.connected;
    const status = storage && broker ? 'ok' : 'degraded';
    response.status(status === 'ok' ? 200 : 503);
    return { status, storage: { kind: this.store.kind, up: storage }, broker: { connected: broker } };
  }
}
