import { readFileSync } from 'node:fs';

/** The parts of a V8 `.cpuprofile` (Chrome DevTools format) a summary needs. */
interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface CostLine {
  name: string;
  /** Percent of the profiled wall time (samples), idle included in the denominator. */
  percent: number;
  ms: number;
}

export interface ProfileSummary {
  file: string;
  durationMs: number;
  /** Percent of samples not idle: how busy the thread was. */
  busyPercent: number;
  /** Self time grouped by where the code lives (package or platform library). */
  byCategory: CostLine[];
  /** Functions with the most self time. */
  topSelf: CostLine[];
  /** Time spent in (including callees of) the functions that matter for ingest. */
  inclusive: CostLine[];
}

/**
 * Where code belongs, from its script URL; native frames (JSON, GC, program) keep their own names.
 * `(program)` is V8/native work not attributed to JS (e.g. libuv, syscalls such as fdatasync or
 * socket writes made synchronously).
 */
export function categoryOf(functionName: string, url: string): string {
  if (url === '') {
    if (functionName === '(idle)') return '(idle)';
    if (functionName === '(garbage collector)') return 'GC';
    if (functionName === '(program)') return '(program: native/V8 outside JS)';
    if (functionName === 'parse' || functionName === 'stringify') return `JSON.${functionName} (native)`;
    return `native: ${functionName || '(anonymous)'}`;
  }
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
  if (nm) {
    const pkg = nm[1] as string;
    if (pkg === 'zod') return 'zod (payload validation)';
    if (
      /^(aedes|aedes-|mqtt-packet|mqemitter|qlobber|bl|readable-stream|fastfall|fastparallel|fastseries|reusify|hyperid|retimer|end-of-stream)/.test(
        pkg,
      )
    )
      return `aedes & MQTT (${pkg})`;
    if (pkg === 'better-sqlite3') return 'SQLite (better-sqlite3)';
    return `package: ${pkg}`;
  }
  const lib = /\/(libs\/[^/]+\/src\/(?:[^/]+\/)?)/.exec(url);
  if (lib) {
    const file = url.slice(url.lastIndexOf('/') + 1);
    return `${lib[1]}${file}`;
  }
  if (url.startsWith('node:')) return `node core: ${url.slice(5).split('/')[0] ?? ''}`;
  return url.replace(/^.*\/work\/main\//, '');
}

/** Reads a `.cpuprofile` and attributes its samples by category, by function, and inclusively. */
export function summarizeProfile(
  file: string,
  options: { top?: number; inclusiveNames?: readonly string[] } = {},
): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map<number, ProfileNode>();
  for (const node of profile.nodes) byId.set(node.id, node);
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);

  const selfUs = new Map<number, number>();
  let totalUs = 0;
  profile.samples.forEach((id, i) => {
    const delta = profile.timeDeltas[i + 1] ?? profile.timeDeltas[i] ?? 0;
    selfUs.set(id, (selfUs.get(id) ?? 0) + delta);
    totalUs += delta;
  });

  const key = (n: ProfileNode): string =>
    `${n.callFrame.functionName || '(anonymous)'} ${n.callFrame.url.replace(/^.*\/work\/main\//, '').replace(/^.*node_modules\//, '')}:${n.callFrame.lineNumber + 1}`;
  const categories = new Map<string, number>();
  const functions = new Map<string, number>();
  let idleUs = 0;
  for (const [id, us] of selfUs) {
    const node = byId.get(id) as ProfileNode;
    const category = categoryOf(node.callFrame.functionName, node.callFrame.url);
    if (category === '(idle)') idleUs += us;
    categories.set(category, (categories.get(category) ?? 0) + us);
    functions.set(key(node), (functions.get(key(node)) ?? 0) + us);
  }

  // Inclusive time of selected functions: a sample counts once for a name if any frame on its
  // stack has that name (recursion is not double counted).
  const inclusiveNames = options.inclusiveNames ?? [];
  const inclusive = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const fn = (byId.get(cur) as ProfileNode).callFrame.functionName;
      for (const wanted of inclusiveNames) {
        if (fn === wanted && !seen.has(wanted)) {
          seen.add(wanted);
          inclusive.set(wanted, (inclusive.get(wanted) ?? 0) + us);
        }
      }
    }
  }

  const lines = (map: Map<string, number>, top: number): CostLine[] =>
    [...map.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, us]) => ({
        name,
        percent: Math.round((us / totalUs) * 1000) / 10,
        ms: Math.round(us / 1000),
      }));
  return {
    file,
    durationMs: Math.round(totalUs / 1000),
    busyPercent: Math.round(((totalUs - idleUs) / totalUs) * 1000) / 10,
    byCategory: lines(categories, options.top ?? 15),
    topSelf: lines(functions, options.top ?? 15),
    inclusive: lines(inclusive, inclusiveNames.length),
  };
}

/** Plain-text rendering of a summary. */
export function formatProfileSummary(summary: ProfileSummary, label: string): string {
  const section = (title: string, rows: CostLine[]): string =>
    [
      `  ${title}`,
      ...rows.map(
        (r) => `    ${r.percent.toFixed(1).padStart(5)} %  ${String(r.ms).padStart(6)} ms  ${r.name}`,
      ),
    ].join('\n');
  return [
    `${label}: ${summary.durationMs} ms profiled, thread busy ${summary.busyPercent} %`,
    section('self time by category', summary.byCategory),
    section('self time by function', summary.topSelf),
    ...(summary.inclusive.length > 0
      ? [section('inclusive time (function + callees)', summary.inclusive)]
      : []),
  ].join('\n');
}
