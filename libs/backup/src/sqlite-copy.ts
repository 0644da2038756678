import Database from 'better-sqlite3';
import { SQLITE_BUSY_TIMEOUT_MS } from '@ioc/database';

/**
 * Pages per backup step after the first: all of them (SQLite's `sqlite3_backup_step` takes an int).
 * One step copies the whole file under one read transaction, so a writer in another process
 * (the broker storing readings, in WAL mode never blocked by a reader) cannot make the backup
 * restart — with small steps, a write to the source between two steps restarts the copy from the
 * first page, which under constant ingest may never finish (sqlite.org/backup.html).
 */
const ALL_PAGES = 0x7fffffff;

/**
 * Copies a live SQLite database file with SQLite's online backup API (better-sqlite3
 * `db.backup()`): a consistent snapshot while other processes keep writing. The copy is switched
 * to the rollback journal (`journal_mode=DELETE`), so it is one self-contained file that can be
 * opened read-only without creating `-wal`/`-shm` files beside it; the platform turns WAL back on
 * when it opens a restored copy.
 *
 * @throws Error (SQLite's) when `source` does not exist or is not a database
 */
export async function copySqliteOnline(source: string, destination: string): Promise<void> {
  const db = new Database(source, { fileMustExist: true, timeout: SQLITE_BUSY_TIMEOUT_MS });
  try {
    await db.backup(destination, { progress: () => ALL_PAGES });
  } finally {
    db.close();
  }
  const copy = new Database(destination, { fileMustExist: true });
  try {
    copy.pragma('journal_mode = DELETE');
  } finally {
    copy.close();
  }
}

/** Row counts of the tables that exist among `tables` (a table that is absent is left out). */
export function countRows(db: Database.Database, tables: readonly string[]): Record<string, number> {
  const present = new Set(
    (db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table'`).all() as { name: string }[]).map(
      (row) => row.name,
    ),
  );
  const counts: Record<string, number> = {};
  for (const table of tables) {
    if (!present.has(table)) continue;
    // Names come from this library's own constant lists, never from input.
    counts[table] = (db.prepare(`SELECT count(*) AS n FROM "${table}"`).get() as { n: number }).n;
  }
  return counts;
}

/** `PRAGMA quick_check` of a database file opened read-only: `undefined` when it holds, else SQLite's complaint. */
export function sqliteProblem(path: string): string | undefined {
  let db: Database.Database;
  try {
    db = new Database(path, { readonly: true, fileMustExist: true });
  } catch (error) {
    return (error as Error).message;
  }
  try {
    const rows = db.pragma('quick_check') as { quick_check: string }[];
    const problems = rows.map((row) => row.quick_check).filter((text) => text !== 'ok');
    return problems.length === 0 ? undefined : problems.join('; ');
  } catch (error) {
    return (error as Error).message;
  } finally {
    db.close();
  }
}
