import { Controller, Get, Param, Query, Res } from '@nestjs/common';
import type { Response } from 'express';
import {
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiQuery,
  ApiBadRequestResponse,
  ApiTags,
} from '@nestjs/swagger';
import { DEVICE_TYPES, DOMAINS } from '@ioc/contracts';
import { ZodValidationPipe } from '../common/zod-validation.pipe';
import { deviceHistoryParams, type DeviceHistoryParams } from '../history/history-params';
import { HistoryService } from '../history/history.service';
import { ApiHistoryWindowQueries } from '../history/history-api-docs';
import { deviceListQuery, type DeviceListQuery } from './device-queries';
import { DevicesService } from './devices.service';

@ApiTags('devices')
@Controller('api/v1/devices')
export class DevicesController {
  constructor(
    private readonly devices: DevicesService,
    private readonly history$: HistoryService,
  ) {}

  @Get()
  @ApiOperation({
    summary: 'Registered devices, filtered by domain, type and area (area includes its sub-areas)',
  })
  @ApiQuery({ name: 'domain', required: false, enum: DOMAINS })
  @ApiQuery({ name: 'type', required: false, enum: DEVICE_TYPES })
  @ApiQuery({ name: 'area', required: false, description: 'Area id; devices in its sub-areas match too' })
  @ApiQuery({ name: 'limit', required: false, type: Number })
  @ApiQuery({ name: 'offset', required: false, type: Number })
  @ApiBadRequestResponse({ description: 'A parameter is invalid; `parameter` names it' })
  list(@Query(new ZodValidationPipe(deviceListQuery)) query: DeviceListQuery) {
    return this.devices.list(query);
  }

  @Get(':id')
  @ApiOperation({ summary: 'One device with its area path' })
  @ApiNotFoundResponse()
  get(@Param('id') id: string) {
    return this.devices.get(id);
  }

  @Get(':id/latest')
  @ApiOperation({ summary: 'Latest value of each metric the device reported, with its time and unit' })
  @ApiOkResponse({ description: '`{ deviceId, lastSeen, metrics: { name: { value, ts, unit } } }`' })
  @ApiNotFoundResponse()
  latest(@Param('id') id: string) {
    return this.devices.latest(id);
  }

  @Get(':id/history')
  @ApiOperation({
    summary: 'History of one metric: raw points, or one aggregate per window',
    description:
      'from/to: ISO-8601 or epoch ms (default: the last 24 h). every: window (30s, 5m, 1h, 1d); fn: mean|min|max|last (default mean when every is set). Windows align on midnight in tz (default Asia/Ho_Chi_Minh); empty windows are omitted. The answer comes from the coarsest stored resolution that answers exactly (raw, 1-minute or 1-hour rollups) and names it in `resolution`. format=csv for CSV.',
  })
  @ApiQuery({ name: 'metric', required: true })
  @ApiHistoryWindowQueries()
  @ApiNotFoundResponse()
  async history(
    @Param('id') id: string,
    @Query(new ZodValidationPipe(deviceHistoryParams)) params: DeviceHistoryParams,
    @Res({ passthrough: true }) response: Response,
  ) {
    const { answer, ...body } = await this.devices.history(id, params);
    if (params.format === 'csv') {
      response.type('text/csv; charset=utf-8');
      return this.history$.toCsv(answer);
    }
    return body;
  }
}
