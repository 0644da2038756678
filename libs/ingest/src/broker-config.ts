import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { alertEngineEnvShape } from '@ioc/alerting';
import { DEVELOPMENT_INTERNAL_SECRET } from '@ioc/bus';
import { registryEnvShape } from '@ioc/registry';
import { ConfigError, envField, redisEnvShape, requireNodeIdWithRedis } from '@ioc/runtime';
import { storageEnvSchema } from '@ioc/timeseries';
import { DEFAULT_MAX_SESSIONS_PER_DEVICE } from './broker/authenticate';
import { DEFAULT_FAILED_LOGIN_LIMITS, type FailedLoginLimits } from './broker/failed-logins';
import type { TlsListenerOptions, WebSocketListenerOptions } from './broker/listeners';
import { DEFAULT_CLOCK_SUSPECT_MS, DEFAULT_RESTART_GRACE_MS } from './device-status-tracker';

/**
 * Default bound on an MQTT packet's remaining length, 64 KiB: the 16 KiB payload limit
 * (IOC_MAX_PAYLOAD_BYTES) plus a topic, with room to spare. 268,435,455 is the most the
 * remaining-length field can announce (MQTT 3.1.1 §2.2.3), hence the upper bound.
 */
export const DEFAULT_MAX_PACKET_BYTES = 64 * 1024;

/** Every environment variable the broker reads, validated once at boot. */
export const brokerEnvSchema = storageEnvSchema.extend({
  ...registryEnvShape,
  ...redisEnvShape,
  IOC_DEMO_CREDENTIALS_FILE: z
    .string()
    .optional()
    .describe(
      'Demo set-up only (npm start sets it): a JSON file of device id → secret the broker fills at start for every active device, for the simulator; secrets in clear, mode 0600',
    ),
  IOC_BROKER_ID: z
    .string()
    .regex(/^[a-z0-9-]{1,32}$/, 'lowercase letters, digits and dashes, at most 32')
    .default('1')
    .describe(
      "This broker node's id, unique among broker nodes: names what it publishes about itself on the internal bus and, with IOC_REDIS_URL, its aedes id ioc-broker-<id> (required then)",
    ),
  IOC_MQTT_HOST: z.string().default('0.0.0.0').describe('Address the MQTT listener binds'),
  IOC_MQTT_PORT: envField.port(1883).describe('MQTT (TCP) port'),
  IOC_SEEDS_DIR: z
    .string()
    .optional()
    .describe(
      'Directory with areas.json and devices.json, imported into the registry database on its first start (default: seeds/)',
    ),
  IOC_INTERNAL_SECRET: z
    .string()
    .min(16)
    .default(DEVELOPMENT_INTERNAL_SECRET)
    .describe('Shared secret of platform services on the broker (user ioc-internal); secret'),
  IOC_MAX_PAYLOAD_BYTES: envField.positiveInt(16_384).describe('Largest accepted device payload'),
  IOC_MQTT_MAX_PACKET_BYTES: z.coerce
    .number()
    .int()
    .min(1024)
    .max(268_435_455)
    .default(DEFAULT_MAX_PACKET_BYTES)
    .describe(
      'Largest MQTT packet (remaining length) the broker reads; a longer fixed header closes the connection before the body is read',
    ),
  IOC_MAX_CLOCK_SKEW_MS: envField.positiveInt(300_000).describe('How far in the future a timestamp may be'),
  IOC_WRITE_BATCH_SIZE: z.coerce
    .number()
    .int()
    .positive()
    .optional()
    .describe('Readings per store write at most (default: by store, see writeBatchDefaults)'),
  IOC_WRITE_BATCH_DELAY_MS: z.coerce
    .number()
    .int()
    .positive()
    .optional()
    .describe('Longest a reading waits to be written (default: by store, see writeBatchDefaults)'),
  IOC_SPOOL_DIR: z
    .string()
    .optional()
    .describe('Directory of the durable spool (default: IOC_DATA_DIR/spool)'),
  IOC_SPOOL_MAX_BYTES: envField
    .positiveInt(256 * 1024 * 1024)
    .describe('Bound on readings waiting for the store; beyond it publishes are slowed, then refused'),
  IOC_SPOOL_FULL_WAIT_MS: z.coerce
    .number()
    .int()
    .min(0)
    .default(1000)
    .describe('How long a publish waits for room in a full spool before it is refused'),
  IOC_MQTT_AUTH: z
    .enum(['credentials', 'off'])
    .default('credentials')
    .describe(
      'Device authentication: credentials (username = device id, password = secret; each device bound to its own topics) or off (development and benchmarks only)',
    ),
  IOC_MQTT_AUTH_MAX_FAILURES_PER_DEVICE: envField
    .positiveInt(DEFAULT_FAILED_LOGIN_LIMITS.perDevice)
    .describe(
      'Failed logins of one device id within the window after which its logins are refused for a while',
    ),
  IOC_MQTT_AUTH_MAX_FAILURES_PER_ADDRESS: envField
    .positiveInt(DEFAULT_FAILED_LOGIN_LIMITS.perAddress)
    .describe('Failed logins from one remote address within the window after which its logins are refused'),
  IOC_MQTT_AUTH_FAILURE_WINDOW_SECONDS: envField
    .positiveInt(DEFAULT_FAILED_LOGIN_LIMITS.windowSeconds)
    .describe('Window over which failed logins are counted, seconds'),
  IOC_MQTT_AUTH_BLOCK_SECONDS: envField
    .positiveInt(DEFAULT_FAILED_LOGIN_LIMITS.blockSeconds)
    .describe('How long a device id or address that failed too often is refused, seconds'),
  IOC_MQTT_MAX_SESSIONS_PER_DEVICE: envField
    .positiveInt(DEFAULT_MAX_SESSIONS_PER_DEVICE)
    .describe('Live sessions one device may hold at once; another CONNECT is refused with CONNACK 5'),
  IOC_MQTT_TLS_PORT: z.coerce
    .number()
    .int()
    .min(0)
    .max(65535)
    .optional()
    .describe('MQTT over TLS port (no TLS listener when unset)'),
  IOC_MQTT_TLS_HOST: z
    .string()
    .optional()
    .describe('Address the TLS listener binds (default: IOC_MQTT_HOST)'),
  IOC_MQTT_TLS_CERT_FILE: z
    .string()
    .optional()
    .describe('PEM server certificate (chain) of the TLS listener'),
  IOC_MQTT_TLS_KEY_FILE: z.string().optional().describe('PEM private key of the TLS listener; secret'),
  IOC_MQTT_TLS_CA_FILE: z
    .string()
    .optional()
    .describe(
      'PEM CA of client certificates: when set, a verified certificate whose CN is a device id logs that device in',
    ),
  IOC_MQTT_WS_PORT: z.coerce
    .number()
    .int()
    .min(0)
    .max(65535)
    .optional()
    .describe('MQTT over WebSocket port, path /mqtt (no WebSocket listener when unset)'),
  IOC_MQTT_WS_HOST: z
    .string()
    .optional()
    .describe('Address the WebSocket listener binds (default: IOC_MQTT_HOST)'),
  IOC_CLOCK_SUSPECT_MS: envField
    .positiveInt(DEFAULT_CLOCK_SUSPECT_MS)
    .describe(
      'How far a device timestamp may be off the receive time before the device is flagged clockSuspect (ahead: at once; behind: when it persists 10 min)',
    ),
  IOC_STATUS_RESTART_GRACE_MS: z.coerce
    .number()
    .int()
    .min(0)
    .default(DEFAULT_RESTART_GRACE_MS)
    .describe(
      'After a broker start, how long devices recorded online by its previous run have to reconnect before they are marked offline (broker-restart)',
    ),
  IOC_LOG_LEVEL: envField.logLevel(),
});
export type BrokerEnv = z.infer<typeof brokerEnvSchema>;

/** How a broker node shares its MQTT state with the other nodes (IngestBrokerOptions.cluster). */
export interface BrokerClusterOptions {
  /** IOC_REDIS_URL. */
  redisUrl: string;
  /** IOC_BROKER_ID: the node's aedes id is `ioc-broker-<brokerId>`. */
  brokerId: string;
  /**
   * aedes' heartbeat interval between the nodes (ms; default CLUSTER_HEARTBEAT_MS, 5000). Not
   * configurable from the environment: every node must use the same; tests shorten it.
   */
  heartbeatMs?: number;
}

/**
 * The broker's scale-out settings: undefined without IOC_REDIS_URL (single-process mode).
 *
 * @param raw the environment before defaults (to tell an IOC_BROKER_ID given from the default)
 * @throws ConfigError naming IOC_BROKER_ID when IOC_REDIS_URL is set and IOC_BROKER_ID is not
 */
export function brokerClusterFromEnv(
  env: BrokerEnv,
  raw: NodeJS.ProcessEnv = process.env,
): BrokerClusterOptions | undefined {
  requireNodeIdWithRedis('IOC_BROKER_ID', env.IOC_REDIS_URL, raw);
  return env.IOC_REDIS_URL === undefined
    ? undefined
    : { redisUrl: env.IOC_REDIS_URL, brokerId: env.IOC_BROKER_ID };
}

/** The failed-login limits of the broker's environment (see FailedLoginLimits). */
export function failedLoginLimitsFromEnv(env: BrokerEnv): FailedLoginLimits {
  return {
    perDevice: env.IOC_MQTT_AUTH_MAX_FAILURES_PER_DEVICE,
    perAddress: env.IOC_MQTT_AUTH_MAX_FAILURES_PER_ADDRESS,
    windowSeconds: env.IOC_MQTT_AUTH_FAILURE_WINDOW_SECONDS,
    blockSeconds: env.IOC_MQTT_AUTH_BLOCK_SECONDS,
  };
}

/**
 * The optional TLS and WebSocket listeners of the broker's environment, certificate files read.
 *
 * @throws ConfigError naming the variables when IOC_MQTT_TLS_PORT is set without
 *   IOC_MQTT_TLS_CERT_FILE and IOC_MQTT_TLS_KEY_FILE, when TLS files are set without the port, or
 *   when a file cannot be read.
 */
export function brokerListenersFromEnv(env: BrokerEnv): {
  tls?: TlsListenerOptions;
  webSocket?: WebSocketListenerOptions;
} {
  const problems: string[] = [];
  const read = (variable: string, path: string | undefined): Buffer | undefined => {
    if (path === undefined) return undefined;
    try {
      return readFileSync(path);
    } catch (error) {
      problems.push(`${variable}: cannot read ${path} (${(error as Error).message})`);
      return undefined;
    }
  };
  let tls: TlsListenerOptions | undefined;
  if (env.IOC_MQTT_TLS_PORT !== undefined) {
    if (env.IOC_MQTT_TLS_CERT_FILE === undefined)
      problems.push('IOC_MQTT_TLS_CERT_FILE: required with IOC_MQTT_TLS_PORT');
    if (env.IOC_MQTT_TLS_KEY_FILE === undefined)
      problems.push('IOC_MQTT_TLS_KEY_FILE: required with IOC_MQTT_TLS_PORT');
    const cert = read('IOC_MQTT_TLS_CERT_FILE', env.IOC_MQTT_TLS_CERT_FILE);
    const key = read('IOC_MQTT_TLS_KEY_FILE', env.IOC_MQTT_TLS_KEY_FILE);
    const ca = read('IOC_MQTT_TLS_CA_FILE', env.IOC_MQTT_TLS_CA_FILE);
    if (cert && key) {
      tls = { host: env.IOC_MQTT_TLS_HOST ?? env.IOC_MQTT_HOST, port: env.IOC_MQTT_TLS_PORT, cert, key, ca };
    }
  } else if (env.IOC_MQTT_TLS_CERT_FILE ?? env.IOC_MQTT_TLS_KEY_FILE ?? env.IOC_MQTT_TLS_CA_FILE) {
    problems.push('IOC_MQTT_TLS_PORT: required when TLS files are set (no TLS listener would start)');
  }
  if (problems.length > 0) throw new ConfigError(problems);
  const webSocket =
    env.IOC_MQTT_WS_PORT === undefined
      ? undefined
      : { host: env.IOC_MQTT_WS_HOST ?? env.IOC_MQTT_HOST, port: env.IOC_MQTT_WS_PORT };
  return { tls, webSocket };
}

/**
 * Store writes are batched differently per store; in both cases a reading waiting to be written
 * is already durable in the spool and on its way to the live feed.
 * - embedded: large batches. Each commit rewrites a page for nearly every series it touches, so
 *   the disk writes per reading fall with the batch (42.8 KB at 500 readings, 8.8 KB at 5 000,
 *   2.8 KB at 20 000), and with them the spool's fdatasync latency, i.e. every PUBACK.
 * - influxdb: small, frequent batches. influxd appends to its WAL whatever the batch, and one
 *   large write each second makes a long flush every PUBACK of that moment waits behind.
 */
export function writeBatchDefaults(storage: 'embedded' | 'influxdb'): { size: number; delayMs: number } {
  return storage === 'embedded' ? { size: 20_000, delayMs: 1_000 } : { size: 5_000, delayMs: 100 };
}

/**
 * Every environment variable the broker process reads: brokerEnvSchema and the alert engine
 * host's variables (alertEngineEnvShape). apps/broker parses exactly this; deployment manifests
 * are checked against it (test/deploy-manifests.spec.ts).
 */
export const brokerProcessEnvSchema = brokerEnvSchema.extend(alertEngineEnvShape);
export type BrokerProcessEnv = z.infer<typeof brokerProcessEnvSchema>;
