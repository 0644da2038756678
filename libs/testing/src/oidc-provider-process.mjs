// A real OpenID Connect provider for tests: `oidc-provider` (ESM-only, hence this plain .mjs file
// run by `node`, outside jest's loader). Started by startOidcProvider (oidc-provider.ts), which
// passes its settings as JSON in IOC_TEST_OIDC_CONFIG:
//   { clients: [{ clientId, clientSecret, redirectUris, postLogoutRedirectUris? }],
//     accounts: { [login]: claims }, scopes: { [scope]: [claim names] } }
// It listens on a free loopback port (port 0: the OS picks it, no race), then prints one JSON line
// `{"ready":true,"issuer":"http://127.0.0.1:<port>"}` on stdout. Development interactions: the
// login page accepts any login name and any password; the account's claims are the configured
// ones for that login (plus `sub` and `preferred_username` = the login), or only those two for a
// login that is not configured. Authorization code flow with PKCE (S256, required for every
// client), RP-initiated logout (end_session) enabled. SIGTERM stops it.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import Provider from 'oidc-provider';

const settings = JSON.parse(process.env.IOC_TEST_OIDC_CONFIG ?? '{}');
const accounts = settings.accounts ?? {};
const extraScopes = settings.scopes ?? {};

/** Claims for a login: `sub` and `preferred_username` are the login unless configured otherwise. */
function claimsOf(login) {
  return { sub: login, preferred_username: login, ...(accounts[login] ?? {}) };
}

const server = createServer();
await new Promise((listening) => server.listen(0, '127.0.0.1', listening));
const { port } = server.address();
const issuer = `http://127.0.0.1:${port}`;

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const provider = new Provider(issuer, {
  clients: (settings.clients ?? []).map((client) => ({
    client_id: client.clientId,
    client_secret: client.clientSecret,
    redirect_uris: client.redirectUris,
    post_logout_redirect_uris: client.postLogoutRedirectUris ?? [],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  })),
  jwks: { keys: [{ ...privateKey.export({ format: 'jwk' }), kid: 'test', alg: 'RS256', use: 'sig' }] },
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  // OIDC Core §5.4 scope claims; `groups` is a scope of its own (as many providers name it), and
  // the test may add more.
  claims: {
    openid: ['sub'],
    profile: ['name', 'preferred_username', 'given_name', 'family_name'],
    email: ['email', 'email_verified'],
    groups: ['groups'],
    ...extraScopes,
  },
  scopes: ['openid', 'profile', 'email', 'groups', ...Object.keys(extraScopes)],
  pkce: { required: () => true },
  features: { devInteractions: { enabled: true }, rpInitiatedLogout: { enabled: true } },
  findAccount: (_ctx, id) => ({
    accountId: id,
    claims: () => claimsOf(id),
  }),
  ttl: {
    AccessToken: 600,
    AuthorizationCode: 60,
    IdToken: 600,
    Interaction: 600,
    Session: 3600,
    Grant: 3600,
  },
});
// Development-only warnings go to stderr; a test reads them only when the provider fails.
server.on('request', provider.callback());

process.on('SIGTERM', () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
});
process.stdout.write(`${JSON.stringify({ ready: true, issuer })}\n`);
