/** What went wrong with an access write, for REST's 400/404/409. */
export type AccessErrorCode = 'invalid' | 'not-found' | 'conflict';

/**
 * A refused write on accounts, agencies, sessions or API keys: `code` maps to 400 (invalid),
 * 404 (not-found), 409 (conflict) — as `RegistryError` does for the registry.
 */
export class AccessError extends Error {
  constructor(
    readonly code: AccessErrorCode,
    message: string,
    /** The field at fault, when one is (`username`, `password`, `agencyId`, `scope`, …). */
    readonly field?: string,
  ) {
    super(message);
    this.name = 'AccessError';
  }
}

/**
 * Runs `write`, turning a unique-index violation into AccessError `conflict` with `message`:
 * PostgreSQL SQLSTATE 23505 unique_violation; SQLite SQLITE_CONSTRAINT_PRIMARYKEY or
 * SQLITE_CONSTRAINT_UNIQUE. Catches the race two API nodes can run between a check and an insert.
 */
export async function conflictOnDuplicate<T>(
  message: string,
  field: string,
  write: () => Promise<T>,
): Promise<T> {
  try {
    return await write();
  } catch (error) {
    if (isUniqueViolation(error)) throw new AccessError('conflict', message, field);
    throw error;
  }
}

/** Whether `error` is a unique-index violation on either database. */
export function isUniqueViolation(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === '23505' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === 'SQLITE_CONSTRAINT_UNIQUE';
}
