import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';

/** Name of the cookie carrying a login in progress from /oidc/login to /oidc/callback. */
export const OIDC_STATE_COOKIE = 'ioc_oidc';
/** The cookie's path: only the OIDC routes ever receive it. */
export const OIDC_STATE_COOKIE_PATH = '/api/v1/auth/oidc';
/**
 * How long a login may take between the redirect to the provider and the callback: 10 minutes
 * (a person typing a password and perhaps a second factor; the provider's own login session is
 * separate).
 */
export const OIDC_STATE_TTL_MS = 10 * 60_000;

/**
 * What the browser carries between the redirect to the provider and the callback: the values the
 * callback checks the provider's answer against (OIDC Core §3.1.2.1 state and nonce; RFC 7636
 * PKCE code verifier).
 */
export interface OidcLoginState {
  state: string;
  nonce: string;
  codeVerifier: string;
  /** Epoch ms after which the callback refuses it. */
  expiresAt: number;
}

/** Why a state cookie is refused. */
export type OidcStateProblem = 'oidc-state-missing' | 'oidc-state-invalid' | 'oidc-state-expired';

/**
 * Signs and checks the login-state cookie: `base64url(JSON).base64url(HMAC-SHA256)`, the HMAC key
 * derived (HKDF-SHA256, RFC 5869, info `ioc oidc login state`) from the API's token secret, so
 * every API node behind a load balancer accepts the cookie another node set, and the key is not
 * the one that signs access tokens. The cookie is httpOnly; the browser cannot change it without
 * the signature failing.
 */
export class OidcStateCookie {
  private readonly key: Buffer;

  /** @param secret the API's token secret (≥ 32 bytes). */
  constructor(secret: Uint8Array) {
    if (secret.length < 32) throw new Error('the OIDC state cookie needs a secret of at least 32 bytes');
    this.key = Buffer.from(hkdfSync('sha256', secret, Buffer.alloc(0), 'ioc oidc login state', 32));
  }

  /** The cookie value for `state`. */
  seal(state: OidcLoginState): string {
    const body = Buffer.from(JSON.stringify(state)).toString('base64url');
    return `${body}.${this.mac(body)}`;
  }

  /** The state in `value`, or why it is refused (absent, tampered with or malformed, expired). */
  open(value: string | undefined, now = Date.now()): OidcLoginState | OidcStateProblem {
    if (value === undefined || value === '') return 'oidc-state-missing';
    const dot = value.indexOf('.');
    if (dot < 0) return 'oidc-state-invalid';
    const body = value.slice(0, dot);
    const given = Buffer.from(value.slice(dot + 1), 'base64url');
    const expected = Buffer.from(this.mac(body), 'base64url');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return 'oidc-state-invalid';
    let parsed: unknown;
    try {
      parsed = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
    } catch {
      return 'oidc-state-invalid';
    }
    const state = parsed as Partial<OidcLoginState> | null;
    if (
      typeof state?.state !== 'string' ||
      typeof state.nonce !== 'string' ||
      typeof state.codeVerifier !== 'string' ||
      typeof state.expiresAt !== 'number'
    ) {
      return 'oidc-state-invalid';
    }
    if (state.expiresAt <= now) return 'oidc-state-expired';
    return state as OidcLoginState;
  }

  private mac(body: string): string {
    return createHmac('sha256', this.key).update(body).digest('base64url');
  }
}
