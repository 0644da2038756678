/*
 * The URL of a device panel: `#/devices/<id>` (the id percent-encoded, RFC 3986 §3.5 fragment).
 * Pure functions, unit-tested in node; apps/console wires them to `location.hash` and history.
 */

const PREFIX = '#/devices/';

/** The hash of a device's panel: `#/devices/aq-001`. */
export function hashForDevice(deviceId: string): string {
  return `${PREFIX}${encodeURIComponent(deviceId)}`;
}

/**
 * What a hash asks for: `{ kind: 'device', id }` for `#/devices/<id>` (one non-empty path segment,
 * percent-decoded), `{ kind: 'none' }` for an empty hash or `#`/`#/`, `{ kind: 'invalid' }` for
 * anything else (another route, a malformed escape, an id with `/`). The caller decides whether
 * the id is in the principal's scope and says "not found" the same way for an unknown id and one
 * outside the scope (never revealing which).
 */
export function routeFromHash(
  hash: string,
): { kind: 'device'; id: string } | { kind: 'none' } | { kind: 'invalid' } {
  if (hash === '' || hash === '#' || hash === '#/') return { kind: 'none' };
  if (!hash.startsWith(PREFIX)) return { kind: 'invalid' };
  const raw = hash.slice(PREFIX.length);
  if (raw === '' || raw.includes('/')) return { kind: 'invalid' };
  try {
    const id = decodeURIComponent(raw);
    return id.trim() === '' ? { kind: 'invalid' } : { kind: 'device', id };
  } catch {
    return { kind: 'invalid' };
  }
}
