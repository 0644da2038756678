import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { HttpError, InfluxDB, type Transport } from '@influxdata/influxdb-client';
import type { MetricValue, Reading } from '@ioc/contracts';
import { z } from 'zod';
import { InvalidQueryError } from './errors';
import { nonNumericAggregationMessage, planHistoryQuery } from './history-query';
import { INFLUX_MEASUREMENT, readingToLine } from './influx-line-protocol';
import {
  BACKLOG_MEASUREMENT,
  backlogLines,
  CONTINUOUS_QUERY_NAMES,
  continuousQueriesCompleteBefore,
  createContinuousQuery,
  hourRanges,
  isBeyondRetention,
  pendingHoursOf,
  ROLLUP_TARGETS,
  RollupBacklog,
  rollupSelect,
  retentionPolicyStatement,
} from './influx-rollups';
import { canQuote, durationMsLiteral, epochMsLiteral, quoteIdentifier, quoteString } from './influxql';
import { decodeMessagePack } from './message-pack';
import { PeriodicTask, warnMaintenanceError } from './periodic-task';
import type { RollupResolution } from './pick-resolution';
import {
  assertStorableReadings,
  MAX_TIMESTAMP_MS,
  MIN_TIMESTAMP_MS,
  RESERVED_METRIC_NAMES,
} from './reading-validation';
import { ceilTo, floorTo, HOUR_MS, resolveRetention } from './retention';
import { nonNumericSeriesMessage, planSeriesQuery, splitAroundPendingHours } from './series-query';
import type {
  HistoryPoint,
  HistoryQuery,
  LatestValue,
  RetentionPolicy,
  SeriesQuery,
  SeriesResult,
  TimeSeriesStore,
} from './time-series-store';
import {
  addWindowRows,
  groupByTime,
  type InfluxWindowQuery,
  windowStatement,
} from './influx-window-statements';
import {
  compareRawRecords,
  LastOfWindows,
  type RawRecord,
  rawPointsInOrder,
  WindowAggregates,
} from './window-aggregates';

export interface InfluxTimeSeriesStoreOptions {
  /** Base URL, e.g. `http://influxdb:8086`. */
  url: string;
  /** InfluxDB 1.x database; on 2.x/3.x the database name mapped to a bucket (DBRP). */
  database: string;
  /** Sent as `Authorization: Token …` (2.x/3.x tokens, or 1.x with a shared secret set up). */
  token?: string;
  /** 1.x user credentials, sent as the `u`/`p` query parameters. */
  username?: string;
  password?: string;
  /**
   * Retention policy of the raw points (written to and read from). Absent: `autogen` when rollups
   * are managed, else the database's default policy.
   */
  retentionPolicy?: string;
  /** Per-request socket timeout; 10 s by default. */
  timeoutMs?: number;
  /**
   * Whether init() issues `CREATE DATABASE` (default true). InfluxDB 2.x/3.x do not accept it over
   * the v1 API — there the bucket and its DBRP mapping are created beforehand and init() only
   * checks that the server answers.
   */
  createDatabase?: boolean;
  /**
   * Who keeps the 1m/1h rollups (layout in influx-rollups.ts):
   * - `managed` (default with createDatabase): InfluxDB 1.x — init() creates the retention
   *   policies and continuous queries, and the adapter rolls up late writes itself;
   * - `external`: something else writes the same layout (a 2.x task, a 3.x scheduled job);
   *   the adapter only reads it;
   * - `none` (default without createDatabase): no rollups; series() answers from raw points.
   */
  rollups?: 'managed' | 'external' | 'none';
  /**
   * How long raw points and rollups are kept; DEFAULT_RETENTION for what is not given. With
   * managed rollups init() sets the retention policies' durations to these (InfluxDB's minimum is
   * one hour; Infinity is `INF`); otherwise they only inform the choice of resolution.
   */
  retention?: Partial<RetentionPolicy>;
  /** Period of the job rolling up hours late writes touched; 2 s by default, 0 = compact() only. */
  maintenanceIntervalMs?: number;
  /** Clock, epoch ms; Date.now by default. */
  now?: () => number;
  /** Called when background rolling up fails (it is retried at the next tick); a process warning by default. */
  onMaintenanceError?: (error: Error) => void;
}

/** Hours per SELECT … INTO statement when rolling up a backlog. */
const HOURS_PER_ROLLUP_STATEMENT = 24;
/** Content type of MessagePack answers (see message-pack.ts). */
const MESSAGE_PACK = 'application/x-msgpack';
/** Queries longer than this go in a POST body: URLs of many kilobytes are refused by proxies and servers. */
const MAX_GET_QUERY_CHARS = 6_000;

type MaintenanceReason = 'tick' | 'compact';

/** An InfluxDB request failed: `status` is the HTTP status (undefined when there was no answer). */
export class InfluxDbError extends Error {
  override readonly name = 'InfluxDbError';
  constructor(
    message: string,
    readonly status: number | undefined,
    /** InfluxDB's own error text, when it sent one. */
    readonly influxMessage: string | undefined,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

function isArrayOfArrays(value: unknown): boolean {
  return Array.isArray(value) && value.every((row) => Array.isArray(row));
}

const queryResponseSchema = z.object({
  error: z.string().optional(),
  results: z
    .array(
      z.object({
        statement_id: z.number().optional(),
        error: z.string().optional(),
        partial: z.boolean().optional(),
        series: z
          .array(
            z.object({
              /** The series' tag values, with GROUP BY <tags> (a missing tag is ''). */
              tags: z.record(z.string(), z.string()).optional(),
              columns: z.array(z.string()),
              // Only checked to be rows (arrays), not copied cell by cell: it may be 100 000 rows.
              values: z.custom<unknown[][]>(isArrayOfArrays).optional(),
            }),
          )
          .optional(),
      }),
    )
    .optional(),
});
type StatementResult = NonNullable<z.infer<typeof queryResponseSchema>['results']>[number];

const MEASUREMENT = quoteIdentifier(INFLUX_MEASUREMENT);
const DEVICE_TAG = `${quoteIdentifier('deviceId')}::tag`;
const VALUE_ALIAS = quoteIdentifier('value');
/** The device tag as a GROUP BY key (a tag key, no `::tag` there). */
const DEVICE_TAG_KEY = quoteIdentifier('deviceId');
/** Devices per latestOfDevices() request: bounds the OR-chain (~40 characters an id) to ~20 KB. */
const LATEST_DEVICES_PER_REQUEST = 500;
/** The record identity besides device, metric and time (see TimeSeriesStore): two tags. */
const KIND_TAG = quoteIdentifier('kind');
const EVENT_TAG = quoteIdentifier('event');
/** Selected beside a raw field: what orders records sharing one timestamp. */
const IDENTITY_COLUMNS = `${KIND_TAG}::tag AS ${KIND_TAG}, ${EVENT_TAG}::tag AS ${EVENT_TAG}`;

/**
 * Time-series store on InfluxDB, through the v1-compatible HTTP API only (line protocol on
 * `/write`, InfluxQL on `/query`), so one adapter serves InfluxDB 1.x, 2.x (v1 compatibility
 * endpoints) and 3.x. Every device id and metric name that reaches InfluxQL goes through
 * quoteString/quoteIdentifier; nothing is ever concatenated raw.
 *
 * Rollups and retention are InfluxDB's own on 1.x (retention policies, continuous queries; see
 * influx-rollups.ts and deploy/influxdb/README.md); the adapter adds what those cannot do: rolling
 * up hours written too late for the CQs, and answering exactly while rollups lag.
 */
export class InfluxTimeSeriesStore implements TimeSeriesStore {
  readonly kind = 'influxdb';
  readonly retention: RetentionPolicy;
  readonly rollups: 'managed' | 'external' | 'none';
  private readonly transport: Transport;
  private readonly agent: HttpAgent;
  /** Raw retention policy named in every write and query; undefined = the database default. */
  private readonly rawRetentionPolicy: string | undefined;
  private readonly now: () => number;
  private readonly backlog = new RollupBacklog();
  /** Point writes sent and not yet answered (see maintain(): a rollup waits for them). */
  private readonly writesInFlight = new Set<Promise<unknown>>();
  private readonly maintenance: PeriodicTask<MaintenanceReason>;
  /**
   * Whether /query answers are asked for in MessagePack: from InfluxDB 1.x (the server
   * createDatabase is for), which encodes it in ~60 % of the time JSON takes. The v1 APIs of 2.x and
   * 3.x document JSON and CSV only; they are asked for JSON. Either way the answer is decoded by
   * the content type it comes with.
   */
  private readonly acceptMessagePack: boolean;

  constructor(private readonly options: InfluxTimeSeriesStoreOptions) {
    this.rollups = options.rollups ?? (options.createDatabase === false ? 'none' : 'managed');
    this.retention = resolveRetention(options.retention, this.rollups === 'managed' ? HOUR_MS : 1);
    this.rawRetentionPolicy = options.retentionPolicy ?? (this.rollups === 'managed' ? 'autogen' : undefined);
    this.now = options.now ?? Date.now;
    this.acceptMessagePack = options.createDatabase !== false;
    this.maintenance = new PeriodicTask(
      (reason) => this.maintain(reason),
      options.onMaintenanceError ?? warnMaintenanceError,
    );
    // Our own keep-alive agent: connections are reused between batches, and close() can destroy
    // them instead of leaving sockets that keep the process alive.
    this.agent = options.url.startsWith('https:')
      ? new HttpsAgent({ keepAlive: true })
      : new HttpAgent({ keepAlive: true });
    this.transport = new InfluxDB({
      url: options.url,
      ...(options.token !== undefined ? { token: options.token } : {}),
      timeout: options.timeoutMs ?? 10_000,
      transportOptions: { agent: this.agent },
    }).transport;
  }

  async init(): Promise<void> {
    if (this.options.createDatabase === false) {
      if (!(await this.ping())) {
        throw new InfluxDbError(
          `InfluxDB at ${this.options.url} does not answer /ping`,
          undefined,
          undefined,
        );
      }
    } else {
      // POST: InfluxDB 1.x refuses writes-to-meta (CREATE …) over GET. Idempotent on the server.
      await this.execute([`CREATE DATABASE ${quoteIdentifier(this.options.database)}`]);
    }
    if (this.rollups === 'managed') {
      await this.createRollups();
      // Late hours a previous run wrote but had not rolled up when it stopped (or crashed).
      this.backlog.putBack(await this.pendingHours(undefined));
    }
    this.maintenance.start(this.options.maintenanceIntervalMs ?? 2_000, 'tick');
  }

  /**
   * Retention policies (created, or altered to the configured durations) and the two continuous
   * queries. A CQ cannot be altered: one whose definition changed is dropped and created again.
   */
  private async createRollups(): Promise<void> {
    const database = this.options.database;
    const raw = this.rawRetentionPolicy ?? 'autogen';
    const [shown] = await this.execute([`SHOW RETENTION POLICIES ON ${quoteIdentifier(database)}`]);
    const existing = new Set(
      (shown?.series ?? []).flatMap((series) => {
        const name = series.columns.indexOf('name');
        return (series.values ?? []).map((row) => row[name]);
      }),
    );
    const policies: [string, number][] = [
      [raw, this.retention.rawMs],
      [ROLLUP_TARGETS['1m'].retentionPolicy, this.retention.oneMinuteMs],
      [ROLLUP_TARGETS['1h'].retentionPolicy, this.retention.oneHourMs],
    ];
    await this.execute(
      policies.map(([name, ms]) =>
        retentionPolicyStatement(existing.has(name) ? 'ALTER' : 'CREATE', name, database, ms),
      ),
    );
    for (const resolution of ['1m', '1h'] as const) {
      const create = createContinuousQuery(resolution, database, raw);
      try {
        await this.execute([create]);
      } catch (err) {
        if (!(err instanceof InfluxDbError && /already exists/.test(err.influxMessage ?? ''))) throw err;
        const name = quoteIdentifier(CONTINUOUS_QUERY_NAMES[resolution]);
        await this.execute([`DROP CONTINUOUS QUERY ${name} ON ${quoteIdentifier(database)}`, create]);
      }
    }
  }

  async write(readings: readonly Reading[]): Promise<void> {
    if (readings.length === 0) return;
    assertStorableReadings(readings);
    const lines: string[] = [];
    readings.forEach((reading, index) => {
      const line = readingToLine(reading, index);
      if (line !== undefined) lines.push(line);
    });
    if (lines.length === 0) return;
    const now = this.now();
    const lateHours = new Set<number>();
    if (this.rollups === 'managed') {
      for (const reading of readings) {
        const late = this.backlog.record(reading.ts, now);
        if (late !== undefined) lateHours.add(late);
      }
      // In the same request as the points: a late hour is never written without its marker.
      lines.push(...backlogLines('written', now, lateHours));
    }
    const params = { ...this.databaseParams(), precision: 'ms' };
    // 204 once InfluxDB has the points in its WAL (fsynced with the shipped wal-fsync-delay = 0s).
    const sent = this.request('POST', '/write', params, lines.join('\n'), {
      'content-type': 'text/plain; charset=utf-8',
    });
    this.writesInFlight.add(sent);
    try {
      await sent;
    } catch (err) {
      // Points older than the raw retention are dropped and the rest written; the embedded store
      // likewise deletes such points at its next retention pass. Not a failure to retry.
      if (!(err instanceof InfluxDbError && isBeyondRetention(err.influxMessage))) throw err;
    } finally {
      this.writesInFlight.delete(sent);
    }
  }

  async latest(deviceId: string, metrics: readonly string[]): Promise<Record<string, LatestValue>> {
    const result: Record<string, LatestValue> = {};
    if (!isQueryableDevice(deviceId)) return result;
    const wanted = [...new Set(metrics)].filter(isQueryableMetric);
    if (wanted.length === 0) return result;
    // One statement per metric, all in one request; `last` is a selector, so each answer carries
    // the time of the point it picked. Grouped by kind and event: last() over several series
    // sharing the newest time would pick any one of them, the port wants the last in its order.
    const statements = wanted.map(
      (metric) =>
        `SELECT last(${quoteIdentifier(metric)}::field) AS ${VALUE_ALIAS} FROM ${MEASUREMENT} ` +
        `WHERE ${DEVICE_TAG} = ${quoteString(deviceId)} GROUP BY ${KIND_TAG}, ${EVENT_TAG}`,
    );
    const results = await this.select(statements);
    results.forEach((statementResult, i) => {
      const metric = wanted[i];
      let newest: RawRecord | undefined;
      for (const record of rawRecordsOf(statementResult, deviceId)) {
        if (newest === undefined || compareRawRecords(record, newest) > 0) newest = record;
      }
      if (newest === undefined || metric === undefined) return;
      const value: LatestValue = { value: newest.value, ts: newest.ts };
      if (newest.event !== '') value.event = newest.event;
      result[metric] = value;
    });
    return result;
  }

  async latestOfDevices(
    deviceIds: readonly string[],
    metrics: readonly string[],
  ): Promise<Map<string, Record<string, LatestValue>>> {
    const result = new Map<string, Record<string, LatestValue>>();
    const devices = [...new Set(deviceIds)].filter(isQueryableDevice);
    const wanted = [...new Set(metrics)].filter(isQueryableMetric);
    if (devices.length === 0 || wanted.length === 0) return result;
    // Per chunk of devices, one request: one statement per metric, grouped by device, kind and
    // event (latest() for many devices at once); the newest record in the port's order wins.
    for (let start = 0; start < devices.length; start += LATEST_DEVICES_PER_REQUEST) {
      const chunk = devices.slice(start, start + LATEST_DEVICES_PER_REQUEST);
      const where = chunk.map((id) => `${DEVICE_TAG} = ${quoteString(id)}`).join(' OR ');
      const statements = wanted.map(
        (metric) =>
          `SELECT last(${quoteIdentifier(metric)}::field) AS ${VALUE_ALIAS} FROM ${MEASUREMENT} ` +
          `WHERE (${where}) GROUP BY ${DEVICE_TAG_KEY}, ${KIND_TAG}, ${EVENT_TAG}`,
      );
      const results = await this.select(statements);
      results.forEach((statementResult, i) => {
        const metric = wanted[i];
        if (metric === undefined) return;
        const newest = new Map<string, RawRecord>();
        for (const series of statementResult?.series ?? []) {
          const deviceId = series.tags?.['deviceId'];
          if (typeof deviceId !== 'string') continue;
          for (const record of rawRecordsOf({ ...statementResult, series: [series] }, deviceId)) {
            const known = newest.get(deviceId);
            if (known === undefined || compareRawRecords(record, known) > 0) newest.set(deviceId, record);
          }
        }
        for (const [deviceId, record] of newest) {
          let values = result.get(deviceId);
          if (values === undefined) {
            values = {};
            result.set(deviceId, values);
          }
          const value: LatestValue = { value: record.value, ts: record.ts };
          if (record.event !== '') value.event = record.event;
          values[metric] = value;
        }
      });
    }
    return result;
  }

  async history(query: HistoryQuery): Promise<HistoryPoint[]> {
    const plan = planHistoryQuery(query);
    if (plan.mode === 'empty') return [];
    if (!isQueryableDevice(query.deviceId) || !isQueryableMetric(query.metric)) return [];
    // InfluxDB holds int64 nanoseconds, so a time literal beyond ±9 223 372 036 854 ms overflows:
    // clamp to what can be stored, and write [from, to) as from <= time <= to - 1 (integer ms) so
    // the upper bound never exceeds the largest storable time either.
    const from = Math.max(query.from, MIN_TIMESTAMP_MS);
    const last = Math.min(query.to - 1, MAX_TIMESTAMP_MS);
    if (last < from) return [];
    const field = `${quoteIdentifier(query.metric)}::field`;
    const where =
      `WHERE ${DEVICE_TAG} = ${quoteString(query.deviceId)} ` +
      `AND time >= ${epochMsLiteral(from)} AND time <= ${epochMsLiteral(last)}`;
    const limit = plan.limit !== undefined ? ` LIMIT ${plan.limit}` : '';
    if (plan.mode === 'raw') {
      const device = quoteString(query.deviceId);
      return rawPointsInOrder(
        async (a, b, n) => {
          const [result] = await this.select([
            `SELECT ${field} AS ${VALUE_ALIAS}, ${IDENTITY_COLUMNS} FROM ${MEASUREMENT} ` +
              `WHERE ${DEVICE_TAG} = ${device} AND time >= ${epochMsLiteral(a)} ` +
              `AND time <= ${epochMsLiteral(b - 1)}${n === undefined ? '' : ` LIMIT ${n}`}`,
          ]);
          return rawRecordsOf(result, query.deviceId);
        },
        from,
        last + 1,
        plan.limit,
        false,
      );
    }
    // Buckets of GROUP BY time() are aligned to the Unix epoch and stamped with their start;
    // fill(none) omits empty ones — the same windows the embedded store computes.
    const statement =
      `SELECT ${plan.fn}(${field}) AS ${VALUE_ALIAS} FROM ${MEASUREMENT} ${where} ` +
      `GROUP BY time(${durationMsLiteral(plan.everyMs)}) fill(none)${limit}`;
    let results: StatementResult[];
    try {
      results = await this.select([statement]);
    } catch (err) {
      // InfluxDB's own words for mean/min/max over strings or booleans.
      if (err instanceof InfluxDbError && /unsupported \w+ iterator type/.test(err.influxMessage ?? '')) {
        throw new InvalidQueryError(nonNumericAggregationMessage(query), { cause: err });
      }
      throw err;
    }
    const points = results.flatMap(pointsOf);
    // min/max are selectors and happily return booleans; the port promises numbers or an error.
    if (plan.fn !== 'last' && points.some((point) => typeof point.value !== 'number')) {
      throw new InvalidQueryError(nonNumericAggregationMessage(query));
    }
    return points;
  }

  async series(query: SeriesQuery): Promise<SeriesResult> {
    const plan = planSeriesQuery(query, {
      retention: this.retention,
      now: this.now(),
      ...(this.rollups === 'none' ? { rollups: [] } : {}),
    });
    if (plan.mode === 'empty') return { resolution: plan.resolution, points: [] };
    const deviceIds = plan.deviceIds.filter(isQueryableDevice);
    if (deviceIds.length === 0 || !isQueryableMetric(plan.metric)) {
      return { resolution: plan.resolution, points: [] };
    }
    // One OR-chain over all devices, every id quoted: InfluxQL has no IN, and a regex would need
    // escaping of its own.
    const devices = `(${deviceIds.map((id) => `${DEVICE_TAG} = ${quoteString(id)}`).join(' OR ')})`;
    const field = `${quoteIdentifier(plan.metric)}::field`;
    const where = (from: number, to: number) =>
      `WHERE ${devices} AND time >= ${epochMsLiteral(from)} AND time <= ${epochMsLiteral(to - 1)}`;
    const limit = (n: number | undefined) => (n === undefined ? '' : ` LIMIT ${n}`);

    if (plan.mode === 'raw') {
      const points = await rawPointsInOrder(
        async (from, to, n) => {
          const [result] = await this.select([
            `SELECT ${field} AS ${VALUE_ALIAS}, ${DEVICE_TAG} AS ${quoteIdentifier('device')}, ` +
              `${IDENTITY_COLUMNS} FROM ${MEASUREMENT} ${where(from, to)}${limit(n)}`,
          ]);
          return rawRecordsOf(result, undefined);
        },
        plan.from,
        plan.to,
        plan.limit,
        true,
      );
      return { resolution: 'raw', points };
    }

    const groupBy = groupByTime(plan);
    if (plan.mode === 'last') {
      // Over all series at once: last() picks the newest point of the window whichever device it
      // is from (InfluxDB stamps it with the window start, so pieces could not be merged later).
      const [result] = await this.select([
        `SELECT last(${field}) AS ${VALUE_ALIAS}, count(${field}) AS ${quoteIdentifier('count')} ` +
          `FROM ${MEASUREMENT} ${where(plan.from, plan.to)}${groupBy}${limit(plan.limit)}`,
      ]);
      const windows = new LastOfWindows();
      for (const row of rowsOf(result)) {
        const { time, value, count } = row;
        if (typeof time === 'number' && isMetricValue(value) && typeof count === 'number') {
          windows.add({ start: time, ts: undefined, value, count });
        }
      }
      return { resolution: 'raw', points: windows.points(plan.limit) };
    }

    const now = this.now();
    // Hours late writes touched that are not rolled up yet — by this process or any other.
    const pending =
      plan.resolution !== 'raw' && this.rollups === 'managed'
        ? await this.pendingHours({ from: floorTo(plan.from, HOUR_MS), to: plan.to })
        : [];
    const segments = splitAroundPendingHours(
      plan.resolution,
      plan.from,
      plan.to,
      (rollup) =>
        this.rollups === 'managed'
          ? continuousQueriesCompleteBefore(rollup, now)
          : externalRollupsCompleteBefore(rollup, now),
      pending,
    );
    const windowQuery: InfluxWindowQuery = { ...plan, devices, deviceCount: deviceIds.length };
    const statements = segments.map((segment) => windowStatement(segment, windowQuery));
    let results: StatementResult[];
    try {
      results = await this.select(statements);
    } catch (err) {
      // InfluxDB's own words for sum/min/max over strings (and sum over booleans).
      if (err instanceof InfluxDbError && /unsupported \w+ iterator type/.test(err.influxMessage ?? '')) {
        throw new InvalidQueryError(nonNumericSeriesMessage(plan.fn, plan.metric), { cause: err });
      }
      throw err;
    }
    const windows = new WindowAggregates(plan.fn);
    let nonNumeric = false;
    for (const result of results) nonNumeric ||= addWindowRows(result, windows).nonNumeric;
    if (!nonNumeric && windows.size === 0 && plan.resolution !== 'raw') {
      // Rollups skip booleans and text: one raw point tells "no data" from "not numeric".
      const [probe] = await this.select([
        `SELECT ${field} AS ${VALUE_ALIAS} FROM ${MEASUREMENT} ${where(plan.from, plan.to)} LIMIT 1`,
      ]);
      const point = probe === undefined ? undefined : pointsOf(probe)[0];
      nonNumeric = point !== undefined && typeof point.value !== 'number';
    }
    if (nonNumeric) throw new InvalidQueryError(nonNumericSeriesMessage(plan.fn, plan.metric));
    return { resolution: plan.resolution, points: windows.points(plan.limit) };
  }

  async compact(): Promise<void> {
    await this.maintenance.runNow('compact');
  }

  async ping(): Promise<boolean> {
    try {
      await this.request('GET', '/ping', {}, '', {});
      return true;
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    await this.maintenance.stop();
    this.agent.destroy();
  }

  /**
   * Rolls up the hours the CQs will not (tick), or every hour written to (compact), with the CQs'
   * own statements restricted to those hours. InfluxDB expires data by itself (retention policies),
   * so there is no retention work here. Hours that failed go back to the backlog.
   */
  private async maintain(reason: MaintenanceReason): Promise<void> {
    if (this.rollups !== 'managed') return;
    const now = this.now();
    // The `rolled` stamp of every hour taken now. Taken before the hours, so any write sent after
    // them is stamped `written` no earlier and leaves its hour pending (written >= rolled).
    const startedAt = now;
    const hours = this.backlog.take(reason === 'compact', now);
    if (hours.length === 0) return;
    // The writes that put these hours in the backlog may still be on their way to InfluxDB (the
    // hour is recorded before the request leaves): a rollup computed before their points land
    // would miss them, and its `rolled` marker would then send every reader to the incomplete
    // rollup. Found under load (CI): history answered from 1-minute rollups missing most of their points.
    await Promise.allSettled([...this.writesInFlight]);
    // An hour is recomputed only while everything it is computed from is still kept: a rollup
    // recomputed from what retention left would replace a complete one with a partial one.
    const { rawMs, oneMinuteMs, oneHourMs } = this.retention;
    const oldest = now - Math.min(rawMs, oneMinuteMs, oneHourMs);
    const firstKept = Number.isFinite(oldest) ? ceilTo(oldest, HOUR_MS) : Number.NEGATIVE_INFINITY;
    const raw = this.rawRetentionPolicy ?? 'autogen';
    const database = this.options.database;
    const ranges = hourRanges(hours, HOURS_PER_ROLLUP_STATEMENT);
    for (const [i, range] of ranges.entries()) {
      try {
        if (range.to > firstKept) {
          const kept = { from: Math.max(range.from, firstKept), to: range.to };
          // In one request, in order: the minute rollup, then the hour rollup from it.
          await this.execute([
            rollupSelect('1m', database, raw, kept),
            rollupSelect('1h', database, raw, kept),
          ]).catch((err: unknown) => {
            if (!(err instanceof InfluxDbError && isBeyondRetention(err.influxMessage))) throw err;
          });
        }
        // Done (or never possible again): the marker says so to every reader.
        await this.request(
          'POST',
          '/write',
          { ...this.databaseParams(), precision: 'ms' },
          backlogLines('rolled', startedAt, hoursIn(range.from, range.to)).join('\n'),
          { 'content-type': 'text/plain; charset=utf-8' },
        ).catch((err: unknown) => {
          if (!(err instanceof InfluxDbError && isBeyondRetention(err.influxMessage))) throw err;
        });
      } catch (err) {
        this.backlog.putBack(ranges.slice(i).flatMap(({ from, to }) => hoursIn(from, to)));
        throw err;
      }
    }
  }

  /** Hours with a backlog marker saying they are not rolled up yet, in `range` or all of them. */
  private async pendingHours(range: { from: number; to: number } | undefined): Promise<number[]> {
    const where =
      range === undefined
        ? ''
        : ` WHERE time >= ${epochMsLiteral(Math.max(range.from, MIN_TIMESTAMP_MS))} AND time <= ${epochMsLiteral(Math.min(range.to - 1, MAX_TIMESTAMP_MS))}`;
    const [result] = await this.select([
      `SELECT "written", "rolled" FROM ${quoteIdentifier(BACKLOG_MEASUREMENT)}${where}`,
    ]);
    return pendingHoursOf(rowsOf(result));
  }

  /**
   * Runs SELECT statements in one request and returns one result per statement, errors thrown.
   * InfluxDB 1.x sometimes answers a multi-statement query whose one statement failed with nothing
   * but "not executed" for the others, the failing statement's own error left out (seen in CI:
   * the mean of a text field among several window statements). The error is then unknown, so the
   * statements run again one at a time, and the first one's real error is what is thrown.
   */
  private async select(statements: readonly string[]): Promise<StatementResult[]> {
    try {
      return await this.selectOnce(statements);
    } catch (err) {
      if (!(err instanceof InfluxDbError) || err.influxMessage !== 'not executed' || statements.length < 2)
        throw err;
      const results: StatementResult[] = [];
      for (const statement of statements) results.push(...(await this.selectOnce([statement])));
      return results;
    }
  }

  private async selectOnce(statements: readonly string[]): Promise<StatementResult[]> {
    const q = statements.join(';\n');
    if (q.length > MAX_GET_QUERY_CHARS) return this.execute(statements);
    const params = { ...this.databaseParams(), epoch: 'ms', q };
    const response = await this.query('GET', params, '', {});
    return this.statementResults(response, statements.length, statements[0] ?? '');
  }

  /** Runs statements in one POST (what 1.x requires for CREATE, DROP, SELECT … INTO), in order. */
  private async execute(statements: readonly string[]): Promise<StatementResult[]> {
    const body = new URLSearchParams({ q: statements.join(';\n') });
    const params = { ...this.databaseParams(), epoch: 'ms' };
    const response = await this.query('POST', params, body.toString(), {
      'content-type': 'application/x-www-form-urlencoded',
    });
    return this.statementResults(response, statements.length, statements[0] ?? '');
  }

  /**
   * A /query request and its answer, decoded as its content type says (MessagePack or JSON). Not
   * the client's request(): that concatenates the body received so far at every chunk, which is
   * quadratic in the size of the answer (a month of 1-minute windows is ~0.9 MB in some hundreds
   * of chunks); here the chunks are joined once at the end.
   */
  private query(
    method: 'GET' | 'POST',
    params: Record<string, string>,
    body: string,
    headers: Record<string, string>,
  ): Promise<unknown> {
    const target = `/query?${new URLSearchParams(params).toString()}`;
    const accept: Record<string, string> = this.acceptMessagePack ? { accept: MESSAGE_PACK } : {};
    return new Promise((resolve, reject) => {
      const chunks: Uint8Array[] = [];
      let contentType = '';
      this.transport.send(
        target,
        body,
        { method, headers: { ...accept, ...headers } },
        {
          responseStarted: (responseHeaders) => {
            contentType = String(responseHeaders['content-type'] ?? '');
          },
          next: (chunk) => {
            chunks.push(chunk);
          },
          error: (err) => reject(toInfluxDbError(err, method, '/query', this.options.url)),
          complete: () => {
            const answer = Buffer.concat(chunks);
            try {
              resolve(
                contentType.startsWith(MESSAGE_PACK)
                  ? decodeMessagePack(answer)
                  : (JSON.parse(answer.toString('utf8')) as unknown),
              );
            } catch (err) {
              const text = contentType.startsWith(MESSAGE_PACK)
                ? String(err)
                : answer.toString('utf8', 0, 500);
              reject(
                new InfluxDbError(`unexpected /query response: ${text}`, 200, undefined, { cause: err }),
              );
            }
          },
        },
      );
    });
  }

  private statementResults(response: unknown, expected: number, firstStatement: string): StatementResult[] {
    const parsed = queryResponseSchema.safeParse(response);
    if (!parsed.success) {
      throw new InfluxDbError(
        `unexpected /query response: ${JSON.stringify(response)?.slice(0, 500)}`,
        200,
        undefined,
      );
    }
    if (parsed.data.error !== undefined) {
      throw new InfluxDbError(`InfluxDB query failed: ${parsed.data.error}`, 200, parsed.data.error);
    }
    const results = parsed.data.results ?? [];
    // A statement's error first: InfluxDB 1.x stops at the first failing statement of a
    // multi-statement query, so the answer then has fewer results than statements (seen in CI:
    // "2 results for 3 statements" when the mean of a boolean failed), and the error is the news.
    // The statements it did not run say "not executed"; they can come before the failing one in the
    // answer (seen in CI), so the failing statement's own error is the one reported.
    const errors = results.flatMap((result) => (result.error === undefined ? [] : [result.error]));
    const error = errors.find((e) => e !== 'not executed') ?? errors[0];
    if (error !== undefined) throw new InfluxDbError(`InfluxDB query failed: ${error}`, 200, error);
    if (results.length !== expected) {
      throw new InfluxDbError(
        `InfluxDB answered ${results.length} results for ${expected} statements (${firstStatement.slice(0, 200)})`,
        200,
        undefined,
      );
    }
    for (const result of results) {
      if (result.partial === true) {
        // A max-row-limit on the server truncated the answer; returning it would look complete.
        throw new InfluxDbError(
          'InfluxDB truncated the result (max-row-limit); query a shorter range or pass a limit',
          200,
          undefined,
        );
      }
    }
    return results;
  }

  private databaseParams(): Record<string, string> {
    const params = { ...this.authParams(), db: this.options.database };
    return this.rawRetentionPolicy === undefined ? params : { ...params, rp: this.rawRetentionPolicy };
  }

  private authParams(): Record<string, string> {
    const params: Record<string, string> = {};
    if (this.options.username !== undefined) params['u'] = this.options.username;
    if (this.options.password !== undefined) params['p'] = this.options.password;
    return params;
  }

  private async request(
    method: 'GET' | 'POST',
    path: string,
    params: Record<string, string>,
    body: string,
    headers: Record<string, string>,
  ): Promise<unknown> {
    const query = new URLSearchParams(params).toString();
    const target = query === '' ? path : `${path}?${query}`;
    try {
      // The transport parses JSON answers and rejects with HttpError on status >= 300.
      return (await this.transport.request(target, body, { method, headers })) as unknown;
    } catch (err) {
      throw toInfluxDbError(err, method, path, this.options.url);
    }
  }
}

function toInfluxDbError(err: unknown, method: string, path: string, url: string): InfluxDbError {
  if (err instanceof HttpError) {
    // A MessagePack error body reaches us decoded as text, i.e. mangled; InfluxDB 1.x also sends
    // the message in a header.
    const influxMessage =
      (err.contentType?.startsWith(MESSAGE_PACK)
        ? headerText(err.headers?.['x-influxdb-error'])
        : undefined) ??
      influxErrorText(err.body) ??
      err.statusMessage;
    return new InfluxDbError(
      `InfluxDB ${method} ${path} failed with HTTP ${err.statusCode}: ${influxMessage ?? '(no message)'}`,
      err.statusCode,
      influxMessage,
      { cause: err },
    );
  }
  const reason = err instanceof Error ? err.message || err.name : String(err);
  return new InfluxDbError(`InfluxDB ${method} ${path} at ${url} failed: ${reason}`, undefined, undefined, {
    cause: err,
  });
}

function headerText(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(', ') : value;
}

/** InfluxDB puts its message in a JSON `{"error": "..."}` body (or sends plain text). */
function influxErrorText(body: string | undefined): string | undefined {
  if (body === undefined || body === '') return undefined;
  try {
    const parsed = z.object({ error: z.string() }).safeParse(JSON.parse(body));
    if (parsed.success) return parsed.data.error;
  } catch {
    // not JSON: the body itself is the message
  }
  return body;
}

/**
 * Names that cannot be put into a query faithfully (carriage return, NUL, lone surrogate) can never
 * have been written either, and an empty device id would match points WITHOUT a deviceId tag:
 * for those the exact answer is "nothing", given without asking. Everything else — backslashes,
 * quotes, newlines, `;`, regex characters — is quoted and sent, and simply finds no series.
 */
function isQueryableDevice(deviceId: string): boolean {
  return deviceId !== '' && canQuote(deviceId);
}

/** Reserved names are never metrics (`seq` is a field of ours, `time` is not a field at all). */
function isQueryableMetric(metric: string): boolean {
  return metric !== '' && !RESERVED_METRIC_NAMES.has(metric) && canQuote(metric);
}

/** Rollups written by something else (a 2.x task, a 3.x job): assume they lag a whole bucket more. */
function externalRollupsCompleteBefore(resolution: RollupResolution, now: number): number {
  return continuousQueriesCompleteBefore(resolution, now - (resolution === '1m' ? 5 * 60_000 : HOUR_MS));
}

function hoursIn(from: number, to: number): number[] {
  const hours: number[] = [];
  for (let hour = from; hour < to; hour += HOUR_MS) hours.push(hour);
  return hours;
}

/** Rows of a statement result as column → value records. */
function rowsOf(result: StatementResult | undefined): Record<string, unknown>[] {
  const rows: Record<string, unknown>[] = [];
  for (const series of result?.series ?? []) {
    for (const values of series.values ?? []) {
      rows.push(Object.fromEntries(series.columns.map((column, i) => [column, values[i]])));
    }
  }
  return rows;
}

/**
 * Raw records of a statement: rows with `time`, `value` and the `kind`/`event` tags, either as
 * columns (raw SELECT) or as the series' GROUP BY tags (latest()); the device from a `device`
 * column, or `deviceId` when the statement was for one device. A missing event tag is `''`.
 */
function rawRecordsOf(result: StatementResult | undefined, deviceId: string | undefined): RawRecord[] {
  const records: RawRecord[] = [];
  for (const series of result?.series ?? []) {
    const column = (name: string) => series.columns.indexOf(name);
    const [time, value, device, kind, event] = ['time', 'value', 'device', 'kind', 'event'].map(column);
    const tags = series.tags ?? {};
    for (const row of series.values ?? []) {
      const ts = row[time as number];
      const v = row[value as number];
      const id = device === -1 ? deviceId : row[device as number];
      const k = kind === -1 ? tags['kind'] : row[kind as number];
      const e = event === -1 ? tags['event'] : row[event as number];
      if (typeof ts !== 'number' || !isMetricValue(v) || typeof id !== 'string') continue;
      records.push({
        ts,
        value: v,
        deviceId: id,
        kind: typeof k === 'string' ? k : '',
        event: typeof e === 'string' ? e : '',
      });
    }
  }
  return records;
}

function pointsOf(result: StatementResult): HistoryPoint[] {
  const points: HistoryPoint[] = [];
  for (const series of result.series ?? []) {
    const timeColumn = series.columns.indexOf('time');
    const valueColumn = series.columns.indexOf('value');
    for (const row of series.values ?? []) {
      const ts = row[timeColumn];
      const value = row[valueColumn];
      if (typeof ts !== 'number' || !isMetricValue(value)) continue;
      points.push({ ts, value });
    }
  }
  return points;
}

function isMetricValue(value: unknown): value is MetricValue {
  return typeof value === 'number' || typeof value === 'boolean' || typeof value === 'string';
}
