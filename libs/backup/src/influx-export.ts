import { createReadStream, openSync, writeSync, closeSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { backlogLines, INFLUX_MEASUREMENT, quoteIdentifier, ROLLUP_TARGETS } from '@ioc/timeseries';

/** How to reach the InfluxDB a platform writes to (the adapter's options: IOC_INFLUX_*). */
export interface InfluxSource {
  url: string;
  database: string;
  token?: string;
  username?: string;
  password?: string;
  /** Raw points' retention policy; undefined: the database's default. */
  retentionPolicy?: string;
  rollups: 'managed' | 'external' | 'none';
}

/** One measurement a backup exports: its retention policy (undefined: the default) and name. */
export interface InfluxExportTarget {
  retentionPolicy: string | undefined;
  measurement: string;
  /** Width of the time chunk one /query reads, ms. */
  chunkMs: number;
}

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

/**
 * Default chunk widths: one /query per hour of raw points (~3.6 M points at 1 000 readings/s,
 * some hundreds of MB of JSON: the bound on the exporter's memory), per day of 1-minute rollups,
 * per 30 days of hour rollups (the same order of rows per query for a steady feed).
 */
export const DEFAULT_CHUNK_MS: InfluxChunkMs = { raw: HOUR_MS, '1m': DAY_MS, '1h': 30 * DAY_MS };

/** Time-chunk widths of an InfluxDB export, ms: raw points, 1-minute and hour rollups. */
export interface InfluxChunkMs {
  raw: number;
  '1m': number;
  '1h': number;
}

/** Lines per /write on restore: InfluxDB's own guidance is batches of 5 000–10 000 points. */
export const RESTORE_BATCH_LINES = 5_000;

/**
 * What a backup of this source exports: raw `readings` in the raw retention policy, and — when
 * something keeps rollups (managed or external) — `rp_1m.readings_1m` and `rp_1h.readings_1h`.
 * Rollups are exported because they outlive raw points (90 days raw, 730 days of 1-minute rollups
 * by default): hours whose raw points expired can only come back from the exported rollups. The
 * adapter's backlog markers (`rollup_backlog`) are not exported: restore writes fresh ones.
 */
export function influxExportTargets(
  source: InfluxSource,
  chunkMs: Partial<InfluxChunkMs> = {},
): InfluxExportTarget[] {
  const targets: InfluxExportTarget[] = [
    {
      retentionPolicy: source.retentionPolicy ?? (source.rollups === 'managed' ? 'autogen' : undefined),
      measurement: INFLUX_MEASUREMENT,
      chunkMs: chunkMs.raw ?? DEFAULT_CHUNK_MS.raw,
    },
  ];
  if (source.rollups !== 'none') {
    for (const resolution of ['1m', '1h'] as const) {
      targets.push({
        ...ROLLUP_TARGETS[resolution],
        chunkMs: chunkMs[resolution] ?? DEFAULT_CHUNK_MS[resolution],
      });
    }
  }
  return targets;
}

/** The manifest's key for a measurement: `<retention policy>.<measurement>` (`.readings` for the default policy). */
export function measurementKey(target: { retentionPolicy: string | undefined; measurement: string }): string {
  return `${target.retentionPolicy ?? ''}.${target.measurement}`;
}

interface QuerySeries {
  tags?: Record<string, string>;
  columns: string[];
  values?: unknown[][];
}

/** A minimal client of InfluxDB's v1 HTTP API (/query, /write), the one API 1.x, 2.x and 3.x share. */
export class InfluxV1Client {
  constructor(private readonly source: InfluxSource) {}

  private params(extra: Record<string, string>): URLSearchParams {
    const params = new URLSearchParams({ db: this.source.database, ...extra });
    if (this.source.username !== undefined) params.set('u', this.source.username);
    if (this.source.password !== undefined) params.set('p', this.source.password);
    return params;
  }

  /** fetch() with the server's address in the error when there is no answer at all. */
  private async fetch(target: string, init: RequestInit): Promise<Response> {
    try {
      return await fetch(`${this.source.url}${target}`, init);
    } catch (error) {
      const cause = (error as { cause?: { message?: string } }).cause?.message ?? (error as Error).message;
      throw new Error(`InfluxDB at ${this.source.url} did not answer: ${cause}`, { cause: error });
    }
  }

  private headers(extra: Record<string, string>): Record<string, string> {
    return this.source.token === undefined
      ? extra
      : { ...extra, authorization: `Token ${this.source.token}` };
  }

  /**
   * One InfluxQL statement (POST, epoch ms); its series.
   * @throws Error with InfluxDB's message; `database not found` and `retention policy not found`
   *   are answered as no series
   */
  async query(statement: string): Promise<QuerySeries[]> {
    const response = await this.fetch(`/query?${this.params({ epoch: 'ms' }).toString()}`, {
      method: 'POST',
      headers: this.headers({
        'content-type': 'application/x-www-form-urlencoded',
        accept: 'application/json',
      }),
      body: new URLSearchParams({ q: statement }).toString(),
    });
    const text = await response.text();
    let body: { error?: string; results?: { error?: string; partial?: boolean; series?: QuerySeries[] }[] };
    try {
      body = JSON.parse(text) as typeof body;
    } catch {
      throw new Error(`InfluxDB /query answered HTTP ${response.status}: ${text.slice(0, 300)}`);
    }
    const error = body.error ?? body.results?.[0]?.error;
    if (error !== undefined) {
      // Nothing of that name on this server: nothing to export, nothing in the way of a restore.
      if (/(database|retention policy) not found/.test(error)) return [];
      throw new Error(`InfluxDB query failed: ${error} (${statement.slice(0, 200)})`);
    }
    if (!response.ok)
      throw new Error(`InfluxDB /query answered HTTP ${response.status}: ${text.slice(0, 300)}`);
    const result = body.results?.[0];
    if (result?.partial === true) {
      throw new Error(
        `InfluxDB truncated the answer (max-row-limit): use a shorter chunk (${statement.slice(0, 200)})`,
      );
    }
    return result?.series ?? [];
  }

  /**
   * Writes line protocol (ms precision) into `retentionPolicy` (undefined: the default).
   * @throws Error with InfluxDB's message (HTTP status ≥ 300)
   */
  async write(lines: readonly string[], retentionPolicy: string | undefined): Promise<void> {
    if (lines.length === 0) return;
    const params = this.params({
      precision: 'ms',
      ...(retentionPolicy === undefined ? {} : { rp: retentionPolicy }),
    });
    const response = await this.fetch(`/write?${params.toString()}`, {
      method: 'POST',
      headers: this.headers({ 'content-type': 'text/plain; charset=utf-8' }),
      body: lines.join('\n'),
    });
    if (!response.ok) {
      throw new Error(
        `InfluxDB /write answered HTTP ${response.status}: ${(await response.text()).slice(0, 300)}`,
      );
    }
  }
}

const from = (
  database: string,
  target: { retentionPolicy: string | undefined; measurement: string },
): string =>
  `${quoteIdentifier(database)}.${target.retentionPolicy === undefined ? '' : quoteIdentifier(target.retentionPolicy)}.${quoteIdentifier(target.measurement)}`;

/** Line protocol escapes: `,` and space in measurement names; `,`, `=` and space in tag keys, tag values and field keys. */
const escapeMeasurement = (value: string): string => value.replace(/[, ]/g, (c) => `\\${c}`);
const escapeKey = (value: string): string => value.replace(/[,= ]/g, (c) => `\\${c}`);
const stringField = (value: string): string => `"${value.replace(/["\\]/g, (c) => `\\${c}`)}"`;

/** A field value as line protocol, by the field's type (SHOW FIELD KEYS); undefined for null. */
function fieldValue(value: unknown, type: string | undefined): string | undefined {
  if (value === null || value === undefined) return undefined;
  if (typeof value === 'boolean') return value ? 'T' : 'F';
  if (typeof value === 'string') return stringField(value);
  if (typeof value === 'number') {
    if (type === 'integer') return `${Math.trunc(value)}i`;
    if (type === 'unsigned') return `${Math.trunc(value)}u`;
    return String(value);
  }
  throw new Error(`unexpected field value ${JSON.stringify(value)}`);
}

/** The earliest or latest time of a measurement, or undefined when it holds no point. */
async function boundary(
  client: InfluxV1Client,
  source: string,
  order: 'ASC' | 'DESC',
): Promise<number | undefined> {
  const [series] = await client.query(`SELECT * FROM ${source} ORDER BY time ${order} LIMIT 1`);
  const time = series?.values?.[0]?.[series.columns.indexOf('time')];
  return typeof time === 'number' ? time : undefined;
}

/**
 * Exports one measurement to a line-protocol file (ms timestamps), one /query per time chunk:
 * `SELECT * … GROUP BY *` puts the tags in each series' `tags` and only fields in the columns; the
 * field types (SHOW FIELD KEYS) decide how numbers are written (`i` for integers: a rollup's counts).
 *
 * @returns the lines written (one per point)
 * @throws Error when a query fails (the file is then incomplete: the backup fails)
 */
export async function exportMeasurement(
  client: InfluxV1Client,
  source: InfluxSource,
  target: InfluxExportTarget,
  file: string,
): Promise<number> {
  const fd = openSync(file, 'wx', 0o600);
  let lines = 0;
  try {
    const qualified = from(source.database, target);
    const first = await boundary(client, qualified, 'ASC');
    const last = await boundary(client, qualified, 'DESC');
    if (first === undefined || last === undefined) return 0;
    const types = new Map<string, string>();
    for (const series of await client.query(`SHOW FIELD KEYS FROM ${qualified}`)) {
      const key = series.columns.indexOf('fieldKey');
      const type = series.columns.indexOf('fieldType');
      for (const row of series.values ?? []) types.set(String(row[key]), String(row[type]));
    }
    const measurement = escapeMeasurement(target.measurement);
    const start = Math.floor(first / target.chunkMs) * target.chunkMs;
    for (let t = start; t <= last; t += target.chunkMs) {
      const statement = `SELECT * FROM ${qualified} WHERE time >= ${t}ms AND time < ${t + target.chunkMs}ms GROUP BY *`;
      let text = '';
      for (const series of await client.query(statement)) {
        let prefix = measurement;
        for (const key of Object.keys(series.tags ?? {}).sort()) {
          const value = series.tags?.[key] ?? '';
          if (value !== '') prefix += `,${escapeKey(key)}=${escapeKey(value)}`;
        }
        const timeColumn = series.columns.indexOf('time');
        for (const row of series.values ?? []) {
          const fields: string[] = [];
          series.columns.forEach((column, i) => {
            if (i === timeColumn) return;
            const value = fieldValue(row[i], types.get(column));
            if (value !== undefined) fields.push(`${escapeKey(column)}=${value}`);
          });
          if (fields.length === 0) continue;
          text += `${prefix} ${fields.join(',')} ${String(row[timeColumn])}\n`;
          lines++;
        }
      }
      if (text !== '') writeSync(fd, text);
    }
    return lines;
  } finally {
    closeSync(fd);
  }
}

/** Whether the InfluxDB database holds any platform point: the measurements it has, with point counts. */
export async function influxContents(
  client: InfluxV1Client,
  source: InfluxSource,
): Promise<Record<string, number>> {
  const found: Record<string, number> = {};
  for (const target of influxExportTargets(source)) {
    const series = await client.query(`SELECT count(*) FROM ${from(source.database, target)}`);
    const row = series[0]?.values?.[0];
    if (row === undefined) continue;
    // count(*) gives one column per field; the largest is at least the number of points with that field.
    const n = Math.max(0, ...row.slice(1).map((v) => (typeof v === 'number' ? v : 0)));
    if (n > 0) found[measurementKey(target)] = n;
  }
  return found;
}

/**
 * Writes a line-protocol file back in batches of RESTORE_BATCH_LINES (ms precision).
 * @param onLine called with each line's timestamp (ms): restore collects the hours to roll up
 * @returns the lines written
 */
export async function importMeasurement(
  client: InfluxV1Client,
  retentionPolicy: string | undefined,
  file: string,
  onLine?: (ts: number) => void,
): Promise<number> {
  const reader = createInterface({ input: createReadStream(file, 'utf8'), crlfDelay: Infinity });
  let batch: string[] = [];
  let lines = 0;
  for await (const line of reader) {
    if (line === '') continue;
    batch.push(line);
    lines++;
    if (onLine !== undefined) onLine(Number(line.slice(line.lastIndexOf(' ') + 1)));
    if (batch.length >= RESTORE_BATCH_LINES) {
      await client.write(batch, retentionPolicy);
      batch = [];
    }
  }
  await client.write(batch, retentionPolicy);
  return lines;
}

/**
 * Marks hours as written and not rolled up (the adapter's `rollup_backlog` markers, in the raw
 * retention policy): the adapter's next init() takes them into its backlog and its maintenance
 * (compact()) recomputes their 1m/1h rollups from the restored raw points.
 */
export async function markHoursPending(
  client: InfluxV1Client,
  rawRetentionPolicy: string | undefined,
  hours: Iterable<number>,
  now: number,
): Promise<void> {
  const lines = backlogLines('written', now, hours);
  for (let i = 0; i < lines.length; i += RESTORE_BATCH_LINES) {
    await client.write(lines.slice(i, i + RESTORE_BATCH_LINES), rawRetentionPolicy);
  }
}
