import { type DynamicModule, Module } from '@nestjs/common';
import { AreasModule } from './areas/areas.module';
import { ApiCoreModule, type OpsApiModuleOptions } from './common/api-core.module';
import { DeviceStatusModule } from './device-status/device-status.module';
import { DevicesModule } from './devices/devices.module';
import { HealthModule } from './health/health.module';
import { HistoryModule } from './history/history.module';
import { IngestStatsModule } from './ingest/ingest-stats.module';
import { LiveModule } from './live/live.module';

export type { OpsApiModuleOptions } from './common/api-core.module';

/**
 * The operations-centre API: REST under /api/v1, health, metrics and the /live socket.io
 * namespace. It only composes feature modules; a new feature is a module of its own, added to
 * FEATURE_MODULES, which injects the ports (tokens.ts) ApiCoreModule provides globally.
 */
export const FEATURE_MODULES = [
  HealthModule,
  // Before DevicesModule: its `devices/status` route must win over `devices/{id}`.
  DeviceStatusModule,
  DevicesModule,
  HistoryModule,
  AreasModule,
  IngestStatsModule,
  LiveModule,
] as const;

@Module({})
export class OpsApiModule {
  static register(options: OpsApiModuleOptions): DynamicModule {
    return { module: OpsApiModule, imports: [ApiCoreModule.register(options), ...FEATURE_MODULES] };
  }
}
