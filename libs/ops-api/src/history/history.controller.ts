import { Controller, Get, HttpStatus, Query, Res } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { type HistoryBody, historyBody, type Principal } from '@ioc/contracts';
import { CurrentPrincipal } from '../common/auth.decorators';
import { ApiAnswers, ApiQueriesFrom } from '../common/openapi-zod';
import { ZodValidationPipe } from '../common/zod-validation.pipe';
import { historyParams, type HistoryParams } from './history-params';
import { HistoryService } from './history.service';

@ApiTags('history')
@Controller('api/v1/history')
export class HistoryController {
  constructor(private readonly history: HistoryService) {}

  @Get()
  @ApiOperation({
    summary: 'History of several metrics over several devices, grouped by device, area or device type',
    description:
      'Choose devices by `devices` (ids), `areas` (sub-areas included), `type` and/or `domain`; `metrics` is a comma-separated list (≤ 10), status metrics (online, batteryLevel, rssi, firmwareVersion) included. groupBy=device (one series per device), area (one per listed area), type (one per device type) or none (one series). With every (e.g. 1h, 1d) and fn (mean|min|max|last) each series has one aggregate per window that holds data over its devices, the mean weighted by point count; windows align on midnight in tz (default Asia/Ho_Chi_Minh). Each series says which stored resolution answered it; a point of a camera event says which event it was. format=csv for CSV. A request whose answer would hold more points (raw points or windows with data, all series together) than the point limit is refused with 400; an unknown parameter is refused with 400 naming it. A principal with a scope reads only the devices its scope holds (every series, whatever groupBy, is over those only), and a device, area, domain or type it names outside its scope is a 403 (reason out-of-scope) naming it.',
  })
  @ApiQueriesFrom(historyParams)
  @ApiAnswers({
    body: historyBody,
    csv: true,
    errors: [HttpStatus.BAD_REQUEST, HttpStatus.FORBIDDEN, HttpStatus.SERVICE_UNAVAILABLE],
  })
  async query(
    @Query(new ZodValidationPipe(historyParams)) params: HistoryParams,
    @Res({ passthrough: true }) response: Response,
    @CurrentPrincipal() principal: Principal,
  ): Promise<HistoryBody | string> {
    const answer = await this.history.run(this.history.plan(params, principal), params);
    if (params.format === 'csv') {
      response.type('text/csv; charset=utf-8');
      return this.history.toCsv(answer);
    }
    return { ...answer, groupBy: params.groupBy };
  }
}
