/**
 * Characters no text the platform keeps or shows may carry: the C0 controls (U+0000–U+001F), DEL
 * (U+007F), the C1 controls (U+0080–U+009F), and the Unicode bidirectional controls — U+200E,
 * U+200F (LRM, RLM), U+202A–U+202E (embeddings, overrides), U+2066–U+2069 (isolates) — that reorder
 * how the text around them is shown ("Trojan Source", CVE-2021-42574; Unicode UAX #9 §2).
 * Device payload refusals escape them (printable); registry text fields refuse them
 * (findUnsafeCharacter).
 */
// eslint-disable-next-line no-control-regex
const UNSAFE_CHARACTERS = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/;
const UNSAFE_CHARACTERS_GLOBAL = new RegExp(UNSAFE_CHARACTERS.source, 'g');

/** A code point as Unicode writes it: `U+0000`, `U+202E` (at least four hex digits, upper case). */
export function codePointLabel(codePoint: number): string {
  return `U+${codePoint.toString(16).toUpperCase().padStart(4, '0')}`;
}

/** Control and bidirectional characters escaped (`\u202e`), so a text is safe in logs, terminals and pages. */
export function printable(value: string): string {
  return value.replace(
    UNSAFE_CHARACTERS_GLOBAL,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/**
 * The first control or bidirectional character of a text (see UNSAFE_CHARACTERS above), or
 * undefined when there is none.
 * @returns `index`: its position in UTF-16 code units from 0; `codePoint`: e.g. 0x202e; `label`: `U+202E`
 */
export function findUnsafeCharacter(
  value: string,
): { index: number; codePoint: number; label: string } | undefined {
  const match = UNSAFE_CHARACTERS.exec(value);
  if (match === null) return undefined;
  const codePoint = match[0].charCodeAt(0);
  return { index: match.index, codePoint, label: codePointLabel(codePoint) };
}

/**
 * Why a text is refused for a control or bidirectional character, or undefined when it has none:
 * `contains the control character U+0000 at position 2` (position from 1, in UTF-16 code units).
 */
export function unsafeCharacterMessage(value: string): string | undefined {
  const found = findUnsafeCharacter(value);
  if (found === undefined) return undefined;
  const bidi = found.codePoint >= 0x200e;
  return `contains the ${bidi ? 'bidirectional control' : 'control'} character ${found.label} at position ${found.index + 1} (control and bidirectional characters are refused)`;
}
