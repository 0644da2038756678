/**
 * Hourly VN_AQI of many stations, computed as their readings arrive. Pure: no clock, no timers,
 * no I/O; its whole state is a JSON-safe snapshot.
 */
import { type AqiBand } from './bands';
import { POLLUTANTS, type Pollutant } from './breakpoints';
import { HOUR_MS, NOWCAST_HOURS, hourlyAqi, type HourlyAqiInput } from './vn-aqi';

/** One reading of a station: epoch-ms time and its metrics (only the six pollutants are used). */
export interface AqiTrackerReading {
  stationId: string;
  /** Reading time, epoch ms UTC. */
  ts: number;
  /** Metric name → value; `pm25`, `pm10`, `o3`, `co`, `so2`, `no2` in µg/m³ are used, others ignored. */
  metrics: Readonly<Record<string, unknown>>;
}

/** The hourly VN_AQI of one station for one closed hour. */
export interface HourlyAqiRecord {
  stationId: string;
  /** END of the hour the AQI is for (= start of the next hour), epoch ms UTC. */
  ts: number;
  /** Station AQI, integer 0–500 (the highest sub-index). */
  aqi: number;
  dominant: Pollutant;
  /** Integer sub-index of each pollutant that had a value. */
  subIndices: Partial<Record<Pollutant, number>>;
  band: AqiBand;
}

/** Per pollutant (sum, count) of an hour's readings, for its 1-hour mean. */
type HourBucket = Partial<Record<Pollutant, [sum: number, count: number]>>;

interface StationState {
  /** Latest hour index (floor(ts / HOUR_MS)) a reading arrived for. */
  latestHour: number;
  /** Latest hour closed (its AQI emitted or refused); hours ≤ it are never emitted again. */
  closedThrough: number;
  /** Hour index → bucket, only hours > latestHour − hoursKept. */
  buckets: Map<number, HourBucket>;
}

/** The tracker's JSON-safe state (`snapshot()` / `HourlyAqiTracker.restore()`). */
export interface HourlyAqiTrackerSnapshot {
  version: 1;
  hoursKept: number;
  /** Sorted by station id; each station's buckets sorted by hour. */
  stations: {
    stationId: string;
    latestHour: number;
    closedThrough: number;
    buckets: { hour: number; sums: HourBucket }[];
  }[];
}

export interface HourlyAqiTrackerOptions {
  /**
   * Hours of buckets kept per station, 12–168 (default 12, what the NowCast reads — Decision
   * 1459/QĐ-TCMT's 12 hours). Older buckets are dropped, which bounds memory to
   * stations × hoursKept × 6 pollutants.
   */
  hoursKept?: number;
}

/**
 * Computes each station's hourly VN_AQI (`hourlyAqi`: gases from the hour's 1-hour mean, PM from
 * the 12-hour NowCast) from readings fed in arrival order.
 *
 * - `add(reading)` puts the reading's pollutant values into its station's bucket for its hour H =
 *   floor(ts / 1 h) (1-hour mean = sum / count). When a reading of a LATER hour arrives, the
 *   station's latest hour is closed: its AQI, computed from buckets ≤ that hour, is returned as a
 *   `HourlyAqiRecord` with `ts` = the END of the hour (start of the next, epoch ms). Only hours
 *   that received readings are closed; an hour without readings gets no AQI.
 * - `closeHoursBefore(nowMs, graceMs)` closes, for a timer, the latest hour of stations whose hour
 *   ended at least `graceMs` before `nowMs` (a station that stopped reporting).
 * - An hour closed without a NowCast for PM2.5 or PM10 (the decision's "2 of the 3 latest hours"
 *   rule, or no PM at all) gets no record, and stays closed.
 * - Out-of-order readings: a reading for an earlier hour still in the window updates its bucket
 *   (so later NowCasts see it) but never re-emits an hour already closed; a reading older than the
 *   window (hoursKept hours before the station's latest) is ignored. Values that are not finite
 *   numbers ≥ 0 are ignored.
 * - Deterministic: the records returned depend only on the sequence of calls and their arguments,
 *   never on the wall clock or on Map iteration order (stations are closed in id order), so an
 *   engine replaying the same records (and timer calls at the same `nowMs`) gets the same answers.
 * - `snapshot()` → JSON-safe state; `HourlyAqiTracker.restore(snapshot)` → a tracker that behaves
 *   exactly as the one snapshotted.
 */
export class HourlyAqiTracker {
  readonly hoursKept: number;
  private readonly stations = new Map<string, StationState>();
  private closedHourReadingsCount = 0;

  constructor(options: HourlyAqiTrackerOptions = {}) {
    const hoursKept = options.hoursKept ?? NOWCAST_HOURS;
    if (!Number.isInteger(hoursKept) || hoursKept < NOWCAST_HOURS || hoursKept > 168) {
      throw new RangeError(`hoursKept must be an integer ${NOWCAST_HOURS}–168, got ${hoursKept}`);
    }
    this.hoursKept = hoursKept;
  }

  /**
   * Readings with pollutant values `add` took for an hour already closed (emitted or refused) or
   * older than the window: they can never produce that hour's AQI (e.g. a simulator scenario
   * stamped hours ago beside a live feed of the same station). Since construction or restore; not
   * in the snapshot.
   */
  get closedHourReadings(): number {
    return this.closedHourReadingsCount;
  }

  /** Stations tracked. */
  get size(): number {
    return this.stations.size;
  }

  /**
   * Feeds one reading; returns the hourly AQI of the hour it closed, if any (zero or one record).
   * Throws RangeError for a `ts` that is not a safe integer ≥ 0 (the caller's readings are
   * validated already; this is a programming error).
   */
  add(reading: AqiTrackerReading): HourlyAqiRecord[] {
    if (!Number.isSafeInteger(reading.ts) || reading.ts < 0) {
      throw new RangeError(`reading ts must be epoch ms (a safe integer ≥ 0), got ${reading.ts}`);
    }
    const values = POLLUTANTS.flatMap((p) => {
      const v = reading.metrics[p];
      return typeof v === 'number' && Number.isFinite(v) && v >= 0 ? [[p, v] as const] : [];
    });
    const hour = Math.floor(reading.ts / HOUR_MS);
    let station = this.stations.get(reading.stationId);
    const out: HourlyAqiRecord[] = [];
    if (station === undefined) {
      if (values.length === 0) return out;
      station = { latestHour: hour, closedThrough: hour - 1, buckets: new Map() };
      this.stations.set(reading.stationId, station);
    } else if (hour > station.latestHour) {
      const closed = this.close(reading.stationId, station);
      if (closed) out.push(closed);
      station.latestHour = hour;
      this.prune(station);
    } else if (hour <= station.latestHour - this.hoursKept) {
      if (values.length > 0) this.closedHourReadingsCount++;
      return out;
    } else if (hour <= station.closedThrough && values.length > 0) {
      this.closedHourReadingsCount++;
    }
    if (values.length > 0) {
      let bucket = station.buckets.get(hour);
      if (bucket === undefined) {
        bucket = {};
        station.buckets.set(hour, bucket);
      }
      for (const [p, v] of values) {
        const sums = bucket[p];
        if (sums === undefined) bucket[p] = [v, 1];
        else {
          sums[0] += v;
          sums[1] += 1;
        }
      }
    }
    return out;
  }

  /**
   * Closes the latest hour of every station whose latest hour ENDED at or before `nowMs − graceMs`
   * and is not closed yet, in station-id order; returns their records. `graceMs` (≥ 0) leaves
   * late readings of the hour time to arrive.
   */
  closeHoursBefore(nowMs: number, graceMs: number): HourlyAqiRecord[] {
    if (!Number.isFinite(nowMs) || !Number.isFinite(graceMs) || graceMs < 0) {
      throw new RangeError(`closeHoursBefore needs finite nowMs and graceMs ≥ 0, got ${nowMs}, ${graceMs}`);
    }
    const out: HourlyAqiRecord[] = [];
    for (const [stationId, station] of this.sortedStations()) {
      if (station.closedThrough >= station.latestHour) continue;
      if ((station.latestHour + 1) * HOUR_MS > nowMs - graceMs) continue;
      const closed = this.close(stationId, station);
      if (closed) out.push(closed);
    }
    return out;
  }

  /** Forgets a station (a device deleted from the registry). */
  forget(stationId: string): void {
    this.stations.delete(stationId);
  }

  /** The tracker's whole state, JSON-safe and in a canonical order (equal states → equal JSON). */
  snapshot(): HourlyAqiTrackerSnapshot {
    return {
      version: 1,
      hoursKept: this.hoursKept,
      stations: this.sortedStations().map(([stationId, s]) => {
        return {
          stationId,
          latestHour: s.latestHour,
          closedThrough: s.closedThrough,
          buckets: [...s.buckets.entries()]
            .sort(([a], [b]) => a - b)
            .map(([hour, bucket]) => {
              const sums: HourBucket = {};
              for (const p of POLLUTANTS) {
                const v = bucket[p];
                if (v) sums[p] = [v[0], v[1]];
              }
              return { hour, sums };
            }),
        };
      }),
    };
  }

  /**
   * A tracker holding `snapshot`'s state (a value `snapshot()` returned, possibly through
   * JSON). Throws TypeError naming the first field that is not what `snapshot()` writes.
   */
  static restore(snapshot: unknown): HourlyAqiTracker {
    const fail = (what: string): never => {
      throw new TypeError(`not an HourlyAqiTracker snapshot: ${what}`);
    };
    const isInt = (v: unknown): v is number => Number.isSafeInteger(v);
    if (typeof snapshot !== 'object' || snapshot === null) return fail('not an object');
    const s = snapshot as Record<string, unknown>;
    if (s['version'] !== 1) fail(`version ${String(s['version'])}`);
    if (!isInt(s['hoursKept'])) fail('hoursKept');
    if (!Array.isArray(s['stations'])) fail('stations');
    const tracker = new HourlyAqiTracker({ hoursKept: s['hoursKept'] as number });
    for (const [i, raw] of (s['stations'] as unknown[]).entries()) {
      const st = (typeof raw === 'object' && raw !== null ? raw : fail(`stations[${i}]`)) as Record<
        string,
        unknown
      >;
      const stationId = st['stationId'];
      if (typeof stationId !== 'string') fail(`stations[${i}].stationId`);
      if (!isInt(st['latestHour']) || !isInt(st['closedThrough'])) fail(`stations[${i}] hours`);
      if (!Array.isArray(st['buckets'])) fail(`stations[${i}].buckets`);
      const buckets = new Map<number, HourBucket>();
      for (const [j, b] of (st['buckets'] as unknown[]).entries()) {
        const entry = (
          typeof b === 'object' && b !== null ? b : fail(`stations[${i}].buckets[${j}]`)
        ) as Record<string, unknown>;
        const sumsRaw = entry['sums'];
        if (!isInt(entry['hour']) || typeof sumsRaw !== 'object' || sumsRaw === null)
          fail(`stations[${i}].buckets[${j}]`);
        const bucket: HourBucket = {};
        for (const [p, v] of Object.entries(sumsRaw as Record<string, unknown>)) {
          const ok =
            (POLLUTANTS as readonly string[]).includes(p) &&
            Array.isArray(v) &&
            v.length === 2 &&
            typeof v[0] === 'number' &&
            Number.isFinite(v[0]) &&
            v[0] >= 0 &&
            isInt(v[1]) &&
            v[1] > 0;
          if (!ok) fail(`stations[${i}].buckets[${j}].sums.${p}`);
          bucket[p as Pollutant] = [(v as number[])[0], (v as number[])[1]];
        }
        buckets.set(entry['hour'] as number, bucket);
      }
      tracker.stations.set(stationId as string, {
        latestHour: st['latestHour'] as number,
        closedThrough: st['closedThrough'] as number,
        buckets,
      });
    }
    return tracker;
  }

  /** Closes the station's latest hour; its record, or undefined when the decision gives no AQI. */
  private close(stationId: string, station: StationState): HourlyAqiRecord | undefined {
    const hour = station.latestHour;
    if (station.closedThrough >= hour) return undefined;
    station.closedThrough = hour;
    const mean = (h: number, p: Pollutant): number | undefined => {
      const sums = station.buckets.get(h)?.[p];
      return sums === undefined ? undefined : sums[0] / sums[1];
    };
    const series = (p: Pollutant): (number | undefined)[] =>
      Array.from({ length: NOWCAST_HOURS }, (_, k) => mean(hour - k, p));
    const input: HourlyAqiInput = {
      pm25: series('pm25'),
      pm10: series('pm10'),
      o3: mean(hour, 'o3'),
      co: mean(hour, 'co'),
      so2: mean(hour, 'so2'),
      no2: mean(hour, 'no2'),
    };
    const result = hourlyAqi(input);
    if (!result.ok) return undefined;
    return {
      stationId,
      ts: (hour + 1) * HOUR_MS,
      aqi: result.aqi,
      dominant: result.dominant,
      subIndices: result.subIndices,
      band: result.band.band,
    };
  }

  /** Stations in id order (code-unit order, as `Array.prototype.sort` compares strings). */
  private sortedStations(): [string, StationState][] {
    return [...this.stations.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  }

  private prune(station: StationState): void {
    for (const hour of station.buckets.keys()) {
      if (hour <= station.latestHour - this.hoursKept) station.buckets.delete(hour);
    }
  }
}
