import { readFile, stat, unlink, utimes, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';

/** The lock file in a spool directory: who holds it (JSON `{ pid, host, since }`). */
export const SPOOL_LOCK_FILE = 'spool.lock';

/**
 * The holder touches its lock this often (ms); a lock not touched for three periods is taken for
 * abandoned — the only way to tell when its holder ran on another host (a directory shared by
 * mistake over a network file system, or a container recreated with a new host name).
 */
export const SPOOL_LOCK_REFRESH_MS = 5000;

/** Another process holds the spool directory: each broker node needs a directory of its own. */
export class SpoolInUseError extends Error {
  constructor(
    readonly dir: string,
    readonly holder: { pid?: number; host?: string },
  ) {
    super(
      `spool directory ${dir} is in use by another broker process (pid ${holder.pid ?? '?'} on ${holder.host ?? '?'}; lock file ${join(dir, SPOOL_LOCK_FILE)}): each broker node needs its own IOC_DATA_DIR (or IOC_SPOOL_DIR)`,
    );
    this.name = 'SpoolInUseError';
  }
}

/** A held spool lock; release() deletes it. */
export interface SpoolLock {
  release(): Promise<void>;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists, under another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Takes the lock of spool directory `dir` (which must exist) for this process. A lock left by a
 * process that is gone — on this host, a pid no longer running or this very pid (a container's
 * pid 1, restarted); on another host, one not touched for 3 × SPOOL_LOCK_REFRESH_MS — is taken
 * over (a SIGKILLed broker restarts on its spool).
 *
 * A lock of this very process is taken over too: what a reopen without close (a crash simulated in
 * a test) leaves.
 *
 * @throws SpoolInUseError when another live process holds it
 */
export async function acquireSpoolLock(dir: string, now: () => number = Date.now): Promise<SpoolLock> {
  const path = join(dir, SPOOL_LOCK_FILE);
  const host = hostname();
  const mine = JSON.stringify({ pid: process.pid, host, since: new Date(now()).toISOString() });
  for (let attempt = 0; ; attempt++) {
    try {
      await writeFile(path, mine, { flag: 'wx' });
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) throw error;
    }
    const holder = await readFile(path, 'utf8').then(
      (text) => JSON.parse(text) as { pid?: number; host?: string },
      () => ({}) as { pid?: number; host?: string },
    );
    const touched = await stat(path).then(
      (s) => s.mtimeMs,
      () => 0,
    );
    const abandoned =
      holder.host === host
        ? holder.pid === undefined || holder.pid === process.pid || !alive(holder.pid)
        : now() - touched > 3 * SPOOL_LOCK_REFRESH_MS;
    if (!abandoned) throw new SpoolInUseError(dir, holder);
    await unlink(path).catch(() => undefined);
  }
  const refresh = setInterval(() => {
    const at = new Date(now());
    void utimes(path, at, at).catch(() => undefined);
  }, SPOOL_LOCK_REFRESH_MS);
  refresh.unref();
  let released = false;
  return {
    async release() {
      if (released) return;
      released = true;
      clearInterval(refresh);
      await unlink(path).catch(() => undefined);
    },
  };
}
