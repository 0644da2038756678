import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Temporary directories made on demand and all removed by one call (a spec's `afterAll`). */
export class TempDirs {
  private readonly made: string[] = [];

  constructor(private readonly prefix: string) {}

  async make(): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), this.prefix));
    this.made.push(dir);
    return dir;
  }

  async removeAll(): Promise<void> {
    const dirs = this.made.splice(0);
    await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
  }
}
