import { Module } from '@nestjs/common';
import { HistoryModule } from '../history/history.module';
import { DevicesController } from './devices.controller';
import { DevicesService } from './devices.service';

/** `GET /api/v1/devices`, one device, its latest values and its history. */
@Module({
  imports: [HistoryModule],
  controllers: [DevicesController],
  providers: [DevicesService],
})
export class DevicesModule {}
