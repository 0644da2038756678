import type { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AccessScope, Device, Reading, Role } from '@ioc/contracts';
import { type IocDatabase, openDatabase, prepareDatabase } from '@ioc/database';
import { createLogger } from '@ioc/runtime';
import { type AccessPort, type AccessPortSettings, createAccessPort } from '../access-port';
import type { OpsApiSettings } from '../api-config';
import { sessionTokenFor } from '../auth/session-token';
import { type OpsApiModuleOptions } from '../common/api-core.module';
import type { RegistryReader } from '../registry-port';
import { setupHttpEdge } from '../edge/http-edge';
import { setupOpenApi } from '../openapi';
import { OPS_API_NEST_OPTIONS, OpsApiModule } from '../ops-api.module';

/** The first admin every API under test has (created without a password: it gets tokens directly). */
export const TEST_ADMIN_USERNAME = 'spec-admin';

/** A person created by `createUser`, with a live session's access token. */
export interface TestUser {
  id: string;
  username: string;
  /** The password given to createUser, if any (an account without one cannot log in by password). */
  password?: string;
  sessionId: string;
  token: string;
  /** `{authorization: 'Bearer …'}` */
  headers: Record<string, string>;
}

/** An agency key issued by `issueAgencyKey`. */
export interface TestAgencyKey {
  agencyId: string;
  keyId: string;
  key: string;
  /** `{'x-api-key': key}` */
  headers: Record<string, string>;
}

/** The API module running in the test's process, as the app runs it. */
export interface ApiUnderTest {
  /** `http://127.0.0.1:{port}` */
  url: string;
  app: INestApplication;
  /** The database accounts, sessions, agencies and keys live in (the given one, or a temp SQLite file). */
  database: IocDatabase;
  access: AccessPort;
  /** An access token of the admin TEST_ADMIN_USERNAME. */
  adminToken: string;
  /** `{authorization: 'Bearer <adminToken>'}`: spread into a fetch's headers. */
  authHeaders: Record<string, string>;
  /**
   * Creates an account of `role` (username `spec-<role>-<n>` unless given; with `password` it can
   * log in by password — ~0.3 s of scrypt) and opens a bearer session for it.
   */
  createUser(
    role: Role,
    options?: { username?: string; password?: string; agencyId?: string; scope?: AccessScope },
  ): Promise<TestUser>;
  /** A new session and access token for an existing account (as a login would give, without the password). */
  sessionFor(
    accountId: string,
  ): Promise<{ sessionId: string; token: string; headers: Record<string, string> }>;
  /**
   * Issues an API key to agency `agencyId`, creating the agency with `scope` (default: the whole
   * province) when it does not exist.
   */
  issueAgencyKey(options?: {
    agencyId?: string;
    scope?: AccessScope;
    expiresAt?: string;
  }): Promise<TestAgencyKey>;
  close(): Promise<void>;
}

/**
 * Starts the API module on a free loopback port (port 0), with the app's Nest options and its
 * OpenAPI document, for the library's own specs. Settings default to a broker on a port nothing
 * listens on (the live feed idle; registry writes then answer without waiting for brokers), node id `spec`, 200 history points, edge settings with rate
 * limits far above any spec's bursts (a spec testing the edge passes its own); a silent logger.
 *
 * People: over `database` when given (prepared by the caller), else over a temporary SQLite file
 * it creates, migrates and removes on close. It creates the admin TEST_ADMIN_USERNAME (or reuses
 * it) and answers its token (`adminToken`, `authHeaders`), with helpers for users of a role and
 * agency keys.
 */
export async function startApiUnderTest(
  options: Omit<OpsApiModuleOptions, 'settings' | 'logger' | 'access'> & {
    settings?: Partial<OpsApiSettings>;
    logger?: OpsApiModuleOptions['logger'];
    /** Where people live; default a temporary SQLite file. */
    database?: IocDatabase;
    /** Access settings (defaults: the design page's; a random token secret; re-check every 2 s). */
    accessSettings?: Partial<AccessPortSettings>;
  },
): Promise<ApiUnderTest> {
  const settings: OpsApiSettings = {
    brokerUrl: 'mqtt://127.0.0.1:1',
    nodeId: 'spec',
    internalSecret: 'test-internal-secret-0123456789',
    historyMaxPoints: 200,
    // No broker unless the spec names one: a registry write then has no broker to wait for.
    ...(options.settings?.brokerUrl === undefined ? { brokerApplyTimeoutMs: 0 } : {}),
    // Specs send bursts from one address: limits far above them unless a spec sets its own.
    edge: {
      corsOrigins: [],
      rateLimits: { perPrincipal: 100_000, anonymous: 100_000, login: 100_000 },
      trustProxy: false,
      metrics: {},
    },
    ...options.settings,
  };
  let ownDir: string | undefined;
  let database = options.database;
  if (!database) {
    ownDir = mkdtempSync(join(tmpdir(), 'ops-api-people-'));
    database = openDatabase({ kind: 'sqlite', path: join(ownDir, 'people.sqlite') });
    await prepareDatabase(database);
  }
  const access = createAccessPort(database.db, {
    tokenSecret: randomBytes(32),
    liveRecheckMs: 2000,
    ...options.accessSettings,
  });
  const { database: _database, accessSettings: _settings, ...moduleOptions } = options;
  const app = await NestFactory.create(
    OpsApiModule.register({
      ...moduleOptions,
      settings,
      access,
      logger: options.logger ?? createLogger('ops-api-spec', { level: 'silent' }),
    }),
    { ...OPS_API_NEST_OPTIONS, logger: false },
  );
  setupHttpEdge(app);
  setupOpenApi(app);
  await app.listen(0, '127.0.0.1');
  const { port } = (app.getHttpServer() as { address(): AddressInfo }).address();
  const sessionFor = async (accountId: string) => {
    const { sessionId, token } = await sessionTokenFor(app, accountId);
    return { sessionId, token, headers: { authorization: `Bearer ${token}` } };
  };
  const admin =
    (await access.accounts.findByUsername(TEST_ADMIN_USERNAME)) ??
    (await access.accounts.create({
      username: TEST_ADMIN_USERNAME,
      displayName: 'Spec admin',
      role: 'admin',
    }));
  const adminSession = await sessionFor(admin.id);
  let users = 0;
  let agencies = 0;
  const opened = database;
  return {
    url: `http://127.0.0.1:${port}`,
    app,
    database: opened,
    access,
    adminToken: adminSession.token,
    authHeaders: adminSession.headers,
    sessionFor,
    async createUser(role, extra = {}) {
      const username = extra.username ?? `spec-${role}-${++users}-${port}`;
      const account = await access.accounts.create({
        username,
        displayName: `Spec ${role} ${users}`,
        role,
        ...(extra.password === undefined ? {} : { password: extra.password }),
        ...(extra.agencyId === undefined ? {} : { agencyId: extra.agencyId }),
        ...(extra.scope === undefined ? {} : { scope: extra.scope }),
      });
      const session = await sessionFor(account.id);
      return {
        id: account.id,
        username,
        ...(extra.password === undefined ? {} : { password: extra.password }),
        ...session,
      };
    },
    async issueAgencyKey(extra = {}) {
      const agencyId = extra.agencyId ?? `spec-agency-${++agencies}-${port}`;
      if (!(await access.agencies.get(agencyId))) {
        await access.agencies.create({
          id: agencyId,
          name: `Spec agency ${agencyId}`,
          scope: extra.scope ?? {},
        });
      }
      const { record, key } = await access.apiKeys.issue({
        agencyId,
        name: 'spec key',
        ...(extra.expiresAt === undefined ? {} : { expiresAt: extra.expiresAt }),
      });
      return { agencyId, keyId: record.id, key, headers: { 'x-api-key': key } };
    },
    async close() {
      await app.close();
      if (ownDir !== undefined) {
        await opened.close();
        rmSync(ownDir, { recursive: true, force: true });
      }
    },
  };
}

/** A Reading of `device` as ingest makes it (area path from `registry`), for writing into a test store. */
export function testReading(
  registry: Pick<RegistryReader, 'areaPath'>,
  device: Device,
  kind: Reading['kind'],
  ts: number,
  metrics: Reading['metrics'],
  event?: string,
): Reading {
  return {
    deviceId: device.id,
    deviceType: device.type,
    domain: device.domain,
    kind,
    areaId: device.areaId,
    areaPath: [...registry.areaPath(device.areaId)],
    location: device.location,
    ts,
    ...(event === undefined ? {} : { event }),
    metrics,
  };
}
