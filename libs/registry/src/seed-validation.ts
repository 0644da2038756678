import type { z } from 'zod';
import { type Area, type Device, domainOf, isDeviceType } from '@ioc/contracts';
import { areaSchema, deviceSchema } from './seed-schemas';

export interface SeedData {
  areas: Area[];
  devices: Device[];
}

/** Every problem found in the seeds, each naming the file, the entry and what is wrong. */
export class SeedValidationError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(
      `invalid seeds (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n` +
        problems.map((problem) => `  - ${problem}`).join('\n'),
    );
    this.name = 'SeedValidationError';
  }
}

/**
 * Checks untrusted seed data (already JSON-parsed) and returns it typed, or throws a
 * SeedValidationError listing every problem at once, so one run shows all a hand edit broke.
 */
export function validateSeeds(areasInput: unknown, devicesInput: unknown): SeedData {
  const problems: string[] = [];
  const areas = parseEntries('areas.json', areasInput, areaSchema, problems) as Area[];
  const devices = parseEntries('devices.json', devicesInput, deviceSchema, problems) as Device[];
  checkAreaTree(areas, problems);
  checkDevices(devices, new Set(areas.map((area) => area.id)), problems);
  if (problems.length > 0) throw new SeedValidationError(problems);
  return { areas, devices };
}

function label(file: string, index: number, entry: unknown): string {
  const id = typeof entry === 'object' && entry !== null ? (entry as { id?: unknown }).id : undefined;
  return typeof id === 'string' ? `${file}[${index}] (id "${id}")` : `${file}[${index}]`;
}

/** Keeps the entries that match the schema; the others are reported and left out. */
function parseEntries<T>(file: string, input: unknown, schema: z.ZodType<T>, problems: string[]): T[] {
  if (!Array.isArray(input)) {
    problems.push(`${file}: must be a JSON array`);
    return [];
  }
  const valid: T[] = [];
  input.forEach((entry: unknown, index) => {
    const parsed = schema.safeParse(entry);
    if (parsed.success) {
      valid.push(parsed.data);
      return;
    }
    for (const issue of parsed.error.issues) {
      const path = issue.path.length > 0 ? issue.path.join('.') : '(entry)';
      problems.push(`${label(file, index, entry)}: ${path}: ${issue.message}`);
    }
  });
  return valid;
}

function checkAreaTree(areas: readonly Area[], problems: string[]): void {
  const byId = new Map<string, Area>();
  for (const area of areas) {
    if (byId.has(area.id)) problems.push(`areas.json: duplicate area id "${area.id}"`);
    else byId.set(area.id, area);
  }
  const roots = areas.filter((area) => area.parentId === null);
  if (roots.length !== 1) {
    problems.push(
      `areas.json: expected exactly one root area (parentId null), found ${roots.length}` +
        (roots.length > 0 ? `: ${roots.map((root) => `"${root.id}"`).join(', ')}` : ''),
    );
  }
  for (const area of areas) {
    if (area.parentId !== null && !byId.has(area.parentId)) {
      problems.push(`areas.json (id "${area.id}"): parent "${area.parentId}" does not exist`);
    }
  }
  // Walk up from every area; meeting an id already on the way up means the parents loop.
  const reported = new Set<string>();
  for (const area of areas) {
    const chain: string[] = [];
    let current: Area | undefined = area;
    while (current && current.parentId !== null) {
      const at = chain.indexOf(current.id);
      if (at >= 0) {
        const cycle = chain.slice(at);
        const key = [...cycle].sort().join(',');
        if (!reported.has(key)) {
          reported.add(key);
          problems.push(
            `areas.json (id "${cycle[0]}"): parent chain forms a cycle: ${[...cycle, cycle[0]].map((id) => `"${id}"`).join(' -> ')}`,
          );
        }
        break;
      }
      chain.push(current.id);
      current = byId.get(current.parentId);
    }
  }
}

function checkDevices(devices: readonly Device[], areaIds: ReadonlySet<string>, problems: string[]): void {
  const seen = new Set<string>();
  for (const device of devices) {
    const name = `devices.json (id "${device.id}")`;
    if (seen.has(device.id)) problems.push(`devices.json: duplicate device id "${device.id}"`);
    seen.add(device.id);
    if (isDeviceType(device.type) && domainOf(device.type) !== device.domain) {
      problems.push(
        `${name}: domain "${device.domain}" does not match type "${device.type}" (domain "${domainOf(device.type)}")`,
      );
    }
    if (!areaIds.has(device.areaId)) problems.push(`${name}: area "${device.areaId}" does not exist`);
  }
}
