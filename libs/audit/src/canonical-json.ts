/**
 * Canonical JSON, the form the audit chain hashes: object keys sorted by UTF-16 code units
 * (JavaScript's default sort, as RFC 8785 JCS §3.2.3 orders them), no whitespace, strings and
 * numbers as `JSON.stringify` writes them (JCS §3.2.2 uses the same ECMAScript serialisation).
 * `undefined` members are left out, as `JSON.stringify` leaves them out; a non-finite number is
 * written `null`, as `JSON.stringify` writes it.
 *
 * @throws TypeError on a cycle, a BigInt or a function value (nothing the audit log stores)
 */
export function canonicalJson(value: unknown): string {
  return write(value, new Set());
}

function write(value: unknown, seen: Set<object>): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'undefined':
      return 'null';
    case 'string':
    case 'boolean':
      return JSON.stringify(value);
    case 'number':
      return Number.isFinite(value) ? JSON.stringify(value) : 'null';
    case 'object':
      break;
    case 'bigint':
    case 'function':
    case 'symbol':
      throw new TypeError(`canonical JSON holds no ${typeof value}`);
  }
  const object = value as object;
  // Dates and other values with toJSON are written as JSON.stringify would write them.
  if (typeof (object as { toJSON?: unknown }).toJSON === 'function') {
    return write((object as { toJSON: () => unknown }).toJSON(), seen);
  }
  if (seen.has(object)) throw new TypeError('canonical JSON holds no cycle');
  seen.add(object);
  try {
    if (Array.isArray(object)) {
      return `[${object.map((item) => (item === undefined ? 'null' : write(item, seen))).join(',')}]`;
    }
    const members = Object.keys(object)
      .filter((key) => (object as Record<string, unknown>)[key] !== undefined)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${write((object as Record<string, unknown>)[key], seen)}`);
    return `{${members.join(',')}}`;
  } finally {
    seen.delete(object);
  }
}
