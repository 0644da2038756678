import { Module } from '@nestjs/common';
import { DevicesModule } from '../devices/devices.module';
import { AreasController } from './areas.controller';

/** `/api/v1/areas`: the administrative area tree of the registry; areas created, renamed and moved. */
@Module({ imports: [DevicesModule], controllers: [AreasController] })
export class AreasModule {}
