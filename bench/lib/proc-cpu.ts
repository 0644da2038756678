import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';

/** Clock ticks per second of /proc's CPU times (USER_HZ; 100 on Linux almost everywhere). */
const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
  } catch {
    return 100;
  }
})();

/** CPU seconds (user + system, all threads) a process has used so far; undefined once it is gone. */
export function processCpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which is in parentheses and may contain spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
  } catch {
    return undefined;
  }
}

/**
 * CPU seconds a process and all its descendants have used so far: user + system of each (all
 * threads) plus the children's times the kernel adds to a parent when it reaps them (`cutime`,
 * `cstime`), so a child that exits between two readings is still counted, once. For servers that
 * fork a process per connection or per task (PostgreSQL's postmaster: a backend per connection,
 * the checkpointer, WAL writer, autovacuum…). Undefined once the root process is gone.
 */
export function processTreeCpuSeconds(rootPid: number): number | undefined {
  const parents = new Map<number, number>();
  const times = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      parents.set(Number(entry), Number(fields[1]));
      // utime, stime, cutime, cstime (fields 14–17 of proc(5)).
      times.set(
        Number(entry),
        (Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14])) / CLK_TCK,
      );
    } catch {
      // the process exited while we looked
    }
  }
  if (!times.has(rootPid)) return undefined;
  const inTree = (pid: number): boolean => {
    for (let p: number | undefined = pid, hops = 0; p !== undefined && p > 1 && hops < 64; hops++) {
      if (p === rootPid) return true;
      p = parents.get(p);
    }
    return false;
  };
  let seconds = 0;
  for (const [pid, t] of times) if (inTree(pid)) seconds += t;
  return seconds;
}

/** Busy and total CPU time of the whole machine (all cores), in ticks, from /proc/stat. */
export function machineCpuTicks(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
  const values = line.trim().split(/\s+/).slice(1).map(Number);
  const idle = (values[3] ?? 0) + (values[4] ?? 0); // idle + iowait
  const total = values.slice(0, 8).reduce((a, b) => a + b, 0); // without guest, counted in user
  return { busy: total - idle, total };
}

/** Direct children of `parentPid` whose command name is `comm` (e.g. the influxd we spawned). */
export function childPidsNamed(parentPid: number, comm: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === parentPid && name === comm) pids.push(Number(entry));
    } catch {
      // the process exited while we looked
    }
  }
  return pids;
}

/**
 * CPU use of named processes over an interval: `mark()` at the start, `measure()` at the end
 * gives each process's share of one core (100 % = one core busy) and the machine's busy share
 * of all its cores.
 */
export class CpuMeter {
  private start = new Map<string, number>();
  private startAt = 0;
  private machineStart = machineCpuTicks();

  /**
   * @param processes name → pid of each process measured
   * @param trees names (of `processes`) measured with all their descendants (processTreeCpuSeconds)
   */
  constructor(
    private readonly processes: Record<string, number | undefined>,
    private readonly trees: readonly string[] = [],
  ) {}

  private cpuSeconds(name: string, pid: number | undefined): number | undefined {
    if (pid === undefined) return undefined;
    return this.trees.includes(name) ? processTreeCpuSeconds(pid) : processCpuSeconds(pid);
  }

  mark(): void {
    this.startAt = performance.now();
    this.machineStart = machineCpuTicks();
    this.start = new Map();
    for (const [name, pid] of Object.entries(this.processes)) {
      const seconds = this.cpuSeconds(name, pid);
      if (seconds !== undefined) this.start.set(name, seconds);
    }
  }

  /**
   * Percent of one core per process; `machine` = percent of all cores busy; `other` = what
   * processes not measured here used (percent of one core): other work on the machine, i.e. noise.
   */
  measure(): Record<string, number> {
    const elapsed = (performance.now() - this.startAt) / 1000;
    const result: Record<string, number> = {};
    let ours = 0;
    for (const [name, pid] of Object.entries(this.processes)) {
      const before = this.start.get(name);
      const now = this.cpuSeconds(name, pid);
      if (before !== undefined && now !== undefined) {
        result[name] = round1(((now - before) / elapsed) * 100);
        ours += result[name];
      }
    }
    const machine = machineCpuTicks();
    const total = machine.total - this.machineStart.total;
    result['machine'] = total > 0 ? round1(((machine.busy - this.machineStart.busy) / total) * 100) : 0;
    result['other'] = Math.max(0, round1(result['machine'] * cpus().length - ours));
    return result;
  }
}

const round1 = (x: number): number => Math.round(x * 10) / 10;

/**
 * Other people's work on a shared machine is the main source of noise: before a run, waits (at
 * most `maxWaitMs`) for a second in which the machine is less than `busyBelow` % busy. Returns
 * how busy the last second was and how long it waited.
 */
export async function waitForQuietMachine(
  maxWaitMs: number,
  busyBelow = 15,
): Promise<{ waitedSeconds: number; busyPercent: number }> {
  const start = Date.now();
  for (;;) {
    const a = machineCpuTicks();
    await new Promise((r) => setTimeout(r, 1000));
    const b = machineCpuTicks();
    const busyPercent = round1(((b.busy - a.busy) / Math.max(1, b.total - a.total)) * 100);
    if (busyPercent < busyBelow || Date.now() - start >= maxWaitMs) {
      return { waitedSeconds: round1((Date.now() - start) / 1000), busyPercent };
    }
  }
}

/** Resident set size of a process in MiB (VmRSS of /proc/PID/status); undefined once it is gone. */
export function processRssMiB(pid: number): number | undefined {
  try {
    const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}
