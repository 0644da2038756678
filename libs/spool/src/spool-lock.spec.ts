import { spawn } from 'node:child_process';
import { readFile, utimes, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { TempDirs } from '@ioc/testing';
import { DurableSpool } from './durable-spool';
import { acquireSpoolLock, SPOOL_LOCK_FILE, SPOOL_LOCK_REFRESH_MS, SpoolInUseError } from './spool-lock';

const hooks = { encode: (n: number) => Buffer.from(String(n)), decode: (b: Buffer) => Number(b.toString()) };

describe('spool lock (one broker process per spool directory)', () => {
  const dirs = new TempDirs('spool-lock-');
  afterAll(() => dirs.removeAll());

  it('refuses a directory another live process holds, naming the variables; takes it once that process is gone', async () => {
    const dir = await dirs.make();
    // Another process: a real `sleep`, recorded as the holder on this host.
    const other = spawn('sleep', ['30'], { stdio: 'ignore' });
    try {
      await writeFile(join(dir, SPOOL_LOCK_FILE), JSON.stringify({ pid: other.pid, host: hostname() }));
      const refusal = DurableSpool.open({ dir, maxBytes: 1 << 20 }, hooks);
      await expect(refusal).rejects.toBeInstanceOf(SpoolInUseError);
      await expect(refusal).rejects.toThrow(
        new RegExp(
          `in use by another broker process \\(pid ${other.pid} on .*IOC_DATA_DIR \\(or IOC_SPOOL_DIR\\)`,
        ),
      );
    } finally {
      const gone = new Promise((resolve) => other.once('exit', resolve));
      other.kill('SIGKILL');
      await gone;
    }
    // Its holder killed (as a SIGKILLed broker leaves it): the next open takes the lock over.
    const { spool } = await DurableSpool.open({ dir, maxBytes: 1 << 20 }, hooks);
    expect(JSON.parse(await readFile(join(dir, SPOOL_LOCK_FILE), 'utf8'))).toMatchObject({
      pid: process.pid,
    });
    await spool.close();
    await expect(readFile(join(dir, SPOOL_LOCK_FILE))).rejects.toThrow(/ENOENT/);
  });

  it('on another host, refuses a lock touched recently and takes one left untouched for three refresh periods', async () => {
    const dir = await dirs.make();
    const path = join(dir, SPOOL_LOCK_FILE);
    await writeFile(path, JSON.stringify({ pid: 1, host: 'another-node' }));
    await expect(acquireSpoolLock(dir)).rejects.toThrow(/pid 1 on another-node/);
    const old = new Date(Date.now() - 3 * SPOOL_LOCK_REFRESH_MS - 1000);
    await utimes(path, old, old);
    const lock = await acquireSpoolLock(dir);
    expect(JSON.parse(await readFile(path, 'utf8'))).toMatchObject({ pid: process.pid, host: hostname() });
    await lock.release();
  });
});
