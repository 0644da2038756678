import { type Kysely, sql } from 'kysely';
import { RateLimiterMemory } from 'rate-limiter-flexible';
import type { DatabaseSchema } from '@ioc/database';
import { type Clock } from './access-common';
import { type AccountRecord, toAccountRecord } from './accounts';
import { ADDRESS_FAILURE_WINDOW_MS, USERNAME_PATTERN } from './access-env';
import { generatePassword, hashPassword, verifyPassword } from './passwords';

/**
 * The seam between LoginService and wherever failed logins per client address are counted: in
 * this process's memory (MemoryLoginAddressLimiter) for one API node; several API nodes will
 * share a Redis-backed one (rate-limiter-flexible's RateLimiterRedis behind this interface), as
 * the broker's FailedLoginLimiter does for devices.
 */
export interface LoginAddressLimiter {
  /** Milliseconds until `address` may try again, or 0 when it is not blocked. */
  blockedForMs(address: string): Promise<number>;
  /** Counts one failed login from `address`. */
  recordFailure(address: string): Promise<void>;
}

/**
 * LoginAddressLimiter in memory: after `maxFailures` failures from one address within
 * `windowMs` (default 15 min, ADDRESS_FAILURE_WINDOW_MS), logins from it are refused until the
 * window that counted them ends.
 */
export class MemoryLoginAddressLimiter implements LoginAddressLimiter {
  private readonly limiter: RateLimiterMemory;

  constructor(
    private readonly maxFailures: number,
    windowMs: number = ADDRESS_FAILURE_WINDOW_MS,
  ) {
    this.limiter = new RateLimiterMemory({
      keyPrefix: 'login-address',
      points: maxFailures,
      duration: Math.max(1, Math.ceil(windowMs / 1000)),
    });
  }

  async blockedForMs(address: string): Promise<number> {
    const state = await this.limiter.get(address);
    return state !== null && state.consumedPoints >= this.maxFailures ? Math.max(1, state.msBeforeNext) : 0;
  }

  async recordFailure(address: string): Promise<void> {
    await this.limiter.penalty(address, 1);
  }
}

/**
 * The seam between LoginService and wherever failed logins of usernames that have no account are
 * counted, so that an unknown username is locked exactly as an account is (after
 * `lockoutAttempts` consecutive failures, for `lockoutMs`) and the lockout tells nobody which
 * usernames exist. In this process's memory (MemoryUnknownUsernameLockout) for one API node;
 * several API nodes will share a Redis-backed one behind this interface, like
 * LoginAddressLimiter. Keys are lower-cased usernames (logins ignore case).
 */
export interface UnknownUsernameLockout {
  /** Milliseconds (from `now`, epoch ms) until `username` may try again, or 0 when it is not locked. */
  lockedForMs(username: string, now: number): Promise<number>;
  /**
   * Counts one more consecutive failure of `username` at `now`; the one that reaches the limit
   * locks it (and restarts the count, as accounts.failed_logins does).
   *
   * @returns the milliseconds it is now locked for, 0 when it is not
   */
  recordFailure(username: string, now: number): Promise<number>;
}

/** Most usernames MemoryUnknownUsernameLockout keeps (about 100 bytes each: ~1 MB at most). */
export const UNKNOWN_USERNAME_LOCKOUT_CAPACITY = 10_000;

/**
 * UnknownUsernameLockout in memory, bounded: at most `capacity` usernames are kept; beyond that
 * the least recently failed one is forgotten (a Map in insertion order, each failure moving its
 * name to the end). Counts do not expire with time, like an account's `failed_logins` (only a
 * lockout restarts them), so an unknown name behaves as an account does; an expired lock is
 * dropped when next looked at.
 */
export class MemoryUnknownUsernameLockout implements UnknownUsernameLockout {
  private readonly entries = new Map<string, { failures: number; lockedUntil: number }>();

  /**
   * @param lockoutAttempts consecutive failures that lock a name (IOC_AUTH_LOCKOUT_ATTEMPTS)
   * @param lockoutMs how long a lock lasts, ms (IOC_AUTH_LOCKOUT_MINUTES)
   * @param capacity most names kept (UNKNOWN_USERNAME_LOCKOUT_CAPACITY)
   */
  constructor(
    private readonly lockoutAttempts: number,
    private readonly lockoutMs: number,
    private readonly capacity: number = UNKNOWN_USERNAME_LOCKOUT_CAPACITY,
  ) {}

  /** How many names are kept now (never more than `capacity`). */
  get size(): number {
    return this.entries.size;
  }

  async lockedForMs(username: string, now: number): Promise<number> {
    const entry = this.entries.get(username.toLowerCase());
    return entry !== undefined && entry.lockedUntil > now ? entry.lockedUntil - now : 0;
  }

  async recordFailure(username: string, now: number): Promise<number> {
    const key = username.toLowerCase();
    const entry = this.entries.get(key) ?? { failures: 0, lockedUntil: 0 };
    this.entries.delete(key);
    entry.failures += 1;
    if (entry.failures >= this.lockoutAttempts) {
      entry.failures = 0;
      entry.lockedUntil = now + this.lockoutMs;
    }
    this.entries.set(key, entry);
    while (this.entries.size > this.capacity) {
      const oldest = this.entries.keys().next();
      if (oldest.done === true) break;
      this.entries.delete(oldest.value);
    }
    return entry.lockedUntil > now ? entry.lockedUntil - now : 0;
  }
}

export interface LoginOptions {
  /** Consecutive failures that lock an account (IOC_AUTH_LOCKOUT_ATTEMPTS, default 5). */
  lockoutAttempts: number;
  /** How long a lock lasts, ms (IOC_AUTH_LOCKOUT_MINUTES, default 15 min). */
  lockoutMs: number;
  /** Counts failures per address; default a MemoryLoginAddressLimiter of `addressMaxFailures`. */
  addressLimiter?: LoginAddressLimiter;
  /** IOC_AUTH_ADDRESS_MAX_FAILURES (default 20 per 15 minutes), when no addressLimiter is given. */
  addressMaxFailures?: number;
  /**
   * Counts failures of usernames without an account; default a MemoryUnknownUsernameLockout of
   * `lockoutAttempts` and `lockoutMs`.
   */
  unknownUsernames?: UnknownUsernameLockout;
  now?: Clock;
}

export interface LoginAttempt {
  username: string;
  password: string;
  /** The client's address as the API sees it (after trust proxy); absent: not throttled by address. */
  address?: string;
}

/** Why a login was refused (the 401 `reason`). */
export type LoginRefusal =
  'invalid-credentials' | 'account-locked' | 'account-disabled' | 'address-throttled';

export type LoginResult =
  | { ok: true; account: AccountRecord }
  | {
      ok: false;
      reason: LoginRefusal;
      /** account-locked, address-throttled: ms until a login may succeed (the `Retry-After`). */
      retryAfterMs?: number;
      /** The account the attempt named, when it exists (for the audit log; never shown to the client). */
      accountId?: string;
    };

/**
 * Password logins with the design page's lockout rules:
 *
 * 1. an address over its failure budget is refused (`address-throttled`), nothing checked;
 * 2. a locked account (`locked_until > now`), or a locked unknown username, is refused
 *    (`account-locked`) without checking the password — but after verifying it against the dummy
 *    hash, so a locked attempt takes as long as any other;
 * 3. the password is verified — against a dummy hash for an unknown user or an account without a
 *    password, so all take the same ~0.3 s; a wrong one is `invalid-credentials`, counts one
 *    failure for the address and one for the account (or for the unknown username, in
 *    UnknownUsernameLockout), and the failure that reaches `lockoutAttempts` locks the account or
 *    the name for `lockoutMs` (that attempt answers `account-locked`). An unknown username thus
 *    answers exactly as an existing one, lockout included, and never reveals that it is unknown;
 * 4. a right password on a disabled account, or on an account whose agency is disabled, is
 *    `account-disabled` (only after the password, so the answer tells nothing to a guesser);
 * 5. success clears the account's failure count and records `last_login_at`.
 *
 * The per-account counters live in the database (shared by API nodes); the per-address one
 * behind LoginAddressLimiter, the per-unknown-username one behind UnknownUsernameLockout.
 */
export class LoginService {
  private readonly now: Clock;
  private readonly addressLimiter: LoginAddressLimiter;
  private readonly unknownUsernames: UnknownUsernameLockout;

  constructor(
    private readonly db: Kysely<DatabaseSchema>,
    private readonly options: LoginOptions,
  ) {
    this.now = options.now ?? Date.now;
    this.addressLimiter =
      options.addressLimiter ?? new MemoryLoginAddressLimiter(options.addressMaxFailures ?? 20);
    this.unknownUsernames =
      options.unknownUsernames ??
      new MemoryUnknownUsernameLockout(options.lockoutAttempts, options.lockoutMs);
    // Started now, so the first unknown username does not cost two hashes (a timing tell).
    void dummyHash();
  }

  async login(attempt: LoginAttempt): Promise<LoginResult> {
    const { address } = attempt;
    if (address !== undefined) {
      const blockedMs = await this.addressLimiter.blockedForMs(address);
      if (blockedMs > 0) return { ok: false, reason: 'address-throttled', retryAfterMs: blockedMs };
    }
    const username = typeof attempt.username === 'string' ? attempt.username : '';
    const password = typeof attempt.password === 'string' ? attempt.password : '';
    // Every account's username matches USERNAME_PATTERN: a name that does not is unknown without
    // a query (PostgreSQL would refuse a NUL in it: a 500 instead of invalid-credentials).
    const row = !USERNAME_PATTERN.test(username)
      ? undefined
      : await this.db
          .selectFrom('accounts')
          .selectAll()
          .where(sql<string>`lower(username)`, '=', username.toLowerCase())
          .executeTakeFirst();
    const now = this.now();
    const lockedMs = row
      ? row.locked_until !== null && Number(row.locked_until) > now
        ? Number(row.locked_until) - now
        : 0
      : await this.unknownUsernames.lockedForMs(username, now);
    if (lockedMs > 0) {
      // The same scrypt as any other attempt, so a lock does not answer faster (a timing tell).
      await verifyPassword(password, await dummyHash());
      return {
        ok: false,
        reason: 'account-locked',
        retryAfterMs: lockedMs,
        ...(row ? { accountId: row.id } : {}),
      };
    }
    const stored = row?.password_hash ?? (await dummyHash());
    const matches = (await verifyPassword(password, stored)) && row?.password_hash != null;
    if (!row || !matches) {
      if (address !== undefined) await this.addressLimiter.recordFailure(address);
      if (!row) return this.recordUnknownFailure(username, now);
      return this.recordFailure(row.id, now);
    }
    const agencyDisabled =
      row.agency_id !== null &&
      (
        await this.db
          .selectFrom('agencies')
          .select('state')
          .where('id', '=', row.agency_id)
          .executeTakeFirst()
      )?.state !== 'active';
    if (row.state !== 'active' || agencyDisabled) {
      return { ok: false, reason: 'account-disabled', accountId: row.id };
    }
    await this.db
      .updateTable('accounts')
      .set({ failed_logins: 0, locked_until: null, last_login_at: now })
      .where('id', '=', row.id)
      .execute();
    return {
      ok: true,
      account: toAccountRecord({ ...row, failed_logins: 0, locked_until: null, last_login_at: now }),
    };
  }

  /** One more consecutive failure of a username without an account: answered as recordFailure does. */
  private async recordUnknownFailure(username: string, now: number): Promise<LoginResult> {
    const lockedMs = await this.unknownUsernames.recordFailure(username, now);
    return lockedMs > 0
      ? { ok: false, reason: 'account-locked', retryAfterMs: lockedMs }
      : { ok: false, reason: 'invalid-credentials' };
  }

  /** One more consecutive failure; the one that reaches lockoutAttempts locks the account. */
  private async recordFailure(accountId: string, now: number): Promise<LoginResult> {
    // One atomic increment, so failures counted by two API nodes at once both count.
    const counted = await this.db
      .updateTable('accounts')
      .set({ failed_logins: sql<number>`failed_logins + 1` })
      .where('id', '=', accountId)
      .returning('failed_logins')
      .executeTakeFirst();
    if (counted && Number(counted.failed_logins) >= this.options.lockoutAttempts) {
      const until = now + this.options.lockoutMs;
      await this.db
        .updateTable('accounts')
        .set({ failed_logins: 0, locked_until: until })
        .where('id', '=', accountId)
        .execute();
      return { ok: false, reason: 'account-locked', retryAfterMs: this.options.lockoutMs, accountId };
    }
    return { ok: false, reason: 'invalid-credentials', accountId };
  }
}

let dummy: Promise<string> | undefined;

/**
 * A hash of a random password at the production cost, made once per process (started by the
 * first LoginService): what an unknown username, or an account without a password, is verified
 * against, so every login attempt costs one scrypt.
 */
function dummyHash(): Promise<string> {
  dummy ??= hashPassword(generatePassword());
  return dummy;
}
