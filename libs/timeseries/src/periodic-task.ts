/**
 * A store's background maintenance (rolling up, retention): run every `intervalMs` and on demand,
 * never two runs at once. A tick that finds a run queued or in progress is skipped instead of
 * piling up behind a slow one; `runNow()` queues one more full run and resolves when it is done.
 * The timer is unref'd: maintenance never keeps a process alive.
 */
export class PeriodicTask<Reason extends string> {
  private timer: NodeJS.Timeout | undefined;
  private tail: Promise<void> = Promise.resolve();
  private queued = 0;
  private stopped = false;

  constructor(
    private readonly task: (reason: Reason) => Promise<void>,
    private readonly onError: (error: Error) => void,
  ) {}

  start(intervalMs: number, reason: Reason): void {
    if (this.stopped || this.timer !== undefined || !(intervalMs > 0)) return;
    this.timer = setInterval(() => {
      if (this.queued > 0) return;
      this.enqueue(reason).catch((err: unknown) => this.onError(asError(err)));
    }, intervalMs);
    this.timer.unref();
  }

  /** Runs the task once more after whatever is running; rejects with that run's error. */
  runNow(reason: Reason): Promise<void> {
    return this.enqueue(reason);
  }

  /** Stops the timer and waits for the run in progress, if any (its error is reported, not thrown). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    await this.tail;
  }

  private enqueue(reason: Reason): Promise<void> {
    this.queued += 1;
    const run = this.tail.then(async () => {
      try {
        await this.task(reason);
      } finally {
        this.queued -= 1;
      }
    });
    this.tail = run.catch(() => undefined);
    return run;
  }
}

export function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

/** Default for a store's `onMaintenanceError`: a process warning, so the failure is not silent. */
export function warnMaintenanceError(error: Error): void {
  process.emitWarning(error.message, { type: 'TimeSeriesStoreMaintenance' });
}
