import { Controller, Get, Inject, Res } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import type { TimeSeriesStore } from '@ioc/timeseries';
import { InternalBusRepository } from '../live/internal-bus.repository';
import { TIME_SERIES_STORE } from '../tokens';

@ApiTags('health')
@Controller()
export class HealthController {
  constructor(
    @Inject(TIME_SERIES_STORE) private readonly store: TimeSeriesStore,
    private readonly bus: InternalBusRepository,
  ) {}

  @Get('health')
  @ApiOperation({ summary: 'Liveness and dependencies: 200 when storage and broker answer, 503 otherwise' })
  async health(@Res({ passthrough: true }) response: Response) {
    const storage = await this.store.ping().catch(() => false);
    const broker = this.bus.connected;
    const status = storage && broker ? 'ok' : 'degraded';
    response.status(status === 'ok' ? 200 : 503);
    return { status, storage: { kind: this.store.kind, up: storage }, broker: { connected: broker } };
  }
}
