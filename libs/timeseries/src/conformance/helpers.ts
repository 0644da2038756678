import type { MetricValue, Reading } from '@ioc/contracts';
import { mulberry32 } from '@ioc/runtime';

/** Test data shared by the conformance suites. */

let deviceCounter = 0;
/** Device ids unique within the run, so no test can pass on another test's data. */
export function deviceId(label: string): string {
  deviceCounter += 1;
  return `${label}-${deviceCounter}`;
}

export function reading(
  device: string,
  ts: number,
  metrics: Record<string, MetricValue>,
  extra: Partial<Reading> = {},
): Reading {
  return {
    deviceId: device,
    deviceType: 'air-quality-station',
    domain: 'env',
    kind: 'telemetry',
    areaId: 'ward-7',
    areaPath: ['province', 'district-2', 'ward-7'],
    location: { lat: 21.0285, lon: 105.8542 },
    ts,
    metrics,
    ...extra,
  };
}

/** arr[index], failing the test loudly if the test's own data is shorter than it assumes. */
export function nth<T>(items: readonly T[], index: number): T {
  const item = items.at(index);
  if (item === undefined) throw new Error(`test data has no element ${index}`);
  return item;
}

/** Deterministic PRNG (mulberry32): varied data, same on every run. */
export const random = mulberry32;

export function shuffled<T>(items: readonly T[], rnd: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [out[i], out[j]] = [nth(out, j), nth(out, i)];
  }
  return out;
}

export const HOSTILE_NAMES: readonly string[] = [
  '',
  ' ',
  "'",
  '"',
  ';',
  '\\',
  '\n',
  '\r',
  '\r\n',
  '\t',
  '\u0000',
  '.*',
  '/.*/',
  '/',
  '*',
  "''",
  '""',
  "\\'",
  '\\"',
  "' OR '1'='1",
  "x' OR \"deviceId\" =~ /.*/ OR 'x'='x",
  "'; DROP DATABASE ioc; --",
  '"; DROP MEASUREMENT "readings"; --',
  "victim'",
  'victim"',
  'victim\\',
  'victim\n',
  'victim;',
  'victim.*',
  '/^victim/',
  "victim' OR 1=1 --",
  '\\\\\'; SELECT * FROM "readings"; --',
  "'".repeat(5000),
  '"'.repeat(5000),
  '\\'.repeat(5000),
  '.*'.repeat(2500),
  'x'.repeat(5000),
];
