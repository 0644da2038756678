import { Point } from '@influxdata/influxdb-client';
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

/**
 * One reading as one line of InfluxDB line protocol (ms precision). Tags identify the series —
 * device, type, domain, area, kind, event — so the point identity is (tags, time) and writing the
 * same reading again overwrites it. Numbers always go as float fields, never integers: a field's
 * type is fixed per shard, and `42` and `42.5` must land in the same field.
 */
export function readingToLine(reading: Reading, index: number): string | undefined {
  const tags: [string, string | undefined][] = [
    ['deviceId', reading.deviceId],
    ['deviceType', reading.deviceType],
    ['domain', reading.domain],
    ['areaId', reading.areaId],
    ['kind', reading.kind],
    ['event', reading.event],
  ];
  const point = new Point(INFLUX_MEASUREMENT);
  for (const [name, value] of tags) {
    if (value === undefined || value === '') continue;
    if (!isLineProtocolKeySafe(value)) {
      throw new InvalidReadingError(
        `reading #${index}: ${name} ${JSON.stringify(value)} contains a backslash or control character, ` +
          'which InfluxDB line protocol cannot carry',
        index,
      );
    }
    point.tag(name, value);
  }
  for (const [metric, value] of Object.entries(reading.metrics)) {
    if (!isLineProtocolKeySafe(metric)) {
      throw new InvalidReadingError(
        `reading #${index}: metric name ${JSON.stringify(metric)} contains a backslash or control ` +
          'character, which InfluxDB line protocol cannot carry',
        index,
      );
    }
    if (typeof value === 'number') point.floatField(metric, value);
    else if (typeof value === 'boolean') point.booleanField(metric, value);
    else point.stringField(metric, value);
  }
  if (reading.seq !== undefined) point.floatField('seq', reading.seq);
  point.timestamp(reading.ts);
  // undefined when the reading has neither metrics nor seq: nothing to store, as in every adapter.
  return point.toLineProtocol({ convertTime: (time) => (time === undefined ? undefined : String(time)) });
}
