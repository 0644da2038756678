/**
 * When the console redraws. Live data arrives far faster than a screen refreshes (5,000
 * readings/s against ~60 frames/s), so stores collect what changed and hand it on once per
 * frame; the scheduler decides when "a frame" is.
 */
export interface FrameScheduler {
  /** Runs `callback` once at the next frame. Several requests before it run in request order. */
  request(callback: () => void): void;
}

/**
 * Longest wait for a frame, ms. `requestAnimationFrame` does not fire in a hidden tab (Chromium
 * and Firefox pause it), but the stores must still flush so a wall screen that was covered comes
 * back current: a timer fallback runs the frame after at most 1 s (browsers throttle hidden-tab
 * timers to ≥ 1 s, so a shorter value would gain nothing).
 */
export const HIDDEN_FRAME_FALLBACK_MS = 1000;

/**
 * The browser's scheduler: `requestAnimationFrame`, or a `setTimeout` of
 * HIDDEN_FRAME_FALLBACK_MS when the frame does not come first (hidden tab), whichever fires
 * first; callbacks requested before the frame run together in it.
 */
export function browserFrameScheduler(): FrameScheduler {
  let queue: Array<() => void> = [];
  let raf: number | null = null;
  let timer: ReturnType<typeof setTimeout> | null = null;
  const run = (): void => {
    if (raf !== null && typeof cancelAnimationFrame === 'function') cancelAnimationFrame(raf);
    if (timer !== null) clearTimeout(timer);
    raf = null;
    timer = null;
    const callbacks = queue;
    queue = [];
    for (const callback of callbacks) callback();
  };
  return {
    request(callback) {
      queue.push(callback);
      if (timer !== null) return;
      timer = setTimeout(run, HIDDEN_FRAME_FALLBACK_MS);
      if (typeof requestAnimationFrame === 'function') raf = requestAnimationFrame(run);
    },
  };
}

/** A scheduler driven by hand (tests, or a page that renders on demand): `flush()` is a frame. */
export class ManualFrameScheduler implements FrameScheduler {
  private queue: Array<() => void> = [];

  request(callback: () => void): void {
    this.queue.push(callback);
  }

  /** Callbacks waiting for the next frame. */
  get pending(): number {
    return this.queue.length;
  }

  /** Runs one frame: every callback requested before it (requests made during it wait for the next). */
  flush(): void {
    const callbacks = this.queue;
    this.queue = [];
    for (const callback of callbacks) callback();
  }
}

/**
 * Collects changes by key and hands the latest value of each to the listeners at most once per
 * frame (the stores' `onChange`). `mark` during a frame's delivery lands in the next frame.
 */
export class FrameBatch<K, V> {
  private changed = new Map<K, V>();
  private requested = false;
  private readonly listeners = new Set<(values: V[]) => void>();

  /**
   * @param onDeliver runs at the start of each delivery, before the listeners (the device store
   *   seals its per-frame drafts there: what listeners receive is never mutated afterwards).
   */
  constructor(
    private readonly scheduler: FrameScheduler,
    private readonly onDeliver?: () => void,
  ) {}

  /** Records `value` as the current state of `key` and asks for a frame if none is pending. */
  mark(key: K, value: V): void {
    this.changed.set(key, value);
    if (this.requested || this.listeners.size === 0) return;
    this.requested = true;
    this.scheduler.request(() => this.deliver());
  }

  /** Adds a listener; returns the function that removes it. */
  listen(listener: (values: V[]) => void): () => void {
    this.listeners.add(listener);
    if (this.changed.size > 0 && !this.requested) {
      this.requested = true;
      this.scheduler.request(() => this.deliver());
    }
    return () => this.listeners.delete(listener);
  }

  private deliver(): void {
    this.requested = false;
    if (this.changed.size === 0) return;
    this.onDeliver?.();
    const values = [...this.changed.values()];
    this.changed = new Map();
    for (const listener of this.listeners) listener(values);
  }
}
