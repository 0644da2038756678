import type { Reading } from '@ioc/contracts';
import { InvalidReadingError } from './errors';

export const INFLUX_MEASUREMENT = 'readings';

/**
 * Line protocol can only carry tag values and field keys that contain no backslash and no control
 * character: InfluxDB 1.x unescapes only `\,`, `\ ` and `\=` there, so a backslash before one of
 * those breaks the line and `\n`/`\t` escapes would be stored as two literal characters — i.e. a
 * different device id or metric name than the one written. Such names are refused, not mangled.
 */
export function isLineProtocolKeySafe(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if (code === 0x5c /* \ */ || code < 0x20 || code === 0x7f) return false;
  }
  return true;
}

/** Tag keys in the order line protocol wants them (sorted: InfluxDB's own order, fastest to index). */
const TAG_KEYS = ['areaId', 'deviceId', 'deviceType', 'domain', 'event', 'kind'] as const;

/** `,`, `=` and space are escaped with a backslash in tag keys and values and in field keys. */
const NEEDS_KEY_ESCAPE = /[,= ]/;
const KEY_ESCAPES = /[,= ]/g;
const escapeKey = (value: string): string =>
  NEEDS_KEY_ESCAPE.test(value) ? value.replace(KEY_ESCAPES, (c) => `\\${c}`) : value;
/** In string field values, `"` and `\` are escaped. */
const NEEDS_STRING_ESCAPE = /["\\]/;
const STRING_ESCAPES = /["\\]/g;
const stringField = (value: string): string =>
  `"${NEEDS_STRING_ESCAPE.test(value) ? value.replace(STRING_ESCAPES, (c) => `\\${c}`) : value}"`;

/**
 * One reading as one line of InfluxDB line protocol (ms precision). Tags identify the series —
 * device, type, domain, area, kind, event — so the point identity is (tags, time): the port's
 * record identity (device, metric, ts, kind, event) with a field per metric. Writing the same
 * reading again overwrites it; a status and a telemetry message of one device in the same
 * millisecond, or two camera events of different types, land in different series and are both
 * kept. An absent or empty event writes no `event` tag (InfluxDB answers `''` for it, the embedded
 * store's value for "no event"). Numbers always go as float fields, never integers: a field's
 * type is fixed per shard, and `42` and `42.5` must land in the same field.
 *
 * Built as one string (the same text influxdb-client's `Point` writes, which the spec checks):
 * a `Point` per reading cost ~10 % of the broker's thread in garbage and copies.
 */
export function readingToLine(reading: Reading, index: number): string | undefined {
  let line = INFLUX_MEASUREMENT;
  for (const name of TAG_KEYS) {
    const value = reading[name];
    if (value === undefined || value === '') continue;
    if (!isLineProtocolKeySafe(value)) {
      throw new InvalidReadingError(
        `reading #${index}: ${name} ${JSON.stringify(value)} contains a backslash or control character, ` +
          'which InfluxDB line protocol cannot carry',
        index,
      );
    }
    line += `,${name}=${escapeKey(value)}`;
  }
  // [name, escaped name, value]: sorted by name, as InfluxDB and influxdb-client order fields.
  const fields: [string, string, string][] = [];
  for (const metric of Object.keys(reading.metrics)) {
    if (!isLineProtocolKeySafe(metric)) {
      throw new InvalidReadingError(
        `reading #${index}: metric name ${JSON.stringify(metric)} contains a backslash or control ` +
          'character, which InfluxDB line protocol cannot carry',
        index,
      );
    }
    const value = reading.metrics[metric] as Reading['metrics'][string];
    fields.push([
      metric,
      escapeKey(metric),
      typeof value === 'number'
        ? formatFloat(value, index, metric)
        : typeof value === 'boolean'
          ? value
            ? 'T'
            : 'F'
          : stringField(value),
    ]);
  }
  if (reading.seq !== undefined) fields.push(['seq', 'seq', formatFloat(reading.seq, index, 'seq')]);
  // undefined when the reading has neither metrics nor seq: nothing to store, as in every adapter.
  if (fields.length === 0) return undefined;
  fields.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  let separator = ' ';
  for (const [, key, value] of fields) {
    line += `${separator}${key}=${value}`;
    separator = ',';
  }
  return `${line} ${reading.ts}`;
}

function formatFloat(value: number, index: number, name: string): string {
  if (!Number.isFinite(value))
    throw new InvalidReadingError(`reading #${index}: ${name} is ${value}, not a finite number`, index);
  return String(value);
}
