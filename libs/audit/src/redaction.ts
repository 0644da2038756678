/** What a redacted value is stored as. */
export const REDACTED = '[redacted]';

/**
 * Words that make a member secret when its name ends with one of them (optionally plural), after
 * the name is lower-cased and stripped of everything but letters and digits — so `password`,
 * `password_hash`, `passwordHash`, `secret`, `secretHash`, `mqtt_secret_hash`, `token`,
 * `accessToken`, `refresh_token`, `token_hash`, `previous_token_hash`, `key`, `apiKey`,
 * `credentialKey`, `privateKey`, `cookie`, `authorization`, `salt` all are. Not: `hint`
 * (`secretHint`: the first characters, shown in listings by design), `prefix` (`keyPrefix`: an
 * API key's public part), `tokenType`. A false positive (`monkey`) only hides a value; that is
 * the safe side.
 */
export const SECRET_NAME_WORDS = [
  'password',
  'passwd',
  'passphrase',
  'secret',
  'token',
  'hash',
  'key',
  'cookie',
  'authorization',
  'salt',
] as const;

const SECRET_NAME = new RegExp(`(${SECRET_NAME_WORDS.join('|')})s?$`);

/** Is a member of this name redacted (see SECRET_NAME_WORDS)? */
export function isSecretName(name: string): boolean {
  return SECRET_NAME.test(name.toLowerCase().replace(/[^a-z0-9]/g, ''));
}

/**
 * A JSON value with every member whose name is secret (isSecretName) replaced by REDACTED, at any
 * depth (inside arrays too). A secret member that is null stays null (it tells that there is no
 * secret, not what it is). The value is first passed through JSON (Dates become ISO strings,
 * `undefined` members disappear), so what is returned is exactly what is stored.
 *
 * @throws TypeError on a value JSON cannot hold (a cycle, a BigInt)
 */
export function redactSecrets(value: unknown): unknown {
  if (value === undefined) return undefined;
  const json = JSON.stringify(value) as string | undefined;
  if (json === undefined) return undefined;
  return redact(JSON.parse(json) as unknown);
}

function redact(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redact);
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [name, member] of Object.entries(value as Record<string, unknown>)) {
    // defineProperty: a member named `__proto__` (JSON.parse makes it an own member) stays data.
    Object.defineProperty(out, name, {
      value: isSecretName(name) && member !== null ? REDACTED : redact(member),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return out;
}
