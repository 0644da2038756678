import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import type { INestApplication } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import type { AccessScope } from '@ioc/contracts';
import { AccountRepository, AgencyRepository, ApiKeyRepository } from '@ioc/access';
import { AuditLog } from '@ioc/audit';
import type { IocDatabase } from '@ioc/database';
import {
  createAccessPort,
  DEFAULT_HTTP_EDGE,
  OPS_API_NEST_OPTIONS,
  type OpsApiModuleOptions,
  OpsApiModule,
  sessionTokenFor,
  setupHttpEdge,
} from '@ioc/ops-api';
import { freePort } from '@ioc/testing';

/** The API module in this process on a loopback port, with an admin session and an agency key. */
export interface ApiInProcess {
  app: INestApplication;
  url: string;
  /** `{authorization: 'Bearer <access token>'}` of an admin account. */
  adminHeaders: Record<string, string>;
  /** `{'x-api-key': …}` of an agency key whose scope is `agencyScope`. */
  agencyHeaders: Record<string, string>;
  close(): Promise<void>;
}

/**
 * Starts the API module as the app composes it (authentication, rate limits at `ratePerMinute`,
 * edge, audit log) over `database` (migrated by the caller) on a free loopback port, and makes an
 * admin session (no password: a session token, as a login would give) and an agency API key.
 */
export async function startApiInProcess(
  database: IocDatabase,
  options: Omit<OpsApiModuleOptions, 'access' | 'settings'> & {
    settings: Omit<OpsApiModuleOptions['settings'], 'edge'>;
    agencyScope: AccessScope;
    ratePerMinute?: number;
  },
): Promise<ApiInProcess> {
  const { agencyScope, ratePerMinute = 1_000_000, settings, ...ports } = options;
  const app = await NestFactory.create(
    OpsApiModule.register({
      ...ports,
      settings: {
        ...settings,
        edge: {
          ...DEFAULT_HTTP_EDGE,
          rateLimits: { perPrincipal: ratePerMinute, anonymous: ratePerMinute, login: ratePerMinute },
        },
      },
      audit: new AuditLog(database.db),
      access: createAccessPort(database.db, { tokenSecret: randomBytes(32) }),
    }),
    { ...OPS_API_NEST_OPTIONS, logger: false },
  );
  setupHttpEdge(app);
  const port = await freePort();
  await app.listen(port, '127.0.0.1');
  // Named after the node: several APIs in one benchmark may share the database.
  const suffix = settings.nodeId.toLowerCase();
  const admin = await new AccountRepository(database.db).create({
    username: `bench-admin-${suffix}`,
    displayName: 'Bench',
    role: 'admin',
  });
  const { token } = await sessionTokenFor(app, admin.id);
  const agencyId = `bench-agency-${suffix}`;
  await new AgencyRepository(database.db).create({ id: agencyId, name: 'Bench agency', scope: agencyScope });
  const { key } = await new ApiKeyRepository(database.db).issue({ agencyId, name: 'bench' });
  return {
    app,
    url: `http://127.0.0.1:${port}`,
    adminHeaders: { authorization: `Bearer ${token}` },
    agencyHeaders: { 'x-api-key': key },
    close: () => app.close(),
  };
}
