/**
 * What the registry costs each broker node in memory, per device: every broker node keeps the
 * whole device registry (DeviceRegistry: devices, areas, indexes) and every unrevoked credential
 * hash (CredentialIndex) in memory, so a CONNECT is checked without a database query. This sizes a
 * broker node for a registry of a metropolis (docs/scaling.md).
 *
 * For each count it builds, in a fresh child process (node --expose-gc), a registry of that many
 * synthetic devices — copies of the seeded ones with their own ids, names and positions, one
 * credential each (a 32-byte HMAC-SHA256 hash, as `credentialHashes()` loads them) — and prints the
 * V8 heap plus Buffers (`heapUsed + arrayBuffers` after a full GC) against an empty registry:
 * bytes per device, and the time to build it.
 *
 *   node -r ./scripts/register.js bench/registry-memory.ts [--devices 10000,100000,300000]
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { CredentialIndex, type CredentialHashEntry, DeviceRegistry, loadSeeds } from '@ioc/registry';
import { machineInfo, round, table, treeState } from './lib/common';

const CHILD_FLAG = '--registry-memory-child';

interface Measurement {
  devices: number;
  bytes: number;
  buildMs: number;
}

/** In the child: the memory of a registry of `count` devices, everything else as equal as can be. */
function measure(count: number): Measurement {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run the child with --expose-gc');
  const seeds = loadSeeds();
  const used = (): number => {
    gc();
    gc();
    const m = process.memoryUsage();
    return m.heapUsed + m.arrayBuffers;
  };
  const before = used();
  const started = performance.now();
  const devices = Array.from({ length: count }, (_, i) => {
    const seed = seeds.devices[i % seeds.devices.length]!;
    return {
      ...seed,
      id: `${seed.id}-m${i}`,
      name: `${seed.name} #${i}`,
      location: { lat: seed.location.lat + (i % 1000) * 1e-5, lon: seed.location.lon + i * 1e-9 },
      attributes: { ...seed.attributes },
    };
  });
  const registry = new DeviceRegistry({ areas: seeds.areas, devices });
  const credentials = new CredentialIndex();
  const entries = new Map<string, CredentialHashEntry[]>();
  for (const device of devices) entries.set(device.id, [{ id: `c-${device.id}`, hash: randomBytes(32) }]);
  credentials.replaceAll(entries);
  const buildMs = performance.now() - started;
  devices.length = 0;
  const after = used();
  // Keep both alive until measured.
  if (registry.deviceCount < count || credentials.deviceCount !== count)
    throw new Error('registry incomplete');
  return { devices: count, bytes: after - before, buildMs };
}

if (process.argv.includes(CHILD_FLAG)) {
  const count = Number(process.argv[process.argv.indexOf(CHILD_FLAG) + 1]);
  process.stdout.write(JSON.stringify(measure(count)));
} else {
  const { values: args } = parseArgs({
    options: { devices: { type: 'string', default: '10000,100000,300000' } },
  });
  const counts = args.devices.split(',').map(Number);
  const machine = machineInfo();
  const tree = treeState();
  console.log(
    `registry-memory: ${machine.nproc} cores, ${machine.cpuModel}, ${machine.memory}, Node ${machine.node}; code ${tree.commit}${tree.modified.length > 0 ? ` (+${tree.modified.length} modified)` : ''}`,
  );
  const rows: Measurement[] = [];
  for (const count of counts) {
    const output = execFileSync(
      process.execPath,
      [
        '--expose-gc',
        '--max-old-space-size=8192',
        '-r',
        join(__dirname, '..', 'scripts', 'register.js'),
        __filename,
        CHILD_FLAG,
        String(count),
      ],
      { encoding: 'utf8', maxBuffer: 1 << 20 },
    );
    rows.push(JSON.parse(output) as Measurement);
  }
  console.log(
    table(
      ['devices', 'registry + credentials, MiB', 'bytes per device', 'build, ms'],
      rows.map((r) => [
        String(r.devices),
        String(round(r.bytes / 2 ** 20, 1)),
        String(Math.round(r.bytes / r.devices)),
        String(Math.round(r.buildMs)),
      ]),
    ),
  );
  console.log(JSON.stringify({ bench: 'registry-memory', rows }));
}
