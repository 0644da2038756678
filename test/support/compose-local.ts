/**
 * deploy/docker-compose.yml's settings on this machine: the multi-node tests run each platform
 * process with the environment its compose service has (composeEnvironments), and replace only
 * what must differ on one test machine — the service host names and ports (`redis:6379`,
 * `postgres:5432`, `influxdb:8086`, `haproxy:1883`, fixed listening ports) and the data
 * directories (the services' volumes) — each replacement with its reason. Nothing is dropped
 * silently: every compose variable is passed through or replaced, and every variable the test adds
 * that the compose file does not set is named with its reason too. `differencesFromCompose` checks
 * a started process's environment against that plan.
 */

/** A compose variable's value replaced on this machine, or a variable the test adds. */
export interface LocalSetting {
  /**
   * The value the test gives; absent: set by the harness (startPlatform: a node's own port, data
   * directory, HAProxy's address), which `differencesFromCompose` then checks is present.
   */
  value?: string;
  /** Why it differs from (or is not in) the compose file: shown in a failing check. */
  reason: string;
}

/** How one compose service's environment becomes a test process's. */
export interface ComposeLocalPlan {
  /** Variables the compose service sets whose value differs here (every other one passes through). */
  replace: Readonly<Record<string, LocalSetting>>;
  /** Variables the compose service does not set that the test process has. */
  add?: Readonly<Record<string, LocalSetting>>;
}

/**
 * `url` with its host and port replaced by `127.0.0.1:{port}`; scheme, user, password, path and
 * query kept (`redis://:pw@redis:6379` → `redis://:pw@127.0.0.1:41234`).
 *
 * @throws TypeError when `url` is not a URL
 */
export function onLoopback(url: string, port: number): string {
  const parsed = new URL(url);
  parsed.hostname = '127.0.0.1';
  parsed.port = String(port);
  return parsed.toString().replace(/\/$/, url.endsWith('/') ? '/' : '');
}

/**
 * The environment of a test process for compose service `service`: `compose` (its rendered
 * environment) with `plan.replace` applied and `plan.add` added; harness-set entries (no `value`)
 * are left out, for startPlatform to set.
 *
 * @throws Error naming a replacement of a variable the service does not set (the compose file
 *   changed under the test), or an addition of one it does set (that would override it without
 *   saying so: make it a replacement)
 */
export function localEnvironment(
  service: string,
  compose: Readonly<Record<string, string>>,
  plan: ComposeLocalPlan,
): Record<string, string> {
  const stale = Object.keys(plan.replace).filter((name) => !(name in compose));
  if (stale.length > 0)
    throw new Error(`${service}: replaces ${stale.join(', ')}, which the compose service does not set`);
  const hidden = Object.keys(plan.add ?? {}).filter((name) => name in compose);
  if (hidden.length > 0)
    throw new Error(
      `${service}: adds ${hidden.join(', ')}, which the compose service sets: replace it instead`,
    );
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(compose)) {
    const replacement = plan.replace[name];
    if (replacement === undefined) env[name] = value;
    else if (replacement.value !== undefined) env[name] = replacement.value;
  }
  for (const [name, setting] of Object.entries(plan.add ?? {}))
    if (setting.value !== undefined) env[name] = setting.value;
  return env;
}

/**
 * What a started process's environment `actual` (ServiceProcess.env) does differently from its
 * compose service's `compose` under `plan`, one sentence each; empty when every compose variable
 * is passed through unchanged or replaced as planned, and every other variable is a planned
 * addition.
 */
export function differencesFromCompose(
  service: string,
  compose: Readonly<Record<string, string>>,
  plan: ComposeLocalPlan,
  actual: Readonly<Record<string, string>>,
): string[] {
  const problems: string[] = [];
  for (const [name, value] of Object.entries(compose)) {
    const replacement = plan.replace[name];
    const got = actual[name];
    if (got === undefined) problems.push(`${service}: ${name} dropped (compose: ${value})`);
    else if (replacement === undefined && got !== value)
      problems.push(`${service}: ${name} is ${got}, compose sets ${value}, and no replacement says why`);
    else if (replacement?.value !== undefined && got !== replacement.value)
      problems.push(`${service}: ${name} is ${got}, not the planned ${replacement.value}`);
  }
  for (const [name, got] of Object.entries(actual)) {
    if (name in compose) continue;
    const addition = plan.add?.[name];
    if (addition === undefined)
      problems.push(`${service}: ${name}=${got} is not in the compose file nor planned`);
    else if (addition.value !== undefined && got !== addition.value)
      problems.push(`${service}: ${name} is ${got}, not the planned ${addition.value}`);
  }
  return problems;
}
