import type { Kysely, Selectable } from 'kysely';
import type { CommandOutcome, CommandRecordBody, CommandState } from '@ioc/contracts';
import type { CommandsTable, DatabaseSchema } from '@ioc/database';

/** A command as REST and the live feed show it (commandRecordBody in @ioc/contracts). */
export type CommandRecord = CommandRecordBody;

type CommandRow = Selectable<CommandsTable>;

/**
 * Commands sent to devices and their outcomes, in the registry database. State changes are
 * conditional updates, so an acknowledgement and a timeout racing from two processes leave one
 * consistent answer: an acknowledgement wins over a timeout even when it comes late (the device
 * did act), and is marked `late`.
 */
export class CommandRepository {
  constructor(private readonly db: Kysely<DatabaseSchema>) {}

  /** Records a command as sent. */
  async create(command: {
    id: string;
    deviceId: string;
    command: string;
    params: Record<string, unknown>;
    requestedBy?: string;
    createdAt: number;
    deadline: number;
  }): Promise<CommandRecord> {
    const row: CommandRow = {
      id: command.id,
      device_id: command.deviceId,
      command: command.command,
      params: JSON.stringify(command.params),
      state: 'sent',
      requested_by: command.requestedBy ?? null,
      created_at: command.createdAt,
      deadline: command.deadline,
      completed_at: null,
      outcome: null,
      detail: null,
    };
    await this.db.insertInto('commands').values(row).execute();
    return toRecord(row);
  }

  async get(id: string): Promise<CommandRecord | undefined> {
    const row = await this.db.selectFrom('commands').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? toRecord(row) : undefined;
  }

  /** A device's commands, newest first. */
  async listForDevice(deviceId: string, page: { limit: number; offset: number }): Promise<CommandRecord[]> {
    const rows = await this.db
      .selectFrom('commands')
      .selectAll()
      .where('device_id', '=', deviceId)
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .limit(page.limit)
      .offset(page.offset)
      .execute();
    return rows.map(toRecord);
  }

  /**
   * Records a device's acknowledgement. Only the device the command was sent to can answer it,
   * and only once.
   * @returns the updated record, or undefined when there is no such command for that device or
   *   it was already answered (a repeated ack)
   */
  async acknowledge(ack: {
    id: string;
    deviceId: string;
    outcome: CommandOutcome;
    detail?: string;
    at: number;
  }): Promise<CommandRecord | undefined> {
    const state: CommandState = ack.outcome === 'done' ? 'acknowledged' : 'failed';
    const result = await this.db
      .updateTable('commands')
      .set({ state, outcome: ack.outcome, detail: ack.detail ?? null, completed_at: ack.at })
      .where('id', '=', ack.id)
      .where('device_id', '=', ack.deviceId)
      .where('state', 'in', ['sent', 'timed-out'])
      .where('outcome', 'is', null)
      .executeTakeFirst();
    if (Number(result.numUpdatedRows) === 0) return undefined;
    return this.get(ack.id);
  }

  /** Marks a command failed before any answer (it could not be published). */
  async fail(id: string, detail: string, at: number): Promise<CommandRecord | undefined> {
    const result = await this.db
      .updateTable('commands')
      .set({ state: 'failed', detail, completed_at: at })
      .where('id', '=', id)
      .where('state', '=', 'sent')
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 0 ? undefined : this.get(id);
  }

  /**
   * Marks every `sent` command whose deadline has passed as `timed-out`.
   * @returns the commands this call timed out (another process's sweep may take some)
   */
  async expire(now: number): Promise<CommandRecord[]> {
    const due = await this.db
      .selectFrom('commands')
      .selectAll()
      .where('state', '=', 'sent')
      .where('deadline', '<=', now)
      .execute();
    const expired: CommandRecord[] = [];
    for (const row of due) {
      const result = await this.db
        .updateTable('commands')
        .set({ state: 'timed-out', completed_at: now })
        .where('id', '=', row.id)
        .where('state', '=', 'sent')
        .executeTakeFirst();
      if (Number(result.numUpdatedRows) > 0)
        expired.push(toRecord({ ...row, state: 'timed-out', completed_at: now }));
    }
    return expired;
  }
}

function toRecord(row: CommandRow): CommandRecord {
  return {
    id: row.id,
    deviceId: row.device_id,
    command: row.command,
    params: JSON.parse(row.params) as Record<string, unknown>,
    state: row.state as CommandState,
    ...(row.requested_by !== null ? { requestedBy: row.requested_by } : {}),
    createdAt: new Date(row.created_at).toISOString(),
    deadline: new Date(row.deadline).toISOString(),
    ...(row.completed_at !== null ? { completedAt: new Date(row.completed_at).toISOString() } : {}),
    ...(row.outcome !== null ? { outcome: row.outcome as CommandOutcome } : {}),
    ...(row.detail !== null ? { detail: row.detail } : {}),
    ...(row.outcome !== null && row.completed_at !== null && row.completed_at > row.deadline
      ? { late: true }
      : {}),
  };
}
