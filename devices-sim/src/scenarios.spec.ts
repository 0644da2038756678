import { AlertEngine } from '@ioc/alert-engine';
import { readSeedRules, registryEngineDirectory } from '@ioc/alerting';
import { HourlyAqiTracker, type HourlyAqiRecord } from '@ioc/aqi';
import { type Device, parsePayload, type Reading } from '@ioc/contracts';
import { DEFAULT_SEEDS_DIR, DeviceRegistry, loadSeeds } from '@ioc/registry';
import { HOUR_MS, localHour } from './local-time';
import {
  areaSubtree,
  NIGHT_NOISE_LIMIT_DBA,
  planScenario,
  SCENARIO_NAMES,
  ScenarioError,
  type ScenarioPlan,
  scenarioContext,
  scenarioTimeline,
  type TimelineReport,
} from './scenarios';

const seeds = loadSeeds();
// A fixed real "now" (13:07 UTC = 20:07 local) so plans do not depend on when the test runs.
const NOW = Date.UTC(2026, 10, 30, 13, 7, 31);

function timeline(name: string, options: Parameters<typeof planScenario>[2] = {}) {
  const plan = planScenario(name, seeds, { now: NOW, ...options });
  return { plan, reports: scenarioTimeline(plan, scenarioContext(plan, seeds.devices)) };
}

const mean = (values: readonly number[]): number => values.reduce((a, b) => a + b, 0) / values.length;
const num = (report: TimelineReport, metric: string): number => Number(report.output.metrics[metric]);
const inPhase = (reports: readonly TimelineReport[], ...phases: string[]) =>
  reports.filter((report) => phases.includes(report.phase));

/** Hourly means of one metric, per device and clock hour: `${deviceId} ${hourStartMs}` → mean. */
function hourlyMeans(
  reports: readonly TimelineReport[],
  metric: string,
): Map<string, { phases: Set<string>; mean: number; hour: number; deviceId: string }> {
  const groups = new Map<string, { phases: Set<string>; values: number[]; hour: number; deviceId: string }>();
  for (const report of reports) {
    const hour = Math.floor(report.tMs / HOUR_MS) * HOUR_MS;
    const key = `${report.deviceId} ${hour}`;
    const group = groups.get(key) ?? { phases: new Set(), values: [], hour, deviceId: report.deviceId };
    group.phases.add(report.phase);
    group.values.push(num(report, metric));
    groups.set(key, group);
  }
  return new Map(
    [...groups].map(([key, g]) => [
      key,
      { phases: g.phases, mean: mean(g.values), hour: g.hour, deviceId: g.deviceId },
    ]),
  );
}

/**
 * The 12-hour NowCast of hourly means (Decision 1459/QĐ-TCMT, as the US EPA's): w = min/max of
 * the last 12 hours, at least 0.5; Σ wⁱ⁻¹·cᵢ / Σ wⁱ⁻¹ over the hours present.
 */
function nowCast(hourly: readonly (number | undefined)[]): number {
  const last12 = hourly.slice(-12).reverse();
  const present = last12.filter((c): c is number => c !== undefined);
  const w = Math.max(0.5, Math.min(...present) / Math.max(...present));
  let num = 0;
  let den = 0;
  last12.forEach((c, i) => {
    if (c === undefined) return;
    num += w ** i * c;
    den += w ** i;
  });
  return num / den;
}

/** Every report validates against the device type's contract at the time it is sent. */
function expectContractValid(plan: ScenarioPlan, reports: readonly TimelineReport[]): void {
  const byId = new Map(plan.target.devices.map((d) => [d.id, d]));
  for (const report of reports) {
    const device = byId.get(report.deviceId) as Device;
    const body = {
      ts: report.tMs,
      ...(report.output.event ? { event: report.output.event } : {}),
      metrics: report.output.metrics,
    };
    const result = parsePayload(device.type, report.output.channel, JSON.stringify(body), {
      now: report.tMs,
    });
    expect({ id: report.deviceId, t: report.tMs, result }).toMatchObject({
      result: { ok: true, rejections: [] },
    });
  }
}

/** Reports of each device are strictly increasing in ts, spaced by its interval, and never ahead of real time. */
function expectTimely(plan: ScenarioPlan, reports: readonly TimelineReport[]): void {
  const last = new Map<string, number>();
  for (const report of reports) {
    const previous = last.get(report.deviceId);
    if (previous !== undefined) expect(report.tMs).toBeGreaterThan(previous);
    last.set(report.deviceId, report.tMs);
    // The runner reaches simulated t at real time NOW + (t − start) / K: it must not be earlier.
    const realAt = NOW + (report.tMs - plan.startMs) / plan.timeScale;
    expect(report.tMs).toBeLessThanOrEqual(realAt);
    expect(report.tMs).toBeGreaterThanOrEqual(plan.startMs);
    expect(report.tMs).toBeLessThan(plan.endMs);
  }
}

/**
 * The timeline fed, in order, to the platform's AlertEngine with the default rules of
 * `seeds/rules.json` (`readSeedRules`), as the broker's engine host would evaluate the readings:
 * every transition with the phase of the report that caused it, as `"{kind} {ruleId} {subjectId} {phase}"`.
 * (Reading-driven rules only: no ticks, no device statuses, no derived AQI.)
 */
function throughDefaultRules(plan: ScenarioPlan, reports: readonly TimelineReport[]): string[] {
  const registry = new DeviceRegistry(seeds);
  const engine = new AlertEngine({ directory: registryEngineDirectory(registry) });
  engine.setRules(
    readSeedRules(DEFAULT_SEEDS_DIR).map((definition) => ({
      definition,
      version: 1,
      origin: 'seed' as const,
      createdAt: 0,
      updatedAt: 0,
      updatedBy: null,
    })),
    plan.startMs,
  );
  return reports.flatMap((report) => {
    const device = registry.getDevice(report.deviceId) as Device;
    const reading: Reading = {
      deviceId: device.id,
      deviceType: device.type,
      domain: device.domain,
      kind: report.output.channel === 'event' ? 'event' : 'telemetry',
      areaId: device.areaId,
      areaPath: registry.sharedAreaPath(device.areaId),
      location: device.location,
      ts: report.tMs,
      ...(report.output.event ? { event: report.output.event } : {}),
      metrics: report.output.metrics,
    };
    return engine
      .evaluate(reading)
      .map((c) => `${c.transition.kind} ${c.alert.ruleId} ${c.alert.subjectId} ${report.phase}`);
  });
}

/** The transitions of `kind` among `steps`, without the kind, sorted. */
const stepsOf = (steps: readonly string[], kind: string): string[] =>
  steps
    .filter((s) => s.startsWith(`${kind} `))
    .map((s) => s.slice(kind.length + 1))
    .sort();

describe('pollution-episode', () => {
  const { plan, reports } = timeline('pollution-episode');
  const stations = (areaId: string): Device[] => {
    const subtree = areaSubtree(seeds, areaId);
    return seeds.devices.filter((d) => d.type === 'air-quality-station' && subtree.has(d.areaId));
  };

  it('takes every station of the district with the most stations, and nothing else', () => {
    const districts = seeds.areas.filter((a) => a.level === 'district');
    const most = Math.max(...districts.map((d) => stations(d.id).length));
    expect(stations(plan.target.areaId)).toHaveLength(most);
    expect(plan.target.devices.map((d) => d.id).sort()).toEqual(
      stations(plan.target.areaId)
        .map((d) => d.id)
        .sort(),
    );
    expect(new Set(reports.map((r) => r.deviceId))).toEqual(new Set(plan.target.devices.map((d) => d.id)));
  });

  it('runs on a simulated clock: whole hours, ≥ 3 h warm-up, ≥ 3 h episode, ≥ 4 h clearing, ending by now', () => {
    expect(plan.startMs % HOUR_MS).toBe(0);
    const length = (name: string) => {
      const phase = plan.phases.find((p) => p.name === name);
      return phase ? phase.endMs - phase.startMs : 0;
    };
    expect(length('warm-up')).toBeGreaterThanOrEqual(3 * HOUR_MS);
    expect(length('rising') + length('episode')).toBeGreaterThanOrEqual(3 * HOUR_MS);
    expect(length('clearing')).toBeGreaterThanOrEqual(4 * HOUR_MS);
    expect(plan.endMs).toBeLessThanOrEqual(NOW + plan.realDurationMs);
    expect(plan.endMs).toBeGreaterThan(NOW - HOUR_MS);
    // Default ×720: one simulated hour per 5 real seconds.
    expect(plan.timeScale).toBe(720);
    expect(plan.realDurationMs).toBe((plan.endMs - plan.startMs) / 720);
    expectTimely(plan, reports);
    expectContractValid(plan, reports);
  });

  it('reports every simulated 5 minutes per station (the field cadence)', () => {
    for (const device of plan.target.devices) {
      const times = reports.filter((r) => r.deviceId === device.id).map((r) => r.tMs);
      expect(times.length).toBe((plan.endMs - plan.startMs) / 300_000);
      for (let i = 1; i < times.length; i += 1)
        expect((times[i] as number) - (times[i - 1] as number)).toBe(300_000);
    }
  });

  it('hourly PM2.5 means cross 50.1 µg/m³ in the episode hours and stay below 50 in warm-up and clearing', () => {
    const hourly = [...hourlyMeans(reports, 'pm25').values()];
    expect(hourly).toHaveLength(plan.target.devices.length * 12);
    for (const hour of hourly) {
      if (hour.phases.has('rising') || hour.phases.has('episode')) expect(hour.mean).toBeGreaterThan(50.1);
      else expect(hour.mean).toBeLessThan(50);
    }
  });

  it('drives the PM2.5 NowCast to "Kém/poor" (> 50) and "Xấu/bad" (> 80), then back to "Tốt/good" (≤ 25)', () => {
    const hourly = hourlyMeans(reports, 'pm25');
    for (const device of plan.target.devices) {
      const series: number[] = [];
      const casts: number[] = [];
      for (let hour = plan.startMs; hour < plan.endMs; hour += HOUR_MS) {
        series.push((hourly.get(`${device.id} ${hour}`) as { mean: number }).mean);
        casts.push(nowCast(series));
      }
      // Warm-up: good air; the episode reaches bad air; after the clearing the last NowCast is good.
      expect(Math.max(...casts.slice(0, 3))).toBeLessThanOrEqual(25);
      expect(Math.max(...casts)).toBeGreaterThan(80);
      expect(casts.at(-1)).toBeLessThanOrEqual(25);
    }
  });

  it("gives each station one run of hourly VN_AQI ≥ 101 (reaching 151, 'Xấu/bad'), good before and after (@ioc/aqi)", () => {
    const tracker = new HourlyAqiTracker();
    const records: HourlyAqiRecord[] = [];
    for (const report of reports)
      records.push(
        ...tracker.add({ stationId: report.deviceId, ts: report.tMs, metrics: report.output.metrics }),
      );
    records.push(...tracker.closeHoursBefore(plan.endMs, 0));
    const episode = plan.phases.filter((p) => p.name === 'rising' || p.name === 'episode');
    const episodeStart = Math.min(...episode.map((p) => p.startMs));
    for (const device of plan.target.devices) {
      const own = records.filter((r) => r.stationId === device.id);
      // Every hour from the third warm-up hour on (the NowCast needs 2 of the last 3) to the end.
      expect(own.map((r) => r.ts)).toEqual(
        Array.from({ length: 11 }, (_, i) => plan.startMs + (i + 2) * HOUR_MS),
      );
      const poor = own.map((r) => r.aqi >= 101);
      // One contiguous run of "poor or worse" hours: one alert opens, and resolves once.
      expect(
        poor
          .join('')
          .replace(/(true)+/g, 'T')
          .replace(/(false)+/g, 'F'),
      ).toBe('FTF');
      expect(own.filter((r) => r.ts <= episodeStart).every((r) => r.band === 'good')).toBe(true);
      expect(Math.max(...own.map((r) => r.aqi))).toBeGreaterThanOrEqual(151);
      expect(own.at(-1)?.band).toBe('good');
    }
  });

  it('raises NO₂ and CO with the particles', () => {
    for (const device of plan.target.devices) {
      const own = reports.filter((r) => r.deviceId === device.id);
      expect(mean(inPhase(own, 'episode').map((r) => num(r, 'no2')))).toBeGreaterThan(
        mean(inPhase(own, 'warm-up').map((r) => num(r, 'no2'))),
      );
      expect(mean(inPhase(own, 'episode').map((r) => num(r, 'co')))).toBeGreaterThan(
        mean(inPhase(own, 'warm-up').map((r) => num(r, 'co'))),
      );
    }
  });

  it('is deterministic for a seed and differs between seeds; --area picks that subtree', () => {
    expect(timeline('pollution-episode').reports).toEqual(reports);
    const other = timeline('pollution-episode', { seed: 2 }).reports;
    expect(other.map((r) => r.output.metrics['pm25'])).not.toEqual(
      reports.map((r) => r.output.metrics['pm25']),
    );
    const area = seeds.areas.find(
      (a) => a.level === 'district' && a.id !== plan.target.areaId && stations(a.id).length > 0,
    );
    const chosen = planScenario('pollution-episode', seeds, { now: NOW, areaId: area?.id as string });
    expect(chosen.target.devices.map((d) => d.id).sort()).toEqual(
      stations(area?.id as string)
        .map((d) => d.id)
        .sort(),
    );
  });
});

describe('noisy-night', () => {
  const { plan, reports } = timeline('noisy-night');

  it('lies in the local night and is loud above the QCVN 26 night limit only in its noisy phase', () => {
    expect(localHour(plan.startMs)).toBe(22);
    expect(plan.endMs).toBeLessThanOrEqual(NOW);
    for (const report of reports) {
      const h = localHour(report.tMs);
      expect(h >= 21 || h < 6).toBe(true);
      if (report.phase === 'noisy') expect(num(report, 'laeq')).toBeGreaterThan(NIGHT_NOISE_LIMIT_DBA);
      else expect(num(report, 'laeq')).toBeLessThan(NIGHT_NOISE_LIMIT_DBA);
    }
    expect(inPhase(reports, 'noisy').length).toBeGreaterThan(0);
    expect(plan.target.devices.every((d) => d.type === 'noise-meter')).toBe(true);
    expectTimely(plan, reports);
    expectContractValid(plan, reports);
  });

  it('takes only normal-zone meters: under the default QCVN 26 rules only the normal night limit fires, once per meter, in the noisy phase, and clears in the calm', () => {
    // A special-zone meter (noiseZone "special": night limit 45 dBA) would break its limit already
    // in the quiet phase (47–50 dBA) — the scenario is shaped for the normal area's 55 dBA.
    expect(plan.target.devices.length).toBeGreaterThan(0);
    expect(plan.target.devices.every((d) => d.attributes?.['noiseZone'] === 'normal')).toBe(true);

    const steps = throughDefaultRules(plan, reports);
    const meters = plan.target.devices.map((d) => d.id).sort();
    expect(stepsOf(steps, 'fired')).toEqual(meters.map((id) => `qcvn26-normal-night ${id} noisy`));
    expect(stepsOf(steps, 'resolved')).toEqual(meters.map((id) => `qcvn26-normal-night ${id} calm`));
    expect(steps.every((s) => s.includes(' qcvn26-normal-night '))).toBe(true);
  });
});

describe('cabinet-fault', () => {
  const { plan, reports } = timeline('cabinet-fault');
  const [cabinet, ...lamps] = plan.target.devices as [Device, ...Device[]];

  it('takes one cabinet and exactly the street lights it feeds', () => {
    expect(cabinet.type).toBe('lighting-cabinet');
    const fed = seeds.devices.filter(
      (d) => d.type === 'street-light' && d.attributes?.['cabinetId'] === cabinet.id,
    );
    expect(lamps.map((d) => d.id).sort()).toEqual(fed.map((d) => d.id).sort());
    expect(lamps.length).toBeGreaterThan(0);
  });

  it('drops the cabinet to 0 kW with its door open and its lamps dark with powerLoss, then recovers', () => {
    const own = (id: string, ...phases: string[]) =>
      inPhase(reports, ...phases).filter((r) => r.deviceId === id);
    for (const report of own(cabinet.id, 'fault')) {
      expect(report.output.metrics).toMatchObject({
        cabinetActivePower: 0,
        doorOpen: true,
        circuitsOn: 0,
        voltageL1: 0,
      });
    }
    for (const report of own(cabinet.id, 'normal', 'recovered'))
      expect(num(report, 'cabinetActivePower')).toBeGreaterThan(0.1);
    for (const lamp of lamps) {
      const fault = own(lamp.id, 'fault');
      expect(fault.length).toBeGreaterThan(0);
      for (const report of fault)
        expect(report.output.metrics).toMatchObject({ on: false, lampFault: 'powerLoss', activePower: 0 });
      for (const report of own(lamp.id, 'normal', 'recovered'))
        expect(report.output.metrics['lampFault']).not.toBe('powerLoss');
      // Energy meters never run backwards.
      const energy = reports.filter((r) => r.deviceId === lamp.id).map((r) => num(r, 'energyConsumed'));
      for (let i = 1; i < energy.length; i += 1)
        expect(energy[i]).toBeGreaterThanOrEqual(energy[i - 1] as number);
    }
    expectTimely(plan, reports);
    expectContractValid(plan, reports);
  });

  it('fires the default cabinet (no power, door open) and street-light power-loss rules in the fault, resolved in the recovery, nothing else', () => {
    const steps = throughDefaultRules(plan, reports);
    const expected = (phase: string): string[] =>
      [
        `lighting-cabinet-door-open ${cabinet.id} ${phase}`,
        `lighting-cabinet-no-power ${cabinet.id} ${phase}`,
        ...lamps.map((l) => `street-light-fault-power-loss ${l.id} ${phase}`),
      ].sort();
    expect(stepsOf(steps, 'fired')).toEqual(expected('fault'));
    expect(stepsOf(steps, 'resolved')).toEqual(expected('recovered'));
  });
});

describe('rush-hour-congestion', () => {
  const { plan, reports } = timeline('rush-hour-congestion');

  it('takes counters on one road, below 10 km/h with high occupancy only while congested', () => {
    expect(new Set(plan.target.devices.map((d) => d.attributes?.['road'])).size).toBe(1);
    expect(plan.target.devices.every((d) => d.type === 'traffic-counter')).toBe(true);
    expect(localHour(plan.startMs)).toBe(16);
    for (const report of reports) {
      const speed = num(report, 'averageVehicleSpeed');
      if (report.phase === 'congested') {
        expect(speed).toBeLessThan(10);
        expect(num(report, 'occupancy')).toBeGreaterThan(0.5);
      } else if (report.output.metrics['averageVehicleSpeed'] !== undefined) {
        expect(speed).toBeGreaterThanOrEqual(10);
      }
    }
    expectTimely(plan, reports);
    expectContractValid(plan, reports);
  });

  it('fires the default congestion rule once per counter while congested, resolved in the recovery, and nothing else', () => {
    const steps = throughDefaultRules(plan, reports);
    const counters = plan.target.devices.map((d) => d.id).sort();
    expect(stepsOf(steps, 'fired')).toEqual(counters.map((id) => `traffic-congestion ${id} congested`));
    expect(stepsOf(steps, 'resolved')).toEqual(counters.map((id) => `traffic-congestion ${id} recovery`));
    expect(steps.every((s) => s.includes(' traffic-congestion '))).toBe(true);
  });
});

describe('camera scenarios', () => {
  it('camera-incident: exactly one accident, then one wrong-way event, both in the incident phase', () => {
    const { plan, reports } = timeline('camera-incident');
    const events = reports.filter((r) => r.output.event === 'accident' || r.output.event === 'wrongWay');
    expect(events.map((r) => [r.output.event, r.phase])).toEqual([
      ['accident', 'incident'],
      ['wrongWay', 'incident'],
    ]);
    expect(plan.target.devices[0]?.attributes?.['purpose']).not.toBe('public-order');
    expectTimely(plan, reports);
    expectContractValid(plan, reports);
  });

  it('camera-incident fires the default accident and wrong-way rules once each, in the incident phase', () => {
    const { plan, reports } = timeline('camera-incident');
    const camera = plan.target.devices[0]?.id as string;
    expect(stepsOf(throughDefaultRules(plan, reports), 'fired')).toEqual([
      `camera-accident ${camera} incident`,
      `camera-wrong-way ${camera} incident`,
    ]);
  });

  it('camera-offline: nothing while offline, reports before and after', () => {
    const { plan, reports } = timeline('camera-offline', { timeScale: 30 });
    expect(plan.phases.find((p) => p.name === 'offline')?.connection).toBe('down');
    expect(inPhase(reports, 'offline')).toEqual([]);
    expect(inPhase(reports, 'online').length).toBeGreaterThan(0);
    expect(inPhase(reports, 'back-online').length).toBeGreaterThan(0);
    expectTimely(plan, reports);
  });
});

describe('refusals', () => {
  it('names the known scenarios for an unknown one, and refuses unknown or empty areas and bad scales', () => {
    expect(() => planScenario('smog', seeds)).toThrow(
      new ScenarioError(`unknown scenario "smog"; known: ${SCENARIO_NAMES.join(', ')}`),
    );
    expect(() => planScenario('pollution-episode', seeds, { areaId: 'atlantis' })).toThrow(
      'unknown area "atlantis"',
    );
    const empty = seeds.areas.find(
      (a) =>
        !seeds.devices.some(
          (d) => d.type === 'air-quality-station' && areaSubtree(seeds, a.id).has(d.areaId),
        ),
    );
    expect(() => planScenario('pollution-episode', seeds, { areaId: empty?.id as string })).toThrow(
      new RegExp(`area "${empty?.id}" has no air-quality station; districts that have: `),
    );
    for (const timeScale of [0, -5, Number.NaN, Number.POSITIVE_INFINITY])
      expect(() => planScenario('noisy-night', seeds, { timeScale })).toThrow(ScenarioError);
  });
});
