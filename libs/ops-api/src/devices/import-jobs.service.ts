import { randomBytes } from 'node:crypto';
import { Injectable, NotFoundException } from '@nestjs/common';
import type { ImportJobBody, ImportReportBody } from '@ioc/contracts';

/** Finished import jobs kept for GET (the newest ones; running jobs are always kept). */
export const KEPT_IMPORT_JOBS = 100;

/**
 * Imports running in the background (`POST /api/v1/devices/import?async=true`, answered 202), in
 * this API node's memory: their progress (rows settled of the file's rows) and, once done, the
 * per-row report. A job is asked for on the node that took it; a restart forgets finished jobs
 * (the import itself is one database transaction: it committed whole or not at all).
 */
@Injectable()
export class ImportJobs {
  private readonly jobs = new Map<string, ImportJobBody>();

  /** Starts `run` in the background; `run` reports progress through its callback. */
  start(total: number, run: (progress: (done: number) => void) => Promise<ImportReportBody>): ImportJobBody {
    const job: ImportJobBody = {
      id: `imp_${randomBytes(9).toString('base64url')}`,
      state: 'running',
      total,
      done: 0,
      createdAt: new Date().toISOString(),
    };
    this.jobs.set(job.id, job);
    this.prune();
    run((done) => {
      job.done = done;
    }).then(
      (report) => {
        Object.assign(job, { state: 'done', done: total, report, finishedAt: new Date().toISOString() });
      },
      (error: unknown) => {
        Object.assign(job, {
          state: 'failed',
          error: error instanceof Error ? error.message : String(error),
          finishedAt: new Date().toISOString(),
        });
      },
    );
    return { ...job };
  }

  /** @throws NotFoundException for an unknown (or forgotten) job */
  get(id: string): ImportJobBody {
    const job = this.jobs.get(id);
    if (!job) {
      throw new NotFoundException({
        statusCode: 404,
        error: 'Not Found',
        message: `No import job "${id.slice(0, 64)}" on this API node`,
      });
    }
    return { ...job };
  }

  private prune(): void {
    const finished = [...this.jobs.values()].filter((job) => job.state !== 'running');
    for (const job of finished.slice(0, Math.max(0, finished.length - KEPT_IMPORT_JOBS)))
      this.jobs.delete(job.id);
  }
}
