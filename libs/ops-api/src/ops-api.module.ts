import {
  type DynamicModule,
  type MiddlewareConsumer,
  Module,
  type NestModule,
  RequestMethod,
} from '@nestjs/common';
import { json, raw } from 'express';
import { AlertsModule } from './alerts/alerts.module';
import { AlertsController } from './alerts/alerts.controller';
import { RulesController } from './alerts/rules.controller';
import { SilencesController } from './alerts/silences.controller';
import { AreasModule } from './areas/areas.module';
import { AccountsController } from './auth/accounts.controller';
import { AgenciesController } from './auth/agencies.controller';
import { AuthController } from './auth/auth.controller';
import { AuthorizationModule } from './auth/auth.guard';
import { AuthModule } from './auth/auth.module';
import { AuditModule } from './audit/audit.module';
import { ApiCoreModule, type OpsApiModuleOptions } from './common/api-core.module';
import { CommandsController } from './commands/commands.controller';
import { CommandsModule } from './commands/commands.module';
import { ConsoleModule } from './console/console.module';
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
import {
  DeliveriesController,
  SubscriptionsController,
  WebhooksController,
} from './notifications/notifications.controller';
import { NotificationsModule } from './notifications/notifications.module';

export type { OpsApiModuleOptions } from './common/api-core.module';

/**
 * The operations-centre API: REST under /api/v1, health, metrics and the /live socket.io
 * namespace. It only composes feature modules; a new feature is a module of its own, added to
 * FEATURE_MODULES, which injects the ports (tokens.ts) ApiCoreModule provides globally.
 * Create the app with OPS_API_NEST_OPTIONS (bodies are parsed here, see configure).
 */
export const FEATURE_MODULES = [
  // First: its global guard authenticates every request before any other guard runs.
  AuthModule,
  HealthModule,
  // Before DevicesModule: its `devices/status` route must win over `devices/{id}`.
  DeviceStatusModule,
  DevicesModule,
  HistoryModule,
  AreasModule,
  IngestStatsModule,
  LiveModule,
  CommandsModule,
  AuditModule,
  AlertsModule,
  NotificationsModule,
  ConsoleModule,
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
    // Global guards run in the order their modules are imported: AuthGuard (AuthModule, first of
    // FEATURE_MODULES) authenticates, RateLimitModule counts the request against its principal or
    // address — refused ones too — and AuthorizationModule then answers 401/403.
    return {
      module: OpsApiModule,
      imports: [ApiCoreModule.register(options), ...FEATURE_MODULES, RateLimitModule, AuthorizationModule],
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
      .forRoutes(
        DevicesController,
        CredentialsController,
        AreasController,
        CommandsController,
        AuthController,
        AccountsController,
        AgenciesController,
        RulesController,
        AlertsController,
        WebhooksController,
        SubscriptionsController,
        DeliveriesController,
        SilencesController,
      );
  }
}
