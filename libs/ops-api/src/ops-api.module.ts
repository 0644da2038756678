import { type DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import type { Logger } from '@ioc/runtime';
import type { TimeSeriesStore } from '@ioc/timeseries';
import type { OpsApiSettings } from './api-config';
import { AreasController } from './areas/areas.controller';
import { AllExceptionsFilter } from './common/all-exceptions.filter';
import { DevicesController } from './devices/devices.controller';
import { DevicesService } from './devices/devices.service';
import { HealthController } from './health/health.controller';
import { HistoryController } from './history/history.controller';
import { HistoryService } from './history/history.service';
import { IngestStatsController } from './ingest/ingest-stats.controller';
import { InternalBusRepository } from './live/internal-bus.repository';
import { LiveGateway } from './live/live.gateway';
import type { RegistryReader } from './registry-port';
import { DEVICE_REGISTRY, LOGGER, OPS_API_SETTINGS, TIME_SERIES_STORE } from './tokens';

export interface OpsApiModuleOptions {
  settings: OpsApiSettings;
  registry: RegistryReader;
  store: TimeSeriesStore;
  logger: Logger;
}

/** The operations-centre API: REST under /api/v1, health, and the /live socket.io namespace. */
@Module({})
export class OpsApiModule {
  static register(options: OpsApiModuleOptions): DynamicModule {
    return {
      module: OpsApiModule,
      controllers: [
        HealthController,
        DevicesController,
        HistoryController,
        AreasController,
        IngestStatsController,
      ],
      providers: [
        { provide: OPS_API_SETTINGS, useValue: options.settings },
        { provide: DEVICE_REGISTRY, useValue: options.registry },
        { provide: TIME_SERIES_STORE, useValue: options.store },
        { provide: LOGGER, useValue: options.logger },
        { provide: APP_FILTER, useClass: AllExceptionsFilter },
        InternalBusRepository,
        DevicesService,
        HistoryService,
        LiveGateway,
      ],
    };
  }
}
