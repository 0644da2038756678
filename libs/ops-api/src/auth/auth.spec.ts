import 'reflect-metadata';
import { io, type Socket } from 'socket.io-client';
import {
  type ClientToServerEvents,
  errorBody,
  type IssuedApiKeyBody,
  type LiveEndedNotice,
  type LoginBody,
  type MeBody,
  type ServerToClientEvents,
  type TokenBody,
} from '@ioc/contracts';
import { AuditLog } from '@ioc/audit';
import { type IocDatabase, openDatabase, prepareDatabase } from '@ioc/database';
import { DeviceRegistry, loadSeeds, RegistryRepository } from '@ioc/registry';
import { describeEachDatabase, TempDirs } from '@ioc/testing';
import { createTimeSeriesStore, type TimeSeriesStore } from '@ioc/timeseries';
import { LIVE_DENIED_AUDITS_PER_MINUTE } from '../live/live.gateway';
import { type ApiUnderTest, startApiUnderTest, TEST_ADMIN_USERNAME } from '../test-support/api-under-test';

jest.setTimeout(120_000);

const seeds = loadSeeds();
const registry = new DeviceRegistry(seeds);
const light = registry.listDevices({ type: 'street-light' })[0]!;
const PASSWORD = 'correct horse battery staple';
const tempDirs = new TempDirs('auth-spec-');
afterAll(() => tempDirs.removeAll());

interface Answer<T = Record<string, unknown>> {
  status: number;
  body: T;
  headers: Headers;
}

type LiveSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

describeEachDatabase('authentication', (context) => {
  let database: IocDatabase;
  let store: TimeSeriesStore;
  let api: ApiUnderTest;
  const sockets: LiveSocket[] = [];
  /** The audit log the API writes to, over the suite's database. */
  let auditLog: AuditLog;
  /** Every secret the suite saw: none may reach the audit trail. */
  const secrets: string[] = [PASSWORD];

  beforeAll(async () => {
    database = openDatabase(await context.freshConfig());
    await prepareDatabase(database, {
      afterMigrate: async (db) => {
        await new RegistryRepository(db).importSeeds(seeds);
      },
    });
    store = createTimeSeriesStore({ storage: 'embedded', dataDir: await tempDirs.make() });
    await store.init();
    const repository = new RegistryRepository(database.db);
    auditLog = new AuditLog(database.db);
    api = await startApiUnderTest({
      database,
      registry,
      store,
      // A registry-write port so agencies can be given MQTT secrets (its key hashes them).
      provisioning: {
        repository,
        credentialKey: Buffer.alloc(32, 7),
        refresh: () => Promise.resolve(),
        notify: () => undefined,
      },
      // No periodic re-check within a test's time: what ends sockets here is this node's own event.
      accessSettings: { liveRecheckMs: 600_000 },
      audit: auditLog,
    });
  });

  afterAll(async () => {
    for (const socket of sockets) socket.disconnect();
    await api?.close();
    await store?.close();
    await database?.close();
  });

  async function call<T = Record<string, unknown>>(
    method: string,
    path: string,
    options: { headers?: Record<string, string>; body?: unknown; base?: string } = {},
  ): Promise<Answer<T>> {
    const response = await fetch(`${options.base ?? api.url}${path}`, {
      method,
      headers: {
        ...options.headers,
        ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
    });
    const text = await response.text();
    return { status: response.status, body: (text ? JSON.parse(text) : {}) as T, headers: response.headers };
  }

  /** A 401 or 403: its status, reason (and required role), the body checked against the error schema. */
  async function refusal(method: string, path: string, options: Parameters<typeof call>[2] = {}) {
    const answer = await call(method, path, options);
    expect(errorBody.parse(answer.body)).toEqual(answer.body);
    return {
      status: answer.status,
      reason: answer.body['reason'],
      ...(answer.body['required'] === undefined ? {} : { required: answer.body['required'] }),
    };
  }

  /** A /live socket with `auth` (or none), connected, or refused with the connect_error's reason. */
  async function connect(
    auth: { token?: string } | undefined,
    base = api.url,
    extraHeaders?: Record<string, string>,
  ): Promise<{ socket: LiveSocket; refused?: { message: string; reason: unknown } }> {
    const socket: LiveSocket = io(`${base}/live`, {
      transports: ['websocket'],
      reconnection: false,
      ...(auth ? { auth } : {}),
      ...(extraHeaders ? { extraHeaders } : {}),
    });
    sockets.push(socket);
    return new Promise((resolve) => {
      socket.once('connect', () => resolve({ socket }));
      socket.once('connect_error', (error: Error & { data?: { reason?: unknown } }) =>
        resolve({ socket, refused: { message: error.message, reason: error.data?.reason } }),
      );
    });
  }

  /** Resolves with the `ended` notice and the disconnect reason of a connected socket (fails after 10 s). */
  function whenEnded(socket: LiveSocket): Promise<{ notice?: LiveEndedNotice; disconnect: string }> {
    let notice: LiveEndedNotice | undefined;
    socket.on('ended', (n) => (notice = n));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the socket did not end within 10 s')), 10_000);
      socket.once('disconnect', (reason) => {
        clearTimeout(timer);
        resolve({ ...(notice ? { notice } : {}), disconnect: reason });
      });
    });
  }

  async function login(username: string, password: string, base = api.url, session?: 'bearer' | 'cookie') {
    return call<LoginBody>('POST', '/api/v1/auth/login', {
      base,
      body: { username, password, ...(session ? { session } : {}) },
    });
  }

  describe('without credentials', () => {
    it('refuses every REST route but the public ones with 401 missing-credentials and a Bearer challenge', async () => {
      for (const [method, path] of [
        ['GET', '/api/v1/devices'],
        ['GET', `/api/v1/devices/${light.id}/latest`],
        ['GET', '/api/v1/areas'],
        ['POST', '/api/v1/devices'],
        ['GET', '/api/v1/auth/me'],
        ['GET', '/api/v1/accounts'],
      ] as const) {
        const answer = await call(method, path);
        expect({ path, status: answer.status, reason: answer.body['reason'] }).toEqual({
          path,
          status: 401,
          reason: 'missing-credentials',
        });
        expect(answer.headers.get('www-authenticate')).toBe('Bearer realm="ioc"');
      }
      // Public by design: health and the OpenAPI document.
      expect([200, 503]).toContain((await call('GET', '/health')).status);
      expect((await call('GET', '/api/docs-json')).status).toBe(200);
    });

    it('refuses a bad token with invalid-token and a bad API key with invalid-api-key', async () => {
      const badToken = await call('GET', '/api/v1/devices', {
        headers: { authorization: 'Bearer not.a.jwt' },
      });
      expect({ status: badToken.status, reason: badToken.body['reason'] }).toEqual({
        status: 401,
        reason: 'invalid-token',
      });
      expect(badToken.headers.get('www-authenticate')).toContain('error="invalid_token"');
      expect(
        await refusal('GET', '/api/v1/devices', { headers: { 'x-api-key': 'iocak_00000000_nothing' } }),
      ).toEqual({ status: 401, reason: 'invalid-api-key' });
    });

    it('refuses an anonymous /live socket with a connect_error naming the reason', async () => {
      const anonymous = await connect(undefined);
      expect(anonymous.refused).toEqual({
        message: expect.stringContaining('authentication required'),
        reason: 'missing-credentials',
      });
      const forged = await connect({ token: 'eyJhbGciOiJIUzI1NiJ9.e30.x' });
      expect(forged.refused?.reason).toBe('invalid-token');
      const admin = await connect({ token: api.adminToken });
      expect(admin.refused).toBeUndefined();
      const ack = await admin.socket.timeout(5000).emitWithAck('subscribe', { domain: 'lighting' });
      expect(ack.ok).toBe(true);
    });

    it('declares the bearer, API key and cookie schemes in the OpenAPI document; public operations need none', async () => {
      const doc = (await call('GET', '/api/docs-json')).body as {
        components: { securitySchemes: Record<string, { type: string; in?: string; name?: string }> };
        security: Array<Record<string, unknown>>;
        paths: Record<string, Record<string, { security?: unknown[]; 'x-ioc-role'?: string }>>;
      };
      expect(doc.components.securitySchemes).toMatchObject({
        bearer: { type: 'http', scheme: 'bearer' },
        apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' },
        cookie: { type: 'apiKey', in: 'cookie', name: 'ioc_session' },
        metricsToken: { type: 'http', scheme: 'bearer' },
      });
      expect(doc.security).toEqual([{ bearer: [] }, { apiKey: [] }, { cookie: [] }]);
      // /metrics is public to the authentication guard, not to its own: the metrics token, or an admin.
      expect(doc.paths['/metrics']!['get']!.security).toEqual([
        { metricsToken: [] },
        { bearer: [] },
        { cookie: [] },
      ]);
      expect(doc.paths['/api/v1/auth/login']!['post']!.security).toEqual([]);
      expect(doc.paths['/health']!['get']!.security).toEqual([]);
      expect(doc.paths['/api/v1/devices']!['get']!.security).toBeUndefined();
      expect(doc.paths['/api/v1/devices']!['get']!['x-ioc-role']).toBe('viewer');
      expect(doc.paths['/api/v1/devices']!['post']!['x-ioc-role']).toBe('admin');
      expect(doc.paths['/api/v1/devices/{id}/commands']!['post']!['x-ioc-role']).toBe('operator');
    });
  });

  describe('roles', () => {
    it('lets a viewer read but not provision (403 naming admin) nor command (403 naming operator)', async () => {
      const viewer = await api.createUser('viewer');
      expect((await call('GET', '/api/v1/devices?limit=1', { headers: viewer.headers })).status).toBe(200);
      expect(
        await refusal('POST', '/api/v1/devices', { headers: viewer.headers, body: { id: 'x' } }),
      ).toEqual({ status: 403, reason: 'role-required', required: 'admin' });
      expect(
        await refusal('POST', `/api/v1/devices/${light.id}/commands`, {
          headers: viewer.headers,
          body: { command: 'setDim', params: { level: 10 } },
        }),
      ).toEqual({ status: 403, reason: 'role-required', required: 'operator' });
      expect(await refusal('GET', '/api/v1/accounts', { headers: viewer.headers })).toEqual({
        status: 403,
        reason: 'role-required',
        required: 'admin',
      });
      // An operator passes the command's role check (the command then fails for another reason).
      const operator = await api.createUser('operator');
      const command = await call('POST', `/api/v1/devices/${light.id}/commands`, {
        headers: operator.headers,
        body: { command: 'no-such-command' },
      });
      expect(command.status).not.toBe(403);
      expect(command.status).not.toBe(401);
    });

    it('treats an agency API key as a viewer, by X-API-Key or Authorization: Bearer', async () => {
      const { key, headers } = await api.issueAgencyKey();
      expect((await call('GET', '/api/v1/areas', { headers })).status).toBe(200);
      expect(
        (await call('GET', '/api/v1/areas', { headers: { authorization: `Bearer ${key}` } })).status,
      ).toBe(200);
      const me = await call<MeBody>('GET', '/api/v1/auth/me', { headers });
      expect(me.body).toMatchObject({ kind: 'apiKey', role: 'viewer' });
      expect(await refusal('POST', `/api/v1/devices/${light.id}/suspend`, { headers })).toEqual({
        status: 403,
        reason: 'role-required',
        required: 'admin',
      });
    });
  });

  describe('login, refresh, logout', () => {
    let username: string;
    beforeAll(async () => {
      username = (await api.createUser('operator', { password: PASSWORD })).username;
    });

    it('logs in with bearer tokens; refresh rotates; reusing a replaced refresh token ends the session', async () => {
      const first = await login(username, PASSWORD);
      expect(first.status).toBe(200);
      secrets.push(first.body.accessToken!, first.body.refreshToken!);
      expect(first.body).toMatchObject({
        tokenType: 'Bearer',
        expiresIn: 900,
        principal: { kind: 'account', name: username, role: 'operator', scope: null },
      });
      const headers = { authorization: `Bearer ${first.body.accessToken!}` };
      const me = await call<MeBody>('GET', '/api/v1/auth/me', { headers });
      expect(me.body).toMatchObject({ name: username, role: 'operator', displayName: expect.any(String) });

      const second = await call<TokenBody>('POST', '/api/v1/auth/refresh', {
        body: { refreshToken: first.body.refreshToken },
      });
      expect(second.status).toBe(200);
      expect(second.body.refreshToken).not.toBe(first.body.refreshToken);
      const rotatedHeaders = { authorization: `Bearer ${second.body.accessToken}` };
      expect((await call('GET', '/api/v1/auth/me', { headers: rotatedHeaders })).status).toBe(200);

      // The replaced refresh token presented again: the whole session ends (both access tokens).
      expect(
        await refusal('POST', '/api/v1/auth/refresh', { body: { refreshToken: first.body.refreshToken } }),
      ).toEqual({ status: 401, reason: 'session-ended' });
      expect(await refusal('GET', '/api/v1/auth/me', { headers: rotatedHeaders })).toEqual({
        status: 401,
        reason: 'session-ended',
      });
      expect(
        await refusal('POST', '/api/v1/auth/refresh', { body: { refreshToken: second.body.refreshToken } }),
      ).toEqual({ status: 401, reason: 'session-ended' });
      expect(
        await refusal('POST', '/api/v1/auth/refresh', { body: { refreshToken: 'iocst_unknown' } }),
      ).toEqual({ status: 401, reason: 'invalid-token' });
    });

    it('ends the session at logout: the same access token is refused on the next request', async () => {
      const { body } = await login(username, PASSWORD);
      const headers = { authorization: `Bearer ${body.accessToken!}` };
      const { socket } = await connect({ token: body.accessToken! });
      const ended = whenEnded(socket);
      const logout = await call('POST', '/api/v1/auth/logout', { headers });
      expect(logout).toMatchObject({ status: 200, body: { ended: true } });
      expect(await refusal('GET', '/api/v1/devices?limit=1', { headers })).toEqual({
        status: 401,
        reason: 'session-ended',
      });
      expect((await ended).notice?.reason).toBe('logout');
      expect(
        await refusal('POST', '/api/v1/auth/refresh', { body: { refreshToken: body.refreshToken } }),
      ).toEqual({ status: 401, reason: 'session-ended' });
    });

    it('answers a wrong password and an unknown user alike (401 invalid-credentials)', async () => {
      const wrong = await login(username, 'not the password at all');
      const unknown = await login('nobody-here', 'not the password at all');
      expect([wrong.status, wrong.body['reason' as never]]).toEqual([401, 'invalid-credentials']);
      expect([unknown.status, unknown.body['reason' as never]]).toEqual([401, 'invalid-credentials']);
      expect(wrong.body).toEqual(unknown.body);
    });

    it('sets an httpOnly SameSite=Strict cookie in cookie mode, and refuses a cookie write from a foreign origin', async () => {
      const answer = await login(username, PASSWORD, api.url, 'cookie');
      expect(answer.status).toBe(200);
      expect(answer.body.accessToken).toBeUndefined();
      const setCookie = answer.headers.get('set-cookie') ?? '';
      expect(setCookie).toMatch(/^ioc_session=iocst_[^;]+;/);
      expect(setCookie).toMatch(/HttpOnly/i);
      expect(setCookie).toMatch(/SameSite=Strict/i);
      expect(setCookie).toMatch(/Path=\//);
      const cookie = setCookie.split(';')[0]!;
      const me = await call<MeBody>('GET', '/api/v1/auth/me', { headers: { cookie } });
      expect(me.body).toMatchObject({ kind: 'account', name: username });
      // A live socket authenticates with the cookie too.
      const { refused } = await connect(undefined, api.url, { cookie });
      expect(refused).toBeUndefined();
      // CSRF: an unsafe request with the cookie from another origin is refused.
      expect(
        await refusal('POST', '/api/v1/auth/logout', { headers: { cookie, origin: 'https://evil.example' } }),
      ).toEqual({ status: 403, reason: 'cross-site-request' });
      // Without an Origin, Fetch Metadata decides: cross-site is refused, and same-site from a
      // host that is not allowed (its Referer); same-origin passes (below, with the Origin).
      expect(
        await refusal('POST', '/api/v1/auth/logout', { headers: { cookie, 'sec-fetch-site': 'cross-site' } }),
      ).toEqual({ status: 403, reason: 'cross-site-request' });
      expect(
        await refusal('POST', '/api/v1/auth/logout', {
          headers: { cookie, 'sec-fetch-site': 'same-site', referer: 'http://evil.127.0.0.1.example/page' },
        }),
      ).toEqual({ status: 403, reason: 'cross-site-request' });
      expect(
        await refusal('POST', '/api/v1/auth/logout', { headers: { cookie, 'sec-fetch-site': 'same-site' } }),
      ).toEqual({ status: 403, reason: 'cross-site-request' });
      expect((await call('GET', '/api/v1/auth/me', { headers: { cookie } })).status).toBe(200);
      const logout = await call('POST', '/api/v1/auth/logout', {
        headers: { cookie, origin: api.url, 'sec-fetch-site': 'same-origin' },
      });
      expect(logout.status).toBe(200);
      expect(logout.headers.get('set-cookie')).toMatch(/ioc_session=;/);
      expect(await refusal('GET', '/api/v1/auth/me', { headers: { cookie } })).toEqual({
        status: 401,
        reason: 'session-ended',
      });
    });

    it('changes one’s own password with the current one; the other sessions end', async () => {
      const user = await api.createUser('viewer', { password: PASSWORD });
      const other = await api.sessionFor(user.id);
      const wrong = await call('POST', '/api/v1/auth/password', {
        headers: user.headers,
        body: { currentPassword: 'not the password at all', newPassword: 'a brand new passphrase' },
      });
      expect(wrong).toMatchObject({ status: 400, body: { parameter: 'currentPassword' } });
      const weak = await call('POST', '/api/v1/auth/password', {
        headers: user.headers,
        body: { currentPassword: PASSWORD, newPassword: 'short' },
      });
      expect(weak).toMatchObject({ status: 400, body: { parameter: 'newPassword' } });
      const changed = await call('POST', '/api/v1/auth/password', {
        headers: user.headers,
        body: { currentPassword: PASSWORD, newPassword: 'a brand new passphrase' },
      });
      expect(changed.status).toBe(200);
      expect((await call('GET', '/api/v1/auth/me', { headers: user.headers })).status).toBe(200);
      expect((await refusal('GET', '/api/v1/auth/me', { headers: other.headers })).status).toBe(401);
      expect((await login(user.username, 'a brand new passphrase')).status).toBe(200);
    });
  });

  it('locks an account after five wrong passwords: the right one is then refused with account-locked and Retry-After', async () => {
    const user = await api.createUser('viewer', { password: PASSWORD });
    const reasons: unknown[] = [];
    for (let attempt = 0; attempt < 5; attempt++) {
      const answer = await login(user.username, `wrong password number ${attempt}`);
      expect(answer.status).toBe(401);
      reasons.push(answer.body['reason' as never]);
    }
    expect(reasons.slice(0, 4)).toEqual(Array(4).fill('invalid-credentials'));
    expect(reasons[4]).toBe('account-locked');
    const right = await login(user.username, PASSWORD);
    expect({ status: right.status, reason: right.body['reason' as never] }).toEqual({
      status: 401,
      reason: 'account-locked',
    });
    const retryAfter = Number(right.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(14 * 60);
    expect(retryAfter).toBeLessThanOrEqual(15 * 60);
    expect(right.headers.get('www-authenticate')).toContain('Bearer');
    // An admin enabling the account lifts the lock.
    expect(
      (await call('POST', `/api/v1/accounts/${user.id}/enable`, { headers: api.authHeaders })).status,
    ).toBe(200);
    expect((await login(user.username, PASSWORD)).status).toBe(200);
  });

  describe('agencies and API keys', () => {
    it('issues a key shown once, lists it by prefix, and a revoked key stops at once on REST and its live socket', async () => {
      const created = await call('POST', '/api/v1/agencies', {
        headers: api.authHeaders,
        body: {
          id: `env-agency-${context.kind}`,
          name: 'Sở Nông nghiệp và Môi trường',
          scope: { domains: ['env'] },
        },
      });
      expect(created.status).toBe(201);
      const agencyId = created.body['id'] as string;
      const issued = await call<IssuedApiKeyBody>('POST', `/api/v1/agencies/${agencyId}/keys`, {
        headers: api.authHeaders,
        body: { name: 'dashboard' },
      });
      expect(issued.status).toBe(201);
      const { key, apiKey } = issued.body;
      secrets.push(key);
      expect(key.startsWith(`${apiKey.prefix}_`)).toBe(true);
      const listed = await call<{ items: Array<Record<string, unknown>> }>(
        'GET',
        `/api/v1/agencies/${agencyId}/keys`,
        { headers: api.authHeaders },
      );
      expect(listed.body.items).toEqual([
        expect.objectContaining({ id: apiKey.id, prefix: apiKey.prefix, status: 'active' }),
      ]);
      expect(JSON.stringify(listed.body)).not.toContain(key);

      const headers = { 'x-api-key': key };
      expect((await call('GET', '/api/v1/areas', { headers })).status).toBe(200);
      const { socket, refused } = await connect({ token: key });
      expect(refused).toBeUndefined();
      const ended = whenEnded(socket);
      const revoked = await call('DELETE', `/api/v1/agencies/${agencyId}/keys/${apiKey.id}`, {
        headers: api.authHeaders,
      });
      expect(revoked).toMatchObject({ status: 200, body: { status: 'revoked' } });
      expect(await refusal('GET', '/api/v1/areas', { headers })).toEqual({
        status: 401,
        reason: 'api-key-revoked',
      });
      expect(await ended).toEqual({
        notice: expect.objectContaining({ reason: 'api-key-revoked' }),
        disconnect: 'io server disconnect',
      });
      expect((await connect({ token: key })).refused?.reason).toBe('api-key-revoked');
    });

    it('issues an agency MQTT secret once (username agency:{id}); a disabled agency refuses its keys', async () => {
      const { agencyId, headers } = await api.issueAgencyKey({ scope: { domains: ['lighting'] } });
      const mqtt = await call('POST', `/api/v1/agencies/${agencyId}/mqtt-credentials`, {
        headers: api.authHeaders,
      });
      expect(mqtt).toMatchObject({ status: 201, body: { username: `agency:${agencyId}` } });
      secrets.push(mqtt.body['secret'] as string);
      const agency = await call('GET', `/api/v1/agencies/${agencyId}`, { headers: api.authHeaders });
      expect(agency.body['mqttSecretHint']).toBe(
        (mqtt.body['secret'] as string).slice(0, (agency.body['mqttSecretHint'] as string).length),
      );
      expect(JSON.stringify(agency.body)).not.toContain(mqtt.body['secret'] as string);
      expect(
        (await call('POST', `/api/v1/agencies/${agencyId}/disable`, { headers: api.authHeaders })).status,
      ).toBe(200);
      expect((await refusal('GET', '/api/v1/areas', { headers })).status).toBe(401);
      expect(
        (await call('POST', `/api/v1/agencies/${agencyId}/enable`, { headers: api.authHeaders })).status,
      ).toBe(200);
      expect((await call('GET', '/api/v1/areas', { headers })).status).toBe(200);
    });
  });

  describe('accounts', () => {
    it('creates accounts (a weak password refused naming the field), and disabling one ends its sessions and sockets', async () => {
      const weak = await call('POST', '/api/v1/accounts', {
        headers: api.authHeaders,
        body: { username: 'weak-one', displayName: 'Weak', role: 'viewer', password: 'password' },
      });
      expect(weak).toMatchObject({ status: 400, body: { parameter: 'password' } });
      const created = await call('POST', '/api/v1/accounts', {
        headers: api.authHeaders,
        body: { username: `ops-${context.kind}`, displayName: 'Nguyễn Văn A', role: 'operator' },
      });
      expect(created).toMatchObject({ status: 201, body: { role: 'operator', state: 'active' } });
      const id = created.body['id'] as string;
      expect((await call('GET', '/api/v1/accounts', { headers: api.authHeaders })).body['items']).toEqual(
        expect.arrayContaining([expect.objectContaining({ id })]),
      );
      const session = await api.sessionFor(id);
      const { socket, refused } = await connect({ token: session.token });
      expect(refused).toBeUndefined();
      const ended = whenEnded(socket);
      const disabled = await call('POST', `/api/v1/accounts/${id}/disable`, { headers: api.authHeaders });
      expect(disabled).toMatchObject({ status: 200, body: { state: 'disabled' } });
      expect(await refusal('GET', '/api/v1/auth/me', { headers: session.headers })).toEqual({
        status: 401,
        reason: 'account-disabled',
      });
      expect((await ended).notice?.reason).toBe('account-disabled');
      // Role changes apply on the next request (read from the database, not the token).
      await call('POST', `/api/v1/accounts/${id}/enable`, { headers: api.authHeaders });
      const again = await api.sessionFor(id);
      expect((await call('GET', '/api/v1/accounts', { headers: again.headers })).status).toBe(403);
      await call('PATCH', `/api/v1/accounts/${id}`, { headers: api.authHeaders, body: { role: 'admin' } });
      expect((await call('GET', '/api/v1/accounts', { headers: again.headers })).status).toBe(200);
    });
  });

  describe('validation of access writes', () => {
    it('refuses control and bidirectional characters naming the field, stores usernames lower-cased, refuses a key for a disabled agency', async () => {
      for (const [path, body, parameter] of [
        [
          '/api/v1/accounts',
          { username: 'bidi-user', displayName: 'An\u202Egnp.exe', role: 'viewer' },
          'displayName',
        ],
        ['/api/v1/agencies', { id: 'bell-agency', name: 'Bell\u0007', scope: {} }, 'name'],
        ['/api/v1/agencies', { id: 'nul-agency', name: 'Nul', scope: {}, note: 'a\u0000b' }, 'note'],
      ] as const) {
        const answer = await call('POST', path, { headers: api.authHeaders, body });
        expect(answer).toMatchObject({ status: 400, body: { parameter } });
      }
      const created = await call('POST', '/api/v1/accounts', {
        headers: api.authHeaders,
        body: { username: `Mixed.Case-${context.kind}`, displayName: 'Mixed', role: 'viewer' },
      });
      expect(created).toMatchObject({ status: 201, body: { username: `mixed.case-${context.kind}` } });
      const { agencyId } = await api.issueAgencyKey();
      const badName = await call('POST', `/api/v1/agencies/${agencyId}/keys`, {
        headers: api.authHeaders,
        body: { name: 'line one\nline two' },
      });
      expect(badName).toMatchObject({ status: 400, body: { parameter: 'name' } });
      await call('POST', `/api/v1/agencies/${agencyId}/disable`, { headers: api.authHeaders });
      const whileDisabled = await call('POST', `/api/v1/agencies/${agencyId}/keys`, {
        headers: api.authHeaders,
        body: { name: 'while disabled' },
      });
      expect(whileDisabled).toMatchObject({ status: 409, body: { parameter: 'agencyId' } });
      await call('POST', `/api/v1/agencies/${agencyId}/enable`, { headers: api.authHeaders });
    });

    it('records a failed login under its username only when it is well formed: else a marker and its length', async () => {
      const typed = 'evil\u202E\u0000 name; password=hunter2 and more';
      expect((await login(typed, 'some wrong password')).status).toBe(401);
      expect((await login(`ghost-${context.kind}`, 'some wrong password')).status).toBe(401);
      const failures = (await auditLog.query({ limit: 1000 })).filter(
        (entry) => entry.action === 'auth.login' && entry.outcome === 'failure',
      );
      expect(failures).toEqual(
        expect.arrayContaining([
          expect.objectContaining({
            actor: expect.objectContaining({ kind: 'anonymous', name: '(malformed username)' }),
            detail: expect.objectContaining({ usernameLength: typed.length }),
          }),
          expect.objectContaining({ actor: expect.objectContaining({ name: `ghost-${context.kind}` }) }),
        ]),
      );
      expect(JSON.stringify(failures)).not.toContain('hunter2');
      expect(JSON.stringify(failures)).not.toMatch(/\u202e|\\u202e/i);
    });
  });

  describe('platform administration', () => {
    it('refuses every administration route to an admin with a scope or an agency (403 out-of-scope administration); an unscoped admin keeps them', async () => {
      const district = seeds.areas.find((area) => area.level === 'district')!.id;
      const agency = await api.issueAgencyKey({ scope: { domains: ['env'], areas: [district] } });
      const scopedAdmin = await api.createUser('admin', { scope: { areas: [district] } });
      const agencyAdmin = await api.createUser('admin', { agencyId: agency.agencyId });
      const first = await api.access.accounts.findByUsername(TEST_ADMIN_USERNAME);
      const before = {
        scoped: await api.access.accounts.get(scopedAdmin.id),
        agency: await api.access.agencies.get(agency.agencyId),
      };
      const routes = (self: string): [string, string, unknown?][] => [
        ['GET', '/api/v1/accounts'],
        [
          'POST',
          '/api/v1/accounts',
          { username: `usurper-${self.slice(-6)}`, displayName: 'U', role: 'admin' },
        ],
        ['GET', `/api/v1/accounts/${first!.id}`],
        ['PATCH', `/api/v1/accounts/${self}`, { scope: null }],
        ['PATCH', `/api/v1/accounts/${self}`, { agencyId: null }],
        ['POST', `/api/v1/accounts/${first!.id}/disable`],
        ['POST', `/api/v1/accounts/${first!.id}/enable`],
        ['POST', `/api/v1/accounts/${first!.id}/password`, { password: 'a brand new passphrase 42' }],
        ['GET', '/api/v1/agencies'],
        ['POST', '/api/v1/agencies', { id: `rogue-${self.slice(-6)}`, name: 'Rogue', scope: {} }],
        ['GET', `/api/v1/agencies/${agency.agencyId}`],
        ['PATCH', `/api/v1/agencies/${agency.agencyId}`, { scope: {} }],
        ['POST', `/api/v1/agencies/${agency.agencyId}/disable`],
        ['POST', `/api/v1/agencies/${agency.agencyId}/enable`],
        ['POST', `/api/v1/agencies/${agency.agencyId}/mqtt-credentials`],
        ['POST', `/api/v1/agencies/${agency.agencyId}/keys`, { name: 'mine' }],
        ['GET', `/api/v1/agencies/${agency.agencyId}/keys`],
        ['DELETE', `/api/v1/agencies/${agency.agencyId}/keys/${agency.keyId}`],
        ['GET', '/api/v1/audit'],
        ['GET', '/api/v1/audit/verify'],
        ['GET', '/metrics'],
      ];
      for (const admin of [scopedAdmin, agencyAdmin]) {
        for (const [method, path, body] of routes(admin.id)) {
          const answer = await call(method, path, { headers: admin.headers, body });
          expect({ method, path, status: answer.status, reason: answer.body['reason'] }).toEqual({
            method,
            path,
            status: 403,
            reason: 'out-of-scope',
          });
          expect(errorBody.parse(answer.body)).toEqual(answer.body);
          expect(answer.body['outOfScope']).toEqual({ resource: 'administration' });
        }
      }
      // Nothing changed: the scoped admin kept its scope, the agency its scope and its key.
      expect(await api.access.accounts.get(scopedAdmin.id)).toEqual(before.scoped);
      expect(await api.access.agencies.get(agency.agencyId)).toEqual(before.agency);
      expect((await api.access.accounts.findByUsername(TEST_ADMIN_USERNAME))?.state).toBe('active');
      expect((await call('GET', '/api/v1/areas', { headers: agency.headers })).status).toBe(200);
      // The unscoped admin still administers.
      for (const path of [
        '/api/v1/accounts',
        `/api/v1/agencies/${agency.agencyId}/keys`,
        '/api/v1/audit/verify',
        '/metrics',
      ]) {
        // fetch, not call: /metrics answers Prometheus text.
        const answer = await fetch(`${api.url}${path}`, { headers: api.authHeaders });
        expect({ path, status: answer.status }).toEqual({
          path,
          status: 200,
        });
      }
      const widened = await call('PATCH', `/api/v1/accounts/${scopedAdmin.id}`, {
        headers: api.authHeaders,
        body: { scope: null },
      });
      expect(widened).toMatchObject({ status: 200 });
      expect((await call('GET', '/api/v1/accounts', { headers: scopedAdmin.headers })).status).toBe(200);
    });
  });

  it('audits out-of-scope refusals of REST requests (one entry each) and of /live subscriptions (at most LIVE_DENIED_AUDITS_PER_MINUTE a socket)', async () => {
    const district = seeds.areas.find(
      (area) => area.level === 'district' && registry.listDevices({ areaId: area.id }).length > 0,
    )!.id;
    const outside = registry.listDevices().find((d) => !registry.areaPath(d.areaId).includes(district))!;
    const viewer = await api.createUser('viewer', { scope: { areas: [district] } });
    expect((await refusal('GET', `/api/v1/devices/${outside.id}`, { headers: viewer.headers })).status).toBe(
      403,
    );
    expect((await refusal('GET', '/api/v1/ingest/stats', { headers: viewer.headers })).status).toBe(403);
    // An in-scope read is not a refusal.
    expect((await call('GET', `/api/v1/areas/${district}`, { headers: viewer.headers })).status).toBe(200);
    const rest = await auditLog.query({ actorId: viewer.id, action: 'auth.denied' });
    expect(rest.map((entry) => ({ outcome: entry.outcome, detail: entry.detail }))).toEqual([
      {
        outcome: 'denied',
        detail: {
          reason: 'out-of-scope',
          outOfScope: { resource: 'ingest-stats' },
          method: 'GET',
          path: '/api/v1/ingest/stats',
        },
      },
      {
        outcome: 'denied',
        detail: {
          reason: 'out-of-scope',
          outOfScope: { device: outside.id },
          method: 'GET',
          path: `/api/v1/devices/${outside.id}`,
        },
      },
    ]);
    expect(rest[0]!.address).toBeTruthy();

    const { socket, refused } = await connect({ token: viewer.token });
    expect(refused).toBeUndefined();
    const subscribe = (subscription: object) =>
      new Promise<{ ok: boolean; error?: string }>((resolve) =>
        socket.emit('subscribe', subscription as never, resolve as never),
      );
    // A flood of refused subscriptions: each refused, a bounded number audited.
    for (let i = 0; i < LIVE_DENIED_AUDITS_PER_MINUTE + 5; i++) {
      expect(await subscribe({ domain: 'env' })).toMatchObject({
        ok: false,
        error: expect.stringContaining('out of scope'),
      });
    }
    // Not a scope refusal (unknown area): not audited.
    expect(await subscribe({ area: 'no-such-area' })).toMatchObject({ ok: false });
    expect(await subscribe({ area: district })).toMatchObject({ ok: true });
    const live = (await auditLog.query({ actorId: viewer.id, action: 'auth.denied' })).filter(
      (entry) => (entry.detail as { via?: string } | null)?.via === 'live',
    );
    expect(live).toHaveLength(LIVE_DENIED_AUDITS_PER_MINUTE);
    expect(live[0]).toMatchObject({
      outcome: 'denied',
      actor: { kind: 'account', id: viewer.id },
      detail: {
        reason: 'out-of-scope',
        subscription: { domain: 'env' },
        message: expect.stringContaining('out of scope'),
      },
    });
    socket.disconnect();
  });

  it('audits a refusal of /metrics by role like any other (auth.denied, role-required)', async () => {
    const operator = await api.createUser('operator');
    const answer = await fetch(`${api.url}/metrics`, { headers: operator.headers });
    expect({ status: answer.status, body: await answer.json() }).toMatchObject({
      status: 403,
      body: { reason: 'role-required', required: 'admin' },
    });
    const entries = await auditLog.query({ actorId: operator.id, action: 'auth.denied' });
    expect(entries.map((entry) => entry.detail)).toEqual([
      { method: 'GET', path: '/metrics', reason: 'role-required', required: 'admin' },
    ]);
  });

  it('audits logins (both outcomes), logouts, refresh reuse, denials, account, agency and key changes — never a secret', async () => {
    const audited = await auditLog.query({ limit: 1000 });
    const actions = new Set(audited.map((entry) => `${entry.action}:${entry.outcome}`));
    for (const expected of [
      'auth.login:success',
      'auth.login:failure',
      'auth.logout:success',
      'auth.refresh-reuse:failure',
      'auth.denied:denied',
      'account.create:success',
      'account.update:success',
      'account.disable:success',
      'account.enable:success',
      'account.password:success',
      'agency.create:success',
      'agency.disable:success',
      'agency.mqtt-secret:success',
      'apiKey.issue:success',
      'apiKey.revoke:success',
    ]) {
      expect({ expected, found: actions.has(expected) }).toEqual({ expected, found: true });
    }
    const failure = audited.find((entry) => entry.action === 'auth.login' && entry.outcome === 'failure');
    expect(failure).toMatchObject({ actor: { kind: 'anonymous' }, detail: { reason: expect.any(String) } });
    const trail = JSON.stringify(audited);
    for (const secret of secrets) expect(trail.includes(secret)).toBe(false);
    expect(await auditLog.verify()).toMatchObject({ ok: true });
  });

  describe('a second API node over the same database, with 1-second access tokens', () => {
    let second: ApiUnderTest;
    beforeAll(async () => {
      second = await startApiUnderTest({
        database,
        registry,
        store,
        accessSettings: { accessTokenTtlSeconds: 1, liveRecheckMs: 500, addressMaxFailures: 3 },
      });
    });
    afterAll(async () => {
      await second?.close();
    });

    it('refuses an expired access token with token-expired, and ends its socket when it expires', async () => {
      const user = await second.createUser('viewer');
      const { socket, refused } = await connect({ token: user.token }, second.url);
      expect(refused).toBeUndefined();
      const ended = whenEnded(socket);
      expect((await ended).notice?.reason).toBe('token-expired');
      // The socket ends once the clock has passed the token's exp (LiveAuth), so REST refuses it now.
      const answer = await call('GET', '/api/v1/auth/me', { base: second.url, headers: user.headers });
      expect({ status: answer.status, reason: answer.body['reason'] }).toEqual({
        status: 401,
        reason: 'token-expired',
      });
      expect((await connect({ token: user.token }, second.url)).refused?.reason).toBe('token-expired');
    });

    it('throttles an address after its failed logins: 429 address-throttled with Retry-After', async () => {
      const statuses: number[] = [];
      for (let attempt = 0; attempt < 3; attempt++) {
        statuses.push((await login(`nobody-${attempt}`, 'not the password at all', second.url)).status);
      }
      expect(statuses).toEqual([401, 401, 401]);
      const throttled = await login('nobody-else', 'not the password at all', second.url);
      expect({ status: throttled.status, reason: throttled.body['reason' as never] }).toEqual({
        status: 429,
        reason: 'address-throttled',
      });
      expect(Number(throttled.headers.get('retry-after'))).toBeGreaterThan(0);
      // The other node counts its own failures (an in-memory seam until Redis).
      expect((await login('nobody-else', 'not the password at all')).status).toBe(401);
    });

    it('ends a socket on this node within seconds when its key is revoked through the other node', async () => {
      const { agencyId, keyId, key } = await api.issueAgencyKey();
      const { socket, refused } = await connect({ token: key }, second.url);
      expect(refused).toBeUndefined();
      const ended = whenEnded(socket);
      const started = Date.now();
      await call('DELETE', `/api/v1/agencies/${agencyId}/keys/${keyId}`, { headers: api.authHeaders });
      expect((await ended).notice?.reason).toBe('api-key-revoked');
      expect(Date.now() - started).toBeLessThan(5000);
    });
  });
});

describe('an API without a database of its own', () => {
  it('opens a temporary one with an admin whose token works', async () => {
    const store = createTimeSeriesStore({ storage: 'embedded', dataDir: await tempDirs.make() });
    await store.init();
    const api = await startApiUnderTest({ registry, store });
    try {
      const me = await fetch(`${api.url}/api/v1/auth/me`, { headers: api.authHeaders });
      expect(me.status).toBe(200);
      expect(await me.json()).toMatchObject({ role: 'admin' });
    } finally {
      await api.close();
      await store.close();
    }
  });
});
