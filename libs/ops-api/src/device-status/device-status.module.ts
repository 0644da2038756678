import { Module } from '@nestjs/common';
import { DeviceStatusController } from './device-status.controller';
import { DeviceStatusService } from './device-status.service';

/** `GET /api/v1/devices/status` and `GET /api/v1/devices/{id}/status/history`. */
@Module({
  controllers: [DeviceStatusController],
  providers: [DeviceStatusService],
})
export class DeviceStatusModule {}
