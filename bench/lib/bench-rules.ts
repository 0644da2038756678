import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseRule, RULES_FILE } from '@ioc/alerting';
import {
  DEVICE_TYPE_CONTRACTS,
  type Device,
  type DeviceType,
  type Domain,
  type RuleDefinitionInput,
  type Severity,
} from '@ioc/contracts';
import { loadSeeds } from '@ioc/registry';
import { buildTemplates } from './payloads';

const SEEDS_DIR = resolve(__dirname, '..', '..', 'seeds');

/**
 * Rules for the alerting benchmarks (bench/alert-latency.ts, the `alerts-*` variants of
 * bench/ingest-throughput.ts): `count` generated rules over the seeded devices — varied kinds,
 * metrics, conditions and scopes — whose limits lie outside every value the benchmark load
 * publishes, so they are evaluated on every reading they cover and never fire; plus, for the
 * latency benchmark, one probe rule on one device that the probe drives across its limit.
 */

/** The probe rule's id. */
export const PROBE_RULE_ID = 'bench-probe';
/** The probe's metric (noise-meter `laeq`, dB(A); the metric catalogue allows 20–140). */
export const PROBE_METRIC = 'laeq';
/** The probe rule fires above this… */
export const PROBE_FIRE_ABOVE = 120;
/** …and resolves below this (hysteresis, as a real noise limit would). */
export const PROBE_CLEAR_BELOW = 100;
/** Values the probe publishes lie within these (metric catalogue range of `laeq`). */
const PROBE_VALUE_RANGE = { min: 20, max: 140 } as const;

/**
 * The `k`-th probe value (k ≥ 0), unique over 18 000 probes of each kind: firing values in
 * [121, 139), resolving values in (21, 99] — thousandths, exact as JSON numbers, so the value an
 * alert notification carries names the reading that caused it.
 */
export function probeValue(k: number, firing: boolean): number {
  const step = (k % 18_000) / 1000;
  return firing
    ? Math.round((PROBE_FIRE_ABOVE + 1 + step) * 1000) / 1000
    : Math.round((PROBE_CLEAR_BELOW - 1 - step) * 1000) / 1000;
}

/** The probe device: the first seeded noise meter. */
export function probeDevice(): Device {
  const device = loadSeeds().devices.find((d) => d.type === 'noise-meter');
  if (!device) throw new Error('no noise meter among the seeded devices');
  return device;
}

/** The probe rule: `laeq` above PROBE_FIRE_ABOVE fires at once, below PROBE_CLEAR_BELOW resolves. */
export function probeRule(deviceId: string): RuleDefinitionInput {
  return {
    id: PROBE_RULE_ID,
    kind: 'threshold',
    name: { vi: 'Đầu dò độ trễ (benchmark)', en: 'Latency probe (benchmark)' },
    severity: 'warning',
    scope: { deviceIds: [deviceId] },
    metric: PROBE_METRIC,
    condition: { op: 'above', value: PROBE_FIRE_ABOVE },
    clear: { op: 'below', value: PROBE_CLEAR_BELOW },
    message: {
      vi: 'Đầu dò {device}: {value} {unit} (ngưỡng {limit})',
      en: 'Probe {device}: {value} {unit} (limit {limit})',
    },
    source: { standard: 'bench/alert-latency.ts' },
  };
}

/** Smallest and largest value seen per numeric metric. */
type Ranges = Map<string, { min: number; max: number }>;

function widen(ranges: Ranges, key: string, value: number): void {
  const r = ranges.get(key);
  if (r) {
    r.min = Math.min(r.min, value);
    r.max = Math.max(r.max, value);
  } else ranges.set(key, { min: value, max: value });
}

/**
 * What the benchmark load publishes: every numeric metric's range over all device types (telemetry
 * under its metric name, event metrics under `event:metric`), the telemetry metrics each device
 * type sends, and the events seen. Taken from the same templates the loader publishes (every value
 * it sends is one of theirs), widened by the probe's range for `laeq`.
 */
function observedLoad(): {
  ranges: Ranges;
  metricsByType: Map<DeviceType, string[]>;
  events: Map<string, { type: DeviceType; metrics: string[] }>;
} {
  const ranges: Ranges = new Map();
  const metricsByType = new Map<DeviceType, Set<string>>();
  const events = new Map<string, { type: DeviceType; metrics: Set<string> }>();
  for (const template of buildTemplates(Number.MAX_SAFE_INTEGER)) {
    for (const variant of template.variants) {
      const body = JSON.parse(`{"ts":0${variant.rest}`) as {
        event?: string;
        metrics: Record<string, unknown>;
      };
      for (const [metric, value] of Object.entries(body.metrics)) {
        if (typeof value !== 'number') continue;
        if (body.event === undefined) {
          widen(ranges, metric, value);
          const set = metricsByType.get(template.device.type) ?? new Set<string>();
          set.add(metric);
          metricsByType.set(template.device.type, set);
        } else {
          widen(ranges, `${body.event}:${metric}`, value);
          const entry = events.get(body.event) ?? { type: template.device.type, metrics: new Set<string>() };
          entry.metrics.add(metric);
          events.set(body.event, entry);
        }
      }
    }
  }
  widen(ranges, PROBE_METRIC, PROBE_VALUE_RANGE.min);
  widen(ranges, PROBE_METRIC, PROBE_VALUE_RANGE.max);
  return {
    ranges,
    metricsByType: new Map([...metricsByType].map(([t, s]) => [t, [...s].sort()])),
    events: new Map([...events].map(([e, x]) => [e, { type: x.type, metrics: [...x.metrics].sort() }])),
  };
}

/** Deterministic pseudo-random numbers (mulberry32), so every run loads the same rules. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** How the generated rules are spread over kinds and conditions (fractions of `count`, in order). */
export const RULE_MIX = [
  ['threshold above', 0.38],
  ['threshold below', 0.14],
  ['threshold outside', 0.1],
  ['threshold rate of change', 0.05],
  ['threshold on a rolling window', 0.13],
  ['area aggregate', 0.08],
  ['event', 0.05],
  ['no data', 0.04],
  ['status offline', 0.03],
] as const;
type MixKind = (typeof RULE_MIX)[number][0];

const SEVERITIES: readonly Severity[] = ['info', 'warning', 'warning', 'critical'];

/**
 * `count` rules that never fire on the benchmark load (see the module comment), ids
 * `bench-0001`…; deterministic for a given `seed`. Kinds as RULE_MIX; scopes cycle through a
 * device type, a domain, a type within an area subtree, a list of devices, and a type with an
 * attribute; some rules have `for`, keep firing for, escalations, a schedule or a validity date.
 * Limits: beyond the observed range by 10 % of its span (at least 1), so no reading — nor a
 * window's mean, minimum or maximum of readings — reaches them; rates of change 10¹² per minute.
 *
 * @throws Error when a generated rule fails the platform's own rule validation (`parseRule`)
 */
export function generateRules(count: number, seed = 10): RuleDefinitionInput[] {
  const next = random(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)] as T;
  const { devices, areas } = loadSeeds();
  const { ranges, metricsByType, events } = observedLoad();
  const types = [...metricsByType.keys()];
  const kinds: MixKind[] = [];
  for (const [kind, share] of RULE_MIX) for (let i = 0; i < Math.round(share * count); i++) kinds.push(kind);
  while (kinds.length < count) kinds.push('threshold above');
  kinds.length = count;

  const rules: RuleDefinitionInput[] = [];
  kinds.forEach((kind, index) => {
    const id = `bench-${String(index + 1).padStart(4, '0')}`;
    const type = pick(types);
    const ofType = devices.filter((d) => d.type === type);
    const metric = pick(metricsByType.get(type) ?? []);
    const range = ranges.get(metric) ?? { min: 0, max: 0 };
    const margin = Math.max(1, (range.max - range.min) * 0.1);
    const above = round3(range.max + margin);
    const below = round3(range.min - margin);
    const domain = DEVICE_TYPE_CONTRACTS[type].domain as Domain;
    const someDevice = pick(ofType);
    const parentArea = areas.find((a) => a.id === someDevice.areaId)?.parentId ?? someDevice.areaId;
    const scopes = [
      { deviceTypes: [type] },
      { domains: [domain], deviceTypes: [type] },
      { deviceTypes: [type], areaIds: [next() < 0.5 ? someDevice.areaId : parentArea] },
      {
        deviceIds: [...new Set(Array.from({ length: 1 + Math.floor(next() * 5) }, () => pick(ofType).id))],
      },
      (() => {
        const [name, value] = Object.entries(someDevice.attributes ?? {})[0] ?? [];
        return name === undefined
          ? { deviceTypes: [type] }
          : { deviceTypes: [type], attributes: { [name]: value } };
      })(),
    ];
    const scope = scopes[index % scopes.length] as Record<string, unknown>;
    const common = {
      id,
      name: { vi: `Quy tắc thử ${index + 1}`, en: `Bench rule ${index + 1}` },
      severity: pick(SEVERITIES),
      message: {
        vi: '{metric} tại {device} ({area}) là {value} {unit}, ngưỡng {limit}',
        en: '{metric} at {device} ({area}) is {value} {unit}, limit {limit}',
      },
      source: { standard: 'bench (generated)', note: `${kind}; never fires on the benchmark load` },
      ...(index % 7 === 0 ? { forSeconds: 60 * (1 + (index % 5)) } : {}),
      ...(index % 11 === 0 ? { keepFiringForSeconds: 300 } : {}),
      ...(index % 13 === 0 ? { schedule: { fromHour: 21, toHour: 6 } } : {}),
      ...(index % 17 === 0 ? { validFrom: '2026-01-01T00:00:00+07:00' } : {}),
    };
    let rule: RuleDefinitionInput;
    switch (kind) {
      case 'threshold above':
        rule = {
          ...common,
          kind: 'threshold',
          scope,
          metric,
          condition: { op: 'above', value: above, ...(index % 2 ? { inclusive: true } : {}) },
          clear: { op: 'below', value: round3(above - margin / 2) },
          ...(index % 5 === 0
            ? {
                escalations: [
                  { severity: 'critical', condition: { op: 'above', value: round3(above + margin) } },
                ],
              }
            : {}),
        } as RuleDefinitionInput;
        break;
      case 'threshold below':
        rule = {
          ...common,
          kind: 'threshold',
          scope,
          metric,
          condition: { op: 'below', value: below },
          clear: { op: 'above', value: round3(below + margin / 2) },
        } as RuleDefinitionInput;
        break;
      case 'threshold outside':
        rule = {
          ...common,
          kind: 'threshold',
          scope,
          metric,
          condition: { op: 'outside', min: below, max: above },
        } as RuleDefinitionInput;
        break;
      case 'threshold rate of change':
        rule = {
          ...common,
          kind: 'threshold',
          scope,
          metric,
          condition: {
            op: 'rateOfChange',
            perMinute: 1e12,
            direction: pick(['rise', 'fall', 'either'] as const),
          },
        } as RuleDefinitionInput;
        break;
      case 'threshold on a rolling window':
        rule = {
          ...common,
          kind: 'threshold',
          scope,
          metric,
          window: {
            seconds: pick([300, 3600, 8 * 3600, 24 * 3600]),
            aggregate: pick(['mean', 'max', 'min'] as const),
            minCoverage: 0,
          },
          condition: next() < 0.5 ? { op: 'above', value: above } : { op: 'below', value: below },
        } as RuleDefinitionInput;
        break;
      case 'area aggregate':
        rule = {
          ...common,
          kind: 'areaAggregate',
          scope: { deviceTypes: [type], areaIds: [parentArea] },
          metric,
          window: { seconds: pick([300, 3600]), aggregate: 'mean', minCoverage: 0 },
          condition: { op: 'above', value: above },
        } as RuleDefinitionInput;
        break;
      case 'event': {
        // An event the load raises, only beyond its metric's observed range; or one it never raises.
        const raised = [...events.entries()];
        const seen = raised.length > 0 && next() < 0.7 ? pick(raised) : undefined;
        if (seen) {
          const eventMetric = pick(seen[1].metrics);
          const r = ranges.get(`${seen[0]}:${eventMetric}`) ?? { min: 0, max: 0 };
          rule = {
            ...common,
            kind: 'event',
            scope: { deviceTypes: [seen[1].type] },
            event: seen[0],
            metric: eventMetric,
            condition: { op: 'above', value: round3(r.max + Math.max(1, (r.max - r.min) * 0.1)) },
          } as RuleDefinitionInput;
        } else {
          const cameraEvents = Object.keys(DEVICE_TYPE_CONTRACTS.camera.events).filter((e) => !events.has(e));
          rule = {
            ...common,
            kind: 'event',
            scope: { deviceTypes: ['camera'] },
            event: pick(cameraEvents.length > 0 ? cameraEvents : ['accident']),
          } as RuleDefinitionInput;
        }
        break;
      }
      case 'no data':
        rule = { ...common, kind: 'noData', scope, silentSeconds: 24 * 3600 } as RuleDefinitionInput;
        break;
      case 'status offline':
        // The load's devices share connections and never go offline; a long `for` besides.
        rule = {
          ...common,
          kind: 'status',
          scope,
          status: 'offline',
          forSeconds: 24 * 3600,
        } as RuleDefinitionInput;
        break;
    }
    try {
      parseRule(rule);
    } catch (error) {
      throw new Error(`generated rule ${id} (${kind}) is invalid: ${(error as Error).message}`, {
        cause: error,
      });
    }
    rules.push(rule);
  });
  return rules;
}

const round3 = (x: number): number => Math.round(x * 1000) / 1000;

/** A seeds directory (IOC_SEEDS_DIR) for the platform's processes; `remove()` deletes it. */
export interface BenchSeeds {
  dir: string;
  rules: number;
  remove(): void;
}

/**
 * A temporary seeds directory: the repository's areas and devices, and `rules` as its
 * `rules.json` — the platform's API loads them at start through its seed path (`loadSeedRules`:
 * one transaction, each rule versioned and in the registry change log, so the broker's alert
 * engine picks them up as it would REST writes). The shipped default rules are NOT included: they
 * fire on the load's values (noise at night, …) and would turn the benchmark into a notification
 * storm.
 */
export function writeBenchSeeds(rules: readonly RuleDefinitionInput[]): BenchSeeds {
  const dir = mkdtempSync(join(tmpdir(), 'bench-seeds-'));
  for (const file of ['areas.json', 'devices.json']) {
    copyFileSync(join(SEEDS_DIR, file), join(dir, file));
  }
  writeFileSync(join(dir, RULES_FILE), JSON.stringify(rules, null, 1));
  return { dir, rules: rules.length, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
