import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Area, Device } from '@ioc/contracts';
import { loadSeeds, validateSeeds } from '@ioc/registry';
import { RULES_FILE } from '@ioc/alerting';

const SEEDS_DIR = resolve(__dirname, '..', '..', 'seeds');

/**
 * Largest offset of a generated device from its area's centre, in degrees of latitude/longitude
 * (0.012° ≈ 1.3 km at 11° N): the seeded areas carry a centre, not a boundary, and the seeded
 * wards of Tây Ninh are a few km across, so ±0.012° keeps a device around its own ward's centre.
 */
export const FLEET_SPREAD_DEGREES = 0.012;

/** A seeds directory (IOC_SEEDS_DIR) holding a generated fleet; `remove()` deletes it. */
export interface ConsoleFleet {
  dir: string;
  devices: Device[];
  remove(): void;
}

/** Deterministic pseudo-random numbers in [0, 1) (mulberry32), so every run places the same fleet. */
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

/**
 * `count` devices made from the seeded ones (seeds/devices.json, 304 devices): the i-th is a copy
 * of seeded device i mod 304 — same type, domain, area and attributes, so the device types and
 * the areas keep the seeds' proportions — with id `<seed id>-c<k>` (k = ⌊i / 304⌋; the seeded id
 * itself for k = 0), name `<seed name> #<k+1>`, and a position drawn uniformly within
 * ±FLEET_SPREAD_DEGREES of its area's centre (the area tree's `location`). Deterministic for a
 * given `seed`.
 *
 * @throws Error when the generated fleet fails the registry's seed validation (validateSeeds)
 */
export function generateFleet(count: number, seed = 11): { areas: Area[]; devices: Device[] } {
  const seeds = loadSeeds(SEEDS_DIR);
  const centres = new Map(seeds.areas.map((a) => [a.id, a.location]));
  const next = random(seed);
  const devices: Device[] = [];
  for (let i = 0; i < count; i++) {
    const template = seeds.devices[i % seeds.devices.length] as Device;
    const copy = Math.floor(i / seeds.devices.length);
    const centre = centres.get(template.areaId) ?? template.location;
    devices.push({
      ...template,
      id: copy === 0 ? template.id : `${template.id}-c${copy}`,
      name: copy === 0 ? template.name : `${template.name} #${copy + 1}`,
      location: {
        lat: round6(centre.lat + (next() * 2 - 1) * FLEET_SPREAD_DEGREES),
        lon: round6(centre.lon + (next() * 2 - 1) * FLEET_SPREAD_DEGREES),
      },
    });
  }
  return validateSeeds(seeds.areas, devices);
}

const round6 = (x: number): number => Math.round(x * 1e6) / 1e6;

/**
 * A temporary seeds directory for the platform's processes (IOC_SEEDS_DIR): the repository's
 * areas, `count` generated devices (generateFleet) and no alert rules (an empty rules.json, so
 * the shipped rules are not loaded).
 */
export function writeConsoleFleet(count: number): ConsoleFleet {
  const { devices } = generateFleet(count);
  const dir = mkdtempSync(join(tmpdir(), 'bench-console-seeds-'));
  try {
    copyFileSync(join(SEEDS_DIR, 'areas.json'), join(dir, 'areas.json'));
    writeFileSync(join(dir, 'devices.json'), JSON.stringify(devices));
    writeFileSync(join(dir, RULES_FILE), '[]');
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return { dir, devices, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
