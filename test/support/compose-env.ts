import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';

/** deploy/docker-compose.yml: the settings of the scaled-out platform, shared with the multi-node tests. */
export const COMPOSE_FILE = resolve(__dirname, '..', '..', 'deploy', 'docker-compose.yml');

/**
 * Compose's variable substitution (the subset the file uses, as docker-compose 1.29 applies it):
 * `$$` → `$`; `${NAME}`; `${NAME:-default}` (unset or empty → default); `${NAME-default}` (unset →
 * default); `${NAME:?message}` / `${NAME?message}` (unset or empty / unset → error with message).
 *
 * @throws Error with the message of a `?` substitution whose variable is missing
 */
export function interpolateCompose(text: string, vars: Readonly<Record<string, string>>): string {
  return text.replace(
    /\$\$|\$\{([A-Za-z_]\w*)(?:(:?)([-?])((?:[^}\\]|\\.)*))?\}|\$([A-Za-z_]\w*)/g,
    (whole, name?: string, colon?: string, op?: string, arg?: string, bare?: string) => {
      if (whole === '$$') return '$';
      if (bare !== undefined) return vars[bare] ?? '';
      const value = vars[name!];
      const missing = value === undefined || (colon === ':' && value === '');
      if (op === '-') return missing ? (arg ?? '') : value!;
      if (op === '?') {
        if (missing) throw new Error(`${name}: ${arg}`);
        return value!;
      }
      return value ?? '';
    },
  );
}

function interpolateDeep(value: unknown, vars: Readonly<Record<string, string>>): unknown {
  if (typeof value === 'string') return interpolateCompose(value, vars);
  if (Array.isArray(value)) return value.map((item) => interpolateDeep(item, vars));
  if (value !== null && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, interpolateDeep(v, vars)]));
  return value;
}

/**
 * Every service's `environment` of deploy/docker-compose.yml (YAML anchors and merge keys
 * resolved, variables substituted from `vars` — the values of deploy/.env), as strings: what
 * `docker-compose config` renders, without docker-compose. The multi-node tests start the
 * platform's processes with these settings (replacing the service host names and ports with
 * their own loopback servers).
 *
 * @throws Error naming a variable the file requires (`${NAME:?…}`) that `vars` lacks
 */
export function composeEnvironments(
  vars: Readonly<Record<string, string>>,
  file: string = COMPOSE_FILE,
): Record<string, Record<string, string>> {
  const compose = parseYaml(readFileSync(file, 'utf8'), { merge: true }) as {
    services: Record<string, { environment?: Record<string, unknown> }>;
  };
  return Object.fromEntries(
    Object.entries(compose.services).map(([name, service]) => [
      name,
      Object.fromEntries(
        Object.entries(service.environment ?? {}).map(([key, value]) => [
          key,
          String(interpolateDeep(value === null || value === undefined ? '' : String(value), vars)),
        ]),
      ),
    ]),
  );
}

/** The variables of an env file (`NAME=value` lines; comments and blank lines skipped). */
export function readEnvFile(path: string): Record<string, string> {
  return Object.fromEntries(
    readFileSync(path, 'utf8')
      .split('\n')
      .map((line) => /^([A-Za-z_]\w*)=(.*)$/.exec(line.trim()))
      .filter((match): match is RegExpExecArray => match !== null)
      .map((match) => [match[1]!, match[2]!]),
  );
}

/** deploy/.env.example's path (its secrets are empty: fill them before use). */
export const COMPOSE_ENV_EXAMPLE = join(resolve(__dirname, '..', '..', 'deploy'), '.env.example');
