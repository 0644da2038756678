import { DOMAINS, type DeviceStatusValue, type Domain } from '@ioc/contracts';
import type { DeviceView } from './device-view';

/** Devices of one domain by connectivity status; `inactive`: suspended or retired in the registry. */
export interface StatusCounts {
  online: number;
  offline: number;
  unknown: number;
  inactive: number;
}

type Bucket = keyof StatusCounts;

const bucketOf = (view: Pick<DeviceView, 'state' | 'status'>): Bucket =>
  view.state === 'active' ? view.status : 'inactive';

const emptyCounts = (): StatusCounts => ({ online: 0, offline: 0, unknown: 0, inactive: 0 });

/**
 * Devices online / offline / unknown per domain, kept incrementally from the device store's
 * per-frame changes (O(changed), not O(devices), per frame).
 */
export class DeviceStatusCounter {
  private readonly of = new Map<string, { domain: Domain; bucket: Bucket }>();
  private readonly counts = new Map<Domain, StatusCounts>(DOMAINS.map((d) => [d, emptyCounts()]));

  /**
   * Applies a device store delivery (changed views, removed ids). Returns true when a count
   * changed (a frame of readings alone changes none: the strip need not redraw).
   */
  update(
    changed: readonly Pick<DeviceView, 'id' | 'domain' | 'state' | 'status'>[],
    removed: readonly string[] = [],
  ): boolean {
    let moved = false;
    for (const id of removed) moved = this.forget(id) || moved;
    for (const view of changed) {
      const bucket = bucketOf(view);
      const known = this.of.get(view.id);
      if (known !== undefined && known.domain === view.domain && known.bucket === bucket) continue;
      this.forget(view.id);
      this.of.set(view.id, { domain: view.domain, bucket });
      this.countsOf(view.domain)[bucket] += 1;
      moved = true;
    }
    return moved;
  }

  /** Counts of one domain. */
  domain(domain: Domain): Readonly<StatusCounts> {
    return this.countsOf(domain);
  }

  /** Counts of every domain summed. */
  total(): StatusCounts {
    const total = emptyCounts();
    for (const counts of this.counts.values())
      for (const key of Object.keys(total) as Bucket[]) total[key] += counts[key];
    return total;
  }

  private countsOf(domain: Domain): StatusCounts {
    let counts = this.counts.get(domain);
    if (counts === undefined) {
      counts = emptyCounts();
      this.counts.set(domain, counts);
    }
    return counts;
  }

  private forget(id: string): boolean {
    const known = this.of.get(id);
    if (known === undefined) return false;
    this.of.delete(id);
    this.countsOf(known.domain)[known.bucket] -= 1;
    return true;
  }
}

/** A status counted by a DeviceStatusCounter. */
export type CountedStatus = DeviceStatusValue | 'inactive';

/**
 * A rate from a growing counter sampled now and then (readings/s from the ingest stats'
 * `acceptedTotal`, or from the live feed's own count): the delta over the time between the last
 * two samples. A counter that went down (the broker restarted) restarts the measurement.
 */
export class RateMeter {
  private last: { total: number; at: number } | null = null;
  private current: number | null = null;

  /**
   * Records `total` at `at` (epoch ms) and returns the rate per second since the previous sample,
   * or null for the first sample, a reset counter or no time elapsed.
   */
  sample(total: number, at: number): number | null {
    const last = this.last;
    this.last = { total, at };
    if (last === null || total < last.total || at <= last.at) {
      this.current = null;
      return null;
    }
    this.current = ((total - last.total) * 1000) / (at - last.at);
    return this.current;
  }

  /** The last rate computed, null before two samples. */
  get rate(): number | null {
    return this.current;
  }
}
