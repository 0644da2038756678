import {
  DEVICE_TYPE_CONTRACTS,
  domainOf,
  ruleDefinitionSchema,
  type DeviceType,
  type Reading,
  type RuleDefinitionInput,
  type StoredRule,
} from '@ioc/contracts';
import type { EngineArea, EngineDevice, EngineDirectory } from './directory';
import { AlertEngine, type AlertEngineOptions } from './engine';

/*
 * Test support (used by this library's specs only): a small Hà Nội area tree and device directory,
 * rule and reading builders, a deterministic engine.
 */

export const AREAS: EngineArea[] = [
  { id: 'hn', name: 'Hà Nội', path: ['hn'] },
  { id: 'hn-hk', name: 'Hoàn Kiếm', path: ['hn', 'hn-hk'] },
  { id: 'hn-hk-hb', name: 'Hàng Bạc', path: ['hn', 'hn-hk', 'hn-hk-hb'] },
  { id: 'hn-bd', name: 'Ba Đình', path: ['hn', 'hn-bd'] },
];

function device(
  id: string,
  type: DeviceType,
  areaId: string,
  attributes: Record<string, unknown> = {},
): EngineDevice {
  const area = AREAS.find((a) => a.id === areaId);
  if (!area) throw new Error(`no area ${areaId}`);
  return {
    id,
    type,
    domain: domainOf(type),
    name: `Trạm ${id}`,
    areaId,
    areaPath: area.path,
    attributes,
    silenceTimeoutSeconds: DEVICE_TYPE_CONTRACTS[type].silenceTimeoutSeconds,
    reportingIntervalSeconds: DEVICE_TYPE_CONTRACTS[type].reportingIntervalSeconds,
  };
}

/** A mutable directory (tests move and remove devices). */
export class TestDirectory implements EngineDirectory {
  readonly byId = new Map<string, EngineDevice>();
  constructor(devices: EngineDevice[] = defaultDevices()) {
    for (const d of devices) this.byId.set(d.id, d);
  }
  device(id: string): EngineDevice | undefined {
    return this.byId.get(id);
  }
  area(id: string): EngineArea | undefined {
    return AREAS.find((a) => a.id === id);
  }
  devices(): Iterable<EngineDevice> {
    return this.byId.values();
  }
}

export function defaultDevices(): EngineDevice[] {
  return [
    device('aq-1', 'air-quality-station', 'hn-hk'),
    device('aq-2', 'air-quality-station', 'hn-hk-hb'),
    device('aq-3', 'air-quality-station', 'hn-bd'),
    device('noise-1', 'noise-meter', 'hn-hk', { noiseZone: 'special' }),
    device('noise-2', 'noise-meter', 'hn-bd', { noiseZone: 'normal' }),
    device('cam-1', 'camera', 'hn-bd'),
    device('tc-1', 'traffic-counter', 'hn-bd'),
  ];
}

/** A stored rule from a definition input (parsed by the contracts' schema, so defaults apply). */
export function rule(
  input: Partial<RuleDefinitionInput> & { kind: RuleDefinitionInput['kind'] },
  version = 1,
): StoredRule {
  const definition = ruleDefinitionSchema.parse({
    id: 'r-test',
    name: { vi: 'Quy tắc', en: 'Rule' },
    severity: 'warning',
    message: { vi: '{device}: {metric} {value} {unit}', en: '{device}: {metric} {value} {unit}' },
    ...input,
  });
  return { definition, version, origin: 'api', createdAt: 0, updatedAt: 0, updatedBy: null };
}

/** A reading of `deviceId` (from the default directory) at `ts` with `metrics`. */
export function reading(
  dir: EngineDirectory,
  deviceId: string,
  ts: number,
  metrics: Reading['metrics'],
  extra: Partial<Reading> = {},
): Reading {
  const d = dir.device(deviceId);
  if (!d) throw new Error(`no device ${deviceId}`);
  return {
    deviceId,
    deviceType: d.type,
    domain: d.domain,
    kind: 'telemetry',
    areaId: d.areaId,
    areaPath: d.areaPath,
    location: { lat: 21.03, lon: 105.85 },
    ts,
    metrics,
    ...extra,
  };
}

/** An engine with sequential alert ids (`a1`, `a2`, …); `options` are passed on (e.g. `valueBand`). */
export function testEngine(
  dir: EngineDirectory = new TestDirectory(),
  options: Omit<AlertEngineOptions, 'directory' | 'newAlertId'> = {},
): AlertEngine {
  let n = 0;
  return new AlertEngine({ ...options, directory: dir, newAlertId: () => `a${++n}` });
}

/** 2026-06-01T00:00:00Z. */
export const T0 = Date.UTC(2026, 5, 1);
export const MIN = 60_000;
export const HOUR = 3_600_000;
