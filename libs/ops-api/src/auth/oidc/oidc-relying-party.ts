import type * as OpenIdClient from 'openid-client';
import { type OidcLoginState, OIDC_STATE_TTL_MS } from './oidc-state-cookie';
import type { OidcSettings } from './oidc-settings';

/** Why a login through the provider failed before its claims could be mapped. */
export type OidcLoginFailureReason =
  /** The provider answered the authorization request with an error (e.g. `access_denied`). */
  | 'oidc-provider-error'
  /** Discovery or the token/UserInfo request failed (network, 5xx): try again later. */
  | 'oidc-provider-unavailable'
  /** The answer failed validation: state, PKCE, nonce, ID token signature, issuer, audience, expiry. */
  | 'oidc-invalid-response';

/** A login that failed at or with the provider; `message` is safe to show (no tokens). */
export class OidcLoginError extends Error {
  constructor(
    readonly reason: OidcLoginFailureReason,
    message: string,
  ) {
    super(message);
    this.name = 'OidcLoginError';
  }
}

/** What a completed authorization code exchange gives. */
export interface OidcLoginResult {
  /** The ID token's claims, with the UserInfo response's claims over them (same `sub`). */
  claims: Record<string, unknown>;
  /** The raw ID token, kept with the session for RP-initiated logout's `id_token_hint`. */
  idToken: string;
}

/**
 * The API as an OpenID Connect relying party (client): authorization code flow with PKCE
 * (RFC 7636, S256), state and nonce (OIDC Core §3.1.2.1), `client_secret_basic`.
 */
export interface OidcRelyingParty {
  /** Starts a login: the provider's authorization URL and the values to keep until the callback. */
  beginLogin(now?: number): Promise<{ url: string; state: OidcLoginState }>;
  /**
   * Completes it: `callbackQuery` is the callback request's query string (with or without `?`).
   * @throws OidcLoginError
   */
  completeLogin(callbackQuery: string, state: OidcLoginState): Promise<OidcLoginResult>;
  /**
   * The provider's end-session URL for RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0
   * §2), with `id_token_hint` when known; null when the provider has no end_session_endpoint.
   * @throws OidcLoginError (`oidc-provider-unavailable`) when discovery fails
   */
  endSessionUrl(idToken: string | null): Promise<string | null>;
}

type OpenIdClientModule = typeof OpenIdClient;

/**
 * `openid-client` 6 is ESM-only: loaded on first use, never at import time, so this file can be
 * loaded where ESM cannot be required (jest's loader) as long as SSO is not exercised there. Node
 * 20.19+ loads it (require(esm)) in the apps.
 */
async function loadOpenIdClient(): Promise<OpenIdClientModule> {
  return import('openid-client');
}

/**
 * The relying party backed by `openid-client` 6.9. Discovery (OIDC Discovery 1.0 §4) runs on the
 * first login and is cached; a failed discovery is retried by the next login, so an API started
 * while the provider is down serves SSO once it is back.
 */
export function createOidcRelyingParty(settings: OidcSettings): OidcRelyingParty {
  let configuration: Promise<{ client: OpenIdClientModule; config: OpenIdClient.Configuration }> | null =
    null;

  const discover = (): Promise<{ client: OpenIdClientModule; config: OpenIdClient.Configuration }> => {
    configuration ??= (async () => {
      const client = await loadOpenIdClient();
      try {
        const config = await client.discovery(
          new URL(settings.issuer),
          settings.clientId,
          { redirect_uris: [settings.redirectUri], response_types: ['code'] },
          client.ClientSecretBasic(settings.clientSecret),
          settings.allowHttp ? { execute: [client.allowInsecureRequests] } : undefined,
        );
        return { client, config };
      } catch (error) {
        throw new OidcLoginError(
          'oidc-provider-unavailable',
          `OpenID Connect discovery at ${settings.issuer} failed: ${(error as Error).message}`,
        );
      }
    })();
    configuration.catch(() => (configuration = null));
    return configuration;
  };

  return {
    async beginLogin(now = Date.now()) {
      const { client, config } = await discover();
      const state: OidcLoginState = {
        state: client.randomState(),
        nonce: client.randomNonce(),
        codeVerifier: client.randomPKCECodeVerifier(),
        expiresAt: now + OIDC_STATE_TTL_MS,
      };
      const url = client.buildAuthorizationUrl(config, {
        redirect_uri: settings.redirectUri,
        scope: settings.scopes.join(' '),
        response_type: 'code',
        state: state.state,
        nonce: state.nonce,
        code_challenge: await client.calculatePKCECodeChallenge(state.codeVerifier),
        code_challenge_method: 'S256',
      });
      return { url: url.href, state };
    },

    async completeLogin(callbackQuery, state) {
      const { client, config } = await discover();
      const currentUrl = new URL(settings.redirectUri);
      currentUrl.search = callbackQuery.startsWith('?') ? callbackQuery.slice(1) : callbackQuery;
      let tokens: Awaited<ReturnType<OpenIdClientModule['authorizationCodeGrant']>>;
      try {
        tokens = await client.authorizationCodeGrant(config, currentUrl, {
          pkceCodeVerifier: state.codeVerifier,
          expectedState: state.state,
          expectedNonce: state.nonce,
          idTokenExpected: true,
        });
      } catch (error) {
        throw classify(client, error);
      }
      const idTokenClaims = tokens.claims();
      const idToken = tokens.id_token;
      if (idTokenClaims === undefined || idToken === undefined) {
        throw new OidcLoginError('oidc-invalid-response', 'the provider returned no ID token');
      }
      let userInfo: Record<string, unknown> = {};
      if (config.serverMetadata().userinfo_endpoint !== undefined) {
        try {
          userInfo = await client.fetchUserInfo(config, tokens.access_token, idTokenClaims.sub);
        } catch (error) {
          throw classify(client, error);
        }
      }
      return { claims: { ...idTokenClaims, ...userInfo }, idToken };
    },

    async endSessionUrl(idToken) {
      const { client, config } = await discover();
      if (config.serverMetadata().end_session_endpoint === undefined) return null;
      const parameters: Record<string, string> = { client_id: settings.clientId };
      if (idToken !== null) parameters['id_token_hint'] = idToken;
      if (settings.postLogoutRedirectUri !== null) {
        parameters['post_logout_redirect_uri'] = settings.postLogoutRedirectUri;
      }
      return client.buildEndSessionUrl(config, parameters).href;
    },
  };
}

/** openid-client's errors → a reason: the provider's own error answer, a transport failure, or a failed check. */
function classify(client: OpenIdClientModule, error: unknown): OidcLoginError {
  if (error instanceof client.AuthorizationResponseError) {
    return new OidcLoginError(
      'oidc-provider-error',
      `the provider refused the login: ${error.error}${error.error_description ? ` (${error.error_description})` : ''}`,
    );
  }
  if (error instanceof client.ResponseBodyError) {
    return new OidcLoginError(
      error.status >= 500 ? 'oidc-provider-unavailable' : 'oidc-invalid-response',
      `the provider answered ${error.status} ${error.error}${error.error_description ? ` (${error.error_description})` : ''}`,
    );
  }
  if (error instanceof TypeError) {
    // fetch's network failures are TypeErrors ("fetch failed").
    return new OidcLoginError(
      'oidc-provider-unavailable',
      `the provider could not be reached: ${error.message}`,
    );
  }
  // openid-client wraps the failed check (its message names it: "unexpected \"state\" …") in a
  // generic "invalid response encountered" error.
  const cause = (error as { cause?: unknown }).cause;
  const detail = cause instanceof Error ? cause.message : (error as Error).message;
  return new OidcLoginError('oidc-invalid-response', `the provider's answer failed validation: ${detail}`);
}
