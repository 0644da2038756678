import type { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { AddressInfo } from 'node:net';
import type { Device, Reading } from '@ioc/contracts';
import { createLogger } from '@ioc/runtime';
import type { OpsApiSettings } from '../api-config';
import { type OpsApiModuleOptions } from '../common/api-core.module';
import type { RegistryReader } from '../registry-port';
import { setupHttpEdge } from '../edge/http-edge';
import { setupOpenApi } from '../openapi';
import { OPS_API_NEST_OPTIONS, OpsApiModule } from '../ops-api.module';

/** The API module running in the test's process, as the app runs it. */
export interface ApiUnderTest {
  /** `http://127.0.0.1:{port}` */
  url: string;
  app: INestApplication;
  close(): Promise<void>;
}

/**
 * Starts the API module on a free loopback port (port 0), with the app's Nest options and its
 * OpenAPI document, for the library's own specs. Settings default to a broker on a port nothing
 * listens on (the live feed idle), node id `spec`, 200 history points, edge settings with rate
 * limits far above any spec's bursts (a spec testing the edge passes its own); a silent logger.
 */
export async function startApiUnderTest(
  options: Omit<OpsApiModuleOptions, 'settings' | 'logger'> & {
    settings?: Partial<OpsApiSettings>;
    logger?: OpsApiModuleOptions['logger'];
  },
): Promise<ApiUnderTest> {
  const settings: OpsApiSettings = {
    brokerUrl: 'mqtt://127.0.0.1:1',
    nodeId: 'spec',
    internalSecret: 'test-internal-secret-0123456789',
    historyMaxPoints: 200,
    // Specs send bursts from one address: limits far above them unless a spec sets its own.
    edge: {
      corsOrigins: [],
      rateLimits: { perPrincipal: 100_000, anonymous: 100_000, login: 100_000 },
      trustProxy: false,
      metrics: {},
    },
    ...options.settings,
  };
  const app = await NestFactory.create(
    OpsApiModule.register({
      ...options,
      settings,
      logger: options.logger ?? createLogger('ops-api-spec', { level: 'silent' }),
    }),
    { ...OPS_API_NEST_OPTIONS, logger: false },
  );
  setupHttpEdge(app);
  setupOpenApi(app);
  await app.listen(0, '127.0.0.1');
  const { port } = (app.getHttpServer() as { address(): AddressInfo }).address();
  return { url: `http://127.0.0.1:${port}`, app, close: () => app.close() };
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
