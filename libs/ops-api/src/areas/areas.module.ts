import { Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module';
import { DevicesModule } from '../devices/devices.module';
import { AreasController } from './areas.controller';

/** `/api/v1/areas`: the administrative area tree of the registry; areas created, renamed and moved. */
@Module({ imports: [DevicesModule, AuditModule], controllers: [AreasController] })
export class AreasModule {}
