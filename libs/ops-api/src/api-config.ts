import { notifierEnvShape } from '@ioc/alerting';
import { z } from 'zod';
import { accessEnvShape } from '@ioc/access';
import { DEVELOPMENT_INTERNAL_SECRET, NODE_ID_PATTERN } from '@ioc/bus';
import { registryEnvShape } from '@ioc/registry';
import { envField, redisEnvShape } from '@ioc/runtime';
import { storageEnvSchema } from '@ioc/timeseries';
import { type HttpEdgeSettings, httpEdgeEnvShape } from './edge/edge-config';
import { oidcEnvShape } from './auth/oidc/oidc-settings';
import { type ConsoleSettings, consoleEnvShape } from './console/console-config';

/** Every environment variable the API reads, validated once at boot. */
export const apiEnvSchema = storageEnvSchema.extend({
  IOC_HTTP_HOST: z.string().default('0.0.0.0').describe('Address the HTTP/socket.io listener binds'),
  IOC_HTTP_PORT: envField.port(3000).describe('HTTP port of the REST API, OpenAPI docs and socket.io'),
  IOC_BROKER_URL: z
    .string()
    .default('mqtt://127.0.0.1:1883')
    .describe('Broker the API takes live readings from'),
  IOC_INTERNAL_SECRET: z
    .string()
    .min(16)
    .default(DEVELOPMENT_INTERNAL_SECRET)
    .describe('Shared secret of platform services on the broker (user ioc-internal); secret'),
  IOC_NODE_ID: z
    .string()
    .regex(NODE_ID_PATTERN, 'lower-case letters, digits and "-", 1-32 characters')
    .default('1')
    .describe(
      "This API node's id, unique among API nodes: its broker client id is ioc-api-<id>; must be set explicitly with IOC_REDIS_URL",
    ),
  IOC_SEEDS_DIR: z
    .string()
    .optional()
    .describe(
      'Directory with areas.json and devices.json (default: seeds/), imported into an empty registry database at its first start, and rules.json, the default alert rules, applied at every start',
    ),
  ...registryEnvShape,
  ...redisEnvShape,
  ...httpEdgeEnvShape,
  ...accessEnvShape,
  ...oidcEnvShape,
  ...notifierEnvShape,
  ...consoleEnvShape,
  IOC_HTTP_SECURE_COOKIE: envField
    .boolean(false)
    .describe(
      'Mark the browser session cookie Secure (sent over HTTPS only): true when the API is reached through HTTPS',
    ),
  IOC_HISTORY_MAX_POINTS: envField.positiveInt(10_000).describe('Most points one history request may return'),
  IOC_LOG_LEVEL: envField.logLevel(),
});
export type ApiEnv = z.infer<typeof apiEnvSchema>;

/** What the API module needs at run time, resolved from the environment by the app. */
export interface OpsApiSettings {
  brokerUrl: string;
  /** IOC_NODE_ID: names this node's reserved broker client id. */
  nodeId: string;
  internalSecret: string;
  historyMaxPoints: number;
  /**
   * Longest a registry write's answer waits for every broker node to apply it (ms; default
   * BROKER_APPLY_TIMEOUT_MS, 3000). Not from the environment: the library's specs that run with
   * no broker at all set 0, so that each write does not wait 3 s for one.
   */
  brokerApplyTimeoutMs?: number;
  /** Security headers, CORS, rate limits, proxies, /metrics protection (httpEdgeSettingsFromEnv); DEFAULT_HTTP_EDGE when absent. */
  edge?: HttpEdgeSettings;
  /** The operators' console: its files at `/`, its basemap, `GET /api/v1/console/config` (consoleSettingsFromEnv); DEFAULT_CONSOLE_SETTINGS when absent (no files). */
  console?: ConsoleSettings;
}
