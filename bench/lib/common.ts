import { execFileSync } from 'node:child_process';
import { cpus, totalmem } from 'node:os';
import { readFileSync } from 'node:fs';

/** Median of the values (mean of the two middle ones for an even count); NaN when empty. */
export function median(values: readonly number[]): number {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** Percentile by nearest rank on a sorted copy (p in 0…100). */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank] as number;
}

export interface Distribution {
  count: number;
  p50: number;
  p90: number;
  p95: number;
  p99: number;
  max: number;
  mean: number;
}

export function distribution(values: readonly number[]): Distribution {
  const sorted = [...values].sort((a, b) => a - b);
  const sum = sorted.reduce((a, b) => a + b, 0);
  return {
    count: sorted.length,
    p50: round(percentile(sorted, 50), 2),
    p90: round(percentile(sorted, 90), 2),
    p95: round(percentile(sorted, 95), 2),
    p99: round(percentile(sorted, 99), 2),
    max: round(sorted[sorted.length - 1] ?? Number.NaN, 2),
    mean: round(sorted.length > 0 ? sum / sorted.length : Number.NaN, 2),
  };
}

export function round(value: number, digits = 0): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** A plain-text table with right-aligned numbers. */
export function table(headers: readonly string[], rows: readonly (readonly (string | number)[])[]): string {
  const cells = rows.map((row) => row.map((c) => (typeof c === 'number' ? formatNumber(c) : c)));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => (r[i] ?? '').length)));
  const line = (row: readonly string[]): string =>
    row
      .map((c, i) => (/^[-+]?[\d.,]+\s*%?$/.test(c) ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0)))
      .join('  ');
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.map(line)].join('\n');
}

export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return '–';
  if (Number.isInteger(value)) return String(value);
  return Math.abs(value) >= 100 ? value.toFixed(0) : value.toFixed(1);
}

export interface MachineInfo {
  nproc: number;
  cpuModel: string;
  memory: string;
  node: string;
  kernel: string;
}

export function machineInfo(): MachineInfo {
  let cpuModel = cpus()[0]?.model ?? 'unknown';
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('model name'));
    if (line) cpuModel = line.split(':')[1]?.trim() ?? cpuModel;
  } catch {
    // not Linux
  }
  let nproc = cpus().length;
  let kernel = '';
  try {
    nproc = Number(execFileSync('nproc').toString().trim()) || nproc;
    kernel = execFileSync('uname', ['-sr']).toString().trim();
  } catch {
    // keep os.cpus()
  }
  return {
    nproc,
    cpuModel,
    memory: `${Math.round(totalmem() / 2 ** 30)} GiB`,
    node: process.version,
    kernel,
  };
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * GET a JSON document (with `headers`, e.g. an admin session's Authorization); undefined on any
 * failure (a benchmark keeps going and reports the gap).
 */
export async function getJson<T>(
  url: string,
  headers: Record<string, string> = {},
  timeoutMs = 5000,
): Promise<T | undefined> {
  try {
    const response = await fetch(url, { headers, signal: AbortSignal.timeout(timeoutMs) });
    if (!response.ok) return undefined;
    return (await response.json()) as T;
  } catch {
    return undefined;
  }
}

/** The fields of the API's `/api/v1/ingest/stats` a benchmark reads. */
export interface IngestStatsView {
  acceptedTotal: number;
  rejectedTotal: number;
  rejected: Record<string, number>;
  spool: {
    records: number;
    bytes: number;
    maxBytes: number;
    commits: number;
    committedRecords: number;
    full: boolean;
    /** Per spool consumer (`store`, `alerts`): records appended and not yet released by it. */
    consumers?: { consumer: string; lag: number }[];
  };
  storage: { queued: number; written: number; failedWrites: number; rejected: number; failing: boolean };
  /** The broker's alert engine (absent with IOC_ALERTS=off): records evaluated, records waiting. */
  alertEngine?: { evaluated: number; lag: number };
  /** MQTT connections the broker holds. */
  connectedClients?: number;
  healthConditions: { code: string }[];
}

/**
 * Readings acknowledged and not yet processed by the slowest consumer of the spool: the store
 * writer's lag (records not yet stored) and the alert engine's lag (records received and not yet
 * evaluated). Not `spool.records`: the alert engine releases records only up to its last snapshot
 * (every IOC_ALERT_SNAPSHOT_MS, 5 s, or 50 000 records), so with it on the spool holds up to that
 * many records already evaluated, by design — not a backlog. With several broker nodes on Redis
 * the engine's input is the `alerts-stream` consumer, which forwards each record to the Redis
 * stream and releases it as soon as Redis answered: its lag counts too (not yet forwarded).
 * Without consumer stats, `spool.records`.
 */
export function spoolBacklog(stats: IngestStatsView): number {
  const store = stats.spool.consumers?.find((c) => c.consumer === 'store');
  if (store === undefined) return stats.spool.records;
  const forward = stats.spool.consumers?.find((c) => c.consumer === 'alerts-stream');
  return Math.max(store.lag, forward?.lag ?? 0, stats.alertEngine?.lag ?? 0);
}

/** Order of the variants in round `round` (0-based): rotated each round so none always goes first. */
export function rotate<T>(items: readonly T[], round: number): T[] {
  const k = round % items.length;
  const rotated = [...items.slice(k), ...items.slice(0, k)];
  return round % 2 === 1 ? rotated.reverse() : rotated;
}

const cleanups = new Set<() => Promise<void>>();
let signalHandlersInstalled = false;

/**
 * Registers a clean-up (stop processes, remove directories) to run if the benchmark is
 * interrupted (SIGINT/SIGTERM); returns a function that unregisters it once done normally.
 */
export function onInterrupt(cleanup: () => Promise<void>): () => void {
  cleanups.add(cleanup);
  if (!signalHandlersInstalled) {
    signalHandlersInstalled = true;
    const handler = (signal: NodeJS.Signals): void => {
      console.error(`\n${signal}: stopping the benchmark's processes…`);
      void Promise.allSettled([...cleanups].map((fn) => fn())).then(() => process.exit(130));
    };
    process.once('SIGINT', handler);
    process.once('SIGTERM', handler);
  }
  return () => {
    cleanups.delete(cleanup);
  };
}

/**
 * The code under test: commit, and the files of the platform that differ from it (the working
 * tree is shared, so a benchmark records what it actually ran). Read-only git commands.
 */
export function treeState(): { commit: string; modified: string[] } {
  try {
    const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
    const modified = execFileSync(
      'git',
      ['status', '--porcelain', '--', 'apps', 'libs', 'devices-sim', 'seeds'],
      {
        encoding: 'utf8',
      },
    )
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => l.trim());
    return { commit, modified };
  } catch {
    return { commit: 'unknown', modified: [] };
  }
}
