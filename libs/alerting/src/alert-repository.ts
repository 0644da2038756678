import { type Insertable, type Kysely, sql } from 'kysely';
import type { AccessScope, Alert, AlertState, AlertTransition, Domain, Severity } from '@ioc/contracts';
import { type AlertsTable, type DatabaseSchema, transaction } from '@ioc/database';
import { appendRegistryChange } from '@ioc/registry';
import { AlertingError } from './alerting-error';
import { assertLeaseHeld, type LeaseFence } from './lease-repository';
import { alertToRow, rowToAlert, rowToTransition, transitionToRow } from './alert-rows';

/** One step the alert engine took: the alert as it is AFTER the step, and the step. */
export interface AlertChange {
  alert: Alert;
  transition: AlertTransition;
}

/** An alert with its optimistic-concurrency version (REST shows it; a person's write may name it). */
export interface VersionedAlert {
  alert: Alert;
  /** 1 on insert, +1 on every write. */
  version: number;
}

/**
 * A spool consumer's durable position (`consumer_cursors`): the last spool record number it
 * processed and, when it wrote one, a snapshot of its state as of `snapshotPosition`.
 */
export interface ConsumerCursor {
  name: string;
  position: number;
  /** JSON-safe state (the engine's snapshot()); null when none was written. */
  snapshot: unknown;
  snapshotPosition: number | null;
  /** Epoch ms of the last write. */
  updatedAt: number;
}

/** What commit writes besides the changes: the consumer's cursor, and optionally a new snapshot. */
export interface CursorWrite {
  name: string;
  position: number;
  /** A new snapshot (JSON-safe); absent keeps the stored one. */
  snapshot?: unknown;
  /** The position the snapshot is as of (required with `snapshot`). */
  snapshotPosition?: number;
}

/** What commit did with each change, in order. */
export interface CommitResult {
  /**
   * The changes as stored: a change that followed a person's acknowledgement keeps it (state
   * `acknowledged`, not `firing`) and is renumbered after the person's transition. In commit
   * order: what the host publishes on INTERNAL_ALERTS_TOPIC.
   */
  applied: AlertChange[];
  /**
   * Changes not stored: `replayed` (the same transition is already stored: a replay after a
   * crash between commit and release) or `resolved` (a person resolved the alert first; the
   * engine learns it from the change log and drops the alert).
   */
  skipped: Array<{ change: AlertChange; reason: 'replayed' | 'resolved' }>;
}

/** A person acting on an alert: account id and username (the transition's `by`). */
export interface AlertActor {
  id: string;
  name: string;
}

/** Which time `from`/`to` filter on. */
export const ALERT_TIME_FIELDS = ['pendingAt', 'firingAt', 'resolvedAt'] as const;
export type AlertTimeField = (typeof ALERT_TIME_FIELDS)[number];

/** Filters of the alert list; every one given must hold. */
export interface AlertQuery {
  /** Exact states. */
  states?: readonly AlertState[];
  /** true: open (pending, firing, acknowledged); false: past (resolved). */
  open?: boolean;
  /** Areas and their sub-areas (one of them on the alert's area path). */
  areaIds?: readonly string[];
  domains?: readonly Domain[];
  severities?: readonly Severity[];
  ruleIds?: readonly string[];
  deviceIds?: readonly string[];
  /** Epoch ms, inclusive, on `timeField`. */
  from?: number;
  /** Epoch ms, exclusive, on `timeField`. */
  to?: number;
  /** Default `pendingAt`. */
  timeField?: AlertTimeField;
  /** Default 100, at most 1000. */
  limit?: number;
  /** The previous page's `nextCursor`. */
  cursor?: string;
}

/** A page of alerts, newest first (by pendingAt, then id). */
export interface AlertPage {
  items: VersionedAlert[];
  /** Pass as `cursor` for the next page; null on the last. */
  nextCursor: string | null;
}

/**
 * Rows per statement of an engine commit: SQLite allows 32 766 bound parameters per statement
 * (SQLITE_MAX_VARIABLE_NUMBER since 3.32), PostgreSQL 65 535; an alert row binds 29, a transition
 * 11, an id 1.
 */
const COMMIT_SELECT_CHUNK = 500;
const COMMIT_ALERT_INSERT_CHUNK = 200;
const COMMIT_TRANSITION_INSERT_CHUNK = 500;

/** An alert as an engine commit sees it while it decides the commit's changes in memory. */
interface CommitAlertState {
  alert: Alert;
  /** The version in the database before this commit (0: not there). */
  storedVersion: number;
  /** The version it will have after this commit. */
  version: number;
  lastSeq: number;
  /** New in this commit: inserted at the end with its final state. */
  inserted: boolean;
  /** Changed by this commit. */
  dirty: boolean;
}

const TIME_COLUMNS = { pendingAt: 'pending_at', firingAt: 'firing_at', resolvedAt: 'resolved_at' } as const;

/** The LIKE pattern of an area id inside a JSON array of ids (`!` escapes LIKE's wildcards). */
function areaPathPattern(areaId: string): string {
  return `%${JSON.stringify(areaId).replace(/[!%_]/g, (c) => `!${c}`)}%`;
}

/**
 * Alerts and their transitions in the registry database:
 *
 * - the alert engine's commit API (`commit`: its changes and its cursor in one transaction;
 *   `openAlerts`, `loadCursor` at start);
 * - people's actions (`acknowledge`, `resolve`), with optimistic concurrency on `version`, each
 *   appending a transition and a registry change `{entity: 'alert'}` (the broker's RegistrySync
 *   hands it to the engine, which reloads the alert);
 * - REST's queries (`list` with filters, scope and pagination, `get`, `transitions`).
 */
export class AlertRepository {
  constructor(
    private readonly db: Kysely<DatabaseSchema>,
    private readonly clock: () => number = Date.now,
  ) {}

  /**
   * Stores the engine's changes and its cursor in ONE transaction (all or nothing): a new alert is
   * inserted (version 1); a known one is updated (version + 1) and its transition appended. A
   * change already stored (same alert, seq, kind and time, by the engine) is skipped as
   * `replayed`; a change of an alert a person resolved meanwhile is skipped as `resolved`; a change
   * following a person's acknowledgement is rebased on it (see CommitResult).
   * With `fence` (several broker nodes: the lease's term making the commit), the transaction first
   * proves the term is still the current one and holds the lease row's lock until it commits.
   * @throws LeaseLostError with `fence`, when another term holds the lease (nothing written)
   * @throws a unique violation when a second open alert of one rule and subject is inserted (the
   *   index alerts_open_subject), rolling everything back
   */
  commit(input: {
    changes: readonly AlertChange[];
    cursor?: CursorWrite;
    fence?: LeaseFence;
  }): Promise<CommitResult> {
    return transaction(this.db, async (trx) => {
      if (input.fence) await assertLeaseHeld(trx, input.fence);
      const result: CommitResult = { applied: [], skipped: [] };
      if (input.changes.length > 0) await this.applyEngineChanges(trx, input.changes, result);
      if (input.cursor) await this.writeCursor(trx, input.cursor);
      return result;
    });
  }

  /** Every alert not resolved (the engine's state at start). */
  async openAlerts(): Promise<Alert[]> {
    const rows = await this.db
      .selectFrom('alerts')
      .selectAll()
      .where('state', '<>', 'resolved')
      .orderBy('pending_at')
      .orderBy('id')
      .execute();
    return rows.map(rowToAlert);
  }

  /**
   * Every alert not resolved with the `seq` of its last transition: what the engine's
   * `loadOpenAlerts` takes at start (and `applyExternal` for one alert, see `getWithSeq`).
   */
  async openAlertsWithSeq(): Promise<Array<{ alert: Alert; lastSeq: number }>> {
    const alerts = await this.openAlerts();
    const seqs = new Map<string, number>();
    for (let i = 0; i < alerts.length; i += 500) {
      const ids = alerts.slice(i, i + 500).map((a) => a.id);
      const rows = await this.db
        .selectFrom('alert_transitions')
        .select(['alert_id', (eb) => eb.fn.max('seq').as('seq')])
        .where('alert_id', 'in', ids)
        .groupBy('alert_id')
        .execute();
      for (const row of rows) seqs.set(row.alert_id, Number(row.seq));
    }
    return alerts.map((alert) => ({ alert, lastSeq: seqs.get(alert.id) ?? 0 }));
  }

  /** One alert with its last transition's `seq` (the engine's applyExternal after a person's step). */
  async getWithSeq(id: string): Promise<{ alert: Alert; lastSeq: number } | undefined> {
    const found = await this.get(id);
    return found ? { alert: found.alert, lastSeq: await this.lastSeq(this.db, id) } : undefined;
  }

  /** A consumer's cursor, or undefined when it never committed one. */
  async loadCursor(name: string): Promise<ConsumerCursor | undefined> {
    const row = await this.db
      .selectFrom('consumer_cursors')
      .selectAll()
      .where('name', '=', name)
      .executeTakeFirst();
    if (!row) return undefined;
    return {
      name: row.name,
      position: row.position,
      snapshot: row.snapshot === null ? null : (JSON.parse(row.snapshot) as unknown),
      snapshotPosition: row.snapshot_position,
      updatedAt: row.updated_at,
    };
  }

  async get(id: string): Promise<VersionedAlert | undefined> {
    const row = await this.db.selectFrom('alerts').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? { alert: rowToAlert(row), version: row.version } : undefined;
  }

  /** An alert's transitions, oldest first. */
  async transitions(alertId: string): Promise<AlertTransition[]> {
    const rows = await this.db
      .selectFrom('alert_transitions')
      .selectAll()
      .where('alert_id', '=', alertId)
      .orderBy('seq')
      .execute();
    return rows.map(rowToTransition);
  }

  /**
   * Alerts matching `query` inside `scope` (null: everything; an alert lies in a scope when its
   * domain is one of the scope's — an alert without a domain only in a scope of every domain — and
   * one of the scope's areas is on its area path), newest first.
   * @throws AlertingError invalid `cursor` (malformed)
   */
  async list(query: AlertQuery, scope: AccessScope | null): Promise<AlertPage> {
    const limit = Math.min(Math.max(query.limit ?? 100, 1), 1000);
    let q = this.db.selectFrom('alerts').selectAll();
    if (query.states && query.states.length > 0) q = q.where('state', 'in', [...query.states]);
    if (query.open === true) q = q.where('state', '<>', 'resolved');
    if (query.open === false) q = q.where('state', '=', 'resolved');
    const areaIds = query.areaIds;
    if (areaIds && areaIds.length > 0)
      q = q.where((eb) =>
        eb.or(areaIds.map((a) => sql<boolean>`area_path like ${areaPathPattern(a)} escape '!'`)),
      );
    if (query.domains && query.domains.length > 0) q = q.where('domain', 'in', [...query.domains]);
    if (query.severities && query.severities.length > 0) q = q.where('severity', 'in', [...query.severities]);
    if (query.ruleIds && query.ruleIds.length > 0) q = q.where('rule_id', 'in', [...query.ruleIds]);
    if (query.deviceIds && query.deviceIds.length > 0) q = q.where('device_id', 'in', [...query.deviceIds]);
    const column = TIME_COLUMNS[query.timeField ?? 'pendingAt'];
    if (query.from !== undefined) q = q.where(column, '>=', query.from);
    if (query.to !== undefined) q = q.where(column, '<', query.to);
    if (scope !== null) {
      if (scope.domains) q = q.where('domain', 'in', [...scope.domains]);
      const areas = scope.areas;
      if (areas) {
        q = q.where((eb) =>
          eb.or(areas.map((area) => sql<boolean>`area_path like ${areaPathPattern(area)} escape '!'`)),
        );
      }
    }
    if (query.cursor !== undefined) {
      const [at, id] = decodeCursor(query.cursor);
      q = q.where((eb) =>
        eb.or([eb('pending_at', '<', at), eb.and([eb('pending_at', '=', at), eb('id', '<', id)])]),
      );
    }
    const rows = await q
      .orderBy('pending_at', 'desc')
      .orderBy('id', 'desc')
      .limit(limit + 1)
      .execute();
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return {
      items: page.map((row) => ({ alert: rowToAlert(row), version: row.version })),
      nextCursor: rows.length > limit && last ? encodeCursor(last.pending_at, last.id) : null,
    };
  }

  /**
   * A person acknowledges a firing alert, with a note. With `expectedVersion`, refuses if the
   * alert has moved on since the person read it.
   * @throws AlertingError not-found; conflict — already acknowledged, resolved, still pending, or
   *   changed meanwhile (field `version`)
   */
  acknowledge(
    id: string,
    actor: AlertActor,
    note: string | null,
    expectedVersion?: number,
  ): Promise<AlertChange & { version: number }> {
    return this.personStep(id, expectedVersion, (alert, at) => {
      if (alert.state === 'acknowledged') {
        throw new AlertingError(
          'conflict',
          `alert ${id} is already acknowledged (by ${alert.acknowledgedBy ?? '?'})`,
          'state',
        );
      }
      if (alert.state === 'pending') {
        throw new AlertingError(
          'conflict',
          `alert ${id} is pending, not firing yet: nothing to acknowledge`,
          'state',
        );
      }
      return {
        alert: {
          ...alert,
          state: 'acknowledged',
          acknowledgedAt: at,
          acknowledgedBy: actor.id,
          acknowledgementNote: note,
          updatedAt: at,
        },
        kind: 'acknowledged',
        by: { kind: 'account', id: actor.id, name: actor.name },
        note,
        resolution: null,
      };
    });
  }

  /**
   * A person resolves an open alert (`resolution: manual`), with a note. The engine drops it; if
   * the condition still holds, the next reading opens a new alert.
   * @throws AlertingError not-found; conflict — already resolved, or changed meanwhile (`version`)
   */
  resolve(
    id: string,
    actor: AlertActor,
    note: string | null,
    expectedVersion?: number,
  ): Promise<AlertChange & { version: number }> {
    return this.personStep(id, expectedVersion, (alert, at) => ({
      alert: {
        ...alert,
        state: 'resolved',
        resolvedAt: at,
        resolvedBy: actor.id,
        resolution: 'manual',
        updatedAt: at,
      },
      kind: 'resolved',
      by: { kind: 'account', id: actor.id, name: actor.name },
      note,
      resolution: 'manual',
    }));
  }

  private personStep(
    id: string,
    expectedVersion: number | undefined,
    step: (
      alert: Alert,
      at: number,
    ) => Pick<AlertTransition, 'kind' | 'by' | 'note' | 'resolution'> & { alert: Alert },
  ): Promise<AlertChange & { version: number }> {
    return transaction(this.db, async (trx) => {
      const row = await trx.selectFrom('alerts').selectAll().where('id', '=', id).executeTakeFirst();
      if (!row) throw new AlertingError('not-found', `no alert ${id}`);
      const current = rowToAlert(row);
      if (current.state === 'resolved') {
        throw new AlertingError(
          'conflict',
          `alert ${id} is already resolved (${current.resolution ?? '?'})`,
          'state',
        );
      }
      if (expectedVersion !== undefined && expectedVersion !== row.version) {
        throw new AlertingError(
          'conflict',
          `alert ${id} is at version ${row.version}, not ${expectedVersion}: it moved on, reload it`,
          'version',
        );
      }
      const at = this.clock();
      const next = step(current, at);
      const version = row.version + 1;
      const updated = await trx
        .updateTable('alerts')
        .set(alertToRow(next.alert, version))
        .where('id', '=', id)
        .where('version', '=', row.version)
        .executeTakeFirst();
      if (Number(updated.numUpdatedRows) !== 1) {
        throw new AlertingError('conflict', `alert ${id} changed meanwhile: reload it`, 'version');
      }
      const transition: AlertTransition = {
        alertId: id,
        seq: (await this.lastSeq(trx, id)) + 1,
        at,
        from: current.state,
        to: next.alert.state,
        kind: next.kind,
        severity: current.severity,
        value: current.value,
        by: next.by,
        note: next.note,
        resolution: next.resolution,
      };
      await trx.insertInto('alert_transitions').values(transitionToRow(transition)).execute();
      await appendRegistryChange(trx, { entity: 'alert', entityId: id, action: next.kind, at });
      return { alert: next.alert, transition, version };
    });
  }

  private async lastSeq(trx: Kysely<DatabaseSchema>, alertId: string): Promise<number> {
    const row = await trx
      .selectFrom('alert_transitions')
      .select((eb) => eb.fn.max('seq').as('seq'))
      .where('alert_id', '=', alertId)
      .executeTakeFirst();
    return Number(row?.seq ?? 0);
  }

  /**
   * The engine's changes in commit order, written with a few statements per commit rather than
   * four per change: one select of every alert the commit touches (with its last transition seq),
   * each change decided in memory against the alert as the earlier changes of this commit left it,
   * then one update per alert that existed before (optimistic on its version: a person's write
   * committed meanwhile fails the commit, which the host retries and rebases), one multi-row insert
   * of the new alerts (after the updates: a resolved alert must leave the open-subject index
   * before its successor enters it) and one of the transitions.
   * Source of the batching: bench/ingest-costs.ts, AlertEngineHost stage (µs per change).
   * @throws AlertingError conflict when an alert's version moved under the commit
   */
  private async applyEngineChanges(
    trx: Kysely<DatabaseSchema>,
    changes: readonly AlertChange[],
    result: CommitResult,
  ): Promise<void> {
    const ids = [...new Set(changes.map((change) => change.alert.id))];
    const known = new Map<string, CommitAlertState>();
    for (let i = 0; i < ids.length; i += COMMIT_SELECT_CHUNK) {
      const rows = await trx
        .selectFrom('alerts')
        .selectAll('alerts')
        .select((eb) =>
          eb
            .selectFrom('alert_transitions')
            .select((inner) => inner.fn.max('seq').as('seq'))
            .whereRef('alert_transitions.alert_id', '=', 'alerts.id')
            .as('last_seq'),
        )
        .where('id', 'in', ids.slice(i, i + COMMIT_SELECT_CHUNK))
        .execute();
      for (const row of rows) {
        known.set(row.id, {
          alert: rowToAlert(row),
          storedVersion: row.version,
          version: row.version,
          lastSeq: Number(row.last_seq ?? 0),
          inserted: false,
          dirty: false,
        });
      }
    }
    const transitions: AlertTransition[] = [];
    for (const change of changes) {
      const { alert, transition } = change;
      const current = known.get(alert.id);
      if (current === undefined) {
        known.set(alert.id, {
          alert,
          storedVersion: 0,
          version: 1,
          lastSeq: transition.seq,
          inserted: true,
          dirty: true,
        });
        transitions.push(transition);
        result.applied.push(change);
        continue;
      }
      if (transition.seq <= current.lastSeq) {
        const same =
          transitions.find((t) => t.alertId === alert.id && t.seq === transition.seq) ??
          (await this.storedTransition(trx, alert.id, transition.seq));
        if (
          same &&
          same.kind === transition.kind &&
          same.at === transition.at &&
          JSON.stringify(same.by) === JSON.stringify(transition.by)
        ) {
          result.skipped.push({ change, reason: 'replayed' });
          continue;
        }
      }
      const stored = current.alert;
      if (stored.state === 'resolved') {
        result.skipped.push({ change, reason: 'resolved' });
        continue;
      }
      let next: Alert = alert;
      let step: AlertTransition = transition;
      if (transition.seq !== current.lastSeq + 1) {
        // A person's step came in between: keep it, and number this one after it.
        step = { ...transition, seq: current.lastSeq + 1, from: stored.state };
        if (stored.acknowledgedAt !== null && alert.acknowledgedAt === null) {
          next = {
            ...alert,
            acknowledgedAt: stored.acknowledgedAt,
            acknowledgedBy: stored.acknowledgedBy,
            acknowledgementNote: stored.acknowledgementNote,
            state: alert.state === 'firing' ? 'acknowledged' : alert.state,
          };
          step = { ...step, to: next.state };
        }
      }
      current.alert = next;
      current.version += 1;
      current.lastSeq = step.seq;
      current.dirty = true;
      transitions.push(step);
      result.applied.push({ alert: next, transition: step });
    }
    const inserts: Insertable<AlertsTable>[] = [];
    for (const [id, state] of known) {
      if (!state.dirty) continue;
      if (state.inserted) {
        inserts.push(alertToRow(state.alert, state.version));
        continue;
      }
      const updated = await trx
        .updateTable('alerts')
        .set(alertToRow(state.alert, state.version))
        .where('id', '=', id)
        .where('version', '=', state.storedVersion)
        .executeTakeFirst();
      if (Number(updated.numUpdatedRows) !== 1) {
        throw new AlertingError(
          'conflict',
          `alert ${id} changed while the engine committed (version ${state.storedVersion} is gone)`,
          'version',
        );
      }
    }
    for (let i = 0; i < inserts.length; i += COMMIT_ALERT_INSERT_CHUNK) {
      await trx
        .insertInto('alerts')
        .values(inserts.slice(i, i + COMMIT_ALERT_INSERT_CHUNK))
        .execute();
    }
    for (let i = 0; i < transitions.length; i += COMMIT_TRANSITION_INSERT_CHUNK) {
      await trx
        .insertInto('alert_transitions')
        .values(transitions.slice(i, i + COMMIT_TRANSITION_INSERT_CHUNK).map(transitionToRow))
        .execute();
    }
  }

  private async storedTransition(
    trx: Kysely<DatabaseSchema>,
    alertId: string,
    seq: number,
  ): Promise<AlertTransition | undefined> {
    const row = await trx
      .selectFrom('alert_transitions')
      .selectAll()
      .where('alert_id', '=', alertId)
      .where('seq', '=', seq)
      .executeTakeFirst();
    return row ? rowToTransition(row) : undefined;
  }

  private async writeCursor(trx: Kysely<DatabaseSchema>, cursor: CursorWrite): Promise<void> {
    const now = this.clock();
    const withSnapshot = cursor.snapshot !== undefined;
    if (withSnapshot && cursor.snapshotPosition === undefined) {
      throw new AlertingError('invalid', 'a snapshot needs its snapshotPosition', 'snapshotPosition');
    }
    const snapshot = withSnapshot ? JSON.stringify(cursor.snapshot) : null;
    const snapshotPosition = withSnapshot ? (cursor.snapshotPosition as number) : null;
    await trx
      .insertInto('consumer_cursors')
      .values({
        name: cursor.name,
        position: cursor.position,
        snapshot,
        snapshot_position: snapshotPosition,
        updated_at: now,
      })
      .onConflict((oc) =>
        oc
          .column('name')
          .doUpdateSet(
            withSnapshot
              ? { position: cursor.position, snapshot, snapshot_position: snapshotPosition, updated_at: now }
              : { position: cursor.position, updated_at: now },
          ),
      )
      .execute();
  }
}

function encodeCursor(pendingAt: number, id: string): string {
  return Buffer.from(`${pendingAt}:${id}`, 'utf8').toString('base64url');
}

function decodeCursor(cursor: string): [number, string] {
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  const cut = text.indexOf(':');
  const at = Number(text.slice(0, cut));
  if (cut < 1 || !Number.isSafeInteger(at)) throw new AlertingError('invalid', 'malformed cursor', 'cursor');
  return [at, text.slice(cut + 1)];
}
