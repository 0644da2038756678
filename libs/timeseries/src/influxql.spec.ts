import { canQuote, durationMsLiteral, epochMsLiteral, quoteIdentifier, quoteString } from './influxql';
import { mulberry32 } from '@ioc/runtime';

/**
 * Reference reader for a quoted InfluxQL token, following the InfluxDB 1.x scanner
 * (influxql/scanner.go ScanString): the token ends at the first unescaped closing quote, a raw
 * newline (or carriage return, which the reader turns into one) or NUL ends it as an error, and
 * only \\ \" \' \n are escapes. influx-time-series.store.spec.ts checks the same values against
 * the real parser of a running influxd.
 */
function readQuoted(text: string): { value: string; rest: string } {
  const quote = text[0];
  if (quote !== '"' && quote !== "'") throw new Error(`not a quoted token: ${text.slice(0, 20)}`);
  let value = '';
  let i = 1;
  while (i < text.length) {
    const ch = text[i]!;
    if (ch === quote) return { value, rest: text.slice(i + 1) };
    if (ch === '\n' || ch === '\r' || ch === '\u0000') throw new Error(`bad string at ${i}`);
    if (ch === '\\') {
      const next = text[i + 1];
      if (next === 'n') value += '\n';
      else if (next === '\\' || next === '"' || next === "'") value += next;
      else throw new Error(`bad escape \\${String(next)} at ${i}`);
      i += 2;
      continue;
    }
    value += ch;
    i += 1;
  }
  throw new Error('unterminated quoted token');
}

const random = mulberry32;

const DANGEROUS = [
  "'",
  '"',
  '\\',
  '\n',
  ';',
  ' ',
  '.',
  '*',
  '/',
  '(',
  ')',
  '=',
  '~',
  '-',
  '|',
  '^',
  '$',
  'a',
  'ü',
  '😀',
];

const HOSTILE: string[] = [
  '',
  'plain',
  "it's",
  'say "hi"',
  '\\',
  'trailing\\',
  "\\'",
  '\\"',
  "\\\\'",
  '\n',
  'a\nb',
  '\\n',
  "'; DROP DATABASE ioc; --",
  '"; DROP MEASUREMENT "readings"; --',
  "x' OR \"deviceId\" =~ /.*/ OR 'x'='x",
  '.*',
  '/.*/',
  '^$|()[]{}+?.*',
  'tab\there',
  'ü 日本 😀',
  "'".repeat(10_000),
  '"'.repeat(10_000),
  '\\'.repeat(10_000),
  '\n'.repeat(10_000),
  ';\'"\\\n/.*'.repeat(1250),
];
// Plus 500 random strings over the characters that matter.
const rnd = random(2026);
for (let n = 0; n < 500; n++) {
  const length = Math.floor(rnd() * 60);
  HOSTILE.push(Array.from({ length }, () => DANGEROUS[Math.floor(rnd() * DANGEROUS.length)]!).join(''));
}

describe('InfluxQL quoting', () => {
  it.each([
    ['quoteIdentifier', quoteIdentifier, '"'],
    ['quoteString', quoteString, "'"],
  ] as const)('%s yields one token that reads back as exactly the input', (_name, quote, quoteChar) => {
    for (const value of HOSTILE) {
      const quoted = quote(value);
      expect(quoted.startsWith(quoteChar) && quoted.endsWith(quoteChar)).toBe(true);
      // The whole text is a single token: nothing after the closing quote can be read as InfluxQL.
      expect(readQuoted(quoted)).toEqual({ value, rest: '' });
      expect(quoted).not.toMatch(/[\n\r]/);
    }
  });

  it('escapes the way the InfluxQL grammar documents', () => {
    expect(quoteString("it's")).toBe("'it\\'s'");
    expect(quoteString('a"b')).toBe("'a\"b'"); // the other quote needs no escape
    expect(quoteString('back\\slash')).toBe("'back\\\\slash'");
    expect(quoteString('two\nlines')).toBe("'two\\nlines'");
    expect(quoteIdentifier('a"b')).toBe('"a\\"b"');
    expect(quoteIdentifier("a'b")).toBe('"a\'b"');
    expect(quoteIdentifier('pm2.5; x')).toBe('"pm2.5; x"');
  });

  it('refuses what InfluxQL cannot express: carriage return, NUL, lone surrogates', () => {
    for (const value of ['\r', 'a\rb', '\r\n', '\u0000', 'x\u0000', '\uD800', 'a\uDC00b', '\uDBFFz']) {
      expect(canQuote(value)).toBe(false);
      expect(() => quoteString(value)).toThrow(RangeError);
      expect(() => quoteIdentifier(value)).toThrow(RangeError);
    }
    expect(canQuote('😀')).toBe(true);
    expect(canQuote('\t')).toBe(true);
  });

  it('writes time and duration literals in milliseconds, refusing non-integers', () => {
    expect(epochMsLiteral(1_795_766_400_000)).toBe('1795766400000ms');
    expect(epochMsLiteral(0)).toBe('0ms');
    expect(durationMsLiteral(45_000)).toBe('45000ms');
    expect(() => epochMsLiteral(1.5)).toThrow(RangeError);
    expect(() => durationMsLiteral(0)).toThrow(RangeError);
    expect(() => durationMsLiteral(-5)).toThrow(RangeError);
    expect(() => durationMsLiteral(Number.NaN)).toThrow(RangeError);
  });
});
