/**
 * Registry import benchmark: a generated CSV of N street lights (default 10,000) imported through
 * `POST /api/v1/devices/import` of the real API module (in this process, on a loopback port),
 * on the embedded SQLite database and on a real PostgreSQL server (started on a free port for the
 * run; skipped with a message when PostgreSQL is not installed). Each round takes a fresh
 * database seeded from `seeds/`, then times:
 *
 * - `create`: the file imported into the registry (every row created), answer received;
 * - `again`: the same file a second time (every row unchanged, nothing written);
 * - `visible`: from sending `create` until `GET /api/v1/devices?q=` counts all N (the answer waits
 *   for the in-memory refresh, so this is `create` plus one GET).
 *
 * Dialects alternate per round (rotate); medians are printed, then one JSON line.
 *
 *   node -r ./scripts/register.js bench/registry-import.ts [--devices 10000] [--rounds 3] [--dialects sqlite,postgres]
 */
import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { NestFactory } from '@nestjs/core';
import type { DeviceListBody, ImportReportBody } from '@ioc/contracts';
import { type DatabaseConfig, openDatabase, prepareDatabase } from '@ioc/database';
import { AccountRepository } from '@ioc/access';
import { createAccessPort, OPS_API_NEST_OPTIONS, OpsApiModule, sessionTokenFor } from '@ioc/ops-api';
import { DeviceRegistry, loadSeeds, RegistryRepository, RegistrySync } from '@ioc/registry';
import { createLogger } from '@ioc/runtime';
import { freePort, type PostgresHandle, postgresAvailable, startPostgres } from '@ioc/testing';
import { createTimeSeriesStore } from '@ioc/timeseries';
import { machineInfo, median, onInterrupt, rotate, round, table } from './lib/common';

const { values: args } = parseArgs({
  options: {
    devices: { type: 'string', default: '10000' },
    rounds: { type: 'string', default: '3' },
    dialects: { type: 'string', default: 'sqlite,postgres' },
  },
});
const DEVICES = Number(args.devices);
const ROUNDS = Number(args.rounds);
type Dialect = 'sqlite' | 'postgres';
const requested = (args.dialects as string)
  .split(',')
  .filter((d): d is Dialect => d === 'sqlite' || d === 'postgres');

const logger = createLogger('bench-registry-import', { level: 'silent' });
const seeds = loadSeeds();
const ward = seeds.devices[0]!.areaId;

/** N street lights as an import CSV (≈ 95 bytes a row). */
function generatedCsv(n: number): string {
  const lines = ['id,type,name,areaId,lat,lon,attr.pole'];
  for (let i = 0; i < n; i++) {
    const id = `bench-${String(i).padStart(6, '0')}`;
    lines.push(
      `${id},street-light,Đèn bench ${i},${ward},${(11 + (i % 1000) / 10_000).toFixed(6)},${(106 + i / 1e6).toFixed(6)},P${i}`,
    );
  }
  return lines.join('\r\n');
}

interface RoundResult {
  dialect: Dialect;
  createMs: number;
  againMs: number;
  visibleMs: number;
}

async function oneRound(
  dialect: Dialect,
  config: DatabaseConfig,
  dir: string,
  csv: string,
): Promise<RoundResult> {
  const database = openDatabase(config);
  await prepareDatabase(database, {
    afterMigrate: async (db) => {
      await new RegistryRepository(db).importSeeds(seeds);
    },
  });
  const repository = new RegistryRepository(database.db);
  const registry = new DeviceRegistry(seeds);
  const sync = new RegistrySync(repository, registry, { logger, pollMs: 0 });
  await sync.start();
  const store = createTimeSeriesStore({ storage: 'embedded', dataDir: dir });
  await store.init();
  const app = await NestFactory.create(
    OpsApiModule.register({
      registry,
      store,
      logger,
      settings: {
        brokerUrl: `mqtt://127.0.0.1:${await freePort()}`,
        nodeId: 'bench',
        internalSecret: 'bench-internal-secret-0123456789',
        historyMaxPoints: 1000,
      },
      access: createAccessPort(database.db, { tokenSecret: randomBytes(32) }),
      provisioning: {
        repository,
        credentialKey: Buffer.alloc(32, 1),
        refresh: () => sync.refresh(),
        notify: () => sync.notify(),
      },
    }),
    { ...OPS_API_NEST_OPTIONS, logger: false },
  );
  const port = await freePort();
  await app.listen(port, '127.0.0.1');
  const url = `http://127.0.0.1:${port}`;
  // The import is an admin's: log one in (a session token, without a password's scrypt).
  const admin = await new AccountRepository(database.db).create({
    username: 'bench-admin',
    displayName: 'Bench',
    role: 'admin',
  });
  const authorization = `Bearer ${(await sessionTokenFor(app, admin.id)).token}`;
  const importOnce = async (): Promise<{ ms: number; report: ImportReportBody }> => {
    const started = performance.now();
    const response = await fetch(`${url}/api/v1/devices/import`, {
      method: 'POST',
      headers: { 'content-type': 'text/csv', authorization },
      body: csv,
    });
    const report = (await response.json()) as ImportReportBody;
    if (response.status !== 200)
      throw new Error(`import answered ${response.status}: ${JSON.stringify(report)}`);
    return { ms: performance.now() - started, report };
  };
  try {
    const started = performance.now();
    const create = await importOnce();
    if (create.report.created !== DEVICES)
      throw new Error(
        `expected ${DEVICES} created: ${JSON.stringify({ ...create.report, rows: undefined })}`,
      );
    const listed = (await (
      await fetch(`${url}/api/v1/devices?q=bench-&limit=1`, { headers: { authorization } })
    ).json()) as DeviceListBody;
    const visibleMs = performance.now() - started;
    if (listed.total !== DEVICES) throw new Error(`GET counts ${listed.total} of ${DEVICES}`);
    const again = await importOnce();
    if (again.report.unchanged !== DEVICES)
      throw new Error(`expected ${DEVICES} unchanged on the second import`);
    return { dialect, createMs: create.ms, againMs: again.ms, visibleMs };
  } finally {
    sync.stop();
    await app.close();
    await store.close();
    await database.close();
  }
}

async function main(): Promise<void> {
  const dialects = requested.filter((dialect) => {
    if (dialect === 'postgres' && !postgresAvailable()) {
      console.log(
        'NOTE: PostgreSQL is not installed (apt-get install -y postgresql): the postgres variant is skipped',
      );
      return false;
    }
    return true;
  });
  const dir = mkdtempSync(join(tmpdir(), 'bench-registry-import-'));
  let postgres: PostgresHandle | undefined;
  const cleanup = async (): Promise<void> => {
    await postgres?.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  const unregister = onInterrupt(cleanup);
  try {
    if (dialects.includes('postgres')) postgres = await startPostgres();
    const csv = generatedCsv(DEVICES);
    console.log(
      `registry import: ${DEVICES} devices (${(Buffer.byteLength(csv) / 1e6).toFixed(2)} MB CSV) through POST /api/v1/devices/import, ${ROUNDS} rounds`,
    );
    console.log(JSON.stringify(machineInfo()));
    const results: RoundResult[] = [];
    let file = 0;
    for (let r = 0; r < ROUNDS; r++) {
      for (const dialect of rotate(dialects, r)) {
        const roundDir = join(dir, `round-${++file}`);
        const config: DatabaseConfig =
          dialect === 'sqlite'
            ? { kind: 'sqlite', path: join(roundDir, 'registry.sqlite') }
            : { kind: 'postgres', url: await (postgres as PostgresHandle).createDatabase() };
        const result = await oneRound(dialect, config, roundDir, csv);
        console.log(
          `round ${r + 1} ${dialect}: create ${round(result.createMs)} ms, again ${round(result.againMs)} ms, visible ${round(result.visibleMs)} ms`,
        );
        results.push(result);
      }
    }
    const summary = dialects.map((dialect) => {
      const mine = results.filter((x) => x.dialect === dialect);
      return {
        dialect,
        createMs: round(median(mine.map((x) => x.createMs))),
        againMs: round(median(mine.map((x) => x.againMs))),
        visibleMs: round(median(mine.map((x) => x.visibleMs))),
        devicesPerSecond: round(DEVICES / (median(mine.map((x) => x.createMs)) / 1000)),
      };
    });
    console.log(
      '\n' +
        table(
          ['dialect', 'create ms', 'again ms', 'visible ms', 'devices/s'],
          summary.map((s) => [s.dialect, s.createMs, s.againMs, s.visibleMs, s.devicesPerSecond]),
        ),
    );
    console.log(JSON.stringify({ bench: 'registry-import', devices: DEVICES, rounds: ROUNDS, summary }));
  } finally {
    unregister();
    await cleanup();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
