/**
 * Spreads a total message rate over timer ticks: at each tick it allows the messages that
 * `rate × elapsed` says are due, so the long-run rate is exact whatever the tick jitter, and
 * messages go out evenly instead of in one burst per second.
 */
export class RatePacer {
  private sent = 0;
  private dropped = 0;

  /**
   * @param maxBurst most messages one tick may release; after a stall (GC pause, blocked loop) the
   *   backlog beyond it is dropped rather than dumped on the broker at once.
   */
  constructor(
    private readonly ratePerSecond: number,
    private readonly startMs: number,
    private readonly maxBurst = Math.max(1, Math.ceil(ratePerSecond / 4)),
  ) {
    if (!(ratePerSecond > 0) || !Number.isFinite(ratePerSecond)) {
      throw new Error(`ratePerSecond must be a positive number, got ${ratePerSecond}`);
    }
  }

  /** How many messages to send now; counts them as sent. */
  take(nowMs: number): number {
    const target = Math.floor((this.ratePerSecond * Math.max(0, nowMs - this.startMs)) / 1000);
    let due = target - this.sent - this.dropped;
    if (due > this.maxBurst) {
      this.dropped += due - this.maxBurst;
      due = this.maxBurst;
    }
    if (due <= 0) return 0;
    this.sent += due;
    return due;
  }

  /** Messages skipped because the process fell behind by more than one burst. */
  get droppedCount(): number {
    return this.dropped;
  }
}
