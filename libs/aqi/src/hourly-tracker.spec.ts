import { HOUR_MS, HourlyAqiTracker, type AqiTrackerReading, type HourlyAqiRecord } from './index';

/** Hour index 490,000 = 2025-11-25T16:00Z, an arbitrary whole hour. */
const H0 = 490_000;
const at = (hour: number, minute = 0): number => hour * HOUR_MS + minute * 60_000;
const reading = (stationId: string, ts: number, metrics: Record<string, unknown>): AqiTrackerReading => ({
  stationId,
  ts,
  metrics,
});

describe('HourlyAqiTracker', () => {
  it('closes an hour when a reading of a later hour arrives, from the hour’s means and the NowCast', () => {
    const t = new HourlyAqiTracker();
    // Hour H0: PM2.5 20 and 40 → mean 30.
    expect(t.add(reading('aq-1', at(H0, 5), { pm25: 20, pm10: 40, temperature: 31 }))).toEqual([]);
    expect(t.add(reading('aq-1', at(H0, 35), { pm25: 40, pm10: 40 }))).toEqual([]);
    // H0 + 1 closes H0: its NowCast has 1 of the 3 latest hours → refused, no record.
    expect(t.add(reading('aq-1', at(H0 + 1, 0), { pm25: 30, pm10: 40, no2: 100 }))).toEqual([]);
    expect(t.add(reading('aq-1', at(H0 + 1, 30), { pm25: 30, pm10: 40, no2: 500 }))).toEqual([]);
    // H0 + 2 closes H0 + 1: PM2.5 [30, 30] → 30 → 50 + 2 × 5 = 60; PM10 [40, 40] → 40; NO₂ mean 300
    // → 100 + 50/500 × 100 = 110.
    const closed = t.add(reading('aq-1', at(H0 + 2, 1), { pm25: 60 }));
    expect(closed).toEqual<HourlyAqiRecord[]>([
      {
        stationId: 'aq-1',
        ts: at(H0 + 2),
        aqi: 110,
        dominant: 'no2',
        subIndices: { pm25: 60, pm10: 40, no2: 110 },
        band: 'poor',
      },
    ]);
  });

  it('updates an earlier hour with an out-of-order reading, never re-emitting a closed hour', () => {
    const t = new HourlyAqiTracker();
    t.add(reading('aq-1', at(H0), { pm25: 30 }));
    t.add(reading('aq-1', at(H0 + 1), { pm25: 30 }));
    expect(t.add(reading('aq-1', at(H0 + 2), { pm25: 30 }))).toHaveLength(1); // H0 + 1 closed
    // A late reading for H0 + 1 (closed): no record, but its bucket is now (30 + 90) / 2 = 60.
    expect(t.add(reading('aq-1', at(H0 + 1, 59), { pm25: 90 }))).toEqual([]);
    // Closing H0 + 2: PM2.5 [30, 60, 30]: w = ½ → 30/2 + 60/4 + 30/8 = 33.75 → 50 + 2 × 8.75 = 67.5 → 68
    const [record] = t.add(reading('aq-1', at(H0 + 3), { pm25: 30 }));
    expect(record).toMatchObject({ ts: at(H0 + 3), aqi: 68, subIndices: { pm25: 68 } });
    // A reading older than the 12-hour window is ignored.
    const before = JSON.stringify(t.snapshot());
    expect(t.add(reading('aq-1', at(H0 + 3 - 12), { pm25: 500 }))).toEqual([]);
    expect(JSON.stringify(t.snapshot())).toBe(before);
  });

  it('closeHoursBefore closes the hours of stations that stopped reporting, once, after the grace', () => {
    const t = new HourlyAqiTracker();
    for (const id of ['aq-2', 'aq-1']) {
      t.add(reading(id, at(H0, 10), { pm25: 10 }));
      t.add(reading(id, at(H0 + 1, 10), { pm25: 10 }));
    }
    const grace = 5 * 60_000;
    expect(t.closeHoursBefore(at(H0 + 2) + grace - 1, grace)).toEqual([]);
    const closed = t.closeHoursBefore(at(H0 + 2) + grace, grace);
    // PM2.5 [10, 10] → 20, in station-id order.
    expect(closed.map((r) => [r.stationId, r.ts, r.aqi])).toEqual([
      ['aq-1', at(H0 + 2), 20],
      ['aq-2', at(H0 + 2), 20],
    ]);
    expect(t.closeHoursBefore(at(H0 + 5), grace)).toEqual([]);
    // A late reading of the closed hour, then the next hour: nothing re-emitted.
    expect(t.add(reading('aq-1', at(H0 + 1, 50), { pm25: 300 }))).toEqual([]);
    expect(t.add(reading('aq-1', at(H0 + 2, 10), { pm25: 10 }))).toEqual([]);
  });

  it('snapshot → JSON → restore continues exactly as the original, and bounds memory', () => {
    const sequence: AqiTrackerReading[] = [];
    for (let k = 0; k < 40; k += 1) {
      for (const id of ['aq-1', 'aq-2', 'aq-3']) {
        if (id === 'aq-3' && k % 5 === 2) continue; // missing hours
        sequence.push(
          reading(id, at(H0 + k, (k * 7) % 60), {
            pm25: 10 + ((k * 13) % 70),
            pm10: 20 + k,
            o3: 5 * k,
            co: 1000 * k,
          }),
        );
      }
      if (k % 4 === 0) sequence.push(reading('aq-2', at(H0 + k - 2, 30), { pm25: 99 })); // out of order
    }
    const run = (t: HourlyAqiTracker, readings: AqiTrackerReading[]): HourlyAqiRecord[] =>
      readings.flatMap((r) => t.add(r));
    const whole = new HourlyAqiTracker();
    const all = run(whole, sequence);
    expect(all.length).toBeGreaterThan(90);

    const first = new HourlyAqiTracker();
    const half = Math.floor(sequence.length / 2);
    const before = run(first, sequence.slice(0, half));
    const restored = HourlyAqiTracker.restore(JSON.parse(JSON.stringify(first.snapshot())));
    expect(restored.snapshot()).toEqual(first.snapshot());
    const after = run(restored, sequence.slice(half));
    expect([...before, ...after]).toEqual(all);
    expect(restored.snapshot()).toEqual(whole.snapshot());
    // Determinism: a second run of the same sequence gives the same records.
    expect(run(new HourlyAqiTracker(), sequence)).toEqual(all);
    // Memory: at most 12 hours of buckets per station.
    for (const station of whole.snapshot().stations) expect(station.buckets.length).toBeLessThanOrEqual(12);
  });

  it('restore refuses what snapshot() does not write', () => {
    expect(() => HourlyAqiTracker.restore(null)).toThrow(TypeError);
    expect(() => HourlyAqiTracker.restore({ version: 2, hoursKept: 12, stations: [] })).toThrow(/version 2/);
    expect(() =>
      HourlyAqiTracker.restore({
        version: 1,
        hoursKept: 12,
        stations: [
          { stationId: 'a', latestHour: 1, closedThrough: 0, buckets: [{ hour: 1, sums: { pm25: [1, 0] } }] },
        ],
      }),
    ).toThrow(/sums\.pm25/);
    expect(() => new HourlyAqiTracker({ hoursKept: 6 })).toThrow(RangeError);
  });

  it('ignores readings without pollutants and values that are not concentrations', () => {
    const t = new HourlyAqiTracker();
    expect(t.add(reading('ws-1', at(H0), { temperature: 30 }))).toEqual([]);
    expect(t.size).toBe(0);
    t.add(reading('aq-1', at(H0), { pm25: -5, pm10: Number.NaN, no2: 'x' }));
    expect(t.size).toBe(0);
    expect(() => t.add(reading('aq-1', 1.5, { pm25: 1 }))).toThrow(RangeError);
  });
});

describe('HourlyAqiTracker.closedHourReadings', () => {
  it('counts readings of an hour already closed (they never reach its AQI), not those of open hours', () => {
    const H = 3_600_000;
    const t0 = Date.UTC(2026, 10, 30, 0);
    const tracker = new HourlyAqiTracker();
    tracker.add({ stationId: 's', ts: t0 + 10 * 60_000, metrics: { pm25: 20 } });
    tracker.add({ stationId: 's', ts: t0 + 50 * 60_000, metrics: { pm25: 22 } });
    expect(tracker.closedHourReadings).toBe(0);
    // The next hour closes hour 0; a reading stamped in hour 0 after that comes too late.
    tracker.add({ stationId: 's', ts: t0 + H + 60_000, metrics: { pm25: 30 } });
    tracker.add({ stationId: 's', ts: t0 + 55 * 60_000, metrics: { pm25: 140 } });
    expect(tracker.closedHourReadings).toBe(1);
    // A reading of the open hour, and one without pollutants, are not counted.
    tracker.add({ stationId: 's', ts: t0 + H + 2 * 60_000, metrics: { pm25: 31 } });
    tracker.add({ stationId: 's', ts: t0 + 20 * 60_000, metrics: { temperature: 30 } });
    expect(tracker.closedHourReadings).toBe(1);
  });
});
