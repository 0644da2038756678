import { z } from 'zod';
import { outOfScopeSchema } from '../access';
import { deviceStatusChangeSchema, deviceStatusSchema } from '../device-status';
import { DEVICE_TYPES, type DeviceType, STATUS_METRICS, derivedMetricsOf, metricsOf } from '../device-types';
import { roleSchema } from '../access';
import { DOMAINS } from '../domains';
import { DEVICE_STATES } from '../registry-entities';
import { healthConditionSchema, ingestStatsSchema } from '../internal-bus';
import type { MetricName } from '../metric-catalogue';

/**
 * The bodies the operations-centre REST API (`/api/v1`, `/health`) answers, as zod schemas, so
 * the API, a browser console and agency clients share one definition: the API's OpenAPI document
 * is generated from these schemas (`z.toJSONSchema`), its handlers are typed by them, and a
 * client may parse an answer with them. Browser-safe: zod only, no Node.js API.
 */

/** Stored resolutions a history answer comes from: raw points, 1-minute and 1-hour rollups. */
export const HISTORY_RESOLUTIONS = ['raw', '1m', '1h'] as const;
export type HistoryResolution = (typeof HISTORY_RESOLUTIONS)[number];

/** Aggregations over each history window; `last` is the only one for booleans and text. */
export const HISTORY_AGGREGATIONS = ['mean', 'min', 'max', 'last'] as const;
export type HistoryAggregation = (typeof HISTORY_AGGREGATIONS)[number];

/**
 * Time zones daily windows align on, with their UTC offset in ms. Vietnam keeps UTC+7 all year
 * (no daylight saving), so a fixed offset aligns windows on local midnight exactly; zones with
 * daylight saving would need calendar-aware windows and are not offered.
 */
export const HISTORY_TIME_ZONES = { UTC: 0, 'Asia/Ho_Chi_Minh': 7 * 3_600_000 } as const;
export type HistoryTimeZone = keyof typeof HISTORY_TIME_ZONES;
export const HISTORY_TIME_ZONE_NAMES = Object.keys(HISTORY_TIME_ZONES) as HistoryTimeZone[];
export const DEFAULT_HISTORY_TIME_ZONE: HistoryTimeZone = 'Asia/Ho_Chi_Minh';

/** How `GET /api/v1/history` groups devices into series. */
export const HISTORY_GROUP_BYS = ['device', 'area', 'type', 'none'] as const;
export type HistoryGroupBy = (typeof HISTORY_GROUP_BYS)[number];

/**
 * Every metric a device of this type can have stored, so every metric history answers for it:
 * its telemetry and event metrics (`metricsOf`), the status metrics any device reports
 * (`online`, `batteryLevel`, `rssi`, `firmwareVersion`) and the metrics the platform derives for
 * its type (`derivedMetricsOf`: `aqi`, `aqiDominant` of an air-quality station).
 */
export function queryableMetricsOf(type: DeviceType): MetricName[] {
  return [...new Set<MetricName>([...metricsOf(type), ...STATUS_METRICS, ...derivedMetricsOf(type)])];
}

/** Epoch milliseconds, UTC. */
const epochMs = z.number().int().describe('epoch milliseconds (UTC)');
const metricValue = z
  .union([z.number(), z.boolean(), z.string()])
  .describe('number for measurements, boolean for states, string for enumerations and text');
const event = z
  .string()
  .describe('for a value from a camera event: which event it was (accident, wrongWay, …)')
  .optional();

const geoPoint = z.object({ lat: z.number().min(-90).max(90), lon: z.number().min(-180).max(180) });

/** A registered device (the registry's `Device`). */
export const deviceBody = z.object({
  id: z.string(),
  type: z.enum(DEVICE_TYPES as [DeviceType, ...DeviceType[]]),
  domain: z.enum(DOMAINS),
  name: z.string(),
  areaId: z.string(),
  location: geoPoint,
  attributes: z.record(z.string(), z.string()).optional(),
  state: z
    .enum(DEVICE_STATES)
    .optional()
    .describe('life-cycle state: active (may connect), suspended, retired; absent means active'),
  silenceTimeoutSeconds: z
    .number()
    .int()
    .optional()
    .describe("seconds of silence after which the device counts as offline; absent: its type's default"),
});
export type DeviceBody = z.infer<typeof deviceBody>;

/** `GET /api/v1/devices`: one page of the matching devices and how many match in all. */
export const deviceListBody = z.object({
  total: z.number().int().nonnegative().describe('devices matching the filters, all pages'),
  items: z.array(deviceBody),
});
export type DeviceListBody = z.infer<typeof deviceListBody>;

/** `GET /api/v1/devices/{id}`: the device and the area ids from the root to its area. */
export const deviceDetailBody = deviceBody.extend({ areaPath: z.array(z.string()) });
export type DeviceDetailBody = z.infer<typeof deviceDetailBody>;

/** An administrative area (the registry's `Area`). */
export const areaBody = z.object({
  id: z.string(),
  name: z.string(),
  level: z.string(),
  parentId: z.string().nullable(),
  location: geoPoint.optional(),
  note: z.string().optional(),
});
export type AreaBody = z.infer<typeof areaBody>;

/** `GET /api/v1/areas`: the area tree as a flat list linked by `parentId`. */
export const areaListBody = z.array(areaBody);
export type AreaListBody = z.infer<typeof areaListBody>;

/** `GET /api/v1/areas/{id}`: the area and the area ids from the root to it. */
export const areaDetailBody = areaBody.extend({ path: z.array(z.string()) });
export type AreaDetailBody = z.infer<typeof areaDetailBody>;

/** One metric's latest value in `GET /api/v1/devices/{id}/latest`. */
export const latestValueBody = z.object({
  value: metricValue,
  ts: epochMs.describe('observation time of the value, epoch ms (UTC)'),
  unit: z.string().describe('display unit from the metric catalogue; empty when dimensionless'),
  event,
});
export type LatestValueBody = z.infer<typeof latestValueBody>;

/** `GET /api/v1/devices/{id}/latest`: every metric (status metrics included) the device reported. */
export const latestBody = z.object({
  deviceId: z.string(),
  lastSeen: epochMs
    .nullable()
    .describe(
      'newest observation time of any metric the device reported (derived ones, such as aqi, left out); null if none',
    ),
  metrics: z.record(z.string(), latestValueBody).describe('by metric name; never-reported metrics absent'),
});
export type LatestBody = z.infer<typeof latestBody>;

/**
 * One device in `GET /api/v1/devices/status`: what a map needs to draw it — where it is, its
 * registry state, its connectivity status and the latest value of every metric it reported.
 */
export const deviceStatusEntryBody = deviceBody.omit({ attributes: true }).extend({
  state: z.enum(DEVICE_STATES).describe('registry life-cycle state'),
  status: deviceStatusSchema.omit({ deviceId: true }),
  metrics: z
    .record(z.string(), latestValueBody)
    .describe('latest value by metric name (status metrics included); never-reported metrics absent'),
});
export type DeviceStatusEntryBody = z.infer<typeof deviceStatusEntryBody>;

/** `GET /api/v1/devices/status`: every matching device (no paging: a map's first paint). */
export const deviceStatusListBody = z.object({
  total: z.number().int().nonnegative(),
  online: z.number().int().nonnegative().describe('of which online'),
  items: z.array(deviceStatusEntryBody),
});
export type DeviceStatusListBody = z.infer<typeof deviceStatusListBody>;

/** `GET /api/v1/devices/{id}/status/history`: the device's status changes in [from, to), oldest first. */
export const deviceStatusHistoryBody = z.object({
  deviceId: z.string(),
  from: epochMs.describe('inclusive start, epoch ms'),
  to: epochMs.describe('exclusive end, epoch ms'),
  changes: z.array(deviceStatusChangeSchema),
});
export type DeviceStatusHistoryBody = z.infer<typeof deviceStatusHistoryBody>;

/** A point of one device's history: a raw value, or one aggregate per non-empty window. */
export const historyPointBody = z.object({
  ts: epochMs.describe('observation time, or the start of the window'),
  value: metricValue,
  event,
});
export type HistoryPointBody = z.infer<typeof historyPointBody>;

/** Window parameters as the API applied them, repeated in every history answer. */
const windowEcho = {
  from: epochMs.describe('inclusive start, epoch ms'),
  to: epochMs.describe('exclusive end, epoch ms'),
  every: z.number().int().positive().nullable().describe('window length in ms; null for raw points'),
  fn: z.enum(HISTORY_AGGREGATIONS).nullable(),
  tz: z.enum(HISTORY_TIME_ZONE_NAMES as [HistoryTimeZone, ...HistoryTimeZone[]]),
};

/** `GET /api/v1/devices/{id}/history` (JSON). */
export const deviceHistoryBody = z.object({
  deviceId: z.string(),
  metric: z.string(),
  unit: z.string(),
  ...windowEcho,
  resolution: z.enum(HISTORY_RESOLUTIONS).describe('the stored resolution the points come from'),
  points: z.array(historyPointBody),
});
export type DeviceHistoryBody = z.infer<typeof deviceHistoryBody>;

/** A point of a multi-device series. */
export const seriesPointBody = z.object({
  ts: epochMs.describe('observation time, or the start of the window'),
  value: metricValue,
  count: z.number().int().positive().optional().describe('aggregates: points the value was computed from'),
  deviceId: z.string().optional().describe('raw points: the device that reported it'),
  event,
});
export type SeriesPointBody = z.infer<typeof seriesPointBody>;

/** One series of `GET /api/v1/history`: one metric over one group of devices. */
export const seriesBody = z.object({
  metric: z.string(),
  unit: z.string(),
  group: z.object({ by: z.enum(HISTORY_GROUP_BYS), key: z.string() }),
  devices: z.number().int().positive().describe('devices in the group'),
  resolution: z.enum(HISTORY_RESOLUTIONS),
  points: z.array(seriesPointBody),
});
export type SeriesBody = z.infer<typeof seriesBody>;

/** `GET /api/v1/history` (JSON). */
export const historyBody = z.object({
  ...windowEcho,
  groupBy: z.enum(HISTORY_GROUP_BYS),
  series: z.array(seriesBody),
});
export type HistoryBody = z.infer<typeof historyBody>;

/**
 * `GET /health`: 200 with status ok, 503 with status degraded — when the store does not answer,
 * the broker link is down, or (PostgreSQL) the registry database does not answer its probe.
 */
export const healthBody = z.object({
  status: z.enum(['ok', 'degraded']),
  storage: z.object({ kind: z.enum(['embedded', 'influxdb']), up: z.boolean() }),
  broker: z.object({
    connected: z.boolean(),
    /**
     * `internal-secret`: the broker refused this API node's login as a platform service (CONNACK
     * return code 4 or 5): its IOC_INTERNAL_SECRET differs from the broker's.
     */
    refused: z.enum(['internal-secret']).optional(),
  }),
  /**
   * What is wrong with this API node itself, when anything is (status `degraded`): e.g.
   * `node-id-taken`, another node holds its IOC_NODE_ID in Redis. Absent when nothing is.
   */
  healthConditions: z.array(healthConditionSchema).optional(),
  /**
   * The registry database as its probe (`SELECT 1` every 2 s) last found it: `up: false` with
   * `reason: database-unavailable` and `problem` (`connection-refused`, `shutting-down`,
   * `connection-lost`, `timeout`, `error`) while it does not answer; SQLite is always up.
   */
  database: z
    .object({
      kind: z.enum(['sqlite', 'postgres']),
      up: z.boolean(),
      reason: z.literal('database-unavailable').optional(),
      problem: z.string().optional(),
    })
    .optional(),
});
export type HealthBody = z.infer<typeof healthBody>;

/**
 * `GET /health/ready`: whether this API node should get traffic — 200 `ready: true` unless
 * something is wrong with the node ITSELF (503 `ready: false`): a health condition of its own
 * (`node-id-taken`) or the broker refusing its internal secret. An outage of what every node
 * shares — the store, the registry database, the brokers — is not counted: taking every node out
 * of the load balancer for it would stop the requests that still work (logins, the registry, the
 * console) and replace the platform's JSON 503s by the balancer's own page. `GET /health` reports those.
 */
export const readinessBody = z.object({
  ready: z.boolean(),
  /** Why not: the codes of the node's own conditions, and `internal-secret-refused`. Empty when ready. */
  problems: z.array(z.string()),
});
export type ReadinessBody = z.infer<typeof readinessBody>;

/**
 * One broker node in `GET /api/v1/ingest/stats`: its latest statistics as the API received and
 * validated them from the internal bus (`ingestStatsSchema`), and how fresh they are.
 */
export const brokerNodeIngestStatsBody = ingestStatsSchema.extend({
  /**
   * Not heard from for 3 of its intervals (at least 10 s): killed, or cut off from the bus
   * (`broker-node-silent` is raised); or its last message says it stopped (`stoppedAt`;
   * `broker-node-stopped`). Its counters still count in the totals, its connected clients do not.
   */
  stale: z.boolean(),
  /** Seconds since the API last heard from the node (for a retained message: since it was published). */
  ageSeconds: z.number().nonnegative(),
});
export type BrokerNodeIngestStatsBody = z.infer<typeof brokerNodeIngestStatsBody>;

/**
 * `GET /api/v1/ingest/stats`: the platform's ingest statistics — the totals over every broker node
 * (counters and spool/store gauges summed, `full`/`failing` if any node's, spool consumers in each
 * node's own only — their record numbers are per node —, `startedAt` the earliest, `publishedAt` the oldest node's, connected clients of the nodes heard from, offline
 * sessions the largest count, since nodes on Redis share one set; the alert engine the evaluating
 * node's; health conditions of every node, each with its `node`) — and each node's own in `nodes`
 * (by node name). One node: the totals are that node's.
 */
export const ingestStatsBody = ingestStatsSchema
  .omit({ node: true, intervalMs: true })
  .extend({ nodes: z.array(brokerNodeIngestStatsBody) });
export type IngestStatsBody = z.infer<typeof ingestStatsBody>;

/**
 * Every error answer (4xx, 5xx). `parameter` names the request parameter a 400 is about;
 * `reason` is a stable code for a 503 (`storage-unavailable`, `database-unavailable`, `no-ingest-stats`), a 401
 * (`missing-credentials`, `invalid-token`, `token-expired`, `session-ended`, `invalid-api-key`,
 * `api-key-revoked`, `api-key-expired`, `agency-disabled`, `account-disabled`, and at login
 * `invalid-credentials`, `account-locked`) or a 403 (`role-required` with `required`,
 * `out-of-scope`); `correlationId` ties a 500 or 503 to the API's log line.
 */
export const errorBody = z.object({
  statusCode: z.number().int().min(400).max(599),
  error: z.string().describe('HTTP reason phrase'),
  message: z.string().optional(),
  parameter: z.string().optional(),
  reason: z.string().optional(),
  required: roleSchema.optional().describe('403 role-required: the least role the route needs'),
  correlationId: z.string().optional(),
  outOfScope: outOfScopeSchema
    .optional()
    .describe("reason out-of-scope: what lies outside the principal's scope"),
});
export type ErrorBody = z.infer<typeof errorBody>;
