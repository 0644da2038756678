import { Module } from '@nestjs/common';
import { LiveModule } from '../live/live.module';
import { HealthController } from './health.controller';

/** `GET /health`: whether storage and broker answer. */
@Module({ imports: [LiveModule], controllers: [HealthController] })
export class HealthModule {}
