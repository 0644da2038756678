import 'reflect-metadata';
import { DeviceRegistry, loadSeeds } from '@ioc/registry';
import { TempDirs } from '@ioc/testing';
import { createTimeSeriesStore, type TimeSeriesStore } from '@ioc/timeseries';
import { type ApiUnderTest, startApiUnderTest } from '../../test-support/api-under-test';
import { createOidcRelyingParty } from './oidc-relying-party';
import { parseRoleMap } from './oidc-settings';

/**
 * The SSO routes in the API module, where no provider is needed: SSO off, and the callback's
 * checks that come before the provider is asked (the login-state cookie). The flow with a real
 * provider is test/sso.e2e-spec.ts (openid-client is ESM-only: it runs in the API process there).
 */

jest.setTimeout(60_000);

const registry = new DeviceRegistry(loadSeeds());
const tempDirs = new TempDirs('oidc-spec-');
let store: TimeSeriesStore;

beforeAll(async () => {
  store = createTimeSeriesStore({ storage: 'embedded', dataDir: await tempDirs.make() });
  await store.init();
});
afterAll(async () => {
  await store?.close();
  await tempDirs.removeAll();
});

describe('SSO off', () => {
  let api: ApiUnderTest;
  beforeAll(async () => {
    api = await startApiUnderTest({ registry, store });
  });
  afterAll(() => api?.close());

  it('says so on the public providers route', async () => {
    const response = await fetch(`${api.url}/api/v1/auth/providers`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ password: true, oidc: { enabled: false } });
  });

  it('answers 404 sso-disabled on the SSO routes: JSON to a client, an HTML page to a browser', async () => {
    const json = await fetch(`${api.url}/api/v1/auth/oidc/login`, { redirect: 'manual' });
    expect(json.status).toBe(404);
    expect(await json.json()).toEqual({
      statusCode: 404,
      error: 'Not Found',
      reason: 'sso-disabled',
      message: 'single sign-on is not configured',
    });
    const html = await fetch(`${api.url}/api/v1/auth/oidc/callback?code=x&state=y`, {
      headers: { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' },
    });
    expect(html.status).toBe(404);
    expect(html.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await html.text()).toContain('sso-disabled');
  });

  it('a password session’s logout answers no end-session URL', async () => {
    const user = await api.createUser('viewer');
    const response = await fetch(`${api.url}/api/v1/auth/logout`, { method: 'POST', headers: user.headers });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ ended: true });
  });
});

describe('SSO on: the callback’s own checks', () => {
  let api: ApiUnderTest;
  beforeAll(async () => {
    const settings = {
      // Nothing listens there: these requests must be refused before the provider is asked.
      issuer: 'https://127.0.0.1:1/realms/none',
      clientId: 'ioc',
      clientSecret: 'secret',
      redirectUri: 'https://ioc.example/api/v1/auth/oidc/callback',
      scopes: ['openid'],
      roleClaim: 'groups',
      roleMap: parseRoleMap('ioc-admins=admin'),
      usernameClaim: 'preferred_username',
      agencyClaim: null,
      postLoginUrl: '/',
      postLogoutRedirectUri: null,
      displayName: 'Province SSO',
      allowHttp: false,
    };
    api = await startApiUnderTest({
      registry,
      store,
      oidc: { settings, relyingParty: createOidcRelyingParty(settings) },
    });
  });
  afterAll(() => api?.close());

  it('names the provider on the providers route', async () => {
    expect(await (await fetch(`${api.url}/api/v1/auth/providers`)).json()).toEqual({
      password: true,
      oidc: { enabled: true, name: 'Province SSO', loginUrl: '/api/v1/auth/oidc/login' },
    });
  });

  it.each([
    { what: 'no state cookie', cookie: undefined, reason: 'oidc-state-missing' },
    { what: 'a forged one', cookie: 'eyJzdGF0ZSI6InMifQ.AAAA', reason: 'oidc-state-invalid' },
    { what: 'garbage', cookie: 'garbage', reason: 'oidc-state-invalid' },
  ])('refuses a callback with $what (400 $reason) and opens no session', async ({ cookie, reason }) => {
    const response = await fetch(`${api.url}/api/v1/auth/oidc/callback?code=c&state=s`, {
      headers: {
        accept: 'application/json',
        ...(cookie === undefined ? {} : { cookie: `ioc_oidc=${cookie}` }),
      },
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ statusCode: 400, error: 'Bad Request', reason });
    const cookies = response.headers.getSetCookie();
    expect(cookies.join()).not.toMatch(/ioc_session=iocst_/);
    // The state is single-use: cleared whatever the outcome.
    expect(cookies.join()).toMatch(/ioc_oidc=;.*Path=\/api\/v1\/auth\/oidc/);
  });
});
