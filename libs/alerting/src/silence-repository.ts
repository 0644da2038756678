import { randomUUID } from 'node:crypto';
import type { Kysely, Selectable } from 'kysely';
import { type Alert, type SilenceMatchers, silenceMatchersSchema } from '@ioc/contracts';
import { type DatabaseSchema, type SilencesTable, transaction } from '@ioc/database';
import { AlertingError } from './alerting-error';

/** Why notifications are held back: a silence, or a maintenance window (a device under repair). */
export const SILENCE_REASONS = ['silence', 'maintenance'] as const;
export type SilenceReason = (typeof SILENCE_REASONS)[number];

/** A silence: while `startsAt ≤ now < endsAt`, notifications of the alerts it matches are not sent. */
export interface Silence {
  /** UUID. */
  id: string;
  matchers: SilenceMatchers;
  reason: SilenceReason;
  comment: string;
  /** Epoch ms, inclusive. */
  startsAt: number;
  /** Epoch ms, exclusive; the end time when ended early. */
  endsAt: number;
  /** Account id of its author. */
  createdBy: string | null;
  createdAt: number;
  /** When it was ended early (DELETE), or null. */
  endedAt: number | null;
  endedBy: string | null;
}

/** What a silence is created from. */
export interface SilenceInput {
  matchers: SilenceMatchers;
  reason: SilenceReason;
  comment: string;
  /** Epoch ms; default now. */
  startsAt?: number;
  /** Epoch ms, after startsAt. */
  endsAt: number;
}

/**
 * Whether `silence` matches `alert`: every matcher given holds — the alert's rule is one of
 * `ruleIds`, its device one of `deviceIds`, one of `areaIds` is on its area path (an area and its
 * sub-areas), its domain one of `domains`, its severity one of `severities`. Pure; says nothing
 * about time (see silenceActiveAt).
 */
export function silenceMatches(silence: Pick<Silence, 'matchers'>, alert: Alert): boolean {
  const m = silence.matchers;
  if (m.ruleIds && !m.ruleIds.includes(alert.ruleId)) return false;
  if (m.deviceIds && (alert.deviceId === null || !m.deviceIds.includes(alert.deviceId))) return false;
  if (m.areaIds && !m.areaIds.some((area) => alert.areaPath.includes(area))) return false;
  if (m.domains && (alert.domain === null || !m.domains.includes(alert.domain))) return false;
  if (m.severities && !m.severities.includes(alert.severity)) return false;
  return true;
}

/** Whether `silence` is in force at `now` (epoch ms): startsAt ≤ now < endsAt. */
export function silenceActiveAt(silence: Pick<Silence, 'startsAt' | 'endsAt'>, now: number): boolean {
  return silence.startsAt <= now && now < silence.endsAt;
}

/** Longest silence: 90 days (a longer one is a rule change, not a silence). */
export const MAX_SILENCE_MS = 90 * 24 * 3600 * 1000;

/** Silences and maintenance windows in the registry database. Works on SQLite and PostgreSQL. */
export class SilenceRepository {
  constructor(
    private readonly db: Kysely<DatabaseSchema>,
    private readonly clock: () => number = Date.now,
  ) {}

  /**
   * @throws AlertingError invalid — matchers (zod, naming the field), endsAt not after startsAt or
   *   already past, longer than MAX_SILENCE_MS
   */
  async create(input: SilenceInput, by: string | null): Promise<Silence> {
    const parsed = silenceMatchersSchema.safeParse(input.matchers);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const path = ['matchers', ...(issue?.path.map(String) ?? [])].join('.');
      throw new AlertingError('invalid', `${path}: ${issue?.message ?? 'invalid'}`, path);
    }
    if (!(SILENCE_REASONS as readonly string[]).includes(input.reason)) {
      throw new AlertingError('invalid', `reason: one of ${SILENCE_REASONS.join(', ')}`, 'reason');
    }
    const now = this.clock();
    const startsAt = input.startsAt ?? now;
    if (!(input.endsAt > startsAt))
      throw new AlertingError('invalid', 'endsAt: must be after startsAt', 'endsAt');
    if (input.endsAt <= now) throw new AlertingError('invalid', 'endsAt: already past', 'endsAt');
    if (input.endsAt - startsAt > MAX_SILENCE_MS) {
      throw new AlertingError('invalid', 'endsAt: a silence lasts at most 90 days', 'endsAt');
    }
    const silence: Silence = {
      id: randomUUID(),
      matchers: parsed.data,
      reason: input.reason,
      comment: input.comment,
      startsAt,
      endsAt: input.endsAt,
      createdBy: by,
      createdAt: now,
      endedAt: null,
      endedBy: null,
    };
    await this.db
      .insertInto('silences')
      .values({
        id: silence.id,
        matchers: JSON.stringify(silence.matchers),
        reason: silence.reason,
        comment: silence.comment,
        starts_at: startsAt,
        ends_at: silence.endsAt,
        created_by: by,
        created_at: now,
        ended_at: null,
        ended_by: null,
      })
      .execute();
    return silence;
  }

  async get(id: string): Promise<Silence | undefined> {
    const row = await this.db.selectFrom('silences').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? toSilence(row) : undefined;
  }

  /**
   * Silences, newest start first. `active: true`: in force now; `false`: ended or expired;
   * absent: all (including future ones).
   */
  async list(filter: { active?: boolean } = {}): Promise<Silence[]> {
    const now = this.clock();
    let q = this.db.selectFrom('silences').selectAll();
    if (filter.active === true) q = q.where('starts_at', '<=', now).where('ends_at', '>', now);
    if (filter.active === false) q = q.where('ends_at', '<=', now);
    const rows = await q.orderBy('starts_at', 'desc').orderBy('id').limit(1000).execute();
    return rows.map(toSilence);
  }

  /** Silences in force at `now` (epoch ms): what the notifier checks before sending. */
  async activeAt(now: number): Promise<Silence[]> {
    const rows = await this.db
      .selectFrom('silences')
      .selectAll()
      .where('starts_at', '<=', now)
      .where('ends_at', '>', now)
      .execute();
    return rows.map(toSilence);
  }

  /**
   * Ends a silence now (a future one is ended before it starts).
   * @throws AlertingError not-found; conflict (already ended or expired)
   */
  expire(id: string, by: string | null): Promise<Silence> {
    return transaction(this.db, async (trx) => {
      const row = await trx.selectFrom('silences').selectAll().where('id', '=', id).executeTakeFirst();
      if (!row) throw new AlertingError('not-found', `no silence ${id}`);
      const now = this.clock();
      if (row.ends_at <= now)
        throw new AlertingError('conflict', `silence ${id} has already ended`, 'endsAt');
      const endsAt = Math.max(now, row.starts_at);
      await trx
        .updateTable('silences')
        .set({ ends_at: endsAt, ended_at: now, ended_by: by })
        .where('id', '=', id)
        .execute();
      return { ...toSilence(row), endsAt, endedAt: now, endedBy: by };
    });
  }
}

function toSilence(row: Selectable<SilencesTable>): Silence {
  return {
    id: row.id,
    matchers: JSON.parse(row.matchers) as SilenceMatchers,
    reason: row.reason as SilenceReason,
    comment: row.comment,
    startsAt: row.starts_at,
    endsAt: row.ends_at,
    createdBy: row.created_by,
    createdAt: row.created_at,
    endedAt: row.ended_at,
    endedBy: row.ended_by,
  };
}
