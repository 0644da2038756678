/**
 * Duplicate keys in JSON text. RFC 8259 §4 says names within an object SHOULD be unique and leaves
 * the behaviour otherwise to the parser; `JSON.parse` silently keeps the last value, so
 * `{"pm25":1,"pm25":999}` would be stored as 999 and a repeated `ts` would take the later value.
 * The platform refuses such a message instead (rejection reason `duplicate-key`).
 */

/** A key found twice in one object: the key (decoded) and the path of that object. */
export interface DuplicateKey {
  key: string;
  /** Path of the object holding it: `(payload)`, `metrics`, `[3].metrics`, … */
  path: string;
}

const QUOTE = 0x22; // "
const BACKSLASH = 0x5c; // \
const OPEN_OBJECT = 0x7b; // {
const CLOSE_OBJECT = 0x7d; // }
const OPEN_ARRAY = 0x5b; // [
const CLOSE_ARRAY = 0x5d; // ]
const COMMA = 0x2c; // ,

/** Objects with more keys than this switch from a linear search to a Set. */
const LINEAR_SEARCH_KEYS = 16;

/** Objects with more keys than this send the plain scan over to the Set-based one. */
const PLAIN_SCAN_KEYS = 32;

/**
 * The first key that appears twice in the same object of `text`, or undefined. Linear, and no
 * second parse.
 *
 * Given `parsed` (what JSON.parse made of `text`) and a text without a backslash (every device
 * message in practice), a count settles it first: each key of the text is followed by one colon
 * outside strings, so the text's colons number the keys plus the colons inside strings; JSON.parse
 * keeps one key per name, so a repeated key leaves the parsed value with fewer keys (and no more
 * string colons). Equal counts prove there is no duplicate — a native indexOf loop and a walk of
 * the parsed value, cheaper than the JSON.parse before it. Otherwise, and for text with escapes,
 * a scan finds the key and its path: keys as offsets compared in place, or, with a backslash or
 * an object of more than PLAIN_SCAN_KEYS keys, sliced (decoded with JSON.parse when escaped, so
 * `"p\u006d25"` is seen as `pm25`) and kept in a Set for a large object.
 *
 * Precondition: `text` is valid JSON (JSON.parse accepted it); on other text the answer is
 * meaningless but the scan still ends and never throws.
 */
export function findDuplicateKey(text: string, parsed?: unknown): DuplicateKey | undefined {
  if (text.indexOf('\\') === -1) {
    if (parsed !== undefined && countChar(text, ':') === keysAndStringColons(parsed)) return undefined;
    const plain = scanPlain(text);
    if (plain !== TOO_MANY_KEYS) return plain;
  }
  return scanDecoding(text);
}

function countChar(text: string, char: string): number {
  let count = 0;
  for (let i = text.indexOf(char); i !== -1; i = text.indexOf(char, i + 1)) count++;
  return count;
}

/** Nesting beyond which the count gives up (-1) and the scan decides: no deep recursion. */
const MAX_COUNTED_DEPTH = 32;

/**
 * Keys of every object in a parsed JSON value, plus the colons in its keys and strings; -1 when
 * nested deeper than MAX_COUNTED_DEPTH.
 */
function keysAndStringColons(value: unknown, depth = 0): number {
  if (typeof value === 'string') return value.indexOf(':') === -1 ? 0 : countChar(value, ':');
  if (typeof value !== 'object' || value === null) return 0;
  if (depth > MAX_COUNTED_DEPTH) return -1;
  let count = 0;
  if (Array.isArray(value)) {
    for (const element of value) {
      const inner = keysAndStringColons(element, depth + 1);
      if (inner < 0) return -1;
      count += inner;
    }
    return count;
  }
  const object = value as Record<string, unknown>;
  for (const key in object) {
    count++;
    if (key.indexOf(':') !== -1) count += countChar(key, ':');
    const member = object[key];
    if (typeof member === 'object' || typeof member === 'string') {
      const inner = keysAndStringColons(member, depth + 1);
      if (inner < 0) return -1;
      count += inner;
    }
  }
  return count;
}

const TOO_MANY_KEYS = Symbol('too many keys');

/** findDuplicateKey for text without a backslash: keys as offsets, compared in place. */
function scanPlain(text: string): DuplicateKey | undefined | typeof TOO_MANY_KEYS {
  // Keys of every open object, innermost last: [starts[k], ends[k]) in `text`.
  const starts: number[] = [];
  const ends: number[] = [];
  // Per open container: where its keys begin in starts (-1 for an array), its element index,
  // and how its parent names it (a key's offsets; -1 and the element index; -2 for the top).
  const base: number[] = [];
  const element: number[] = [];
  const segmentStart: number[] = [];
  const segmentEnd: number[] = [];
  let expectKey = false;
  const length = text.length;
  for (let i = 0; i < length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      const end = text.indexOf('"', i + 1);
      if (end < 0) return undefined;
      if (expectKey) {
        expectKey = false;
        const from = base[base.length - 1] ?? 0;
        if (starts.length - from >= PLAIN_SCAN_KEYS) return TOO_MANY_KEYS;
        const start = i + 1;
        const keyLength = end - start;
        for (let k = from; k < starts.length; k++) {
          const other = starts[k] as number;
          if ((ends[k] as number) - other === keyLength && sameText(text, other, start, keyLength)) {
            return { key: text.slice(start, end), path: plainPath(text, segmentStart, segmentEnd) };
          }
        }
        starts.push(start);
        ends.push(end);
      }
      i = end;
    } else if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
      const top = base.length - 1;
      if (top < 0) {
        segmentStart.push(-2);
        segmentEnd.push(-2);
      } else if (base[top] === -1) {
        segmentStart.push(-1);
        segmentEnd.push(element[top] as number);
      } else {
        segmentStart.push(starts[starts.length - 1] as number);
        segmentEnd.push(ends[ends.length - 1] as number);
      }
      base.push(c === OPEN_OBJECT ? starts.length : -1);
      element.push(0);
      expectKey = c === OPEN_OBJECT;
    } else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) {
      const from = base.pop();
      if (from !== undefined && from >= 0) {
        starts.length = from;
        ends.length = from;
      }
      element.pop();
      segmentStart.pop();
      segmentEnd.pop();
      expectKey = false;
    } else if (c === COMMA) {
      const top = base.length - 1;
      if (base[top] === -1) element[top] = (element[top] as number) + 1;
      else expectKey = true;
    }
  }
  return undefined;
}

function sameText(text: string, a: number, b: number, length: number): boolean {
  for (let i = 0; i < length; i++) if (text.charCodeAt(a + i) !== text.charCodeAt(b + i)) return false;
  return true;
}

function plainPath(text: string, starts: readonly number[], ends: readonly number[]): string {
  const segments: (string | number | undefined)[] = starts.map((start, i) =>
    start === -2 ? undefined : start === -1 ? ends[i] : text.slice(start, ends[i]),
  );
  return pathOf(segments);
}

/** findDuplicateKey for any valid JSON text: keys sliced and decoded, a Set for large objects. */
function scanDecoding(text: string): DuplicateKey | undefined {
  // One entry per open container, innermost last.
  const keys: (string[] | Set<string> | undefined)[] = []; // undefined for an array
  const segments: (string | number | undefined)[] = []; // how the parent names this container
  const elements: number[] = []; // for an array: index of the current element
  let expectKey = false;
  const length = text.length;
  for (let i = 0; i < length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      const start = i + 1;
      let escaped = false;
      for (i = start; i < length; i++) {
        const d = text.charCodeAt(i);
        if (d === QUOTE) break;
        if (d === BACKSLASH) {
          escaped = true;
          i++;
        }
      }
      if (!expectKey) continue;
      expectKey = false;
      const raw = text.slice(start, i);
      const key = escaped ? decodeKey(raw) : raw;
      const top = keys.length - 1;
      const own = keys[top];
      if (own === undefined) continue;
      if (Array.isArray(own) ? own.includes(key) : own.has(key)) {
        return { key, path: pathOf(segments) };
      }
      if (Array.isArray(own)) {
        own.push(key);
        if (own.length > LINEAR_SEARCH_KEYS) keys[top] = new Set(own);
      } else own.add(key);
    } else if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
      const top = keys.length - 1;
      segments.push(top < 0 ? undefined : keys[top] === undefined ? elements[top] : lastKey(keys[top]));
      keys.push(c === OPEN_OBJECT ? [] : undefined);
      elements.push(0);
      expectKey = c === OPEN_OBJECT;
    } else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) {
      keys.pop();
      segments.pop();
      elements.pop();
      expectKey = false;
    } else if (c === COMMA) {
      const top = keys.length - 1;
      if (keys[top] === undefined) elements[top] = (elements[top] ?? 0) + 1;
      else expectKey = true;
    }
  }
  return undefined;
}

function lastKey(own: string[] | Set<string> | undefined): string | undefined {
  if (own === undefined) return undefined;
  if (Array.isArray(own)) return own[own.length - 1];
  let last: string | undefined;
  for (const key of own) last = key;
  return last;
}

function decodeKey(raw: string): string {
  try {
    return JSON.parse(`"${raw}"`) as string;
  } catch {
    return raw;
  }
}

/** `(payload)` for the top level, else `metrics`, `[3].metrics`, … */
function pathOf(segments: readonly (string | number | undefined)[]): string {
  let path = '';
  for (const segment of segments) {
    if (segment === undefined) continue;
    if (typeof segment === 'number') path += `[${segment}]`;
    else path += path === '' ? segment : `.${segment}`;
  }
  return path === '' ? '(payload)' : path;
}
