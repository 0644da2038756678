const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * False for strings holding a lone UTF-16 surrogate. Such a string has no UTF-8 form: SQLite, an
 * HTTP body or a URL would silently store or send U+FFFD instead, i.e. a different string.
 */
export function isWellFormedUnicode(value: string): boolean {
  return !LONE_SURROGATE.test(value);
}
