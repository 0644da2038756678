import { createHash } from 'node:crypto';
import { type Kysely, PostgresIntrospector, type Selectable, sql } from 'kysely';
import type { Principal } from '@ioc/contracts';
import { type AuditLogTable, type DatabaseSchema, transaction } from '@ioc/database';
import { auditToCsv } from './audit-csv';
import { canonicalJson } from './canonical-json';
import { redactSecrets } from './redaction';

/** How an audited action ended: done, refused by a check (a wrong password), or not allowed (403). */
export const AUDIT_OUTCOMES = ['success', 'failure', 'denied'] as const;
export type AuditOutcome = (typeof AUDIT_OUTCOMES)[number];

/** Who acted: a person's account, an agency's API key, the platform itself, or nobody known. */
export const AUDIT_ACTOR_KINDS = ['account', 'apiKey', 'system', 'anonymous'] as const;
export type AuditActorKind = (typeof AUDIT_ACTOR_KINDS)[number];

/** The actor `record` takes: the request's principal, or the platform / an unauthenticated client. */
export type AuditActor = Principal | { kind: 'system' | 'anonymous'; id?: string; name?: string };

/**
 * Dotted verbs, `<entity>.<verb>`: lower camel case words and `-` (`auth.login`,
 * `auth.refresh-reuse`, `apiKey.revoke`, `device.create`); at most 64 characters.
 */
export const AUDIT_ACTION_PATTERN = /^[a-z][A-Za-z0-9-]*(\.[a-z][A-Za-z0-9-]*)+$/;
export const MAX_AUDIT_ACTION_LENGTH = 64;

/** The previous-entry hash of the first entry: 64 zeros. */
export const GENESIS_HASH = '0'.repeat(64);

/** Most entries one `query` answers. */
export const MAX_AUDIT_QUERY_LIMIT = 1000;

/** Entries `verify` reads per database round trip (so a million entries are never all in memory). */
export const AUDIT_VERIFY_PAGE_SIZE = 1000;

/**
 * Key of the PostgreSQL transaction advisory lock every append takes (an arbitrary 64-bit number,
 * the ASCII of "iocaudit"), distinct from the migration lock's.
 */
const POSTGRES_APPEND_LOCK_KEY = 0x696f636175646974n;

/** One audited action, as callers give it. */
export interface AuditEntryInput {
  actor: AuditActor;
  /** Dotted verb (AUDIT_ACTION_PATTERN). */
  action: string;
  /** Default `success`. */
  outcome?: AuditOutcome;
  /** The entity acted on (`device`/`sl-001`, `account`/`acc_…`). */
  entity?: { type: string; id: string };
  /** The entity before and after the change (any JSON value; secrets redacted by name). */
  before?: unknown;
  after?: unknown;
  /** Anything else worth keeping (a reason, a count, a note); secrets redacted by name. */
  detail?: Record<string, unknown>;
  /** The client's address as the API saw it (`request.ip`). */
  address?: string | null;
}

/** One stored entry. JSON values come back parsed; `ts` is epoch milliseconds. */
export interface AuditEntry {
  seq: number;
  ts: number;
  actor: { kind: AuditActorKind; id: string | null; name: string | null };
  action: string;
  outcome: AuditOutcome;
  entity: { type: string; id: string } | null;
  before: unknown;
  after: unknown;
  detail: Record<string, unknown> | null;
  address: string | null;
  prevHash: string;
  hash: string;
}

/** Filters of `query`; every one optional, all combined with AND. Times are epoch ms. */
export interface AuditQuery {
  actorId?: string;
  /** An exact action (`device.create`), or a prefix ending in `.` (`device.`: every device action). */
  action?: string;
  entityType?: string;
  entityId?: string;
  outcome?: AuditOutcome;
  /** Entries at or after this time. */
  from?: number;
  /** Entries before this time (exclusive). */
  to?: number;
  /** Most entries answered: 1 to MAX_AUDIT_QUERY_LIMIT (default 100). */
  limit?: number;
  /** Cursor: only entries with a smaller seq (the last seq of the previous page, newest first). */
  before?: number;
  /** Cursor for `order: 'asc'`: only entries with a larger seq. */
  after?: number;
  /** `desc` (default): newest first; `asc`: oldest first (exports). */
  order?: 'asc' | 'desc';
}

/** What `verify` found: the whole chain (from `from`) holds, or where it first breaks. */
export type AuditVerification =
  | {
      ok: true;
      /** Entries checked. */
      entries: number;
      /** The last entry (seq 0 and GENESIS_HASH when the log is empty): record it elsewhere. */
      head: { seq: number; hash: string };
    }
  | {
      ok: false;
      /** Entries checked and found good before the break. */
      entries: number;
      /** The first seq that does not hold (for `missing-entry`: the first missing seq). */
      brokenAt: number;
      /**
       * `hash-mismatch`: the entry's content does not give its hash (the row was edited);
       * `prev-hash-mismatch`: its link does not name the entry before it (that entry was rewritten
       * with a recomputed hash, or this link was edited); `missing-entry`: a seq is absent (removed).
       */
      problem: 'hash-mismatch' | 'prev-hash-mismatch' | 'missing-entry';
      expected?: string;
      found?: string;
    };

/** An entry `record` cannot store (a programming error of the caller). */
export class AuditEntryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AuditEntryError';
  }
}

type AuditRow = Selectable<AuditLogTable>;

/**
 * The hash of a stored row: SHA-256 (FIPS 180-4), lowercase hex, over `prev_hash`, a line feed,
 * and the canonical JSON (canonicalJson: sorted keys, no whitespace) of every other column as
 * stored — `before`/`after`/`detail` are their JSON text, times are epoch ms numbers.
 */
export function auditEntryHash(row: Omit<AuditRow, 'hash'>): string {
  const { prev_hash, ...columns } = row;
  const content = canonicalJson({
    seq: columns.seq,
    ts: columns.ts,
    actor_kind: columns.actor_kind,
    actor_id: columns.actor_id,
    actor_name: columns.actor_name,
    action: columns.action,
    outcome: columns.outcome,
    entity_type: columns.entity_type,
    entity_id: columns.entity_id,
    before: columns.before,
    after: columns.after,
    detail: columns.detail,
    address: columns.address,
  });
  return createHash('sha256').update(`${prev_hash}\n${content}`, 'utf8').digest('hex');
}

/**
 * The append-only, hash-chained audit log over the `audit_log` table (migration 0003-access;
 * triggers refuse UPDATE and DELETE). Every entry carries the hash of the one before it, so an
 * entry edited or removed by someone able to drop the triggers is named by `verify`. Works on
 * SQLite and PostgreSQL; several processes may append at once (see `record`).
 */
export class AuditLog {
  private readonly now: () => number;
  private readonly postgres: boolean;

  /** @param options.now clock in epoch ms (tests); default Date.now */
  constructor(
    private readonly db: Kysely<DatabaseSchema>,
    options: { now?: () => number } = {},
  ) {
    this.now = options.now ?? Date.now;
    this.postgres = db.introspection instanceof PostgresIntrospector;
  }

  /**
   * Appends one entry and answers it as stored. Under a lock, so the chain never forks whichever
   * processes append at once: SQLite's write lock taken at BEGIN (`BEGIN IMMEDIATE`, see
   * `transaction` of @ioc/database; another process waits up to its busy timeout), PostgreSQL's
   * transaction advisory lock POSTGRES_APPEND_LOCK_KEY; inside it the head (last seq and hash) is
   * read and seq + 1 written with prev_hash = the head's hash (GENESIS_HASH for the first).
   * `before`, `after` and `detail` are stored as JSON text with secrets redacted (redactSecrets).
   *
   * @throws AuditEntryError for an action outside AUDIT_ACTION_PATTERN or an unknown outcome
   * @throws the database's error when it cannot write (the entry is then not stored)
   */
  async record(entry: AuditEntryInput): Promise<AuditEntry> {
    const outcome = entry.outcome ?? 'success';
    if (entry.action.length > MAX_AUDIT_ACTION_LENGTH || !AUDIT_ACTION_PATTERN.test(entry.action)) {
      throw new AuditEntryError(
        `audit action ${JSON.stringify(entry.action.slice(0, 80))} is not a dotted verb`,
      );
    }
    if (!(AUDIT_OUTCOMES as readonly string[]).includes(outcome)) {
      throw new AuditEntryError(
        `audit outcome ${JSON.stringify(outcome)} is not one of ${AUDIT_OUTCOMES.join(', ')}`,
      );
    }
    const json = (value: unknown): string | null => {
      const redacted = redactSecrets(value);
      return redacted === undefined ? null : canonicalJson(redacted);
    };
    const columns = {
      actor_kind: entry.actor.kind,
      actor_id: entry.actor.id ?? null,
      actor_name: entry.actor.name ?? null,
      action: entry.action,
      outcome,
      entity_type: entry.entity?.type ?? null,
      entity_id: entry.entity?.id ?? null,
      before: json(entry.before),
      after: json(entry.after),
      detail: json(entry.detail),
      address: entry.address ?? null,
    };
    const row = await transaction(this.db, async (trx) => {
      if (this.postgres) {
        await sql`SELECT pg_advisory_xact_lock(${POSTGRES_APPEND_LOCK_KEY.toString()}::bigint)`.execute(trx);
      }
      const head = await trx
        .selectFrom('audit_log')
        .select(['seq', 'hash'])
        .orderBy('seq', 'desc')
        .limit(1)
        .executeTakeFirst();
      const unhashed = {
        seq: (head?.seq ?? 0) + 1,
        ts: this.now(),
        ...columns,
        prev_hash: head?.hash ?? GENESIS_HASH,
      };
      const stored = { ...unhashed, hash: auditEntryHash(unhashed) };
      await trx.insertInto('audit_log').values(stored).execute();
      return stored;
    });
    return toEntry(row);
  }

  /**
   * Entries matching the filters, newest first (or oldest first with `order: 'asc'`).
   * @throws AuditEntryError for a limit outside 1…MAX_AUDIT_QUERY_LIMIT
   */
  async query(filter: AuditQuery = {}): Promise<AuditEntry[]> {
    const limit = filter.limit ?? 100;
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_AUDIT_QUERY_LIMIT) {
      throw new AuditEntryError(`limit must be a whole number from 1 to ${MAX_AUDIT_QUERY_LIMIT}`);
    }
    let q = this.db.selectFrom('audit_log').selectAll();
    if (filter.actorId !== undefined) q = q.where('actor_id', '=', filter.actorId);
    if (filter.action !== undefined) {
      const action = filter.action;
      q = action.endsWith('.')
        ? q.where(sql<boolean>`substr(action, 1, ${sql.lit(action.length)}) = ${action}`)
        : q.where('action', '=', action);
    }
    if (filter.entityType !== undefined) q = q.where('entity_type', '=', filter.entityType);
    if (filter.entityId !== undefined) q = q.where('entity_id', '=', filter.entityId);
    if (filter.outcome !== undefined) q = q.where('outcome', '=', filter.outcome);
    if (filter.from !== undefined) q = q.where('ts', '>=', filter.from);
    if (filter.to !== undefined) q = q.where('ts', '<', filter.to);
    if (filter.before !== undefined) q = q.where('seq', '<', filter.before);
    if (filter.after !== undefined) q = q.where('seq', '>', filter.after);
    const rows = await q
      .orderBy('seq', filter.order ?? 'desc')
      .limit(limit)
      .execute();
    return rows.map(toEntry);
  }

  /** The entries as CSV: see auditToCsv. */
  toCsv(entries: readonly AuditEntry[], options?: { header?: boolean; bom?: boolean }): string {
    return auditToCsv(entries, options);
  }

  /**
   * Checks the chain from `from` (default 1) to its end, AUDIT_VERIFY_PAGE_SIZE entries at a time:
   * each seq follows the one before it without a gap, each prev_hash is the hash of the entry
   * before it, and each hash is auditEntryHash of its row. With `from` > 1, entry `from - 1` is
   * taken as it is (its hash anchors the first link). Answers at the first break.
   * A removed tail (the last entries deleted) leaves a chain that holds: compare `head` with a
   * head recorded elsewhere.
   */
  async verify(options: { from?: number } = {}): Promise<AuditVerification> {
    const from = Math.max(1, Math.floor(options.from ?? 1));
    let expectedSeq = from;
    let prevHash = GENESIS_HASH;
    let entries = 0;
    if (from > 1) {
      const anchor = await this.db
        .selectFrom('audit_log')
        .select(['seq', 'hash'])
        .where('seq', '=', from - 1)
        .executeTakeFirst();
      if (anchor === undefined) {
        return { ok: false, entries, brokenAt: from - 1, problem: 'missing-entry' };
      }
      prevHash = anchor.hash;
    }
    for (;;) {
      const page = await this.db
        .selectFrom('audit_log')
        .selectAll()
        .where('seq', '>=', expectedSeq)
        .orderBy('seq', 'asc')
        .limit(AUDIT_VERIFY_PAGE_SIZE)
        .execute();
      for (const row of page) {
        if (row.seq !== expectedSeq) {
          return { ok: false, entries, brokenAt: expectedSeq, problem: 'missing-entry' };
        }
        if (row.prev_hash !== prevHash) {
          return {
            ok: false,
            entries,
            brokenAt: row.seq,
            problem: 'prev-hash-mismatch',
            expected: prevHash,
            found: row.prev_hash,
          };
        }
        const { hash, ...unhashed } = row;
        const computed = auditEntryHash(unhashed);
        if (computed !== hash) {
          return {
            ok: false,
            entries,
            brokenAt: row.seq,
            problem: 'hash-mismatch',
            expected: computed,
            found: hash,
          };
        }
        prevHash = hash;
        expectedSeq = row.seq + 1;
        entries += 1;
      }
      if (page.length < AUDIT_VERIFY_PAGE_SIZE) break;
    }
    return { ok: true, entries, head: { seq: expectedSeq - 1, hash: prevHash } };
  }
}

function parseJson(text: string | null): unknown {
  return text === null ? null : (JSON.parse(text) as unknown);
}

function toEntry(row: AuditRow): AuditEntry {
  return {
    seq: row.seq,
    ts: row.ts,
    actor: { kind: row.actor_kind as AuditActorKind, id: row.actor_id, name: row.actor_name },
    action: row.action,
    outcome: row.outcome as AuditOutcome,
    entity:
      row.entity_type !== null && row.entity_id !== null
        ? { type: row.entity_type, id: row.entity_id }
        : null,
    before: parseJson(row.before),
    after: parseJson(row.after),
    detail: parseJson(row.detail) as Record<string, unknown> | null,
    address: row.address,
    prevHash: row.prev_hash,
    hash: row.hash,
  };
}
