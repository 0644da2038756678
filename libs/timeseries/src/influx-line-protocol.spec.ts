import { Point } from '@influxdata/influxdb-client';
import type { MetricValue, Reading } from '@ioc/contracts';
import { random, reading } from './conformance/helpers';
import { InvalidReadingError } from './errors';
import { INFLUX_MEASUREMENT, readingToLine } from './influx-line-protocol';

/** The reference: the line influxdb-client's Point writes for the same reading. */
function viaPoint(r: Reading): string | undefined {
  const point = new Point(INFLUX_MEASUREMENT);
  for (const name of ['deviceId', 'deviceType', 'domain', 'areaId', 'kind', 'event'] as const) {
    const value = r[name];
    if (value !== undefined && value !== '') point.tag(name, value);
  }
  for (const [metric, value] of Object.entries(r.metrics)) {
    if (typeof value === 'number') point.floatField(metric, value);
    else if (typeof value === 'boolean') point.booleanField(metric, value);
    else point.stringField(metric, value);
  }
  if (r.seq !== undefined) point.floatField('seq', r.seq);
  point.timestamp(r.ts);
  return point.toLineProtocol({ convertTime: (time) => (time === undefined ? undefined : String(time)) });
}

describe('readingToLine', () => {
  it('writes exactly the line influxdb-client writes, for varied and awkward readings', () => {
    const rnd = random(11);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(rnd() * items.length)] as T;
    const names = ['pm25', 'a b', 'x,y', 'k=v', 'Nhiệt độ', 'seq2', 'Z', 'a'];
    const texts = ['ok', 'he said "hi"', 'back\\slash', 'line\nbreak', '', '😀', "'; DROP SERIES --"];
    const numbers = [0, -0, 1e21, 1e-7, 5e-324, -123.456, Number.MAX_VALUE, 0.1 + 0.2];
    for (let i = 0; i < 3_000; i++) {
      const metrics: Record<string, MetricValue> = {};
      const count = Math.floor(rnd() * 5);
      for (let m = 0; m < count; m++) {
        const kind = rnd();
        metrics[pick(names)] = kind < 0.6 ? pick(numbers) : kind < 0.8 ? rnd() < 0.5 : pick(texts);
      }
      const r = reading(pick(['dev-1', 'dev 2', 'dev,3', 'dev=4']), Math.floor(rnd() * 2 ** 41), metrics, {
        areaId: pick(['ward-7', 'phường 1', 'a,b']),
        ...(rnd() < 0.5 ? { seq: Math.floor(rnd() * 1e9) } : {}),
        ...(rnd() < 0.3 ? { kind: 'event' as const, event: pick(['accident', 'wrong way', '']) } : {}),
      });
      expect(readingToLine(r, i)).toBe(viaPoint(r));
    }
  });

  it('has no line for a reading with neither metrics nor seq', () => {
    expect(readingToLine(reading('dev-1', 1, {}), 0)).toBeUndefined();
    expect(readingToLine(reading('dev-1', 1, {}, { seq: 3 }), 0)).toBe(
      viaPoint(reading('dev-1', 1, {}, { seq: 3 })),
    );
  });

  it('refuses names line protocol cannot carry and numbers that are not finite, naming the reading', () => {
    for (const bad of [
      reading('dev\\1', 1, { pm25: 1 }),
      reading('dev-1', 1, { 'pm\t25': 1 }),
      reading('dev-1', 1, { pm25: Number.NaN }),
      reading('dev-1', 1, { pm25: Number.POSITIVE_INFINITY }),
    ]) {
      expect(() => readingToLine(bad, 4)).toThrow(InvalidReadingError);
      expect(() => readingToLine(bad, 4)).toThrow(/reading #4/);
    }
  });
});
