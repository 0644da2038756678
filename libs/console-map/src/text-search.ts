/**
 * Diacritics-insensitive text matching for Vietnamese names: "hoa thanh" finds "Hòa Thành",
 * "duong" finds "đường". Folding = each letter's Unicode NFD decomposition without its combining
 * marks (U+0300–U+036F), đ/Đ → d (đ is a letter of its own, not d + a mark), lower case, runs of
 * white space collapsed to one space. Letters of Latin-1, Latin Extended-A/B and Latin Extended
 * Additional (U+00C0–U+024F, U+1E00–U+1EFF: every Vietnamese letter) go through a table built
 * once, so folding 10,000 names takes a few milliseconds rather than tens (String#normalize).
 */
export function foldText(text: string): string {
  let out = '';
  let space = false;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code === 32 || code === 9 || code === 10 || code === 13 || code === 0xa0) {
      space = out.length > 0;
      continue;
    }
    if (space) {
      out += ' ';
      space = false;
    }
    if (code < 128) out += code >= 65 && code <= 90 ? String.fromCharCode(code + 32) : text[i];
    else out += FOLD.get(code) ?? text[i].toLowerCase();
  }
  return out;
}

const FOLD: ReadonlyMap<number, string> = (() => {
  const table = new Map<number, string>();
  const ranges: Array<[number, number]> = [
    [0x00c0, 0x024f],
    [0x1e00, 0x1eff],
  ];
  for (const [from, to] of ranges) {
    for (let code = from; code <= to; code++) {
      const folded = String.fromCharCode(code)
        .normalize('NFD')
        .replace(/[\u0300-\u036f]/g, '')
        .toLowerCase();
      table.set(code, folded);
    }
  }
  table.set(0x0110, 'd');
  table.set(0x0111, 'd');
  return table;
})();

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
    const cut = entry.key.indexOf('\u0000');
    if (cut === folded.length && entry.key.startsWith(folded)) exact.push(entry.id);
    else if (entry.key.startsWith(folded) || entry.key.startsWith(folded, cut + 1)) {
      if (prefix.length < limit) prefix.push(entry.id);
    }
    else if (rest.length < limit) rest.push(entry.id);
  }
  return [...exact, ...prefix, ...rest].slice(0, limit);
}

/** True when `key` (from `searchKey`) contains every word of the folded `query`; an empty query matches. */
export function matchesText(key: string, foldedQuery: string): boolean {
  if (foldedQuery === '') return true;
  return foldedQuery.split(' ').every((word) => key.includes(word));
}
