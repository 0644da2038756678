import { AlertEngine, type EngineDirectory } from '@ioc/alert-engine';
import { aqiValueBand, HourlyAqiTracker, type HourlyAqiRecord } from '@ioc/aqi';
import type { DeviceStatus, Reading } from '@ioc/contracts';
import { DatabaseTaskLog, isDatabaseUnavailable } from '@ioc/database';
import type { Logger } from '@ioc/runtime';
import { SpoolFullError, type SpoolConsumer, type SpoolConsumerLink } from '@ioc/spool';
import type { AlertChange, AlertRepository, CursorWrite } from '../alert-repository';
import { type LeaseFence, LeaseLostError } from '../lease-repository';
import type { RuleRepository } from '../rule-repository';

/** The host's spool consumer name (ingest stats, `ioc_spool_consumer_*` metrics). */
export const ALERT_ENGINE_CONSUMER = 'alerts';
/** Its row in `consumer_cursors`. */
export const ALERT_ENGINE_CURSOR = 'alert-engine';
/**
 * Its row when it reads the Redis stream of every node's readings (IOC_REDIS_URL): stream
 * positions, not one spool's record numbers, so switching modes never skips by the other's count.
 */
export const ALERT_ENGINE_STREAM_CURSOR = 'alert-engine-stream';
/** Most alert events in one INTERNAL_ALERTS_TOPIC message (the design's bound). */
export const ALERT_EVENTS_PER_MESSAGE = 500;
/**
 * Records held since the last snapshot after which the next commit writes one whatever the
 * interval (the spool can then release them): 50 000 records are ~10 s of a 5 000 readings/s
 * ingest, ~15 MB of spool.
 */
export const SNAPSHOT_HELD_RECORDS = 50_000;
/** Version of the host's snapshot `{ v, engine, aqi }` in `consumer_cursors.snapshot`. */
export const HOST_SNAPSHOT_VERSION = 1;
/** Records waiting beyond which the tick waits for the loop to catch up (~2 s at 5 000 readings/s). */
export const TICK_MAX_QUEUED = 10_000;
/** A device ignored as out of order is named in a warning at most this often, ms. */
export const OUT_OF_ORDER_WARN_EVERY_MS = 60_000;

/** The registry's description of a station, for its derived readings (no ts, metrics, seq, event). */
export type ReadingBase = Pick<
  Reading,
  'deviceId' | 'deviceType' | 'domain' | 'areaId' | 'areaPath' | 'location'
>;

/** Options of AlertEngineHost. Durations in ms. */
export interface AlertEngineHostOptions {
  alerts: AlertRepository;
  rules: RuleRepository;
  /** The devices and areas the engine reads (registryEngineDirectory over the broker's DeviceRegistry). */
  directory: EngineDirectory;
  /** A station's registry enrichment for its derived readings; undefined: unknown (nothing emitted). */
  readingBase(deviceId: string): ReadingBase | undefined;
  /**
   * Called after each commit with what it stored (CommitResult.applied), in commit order, at most
   * ALERT_EVENTS_PER_MESSAGE per call: the broker publishes them on INTERNAL_ALERTS_TOPIC (QoS 1).
   */
  publish(events: AlertChange[]): void;
  logger: Logger;
  /** IOC_ALERT_SNAPSHOT_MS (default 5000). */
  snapshotIntervalMs?: number;
  /** IOC_ALERT_TICK_MS (default 1000). */
  tickMs?: number;
  /** IOC_AQI_HOUR_GRACE_MS (default 10 min): a silent station's hour closes this long after it ended. */
  aqiHourGraceMs?: number;
  /** Default SNAPSHOT_HELD_RECORDS. */
  snapshotHeldRecords?: number;
  /** Wall clock, epoch ms (tests). */
  clock?: () => number;
  /** Alert ids (default crypto.randomUUID). */
  newAlertId?: () => string;
  /** First and longest wait between retries of a failed commit or derived append (default 200, 10 000). */
  retryInitialMs?: number;
  retryMaxMs?: number;
  /**
   * Its row in `consumer_cursors` (default ALERT_ENGINE_CURSOR): positions are numbers of ONE
   * input, so the Redis stream's engine keeps its own (ALERT_ENGINE_STREAM_CURSOR).
   */
  cursorName?: string;
  /**
   * Several broker nodes: the lease term this host evaluates under. Every commit proves it in its
   * own transaction (AlertRepository.commit `fence`); a commit that finds another term stops the
   * host for good (`abandon`) and calls `onLeaseLost`.
   */
  fence?: LeaseFence;
  onLeaseLost?(error: LeaseLostError): void;
}

/** Counters of the host since it started (ingest stats `alertEngine`). */
export interface AlertEngineHostStats {
  /** Records evaluated (after the cursor). */
  evaluated: number;
  /** Records replayed in warm-up (after the snapshot, up to the cursor: state only). */
  warmUp: number;
  /** Records skipped (up to the snapshot position: already in the snapshot). */
  skipped: number;
  /**
   * Readings evaluated and ignored (wholly or in part) as older than the device's newest evaluated
   * reading of the same metric (AlertEngine.outOfOrder): e.g. a simulator scenario stamped hours ago
   * beside a live feed of the same devices. Each device is named in a warning at most once a minute.
   */
  outOfOrder: number;
  /**
   * Air-quality readings that came for an hour whose VN_AQI was already closed (emitted or refused),
   * so they never reach an hourly AQI (HourlyAqiTracker.closedHourReadings).
   */
  aqiClosedHourReadings: number;
  /** Alert changes committed (stored: CommitResult.applied). */
  changes: number;
  commits: number;
  commitFailures: number;
  /** Records received and not yet processed. */
  lag: number;
  /** Duration of the last commit transaction, ms (null before the first). */
  lastCommitMs: number | null;
  /** Hourly VN_AQI readings appended to the spool. */
  aqiHoursEmitted: number;
  /** Appends of derived readings that failed (retried). */
  derivedFailures: number;
  /** Last record number evaluated (the cursor once committed), −1 before any. */
  position: number;
  /** Position of the last snapshot written (records up to it are released), −1 before any. */
  snapshotPosition: number;
}

interface QueuedRecords {
  readings: Reading[];
  firstIndex: number;
  replay: boolean;
}

interface HostSnapshot {
  v: typeof HOST_SNAPSHOT_VERSION;
  engine: unknown;
  aqi: unknown;
}

/** A reading that feeds the hourly VN_AQI: an air-quality station's measurements, not a derived AQI. */
function feedsAqi(r: Reading): boolean {
  return r.deviceType === 'air-quality-station' && r.kind === 'telemetry' && !('aqi' in r.metrics);
}

const sleep = (ms: number): Promise<void> =>
  new Promise((resolve) => {
    setTimeout(resolve, ms).unref();
  });

/**
 * Runs the alert engine (`@ioc/alert-engine`) inside the broker process as the durable spool's
 * second consumer (`alerts`), with exactly-once alerts across crashes:
 *
 * - **Durable state** (`consumer_cursors` row `alert-engine`): cursor C, the last spool record
 *   evaluated, and a snapshot `{ engine, aqi }` of the engine's and the HourlyAqiTracker's state
 *   as of record S ≤ C. Both are written by `AlertRepository.commit` in the SAME transaction as the
 *   alert changes they produced. Spool records are released only up to S.
 * - **Start** (`start()`, before the broker opens the spool): snapshot → `engine.restore`, tracker
 *   restore; open alerts with their last seq → `loadOpenAlerts`; rules → `setRules` (changes
 *   committed: alerts of rules deleted meanwhile resolve); `engine.resume(now)` (the downtime does
 *   not count as devices' silence).
 * - **Records** (`onRecords`: queued; one async loop drains the queue, coalescing what queued
 *   meanwhile into one batch): ≤ S skipped (released); (S, C] warm-up (windows, clocks and the
 *   AQI tracker only: no change, no derived reading — they were made before the crash); > C
 *   evaluated. Air-quality readings feed the tracker; each closed hour becomes a derived reading
 *   `{ kind: 'telemetry', ts: hourEnd, metrics: { aqi, aqiDominant } }` with the station's registry
 *   enrichment, appended with `appendDerived` and awaited (durable) before the batch commits; it
 *   comes back later as a record and rules on `aqi` evaluate it then. Derived readings never feed
 *   the tracker.
 * - **Commit** (after a batch): the changes + cursor C := the last record evaluated + (every
 *   `snapshotIntervalMs`, or when SNAPSHOT_HELD_RECORDS are held) the snapshot at S := C, in one
 *   transaction; then release the records up to S and publish what was stored. A batch with no
 *   change, no derived reading and no snapshot due writes nothing: the cursor only has to be exact
 *   where a change was made. After a crash the records after the stored C are evaluated again from
 *   the state at C (snapshot + warm-up (S, C] + the open alerts as of C), deterministically in
 *   reading time, so records that changed nothing change nothing again and no alert is made twice;
 *   a batch whose evaluation produced a change or a derived reading always commits C with it. Steps
 *   not caused by records (tick, device status, rule edits) are committed with C := the last record
 *   evaluated before them (the loop is idle then), so a replay never re-evaluates a record against
 *   state that a later step already changed.
 * - **Tick** every `tickMs`, only when the queue is empty (never while a backlog is drained):
 *   `engine.tick(now)` and the tracker's `closeHoursBefore(now, aqiHourGraceMs)` for stations that
 *   stopped reporting, committed in their own transaction. That close is wall-clock driven, hence
 *   not replay-deterministic: the tick writes a snapshot with it, and a crash before that commit
 *   at worst re-emits the hour when the station's next reading closes it (the stores absorb a
 *   derived reading with the same point identity).
 * - **One writer**: batches, ticks, rule reloads, device changes and statuses run one at a time.
 * - **Failures**: a failed commit or derived append is retried with backoff (records stay held),
 *   logged with context; nothing throws into the broker.
 *
 * Evaluation uses `arrivedAt` = the host's clock when the record is processed, so a device replaying
 * a backlog stamped hours ago is judged on its own clock by the engine's timers.
 */
export class AlertEngineHost implements SpoolConsumer {
  readonly name = ALERT_ENGINE_CONSUMER;
  private readonly engine: AlertEngine;
  private tracker = new HourlyAqiTracker();
  /** Per `rules|aqi:deviceId`: when it was last named in a warning, and readings since. */
  private readonly outOfOrderWarned = new Map<string, { at: number; count: number }>();
  private readonly clock: () => number;
  private readonly snapshotIntervalMs: number;
  private readonly tickMs: number;
  private readonly aqiHourGraceMs: number;
  private readonly snapshotHeldRecords: number;
  private readonly retryInitialMs: number;
  private readonly retryMaxMs: number;
  private link?: SpoolConsumerLink;
  private state: 'new' | 'starting' | 'running' | 'closing' | 'closed' = 'new';
  private readonly cursorName: string;
  /** Records ≤ this were in the snapshot at start (skipped). */
  private skipThrough = -1;
  /** Records ≤ this (and > skipThrough) were evaluated before the restart (warm-up). */
  private warmThrough = -1;
  /** Last record processed (evaluated or warmed up). */
  private position = -1;
  /** Position of the last snapshot written. */
  private snapshotPosition = -1;
  /** Last cursor position written. */
  private committedPosition = -1;
  private lastSnapshotAt = 0;
  private forceSnapshot = false;
  /** First record number this consumer still holds (undefined before the first record). */
  private heldFrom?: number;
  private lastReceived = -1;
  private queue: QueuedRecords[] = [];
  private readonly earlyChanges: Array<{ entity: string; entityId: string }> = [];
  private queued = 0;
  /** Records of the start-up replay (`replay: true`) received and not yet processed. */
  private replayQueued = 0;
  private chain: Promise<void> = Promise.resolve();
  private draining = false;
  private tickQueued = false;
  private timer?: NodeJS.Timeout;
  private readonly counters: Omit<
    AlertEngineHostStats,
    'lag' | 'position' | 'snapshotPosition' | 'lastCommitMs'
  > = {
    evaluated: 0,
    warmUp: 0,
    skipped: 0,
    changes: 0,
    commits: 0,
    commitFailures: 0,
    aqiHoursEmitted: 0,
    outOfOrder: 0,
    aqiClosedHourReadings: 0,
    derivedFailures: 0,
  };
  private lastCommitMs: number | null = null;

  /** The commits' failures: a database outage logged once (and its end), not at every retry. */
  private readonly commitLog: DatabaseTaskLog;

  constructor(private readonly options: AlertEngineHostOptions) {
    this.commitLog = new DatabaseTaskLog(options.logger, 'alert engine commit');
    this.engine = new AlertEngine({
      directory: options.directory,
      valueBand: aqiValueBand,
      ...(options.newAlertId ? { newAlertId: options.newAlertId } : {}),
    });
    this.clock = options.clock ?? Date.now;
    this.snapshotIntervalMs = options.snapshotIntervalMs ?? 5000;
    this.tickMs = options.tickMs ?? 1000;
    this.aqiHourGraceMs = options.aqiHourGraceMs ?? 10 * 60_000;
    this.snapshotHeldRecords = options.snapshotHeldRecords ?? SNAPSHOT_HELD_RECORDS;
    this.retryInitialMs = options.retryInitialMs ?? 200;
    this.retryMaxMs = options.retryMaxMs ?? 10_000;
    this.cursorName = options.cursorName ?? ALERT_ENGINE_CURSOR;
  }

  /** SpoolConsumer: the sink's link (releases, derived readings), during its open(). */
  attach(link: SpoolConsumerLink): void {
    this.link = link;
  }

  /**
   * Loads the durable state and starts the tick timer. Call it BEFORE the broker opens the spool
   * (the replay arrives during that open).
   * @throws Error when the database cannot be read or the stored snapshot is not one of this
   *   version (the broker does not start: evaluating without it could fire alerts twice)
   */
  async start(): Promise<void> {
    if (this.state !== 'new') throw new Error('AlertEngineHost.start: already started');
    this.state = 'starting';
    const { alerts, rules, logger } = this.options;
    const cursor = await alerts.loadCursor(this.cursorName);
    if (cursor) {
      this.warmThrough = cursor.position;
      this.position = cursor.position;
      this.committedPosition = cursor.position;
      if (cursor.snapshot !== null && cursor.snapshotPosition !== null) {
        const snap = cursor.snapshot as Partial<HostSnapshot>;
        if (snap.v !== HOST_SNAPSHOT_VERSION) {
          throw new Error(
            `alert engine snapshot: version ${String(snap.v)}, expected ${HOST_SNAPSHOT_VERSION}`,
          );
        }
        this.engine.restore(snap.engine);
        this.tracker = HourlyAqiTracker.restore(snap.aqi);
        this.skipThrough = cursor.snapshotPosition;
        this.snapshotPosition = cursor.snapshotPosition;
      }
    }
    this.engine.loadOpenAlerts(await alerts.openAlertsWithSeq());
    const now = this.clock();
    const stored = await rules.all();
    const initial = [...this.engine.setRules(stored, now)];
    this.engine.resume(now);
    this.lastSnapshotAt = now;
    for (const e of this.engine.ruleErrors) logger.warn(e, 'alert rule not evaluated');
    if (initial.length > 0) await this.commit(initial, false);
    logger.info(
      {
        cursor: this.warmThrough,
        snapshotPosition: this.skipThrough,
        openAlerts: this.engine.openAlerts().length,
        rules: stored.length,
      },
      'alert engine started',
    );
    if ((this.state as string) === 'closed') return; // abandoned while starting (lease lost)
    this.state = 'running';
    const early = this.earlyChanges.splice(0);
    if (early.length > 0) this.registryChanged(early);
    this.timer = setInterval(() => this.scheduleTick(), this.tickMs);
    this.timer.unref();
  }

  /** SpoolConsumer: queues the records; the loop evaluates them. Never throws. */
  onRecords(readings: Reading[], _bodies: Buffer[], firstIndex: number, replay: boolean): void {
    if (readings.length === 0) return;
    if (this.heldFrom === undefined) this.heldFrom = firstIndex;
    if (firstIndex !== this.lastReceived + 1 && this.lastReceived >= 0) {
      this.options.logger.error(
        { expected: this.lastReceived + 1, got: firstIndex },
        'alert engine: spool records not contiguous',
      );
    }
    this.lastReceived = firstIndex + readings.length - 1;
    if (this.state === 'closing' || this.state === 'closed') return; // held: replayed at the next start
    this.queue.push({ readings, firstIndex, replay });
    this.queued += readings.length;
    if (replay) this.replayQueued += readings.length;
    this.scheduleDrain();
  }

  /** The broker's registry sync: rules reloaded, a person's step applied, devices changed. */
  registryChanged(changes: ReadonlyArray<{ entity: string; entityId: string }>): void {
    if (this.state === 'new' || this.state === 'starting') {
      // start() may have read the rules before this change: apply it once running
      this.earlyChanges.push(...changes);
      return;
    }
    if (this.state !== 'running') return;
    const changedRules = [...new Set(changes.filter((c) => c.entity === 'rule').map((c) => c.entityId))];
    const rulesChanged = changedRules.length > 0;
    const alertIds = [...new Set(changes.filter((c) => c.entity === 'alert').map((c) => c.entityId))];
    const areas = changes.some((c) => c.entity === 'area');
    const deviceIds = [...new Set(changes.filter((c) => c.entity === 'device').map((c) => c.entityId))];
    void this.serial('registry change', async () => {
      const now = this.clock();
      const out: AlertChange[] = [];
      const ids = areas ? [...this.options.directory.devices()].map((d) => d.id) : deviceIds;
      for (const id of ids) out.push(...this.engine.deviceChanged(id, now));
      if (rulesChanged) {
        const stored = await this.options.rules.all();
        out.push(...this.engine.setRules(stored, now));
        for (const e of this.engine.ruleErrors) this.options.logger.warn(e, 'alert rule not evaluated');
        this.options.logger.info({ changed: changedRules, rules: stored.length }, 'alert rules reloaded');
      }
      for (const id of alertIds) {
        const found = await this.options.alerts.getWithSeq(id);
        if (!found) continue;
        this.engine.applyExternal(found.alert, found.lastSeq);
        // A person's step is pushed live only by the API node that handled it: tell every node.
        const transitions = await this.options.alerts.transitions(id);
        const last = transitions[transitions.length - 1];
        if (last) this.publish([{ alert: found.alert, transition: last }]);
      }
      if (out.length > 0) await this.commit(out, false);
    });
  }

  /** The DeviceStatusTracker's changes (the broker's `publish` callback): status rules. */
  deviceStatuses(statuses: readonly DeviceStatus[]): void {
    if (this.state !== 'running') return;
    const steps = statuses.filter((s) => s.status !== 'unknown');
    if (steps.length === 0) return;
    void this.serial('device status', async () => {
      const out: AlertChange[] = [];
      for (const s of steps) {
        const at = s.since === null ? this.clock() : Date.parse(s.since);
        out.push(...this.engine.deviceStatus(s.deviceId, s.status === 'online', at));
      }
      if (out.length > 0) await this.commit(out, false);
    });
  }

  /**
   * Stops at once, without committing anything more: the lease was lost (or is about to expire
   * before it could be renewed). What is queued is dropped — the next holder reads it again from
   * the committed position — and a commit in flight or retrying fails. Synchronous, idempotent.
   */
  abandon(): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    clearInterval(this.timer);
    this.queue = [];
    this.queued = 0;
    this.replayQueued = 0;
  }

  /**
   * The first input position this host needs (after start()): the one after its snapshot. An input
   * that can seek (the Redis stream) starts reading there; the host skips, warms up and evaluates
   * from it as it does the spool's replay.
   */
  resumePosition(): number {
    return this.skipThrough + 1;
  }

  /**
   * Stops taking records, finishes the batch in flight and what is queued, commits a final
   * snapshot and releases up to it. Records arriving afterwards stay held (replayed next start).
   */
  async close(): Promise<void> {
    if (this.state === 'closed' || this.state === 'closing') return;
    const wasRunning = this.state === 'running';
    this.state = 'closing';
    clearInterval(this.timer);
    await this.chain;
    if (wasRunning && this.position > this.snapshotPosition) {
      this.forceSnapshot = true;
      await this.serial('final snapshot', () => this.commit([], true));
    }
    this.state = 'closed';
  }

  /**
   * Counts a reading the engine ignored as older than the device's newest (or, `aqi`, that came
   * for an hour whose VN_AQI is closed), and warns naming the device — at most once per device per
   * OUT_OF_ORDER_WARN_EVERY_MS, with how many such readings came since its last warning.
   */
  private noteOutOfOrder(r: Reading, now: number, what: 'rules' | 'aqi' = 'rules'): void {
    if (what === 'rules') this.counters.outOfOrder++;
    const key = `${what}:${r.deviceId}`;
    const last = this.outOfOrderWarned.get(key);
    if (last !== undefined && now - last.at < OUT_OF_ORDER_WARN_EVERY_MS) {
      last.count++;
      return;
    }
    if (this.outOfOrderWarned.size >= 10_000) this.outOfOrderWarned.clear();
    this.outOfOrderWarned.set(key, { at: now, count: 0 });
    this.options.logger.warn(
      { deviceId: r.deviceId, ts: new Date(r.ts).toISOString(), since: (last?.count ?? 0) + 1 },
      what === 'rules'
        ? 'alert engine: reading older than the newest one evaluated for this device is ignored (another feed ahead of it, e.g. a simulator scenario beside npm start?)'
        : 'alert engine: air-quality reading for an hour whose VN_AQI is already closed is ignored',
    );
  }

  stats(): AlertEngineHostStats {
    return {
      ...this.counters,
      lag: this.queued,
      lastCommitMs: this.lastCommitMs,
      position: this.position,
      snapshotPosition: this.snapshotPosition,
    };
  }

  /**
   * Resolves once nothing is queued or running (every record received so far processed and its
   * commit done, derived readings included): tests and the broker's orderly shutdown.
   */
  async whenIdle(): Promise<void> {
    for (;;) {
      await this.chain;
      if (this.queue.length === 0 && !this.draining && !this.tickQueued) return;
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  /** The engine's open alerts (tests, diagnostics). */
  openAlertCount(): number {
    return this.engine.openAlerts().length;
  }

  /** Runs `work` after everything queued before it; logs (never rethrows) a failure. */
  private serial(what: string, work: () => Promise<void>): Promise<void> {
    const run = this.chain.then(work).catch((error: unknown) => {
      this.options.logger.error({ err: error, step: what }, 'alert engine step failed');
    });
    this.chain = run;
    return run;
  }

  private scheduleDrain(): void {
    if (this.draining) return;
    this.draining = true;
    void this.serial('records', async () => {
      try {
        while (this.queue.length > 0 && this.state !== 'closed') {
          const batch = this.queue;
          this.queue = [];
          await this.processBatch(batch);
        }
      } finally {
        this.draining = false;
      }
    });
  }

  private scheduleTick(): void {
    if (this.tickQueued || !this.tickAllowed()) return;
    this.tickQueued = true;
    void this.serial('tick', async () => {
      this.tickQueued = false;
      if (!this.tickAllowed()) return;
      const now = this.clock();
      const changes = [...this.engine.tick(now)];
      const hours = this.tracker.closeHoursBefore(now, this.aqiHourGraceMs);
      if (hours.length > 0) {
        await this.appendDerived(this.derivedReadings(hours));
        this.forceSnapshot = true;
      }
      if (changes.length > 0 || this.forceSnapshot || this.snapshotDue(now)) {
        await this.commit(changes, true);
      }
    });
  }

  /**
   * Not while the records pending from before a restart are drained, nor while a backlog larger
   * than TICK_MAX_QUEUED waits (the engine's timers then wait for the records that may still
   * refresh them); under a steady load the queue is short and ticks run between batches.
   */
  private tickAllowed(): boolean {
    return this.state === 'running' && this.replayQueued === 0 && this.queued <= TICK_MAX_QUEUED;
  }

  private snapshotDue(now: number): boolean {
    if (this.forceSnapshot) return true;
    if (this.position <= this.snapshotPosition) return false;
    return (
      now - this.lastSnapshotAt >= this.snapshotIntervalMs ||
      this.position - this.snapshotPosition >= this.snapshotHeldRecords
    );
  }

  private async processBatch(batch: QueuedRecords[]): Promise<void> {
    const now = this.clock();
    const changes: AlertChange[] = [];
    const hours: HourlyAqiRecord[] = [];
    let count = 0;
    for (const { readings, firstIndex, replay } of batch) {
      count += readings.length;
      if (replay) this.replayQueued -= readings.length;
      if (!replay && firstIndex <= this.warmThrough) {
        // A live record numbered at or below the stored cursor: the spool directory was replaced.
        this.options.logger.warn(
          { firstIndex, cursor: this.warmThrough },
          'alert engine: the spool restarted its numbering below the stored cursor; continuing from it',
        );
        this.skipThrough = this.warmThrough = firstIndex - 1;
        this.position = this.snapshotPosition = firstIndex - 1;
        this.heldFrom = firstIndex;
        this.forceSnapshot = true;
      }
      for (let k = 0; k < readings.length; k++) {
        const index = firstIndex + k;
        const r = readings[k] as Reading;
        if (index <= this.skipThrough) {
          this.counters.skipped++;
          continue;
        }
        if (index <= this.warmThrough || index <= this.position) {
          this.engine.evaluate(r, { warmUp: true, arrivedAt: now });
          if (feedsAqi(r)) this.tracker.add({ stationId: r.deviceId, ts: r.ts, metrics: r.metrics });
          if (index > this.position) this.position = index;
          this.counters.warmUp++;
          continue;
        }
        const olderBefore = this.engine.outOfOrder;
        const out = this.engine.evaluate(r, { arrivedAt: now });
        for (const c of out) changes.push(c);
        if (this.engine.outOfOrder > olderBefore) this.noteOutOfOrder(r, now);
        if (feedsAqi(r)) {
          const closedBefore = this.tracker.closedHourReadings;
          for (const h of this.tracker.add({ stationId: r.deviceId, ts: r.ts, metrics: r.metrics }))
            hours.push(h);
          if (this.tracker.closedHourReadings > closedBefore) {
            this.counters.aqiClosedHourReadings++;
            this.noteOutOfOrder(r, now, 'aqi');
          }
        }
        this.position = index;
        this.counters.evaluated++;
      }
    }
    this.queued -= count;
    if (hours.length > 0) await this.appendDerived(this.derivedReadings(hours));
    if (changes.length > 0 || hours.length > 0 || this.snapshotDue(now)) await this.commit(changes, true);
    else this.releaseThrough(Math.min(this.snapshotPosition, this.position));
  }

  private derivedReadings(hours: readonly HourlyAqiRecord[]): Reading[] {
    const out: Reading[] = [];
    for (const h of hours) {
      const base = this.options.readingBase(h.stationId);
      if (!base) {
        this.options.logger.warn(
          { deviceId: h.stationId, ts: h.ts },
          'hourly AQI of an unknown station dropped',
        );
        continue;
      }
      out.push({ ...base, kind: 'telemetry', ts: h.ts, metrics: { aqi: h.aqi, aqiDominant: h.dominant } });
    }
    return out;
  }

  /** Appends derived readings, each durable before this resolves; retries a full spool with backoff. */
  private async appendDerived(readings: readonly Reading[]): Promise<void> {
    const link = this.link;
    if (!link) throw new Error('alert engine host: not attached to the spool');
    let wait = this.retryInitialMs;
    let pending = [...readings];
    for (;;) {
      const results = await Promise.allSettled(pending.map((r) => link.appendDerived(r)));
      const failed = pending.filter((_, i) => results[i]?.status === 'rejected');
      this.counters.aqiHoursEmitted += pending.length - failed.length;
      if (failed.length === 0) return;
      this.counters.derivedFailures += failed.length;
      const reason = (results.find((r) => r.status === 'rejected') as PromiseRejectedResult)
        .reason as unknown;
      const full = reason instanceof SpoolFullError;
      this.options.logger.warn(
        { err: reason, derived: failed.length, retryInMs: wait },
        full ? 'spool full: derived AQI readings wait' : 'appending derived AQI readings failed',
      );
      if (this.state === 'closed' || (!full && this.state !== 'running')) throw reason;
      await sleep(wait);
      wait = Math.min(wait * 2, this.retryMaxMs);
      pending = failed;
    }
  }

  /**
   * Commits `changes` with the cursor at the last record processed (and a snapshot when due, when
   * `withSnapshot` allows it), retrying with backoff; then releases up to the snapshot and publishes.
   */
  private async commit(changes: AlertChange[], withSnapshot: boolean): Promise<void> {
    const now = this.clock();
    const snapshot = withSnapshot && this.snapshotDue(now);
    const cursor: CursorWrite = { name: this.cursorName, position: this.position };
    if (snapshot) {
      const state: HostSnapshot = {
        v: HOST_SNAPSHOT_VERSION,
        engine: this.engine.snapshot(),
        aqi: this.tracker.snapshot(),
      };
      cursor.snapshot = state;
      cursor.snapshotPosition = this.position;
    }
    if (changes.length === 0 && !snapshot && this.position === this.committedPosition) return;
    let wait = this.retryInitialMs;
    for (;;) {
      const started = performance.now();
      try {
        if (this.state === 'closed') throw new Error('alert engine host: closed (lease lost)');
        const fence = this.options.fence;
        const result = await this.options.alerts.commit({ changes, cursor, ...(fence ? { fence } : {}) });
        this.lastCommitMs = Math.round(performance.now() - started);
        this.counters.commits++;
        this.commitLog.succeeded();
        this.counters.changes += result.applied.length;
        this.committedPosition = cursor.position;
        if (snapshot) {
          this.snapshotPosition = cursor.position;
          this.lastSnapshotAt = now;
          this.forceSnapshot = false;
        }
        for (const s of result.skipped) {
          this.options.logger.info(
            { alertId: s.change.alert.id, seq: s.change.transition.seq, reason: s.reason },
            'alert change not stored',
          );
        }
        this.releaseThrough(this.snapshotPosition);
        if (result.applied.length > 0) this.publish(result.applied);
        return;
      } catch (error) {
        this.counters.commitFailures++;
        if (error instanceof LeaseLostError) {
          this.options.logger.warn(
            { token: error.fence.token, changes: changes.length, position: cursor.position },
            'alert engine: lease lost; this node stops evaluating (its last commit rolled back)',
          );
          this.abandon();
          this.options.onLeaseLost?.(error);
          throw error;
        }
        if (isDatabaseUnavailable(error)) this.commitLog.failed(error, 'alert engine commit failed');
        else
          this.options.logger.error(
            { err: error, changes: changes.length, position: cursor.position, retryInMs: wait },
            'alert engine commit failed; retrying (records stay held)',
          );
        if (this.state === 'closing' || this.state === 'closed') throw error;
        await sleep(wait);
        wait = Math.min(wait * 2, this.retryMaxMs);
      }
    }
  }

  private publish(events: AlertChange[]): void {
    for (let i = 0; i < events.length; i += ALERT_EVENTS_PER_MESSAGE) {
      try {
        this.options.publish(events.slice(i, i + ALERT_EVENTS_PER_MESSAGE));
      } catch (error) {
        this.options.logger.error(
          { err: error },
          'publishing alert events failed (the notifier reads the database)',
        );
      }
    }
  }

  /** Releases this consumer's records up to `last` (never beyond what it received). */
  private releaseThrough(last: number): void {
    const link = this.link;
    if (!link || this.heldFrom === undefined) return;
    const upTo = Math.min(last, this.lastReceived);
    if (upTo < this.heldFrom) return;
    try {
      link.release(this.heldFrom, upTo - this.heldFrom + 1);
      this.heldFrom = upTo + 1;
    } catch (error) {
      this.options.logger.error(
        { err: error, from: this.heldFrom, through: upTo },
        'alert engine release failed',
      );
    }
  }
}
