/** What went wrong with a rule, alert or silence write, for REST's 400/404/409. */
export type AlertingErrorCode = 'invalid' | 'not-found' | 'conflict';

/**
 * A refused write on rules, alerts or silences: `code` maps to 400 (invalid), 404 (not-found),
 * 409 (conflict) — as `RegistryError` and `AccessError` do (ops-api's repositoryHttpError).
 */
export class AlertingError extends Error {
  constructor(
    readonly code: AlertingErrorCode,
    message: string,
    /** The field at fault, as a dotted path into the body (`message.vi`, `metric`, `version`), when one is. */
    readonly field?: string,
  ) {
    super(message);
    this.name = 'AlertingError';
  }
}

/**
 * Whether `error` is a unique-index violation on either database: PostgreSQL SQLSTATE 23505
 * unique_violation; SQLite SQLITE_CONSTRAINT_PRIMARYKEY or SQLITE_CONSTRAINT_UNIQUE.
 */
export function isUniqueViolation(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === '23505' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === 'SQLITE_CONSTRAINT_UNIQUE';
}
