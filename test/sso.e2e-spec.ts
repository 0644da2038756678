import { join } from 'node:path';
import { type AuditEntry, AuditLog } from '@ioc/audit';
import { openDatabase, SQLITE_FILE_NAME } from '@ioc/database';
import {
  API_ENTRY,
  freePort,
  type RunningOidcProvider,
  type ServiceProcess,
  startOidcProvider,
  startService,
  TempDirs,
} from '@ioc/testing';
import { type BrowserResponse, formAction, TestBrowser } from './support/browser';

/**
 * Single sign-on through a real OpenID Connect provider (oidc-provider, started on a loopback
 * port) and a real API process configured for it. The test is the browser: it follows every
 * redirect itself with a cookie jar, submits the provider's login and consent forms, and lands on
 * the API's callback. A mapped user gets a cookie session with the mapped role; an unmapped one is
 * refused and gets no session nor account; logout ends the session and hands back the provider's
 * end-session URL, which logs the person out at the provider too.
 */

// Two processes to start and several round trips per login on a loaded machine.
jest.setTimeout(60_000);

const CLIENT_ID = 'ioc-e2e';
const CLIENT_SECRET = 'e2e-client-secret-0123456789abcdef';
const BREAK_GLASS = { username: 'admin', password: 'break-glass Tây Ninh 2026' };

describe('single sign-on through a real OpenID Connect provider', () => {
  const dirs = new TempDirs('ioc-sso-');
  let provider: RunningOidcProvider;
  let api: ServiceProcess;
  let apiUrl: string;
  let dataDir: string;
  const callbackUrl = (): string => `${apiUrl}/api/v1/auth/oidc/callback`;

  beforeAll(async () => {
    const [httpPort, unusedBrokerPort] = [await freePort(), await freePort()];
    apiUrl = `http://127.0.0.1:${httpPort}`;
    provider = await startOidcProvider({
      clients: [
        {
          clientId: CLIENT_ID,
          clientSecret: CLIENT_SECRET,
          redirectUris: [`${apiUrl}/api/v1/auth/oidc/callback`],
          postLogoutRedirectUris: [`${apiUrl}/`],
        },
      ],
      accounts: {
        'lan.tran': {
          groups: ['staff', 'ioc-admins'],
          name: 'Trần Thị Lan',
          email: 'lan.tran@tayninh.gov.vn',
        },
        'minh.le': { groups: ['ioc-operators'], name: 'Lê Văn Minh' },
        'khach.tham': { groups: ['visitors'], name: 'Khách tham quan' },
        // The local break-glass admin's username: SSO never takes a local account over.
        admin: { groups: ['ioc-admins'] },
        'hoa.nguyen': { groups: ['ioc-operators'], agency: 'dae', name: 'Nguyễn Thị Hoa' },
        'ghost.user': { groups: ['ioc-operators'], agency: 'no-such-agency' },
      },
      scopes: { agency: ['agency'] },
    });
    api = await startService(
      API_ENTRY,
      {
        IOC_STORAGE: 'embedded',
        IOC_DATA_DIR: (dataDir = await dirs.make()),
        IOC_HTTP_HOST: '127.0.0.1',
        IOC_HTTP_PORT: String(httpPort),
        // Every login of this file comes from 127.0.0.1 within a minute or two: above them all.
        IOC_HTTP_LOGIN_RATE_LIMIT_PER_MINUTE: '1000',
        // No broker: SSO needs none (the live feed keeps retrying in the background).
        IOC_BROKER_URL: `mqtt://127.0.0.1:${unusedBrokerPort}`,
        IOC_ADMIN_USERNAME: BREAK_GLASS.username,
        IOC_ADMIN_PASSWORD: BREAK_GLASS.password,
        IOC_OIDC_ISSUER: provider.issuer,
        IOC_OIDC_ALLOW_HTTP: 'true',
        IOC_OIDC_CLIENT_ID: CLIENT_ID,
        IOC_OIDC_CLIENT_SECRET: CLIENT_SECRET,
        IOC_OIDC_REDIRECT_URI: `${apiUrl}/api/v1/auth/oidc/callback`,
        IOC_OIDC_SCOPES: 'openid profile email groups agency',
        IOC_OIDC_AGENCY_CLAIM: 'agency',
        IOC_OIDC_ROLE_MAP: 'ioc-admins=admin,ioc-operators=operator,staff=viewer',
        IOC_OIDC_POST_LOGIN_URL: '/console/',
        IOC_OIDC_POST_LOGOUT_REDIRECT_URI: `${apiUrl}/`,
        IOC_OIDC_DISPLAY_NAME: 'SSO Tây Ninh',
      },
      'API listening',
      45_000,
    );
  }, 60_000);

  afterAll(async () => {
    await api?.stop();
    await provider?.stop();
    await dirs.removeAll();
  });

  /**
   * Logs in as `login` the way a browser does: the API's login route, the provider's login form
   * (any password), its consent form when it asks, and the API's callback.
   * @returns the callback's answer, and every hop before it
   */
  async function ssoLogin(
    browser: TestBrowser,
    login: string,
  ): Promise<{ callback: BrowserResponse; hops: BrowserResponse[] }> {
    const atCallback = (url: string): boolean => url.startsWith(callbackUrl());
    const hops = await browser.follow(`${apiUrl}/api/v1/auth/oidc/login`, {}, atCallback);
    for (
      let page = hops[hops.length - 1] as BrowserResponse;
      ;
      page = hops[hops.length - 1] as BrowserResponse
    ) {
      if (page.location !== null && atCallback(page.location)) {
        const callback = await browser.request(page.location);
        return { callback, hops };
      }
      expect(page.status).toBe(200);
      const action = formAction(page.body);
      if (action === undefined) throw new Error(`no form on ${page.url}: ${page.body.slice(0, 300)}`);
      const form: Record<string, string> = page.body.includes('name="login"')
        ? { prompt: 'login', login, password: 'any password: the development login page checks none' }
        : { prompt: 'consent' };
      hops.push(...(await browser.follow(new URL(action, page.url).href, { form }, atCallback)));
      if (hops.length > 20) throw new Error('the login did not reach the callback');
    }
  }

  /**
   * The audit log as the API wrote it (its SQLite file, read beside the running API): the
   * `auth.oidc-login` entries, oldest first, and whether the hash chain verifies.
   */
  async function audit(): Promise<{ entries: AuditEntry[]; chainOk: boolean }> {
    const database = openDatabase({ kind: 'sqlite', path: join(dataDir, SQLITE_FILE_NAME) });
    try {
      const log = new AuditLog(database.db);
      const entries = await log.query({ action: 'auth.oidc-login', order: 'asc', limit: 1000 });
      return { entries, chainOk: (await log.verify()).ok };
    } finally {
      await database.close();
    }
  }

  /** GET /api/v1/auth/me with the browser's cookies. */
  async function me(browser: TestBrowser): Promise<{ status: number; body: Record<string, unknown> }> {
    const response = await browser.request(`${apiUrl}/api/v1/auth/me`, {
      headers: { accept: 'application/json' },
    });
    return { status: response.status, body: JSON.parse(response.body) as Record<string, unknown> };
  }

  /** The local break-glass admin's bearer token (password login). */
  async function breakGlassToken(): Promise<string> {
    const response = await fetch(`${apiUrl}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ...BREAK_GLASS, session: 'bearer' }),
    });
    expect(response.status).toBe(200);
    return ((await response.json()) as { accessToken: string }).accessToken;
  }

  async function accountsAsAdmin(): Promise<
    Array<{ username: string; role: string; source: string; displayName: string }>
  > {
    const response = await fetch(`${apiUrl}/api/v1/accounts`, {
      headers: { authorization: `Bearer ${await breakGlassToken()}` },
    });
    expect(response.status).toBe(200);
    return (
      (await response.json()) as {
        items: Array<{ username: string; role: string; source: string; displayName: string }>;
      }
    ).items;
  }

  it('says SSO is on, for the console’s login page, without authentication', async () => {
    const response = await fetch(`${apiUrl}/api/v1/auth/providers`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({
      password: true,
      oidc: { enabled: true, name: 'SSO Tây Ninh', loginUrl: '/api/v1/auth/oidc/login' },
    });
  });

  it('a login through the provider gives a cookie session with the mapped role (the highest of the matching groups)', async () => {
    const browser = new TestBrowser();
    const { callback, hops } = await ssoLogin(browser, 'lan.tran');
    // The login route redirected to the provider with PKCE (S256), state and nonce.
    const authorization = new URL(hops[0]?.location ?? '');
    expect(authorization.origin).toBe(provider.issuer);
    expect(authorization.searchParams.get('code_challenge_method')).toBe('S256');
    expect(authorization.searchParams.get('state')).toBeTruthy();
    expect(authorization.searchParams.get('nonce')).toBeTruthy();
    expect(hops[0]?.headers.getSetCookie().join()).toMatch(/ioc_oidc=.+HttpOnly/i);

    expect(callback.status).toBe(302);
    expect(callback.location).toBe(`${apiUrl}/console/`);
    expect(callback.headers.getSetCookie().join('\n')).toMatch(
      /ioc_session=iocst_[^;]+;.*HttpOnly.*SameSite=Strict/i,
    );
    expect(browser.cookie(apiUrl, 'ioc_oidc')).toBeUndefined();

    const who = await me(browser);
    expect(who.status).toBe(200);
    expect(who.body).toMatchObject({
      kind: 'account',
      name: 'lan.tran',
      role: 'admin',
      displayName: 'Trần Thị Lan',
    });

    const operator = new TestBrowser();
    expect((await ssoLogin(operator, 'minh.le')).callback.status).toBe(302);
    expect((await me(operator)).body).toMatchObject({ name: 'minh.le', role: 'operator' });

    const accounts = await accountsAsAdmin();
    expect(accounts.find((a) => a.username === 'lan.tran')).toMatchObject({ source: 'oidc', role: 'admin' });

    // Each login is audited with the mapped role and the group that gave it; no token is kept there.
    const { entries, chainOk } = await audit();
    expect(entries.find((e) => e.actor.name === 'lan.tran')).toMatchObject({
      outcome: 'success',
      actor: { kind: 'account' },
      entity: { type: 'session' },
      detail: { via: 'oidc', issuer: provider.issuer, role: 'admin', matchedValues: ['staff', 'ioc-admins'] },
      address: '127.0.0.1',
    });
    expect(JSON.stringify(entries)).not.toMatch(/eyJ[\w-]+\.eyJ/);
    expect(chainOk).toBe(true);
  });

  it('an unmapped user is refused with 403 naming why, and gets neither a session nor an account', async () => {
    const browser = new TestBrowser();
    const { callback } = await ssoLogin(browser, 'khach.tham');
    expect(callback.status).toBe(403);
    expect(callback.headers.get('content-type')).toMatch(/text\/html/);
    expect(callback.body).toContain('no-mapped-role');
    expect(callback.body).toContain('&#34;visitors&#34;');
    expect(callback.headers.getSetCookie().join()).not.toMatch(/ioc_session=iocst_/);
    expect(browser.cookie(apiUrl, 'ioc_session')).toBeUndefined();
    expect((await me(browser)).status).toBe(401);
    expect((await accountsAsAdmin()).map((a) => a.username)).not.toContain('khach.tham');
    const { entries } = await audit();
    expect(entries.filter((e) => e.actor.name === 'khach.tham')).toEqual([
      expect.objectContaining({
        outcome: 'failure',
        actor: expect.objectContaining({ kind: 'anonymous' }),
        detail: expect.objectContaining({
          reason: 'no-mapped-role',
          subject: 'khach.tham',
          roleValues: ['visitors'],
        }),
      }),
    ]);

    // A client asking for JSON gets the same refusal as JSON.
    const json = new TestBrowser();
    const atCallback = await ssoLogin(json, 'khach.tham');
    const replay = await json.request(atCallback.callback.url, { headers: { accept: 'application/json' } });
    // The state cookie was single-use: replaying the callback is refused before the provider is asked.
    expect(replay.status).toBe(400);
    expect(JSON.parse(replay.body)).toMatchObject({ statusCode: 400, reason: 'oidc-state-missing' });
  });

  it('a forged or replayed callback is refused and opens no session', async () => {
    const browser = new TestBrowser();
    const { callback } = await ssoLogin(browser, 'minh.le');
    expect(callback.status).toBe(302);
    // The same code again, with a fresh login state of this browser: the state does not match.
    const fresh = await browser.request(`${apiUrl}/api/v1/auth/oidc/login`);
    expect(fresh.status).toBe(302);
    const other = new TestBrowser();
    other.setCookie(apiUrl, 'ioc_oidc', browser.cookie(apiUrl, 'ioc_oidc') as string);
    const replayed = await other.request(callback.url, { headers: { accept: 'application/json' } });
    expect(replayed.status).toBe(502);
    // Refused for its state before the code is spent (not for the code already being used).
    expect(JSON.parse(replayed.body)).toMatchObject({
      reason: 'oidc-invalid-response',
      message: expect.stringMatching(/"state"/),
    });
    // A tampered state cookie.
    const tampered = new TestBrowser();
    tampered.setCookie(apiUrl, 'ioc_oidc', `${browser.cookie(apiUrl, 'ioc_oidc') as string}x`);
    const forged = await tampered.request(callback.url, { headers: { accept: 'application/json' } });
    expect(JSON.parse(forged.body)).toMatchObject({ statusCode: 400, reason: 'oidc-state-invalid' });
    expect(other.cookie(apiUrl, 'ioc_session')).toBeUndefined();
    expect(tampered.cookie(apiUrl, 'ioc_session')).toBeUndefined();
  });

  it('logout ends the SSO session at once and answers the provider’s end-session URL, which logs out there too', async () => {
    const browser = new TestBrowser();
    expect((await ssoLogin(browser, 'lan.tran')).callback.status).toBe(302);
    const session = browser.cookie(apiUrl, 'ioc_session') as string;
    expect((await me(browser)).status).toBe(200);

    const logout = await browser.request(`${apiUrl}/api/v1/auth/logout`, {
      method: 'POST',
      headers: { accept: 'application/json', origin: apiUrl },
    });
    expect(logout.status).toBe(200);
    const body = JSON.parse(logout.body) as { ended: boolean; endSessionUrl?: string };
    expect(body.ended).toBe(true);
    const endSession = new URL(body.endSessionUrl ?? '');
    expect(endSession.origin).toBe(provider.issuer);
    expect(endSession.searchParams.get('id_token_hint')).toMatch(/^ey/);
    expect(endSession.searchParams.get('post_logout_redirect_uri')).toBe(`${apiUrl}/`);

    // The old cookie is refused at once.
    const old = new TestBrowser();
    old.setCookie(apiUrl, 'ioc_session', session);
    const refused = await me(old);
    expect(refused.status).toBe(401);
    expect(refused.body['reason']).toBe('session-ended');

    // The console follows the URL: the provider asks to confirm, then sends the browser back.
    const confirm = await browser.follow(endSession.href);
    const page = confirm[confirm.length - 1] as BrowserResponse;
    expect(page.status).toBe(200);
    const action = formAction(page.body);
    const xsrf = /name="xsrf" value="([^"]+)"/.exec(page.body)?.[1];
    expect(action && xsrf).toBeTruthy();
    const back = await browser.follow(
      new URL(action as string, page.url).href,
      { form: { xsrf: xsrf as string, logout: 'yes' } },
      (url) => url.startsWith(apiUrl),
    );
    expect(back[back.length - 1]?.location).toBe(`${apiUrl}/`);

    // Logged out at the provider too: the next SSO login asks for the password again.
    const again = await browser.follow(`${apiUrl}/api/v1/auth/oidc/login`, {}, (url) =>
      url.startsWith(callbackUrl()),
    );
    expect(again[again.length - 1]?.body).toContain('name="login"');
  });

  it('the agency claim puts the person in that agency (its scope applies); an unknown agency is refused', async () => {
    const token = await breakGlassToken();
    const created = await fetch(`${apiUrl}/api/v1/agencies`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ id: 'dae', name: 'Sở Nông nghiệp và Môi trường', scope: { domains: ['env'] } }),
    });
    expect(created.status).toBe(201);

    const browser = new TestBrowser();
    expect((await ssoLogin(browser, 'hoa.nguyen')).callback.status).toBe(302);
    expect((await me(browser)).body).toMatchObject({
      name: 'hoa.nguyen',
      role: 'operator',
      agencyId: 'dae',
      scope: { domains: ['env'] },
    });

    const ghost = await ssoLogin(new TestBrowser(), 'ghost.user');
    expect(ghost.callback.status).toBe(403);
    expect(ghost.callback.body).toContain('unknown-agency');
    expect((await accountsAsAdmin()).map((a) => a.username)).not.toContain('ghost.user');
  });

  it('a first SSO login with the username of a local account is refused: SSO never takes it over', async () => {
    const browser = new TestBrowser();
    const { callback } = await ssoLogin(browser, 'admin');
    expect(callback.status).toBe(403);
    expect(callback.body).toContain('username-taken');
    expect(browser.cookie(apiUrl, 'ioc_session')).toBeUndefined();
    expect((await accountsAsAdmin()).find((a) => a.username === 'admin')).toMatchObject({ source: 'local' });
  });

  it('an SSO account an admin disabled cannot log in through SSO', async () => {
    const browser = new TestBrowser();
    expect((await ssoLogin(browser, 'minh.le')).callback.status).toBe(302);
    const token = await breakGlassToken();
    const list = await fetch(`${apiUrl}/api/v1/accounts`, { headers: { authorization: `Bearer ${token}` } });
    const account = ((await list.json()) as { items: Array<{ id: string; username: string }> }).items.find(
      (a) => a.username === 'minh.le',
    );
    const disabled = await fetch(`${apiUrl}/api/v1/accounts/${account?.id}/disable`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
    });
    expect(disabled.status).toBe(200);
    expect((await me(browser)).status).toBe(401);

    const again = new TestBrowser();
    const { callback } = await ssoLogin(again, 'minh.le');
    expect(callback.status).toBe(401);
    expect(callback.body).toContain('account-disabled');
    expect(again.cookie(apiUrl, 'ioc_session')).toBeUndefined();
  });

  it('the local break-glass admin still logs in with a password while SSO is on', async () => {
    expect(await breakGlassToken()).toMatch(/^ey/);
  });
});
