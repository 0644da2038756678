import { isWellFormedUnicode } from './unicode';

/**
 * Quoting for InfluxQL (InfluxDB 1.x grammar, also spoken by the v1-compatible APIs of 2.x and
 * 3.x). Inside a quoted identifier or string literal the scanner knows exactly four escapes —
 * `\\`, `\"`, `\'` and `\n` — rejects a raw newline, and reads a raw carriage return as a newline.
 * So a value is quoted by escaping the backslash first, then the closing quote character and the
 * newline; nothing else in it (`;`, `/`, `.*`, `--`, unicode) has any meaning inside the quotes.
 *
 * A carriage return has no escape at all, a NUL character is the scanner's end-of-input marker,
 * and a lone surrogate has no UTF-8 form: such values cannot be written into a query faithfully,
 * so `canQuote` says no and the quote functions throw.
 * The store never writes such names (line protocol cannot carry them either), so it answers
 * queries for them with "nothing found" without asking the server.
 */
export function canQuote(value: string): boolean {
  return !value.includes('\r') && !value.includes('\u0000') && isWellFormedUnicode(value);
}

function escapeFor(value: string, quote: '"' | "'"): string {
  if (!canQuote(value)) {
    throw new RangeError(
      `value cannot be expressed in InfluxQL (carriage return, NUL or lone surrogate): ${JSON.stringify(value)}`,
    );
  }
  let out = '';
  for (const ch of value) {
    if (ch === '\\') out += '\\\\';
    else if (ch === quote) out += `\\${quote}`;
    else if (ch === '\n') out += '\\n';
    else out += ch;
  }
  return quote + out + quote;
}

/** `"name"` — a measurement, field, tag or alias name. */
export function quoteIdentifier(name: string): string {
  return escapeFor(name, '"');
}

/** `'value'` — a string literal, e.g. a tag value in WHERE. */
export function quoteString(value: string): string {
  return escapeFor(value, "'");
}

/** An absolute time literal in epoch milliseconds, e.g. `1700000000000ms`. */
export function epochMsLiteral(ms: number): string {
  if (!Number.isSafeInteger(ms)) throw new RangeError(`not an integer epoch ms: ${ms}`);
  return `${ms}ms`;
}

/** A duration literal in milliseconds for GROUP BY time(...). */
export function durationMsLiteral(ms: number): string {
  if (!Number.isSafeInteger(ms) || ms <= 0) throw new RangeError(`not a positive integer duration: ${ms}`);
  return `${ms}ms`;
}
