import { type DynamicModule, Global, Module } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import type { ThrottlerStorage } from '@nestjs/throttler';
import type { AuditLog } from '@ioc/audit';
import type { HealthCondition } from '@ioc/contracts';
import type { DatabaseProbe } from '@ioc/database';
import type { CommandRepository, DeviceStatusReader } from '@ioc/registry';
import type { Logger } from '@ioc/runtime';
import type { TimeSeriesStore } from '@ioc/timeseries';
import type { AccessPort } from '../access-port';
import type { LiveAdapterFactory } from '../cluster/api-redis';
import type { AlertingPort } from '../alerting-port';
import type { NotificationsPort } from '../notifications-port';
import type { OidcPort } from '../auth/oidc/oidc-port';
import type { OpsApiSettings } from '../api-config';
import type { RegistryProvisioning, RegistryReader } from '../registry-port';
import {
  ACCESS,
  ALERTING,
  DATABASE_HEALTH,
  NOTIFICATIONS,
  AUDIT_LOG,
  OIDC,
  COMMANDS,
  DEVICE_REGISTRY,
  DEVICE_STATUS,
  LOGGER,
  OPS_API_SETTINGS,
  LIVE_ADAPTER,
  RATE_LIMIT_STORAGE,
  REGISTRY_PROVISIONING,
  TIME_SERIES_STORE,
  NODE_HEALTH,
} from '../tokens';
import { AllExceptionsFilter } from './all-exceptions.filter';
import { ScopeService } from './scope.service';

/** The ports the app hands to the API: settings, device registry, time-series store, logger, device statuses, registry writes, access. */
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
  /**
   * The socket.io adapter of several API nodes (connectApiRedis's `liveAdapter`, with
   * IOC_REDIS_URL): broadcasts that only this node knows of reach the other nodes' sockets, and
   * AccessEnded notices end other nodes' sockets at once. Absent: socket.io's in-memory adapter.
   */
  liveAdapter?: LiveAdapterFactory;
  /** People, sessions, agencies and API keys: every route but the public ones needs a principal. */
  access: AccessPort;
  /**
   * The audit log (`@ioc/audit`) in the registry database: registry writes and commands are
   * recorded in it, and `/api/v1/audit` reads it. Without it nothing is recorded and the audit
   * routes answer 503.
   */
  audit?: AuditLog;
  /** Single sign-on through an OpenID Connect provider; without it the SSO routes answer 404 sso-disabled. */
  oidc?: OidcPort;
  /** Rules, alerts and silences (createAlertingPort); without it their routes answer 503 alerting-unavailable. */
  alerting?: AlertingPort;
  /** Webhook endpoints, subscriptions, deliveries (createNotificationsPort); without it their routes answer 503 notifications-unavailable. */
  notifications?: NotificationsPort;
  /**
   * Health conditions of the node itself, read at every `GET /health` (non-empty: 503 degraded),
   * e.g. `node-id-taken` from the node's id claim in Redis (claimNodeId in @ioc/runtime). None when absent.
   */
  nodeHealth?: () => HealthCondition[];
  /**
   * The registry database's periodic probe (a started DatabaseProbe): `/health` answers 503 with
   * `database.up: false` while PostgreSQL does not answer, and a request that met an unreachable
   * database marks it down at once. Absent: `/health` has no `database` part.
   */
  databaseHealth?: Pick<DatabaseProbe, 'health' | 'probe'>;
}

/** The status reader of an API given none: no device has a stored status. */
const NO_DEVICE_STATUS: DeviceStatusReader = {
  latestOf: () => Promise.resolve(new Map()),
  historyOf: () => Promise.resolve([]),
};

/**
 * The ports every feature module injects (by the tokens in tokens.ts), the ScopeService that
 * narrows reads to a principal's scope, and the exception filter that shapes every error answer. Global, so a feature module declares only its own parts.
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
      { provide: LIVE_ADAPTER, useValue: options.liveAdapter ?? null },
      { provide: ACCESS, useValue: options.access },
      { provide: AUDIT_LOG, useValue: options.audit ?? null },
      { provide: OIDC, useValue: options.oidc ?? null },
      { provide: ALERTING, useValue: options.alerting ?? null },
      { provide: NOTIFICATIONS, useValue: options.notifications ?? null },
      { provide: NODE_HEALTH, useValue: options.nodeHealth ?? ((): HealthCondition[] => []) },
      { provide: DATABASE_HEALTH, useValue: options.databaseHealth ?? null },
    ];
    return {
      module: ApiCoreModule,
      providers: [...ports, ScopeService, { provide: APP_FILTER, useClass: AllExceptionsFilter }],
      exports: [...ports.map((port) => port.provide), ScopeService],
    };
  }
}
