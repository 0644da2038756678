import { findDuplicateKey } from './duplicate-keys';
import { parsePayload } from './payloads';

/**
 * The reference: a small recursive-descent JSON reader (valid JSON only) that keeps every key of
 * every object, so it sees what JSON.parse hides. Answers whether some object repeats a key.
 */
function reference(text: string): boolean {
  let i = 0;
  let duplicate = false;
  const space = () => {
    while (i < text.length && ' \t\n\r'.includes(text[i]!)) i++;
  };
  const string = (): string => {
    const start = i;
    i++;
    while (text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
    i++;
    return JSON.parse(text.slice(start, i)) as string;
  };
  const value = (): void => {
    space();
    const c = text[i];
    if (c === '{') {
      i++;
      const keys = new Set<string>();
      space();
      while (text[i] !== '}') {
        space();
        const key = string();
        if (keys.has(key)) duplicate = true;
        keys.add(key);
        space();
        i++; // :
        value();
        space();
        if (text[i] === ',') i++;
      }
      i++;
    } else if (c === '[') {
      i++;
      space();
      while (text[i] !== ']') {
        value();
        space();
        if (text[i] === ',') i++;
      }
      i++;
    } else if (c === '"') string();
    else while (i < text.length && !',]} \t\n\r'.includes(text[i]!)) i++;
  };
  value();
  return duplicate;
}

describe('findDuplicateKey', () => {
  it.each([
    ['{"a":1,"b":2}', undefined],
    ['{"a":1,"a":2}', { key: 'a', path: '(payload)' }],
    ['{"ts":1,"metrics":{"pm25":1,"pm10":2,"pm25":999}}', { key: 'pm25', path: 'metrics' }],
    ['{"metrics":{"pm25":1},"ts":1,"ts":2}', { key: 'ts', path: '(payload)' }],
    ['{"a":{"x":1},"b":{"x":1}}', undefined],
    ['[{"a":1},{"a":1}]', undefined],
    ['[{"a":1},{"b":[1,{"c":1,"c":2}]}]', { key: 'c', path: '[1].b[1]' }],
    ['{"p\\u006d25":1,"pm25":2}', { key: 'pm25', path: '(payload)' }],
    ['{"a\\"b":1,"a\\"b":2}', { key: 'a"b', path: '(payload)' }],
    ['{"k":"a,\\"b\\":1","b":1}', undefined],
    ['{"x":"{\\"a\\":1,\\"a\\":2}"}', undefined],
    ['{"":1,"":2}', { key: '', path: '(payload)' }],
    ['"pm25"', undefined],
    ['[]', undefined],
    ['{}', undefined],
    ['{"ts":"08:00:00","a:b":"x:y","a:b":1}', { key: 'a:b', path: '(payload)' }],
    ['{"ts":"08:00:00","m":{"a":"1:2"},"n":{"a":1,"a":"3:4"}}', { key: 'a', path: 'n' }],
    ['{"ts":"08:00:00","m":{"a":"1:2"},"n":{"a":1,"b":"3:4"}}', undefined],
  ])('%s → %j', (text, expected) => {
    expect(findDuplicateKey(text)).toEqual(expected);
    // With the parsed value, the count settles most texts; the verdict and the finding are the same.
    expect(findDuplicateKey(text, JSON.parse(text))).toEqual(expected);
    expect(findDuplicateKey(text) !== undefined).toBe(reference(text));
  });

  it('counts no further than a nesting of 32, leaving deeper text to the scan', () => {
    const deep = `${'['.repeat(40)}{"a":1,"a":2}${']'.repeat(40)}`;
    expect(findDuplicateKey(deep, JSON.parse(deep))).toEqual({ key: 'a', path: `${'[0]'.repeat(40)}` });
    const fine = `${'['.repeat(40)}{"a":1,"b":2}${']'.repeat(40)}`;
    expect(findDuplicateKey(fine, JSON.parse(fine))).toBeUndefined();
  });

  it('finds a duplicate among many keys (past the switch to a Set)', () => {
    const keys = Array.from({ length: 100 }, (_, i) => `"k${i}":${i}`);
    expect(findDuplicateKey(`{${keys.join(',')}}`)).toBeUndefined();
    expect(findDuplicateKey(`{${keys.join(',')},"k42":0}`)).toEqual({ key: 'k42', path: '(payload)' });
    expect(findDuplicateKey(`{${keys.join(',')},"z":{"a":1,"a":2}}`)).toEqual({ key: 'a', path: 'z' });
  });

  it('agrees with a key-remembering parse on generated JSON', () => {
    let state = 0x1234567;
    const random = () => {
      state ^= state << 13;
      state ^= state >>> 17;
      state ^= state << 5;
      return (state >>> 0) / 2 ** 32;
    };
    const keys = ['a', 'b', 'ts', 'metrics', 'p\\u006d', 'pm', 'x"y', '', 'a:b', ':'];
    const value = (depth: number): string => {
      const r = random();
      if (depth > 3 || r < 0.4)
        return ['1', '"s"', 'null', '"{\\"a\\":1}"', 'true', '"08:00:00"', '"a:b"', '"x\\u003ay"'][
          Math.floor(random() * 8)
        ]!;
      const n = Math.floor(random() * 4);
      if (r < 0.6) return `[${Array.from({ length: n }, () => value(depth + 1)).join(',')}]`;
      const members = Array.from({ length: n }, () => {
        const key = keys[Math.floor(random() * keys.length)]!.replace('"', '\\"');
        return `"${key}":${value(depth + 1)}`;
      });
      return `{${members.join(',')}}`;
    };
    let duplicates = 0;
    for (let i = 0; i < 3000; i++) {
      const text = value(0);
      const expected = reference(text);
      expect([text, findDuplicateKey(text) !== undefined]).toEqual([text, expected]);
      expect([text, findDuplicateKey(text, JSON.parse(text))]).toEqual([text, findDuplicateKey(text)]);
      if (expected) duplicates++;
    }
    expect(duplicates).toBeGreaterThan(100);
  });
});

describe('parsePayload: duplicate keys', () => {
  const now = Date.UTC(2026, 10, 27, 1, 5);
  it.each([
    [
      'a metric',
      '{"ts":1795741200000,"metrics":{"pm25":1,"pm10":2,"pm25":999}}',
      'metrics: key "pm25" appears more than once',
    ],
    [
      'ts',
      '{"ts":1795741200000,"metrics":{"pm25":1},"ts":1795741260000}',
      '(payload): key "ts" appears more than once',
    ],
    [
      'metrics',
      '{"ts":1795741200000,"metrics":{"pm25":1},"metrics":{"pm10":2}}',
      '(payload): key "metrics" appears more than once',
    ],
    [
      'a batch element',
      '[{"ts":1795741200000,"metrics":{"pm25":1}},{"ts":1795741200000,"ts":1,"metrics":{"pm25":1}}]',
      '[1]: key "ts" appears more than once',
    ],
  ])(
    'refuses the whole message when %s is repeated (JSON.parse would keep the last)',
    (_what, raw, detail) => {
      expect(parsePayload('air-quality-station', 'telemetry', raw, { now })).toEqual({
        ok: false,
        reason: 'duplicate-key',
        detail,
        rejections: [{ reason: 'duplicate-key', detail }],
      });
    },
  );
});
