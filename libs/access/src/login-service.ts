import { type Kysely, sql } from 'kysely';
import { RateLimiterMemory } from 'rate-limiter-flexible';
import type { DatabaseSchema } from '@ioc/database';
import { type Clock } from './access-common';
import { type AccountRecord, toAccountRecord } from './accounts';
import { ADDRESS_FAILURE_WINDOW_MS } from './access-env';
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

export interface LoginOptions {
  /** Consecutive failures that lock an account (IOC_AUTH_LOCKOUT_ATTEMPTS, default 5). */
  lockoutAttempts: number;
  /** How long a lock lasts, ms (IOC_AUTH_LOCKOUT_MINUTES, default 15 min). */
  lockoutMs: number;
  /** Counts failures per address; default a MemoryLoginAddressLimiter of `addressMaxFailures`. */
  addressLimiter?: LoginAddressLimiter;
  /** IOC_AUTH_ADDRESS_MAX_FAILURES (default 20 per 15 minutes), when no addressLimiter is given. */
  addressMaxFailures?: number;
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
 * 2. a locked account (`locked_until > now`) is refused (`account-locked`) without checking the
 *    password;
 * 3. the password is verified — against a dummy hash for an unknown user or an account without a
 *    password, so all take the same ~0.3 s; a wrong one is `invalid-credentials`, counts one
 *    failure for the address and one for the account, and the failure that reaches
 *    `lockoutAttempts` locks the account for `lockoutMs` (that attempt answers `account-locked`);
 * 4. a right password on a disabled account, or on an account whose agency is disabled, is
 *    `account-disabled` (only after the password, so the answer tells nothing to a guesser);
 * 5. success clears the account's failure count and records `last_login_at`.
 *
 * The per-account counters live in the database (shared by API nodes); the per-address one
 * behind LoginAddressLimiter.
 */
export class LoginService {
  private readonly now: Clock;
  private readonly addressLimiter: LoginAddressLimiter;

  constructor(
    private readonly db: Kysely<DatabaseSchema>,
    private readonly options: LoginOptions,
  ) {
    this.now = options.now ?? Date.now;
    this.addressLimiter =
      options.addressLimiter ?? new MemoryLoginAddressLimiter(options.addressMaxFailures ?? 20);
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
    const row =
      username === '' || username.length > 64
        ? undefined
        : await this.db
            .selectFrom('accounts')
            .selectAll()
            .where(sql<string>`lower(username)`, '=', username.toLowerCase())
            .executeTakeFirst();
    const now = this.now();
    if (row && row.locked_until !== null && Number(row.locked_until) > now) {
      return {
        ok: false,
        reason: 'account-locked',
        retryAfterMs: Number(row.locked_until) - now,
        accountId: row.id,
      };
    }
    const stored = row?.password_hash ?? (await dummyHash());
    const matches = (await verifyPassword(password, stored)) && row?.password_hash != null;
    if (!row || !matches) {
      if (address !== undefined) await this.addressLimiter.recordFailure(address);
      if (!row) return { ok: false, reason: 'invalid-credentials' };
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
