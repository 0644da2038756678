import {
  type DynamicModule,
  type MiddlewareConsumer,
  Module,
  type NestModule,
  RequestMethod,
} from '@nestjs/common';
import { json, raw } from 'express';
import { AreasModule } from './areas/areas.module';
import { ApiCoreModule, type OpsApiModuleOptions } from './common/api-core.module';
import { CommandsController } from './commands/commands.controller';
import { CommandsModule } from './commands/commands.module';
import { DeviceStatusModule } from './device-status/device-status.module';
import { AreasController } from './areas/areas.controller';
import { CredentialsController } from './devices/credentials.controller';
import { DevicesController, IMPORT_BODY_LIMIT_BYTES } from './devices/devices.controller';
import { DevicesModule } from './devices/devices.module';
import { RateLimitModule } from './edge/rate-limit';
import { HealthModule } from './health/health.module';
import { HistoryModule } from './history/history.module';
import { IngestStatsModule } from './ingest/ingest-stats.module';
import { LiveModule } from './live/live.module';

export type { OpsApiModuleOptions } from './common/api-core.module';

/**
 * The operations-centre API: REST under /api/v1, health, metrics and the /live socket.io
 * namespace. It only composes feature modules; a new feature is a module of its own, added to
 * FEATURE_MODULES, which injects the ports (tokens.ts) ApiCoreModule provides globally.
 * Create the app with OPS_API_NEST_OPTIONS (bodies are parsed here, see configure).
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
  CommandsModule,
] as const;

/** Largest JSON body a write route reads (a device, an area, a credential request): 64 KiB. */
export const JSON_BODY_LIMIT_BYTES = 64 * 1024;

/**
 * Nest options the app must create the API with: the module parses bodies itself, with explicit
 * limits per route (JSON_BODY_LIMIT_BYTES; IMPORT_BODY_LIMIT_BYTES for an import file, read as
 * bytes whatever its type), instead of Nest's global 100 KB JSON parser, which would run first.
 */
export const OPS_API_NEST_OPTIONS = { bodyParser: false } as const;

@Module({})
export class OpsApiModule implements NestModule {
  static register(options: OpsApiModuleOptions): DynamicModule {
    // RateLimitModule last: its guard runs after the authentication guard (request.principal set).
    return {
      module: OpsApiModule,
      imports: [ApiCoreModule.register(options), ...FEATURE_MODULES, RateLimitModule],
    };
  }

  /**
   * Body parsers with explicit limits (a larger body is a 413): the import file first — as bytes,
   * whatever its type, so the import decodes it strictly as UTF-8 and names the offset of a bad
   * byte instead of replacing it with U+FFFD — then JSON.
   */
  configure(consumer: MiddlewareConsumer): void {
    consumer
      .apply(raw({ type: () => true, limit: IMPORT_BODY_LIMIT_BYTES }))
      .forRoutes({ path: 'api/v1/devices/import', method: RequestMethod.POST });
    consumer
      .apply(json({ limit: JSON_BODY_LIMIT_BYTES }))
      .forRoutes(DevicesController, CredentialsController, AreasController, CommandsController);
  }
}
