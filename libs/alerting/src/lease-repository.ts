import { type Kysely, type RawBuilder, sql } from 'kysely';
import type { DatabaseKind, DatabaseSchema } from '@ioc/database';

/** The alert engine's lease: one active evaluator among the broker nodes (issue 12). */
export const ALERT_ENGINE_LEASE = 'alert-engine';

/** A term of a lease as its holder knows it. Times are epoch ms on the database's clock. */
export interface LeaseTerm {
  name: string;
  holder: string;
  /** Fencing token of this term: greater than every earlier term's. */
  token: number;
  expiresAt: number;
  /** When the term began. */
  acquiredAt: number;
}

/** The lease row as stored (`get`), with the database's clock. */
export interface LeaseRow {
  name: string;
  holder: string;
  token: number;
  expiresAt: number;
  acquiredAt: number;
  now: number;
}

/** What a fenced write names: the lease and the token of the term that makes the write. */
export interface LeaseFence {
  name: string;
  holder: string;
  token: number;
}

/**
 * A fenced write found the lease held by a later term (or the row gone): the writer lost the lease
 * and must stop (its transaction is rolled back). Never retried.
 */
export class LeaseLostError extends Error {
  constructor(readonly fence: LeaseFence) {
    super(
      `lease ${fence.name}: token ${fence.token} of ${fence.holder} is no longer the current term (another node took over)`,
    );
    this.name = 'LeaseLostError';
  }
}

/**
 * The database's clock in epoch ms, as an SQL expression: PostgreSQL `statement_timestamp()` (when the
 * server received the statement: one instant for the whole statement, not the transaction's start as `now()` would be); SQLite `julianday('now')`
 * (days since −4713-11-24 12:00 UTC; 2440587.5 is the Unix epoch's Julian day, SQLite's
 * lang_datefunc.html), whose clock is the one machine's holding the file.
 */
function databaseNow(kind: DatabaseKind): RawBuilder<number> {
  return kind === 'postgres'
    ? sql<number>`cast(floor(extract(epoch from statement_timestamp()) * 1000) as bigint)`
    : sql<number>`cast((julianday('now') - 2440587.5) * 86400000 as integer)`;
}

/**
 * Named leader leases in the registry database (table `leases`, migration 0006-leases), on
 * SQLite and PostgreSQL alike, each statement atomic on its own:
 *
 * - `acquire`: takes the lease when it is absent or expired (on the database's clock), starting a
 *   new term whose token is the previous one + 1 (1 for the first); refuses (undefined) while
 *   another term is unexpired — even one of the same holder name, so a process restarted within
 *   the TTL waits it out like any other.
 * - `renew`: extends the holder's term to now + ttl while its token is still the current one (also
 *   after its expiry, as long as nobody took over: no one else can have written meanwhile).
 * - `release`: ends the term at once (expires_at 0, the token kept), so another node takes over
 *   without waiting for the TTL (orderly shutdown).
 * - `assertHeld(trx, fence)`: inside a writer's transaction, an UPDATE of the lease row that
 *   matches only the fence's token: it takes the row's lock (PostgreSQL row lock, SQLite's write
 *   lock) until that transaction ends, so a takeover either waits for the write to commit or
 *   makes it fail with LeaseLostError — a paused former holder cannot commit.
 *
 * Expiry is judged on the database's clock only (see databaseNow); a holder bounds its own term
 * with its monotonic clock from the moment it SENT the renewal, which is never later than the
 * database's (see AlertEngineLeader).
 */
export class LeaseRepository {
  private readonly now: RawBuilder<number>;

  constructor(
    private readonly db: Kysely<DatabaseSchema>,
    kind: DatabaseKind,
  ) {
    this.now = databaseNow(kind);
  }

  /**
   * Takes lease `name` for `holder` for `ttlMs` if nobody holds it unexpired.
   * @returns the new term, or undefined while another unexpired term holds it
   * @throws RangeError for a ttlMs that is not a positive integer; database errors
   */
  async acquire(name: string, holder: string, ttlMs: number): Promise<LeaseTerm | undefined> {
    checkTtl(ttlMs);
    const inserted = await this.db
      .insertInto('leases')
      .values({
        name,
        holder,
        token: 1,
        expires_at: sql<number>`${this.now} + ${ttlMs}`,
        acquired_at: this.now,
      })
      .onConflict((oc) => oc.column('name').doNothing())
      .returning(['token', 'expires_at', 'acquired_at'])
      .executeTakeFirst();
    if (inserted) return term(name, holder, inserted.token, inserted.expires_at, inserted.acquired_at);
    const taken = await this.db
      .updateTable('leases')
      .set({
        holder,
        token: sql<number>`token + 1`,
        expires_at: sql<number>`${this.now} + ${ttlMs}`,
        acquired_at: this.now,
      })
      .where('name', '=', name)
      .where('expires_at', '<=', this.now)
      .returning(['token', 'expires_at', 'acquired_at'])
      .executeTakeFirst();
    return taken ? term(name, holder, taken.token, taken.expires_at, taken.acquired_at) : undefined;
  }

  /**
   * Extends the term `fence` to the database's now + `ttlMs`.
   * @returns the renewed term, or undefined when the token is no longer the current one (lost)
   */
  async renew(fence: LeaseFence, ttlMs: number): Promise<LeaseTerm | undefined> {
    checkTtl(ttlMs);
    const row = await this.db
      .updateTable('leases')
      .set({ expires_at: sql<number>`${this.now} + ${ttlMs}` })
      .where('name', '=', fence.name)
      .where('holder', '=', fence.holder)
      .where('token', '=', fence.token)
      .returning(['expires_at', 'acquired_at'])
      .executeTakeFirst();
    return row ? term(fence.name, fence.holder, fence.token, row.expires_at, row.acquired_at) : undefined;
  }

  /** Ends the term at once (another node may acquire it now). @returns whether it was still current */
  async release(fence: LeaseFence): Promise<boolean> {
    const result = await this.db
      .updateTable('leases')
      .set({ expires_at: 0 })
      .where('name', '=', fence.name)
      .where('holder', '=', fence.holder)
      .where('token', '=', fence.token)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  /** The lease as stored with the database's clock, or undefined when never acquired. */
  async get(name: string): Promise<LeaseRow | undefined> {
    const row = await this.db
      .selectFrom('leases')
      .select(['name', 'holder', 'token', 'expires_at', 'acquired_at', this.now.as('now')])
      .where('name', '=', name)
      .executeTakeFirst();
    if (!row) return undefined;
    return {
      name: row.name,
      holder: row.holder,
      token: Number(row.token),
      expiresAt: Number(row.expires_at),
      acquiredAt: Number(row.acquired_at),
      now: Number(row.now),
    };
  }
}

/**
 * Inside a writer's transaction `trx`: proves `fence` is the lease's current term and locks the
 * lease row until `trx` ends (see LeaseRepository). Call it FIRST in the transaction.
 * @throws LeaseLostError when another term holds the lease (roll the transaction back)
 */
export async function assertLeaseHeld(trx: Kysely<DatabaseSchema>, fence: LeaseFence): Promise<void> {
  const result = await trx
    .updateTable('leases')
    .set({ token: sql<number>`token` })
    .where('name', '=', fence.name)
    .where('holder', '=', fence.holder)
    .where('token', '=', fence.token)
    .executeTakeFirst();
  if (Number(result.numUpdatedRows) !== 1) throw new LeaseLostError(fence);
}

function term(name: string, holder: string, token: number, expiresAt: number, acquiredAt: number): LeaseTerm {
  return {
    name,
    holder,
    token: Number(token),
    expiresAt: Number(expiresAt),
    acquiredAt: Number(acquiredAt),
  };
}

function checkTtl(ttlMs: number): void {
  if (!Number.isSafeInteger(ttlMs) || ttlMs <= 0) {
    throw new RangeError(`lease ttl: expected a positive integer of ms, got ${ttlMs}`);
  }
}
