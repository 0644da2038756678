import { mulberry32 } from '@ioc/runtime';
import { decodeMessagePack } from './message-pack';

const bytes = (...parts: (number | string)[]): Uint8Array =>
  Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'utf8') : Buffer.from([p]))));

/** A test encoder: each value in one of its encodings, the compact one or a wider one. */
function encode(value: unknown, wide: () => boolean): Buffer {
  const out: Buffer[] = [];
  const put = (...b: number[]): void => {
    out.push(Buffer.from(b));
  };
  const sized = (n: number, fix: number | undefined, fixMax: number, codes: [number, number, number]) => {
    if (fix !== undefined && n <= fixMax && !wide()) return put(fix | n);
    if (n <= 0xff && codes[0] !== 0 && !wide()) return put(codes[0], n);
    if (n <= 0xffff && !wide()) return put(codes[1], n >> 8, n & 0xff);
    const b = Buffer.alloc(5);
    b[0] = codes[2];
    b.writeUInt32BE(n, 1);
    out.push(b);
  };
  const write = (v: unknown): void => {
    if (v === null) return put(0xc0);
    if (typeof v === 'boolean') return put(v ? 0xc3 : 0xc2);
    if (typeof v === 'number') {
      if (Number.isSafeInteger(v) && !wide()) {
        if (v >= 0 && v <= 0x7f) return put(v);
        if (v < 0 && v >= -32) return put(v & 0xff);
        const b = Buffer.alloc(9);
        if (v >= 0) {
          b[0] = 0xcf;
          b.writeBigUInt64BE(BigInt(v), 1);
        } else {
          b[0] = 0xd3;
          b.writeBigInt64BE(BigInt(v), 1);
        }
        return void out.push(b);
      }
      const b = Buffer.alloc(9);
      b[0] = 0xcb;
      b.writeDoubleBE(v, 1);
      return void out.push(b);
    }
    if (typeof v === 'string') {
      const s = Buffer.from(v, 'utf8');
      sized(s.length, 0xa0, 31, [0xd9, 0xda, 0xdb]);
      return void out.push(s);
    }
    if (Array.isArray(v)) {
      sized(v.length, 0x90, 15, [0, 0xdc, 0xdd]);
      return v.forEach(write);
    }
    const entries = Object.entries(v as Record<string, unknown>);
    sized(entries.length, 0x80, 15, [0, 0xde, 0xdf]);
    for (const [k, item] of entries) {
      write(k);
      write(item);
    }
  };
  write(value);
  return Buffer.concat(out);
}

describe('decodeMessagePack', () => {
  it('decodes the shape of an InfluxDB 1.x /query answer', () => {
    // {"results":[{"statement_id":0,"series":[{"name":"m","columns":["time","n"],"values":[[1000,1.5]]}]}]}
    const answer = bytes(
      0x81,
      0xa7,
      'results',
      0x91,
      0x82,
      0xac,
      'statement_id',
      0x00,
      0xa6,
      'series',
      0x91,
      0x83,
      0xa4,
      'name',
      0xa1,
      'm',
      0xa7,
      'columns',
      0x92,
      0xa4,
      'time',
      0xa1,
      'n',
      0xa6,
      'values',
      0x91,
      0x92,
      0xd1,
      0x03,
      0xe8,
      0xcb,
      0x3f,
      0xf8,
      0,
      0,
      0,
      0,
      0,
      0,
    );
    expect(decodeMessagePack(answer)).toStrictEqual({
      results: [{ statement_id: 0, series: [{ name: 'm', columns: ['time', 'n'], values: [[1000, 1.5]] }] }],
    });
  });

  it('decodes every integer, float, string, array and map width', () => {
    const cases: [Uint8Array, unknown][] = [
      [bytes(0x7f), 127],
      [bytes(0xe0), -32],
      [bytes(0xcc, 0xff), 255],
      [bytes(0xcd, 0xff, 0xff), 65_535],
      [bytes(0xce, 0xff, 0xff, 0xff, 0xff), 4_294_967_295],
      [bytes(0xcf, 0, 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff), Number.MAX_SAFE_INTEGER],
      [bytes(0xd0, 0x80), -128],
      [bytes(0xd1, 0x80, 0x00), -32_768],
      [bytes(0xd2, 0x80, 0, 0, 0), -2_147_483_648],
      [bytes(0xd3, 0xff, 0xe0, 0, 0, 0, 0, 0, 1), Number.MIN_SAFE_INTEGER],
      [bytes(0xd3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff), -1],
      [bytes(0xca, 0x3f, 0xc0, 0, 0), 1.5],
      [bytes(0xcb, 0xc0, 0x09, 0x21, 0xfb, 0x54, 0x44, 0x2d, 0x18), -Math.PI],
      [bytes(0xc0), null],
      [bytes(0xc2), false],
      [bytes(0xc3), true],
      [bytes(0xa0), ''],
      [bytes(0xd9, 3, 'abc'), 'abc'],
      [bytes(0xda, 0, 4, 'Hà '), 'Hà '],
      [bytes(0xdb, 0, 0, 0, 2, 'é'), 'é'],
      [bytes(0xdc, 0, 2, 0x01, 0x02), [1, 2]],
      [bytes(0xdd, 0, 0, 0, 1, 0xc0), [null]],
      [bytes(0xde, 0, 1, 0xa1, 'k', 0x05), { k: 5 }],
      [bytes(0xdf, 0, 0, 0, 0), {}],
    ];
    for (const [input, expected] of cases) expect(decodeMessagePack(input)).toStrictEqual(expected);
  });

  it('gives what JSON.parse gives for the same document, in compact and wide encodings', () => {
    const rnd = mulberry32(7);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(rnd() * items.length)] as T;
    const document = (depth: number): unknown => {
      const kind = depth > 3 ? pick(['n', 's', 'b']) : pick(['n', 's', 'b', 'a', 'o', 'z']);
      switch (kind) {
        case 'n':
          return pick([
            0,
            -1,
            31,
            -33,
            200,
            70_000,
            -70_000,
            1795824000000,
            2 ** 40 + 1,
            0.1,
            -273.15,
            1e300,
          ]);
        case 's':
          return pick(['', 'time', 'séries', '😀 tag', 'x'.repeat(40), 'y'.repeat(300), 'z'.repeat(70_000)]);
        case 'b':
          return rnd() < 0.5;
        case 'z':
          return null;
        case 'a':
          return Array.from({ length: pick([0, 1, 3, 16, 20]) }, () => document(depth + 1));
        default:
          return Object.fromEntries(
            Array.from({ length: pick([0, 1, 2, 17]) }, (_, i) => [`k${i}`, document(depth + 1)]),
          );
      }
    };
    for (let i = 0; i < 200; i++) {
      const value = document(0);
      const viaJson: unknown = JSON.parse(JSON.stringify(value));
      expect(decodeMessagePack(encode(value, () => false))).toStrictEqual(viaJson);
      expect(decodeMessagePack(encode(value, () => rnd() < 0.5))).toStrictEqual(viaJson);
    }
  });

  it('decodes a view into a larger buffer, as a response chunk may be', () => {
    const whole = bytes(0xff, 0xff, 0x92, 0x01, 0xa1, 'x', 0xff);
    expect(decodeMessagePack(whole.subarray(2, 6))).toStrictEqual([1, 'x']);
  });

  it('keeps a "__proto__" key an own property, as JSON.parse does', () => {
    const decoded = decodeMessagePack(bytes(0x81, 0xa9, '__proto__', 0x81, 0xa1, 'x', 0x01)) as Record<
      string,
      unknown
    >;
    expect(Object.getPrototypeOf(decoded)).toBe(Object.prototype);
    expect(Object.keys(decoded)).toEqual(['__proto__']);
    expect((decoded as { x?: unknown }).x).toBeUndefined();
  });

  it('refuses truncated, malformed and unsupported input instead of guessing', () => {
    for (const input of [
      bytes(),
      bytes(0xcb, 0x3f, 0xf8),
      bytes(0xd9, 5, 'abc'),
      bytes(0x93, 0x01, 0x02),
      bytes(0xdd, 0xff, 0xff, 0xff, 0xff), // four billion elements announced, none there
      bytes(0x81, 0x01, 0x02), // a number as map key
      bytes(0xc4, 1, 0x00), // bin 8
      bytes(0xd4, 1, 0x00), // fixext 1
      bytes(0xc1),
      bytes(0x01, 0x02), // a value, then more
    ]) {
      expect(() => decodeMessagePack(input)).toThrow(RangeError);
    }
  });
});
