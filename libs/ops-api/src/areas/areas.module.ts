import { Module } from '@nestjs/common';
import { AreasController } from './areas.controller';

/** `GET /api/v1/areas`: the administrative area tree of the registry. */
@Module({ controllers: [AreasController] })
export class AreasModule {}
