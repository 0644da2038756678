import { Controller, Get, HttpStatus, Inject, Res } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { type HealthBody, healthBody } from '@ioc/contracts';
import { DATABASE_UNAVAILABLE, type DatabaseProbe } from '@ioc/database';
import type { TimeSeriesStore } from '@ioc/timeseries';
import { Public } from '../common/auth.decorators';
import { openApiSchema } from '../common/openapi-zod';
import { NoRateLimit } from '../edge/rate-limit';
import { InternalBusRepository } from '../live/internal-bus.repository';
import { DATABASE_HEALTH, TIME_SERIES_STORE } from '../tokens';

@ApiTags('health')
@NoRateLimit()
@Controller()
export class HealthController {
  constructor(
    @Inject(TIME_SERIES_STORE) private readonly store: TimeSeriesStore,
    private readonly bus: InternalBusRepository,
    @Inject(DATABASE_HEALTH) private readonly database: Pick<DatabaseProbe, 'health'> | null,
  ) {}

  @Get('health')
  @Public()
  @ApiOperation({
    summary:
      'Liveness and dependencies: 200 when storage, broker and registry database answer, 503 otherwise',
  })
  @ApiOkResponse({
    description: 'storage, broker and registry database answer',
    schema: openApiSchema(healthBody),
  })
  @ApiResponse({
    status: HttpStatus.SERVICE_UNAVAILABLE,
    description:
      'storage, broker or registry database does not answer, or the broker refused the internal secret (status: degraded)',
    schema: openApiSchema(healthBody),
  })
  async health(@Res({ passthrough: true }) response: Response): Promise<HealthBody> {
    const storage = await this.store.ping().catch(() => false);
    const broker = this.bus.connected;
    const refused = this.bus.refusedReason;
    const database = this.database?.health();
    const status = storage && broker && database?.up !== false ? 'ok' : 'degraded';
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
    };
  }
}
