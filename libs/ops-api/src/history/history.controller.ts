import { Controller, Get, Query, Res } from '@nestjs/common';
import { ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { DEVICE_TYPES, DOMAINS } from '@ioc/contracts';
import { ZodValidationPipe } from '../common/zod-validation.pipe';
import { historyParams, type HistoryParams } from './history-params';
import { HistoryService } from './history.service';
import { ApiHistoryWindowQueries } from './history-api-docs';

@ApiTags('history')
@Controller('api/v1/history')
export class HistoryController {
  constructor(private readonly history: HistoryService) {}

  @Get()
  @ApiOperation({
    summary: 'History of several metrics over several devices, grouped by device, area or device type',
    description:
      'Choose devices by `devices` (ids), `areas` (sub-areas included), `type` and/or `domain`; `metrics` is a comma-separated list (≤ 10). groupBy=device (one series per device), area (one per listed area), type (one per device type) or none (one series). With every (e.g. 1h, 1d) and fn (mean|min|max|last) each series has one aggregate per window over its devices, the mean weighted by point count; windows align on midnight in tz (default Asia/Ho_Chi_Minh). Each series says which stored resolution answered it. format=csv for CSV. A request whose answer would exceed the point limit is refused with 400.',
  })
  @ApiQuery({ name: 'metrics', required: true, description: 'comma-separated metric names' })
  @ApiQuery({ name: 'devices', required: false, description: 'comma-separated device ids' })
  @ApiQuery({ name: 'areas', required: false, description: 'comma-separated area ids' })
  @ApiQuery({ name: 'type', required: false, enum: DEVICE_TYPES })
  @ApiQuery({ name: 'domain', required: false, enum: DOMAINS })
  @ApiQuery({ name: 'groupBy', required: false, enum: ['device', 'area', 'type', 'none'] })
  @ApiHistoryWindowQueries()
  async query(
    @Query(new ZodValidationPipe(historyParams)) params: HistoryParams,
    @Res({ passthrough: true }) response: Response,
  ) {
    const answer = await this.history.run(this.history.plan(params), params);
    if (params.format === 'csv') {
      response.type('text/csv; charset=utf-8');
      return this.history.toCsv(answer);
    }
    return { ...answer, groupBy: params.groupBy };
  }
}
