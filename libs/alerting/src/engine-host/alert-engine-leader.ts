import type { DeviceStatus } from '@ioc/contracts';
import type { Logger } from '@ioc/runtime';
import { type LeaseFence, type LeaseRepository, LeaseLostError } from '../lease-repository';
import type { AlertEngineHost, AlertEngineHostStats } from './alert-engine-host';
import type { StreamInputStats } from './reading-stream';

/** An input the leader runs for its host while it holds the lease (ReadingStreamInput). */
export interface LeaderInput {
  /** Starts handing records to the host from `position` (host.resumePosition()). */
  start(position: number): void;
  stats(): StreamInputStats;
  close(): Promise<void>;
}

export interface AlertEngineLeaderOptions {
  leases: LeaseRepository;
  /** The lease's name (ALERT_ENGINE_LEASE). */
  name: string;
  /** This process's holder name: `broker-<IOC_BROKER_ID>:<random>` (unique per process). */
  holder: string;
  /** IOC_ALERT_LEASE_MS: a term lasts this long after its last renewal (database clock). */
  ttlMs: number;
  /** IOC_ALERT_LEASE_RENEW_MS: how often the holder renews and a standby tries to acquire; < ttlMs/3. */
  renewMs: number;
  /** A host for a new term (not started): with `fence` and `onLeaseLost` passed through. */
  createHost(fence: LeaseFence, onLeaseLost: (error: LeaseLostError) => void): AlertEngineHost;
  /** Its input for that term (not started). */
  createInput(host: AlertEngineHost): LeaderInput;
  logger: Logger;
  /** Monotonic ms (default performance.now): the holder's own bound of its term. */
  monotonic?: () => number;
}

/** The leader's state for stats (ingest stats `alertEngine.lease`). */
export interface LeaderStats {
  /** Whether this process holds the lease now (its host evaluates). */
  holding: boolean;
  holder: string;
  /** The current term's token while holding, else the last one held (null: never). */
  token: number | null;
  /** Terms this process acquired, and lost or gave up (renewal refused, or not renewed in time). */
  acquired: number;
  lost: number;
}

/**
 * Runs the alert engine on exactly one of several broker nodes: every node runs a leader; the one
 * holding the lease (LeaseRepository, `leases` row `name`) runs an AlertEngineHost fed by its
 * input (the Redis stream of every node's readings), the others stand by.
 *
 * Timing (ttl = IOC_ALERT_LEASE_MS, renew = IOC_ALERT_LEASE_RENEW_MS, renew < ttl/3):
 * - every `renew` ms a standby tries to acquire (it succeeds once the term expired on the
 *   database's clock, or was released) and the holder renews;
 * - the holder bounds its own term from the moment it SENT its last successful renewal (or
 *   acquisition) — never later than the database's statement time the expiry counts from — and
 *   stops evaluating (`host.abandon()`) at `sent + ttl − renew` if no renewal succeeded since:
 *   `renew` ms before the term can expire elsewhere, the margin for clock-rate drift and a late
 *   timer. With renew < ttl/3 a holder has at least two renewals to fail before it gives up;
 * - a renewal refused (another term holds the lease) stops it at once;
 * - whatever a paused or partitioned former holder still attempts, its commits fail
 *   (AlertRepository.commit `fence`).
 * After a SIGKILL of the holder, another node takes over at most ttl + renew after the last renewal.
 */
export class AlertEngineLeader {
  private host?: AlertEngineHost;
  private input?: LeaderInput;
  private fence?: LeaseFence;
  private lastToken: number | null = null;
  /** Monotonic ms after which the holder stops unless renewed meanwhile. */
  private deadline = 0;
  private timer?: NodeJS.Timeout;
  private deadlineTimer?: NodeJS.Timeout;
  private busy = false;
  private closed = false;
  private acquired = 0;
  private lost = 0;
  private readonly monotonic: () => number;

  constructor(private readonly options: AlertEngineLeaderOptions) {
    if (!(options.renewMs * 3 < options.ttlMs)) {
      throw new RangeError(
        `alert engine lease: the renewal interval (${options.renewMs} ms) must be under a third of the lease (${options.ttlMs} ms)`,
      );
    }
    this.monotonic = options.monotonic ?? (() => performance.now());
  }

  /** Tries to acquire at once, then every renewMs. */
  start(): void {
    this.timer = setInterval(() => void this.step(), this.options.renewMs);
    this.timer.unref();
    void this.step();
  }

  /** Whether this process evaluates now. */
  get holding(): boolean {
    return this.host !== undefined;
  }

  /** The running host's counters (undefined on a standby node). */
  hostStats(): AlertEngineHostStats | undefined {
    return this.host?.stats();
  }

  inputStats(): StreamInputStats | undefined {
    return this.input?.stats();
  }

  stats(): LeaderStats {
    return {
      holding: this.holding,
      holder: this.options.holder,
      token: this.fence?.token ?? this.lastToken,
      acquired: this.acquired,
      lost: this.lost,
    };
  }

  /** The broker's registry sync: passed to the host while holding (a standby reads the registry at takeover). */
  registryChanged(changes: ReadonlyArray<{ entity: string; entityId: string }>): void {
    this.host?.registryChanged(changes);
  }

  /** The status tracker's changes: passed to the host while holding. */
  deviceStatuses(statuses: readonly DeviceStatus[]): void {
    this.host?.deviceStatuses(statuses);
  }

  /** The running host's whenIdle (tests). */
  async whenIdle(): Promise<void> {
    await this.host?.whenIdle();
  }

  /**
   * Orderly shutdown: the host's final snapshot (fenced), the input closed, the lease released
   * so another node takes over at once.
   */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    clearTimeout(this.deadlineTimer);
    const { host, input, fence } = this;
    this.host = undefined;
    this.input = undefined;
    this.fence = undefined;
    await input?.close();
    await host?.close();
    if (fence) {
      await this.options.leases.release(fence).catch((error: unknown) => {
        this.options.logger.warn({ err: error }, 'alert engine lease: release failed (it expires by itself)');
      });
    }
  }

  /**
   * Stops everything at once as a killed process would: no final snapshot, no release — the term
   * runs out on the database's clock and another node takes over then (tests of a crash).
   */
  halt(): void {
    this.closed = true;
    clearInterval(this.timer);
    clearTimeout(this.deadlineTimer);
    const { host, input } = this;
    this.host = undefined;
    this.input = undefined;
    this.fence = undefined;
    host?.abandon();
    void input?.close();
  }

  private async step(): Promise<void> {
    if (this.busy || this.closed) return;
    this.busy = true;
    try {
      if (this.fence) await this.renew(this.fence);
      else await this.tryAcquire();
    } catch (error) {
      this.options.logger.warn(
        { err: (error as Error).message, holding: this.holding },
        'alert engine lease: database step failed; retrying',
      );
    } finally {
      this.busy = false;
    }
  }

  private async tryAcquire(): Promise<void> {
    const { leases, name, holder, ttlMs, renewMs, logger } = this.options;
    const sent = this.monotonic();
    const term = await leases.acquire(name, holder, ttlMs);
    if (!term || this.closed) return;
    const fence: LeaseFence = { name, holder, token: term.token };
    this.fence = fence;
    this.lastToken = term.token;
    this.acquired++;
    this.extend(sent);
    logger.info(
      { holder, token: term.token, ttlMs, renewMs },
      'alert engine lease acquired: this node evaluates',
    );
    const host = this.options.createHost(fence, () => this.lose('a commit found another term'));
    this.host = host;
    // Not awaited: renewals go on while the host loads its snapshot and open alerts.
    void this.begin(host, fence);
  }

  /** Starts the term's host, then its input from the host's resume position. */
  private async begin(host: AlertEngineHost, fence: LeaseFence): Promise<void> {
    try {
      await host.start();
    } catch (error) {
      if (this.host === host) {
        this.options.logger.error(
          { err: error },
          'alert engine: start under the lease failed; giving the lease up',
        );
        this.lose('the host did not start');
        if (!(error instanceof LeaseLostError)) await this.options.leases.release(fence).catch(() => false);
      }
      return;
    }
    if (this.host !== host) return; // lost while starting
    const input = this.options.createInput(host);
    this.input = input;
    input.start(host.resumePosition());
  }

  private async renew(fence: LeaseFence): Promise<void> {
    const sent = this.monotonic();
    const term = await this.options.leases.renew(fence, this.options.ttlMs);
    if (this.fence !== fence) return;
    if (term) this.extend(sent);
    else this.lose('renewal refused: another node holds the lease');
  }

  /** The term is good until `sent + ttl − renew` (monotonic), unless renewed meanwhile. */
  private extend(sent: number): void {
    this.deadline = sent + this.options.ttlMs - this.options.renewMs;
    this.armDeadline(this.fence);
  }

  /**
   * A timer at the deadline. Node's timers may fire a little before the monotonic clock reaches
   * it (libuv's loop time is cached and rounded to whole ms): then it is armed again for the rest.
   */
  private armDeadline(fence: LeaseFence | undefined): void {
    clearTimeout(this.deadlineTimer);
    this.deadlineTimer = setTimeout(
      () => {
        if (this.fence !== fence) return;
        if (this.monotonic() >= this.deadline) this.lose('not renewed in time');
        else this.armDeadline(fence);
      },
      Math.max(0, Math.ceil(this.deadline - this.monotonic())),
    );
    this.deadlineTimer.unref();
  }

  /** Stops evaluating now (no commit), closes the input, and stands by for a new term. */
  private lose(reason: string): void {
    const { host, input, fence } = this;
    if (!fence) return;
    this.host = undefined;
    this.input = undefined;
    this.fence = undefined;
    clearTimeout(this.deadlineTimer);
    this.lost++;
    host?.abandon();
    void input?.close();
    this.options.logger.warn(
      { holder: this.options.holder, token: fence.token, reason },
      'alert engine lease lost: this node stops evaluating',
    );
  }
}
