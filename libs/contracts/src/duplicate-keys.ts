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

/**
 * The first key that appears twice in the same object of `text`, or undefined. One linear scan of
 * the characters, no second parse: strings are skipped quote to quote (a key is sliced out, and
 * decoded with JSON.parse only when it holds an escape, so `"p\u006d25"` is seen as `pm25`).
 *
 * Precondition: `text` is valid JSON (JSON.parse accepted it); on other text the answer is
 * meaningless but the scan still ends and never throws past the end of the text.
 */
export function findDuplicateKey(text: string): DuplicateKey | undefined {
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
