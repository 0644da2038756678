import { type DynamicModule, Global, Module } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import type { ThrottlerStorage } from '@nestjs/throttler';
import type { CommandRepository, DeviceStatusReader } from '@ioc/registry';
import type { Logger } from '@ioc/runtime';
import type { TimeSeriesStore } from '@ioc/timeseries';
import type { OpsApiSettings } from '../api-config';
import type { RegistryProvisioning, RegistryReader } from '../registry-port';
import {
  COMMANDS,
  DEVICE_REGISTRY,
  DEVICE_STATUS,
  LOGGER,
  OPS_API_SETTINGS,
  RATE_LIMIT_STORAGE,
  REGISTRY_PROVISIONING,
  TIME_SERIES_STORE,
} from '../tokens';
import { AllExceptionsFilter } from './all-exceptions.filter';

/** The ports the app hands to the API: settings, device registry, time-series store, logger, device statuses, registry writes. */
export interface OpsApiModuleOptions {
  settings: OpsApiSettings;
  registry: RegistryReader;
  store: TimeSeriesStore;
  logger: Logger;
  /**
   * Device statuses in the registry database (a DeviceStatusRepository). Without it every device
   * answers `unknown` in `GET /api/v1/devices/status` and its status history is empty.
   */
  deviceStatus?: DeviceStatusReader;
  /** Registry writes (provisioning); without it the write routes answer 503. */
  provisioning?: RegistryProvisioning;
  /** Command records in the registry database; without it the command routes answer 503. */
  commands?: CommandRepository;
  /**
   * Where rate-limit counters live (RateLimitModule): the throttler's in-memory storage when absent,
   * which is right for one API node; several nodes share one (Redis) behind this interface.
   */
  rateLimitStorage?: ThrottlerStorage;
}

/** The status reader of an API given none: no device has a stored status. */
const NO_DEVICE_STATUS: DeviceStatusReader = {
  latestOf: () => Promise.resolve(new Map()),
  historyOf: () => Promise.resolve([]),
};

/**
 * The ports every feature module injects (by the tokens in tokens.ts) and the exception filter
 * that shapes every error answer. Global, so a feature module declares only its own parts.
 */
@Global()
@Module({})
export class ApiCoreModule {
  static register(options: OpsApiModuleOptions): DynamicModule {
    const ports = [
      { provide: OPS_API_SETTINGS, useValue: options.settings },
      { provide: DEVICE_REGISTRY, useValue: options.registry },
      { provide: TIME_SERIES_STORE, useValue: options.store },
      { provide: LOGGER, useValue: options.logger },
      { provide: DEVICE_STATUS, useValue: options.deviceStatus ?? NO_DEVICE_STATUS },
      { provide: REGISTRY_PROVISIONING, useValue: options.provisioning ?? null },
      { provide: COMMANDS, useValue: options.commands ?? null },
      { provide: RATE_LIMIT_STORAGE, useValue: options.rateLimitStorage ?? null },
    ];
    return {
      module: ApiCoreModule,
      providers: [...ports, { provide: APP_FILTER, useClass: AllExceptionsFilter }],
      exports: ports.map((port) => port.provide),
    };
  }
}
