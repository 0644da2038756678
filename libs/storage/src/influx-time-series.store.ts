import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { HttpError, InfluxDB, type Transport } from '@influxdata/influxdb-client';
import type { MetricValue, Reading } from '@ioc/contracts';
import { z } from 'zod';
import { InvalidQueryError } from './errors';
import { nonNumericAggregationMessage, planHistoryQuery } from './history-query';
import { INFLUX_MEASUREMENT, readingToLine } from './influx-line-protocol';
import { canQuote, durationMsLiteral, epochMsLiteral, quoteIdentifier, quoteString } from './influxql';
import {
  assertStorableReadings,
  MAX_TIMESTAMP_MS,
  MIN_TIMESTAMP_MS,
  RESERVED_METRIC_NAMES,
} from './reading-validation';
import type { HistoryPoint, HistoryQuery, LatestValue, TimeSeriesStore } from './time-series-store';

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
  /** Retention policy to write to and read from; the database default when absent. */
  retentionPolicy?: string;
  /** Per-request socket timeout; 10 s by default. */
  timeoutMs?: number;
  /**
   * Whether init() issues `CREATE DATABASE` (default true). InfluxDB 2.x/3.x do not accept it over
   * the v1 API — there the bucket and its DBRP mapping are created beforehand and init() only
   * checks that the server answers.
   */
  createDatabase?: boolean;
}

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
              columns: z.array(z.string()),
              values: z.array(z.array(z.unknown())).optional(),
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

/**
 * Time-series store on InfluxDB, through the v1-compatible HTTP API only (line protocol on
 * `/write`, InfluxQL on `/query`), so one adapter serves InfluxDB 1.x, 2.x (v1 compatibility
 * endpoints) and 3.x. Every device id and metric name that reaches InfluxQL goes through
 * quoteString/quoteIdentifier; nothing is ever concatenated raw.
 */
export class InfluxTimeSeriesStore implements TimeSeriesStore {
  readonly kind = 'influxdb';
  private readonly transport: Transport;
  private readonly agent: HttpAgent;

  constructor(private readonly options: InfluxTimeSeriesStoreOptions) {
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
      if (await this.ping()) return;
      throw new InfluxDbError(`InfluxDB at ${this.options.url} does not answer /ping`, undefined, undefined);
    }
    // POST: InfluxDB 1.x refuses writes-to-meta (CREATE …) over GET. Idempotent on the server.
    const body = new URLSearchParams({ q: `CREATE DATABASE ${quoteIdentifier(this.options.database)}` });
    const response = await this.request('POST', '/query', this.authParams(), body.toString(), {
      'content-type': 'application/x-www-form-urlencoded',
    });
    this.statementResults(response, 1, 'CREATE DATABASE');
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
    const params = { ...this.databaseParams(), precision: 'ms' };
    // 204 once InfluxDB has the points in its WAL (fsynced with the shipped wal-fsync-delay = 0s).
    await this.request('POST', '/write', params, lines.join('\n'), {
      'content-type': 'text/plain; charset=utf-8',
    });
  }

  async latest(deviceId: string, metrics: readonly string[]): Promise<Record<string, LatestValue>> {
    const result: Record<string, LatestValue> = {};
    if (!isQueryableDevice(deviceId)) return result;
    const wanted = [...new Set(metrics)].filter(isQueryableMetric);
    if (wanted.length === 0) return result;
    // One statement per metric, all in one request; `last` is a selector, so each answer carries
    // the time of the point it picked.
    const statements = wanted.map(
      (metric) =>
        `SELECT last(${quoteIdentifier(metric)}::field) AS ${VALUE_ALIAS} FROM ${MEASUREMENT} ` +
        `WHERE ${DEVICE_TAG} = ${quoteString(deviceId)}`,
    );
    const results = await this.select(statements);
    results.forEach((statementResult, i) => {
      const [point] = pointsOf(statementResult);
      const metric = wanted[i];
      if (point !== undefined && metric !== undefined) result[metric] = point;
    });
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
      const results = await this.select([
        `SELECT ${field} AS ${VALUE_ALIAS} FROM ${MEASUREMENT} ${where}${limit}`,
      ]);
      return results.flatMap(pointsOf);
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

  async ping(): Promise<boolean> {
    try {
      await this.request('GET', '/ping', {}, '', {});
      return true;
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    this.agent.destroy();
  }

  /** Runs SELECT statements in one GET and returns one result per statement, errors thrown. */
  private async select(statements: readonly string[]): Promise<StatementResult[]> {
    const params = { ...this.databaseParams(), epoch: 'ms', q: statements.join(';\n') };
    const response = await this.request('GET', '/query', params, '', {});
    return this.statementResults(response, statements.length, statements[0] ?? '');
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
    if (results.length !== expected) {
      throw new InfluxDbError(
        `InfluxDB answered ${results.length} results for ${expected} statements (${firstStatement.slice(0, 200)})`,
        200,
        undefined,
      );
    }
    for (const result of results) {
      if (result.error !== undefined) {
        throw new InfluxDbError(`InfluxDB query failed: ${result.error}`, 200, result.error);
      }
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
    return this.options.retentionPolicy === undefined
      ? params
      : { ...params, rp: this.options.retentionPolicy };
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
    const influxMessage = influxErrorText(err.body) ?? err.statusMessage;
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
