/**
 * Gathers items and hands them on in batches: at most one hand-off every `intervalMs`, or at once
 * when `maxBatch` items wait. The live feed uses it so that 20 000 readings/s become ~50 internal
 * messages/s, not 20 000, while a single reading still leaves within `intervalMs`.
 */
export class CoalescingRelay<T> {
  private pending: T[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly deliver: (batch: T[]) => void,
    private readonly options: { intervalMs: number; maxBatch: number },
  ) {}

  push(item: T): void {
    this.pending.push(item);
    if (this.pending.length >= this.options.maxBatch) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), this.options.intervalMs);
  }

  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    this.deliver(batch);
  }
}
