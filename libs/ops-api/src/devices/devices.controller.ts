import { Controller, Get, HttpStatus, Param, Query, Res } from '@nestjs/common';
import { ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import {
  type DeviceDetailBody,
  type DeviceHistoryBody,
  type DeviceListBody,
  deviceDetailBody,
  deviceHistoryBody,
  deviceListBody,
  type LatestBody,
  latestBody,
} from '@ioc/contracts';
import { ApiAnswers, ApiQueriesFrom } from '../common/openapi-zod';
import { NoParameters, ZodValidationPipe } from '../common/zod-validation.pipe';
import { deviceHistoryParams, type DeviceHistoryParams } from '../history/history-params';
import { HistoryService } from '../history/history.service';
import { deviceListQuery, type DeviceListQuery } from './device-queries';
import { DevicesService } from './devices.service';

const DEVICE_ID = ApiParam({ name: 'id', description: 'device id', schema: { type: 'string' } });

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
  @ApiQueriesFrom(deviceListQuery)
  @ApiAnswers({ body: deviceListBody, errors: [HttpStatus.BAD_REQUEST] })
  list(@Query(new ZodValidationPipe(deviceListQuery)) query: DeviceListQuery): DeviceListBody {
    return this.devices.list(query);
  }

  @Get(':id')
  @ApiOperation({ summary: 'One device with its area path' })
  @DEVICE_ID
  @ApiAnswers({ body: deviceDetailBody, errors: [HttpStatus.BAD_REQUEST, HttpStatus.NOT_FOUND] })
  get(@Param('id') id: string, @Query(NoParameters) _query: object): DeviceDetailBody {
    return this.devices.get(id);
  }

  @Get(':id/latest')
  @ApiOperation({
    summary:
      'Latest value of each metric the device reported (status metrics included), with its time, unit and, for camera events, the event',
  })
  @DEVICE_ID
  @ApiAnswers({
    body: latestBody,
    errors: [HttpStatus.BAD_REQUEST, HttpStatus.NOT_FOUND, HttpStatus.SERVICE_UNAVAILABLE],
  })
  latest(@Param('id') id: string, @Query(NoParameters) _query: object): Promise<LatestBody> {
    return this.devices.latest(id);
  }

  @Get(':id/history')
  @ApiOperation({
    summary: 'History of one metric: raw points, or one aggregate per window',
    description:
      'metric: any metric the device can report, status metrics (online, batteryLevel, rssi, firmwareVersion) included. from/to: ISO-8601 with seconds and an offset, or epoch ms (default: the last 24 h). every: window (30s, 5m, 1h, 1d; 1s to 3650d); fn: mean|min|max|last (default mean when every is set). Windows align on midnight in tz (default Asia/Ho_Chi_Minh); empty windows are omitted. The answer comes from the coarsest stored resolution that answers exactly (raw, 1-minute or 1-hour rollups) and names it in `resolution`; a point of a camera event says which event it was. format=csv for CSV.',
  })
  @DEVICE_ID
  @ApiQueriesFrom(deviceHistoryParams)
  @ApiAnswers({
    body: deviceHistoryBody,
    csv: true,
    errors: [HttpStatus.BAD_REQUEST, HttpStatus.NOT_FOUND, HttpStatus.SERVICE_UNAVAILABLE],
  })
  async history(
    @Param('id') id: string,
    @Query(new ZodValidationPipe(deviceHistoryParams)) params: DeviceHistoryParams,
    @Res({ passthrough: true }) response: Response,
  ): Promise<DeviceHistoryBody | string> {
    const { body, answer } = await this.devices.history(id, params);
    if (params.format === 'csv') {
      response.type('text/csv; charset=utf-8');
      return this.history$.toCsv(answer);
    }
    return body;
  }
}
