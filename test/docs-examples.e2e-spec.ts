import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { DOMAINS, isDomain } from '@ioc/contracts';
import { DeviceRegistry, loadSeeds } from '@ioc/registry';

/**
 * The examples in the documentation can be pasted: every device and area id they name exists in
 * the seeds `npm start` loads, in the domain the topic says. Ids ending in `-999` stand for an
 * unknown device on purpose (the `unknown-device` examples).
 */
const ROOT = resolve(__dirname, '..');
const DOCS = [
  'README.md',
  'docs/mqtt-topics.md',
  'docs/alerts.md',
  'libs/contracts/README.md',
  'devices-sim/README.md',
  'seeds/README.md',
];
const DELIBERATELY_UNKNOWN = /-999$/;

const registry = new DeviceRegistry(loadSeeds());
const text = (file: string): string => readFileSync(join(ROOT, file), 'utf8');

describe('documentation examples', () => {
  it.each(DOCS)('%s names only devices that exist, in their own domain', (file) => {
    const problems: string[] = [];
    for (const [, domain, id] of text(file).matchAll(/ioc\/v1\/([a-z]+)\/([A-Za-z0-9._-]+)\//g)) {
      if (DELIBERATELY_UNKNOWN.test(id!)) continue;
      const device = registry.getDevice(id!);
      if (!device) problems.push(`topic names unknown device ${id}`);
      else if (isDomain(domain!) && device.domain !== domain)
        problems.push(`topic puts ${id} in ${domain}, the seeds in ${device.domain}`);
      else if (!isDomain(domain!))
        problems.push(`topic names unknown domain ${domain} (${DOMAINS.join(', ')})`);
    }
    for (const [, field, id] of text(file).matchAll(/"(deviceId|device)":\s*"([^"{}]+)"/g)) {
      if (!DELIBERATELY_UNKNOWN.test(id!) && !registry.getDevice(id!))
        problems.push(`${field} ${id} is not in the seeds`);
    }
    for (const [, field, id] of text(file).matchAll(/"(areaId|area)":\s*"([^"{}]+)"/g)) {
      if (!registry.getArea(id!)) problems.push(`${field} ${id} is not in the seeds`);
    }
    expect(problems).toEqual([]);
  });
});
