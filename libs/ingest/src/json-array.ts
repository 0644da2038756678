const COMMA = Buffer.from(',');
const OPEN = Buffer.from('[');
const CLOSE = Buffer.from(']');

/** `[a,b,…]` from JSON texts, without parsing them. */
export function jsonArray(json: readonly Buffer[], start: number, end: number): Buffer {
  const parts: Buffer[] = [OPEN];
  for (let i = start; i < end; i++) {
    if (i > start) parts.push(COMMA);
    parts.push(json[i] as Buffer);
  }
  parts.push(CLOSE);
  return Buffer.concat(parts);
}
