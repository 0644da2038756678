import { Controller, Get, HttpStatus, Param, Query } from '@nestjs/common';
import { ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import {
  type DeviceStatusHistoryBody,
  deviceStatusHistoryBody,
  type DeviceStatusListBody,
  deviceStatusListBody,
  type Principal,
} from '@ioc/contracts';
import { CurrentPrincipal } from '../common/auth.decorators';
import { ApiAnswers, ApiQueriesFrom } from '../common/openapi-zod';
import { ZodValidationPipe } from '../common/zod-validation.pipe';
import {
  deviceStatusHistoryQuery,
  type DeviceStatusHistoryQuery,
  deviceStatusListQuery,
  type DeviceStatusListQuery,
} from './device-status-queries';
import { DeviceStatusService } from './device-status.service';

/**
 * Device statuses. Registered before DevicesController, so `GET /api/v1/devices/status` is this
 * route and not the device named `status` (`GET /api/v1/devices/{id}`).
 */
@ApiTags('devices')
@Controller('api/v1/devices')
export class DeviceStatusController {
  constructor(private readonly service: DeviceStatusService) {}

  @Get('status')
  @ApiOperation({
    summary:
      'Every matching device with its status (online/offline/unknown, since, lastSeen, clock) and the latest value of each metric, in one call',
    description:
      'For a map’s first paint: no paging. Filters: domain, type, area (its sub-areas included). Then follow changes on socket.io /live (`deviceStatus` and `reading` events).',
  })
  @ApiQueriesFrom(deviceStatusListQuery)
  @ApiAnswers({
    body: deviceStatusListBody,
    errors: [HttpStatus.BAD_REQUEST, HttpStatus.FORBIDDEN, HttpStatus.SERVICE_UNAVAILABLE],
  })
  list(
    @Query(new ZodValidationPipe(deviceStatusListQuery)) query: DeviceStatusListQuery,
    @CurrentPrincipal() principal: Principal,
  ): Promise<DeviceStatusListBody> {
    return this.service.list(query, principal);
  }

  @Get(':id/status/history')
  @ApiOperation({
    summary: 'Status changes of one device in [from, to) (default: the last 24 h), oldest first',
  })
  @ApiParam({ name: 'id', description: 'device id', schema: { type: 'string' } })
  @ApiQueriesFrom(deviceStatusHistoryQuery)
  @ApiAnswers({
    body: deviceStatusHistoryBody,
    errors: [HttpStatus.BAD_REQUEST, HttpStatus.FORBIDDEN, HttpStatus.NOT_FOUND],
  })
  history(
    @Param('id') id: string,
    @Query(new ZodValidationPipe(deviceStatusHistoryQuery)) query: DeviceStatusHistoryQuery,
    @CurrentPrincipal() principal: Principal,
  ): Promise<DeviceStatusHistoryBody> {
    return this.service.history(id, query, principal);
  }
}
