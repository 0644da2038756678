import {
  DEVICE_TYPE_CONTRACTS,
  SILENCE_TIMEOUT_INTERVALS,
  STATUS_METRICS,
  derivedMetricsOf,
  isMetricName,
  metricsOf,
  type Alert,
  type AlertResolution,
  type AlertState,
  type AlertTransition,
  type LocalizedText,
  type MetricValue,
  type Reading,
  type RuleDefinition,
  type Severity,
  type StoredRule,
} from '@ioc/contracts';
import { compileRule, ruleActiveAt, scopeCovers, severityRank, type CompiledRule } from './compile';
import type { AlertChange, EngineDevice, EngineDirectory, LoadedAlert } from './directory';
import { renderMessage, unitOf } from './messages';
import { RollingWindow, windowBuckets } from './rolling-window';

/** Version of `snapshot()`'s format; `restore` refuses others. */
export const ENGINE_SNAPSHOT_VERSION = 1;

const STATUS_METRIC_SET: ReadonlySet<string> = new Set(STATUS_METRICS);

/** Returned when a step changes nothing (shared, frozen: no allocation per reading). */
const NO_CHANGES: readonly AlertChange[] = Object.freeze([]);
const ENGINE_ACTOR = Object.freeze({ kind: 'engine' as const });

/** The per-alert memory besides the alert row. */
interface OpenAlert {
  /** The alert as of its last transition (never handed out: changes carry copies). */
  alert: Alert;
  /** `seq` of its last transition. */
  seq: number;
  /** threshold/areaAggregate: reading time from which the clear condition has held (keep firing for). */
  clearSince: number | null;
  /** event: time of the last occurrence. */
  lastOccurrence: number | null;
}

interface RuleState {
  rule: CompiledRule;
  /** Open alerts by subject id (the same Map across versions of the rule). */
  open: Map<string, OpenAlert>;
  /** areaAggregate: per area of scope.areaIds, its covered devices and their contributions (lazy). */
  areas: Map<string, AreaState> | null;
  /** noData: covered device ids (built lazily). */
  covered: string[] | null;
  /** `directoryGeneration` the two caches above were built at. */
  cacheGeneration: number;
}

interface MetricPlan {
  /** threshold and areaAggregate rules on this metric that cover the device. */
  rules: RuleState[];
  /** Window keys (`metric/seconds`) those rules read, each once. */
  windows: Array<{ key: string; seconds: number }>;
  /** Whether a covering rule needs the previous value (rateOfChange). */
  trackPrevious: boolean;
}
const EMPTY_PLAN: MetricPlan = Object.freeze({ rules: [], windows: [], trackPrevious: false }) as MetricPlan;

interface DeviceEntry {
  id: string;
  /** Undefined only for an entry restored from a snapshot whose device the directory no longer has. */
  device: EngineDevice | undefined;
  /** Rule generation the plans below were built at. */
  generation: number;
  plans: Map<string, MetricPlan>;
  eventPlans: Map<string, RuleState[]>;
  statusRules: RuleState[] | null;
  noDataRules: RuleState[] | null;
  /** Newest reading ts (any kind), −Infinity before the first. */
  lastSeen: number;
  /**
   * How far that newest reading arrived after its own ts, ms (≥ 0; 0 unless `evaluate` was given
   * `arrivedAt`): the device's clock lag. A device replaying a store-and-forward backlog, or a
   * simulator scenario stamped in the past, runs behind the platform's clock by this much, and
   * `tick(now)` judges its timers at `now − lag` (its own time), not at `now`.
   */
  lag: number;
  /** Previous value per metric (only metrics a rateOfChange rule of the device reads). */
  previous: Map<string, { value: number; ts: number }>;
  /**
   * Newest ts evaluated per metric (metrics some rule reads). A reading of a metric at or before it
   * is a repeat (MQTT QoS 1 redelivery, a device resending after a broker restart) or stale: it is
   * neither evaluated nor added to windows, so it can never re-open an alert its newer readings
   * closed — the same observation the stores keep once (point identity: device, metric, ts).
   */
  lastTs: Map<string, number>;
  windows: Map<string, RollingWindow>;
}

/** An entry whose device is known (every entry evaluation uses). */
type ReadyEntry = DeviceEntry & { device: EngineDevice };

const isReady = (e: DeviceEntry): e is ReadyEntry => e.device !== undefined;

/** Options of `AlertEngine`. */
export interface AlertEngineOptions {
  directory: EngineDirectory;
  /** New alert ids (default: `crypto.randomUUID()`, UUID v4 per RFC 9562). */
  newAlertId?: () => string;
  /**
   * `incremental` (default): an area aggregate recomputes only the reporting device's window mean
   * while no bucket rolled; `full`: every covered device's, every time (the reference the tests
   * compare the incremental one against). Both give identical results.
   */
  areaAggregates?: 'incremental' | 'full';
  /**
   * The named band of a value on its metric's scale, for the `{band}` placeholder (undefined: no
   * band). The platform passes @ioc/aqi's `aqiValueBand` (VN_AQI bands of metric `aqi`); this
   * library imports no scale itself. Default: none.
   */
  valueBand?: (metric: string, value: MetricValue) => LocalizedText | undefined;
}

/** Options of `evaluate`. */
export interface EvaluateOptions {
  /**
   * Warm-up (replay after a restart of what was already evaluated): update windows, previous values
   * and last-seen times, and the clocks of open alerts (keep firing for, last event occurrence)
   * from their `firingAt`/`pendingAt` on; emit no change and change no alert.
   */
  warmUp?: boolean;
  /**
   * When the reading reached the platform (epoch ms, the host's clock; default: `reading.ts`).
   * Only timers use it: `tick(now)` measures a device's silence (no data) by arrival, and its keep
   * firing for / event expiry at `now − (arrivedAt − ts)` of its newest reading, so a device whose
   * readings arrive hours after their timestamps (a backlog, a scenario) neither looks silent nor
   * has its alerts expire while it is still reporting. Never changes a reading-driven step.
   */
  arrivedAt?: number;
}

/** What `dryRun` answers. */
export interface DryRunResult {
  /** Ids of the devices the rule covers (sorted). */
  covered: string[];
  /** What it would have done over the readings, in order. */
  changes: AlertChange[];
}

/**
 * The pure alert engine: rules in, readings and times in, alert changes out. No IO, no timers, no
 * clock: reading-driven steps happen at `reading.ts`, timer-driven ones (`tick`) at the moment they
 * became due, so the same inputs always give the same changes (and the same alert ids, given the same
 * `newAlertId`).
 *
 * Life cycle (Prometheus / Alertmanager terms): one open alert per (rule, subject); it opens
 * `pending` (`opened` transition) when the condition first holds and `forSeconds > 0`, or straight
 * `firing` (one `fired` transition from null) when `forSeconds` is 0; a pending alert fires at the
 * first evaluation ≥ forSeconds after `pendingAt` where the condition still holds, and is resolved
 * `not-fired` at the first where it does not. An open (firing / acknowledged) alert is resolved
 * only by its clear condition (hysteresis) held for `keepFiringForSeconds`, by the rule no longer
 * applying (`out-of-schedule`, `rule-changed`, `rule-deleted`) or by a person (`applyExternal`).
 * Escalations raise the severity of a firing or acknowledged alert (`escalated`, the state kept),
 * never lower it. Transitions are numbered per alert (`seq` 1, 2, …).
 *
 * Expected call order at start: `restore(snapshot)` → `loadOpenAlerts(open)` → `setRules(rules, now)`
 * (so alerts of rules deleted while the engine was down are resolved), then warm-up replay, then
 * normal evaluation.
 */
export class AlertEngine {
  private readonly directory: EngineDirectory;
  private readonly newAlertId: () => string;
  private ruleStates: RuleState[] = [];
  private readonly byId = new Map<string, RuleState>();
  private byMetric = new Map<string, RuleState[]>();
  private byEvent = new Map<string, RuleState[]>();
  private statusRules: RuleState[] = [];
  private noDataRules: RuleState[] = [];
  /** Open alerts per rule id; kept across rule versions. */
  private readonly open = new Map<string, Map<string, OpenAlert>>();
  private readonly devices = new Map<string, DeviceEntry>();
  private readonly ruleLoadedAt = new Map<string, number>();
  /** Clocks of alerts restored before `loadOpenAlerts` brought the alerts themselves, by alert id. */
  private readonly restoredClocks = new Map<
    string,
    { clearSince: number | null; lastOccurrence: number | null }
  >();
  private generation = 0;
  private directoryGeneration = 0;
  /** Bumped when windows change outside evaluation (warm-up, restore): area aggregates recompute. */
  private areaEpoch = 0;
  private readonly fullAreaRecompute: boolean;
  private readonly valueBand: AlertEngineOptions['valueBand'];
  private errors: Array<{ ruleId: string; error: string }> = [];
  private outOfOrderCount = 0;

  constructor(o: AlertEngineOptions) {
    this.directory = o.directory;
    this.newAlertId = o.newAlertId ?? (() => globalThis.crypto.randomUUID());
    this.fullAreaRecompute = o.areaAggregates === 'full';
    this.valueBand = o.valueBand;
  }

  /**
   * Readings `evaluate` (not in warm-up) ignored, wholly or in part, as OLDER than the newest
   * reading of the same device and metric it had evaluated (see DeviceEntry.lastTs): e.g. a
   * simulator scenario stamped hours ago run beside a live feed of the same device. Repeats at the
   * same ts (QoS 1 redeliveries) are not counted. Since construction; not in the snapshot.
   */
  get outOfOrder(): number {
    return this.outOfOrderCount;
  }

  /** Rules `setRules` could not compile (skipped; their open alerts resolved `rule-changed`). */
  get ruleErrors(): ReadonlyArray<{ ruleId: string; error: string }> {
    return this.errors;
  }

  /**
   * Replaces the rule set (all rules, enabled or not). A rule whose version changed keeps the open
   * alerts of subjects it still covers (the next transition records the new version) and resolves
   * the others (`rule-changed`); a disabled or uncompilable rule resolves all of its alerts
   * (`rule-changed`), a rule no longer given all of its alerts (`rule-deleted`). Resolutions happen
   * at `now` (epoch ms), which is also the "loaded at" time of new rules (no-data of devices never
   * seen counts from it).
   */
  setRules(rules: readonly StoredRule[], now: number): readonly AlertChange[] {
    const given = new Set<string>();
    const compiled = new Map<string, CompiledRule>();
    const errors: Array<{ ruleId: string; error: string }> = [];
    for (const stored of rules) {
      given.add(stored.definition.id);
      if (!stored.definition.enabled) continue;
      try {
        compiled.set(stored.definition.id, compileRule(stored));
      } catch (e) {
        errors.push({ ruleId: stored.definition.id, error: e instanceof Error ? e.message : String(e) });
      }
    }
    this.errors = errors;
    const out: AlertChange[] = [];
    for (const [ruleId, openMap] of this.open) {
      const next = compiled.get(ruleId);
      const previous = this.byId.get(ruleId)?.rule;
      for (const [subjectId, o] of openMap) {
        let reason: AlertResolution | null = null;
        if (!next) reason = given.has(ruleId) ? 'rule-changed' : 'rule-deleted';
        else if (!previous || previous.version !== next.version || o.alert.ruleVersion !== next.version) {
          if (!this.stillCovers(next, o.alert)) reason = 'rule-changed';
        }
        if (reason)
          out.push(this.resolve(openMap, subjectId, o, previous ?? next ?? null, now, o.alert.value, reason));
      }
      if (openMap.size === 0 && !next) this.open.delete(ruleId);
    }
    this.ruleStates = [];
    this.byId.clear();
    this.byMetric = new Map();
    this.byEvent = new Map();
    this.statusRules = [];
    this.noDataRules = [];
    for (const rule of [...compiled.values()].sort((a, b) => cmp(a.id, b.id))) {
      const id = rule.id;
      let openMap = this.open.get(id);
      if (!openMap) this.open.set(id, (openMap = new Map()));
      const rs: RuleState = { rule, open: openMap, areas: null, covered: null, cacheGeneration: -1 };
      this.ruleStates.push(rs);
      this.byId.set(id, rs);
      if (!this.ruleLoadedAt.has(id)) this.ruleLoadedAt.set(id, now);
      switch (rule.kind) {
        case 'threshold':
        case 'areaAggregate':
          if (rule.metric !== null) push(this.byMetric, rule.metric, rs);
          break;
        case 'event':
          if (rule.event !== null) push(this.byEvent, rule.event, rs);
          break;
        case 'status':
          this.statusRules.push(rs);
          break;
        case 'noData':
          this.noDataRules.push(rs);
          break;
      }
    }
    for (const id of [...this.ruleLoadedAt.keys()]) if (!compiled.has(id)) this.ruleLoadedAt.delete(id);
    for (const [id, openMap] of this.open) if (openMap.size === 0 && !compiled.has(id)) this.open.delete(id);
    this.generation++;
    return sortChanges(out);
  }

  /**
   * Loads open alerts (from the database, at start). Resolved ones are ignored. Clocks (keep firing
   * for, last event occurrence) come from a `restore`d snapshot when it knew the alert; otherwise they
   * restart: keep-firing from the next reading where clear holds (a later resolution, never an
   * early one), an event's last occurrence from the alert's `updatedAt`.
   */
  loadOpenAlerts(alerts: readonly LoadedAlert[]): void {
    for (const { alert, lastSeq } of alerts) {
      if (alert.state === 'resolved') continue;
      let openMap = this.open.get(alert.ruleId);
      if (!openMap) this.open.set(alert.ruleId, (openMap = new Map()));
      const clocks = this.restoredClocks.get(alert.id);
      this.restoredClocks.delete(alert.id);
      openMap.set(alert.subjectId, {
        alert: { ...alert },
        seq: lastSeq,
        clearSince: clocks?.clearSince ?? null,
        lastOccurrence: clocks?.lastOccurrence ?? (alert.ruleKind === 'event' ? alert.updatedAt : null),
      });
    }
  }

  /**
   * A person acknowledged or resolved an alert elsewhere (the API); `lastSeq` is the `seq` of the
   * transition they wrote (the engine numbers its next steps after the larger of its own and this).
   * A resolved alert leaves the open set (the next reading that holds opens a new alert). An
   * acknowledgement is merged, not copied: the engine keeps what it decided since the person's view
   * was read (a higher severity, the value, the firing time) and takes the acknowledgement fields,
   * so a late notice never undoes an escalation; the alert keeps escalating and resolving. Alerts the
   * engine does not hold open (already resolved by it, or unknown) are ignored: a stale notice never
   * reopens one.
   */
  applyExternal(alert: Alert, lastSeq: number): void {
    const openMap = this.open.get(alert.ruleId);
    const current = openMap?.get(alert.subjectId);
    if (!openMap || !current || current.alert.id !== alert.id) return;
    current.seq = Math.max(current.seq, lastSeq);
    if (alert.state === 'resolved') {
      openMap.delete(alert.subjectId);
      return;
    }
    const a = current.alert;
    if (alert.state === 'acknowledged') {
      a.state = 'acknowledged';
      a.acknowledgedAt = alert.acknowledgedAt;
      a.acknowledgedBy = alert.acknowledgedBy;
      a.acknowledgementNote = alert.acknowledgementNote;
    }
    if (severityRank(alert.severity) > severityRank(a.severity)) a.severity = alert.severity;
    if (alert.updatedAt > a.updatedAt) a.updatedAt = alert.updatedAt;
  }

  /** Open alerts with their last `seq` (copies): what `loadOpenAlerts` takes back. */
  openAlerts(): LoadedAlert[] {
    const out: LoadedAlert[] = [];
    for (const openMap of this.open.values()) {
      for (const o of openMap.values()) out.push({ alert: { ...o.alert }, lastSeq: o.seq });
    }
    return out;
  }

  /**
   * The directory changed for device `id` (added, moved, re-attributed, removed): its cached rule
   * coverage is dropped, and its open alerts of rules that no longer cover it are resolved
   * (`rule-changed`) at `now`.
   */
  deviceChanged(id: string, now: number): readonly AlertChange[] {
    this.directoryGeneration++;
    const device = this.directory.device(id);
    const entry = this.devices.get(id);
    if (entry) {
      entry.device = device ?? entry.device;
      entry.generation = -1;
    }
    let out: AlertChange[] | null = null;
    for (const rs of this.ruleStates) {
      const o = rs.open.get(id);
      if (!o || o.alert.subjectKind !== 'device') continue;
      if (device && scopeCovers(rs.rule.scope, device)) continue;
      (out ??= []).push(this.resolve(rs.open, id, o, rs.rule, now, o.alert.value, 'rule-changed'));
    }
    return out ?? NO_CHANGES;
  }

  /**
   * Evaluates one reading at `reading.ts`: resolves the device's no-data alerts; feeds its windows and
   * previous values; evaluates the threshold and area-aggregate rules of each metric it carries and,
   * for an event, the event rules of `reading.event`. Cost: a map lookup per metric, then only the
   * rules covering the device (cached per device × metric); nothing is allocated unless an alert
   * changes (the first reading of a device × metric builds its plan once).
   */
  evaluate(reading: Reading, o?: EvaluateOptions): readonly AlertChange[] {
    const warmUp = o?.warmUp === true;
    if (warmUp) this.areaEpoch++; // windows change without area rules seeing it
    const entry = this.entryFor(reading);
    const ts = reading.ts;
    if (ts >= entry.lastSeen) {
      entry.lastSeen = ts;
      entry.lag = o?.arrivedAt !== undefined && o.arrivedAt > ts ? o.arrivedAt - ts : 0;
    }
    let out: AlertChange[] | null = null;
    if (!warmUp) {
      for (const rs of this.noDataRulesOf(entry)) {
        const open = rs.open.get(entry.id);
        if (open) (out ??= []).push(this.resolve(rs.open, entry.id, open, rs.rule, ts, null, 'cleared'));
      }
      if (reading.kind === 'event' && reading.event !== undefined) {
        for (const rs of this.eventRulesOf(entry, reading.event)) out = this.onEvent(rs, entry, reading, out);
      }
    } else if (reading.kind === 'event' && reading.event !== undefined) {
      for (const rs of this.eventRulesOf(entry, reading.event)) this.warmEventClock(rs, entry, reading);
    }
    const metrics = reading.metrics;
    let older = false;
    for (const metric in metrics) {
      const plan = this.planFor(entry, metric);
      if (plan === EMPTY_PLAN) continue;
      const seen = entry.lastTs.get(metric);
      if (seen !== undefined && ts <= seen) {
        // A repeat (same ts) or an older reading of this metric: not evaluated.
        if (ts < seen) older = true;
        continue;
      }
      entry.lastTs.set(metric, ts);
      const value = metrics[metric];
      const isNumber = typeof value === 'number' && Number.isFinite(value);
      if (isNumber) for (const w of plan.windows) this.windowOf(entry, w.key, w.seconds).add(ts, value);
      let rate = Number.NaN;
      let previous: { value: number; ts: number } | undefined;
      if (plan.trackPrevious && isNumber) {
        previous = entry.previous.get(metric);
        if (previous && ts > previous.ts) rate = ((value - previous.value) * 60_000) / (ts - previous.ts);
      }
      if (!warmUp) for (const rs of plan.rules) out = this.evaluateLevelRule(rs, entry, value, rate, ts, out);
      else
        for (const rs of plan.rules) if (rs.open.size > 0) this.warmLevelClocks(rs, entry, value, rate, ts);
      if (plan.trackPrevious && isNumber) {
        if (!previous) entry.previous.set(metric, { value, ts });
        else if (ts > previous.ts) {
          previous.value = value;
          previous.ts = ts;
        }
      }
    }
    if (older && !warmUp) this.outOfOrderCount++;
    return out ?? NO_CHANGES;
  }

  /**
   * The device's connection status changed at `at` (epoch ms): offline opens an alert of each
   * `status` rule covering it (pending when `forSeconds`, fired by a later call or `tick` once it has
   * lasted that long), online resolves them (`not-fired` while pending, else `cleared`).
   */
  deviceStatus(deviceId: string, online: boolean, at: number): readonly AlertChange[] {
    const entry = this.entryForId(deviceId);
    if (!entry) return NO_CHANGES;
    let out: AlertChange[] | null = null;
    for (const rs of this.statusRulesOf(entry)) {
      const rule = rs.rule;
      const open = rs.open.get(deviceId);
      if (!ruleActiveAt(rule, at)) {
        if (open) (out ??= []).push(this.resolve(rs.open, deviceId, open, rule, at, null, 'out-of-schedule'));
        continue;
      }
      if (online) {
        if (open) {
          const reason = open.alert.state === 'pending' ? 'not-fired' : 'cleared';
          (out ??= []).push(this.resolve(rs.open, deviceId, open, rule, at, true, reason));
        }
      } else if (!open) {
        (out ??= []).push(
          this.openAlert(rs, deviceId, entry.device, entry.device.areaId, false, at, rule.severity),
        );
      } else if (open.alert.state === 'pending' && at - open.alert.pendingAt >= rule.forMs) {
        (out ??= []).push(this.fire(open, rule, at, false, open.alert.severity));
      }
    }
    return out ?? NO_CHANGES;
  }

  /**
   * The host listens again from `now` (epoch ms, its clock) after a restart: the platform's downtime
   * does not count as devices' silence. Each known device counts as heard at `now` at the latest
   * (its lag grows so that ts + lag ≥ now: its timers resume where its newest reading left them,
   * until a reading arriving on time resets the lag), and never-seen devices' silence counts from
   * `now`. Call it once after `setRules` at start; changes nothing else and emits nothing.
   */
  resume(now: number): void {
    for (const e of this.devices.values()) {
      if (e.lastSeen !== Number.NEGATIVE_INFINITY && e.lastSeen + e.lag < now) e.lag = now - e.lastSeen;
    }
    for (const [id, at] of this.ruleLoadedAt) if (at < now) this.ruleLoadedAt.set(id, now);
  }

  /**
   * Timer-driven steps due by `now` (epoch ms), each at the moment it became due (not at `now`), so
   * a late tick gives the same transitions as a punctual one:
   * - keep firing for: an alert whose clear condition has held since `clearSince` resolves at
   *   `clearSince + keepFiringFor`;
   * - events: an event alert resolves `keepFiringForSeconds` after its last occurrence;
   * - status: a pending offline alert fires at `pendingAt + forSeconds`;
   * - no data: a covered device silent for `silentSeconds` (default its silence timeout) since its
   *   last reading arrived (its ts plus how late it arrived: `evaluate`'s `arrivedAt`) — or, never
   *   seen, since the rule was loaded — fires at `last + silent + forSeconds` (no pending step:
   *   forSeconds only lengthens the silence);
   * - a device subject's keep firing for and event expiry are judged at `now − lag`, the device's
   *   own time (lag: how late its newest reading arrived), so a device replaying a backlog stamped
   *   hours ago keeps its alerts until its own readings say otherwise;
   * - schedules and validity: an open alert of a rule no longer active at `now` resolves
   *   (`out-of-schedule`) at `now`.
   * Changes are sorted by time, then rule id and subject.
   */
  tick(now: number): readonly AlertChange[] {
    const out: AlertChange[] = [];
    for (const rs of this.ruleStates) {
      const rule = rs.rule;
      const active = ruleActiveAt(rule, now);
      for (const [subjectId, o] of rs.open) {
        // A device subject's timers run on its own clock (see DeviceEntry.lag); an area's on `now`.
        const at = o.alert.subjectKind === 'device' ? now - (this.devices.get(subjectId)?.lag ?? 0) : now;
        if (!active) {
          out.push(this.resolve(rs.open, subjectId, o, rule, now, o.alert.value, 'out-of-schedule'));
          continue;
        }
        switch (rule.kind) {
          case 'threshold':
          case 'areaAggregate':
            if (
              o.clearSince !== null &&
              o.alert.state !== 'pending' &&
              at - o.clearSince >= rule.keepFiringMs
            ) {
              out.push(
                this.resolve(
                  rs.open,
                  subjectId,
                  o,
                  rule,
                  o.clearSince + rule.keepFiringMs,
                  o.alert.value,
                  'cleared',
                ),
              );
            }
            break;
          case 'event': {
            const last = o.lastOccurrence ?? o.alert.updatedAt;
            if (at - last >= rule.keepFiringMs) {
              const reason = o.alert.state === 'pending' ? 'not-fired' : 'cleared';
              out.push(
                this.resolve(rs.open, subjectId, o, rule, last + rule.keepFiringMs, o.alert.value, reason),
              );
            }
            break;
          }
          case 'status':
            if (o.alert.state === 'pending' && now - o.alert.pendingAt >= rule.forMs) {
              out.push(this.fire(o, rule, o.alert.pendingAt + rule.forMs, false, o.alert.severity));
            }
            break;
          case 'noData':
            break;
        }
      }
      if (rule.kind === 'noData' && active) this.tickNoData(rs, now, out);
    }
    return sortChanges(out);
  }

  /**
   * Everything besides the open alerts that evaluation depends on, JSON-safe and versioned
   * (`ENGINE_SNAPSHOT_VERSION`): per device its last-seen time, previous values and windows; per
   * open alert its clocks; per rule when it was loaded. Windows are stored bucket by bucket (at most
   * 60 buckets of 5 numbers per window).
   */
  snapshot(): EngineSnapshot {
    const devices: EngineSnapshot['devices'] = [];
    for (const e of this.devices.values()) {
      const previous: Array<[string, number, number]> = [];
      for (const [m, p] of e.previous) previous.push([m, p.value, p.ts]);
      const windows: Array<[string, ReturnType<RollingWindow['toJSON']>]> = [];
      for (const [k, w] of e.windows) windows.push([k, w.toJSON()]);
      if (
        e.lastSeen === Number.NEGATIVE_INFINITY &&
        previous.length === 0 &&
        windows.length === 0 &&
        e.lastTs.size === 0
      )
        continue;
      const lastSeen = e.lastSeen === Number.NEGATIVE_INFINITY ? null : e.lastSeen;
      const lastTs: Array<[string, number]> = [...e.lastTs];
      devices.push(
        lastTs.length > 0 || e.lag > 0
          ? [e.id, lastSeen, previous, windows, e.lag, lastTs]
          : [e.id, lastSeen, previous, windows],
      );
    }
    const alerts: EngineSnapshot['alerts'] = [];
    for (const [ruleId, openMap] of this.open) {
      for (const [subjectId, o] of openMap) {
        if (o.clearSince !== null || o.lastOccurrence !== null) {
          alerts.push([ruleId, subjectId, o.alert.id, o.clearSince, o.lastOccurrence]);
        }
      }
    }
    return { version: ENGINE_SNAPSHOT_VERSION, devices, alerts, rules: [...this.ruleLoadedAt] };
  }

  /**
   * Restores `snapshot()`'s output into this engine (replacing its device state).
   * @throws Error when `s` is not a snapshot of ENGINE_SNAPSHOT_VERSION, or is malformed (naming the
   *   part); the engine is then unchanged
   */
  restore(s: unknown): void {
    if (
      typeof s !== 'object' ||
      s === null ||
      (s as { version?: unknown }).version !== ENGINE_SNAPSHOT_VERSION
    ) {
      throw new Error(`not an alert engine snapshot of version ${ENGINE_SNAPSHOT_VERSION}`);
    }
    const snap = s as Partial<Record<keyof EngineSnapshot, unknown>>;
    // parse everything before changing anything: a malformed snapshot leaves the engine as it was
    const bad = (what: string): never => {
      throw new Error(`malformed alert engine snapshot: ${what}`);
    };
    const num = (v: unknown, what: string): number =>
      typeof v === 'number' && Number.isFinite(v) ? v : bad(what);
    const numOrNull = (v: unknown, what: string): number | null => (v === null ? null : num(v, what));
    const str = (v: unknown, what: string): string => (typeof v === 'string' ? v : bad(what));
    const list = (v: unknown, what: string): unknown[] => (Array.isArray(v) ? v : bad(what));
    const devices = new Map<string, DeviceEntry>();
    for (const d of list(snap.devices, 'devices')) {
      const [id, lastSeen, previous, windows, lag, lastTs] = list(d, 'device');
      const entry = this.newEntry(str(id, 'device id'), this.directory.device(str(id, 'device id')));
      entry.lastSeen = numOrNull(lastSeen, 'lastSeen') ?? Number.NEGATIVE_INFINITY;
      entry.lag = lag === undefined ? 0 : num(lag, 'lag');
      if (lastTs !== undefined) {
        for (const m of list(lastTs, 'lastTs')) {
          const [metric, ts] = list(m, 'lastTs entry');
          entry.lastTs.set(str(metric, 'metric'), num(ts, 'lastTs ts'));
        }
      }
      for (const p of list(previous, 'previous values')) {
        const [m, value, ts] = list(p, 'previous value');
        entry.previous.set(str(m, 'metric'), {
          value: num(value, 'previous value'),
          ts: num(ts, 'previous ts'),
        });
      }
      for (const w of list(windows, 'windows')) {
        const [k, window] = list(w, 'window');
        try {
          entry.windows.set(str(k, 'window key'), RollingWindow.fromJSON(window));
        } catch (e) {
          bad(e instanceof Error ? e.message : 'window');
        }
      }
      devices.set(entry.id, entry);
    }
    const rules = list(snap.rules, 'rules').map((r) => {
      const [id, at] = list(r, 'rule');
      return [str(id, 'rule id'), num(at, 'loadedAt')] as const;
    });
    const clocks = list(snap.alerts, 'alerts').map((a) => {
      const [ruleId, subjectId, alertId, clearSince, lastOccurrence] = list(a, 'alert');
      return {
        ruleId: str(ruleId, 'rule id'),
        subjectId: str(subjectId, 'subject id'),
        alertId: str(alertId, 'alert id'),
        clearSince: numOrNull(clearSince, 'clearSince'),
        lastOccurrence: numOrNull(lastOccurrence, 'lastOccurrence'),
      };
    });
    this.devices.clear();
    for (const [id, entry] of devices) this.devices.set(id, entry);
    this.directoryGeneration++; // area members hold entries: rebuild them
    this.areaEpoch++;
    for (const [ruleId, loadedAt] of rules) this.ruleLoadedAt.set(ruleId, loadedAt);
    for (const c of clocks) {
      const o = this.open.get(c.ruleId)?.get(c.subjectId);
      if (o && o.alert.id === c.alertId) {
        o.clearSince = c.clearSince;
        o.lastOccurrence = c.lastOccurrence;
      } else {
        this.restoredClocks.set(c.alertId, { clearSince: c.clearSince, lastOccurrence: c.lastOccurrence });
      }
    }
  }

  /**
   * What `rule` would do over `readings` (in time order): the devices it covers (in scope and, for a
   * catalogued metric, of a type that reports it: measures it, a status metric, or one the platform
   * derives for it — `derivedMetricsOf`, e.g. `aqi` of an air-quality station), and the changes a
   * fresh engine with this one's directory would emit (a `tick` at each reading's ts before the
   * reading, so no-data and expiries happen in time; `status` readings with an `online` boolean
   * drive `status` rules). No state of this engine is read or changed; alert ids are `dry-run-N`.
   * @throws RuleCompileError when the rule cannot be evaluated
   */
  dryRun(rule: StoredRule | RuleDefinition, readings: Iterable<Reading>): DryRunResult {
    const stored: StoredRule =
      'definition' in rule
        ? rule
        : { definition: rule, version: 1, origin: 'api', createdAt: 0, updatedAt: 0, updatedBy: null };
    const compiled = compileRule({ ...stored, definition: { ...stored.definition, enabled: true } });
    const covered: string[] = [];
    const metric = compiled.kind === 'event' ? null : compiled.metric;
    for (const d of this.directory.devices()) {
      if (!scopeCovers(compiled.scope, d)) continue;
      if (
        metric !== null &&
        isMetricName(metric) &&
        !metricsOf(d.type).includes(metric) &&
        !derivedMetricsOf(d.type).includes(metric) &&
        !STATUS_METRIC_SET.has(metric)
      )
        continue;
      covered.push(d.id);
    }
    covered.sort();
    let n = 0;
    const engine = new AlertEngine({
      directory: this.directory,
      newAlertId: () => `dry-run-${++n}`,
      ...(this.valueBand ? { valueBand: this.valueBand } : {}),
    });
    const changes: AlertChange[] = [];
    let started = false;
    for (const r of readings) {
      if (!started) {
        engine.setRules([{ ...stored, definition: { ...stored.definition, enabled: true } }], r.ts);
        started = true;
      }
      changes.push(...engine.tick(r.ts));
      if (r.kind === 'status' && typeof r.metrics['online'] === 'boolean') {
        changes.push(...engine.deviceStatus(r.deviceId, r.metrics['online'], r.ts));
      }
      changes.push(...engine.evaluate(r));
    }
    return { covered, changes };
  }

  // ---------------------------------------------------------------- evaluation

  private evaluateLevelRule(
    rs: RuleState,
    entry: ReadyEntry,
    value: MetricValue,
    rate: number,
    ts: number,
    out: AlertChange[] | null,
  ): AlertChange[] | null {
    const rule = rs.rule;
    const device = entry.device;
    if (!ruleActiveAt(rule, ts)) {
      rs.areas = null; // windows change without this rule seeing it: recompute when active again
      if (rs.open.size === 0) return out;
      if (rule.kind === 'threshold') {
        const o = rs.open.get(entry.id);
        if (o)
          (out ??= []).push(this.resolve(rs.open, entry.id, o, rule, ts, o.alert.value, 'out-of-schedule'));
      } else {
        for (const areaId of rule.areas) {
          const o = device.areaPath.includes(areaId) ? rs.open.get(areaId) : undefined;
          if (o)
            (out ??= []).push(this.resolve(rs.open, areaId, o, rule, ts, o.alert.value, 'out-of-schedule'));
        }
      }
      return out;
    }
    if (rule.kind === 'threshold') {
      let v: MetricValue = value;
      if (rule.window) {
        const w = entry.windows.get(rule.window.key);
        if (!w) return out;
        w.evaluateAt(ts);
        if (w.values === 0 || w.coverage < rule.window.minCoverage) return out;
        v = w[rule.window.aggregate];
      }
      return this.step(rs, entry.id, device, device.areaId, v, rate, ts, out);
    }
    // areaAggregate: every area of the scope that holds the device
    for (const areaId of rule.areas) {
      if (!device.areaPath.includes(areaId)) continue;
      const aggregate = this.areaAggregate(rs, areaId, ts, entry);
      if (Number.isNaN(aggregate)) continue;
      out = this.step(rs, areaId, null, areaId, aggregate, Number.NaN, ts, out);
    }
    return out;
  }

  /**
   * Warm-up: the replayed readings were evaluated before the restart, and the open alerts loaded are
   * their outcome; what the snapshot may lack is the clocks of alerts that changed after it. So a
   * replayed reading at or after an open alert's `firingAt` sets or resets its keep-firing clock
   * exactly as evaluation would have, and changes nothing else.
   */
  private warmLevelClocks(
    rs: RuleState,
    entry: ReadyEntry,
    value: MetricValue,
    rate: number,
    ts: number,
  ): void {
    const rule = rs.rule;
    if (!ruleActiveAt(rule, ts)) return;
    const device = entry.device;
    if (rule.kind === 'threshold') {
      const o = rs.open.get(entry.id);
      if (!o) return;
      let v: MetricValue = value;
      if (rule.window) {
        const w = entry.windows.get(rule.window.key);
        if (!w) return;
        w.evaluateAt(ts);
        if (w.values === 0 || w.coverage < rule.window.minCoverage) return;
        v = w[rule.window.aggregate];
      }
      this.warmClock(o, rule, v, rate, ts);
      return;
    }
    for (const areaId of rule.areas) {
      const o = device.areaPath.includes(areaId) ? rs.open.get(areaId) : undefined;
      if (!o) continue;
      const aggregate = this.areaAggregate(rs, areaId, ts, null);
      if (!Number.isNaN(aggregate)) this.warmClock(o, rule, aggregate, Number.NaN, ts);
    }
  }

  private warmClock(o: OpenAlert, rule: CompiledRule, value: MetricValue, rate: number, ts: number): void {
    if (o.alert.firingAt === null || ts < o.alert.firingAt) return;
    const condition = rule.condition;
    if (
      condition === null ||
      !condition.applies(value, rate) ||
      (rule.clear && !rule.clear.applies(value, rate))
    )
      return;
    const clears = rule.clear ? rule.clear.test(value, rate) : !condition.test(value, rate);
    if (!clears) o.clearSince = null;
    else if (o.clearSince === null) o.clearSince = ts;
  }

  private warmEventClock(rs: RuleState, entry: ReadyEntry, reading: Reading): void {
    const o = rs.open.get(entry.id);
    const rule = rs.rule;
    if (!o || reading.ts < o.alert.pendingAt || !ruleActiveAt(rule, reading.ts)) return;
    if (rule.metric !== null) {
      const v = reading.metrics[rule.metric];
      if (!occurs(rule, v)) return;
    }
    if (reading.ts > (o.lastOccurrence ?? Number.NEGATIVE_INFINITY)) o.lastOccurrence = reading.ts;
  }

  /** The level state machine (threshold, areaAggregate) for one subject and value. */
  private step(
    rs: RuleState,
    subjectId: string,
    device: EngineDevice | null,
    areaId: string,
    value: MetricValue,
    rate: number,
    ts: number,
    out: AlertChange[] | null,
  ): AlertChange[] | null {
    const rule = rs.rule;
    const condition = rule.condition;
    if (condition === null || !condition.applies(value, rate)) return out;
    if (rule.clear && !rule.clear.applies(value, rate)) return out;
    const holds = condition.test(value, rate);
    const o = rs.open.get(subjectId);
    if (!o) {
      if (!holds) return out;
      (out ??= []).push(
        this.openAlert(
          rs,
          subjectId,
          device,
          areaId,
          value,
          ts,
          this.escalated(rule, rule.severity, value, rate),
        ),
      );
      return out;
    }
    if (o.alert.state === 'pending') {
      if (!holds) (out ??= []).push(this.resolve(rs.open, subjectId, o, rule, ts, value, 'not-fired'));
      else if (ts - o.alert.pendingAt >= rule.forMs) {
        (out ??= []).push(this.fire(o, rule, ts, value, this.escalated(rule, o.alert.severity, value, rate)));
      }
      return out;
    }
    const clears = rule.clear ? rule.clear.test(value, rate) : !holds;
    if (clears) {
      if (o.clearSince === null) o.clearSince = ts;
      if (ts - o.clearSince >= rule.keepFiringMs) {
        (out ??= []).push(this.resolve(rs.open, subjectId, o, rule, ts, value, 'cleared'));
      }
      return out;
    }
    o.clearSince = null;
    const severity = this.escalated(rule, o.alert.severity, value, rate);
    if (severity !== o.alert.severity) (out ??= []).push(this.escalate(o, rule, ts, value, severity));
    return out;
  }

  private onEvent(
    rs: RuleState,
    entry: ReadyEntry,
    reading: Reading,
    out: AlertChange[] | null,
  ): AlertChange[] | null {
    const rule = rs.rule;
    const ts = reading.ts;
    let o = rs.open.get(entry.id);
    if (!ruleActiveAt(rule, ts)) {
      if (o)
        (out ??= []).push(this.resolve(rs.open, entry.id, o, rule, ts, o.alert.value, 'out-of-schedule'));
      return out;
    }
    let value: MetricValue | null = null;
    if (rule.metric !== null) {
      const v = reading.metrics[rule.metric];
      if (!occurs(rule, v)) return out;
      value = v;
    }
    if (o) {
      const last = o.lastOccurrence ?? o.alert.updatedAt;
      if (ts - last >= rule.keepFiringMs) {
        // expired before this occurrence (no tick in between): resolve it, then open a new one
        const reason = o.alert.state === 'pending' ? 'not-fired' : 'cleared';
        (out ??= []).push(
          this.resolve(rs.open, entry.id, o, rule, last + rule.keepFiringMs, o.alert.value, reason),
        );
        o = undefined;
      }
    }
    const device = entry.device;
    if (!o) {
      (out ??= []).push(
        this.openAlert(
          rs,
          entry.id,
          device,
          device.areaId,
          value,
          ts,
          this.escalated(rule, rule.severity, value, Number.NaN),
        ),
      );
      const opened = rs.open.get(entry.id);
      if (opened) opened.lastOccurrence = ts;
      return out;
    }
    if (ts > (o.lastOccurrence ?? Number.NEGATIVE_INFINITY)) o.lastOccurrence = ts;
    const severity = this.escalated(rule, o.alert.severity, value, Number.NaN);
    if (o.alert.state === 'pending') {
      if (ts - o.alert.pendingAt >= rule.forMs) (out ??= []).push(this.fire(o, rule, ts, value, severity));
    } else if (severity !== o.alert.severity) {
      (out ??= []).push(this.escalate(o, rule, ts, value, severity));
    }
    return out;
  }

  private tickNoData(rs: RuleState, now: number, out: AlertChange[]): void {
    const rule = rs.rule;
    const loadedAt = this.ruleLoadedAt.get(rule.id) ?? now;
    for (const id of this.coveredBy(rs)) {
      if (rs.open.has(id)) continue;
      const device = this.directory.device(id);
      if (!device) continue;
      // Silence is measured by arrival: the newest reading's ts plus how late it arrived.
      const entry = this.devices.get(id);
      const lastHeard = entry ? entry.lastSeen + entry.lag : Number.NEGATIVE_INFINITY;
      const since = Math.max(lastHeard, loadedAt);
      const due = since + (rule.silentMs ?? device.silenceTimeoutSeconds * 1000) + rule.forMs;
      if (now < due) continue;
      const change = this.openAlert(rs, id, device, device.areaId, null, due, rule.severity, true);
      out.push(change);
    }
  }

  /** The highest of `current` and the severities of the escalations holding for `value`. */
  private escalated(
    rule: CompiledRule,
    current: Severity,
    value: MetricValue | null,
    rate: number,
  ): Severity {
    const rank = severityRank(current);
    for (const e of rule.escalations) {
      if (e.rank <= rank) break;
      if (e.condition.applies(value, rate) && e.condition.test(value, rate)) return e.severity;
    }
    return current;
  }

  /**
   * The area's aggregate at `ts` (NaN when fewer than minDevices devices have a window with enough
   * coverage): the aggregate of each covered device's window mean. Each device's mean (its
   * contribution) is kept: while `ts` stays inside the buckets of the last full computation (no
   * window's bucket rolled, no out-of-order time, no warm-up or inactive spell in between) only the
   * reporting device's contribution is recomputed; the sum is always re-added over the contributions
   * in member order, so the result is bit-identical to a full computation.
   */
  private areaAggregate(rs: RuleState, areaId: string, ts: number, trigger: DeviceEntry | null): number {
    const rule = rs.rule;
    const w = rule.window;
    if (w === null) return Number.NaN;
    const state = this.areaStateOf(rs, areaId);
    const members = state.members;
    const incremental =
      !this.fullAreaRecompute &&
      trigger !== null &&
      state.epoch === this.areaEpoch &&
      ts >= state.validFrom &&
      ts < state.validUntil;
    if (incremental) {
      const i = state.index.get(trigger.id);
      if (i !== undefined) {
        const window = trigger.windows.get(w.key);
        members[i].contribution = window ? contribution(window, ts, w.minCoverage) : Number.NaN;
        if (window) state.validUntil = Math.min(state.validUntil, nextBucketStart(window, ts));
      }
      state.validFrom = ts;
    } else {
      let until = Number.POSITIVE_INFINITY;
      for (const m of members) {
        const window = m.entry.windows.get(w.key);
        if (!window) {
          m.contribution = Number.NaN;
          continue;
        }
        m.contribution = contribution(window, ts, w.minCoverage);
        until = Math.min(until, nextBucketStart(window, ts));
      }
      state.validFrom = ts;
      state.validUntil = until;
      state.epoch = this.areaEpoch;
    }
    let devices = 0;
    let acc =
      w.aggregate === 'mean'
        ? 0
        : w.aggregate === 'max'
          ? Number.NEGATIVE_INFINITY
          : Number.POSITIVE_INFINITY;
    for (const m of members) {
      const c = m.contribution;
      if (Number.isNaN(c)) continue;
      devices++;
      if (w.aggregate === 'mean') acc += c;
      else if (w.aggregate === 'max') acc = c > acc ? c : acc;
      else acc = c < acc ? c : acc;
    }
    if (devices < rule.minDevices || devices === 0) return Number.NaN;
    return w.aggregate === 'mean' ? acc / devices : acc;
  }

  // ---------------------------------------------------------------- transitions

  private openAlert(
    rs: RuleState,
    subjectId: string,
    device: EngineDevice | null,
    areaId: string,
    value: MetricValue | null,
    at: number,
    severity: Severity,
    forceFiring = false,
  ): AlertChange {
    const rule = rs.rule;
    const firing = forceFiring || rule.forMs === 0;
    const area = device ? null : this.directory.area(areaId);
    const alert: Alert = {
      id: this.newAlertId(),
      ruleId: rule.id,
      ruleVersion: rule.version,
      ruleKind: rule.kind,
      subjectKind: device ? 'device' : 'area',
      subjectId,
      deviceId: device ? device.id : null,
      deviceType: device ? device.type : null,
      domain: device ? device.domain : this.areaDomain(rule),
      areaId,
      areaPath: device ? [...device.areaPath] : area ? [...area.path] : [areaId],
      metric: rule.metric,
      event: rule.event,
      severity,
      state: firing ? 'firing' : 'pending',
      value: value ?? null,
      limit: rule.limit,
      unit: rule.metric ? unitOf(rule.metric) : '',
      message: { vi: '', en: '' },
      pendingAt: at,
      firingAt: firing ? at : null,
      acknowledgedAt: null,
      acknowledgedBy: null,
      acknowledgementNote: null,
      resolvedAt: null,
      resolvedBy: null,
      resolution: null,
      updatedAt: at,
    };
    alert.message = this.render(rule, alert);
    const o: OpenAlert = { alert, seq: 1, clearSince: null, lastOccurrence: null };
    rs.open.set(subjectId, o);
    return this.change(o, firing ? 'fired' : 'opened', null, at, null);
  }

  private fire(
    o: OpenAlert,
    rule: CompiledRule,
    at: number,
    value: MetricValue | null,
    severity: Severity,
  ): AlertChange {
    const a = o.alert;
    const from = a.state;
    a.state = 'firing';
    a.firingAt = at;
    a.severity = severity;
    a.value = value;
    return this.step2(o, rule, 'fired', from, at);
  }

  private escalate(
    o: OpenAlert,
    rule: CompiledRule,
    at: number,
    value: MetricValue | null,
    severity: Severity,
  ): AlertChange {
    const a = o.alert;
    a.severity = severity;
    a.value = value;
    return this.step2(o, rule, 'escalated', a.state, at);
  }

  private resolve(
    openMap: Map<string, OpenAlert>,
    subjectId: string,
    o: OpenAlert,
    rule: CompiledRule | null,
    at: number,
    value: MetricValue | null,
    resolution: AlertResolution,
  ): AlertChange {
    const a = o.alert;
    const from = a.state;
    a.state = 'resolved';
    a.resolvedAt = at;
    a.resolution = resolution;
    a.value = value;
    openMap.delete(subjectId);
    if (rule) return this.step2(o, rule, 'resolved', from, at, resolution);
    o.seq++;
    a.updatedAt = at;
    return this.change(o, 'resolved', from, at, resolution);
  }

  private step2(
    o: OpenAlert,
    rule: CompiledRule,
    kind: AlertTransition['kind'],
    from: AlertState,
    at: number,
    resolution: AlertResolution | null = null,
  ): AlertChange {
    const a = o.alert;
    o.seq++;
    a.ruleVersion = rule.version;
    a.limit = rule.limit ?? a.limit;
    a.updatedAt = at;
    // A resolution keeps the message of the last firing step (as Alertmanager keeps the annotations
    // of the last firing evaluation): the firing template rendered with the clearing value would
    // say "is 77, at or above 101". The clearing value is in `value` and the transition.
    if (kind !== 'resolved') a.message = this.render(rule, a);
    return this.change(o, kind, from, at, resolution);
  }

  private change(
    o: OpenAlert,
    kind: AlertTransition['kind'],
    from: AlertState | null,
    at: number,
    resolution: AlertResolution | null,
  ): AlertChange {
    const a = o.alert;
    return {
      alert: { ...a },
      transition: {
        alertId: a.id,
        seq: o.seq,
        at,
        from,
        to: a.state,
        kind,
        severity: a.severity,
        value: a.value,
        by: ENGINE_ACTOR,
        note: null,
        resolution,
      },
    };
  }

  private render(rule: CompiledRule, a: Alert): { vi: string; en: string } {
    const device = a.deviceId ? this.directory.device(a.deviceId) : undefined;
    const silent =
      rule.kind === 'noData'
        ? (rule.silentMs ?? (device ? device.silenceTimeoutSeconds * 1000 : 0)) / 1000
        : null;
    return renderMessage(rule.definition.message, {
      deviceName: a.deviceId ? (device?.name ?? a.deviceId) : null,
      deviceId: a.deviceId,
      areaName: this.directory.area(a.areaId)?.name ?? a.areaId,
      areaId: a.areaId,
      metric: a.metric,
      value: a.value,
      limit: a.limit,
      windowSeconds: rule.window?.seconds ?? null,
      standard: rule.standard,
      severity: a.severity,
      event: a.event,
      silentForSeconds: silent,
      band:
        this.valueBand && a.metric !== null && a.value !== null && a.value !== undefined
          ? (this.valueBand(a.metric, a.value) ?? null)
          : null,
    });
  }

  /** Domain of an area alert: the rule's single domain, else the domain of its single device type. */
  private areaDomain(rule: CompiledRule): Alert['domain'] {
    const d = rule.scope.domains;
    if (d && d.size === 1) return [...d][0] as Alert['domain'];
    const t = rule.scope.deviceTypes;
    if (t) {
      const domains = new Set(
        [...t].map((x) => DEVICE_TYPE_CONTRACTS[x as keyof typeof DEVICE_TYPE_CONTRACTS].domain),
      );
      if (domains.size === 1) return [...domains][0];
    }
    return null;
  }

  private stillCovers(rule: CompiledRule, alert: Alert): boolean {
    if (rule.kind !== alert.ruleKind) return false;
    if (rule.metric !== alert.metric || rule.event !== alert.event) return false;
    if (alert.subjectKind === 'area') return rule.scope.areaIds?.includes(alert.subjectId) ?? false;
    const device = this.directory.device(alert.subjectId) ?? this.devices.get(alert.subjectId)?.device;
    return device !== undefined && scopeCovers(rule.scope, device);
  }

  // ---------------------------------------------------------------- caches

  private newEntry(id: string, device: EngineDevice | undefined): DeviceEntry {
    return {
      id,
      device,
      generation: -1,
      plans: new Map(),
      eventPlans: new Map(),
      statusRules: null,
      noDataRules: null,
      lastSeen: Number.NEGATIVE_INFINITY,
      lag: 0,
      previous: new Map(),
      lastTs: new Map(),
      windows: new Map(),
    };
  }

  /** The entry of a reading's device; a device the directory does not know is described by the reading. */
  private entryFor(reading: Reading): ReadyEntry {
    let entry = this.devices.get(reading.deviceId);
    if (!entry) {
      entry = this.newEntry(reading.deviceId, this.directory.device(reading.deviceId));
      this.devices.set(entry.id, entry);
    }
    if (!entry.device) {
      entry.device = {
        id: reading.deviceId,
        type: reading.deviceType,
        domain: reading.domain,
        name: reading.deviceId,
        areaId: reading.areaId,
        areaPath: [...reading.areaPath],
        attributes: {},
        silenceTimeoutSeconds: silenceTimeoutOf(reading.deviceType),
      };
      entry.generation = -1;
    }
    if (!isReady(entry)) throw new Error('unreachable: the entry has a device');
    this.refresh(entry);
    return entry;
  }

  private entryForId(id: string): ReadyEntry | undefined {
    let entry = this.devices.get(id);
    if (!entry) {
      const device = this.directory.device(id);
      if (!device) return undefined;
      entry = this.newEntry(id, device);
      this.devices.set(id, entry);
    }
    if (!isReady(entry)) return undefined;
    this.refresh(entry);
    return entry;
  }

  private refresh(entry: ReadyEntry): void {
    if (entry.generation === this.generation) return;
    entry.plans.clear();
    entry.eventPlans.clear();
    entry.statusRules = null;
    entry.noDataRules = null;
    entry.generation = this.generation;
  }

  private planFor(entry: ReadyEntry, metric: string): MetricPlan {
    let plan = entry.plans.get(metric);
    if (plan) return plan;
    const candidates = this.byMetric.get(metric);
    const device = entry.device;
    const rules = candidates ? candidates.filter((rs) => scopeCovers(rs.rule.scope, device)) : [];
    if (rules.length === 0) plan = EMPTY_PLAN;
    else {
      const windows: MetricPlan['windows'] = [];
      for (const rs of rules) {
        const w = rs.rule.window;
        if (w && !windows.some((x) => x.key === w.key)) windows.push({ key: w.key, seconds: w.seconds });
      }
      plan = { rules, windows, trackPrevious: rules.some((rs) => rs.rule.usesRate) };
    }
    entry.plans.set(metric, plan);
    return plan;
  }

  private eventRulesOf(entry: ReadyEntry, event: string): RuleState[] {
    let rules = entry.eventPlans.get(event);
    if (!rules) {
      rules = (this.byEvent.get(event) ?? []).filter((rs) => scopeCovers(rs.rule.scope, entry.device));
      entry.eventPlans.set(event, rules);
    }
    return rules;
  }

  private statusRulesOf(entry: ReadyEntry): RuleState[] {
    return (entry.statusRules ??= this.statusRules.filter((rs) => scopeCovers(rs.rule.scope, entry.device)));
  }

  private noDataRulesOf(entry: ReadyEntry): RuleState[] {
    return (entry.noDataRules ??= this.noDataRules.filter((rs) => scopeCovers(rs.rule.scope, entry.device)));
  }

  private windowOf(entry: ReadyEntry, key: string, seconds: number): RollingWindow {
    let w = entry.windows.get(key);
    if (!w) {
      const d = entry.device;
      const interval = d.reportingIntervalSeconds ?? d.silenceTimeoutSeconds / SILENCE_TIMEOUT_INTERVALS;
      const { buckets, bucketMs } = windowBuckets(seconds, interval);
      w = new RollingWindow(bucketMs, buckets);
      entry.windows.set(key, w);
    }
    return w;
  }

  private validateCaches(rs: RuleState): void {
    if (rs.cacheGeneration === this.directoryGeneration) return;
    rs.areas = null;
    rs.covered = null;
    rs.cacheGeneration = this.directoryGeneration;
  }

  private areaStateOf(rs: RuleState, areaId: string): AreaState {
    this.validateCaches(rs);
    rs.areas ??= new Map();
    let state = rs.areas.get(areaId);
    if (!state) {
      const members: AreaMember[] = [];
      const index = new Map<string, number>();
      for (const d of this.directory.devices()) {
        if (!d.areaPath.includes(areaId) || !scopeCovers(rs.rule.scope, d)) continue;
        let entry = this.devices.get(d.id);
        if (!entry) this.devices.set(d.id, (entry = this.newEntry(d.id, d)));
        index.set(d.id, members.length);
        members.push({ entry, contribution: Number.NaN });
      }
      state = {
        members,
        index,
        validFrom: Number.POSITIVE_INFINITY,
        validUntil: Number.NEGATIVE_INFINITY,
        epoch: -1,
      };
      rs.areas.set(areaId, state);
    }
    return state;
  }

  private coveredBy(rs: RuleState): string[] {
    this.validateCaches(rs);
    if (!rs.covered) {
      rs.covered = [];
      for (const d of this.directory.devices()) if (scopeCovers(rs.rule.scope, d)) rs.covered.push(d.id);
    }
    return rs.covered;
  }
}

/**
 * `snapshot()`'s JSON-safe shape (version 1): `devices`: `[deviceId, lastSeen | null,
 * [[metric, previousValue, previousTs]], [[windowKey, windowSnapshot]], lag?, [[metric, newestTs]]?]` (lag: ms, absent = 0; newest ts
 * evaluated per metric, absent = none); `alerts`: `[ruleId,
 * subjectId, alertId, clearSince | null, lastOccurrence | null]`; `rules`: `[ruleId, loadedAt]`.
 */
export interface EngineSnapshot {
  version: typeof ENGINE_SNAPSHOT_VERSION;
  devices: Array<
    [
      string,
      number | null,
      Array<[string, number, number]>,
      Array<[string, ReturnType<RollingWindow['toJSON']>]>,
      lag?: number,
      lastTs?: Array<[string, number]>,
    ]
  >;
  alerts: Array<[string, string, string, number | null, number | null]>;
  rules: Array<[string, number]>;
}

/** A device type's silence timeout, seconds (15 min for a type the contracts do not know). */
function silenceTimeoutOf(type: string): number {
  return (
    (DEVICE_TYPE_CONTRACTS as Record<string, { silenceTimeoutSeconds: number } | undefined>)[type]
      ?.silenceTimeoutSeconds ?? 900
  );
}

/** Whether an event's metric value meets the event rule's condition. */
function occurs(rule: CompiledRule, v: MetricValue | undefined): v is MetricValue {
  const c = rule.condition;
  return v !== undefined && c !== null && c.applies(v, Number.NaN) && c.test(v, Number.NaN);
}

/** A covered device of an area and its window mean as last computed (NaN: not enough data). */
interface AreaMember {
  entry: DeviceEntry;
  contribution: number;
}

/** An areaAggregate rule's state for one area. */
interface AreaState {
  members: AreaMember[];
  /** Device id → index in `members`. */
  index: Map<string, number>;
  /** The contributions hold for times in [validFrom, validUntil) (no bucket of any window rolls). */
  validFrom: number;
  validUntil: number;
  /** `areaEpoch` of the last full computation. */
  epoch: number;
}

function contribution(window: RollingWindow, ts: number, minCoverage: number): number {
  window.evaluateAt(ts);
  return window.values === 0 || window.coverage < minCoverage ? Number.NaN : window.mean;
}

/** Start (epoch ms) of the bucket after the one holding `ts`: the window's mean may change there. */
function nextBucketStart(window: RollingWindow, ts: number): number {
  return (Math.floor(ts / window.bucketMs) + 1) * window.bucketMs;
}

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

function sortChanges(changes: AlertChange[]): AlertChange[] {
  return changes.sort(
    (a, b) =>
      a.transition.at - b.transition.at ||
      cmp(a.alert.ruleId, b.alert.ruleId) ||
      cmp(a.alert.subjectId, b.alert.subjectId) ||
      a.transition.seq - b.transition.seq,
  );
}

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
