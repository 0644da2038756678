import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type SeedData, SeedValidationError, validateSeeds } from './seed-validation';

/** The repository's `seeds/` directory, found from this file so it works from any cwd. */
export const DEFAULT_SEEDS_DIR = resolve(__dirname, '..', '..', '..', 'seeds');

export const AREAS_FILE = 'areas.json';
export const DEVICES_FILE = 'devices.json';

/** Reads and validates `areas.json` and `devices.json`; throws SeedValidationError on any problem. */
export function loadSeeds(seedsDir: string = DEFAULT_SEEDS_DIR): SeedData {
  const problems: string[] = [];
  const areas = readJson(join(seedsDir, AREAS_FILE), AREAS_FILE, problems);
  const devices = readJson(join(seedsDir, DEVICES_FILE), DEVICES_FILE, problems);
  if (problems.length > 0) throw new SeedValidationError(problems);
  return validateSeeds(areas, devices);
}

function readJson(path: string, file: string, problems: string[]): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    problems.push(`${file}: cannot read ${path}: ${(error as Error).message}`);
    return undefined;
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    problems.push(`${file}: not valid JSON: ${(error as Error).message}`);
    return undefined;
  }
}
