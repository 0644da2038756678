import type { Reading } from '@ioc/contracts';
import { mulberry32 } from '@ioc/runtime';

import { ReadingJsonEncoder } from './reading-json';

function reading(overrides: Partial<Reading> = {}): Reading {
  return {
    deviceId: 'aq-tn-001',
    deviceType: 'air-quality-station',
    domain: 'env',
    kind: 'telemetry',
    areaId: 'tay-ninh-city-phuong-1',
    areaPath: Object.freeze(['tay-ninh', 'tay-ninh-city', 'tay-ninh-city-phuong-1']),
    location: { lat: 11.29931, lon: 106.093333 },
    ts: 1_795_831_004_545,
    metrics: { pm25: 42.1, co: 2245, relativeHumidity: 0.926 },
    ...overrides,
  };
}

/** What JSON.stringify would give, read back: the encoder's contract. */
const viaStringify = (r: Reading): unknown => JSON.parse(JSON.stringify(r));

describe('ReadingJsonEncoder', () => {
  it('encodes what JSON.stringify encodes, with and without seq and event', () => {
    const encoder = new ReadingJsonEncoder();
    for (const r of [
      reading(),
      reading({ seq: 0 }),
      reading({
        seq: 9_007_199_254_740_991,
        kind: 'event',
        event: 'accident',
        metrics: { confidence: 0.93 },
      }),
      reading({ kind: 'status', metrics: { online: false, firmware: 'v1.2 "β"\n\u2028' } }),
    ]) {
      expect(JSON.parse(encoder.encode(r))).toEqual(viaStringify(r));
    }
  });

  it('matches JSON.stringify on varied readings of many devices, hostile text included', () => {
    const encoder = new ReadingJsonEncoder();
    const rnd = mulberry32(7);
    const texts = ['"', '\\', '</script>', '\u0000\u001f', '😀', 'Tây Ninh', "'; DROP TABLE points; --"];
    for (let i = 0; i < 2_000; i++) {
      const pick = <T>(items: readonly T[]): T => items[Math.floor(rnd() * items.length)] as T;
      const r = reading({
        deviceId: `dev-${Math.floor(rnd() * 50)}`,
        areaId: pick(['a', 'b', 'c']),
        areaPath: pick([['p'], ['p', 'a'], Object.freeze(['p', 'b'])]),
        location: { lat: rnd() * 90, lon: rnd() * 180 },
        ts: Math.floor(rnd() * 2 ** 41),
        metrics: { n: rnd() * 1e6 - 5e5, b: rnd() < 0.5, t: pick(texts), z: -0 },
        ...(rnd() < 0.5 ? { seq: Math.floor(rnd() * 1e9) } : {}),
        ...(rnd() < 0.3 ? { kind: 'event' as const, event: pick(texts) } : {}),
      });
      expect(JSON.parse(encoder.encode(r))).toEqual(viaStringify(r));
    }
  });

  it('re-encodes the shared part when a device moves or its objects are changed in place', () => {
    const encoder = new ReadingJsonEncoder();
    const path = ['tay-ninh', 'hoa-thanh'];
    const location = { lat: 11.3, lon: 106.1 };
    const first = reading({ areaId: 'hoa-thanh', areaPath: path, location });
    expect(JSON.parse(encoder.encode(first))).toMatchObject({ areaPath: ['tay-ninh', 'hoa-thanh'] });

    path.push('long-hoa');
    location.lat = 11.4;
    const mutated = reading({ areaId: 'hoa-thanh', areaPath: path, location });
    expect(JSON.parse(encoder.encode(mutated))).toEqual(viaStringify(mutated));

    const moved = reading({ areaId: 'trang-bang', areaPath: Object.freeze(['tay-ninh', 'trang-bang']) });
    expect(JSON.parse(encoder.encode(moved))).toMatchObject({
      areaId: 'trang-bang',
      areaPath: ['tay-ninh', 'trang-bang'],
    });
    expect(JSON.parse(encoder.encode(reading({ domain: 'traffic' })))).toMatchObject({ domain: 'traffic' });
  });
});
