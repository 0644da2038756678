/**
 * Diacritics-insensitive text matching for Vietnamese names: "hoa thanh" finds "Hòa Thành",
 * "duong" finds "đường". Folding = Unicode NFD, combining marks (U+0300–U+036F) removed, đ/Đ → d
 * (đ is a letter of its own, not d + a mark, so NFD keeps it), lower case, runs of white space
 * collapsed to one space.
 */
export function foldText(text: string): string {
  return text
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/[đĐ]/g, 'd')
    .toLowerCase()
    .replace(/\s+/g, ' ')
    .trim();
}

/** A searchable entry: its id and its folded id + name (from `searchKey`). */
export interface SearchEntry {
  id: string;
  key: string;
}

/** The folded text a device is searched by: its id and its name. */
export function searchKey(id: string, name: string): string {
  return `${foldText(id)}\u0000${foldText(name)}`;
}

/**
 * The ids of the entries matching `query` (every word of the folded query occurs in the entry),
 * best first: an exact id match, then ids or names starting with the query, then the rest in
 * `entries` order; at most `limit`. An empty query matches nothing.
 */
export function searchEntries(entries: Iterable<SearchEntry>, query: string, limit = 20): string[] {
  const folded = foldText(query);
  if (folded === '') return [];
  const words = folded.split(' ');
  const exact: string[] = [];
  const prefix: string[] = [];
  const rest: string[] = [];
  for (const entry of entries) {
    if (!words.every((word) => entry.key.includes(word))) continue;
    const [id, name] = entry.key.split('\u0000');
    if (id === folded) exact.push(entry.id);
    else if (id.startsWith(folded) || name.startsWith(folded)) prefix.push(entry.id);
    else if (rest.length < limit) rest.push(entry.id);
  }
  return [...exact, ...prefix, ...rest].slice(0, limit);
}

/** True when `key` (from `searchKey`) contains every word of the folded `query`; an empty query matches. */
export function matchesText(key: string, foldedQuery: string): boolean {
  if (foldedQuery === '') return true;
  return foldedQuery.split(' ').every((word) => key.includes(word));
}
