import { spawn } from 'node:child_process';
import { join } from 'node:path';

const PROVIDER_SCRIPT = join(__dirname, 'oidc-provider-process.mjs');

/** A client (relying party) registered at the test provider. */
export interface OidcTestClient {
  clientId: string;
  /** Authenticates at the token endpoint with HTTP Basic (`client_secret_basic`, RFC 6749 §2.3.1). */
  clientSecret: string;
  /** Exact redirect URIs the client may use (OIDC Core §3.1.2.1). */
  redirectUris: string[];
  /** Where the provider may send the browser after RP-initiated logout (OIDC RP-Initiated Logout §2). */
  postLogoutRedirectUris?: string[];
}

export interface OidcProviderOptions {
  clients: OidcTestClient[];
  /**
   * Claims per login name, e.g. `{ alice: { groups: ['ioc-admins'], name: 'Alice' } }`. `sub` and
   * `preferred_username` default to the login. Any other login is accepted too, with only those two.
   * `groups` is released for the `groups` scope; `name` for `profile`; `email` for `email`.
   */
  accounts: Record<string, Record<string, unknown>>;
  /**
   * More scopes and the claims each releases, besides the standard ones, e.g.
   * `{ agency: ['agency'] }` (a claim is released only for a scope that names it).
   */
  scopes?: Record<string, string[]>;
  /** How long to wait for the provider to listen (default 20 s). */
  timeoutMs?: number;
}

export interface RunningOidcProvider {
  /** The issuer identifier, `http://127.0.0.1:<port>` (discovery at `/.well-known/openid-configuration`). */
  issuer: string;
  /** Everything the provider printed so far (its development warnings and errors). */
  output(): string;
  /** Stops the process (SIGTERM, then SIGKILL after 5 s) and waits for it to exit. */
  stop(): Promise<void>;
}

/**
 * Starts a real OpenID Connect provider (`oidc-provider` 9, ESM-only, so in a child `node` process
 * running oidc-provider-process.mjs) on a free loopback port, with its development interactions:
 * the login page (`/interaction/<uid>`, a form with `login` and `password`) accepts any login and
 * password, and the consent page is one "Continue" button. Authorization code flow with PKCE
 * required, `end_session` (RP-initiated logout) enabled, signing key generated per start.
 * Stop it afterwards.
 * @throws Error with the process's output if it exits or is not ready within `timeoutMs`
 */
export async function startOidcProvider(options: OidcProviderOptions): Promise<RunningOidcProvider> {
  const child = spawn(process.execPath, [PROVIDER_SCRIPT], {
    env: {
      ...process.env,
      NODE_ENV: 'test',
      IOC_TEST_OIDC_CONFIG: JSON.stringify({
        clients: options.clients,
        accounts: options.accounts,
        scopes: options.scopes ?? {},
      }),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((done) => child.once('exit', () => done()));

  const issuer = await new Promise<string>((ready, fail) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      fail(new Error(`OIDC provider not ready after ${options.timeoutMs ?? 20_000} ms:\n${output}`));
    }, options.timeoutMs ?? 20_000);
    const check = (): void => {
      const line = output.split('\n').find((l) => l.startsWith('{"ready":true'));
      if (line === undefined) return;
      clearTimeout(timer);
      child.stdout.off('data', check);
      ready((JSON.parse(line) as { issuer: string }).issuer);
    };
    child.stdout.on('data', check);
    void exited.then(() => {
      clearTimeout(timer);
      fail(new Error(`OIDC provider exited with ${child.exitCode} before it was ready:\n${output}`));
    });
  });

  return {
    issuer,
    output: () => output,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const killTimer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(killTimer);
    },
  };
}
