import { type IocDatabase, openDatabase, prepareDatabase } from '@ioc/database';
import { describeEachDatabase } from '@ioc/testing';
import { AccessError } from './access-error';
import { AccountRepository } from './accounts';
import { AgencyRepository } from './agencies';
import { API_KEY_PATTERN, ApiKeyRepository } from './api-keys';
import { ensureFirstAdmin } from './first-admin';
import { LoginService, MemoryLoginAddressLimiter, MemoryUnknownUsernameLockout } from './login-service';
import { passwordPolicyProblem, verifyPassword } from './passwords';
import { SESSION_TOUCH_INTERVAL_MS, SessionRepository } from './sessions';

const MINUTE = 60_000;
const KEY = Buffer.alloc(32, 7);
const PASSWORD = 'mưa rơi trên phố cũ';

/** The AccessError a promise rejects with: its code and field. */
async function refusal(
  promise: Promise<unknown>,
): Promise<{ code: string; field?: string; message: string }> {
  try {
    await promise;
  } catch (error) {
    if (!(error instanceof AccessError)) throw error;
    return {
      code: error.code,
      message: error.message,
      ...(error.field === undefined ? {} : { field: error.field }),
    };
  }
  throw new Error('expected an AccessError');
}

describeEachDatabase('@ioc/access repositories', (context) => {
  const opened: IocDatabase[] = [];
  let now = Date.UTC(2026, 10, 30, 8, 0, 0);
  const clock = (): number => now;
  afterAll(async () => {
    await Promise.all(opened.map((database) => database.close()));
  });

  /** A migrated database with the areas prov ─ dist-a ─ ward-a1 and prov ─ dist-b. */
  async function fresh(): Promise<IocDatabase> {
    const database = openDatabase(await context.freshConfig());
    opened.push(database);
    await prepareDatabase(database);
    const areas = [
      { id: 'prov', parent_id: null },
      { id: 'dist-a', parent_id: 'prov' },
      { id: 'ward-a1', parent_id: 'dist-a' },
      { id: 'dist-b', parent_id: 'prov' },
    ];
    for (const area of areas) {
      await database.db
        .insertInto('areas')
        .values({
          ...area,
          name: area.id,
          level: 'x',
          lat: null,
          lon: null,
          note: null,
          created_at: now,
          updated_at: now,
        })
        .execute();
    }
    return database;
  }

  describe('accounts', () => {
    let database: IocDatabase;
    let accounts: AccountRepository;
    let agencies: AgencyRepository;
    beforeAll(async () => {
      database = await fresh();
      accounts = new AccountRepository(database.db, { now: clock });
      agencies = new AgencyRepository(database.db, { now: clock });
      await agencies.create({ id: 'so-nnmt', name: 'Sở NN&MT', scope: { domains: ['env'] } });
      await agencies.create({ id: 'closed', name: 'Closed agency', scope: { areas: ['dist-b'] } });
      await agencies.disable('closed');
    });

    it('creates an account and finds it by username ignoring case, without its hash', async () => {
      const created = await accounts.create({
        username: 'Lan.Tran',
        displayName: 'Trần Thị Lan',
        role: 'operator',
        agencyId: 'so-nnmt',
        scope: { areas: ['dist-a', 'dist-a'] },
      });
      // Stored lower-cased: the documented pattern is lower-case, logins ignore case.
      expect(created).toMatchObject({
        username: 'lan.tran',
        displayName: 'Trần Thị Lan',
        role: 'operator',
        source: 'local',
        hasPassword: false,
        agencyId: 'so-nnmt',
        scope: { areas: ['dist-a'] },
        state: 'active',
        failedLogins: 0,
      });
      expect(created.id).toMatch(/^acc_[A-Za-z0-9_-]{16}$/);
      expect(await accounts.findByUsername('lan.tran')).toEqual(created);
      expect(await accounts.findActive(created.id)).toMatchObject({
        account: created,
        agency: { id: 'so-nnmt' },
      });
      await agencies.disable('so-nnmt');
      expect(await accounts.findActive(created.id)).toBeUndefined();
      await agencies.enable('so-nnmt');
      expect(await accounts.findActive('acc_unknown')).toBeUndefined();
      expect(await accounts.get(created.id)).toEqual(created);
      expect(JSON.stringify(await accounts.list())).not.toMatch(/password_hash|scrypt/);
    });

    it('refuses a taken username (ignoring case), a bad username, role, password, agency or scope', async () => {
      const base = { displayName: 'X', role: 'viewer' as const };
      expect(await refusal(accounts.create({ ...base, username: 'LAN.TRAN' }))).toMatchObject({
        code: 'conflict',
        field: 'username',
      });
      expect(await refusal(accounts.create({ ...base, username: '-dash' }))).toMatchObject({
        code: 'invalid',
        field: 'username',
      });
      expect(await refusal(accounts.create({ ...base, username: 'x' }))).toMatchObject({ field: 'username' });
      expect(
        await refusal(accounts.create({ ...base, username: 'ok.user', role: 'root' as unknown as 'admin' })),
      ).toMatchObject({ code: 'invalid', field: 'role' });
      expect(
        await refusal(accounts.create({ ...base, username: 'ok.user', password: 'short' })),
      ).toMatchObject({
        code: 'invalid',
        field: 'password',
      });
      expect(
        await refusal(accounts.create({ ...base, username: 'ok.user', password: 'ok.user' })),
      ).toMatchObject({
        code: 'invalid',
        field: 'password',
      });
      expect(
        await refusal(accounts.create({ ...base, username: 'ok.user', agencyId: 'nope' })),
      ).toMatchObject({
        code: 'not-found',
        field: 'agencyId',
      });
      expect(
        await refusal(accounts.create({ ...base, username: 'ok.user', agencyId: 'closed' })),
      ).toMatchObject({
        code: 'conflict',
        field: 'agencyId',
      });
      expect(
        await refusal(accounts.create({ ...base, username: 'ok.user', scope: { areas: ['nowhere'] } })),
      ).toMatchObject({ code: 'not-found', field: 'scope' });
      expect(
        await refusal(accounts.create({ ...base, username: 'ok.user', scope: { domains: [] } as never })),
      ).toMatchObject({ code: 'invalid', field: 'scope' });
      expect(await accounts.findByUsername('ok.user')).toBeUndefined();
    });

    it('updates display name, role, agency and scope; null clears', async () => {
      const account = await accounts.create({ username: 'minh', displayName: 'Minh', role: 'viewer' });
      now += 1000;
      const updated = await accounts.update(account.id, {
        displayName: 'Lê Minh',
        role: 'admin',
        agencyId: 'so-nnmt',
        scope: { domains: ['env'] },
      });
      expect(updated).toMatchObject({
        displayName: 'Lê Minh',
        role: 'admin',
        agencyId: 'so-nnmt',
        scope: { domains: ['env'] },
      });
      expect(updated.updatedAt).not.toBe(account.updatedAt);
      const cleared = await accounts.update(account.id, { agencyId: null, scope: null });
      expect(cleared.agencyId).toBeUndefined();
      expect(cleared.scope).toBeUndefined();
      expect(await refusal(accounts.update('acc_none', { role: 'viewer' }))).toMatchObject({
        code: 'not-found',
      });
    });

    it('never demotes or disables the last active admin', async () => {
      const db = (await fresh()).db;
      const repo = new AccountRepository(db, { now: clock });
      const only = await repo.create({ username: 'root', displayName: 'Root', role: 'admin' });
      expect(await refusal(repo.update(only.id, { role: 'operator' }))).toMatchObject({ code: 'conflict' });
      expect(await refusal(repo.disable(only.id))).toMatchObject({ code: 'conflict' });
      const second = await repo.create({ username: 'root2', displayName: 'Root 2', role: 'admin' });
      expect((await repo.update(only.id, { role: 'operator' })).role).toBe('operator');
      expect(await refusal(repo.disable(second.id))).toMatchObject({ code: 'conflict' });
    });

    it('disabling an account revokes its live sessions at once', async () => {
      const sessions = new SessionRepository(database.db, {
        idleMs: 30 * MINUTE,
        maxMs: 720 * MINUTE,
        now: clock,
      });
      const account = await accounts.create({ username: 'leaving', displayName: 'Leaving', role: 'viewer' });
      const { session } = await sessions.create({ accountId: account.id, kind: 'cookie', via: 'password' });
      expect(await sessions.check(session.id)).toBeDefined();
      expect((await accounts.findActive(account.id))?.account.id).toBe(account.id);
      expect((await accounts.disable(account.id)).state).toBe('disabled');
      expect(await accounts.findActive(account.id)).toBeUndefined();
      expect(await sessions.check(session.id)).toBeUndefined();
      expect((await sessions.get(session.id))?.revokedReason).toBe('account-disabled');
      expect((await accounts.enable(account.id)).state).toBe('active');
      expect(await sessions.check(session.id)).toBeUndefined();
    });

    it('a new password replaces the old one, clears the lockout and ends the other sessions', async () => {
      const sessions = new SessionRepository(database.db, {
        idleMs: 30 * MINUTE,
        maxMs: 720 * MINUTE,
        now: clock,
      });
      const account = await accounts.create({
        username: 'chi',
        displayName: 'Chi',
        role: 'viewer',
        password: PASSWORD,
      });
      const mine = await sessions.create({ accountId: account.id, kind: 'cookie', via: 'password' });
      const other = await sessions.create({ accountId: account.id, kind: 'bearer', via: 'password' });
      await database.db
        .updateTable('accounts')
        .set({ failed_logins: 2, locked_until: now + MINUTE })
        .execute();
      expect(await refusal(accounts.setPassword(account.id, 'chi'))).toMatchObject({ field: 'password' });
      expect(await refusal(accounts.setPassword(account.id, PASSWORD))).toEqual({
        code: 'invalid',
        field: 'password',
        message: 'the new password is the current one: choose another',
      });
      await accounts.setPassword(account.id, 'một mật khẩu mới hơn', { keepSessionId: mine.session.id });
      const row = await database.db
        .selectFrom('accounts')
        .select(['password_hash', 'failed_logins', 'locked_until'])
        .where('id', '=', account.id)
        .executeTakeFirstOrThrow();
      expect(row).toMatchObject({ failed_logins: 0, locked_until: null });
      await expect(verifyPassword('một mật khẩu mới hơn', row.password_hash)).resolves.toBe(true);
      expect(await sessions.check(mine.session.id)).toBeDefined();
      expect((await sessions.get(other.session.id))?.revokedReason).toBe('password-changed');
    }, 30_000);

    it('refuses control and bidirectional characters in display names, agency names and notes, and key names, naming the field', async () => {
      const keys = new ApiKeyRepository(database.db, { now: clock });
      const base = { username: 'tricky', role: 'viewer' as const };
      for (const displayName of ['A\u0000B', 'bell\u0007', 'two\r\nlines', '\u202Eevil']) {
        expect(await refusal(accounts.create({ ...base, displayName }))).toMatchObject({
          code: 'invalid',
          field: 'displayName',
        });
      }
      const ok = await accounts.create({ ...base, displayName: 'Tricky' });
      expect(await refusal(accounts.update(ok.id, { displayName: 'x\u2066y' }))).toMatchObject({
        code: 'invalid',
        field: 'displayName',
        message: expect.stringContaining('U+2066'),
      });
      expect(await refusal(agencies.create({ id: 'bidi', name: 'Sở\u202E', scope: {} }))).toMatchObject({
        code: 'invalid',
        field: 'name',
      });
      expect(
        await refusal(agencies.create({ id: 'bidi', name: 'ok', scope: {}, note: 'a\u0000' })),
      ).toMatchObject({ code: 'invalid', field: 'note' });
      expect(await refusal(agencies.update('so-nnmt', { name: 'x\u009b' }))).toMatchObject({ field: 'name' });
      expect(await refusal(agencies.update('so-nnmt', { note: 'l1\nl2' }))).toMatchObject({ field: 'note' });
      expect(await refusal(keys.issue({ agencyId: 'so-nnmt', name: 'key\u200F' }))).toMatchObject({
        code: 'invalid',
        field: 'name',
      });
      expect(await agencies.get('bidi')).toBeUndefined();
      expect(await keys.list('so-nnmt')).toEqual([]);
    });

    it("refuses an account scope that holds nothing within its agency's scope", async () => {
      await agencies.create({ id: 'ward-team', name: 'Ward team', scope: { areas: ['ward-a1'] } });
      const base = { displayName: 'Scoped', role: 'viewer' as const };
      const disjointDomain = await refusal(
        accounts.create({
          ...base,
          username: 'scoped',
          agencyId: 'so-nnmt',
          scope: { domains: ['lighting'] },
        }),
      );
      expect(disjointDomain).toMatchObject({ code: 'invalid', field: 'scope' });
      expect(disjointDomain.message).toMatch(/does not overlap agency "so-nnmt".*no domains in common/);
      expect(
        await refusal(
          accounts.create({
            ...base,
            username: 'scoped',
            agencyId: 'ward-team',
            scope: { areas: ['dist-b'] },
          }),
        ),
      ).toMatchObject({
        code: 'invalid',
        field: 'scope',
        message: expect.stringMatching(/no areas in common/),
      });
      // A wider area holding the agency's ward overlaps it (the ward is what the account reads).
      const scoped = await accounts.create({
        ...base,
        username: 'scoped',
        agencyId: 'ward-team',
        scope: { areas: ['dist-a'] },
      });
      expect(await refusal(accounts.update(scoped.id, { scope: { areas: ['dist-b'] } }))).toMatchObject({
        field: 'scope',
      });
      // Moving it to an agency whose scope misses its own is refused as well; clearing both is not.
      expect(
        await refusal(accounts.update(scoped.id, { agencyId: 'so-nnmt', scope: { domains: ['traffic'] } })),
      ).toMatchObject({ field: 'scope' });
      expect(
        (await accounts.update(scoped.id, { agencyId: null, scope: { areas: ['dist-b'] } })).scope,
      ).toEqual({
        areas: ['dist-b'],
      });
      expect(await refusal(accounts.update(scoped.id, { agencyId: 'ward-team' }))).toMatchObject({
        field: 'scope',
      });
    });

    it('SSO: creates the account on first login, follows the role on later ones, never takes a local username', async () => {
      const identity = {
        issuer: 'https://sso.example.gov.vn',
        subject: 'sub-123',
        username: 'hoa.pham',
        displayName: 'Phạm Hoa',
        role: 'viewer' as const,
      };
      const first = await accounts.upsertOidc({ ...identity, username: 'Hoa.Pham' });
      expect(first).toMatchObject({
        username: 'hoa.pham',
        source: 'oidc',
        hasPassword: false,
        oidcIssuer: identity.issuer,
        oidcSubject: 'sub-123',
        role: 'viewer',
      });
      const again = await accounts.upsertOidc({
        ...identity,
        username: 'renamed',
        role: 'operator',
        displayName: 'Hoa P.',
      });
      expect(again).toMatchObject({
        id: first.id,
        username: 'hoa.pham',
        role: 'operator',
        displayName: 'Hoa P.',
      });
      expect(
        await refusal(accounts.upsertOidc({ ...identity, subject: 'sub-456', username: 'lan.tran' })),
      ).toMatchObject({ code: 'conflict', field: 'username' });
      expect(await refusal(accounts.setPassword(first.id, PASSWORD))).toMatchObject({ code: 'invalid' });
    });
  });

  describe('logins and lockout', () => {
    let database: IocDatabase;
    let accounts: AccountRepository;
    let userId: string;
    const ATTEMPTS = 3;
    const LOCK_MS = 15 * MINUTE;
    beforeAll(async () => {
      database = await fresh();
      accounts = new AccountRepository(database.db, { now: clock });
      userId = (
        await accounts.create({ username: 'an', displayName: 'An', role: 'viewer', password: PASSWORD })
      ).id;
    }, 30_000);
    const service = (limiter = new MemoryLoginAddressLimiter(100)) =>
      new LoginService(database.db, {
        lockoutAttempts: ATTEMPTS,
        lockoutMs: LOCK_MS,
        addressLimiter: limiter,
        now: clock,
      });

    it('logs in with the right password (username in any case) and records the login', async () => {
      const result = await service().login({ username: 'AN', password: PASSWORD, address: '10.0.0.1' });
      expect(result).toMatchObject({ ok: true, account: { id: userId, failedLogins: 0 } });
      expect((await accounts.get(userId))?.lastLoginAt).toBe(new Date(now).toISOString());
    }, 30_000);

    it('answers an unknown user exactly as a wrong password', async () => {
      const login = service();
      const wrong = await login.login({ username: 'an', password: 'not the password', address: '10.0.0.2' });
      const unknown = await login.login({
        username: 'nobody',
        password: 'not the password',
        address: '10.0.0.2',
      });
      // A malformed name (a NUL, which PostgreSQL refuses in text) is unknown too, not an error.
      const malformed = await login.login({ username: 'an\u0000', password: 'x', address: '10.0.0.2' });
      expect(wrong).toMatchObject({ ok: false, reason: 'invalid-credentials' });
      expect(unknown).toEqual({ ok: false, reason: 'invalid-credentials' });
      expect(malformed).toEqual(unknown);
      const { accountId: _id, ...wrongAnswer } = wrong as { accountId?: string };
      expect(wrongAnswer).toEqual(unknown);
      // A success clears the count.
      expect((await login.login({ username: 'an', password: PASSWORD })).ok).toBe(true);
      expect((await accounts.get(userId))?.failedLogins).toBe(0);
    }, 30_000);

    it(`locks the account after ${ATTEMPTS} consecutive failures, refuses even the right password, and unlocks after the lock time`, async () => {
      const login = service();
      for (let i = 1; i < ATTEMPTS; i++) {
        expect(await login.login({ username: 'an', password: `wrong ${i}` })).toMatchObject({
          reason: 'invalid-credentials',
        });
        expect((await accounts.get(userId))?.failedLogins).toBe(i);
      }
      expect(await login.login({ username: 'an', password: 'wrong again' })).toMatchObject({
        ok: false,
        reason: 'account-locked',
        retryAfterMs: LOCK_MS,
      });
      now += LOCK_MS - 1000;
      expect(await login.login({ username: 'an', password: PASSWORD })).toEqual({
        ok: false,
        reason: 'account-locked',
        retryAfterMs: 1000,
        accountId: userId,
      });
      now += 1000;
      expect(await login.login({ username: 'an', password: PASSWORD })).toMatchObject({ ok: true });
      expect(await accounts.get(userId)).toMatchObject({ failedLogins: 0 });
    }, 60_000);

    it(`locks an unknown username after ${ATTEMPTS} failures exactly as an account, and a locked attempt costs a scrypt as any other`, async () => {
      const login = service();
      const timed = async (username: string, password: string) => {
        const started = performance.now();
        const result = await login.login({ username, password });
        const { accountId: _id, ...answer } = result as { accountId?: string };
        return { answer, ms: performance.now() - started };
      };
      const wrongMs: number[] = [];
      for (let i = 1; i < ATTEMPTS; i++) {
        for (const username of ['an', 'ghost']) {
          const { answer, ms } = await timed(username, `wrong ${i}`);
          expect(answer).toEqual({ ok: false, reason: 'invalid-credentials' });
          wrongMs.push(ms);
        }
      }
      const lockedAccount = await timed('an', 'wrong again');
      const lockedUnknown = await timed('ghost', 'wrong again');
      expect(lockedAccount.answer).toEqual({ ok: false, reason: 'account-locked', retryAfterMs: LOCK_MS });
      expect(lockedUnknown.answer).toEqual(lockedAccount.answer);
      // While locked, both refuse even the right password, in any case, and tell the same wait.
      now += 60_000;
      const again = [await timed('AN', PASSWORD), await timed('Ghost', PASSWORD)];
      for (const { answer } of again) {
        expect(answer).toEqual({ ok: false, reason: 'account-locked', retryAfterMs: LOCK_MS - 60_000 });
      }
      // Without the dummy scrypt a locked attempt answered in ~3 ms against ~300 ms: it must cost
      // about as much as a wrong password (a lower bound only, robust to a loaded machine).
      const fastestWrong = Math.min(...wrongMs);
      for (const { ms } of [...again, lockedAccount, lockedUnknown]) {
        expect(ms).toBeGreaterThan(fastestWrong * 0.3);
      }
      now += LOCK_MS;
      expect(await timed('ghost', 'wrong once more')).toMatchObject({
        answer: { ok: false, reason: 'invalid-credentials' },
      });
      expect((await login.login({ username: 'an', password: PASSWORD })).ok).toBe(true);
    }, 90_000);

    it('throttles an address after its failures, without checking the password, other addresses unaffected', async () => {
      const login = service(new MemoryLoginAddressLimiter(2));
      await login.login({ username: 'ghost-1', password: 'x', address: '203.0.113.9' });
      await login.login({ username: 'ghost-2', password: 'x', address: '203.0.113.9' });
      const throttled = await login.login({ username: 'an', password: PASSWORD, address: '203.0.113.9' });
      expect(throttled).toMatchObject({ ok: false, reason: 'address-throttled' });
      expect((throttled as { retryAfterMs: number }).retryAfterMs).toBeGreaterThan(14 * MINUTE);
      expect(
        await login.login({ username: 'an', password: PASSWORD, address: '203.0.113.10' }),
      ).toMatchObject({
        ok: true,
      });
    }, 30_000);

    it('a disabled account (or one of a disabled agency) is refused only once the password is right', async () => {
      const agencies = new AgencyRepository(database.db, { now: clock });
      await agencies.create({ id: 'police', name: 'Police', scope: {} });
      await accounts.create({ username: 'admin', displayName: 'Admin', role: 'admin' });
      await accounts.update(userId, { agencyId: 'police' });
      await agencies.disable('police');
      const login = service();
      expect(await login.login({ username: 'an', password: 'wrong one' })).toMatchObject({
        reason: 'invalid-credentials',
      });
      expect(await login.login({ username: 'an', password: PASSWORD })).toMatchObject({
        reason: 'account-disabled',
      });
      await agencies.enable('police');
      await accounts.disable(userId);
      expect(await login.login({ username: 'an', password: PASSWORD })).toMatchObject({
        reason: 'account-disabled',
      });
    }, 30_000);
  });

  describe('sessions', () => {
    let sessions: SessionRepository;
    let accountId: string;
    const IDLE = 30 * MINUTE;
    const MAX = 12 * 60 * MINUTE;
    beforeAll(async () => {
      const database = await fresh();
      sessions = new SessionRepository(database.db, { idleMs: IDLE, maxMs: MAX, now: clock });
      accountId = (
        await new AccountRepository(database.db, { now: clock }).create({
          username: 'binh',
          displayName: 'Bình',
          role: 'viewer',
        })
      ).id;
    });

    it('opens a session whose token finds it; the idle timeout moves on use, at most once a minute', async () => {
      const start = now;
      const { session, token } = await sessions.create({
        accountId,
        kind: 'cookie',
        via: 'password',
        address: '10.1.1.1',
        userAgent: 'jest',
      });
      expect(token).toMatch(/^iocst_[A-Za-z0-9_-]{43}$/);
      expect(session).toMatchObject({
        accountId,
        kind: 'cookie',
        via: 'password',
        address: '10.1.1.1',
        hasOidcIdToken: false,
      });
      expect(session.idleExpiresAt).toBe(new Date(start + IDLE).toISOString());
      expect(session.expiresAt).toBe(new Date(start + MAX).toISOString());
      now += SESSION_TOUCH_INTERVAL_MS - 1;
      expect((await sessions.findByToken(token))?.lastUsedAt).toBe(new Date(start).toISOString());
      now = start + 20 * MINUTE;
      expect((await sessions.findByToken(token))?.idleExpiresAt).toBe(new Date(now + IDLE).toISOString());
      now = start + 45 * MINUTE; // past the first idle expiry, within the moved one
      expect(await sessions.check(session.id)).toBeDefined();
      now += IDLE; // idle for the whole timeout
      expect(await sessions.check(session.id)).toBeUndefined();
      expect(await sessions.findByToken(token)).toBeUndefined();
      expect(await sessions.findByToken('iocst_unknown')).toBeUndefined();
      expect(await sessions.refresh(token)).toMatchObject({ refused: 'expired' });
    });

    it('ends at the absolute lifetime however it is used', async () => {
      const start = now;
      const { session } = await sessions.create({ accountId, kind: 'bearer', via: 'password' });
      let last = session;
      // Used every 20 minutes for its whole life: the idle expiry moves on, never past the end.
      for (now = start; now < start + MAX; now += 20 * MINUTE) {
        const checked = await sessions.check(session.id);
        expect(checked).toBeDefined();
        if (checked) last = checked;
      }
      expect(last.idleExpiresAt).toBe(new Date(start + MAX).toISOString());
      now = start + MAX - 1;
      expect(await sessions.check(session.id)).toBeDefined();
      now = start + MAX;
      expect(await sessions.check(session.id)).toBeUndefined();
    });

    it('refresh rotates the token; presenting the replaced one revokes the session (refresh-reuse)', async () => {
      const { session, token: first } = await sessions.create({ accountId, kind: 'bearer', via: 'password' });
      now += 5 * MINUTE;
      const rotated = await sessions.refresh(first);
      if (!('token' in rotated)) throw new Error(`refresh refused: ${rotated.refused}`);
      expect(rotated.token).not.toBe(first);
      expect(rotated.session.id).toBe(session.id);
      expect(rotated.session.idleExpiresAt).toBe(new Date(now + IDLE).toISOString());
      const again = await sessions.refresh(rotated.token);
      if (!('token' in again)) throw new Error(`refresh refused: ${again.refused}`);
      // The token replaced at the last refresh comes back: a thief or a replay.
      expect(await sessions.refresh(rotated.token)).toMatchObject({
        refused: 'reused',
        session: { id: session.id, revokedReason: 'refresh-reuse' },
      });
      expect(await sessions.refresh(again.token)).toMatchObject({ refused: 'revoked' });
      expect(await sessions.check(session.id)).toBeUndefined();
      expect(await sessions.refresh('iocst_never-issued')).toEqual({ refused: 'unknown' });
    });

    it('two refreshes racing with the same token: one rotates, the other counts as reuse and ends the session', async () => {
      const { session, token } = await sessions.create({ accountId, kind: 'bearer', via: 'password' });
      const results = await Promise.all([sessions.refresh(token), sessions.refresh(token)]);
      expect(results.filter((r) => 'token' in r)).toHaveLength(1);
      expect(results.filter((r) => 'refused' in r && r.refused === 'reused')).toHaveLength(1);
      expect((await sessions.get(session.id))?.revokedReason).toBe('refresh-reuse');
    });

    it('purges sessions that ended before a time, and keeps live ones', async () => {
      const ended = await sessions.create({ accountId, kind: 'bearer', via: 'password' });
      await sessions.revoke(ended.session.id, 'logout');
      now += MINUTE;
      const live = await sessions.create({ accountId, kind: 'bearer', via: 'password' });
      expect(await sessions.purgeEnded(now)).toBeGreaterThanOrEqual(1);
      expect(await sessions.get(ended.session.id)).toBeUndefined();
      expect(await sessions.check(live.session.id)).toBeDefined();
    });

    it('revokes one session or all of an account, and lists them', async () => {
      const a = await sessions.create({
        accountId,
        kind: 'cookie',
        via: 'oidc',
        oidcIdToken: 'id.token.jwt',
      });
      const b = await sessions.create({ accountId, kind: 'bearer', via: 'password' });
      expect(a.session.hasOidcIdToken).toBe(true);
      expect(await sessions.oidcIdTokenOf(a.session.id)).toBe('id.token.jwt');
      expect(await sessions.revoke(a.session.id, 'logout')).toBe(true);
      expect(await sessions.revoke(a.session.id, 'admin')).toBe(false);
      expect((await sessions.get(a.session.id))?.revokedReason).toBe('logout');
      expect(await sessions.findByToken(a.token)).toBeUndefined();
      expect(await sessions.check(b.session.id)).toBeDefined();
      expect(await sessions.revokeAllOf(accountId, 'admin')).toBeGreaterThanOrEqual(1);
      expect(await sessions.check(b.session.id)).toBeUndefined();
      const listed = await sessions.listOf(accountId);
      expect(listed.map((s) => s.id)).toEqual(expect.arrayContaining([a.session.id, b.session.id]));
      expect(JSON.stringify(listed)).not.toMatch(/id\.token\.jwt|token_hash/);
    });
  });

  describe('agencies and API keys', () => {
    let agencies: AgencyRepository;
    let keys: ApiKeyRepository;
    beforeAll(async () => {
      const database = await fresh();
      agencies = new AgencyRepository(database.db, { now: clock });
      keys = new ApiKeyRepository(database.db, { now: clock });
      await agencies.create({
        id: 'so-nnmt',
        name: 'Sở NN&MT',
        scope: { domains: ['env'], areas: ['dist-a'] },
      });
    });

    it('creates, updates and refuses agencies', async () => {
      expect(await agencies.get('so-nnmt')).toMatchObject({
        state: 'active',
        scope: { domains: ['env'], areas: ['dist-a'] },
      });
      expect(await refusal(agencies.create({ id: 'so-nnmt', name: 'again', scope: {} }))).toMatchObject({
        code: 'conflict',
      });
      expect(await refusal(agencies.create({ id: 'Upper Case', name: 'x', scope: {} }))).toMatchObject({
        code: 'invalid',
        field: 'id',
      });
      expect(
        await refusal(agencies.create({ id: 'lost', name: 'x', scope: { areas: ['atlantis'] } })),
      ).toMatchObject({
        code: 'not-found',
        field: 'scope',
      });
      const updated = await agencies.update('so-nnmt', { note: 'Đầu mối: phòng quan trắc' });
      expect(updated.note).toBe('Đầu mối: phòng quan trắc');
      expect((await agencies.update('so-nnmt', { note: null })).note).toBeUndefined();
      expect((await agencies.list()).map((a) => a.id)).toEqual(['so-nnmt']);
    });

    it('issues a key shown once, which authenticates; a wrong or malformed key does not', async () => {
      const { record, key } = await keys.issue({
        agencyId: 'so-nnmt',
        name: 'data portal',
        createdBy: 'acc_x',
      });
      expect(key).toMatch(API_KEY_PATTERN);
      expect(key.startsWith(`${record.prefix}_`)).toBe(true);
      expect(record).toMatchObject({
        agencyId: 'so-nnmt',
        name: 'data portal',
        status: 'active',
        createdBy: 'acc_x',
      });
      const ok = await keys.authenticate(key);
      expect(ok).toMatchObject({ ok: true, record: { id: record.id }, agency: { id: 'so-nnmt' } });
      expect((await keys.get(record.id))?.lastUsedAt).toBe(new Date(now).toISOString());
      const tampered = key.slice(0, -1) + (key.endsWith('A') ? 'B' : 'A');
      expect(await keys.authenticate(tampered)).toEqual({ ok: false, reason: 'invalid-api-key' });
      expect(await keys.authenticate('iocak_00000000_' + 'A'.repeat(43))).toEqual({
        ok: false,
        reason: 'invalid-api-key',
      });
      expect(await keys.authenticate('not-a-key')).toEqual({ ok: false, reason: 'invalid-api-key' });
      expect(JSON.stringify(await keys.list('so-nnmt'))).not.toContain(key.slice(15));
    });

    it('refuses a revoked key at once, an expired key from its expiry, and keys of a disabled agency until it is enabled', async () => {
      const revoked = await keys.issue({ agencyId: 'so-nnmt', name: 'revoked' });
      expect((await keys.revoke(revoked.record.id)).status).toBe('revoked');
      expect(await keys.authenticate(revoked.key)).toEqual({ ok: false, reason: 'api-key-revoked' });

      const expiring = await keys.issue({
        agencyId: 'so-nnmt',
        name: 'expiring',
        expiresAt: now + 10 * MINUTE,
      });
      expect((await keys.authenticate(expiring.key, now + 10 * MINUTE - 1)).ok).toBe(true);
      expect(await keys.authenticate(expiring.key, now + 10 * MINUTE)).toEqual({
        ok: false,
        reason: 'api-key-expired',
      });
      expect(
        await refusal(keys.issue({ agencyId: 'so-nnmt', name: 'past', expiresAt: now - 1 })),
      ).toMatchObject({
        field: 'expiresAt',
      });
      expect(await refusal(keys.issue({ agencyId: 'nope', name: 'x' }))).toMatchObject({ code: 'not-found' });

      const live = await keys.issue({ agencyId: 'so-nnmt', name: 'live' });
      await agencies.disable('so-nnmt');
      expect(await keys.authenticate(live.key)).toEqual({ ok: false, reason: 'agency-disabled' });
      expect(await refusal(keys.issue({ agencyId: 'so-nnmt', name: 'while disabled' }))).toMatchObject({
        code: 'conflict',
        field: 'agencyId',
      });
      await agencies.enable('so-nnmt');
      expect((await keys.authenticate(live.key)).ok).toBe(true);
    });

    it('issues an MQTT secret checked in constant time; a new one replaces it; refused while disabled', async () => {
      const first = await agencies.issueMqttSecret('so-nnmt', KEY);
      expect(first.secret).toMatch(/^iocms_[A-Za-z0-9_-]{43}$/);
      expect((await agencies.get('so-nnmt'))?.mqttSecretHint).toBe(first.hint);
      expect(await agencies.verifyMqttSecret('so-nnmt', first.secret, KEY)).toBe(true);
      expect(await agencies.verifyMqttSecret('so-nnmt', first.secret, Buffer.alloc(32, 8))).toBe(false);
      expect(await agencies.verifyMqttSecret('other', first.secret, KEY)).toBe(false);
      expect(await agencies.mqttAccounts()).toHaveLength(1);
      const second = await agencies.issueMqttSecret('so-nnmt', KEY);
      expect(await agencies.verifyMqttSecret('so-nnmt', first.secret, KEY)).toBe(false);
      await agencies.disable('so-nnmt');
      expect(await agencies.verifyMqttSecret('so-nnmt', second.secret, KEY)).toBe(false);
      expect(await agencies.mqttAccounts()).toEqual([]);
      await agencies.enable('so-nnmt');
      expect(await agencies.verifyMqttSecret('so-nnmt', second.secret, KEY)).toBe(true);
      await agencies.removeMqttSecret('so-nnmt');
      expect(await agencies.verifyMqttSecret('so-nnmt', second.secret, KEY)).toBe(false);
    });
  });

  describe('first admin', () => {
    it('creates the admin once with a generated password, then does nothing', async () => {
      const { db } = await fresh();
      const first = await ensureFirstAdmin(db, { username: 'admin' });
      if (!first.created) throw new Error('expected the admin to be created');
      expect(first.username).toBe('admin');
      expect(first.generatedPassword).toHaveLength(20);
      expect(passwordPolicyProblem(first.generatedPassword ?? '', { username: 'admin' })).toBeNull();
      const stored = await db.selectFrom('accounts').select(['role', 'state', 'password_hash']).execute();
      expect(stored).toHaveLength(1);
      expect(stored[0]).toMatchObject({ role: 'admin', state: 'active' });
      await expect(verifyPassword(first.generatedPassword ?? '', stored[0]?.password_hash)).resolves.toBe(
        true,
      );
      expect(await ensureFirstAdmin(db, { username: 'admin' })).toEqual({ created: false });
      expect(await db.selectFrom('accounts').select('id').execute()).toHaveLength(1);
    }, 30_000);

    it('refuses a configured password that fails the policy', async () => {
      const { db } = await fresh();
      expect(await refusal(ensureFirstAdmin(db, { username: 'admin', password: 'admin' }))).toMatchObject({
        code: 'invalid',
        field: 'password',
      });
      expect(await db.selectFrom('accounts').select('id').execute()).toEqual([]);
    });

    it('two processes starting at once create exactly one admin', async () => {
      const config = await context.freshConfig();
      const one = openDatabase(config);
      const two = openDatabase(config);
      opened.push(one, two);
      await prepareDatabase(one);
      const results = await Promise.all([
        ensureFirstAdmin(one.db, { username: 'admin', password: PASSWORD }),
        ensureFirstAdmin(two.db, { username: 'admin', password: PASSWORD }),
      ]);
      expect(results.filter((r) => r.created)).toHaveLength(1);
      expect(results.filter((r) => !r.created)).toHaveLength(1);
      expect(await one.db.selectFrom('accounts').select('username').execute()).toEqual([
        { username: 'admin' },
      ]);
    }, 30_000);

    it('when every admin is disabled, makes the configured account an active admin again', async () => {
      const { db } = await fresh();
      await ensureFirstAdmin(db, { username: 'admin', password: PASSWORD });
      await db.updateTable('accounts').set({ state: 'disabled' }).execute();
      const result = await ensureFirstAdmin(db, { username: 'ADMIN' });
      expect(result).toMatchObject({ created: true, username: 'admin', restored: true });
      expect(await db.selectFrom('accounts').select(['role', 'state']).execute()).toEqual([
        { role: 'admin', state: 'active' },
      ]);
    }, 30_000);
  });
});

describe('MemoryUnknownUsernameLockout', () => {
  it('keeps at most its capacity of names, forgetting the least recently failed one', async () => {
    const lockout = new MemoryUnknownUsernameLockout(2, 60_000, 3);
    const at = 1_000;
    await lockout.recordFailure('first', at);
    for (const name of ['b', 'c', 'd']) await lockout.recordFailure(name, at);
    expect(lockout.size).toBe(3);
    // 'first' was forgotten: its next failure is its first again; 'D' (any case) reaches 2 and locks.
    expect(await lockout.recordFailure('first', at)).toBe(0);
    expect(await lockout.recordFailure('D', at)).toBe(60_000);
    expect(await lockout.lockedForMs('d', at + 59_000)).toBe(1_000);
    expect(await lockout.lockedForMs('d', at + 60_000)).toBe(0);
    expect(lockout.size).toBe(3);
  });
});
