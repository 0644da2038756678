import { readdirSync, readFileSync } from 'node:fs';
import { processCpuSeconds } from './proc-cpu';

/** What the benchmark's init script keeps in the page (`window.__iocBench`, not enumerable). */
export interface PageProbe {
  /** Long tasks not yet collected: [startTime (ms since the page's timeOrigin), duration (ms)]. */
  longTasks: [number, number][];
  /** Long tasks seen since the page loaded (collected or not; the list is capped, this is not). */
  longTaskCount: number;
  /** WebSocket messages received, all and those that are `/live` `reading` events. */
  frames: number;
  readingFrames: number;
  /**
   * performance.now() when the first device marker (`.ioc-marker[data-device-id]`: the legend's
   * samples are `.ioc-marker` too) or cluster (`.ioc-cluster[data-count]`) was in the document.
   */
  firstMarkerAt: number | null;
}

/**
 * The script the benchmark adds to every document before the page's own scripts
 * (`page.addInitScript`). It keeps its findings in a non-enumerable `window.__iocBench`:
 * - a buffered PerformanceObserver of `longtask` entries (Long Tasks API: tasks of 50 ms or more on
 *   the main thread), at most 20 000 kept between two collections;
 * - a counter of WebSocket messages, wrapping the WebSocket constructor to add one `message`
 *   listener per socket (a string prefix test per message: `42/live,["reading"` is the socket.io
 *   v4 encoding of a `reading` event on the `/live` namespace);
 * - a MutationObserver on the document that notes when the first marker or cluster element appears,
 *   then disconnects (nothing observes the DOM once the map is up).
 */
export const PAGE_INIT_SCRIPT = `(() => {
  const b = { longTasks: [], longTaskCount: 0, frames: 0, readingFrames: 0, firstMarkerAt: null };
  Object.defineProperty(window, '__iocBench', { value: b, enumerable: false });
  try {
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) {
        b.longTaskCount++;
        if (b.longTasks.length < 20000) b.longTasks.push([e.startTime, e.duration]);
      }
    }).observe({ type: 'longtask', buffered: true });
  } catch (e) {}
  const Native = window.WebSocket;
  const count = (ev) => {
    b.frames++;
    if (typeof ev.data === 'string' && ev.data.startsWith('42/live,["reading"')) b.readingFrames++;
  };
  window.WebSocket = class extends Native {
    constructor(url, protocols) {
      super(url, protocols);
      this.addEventListener('message', count);
    }
  };
  const mo = new MutationObserver(() => {
    if (b.firstMarkerAt === null && document.querySelector('.ioc-marker[data-device-id], .ioc-cluster[data-count]')) {
      b.firstMarkerAt = performance.now();
      mo.disconnect();
    }
  });
  mo.observe(document, { childList: true, subtree: true });
})();`;

/**
 * Evaluated in the page once the first marker is there (or the wait gave up): times from the
 * navigation start (ms, the page's performance timeline) to first-contentful-paint (`paint`
 * entry), to the first marker or cluster (the init script's MutationObserver), to the app's User
 * Timing mark `ioc:map-ready` and to the load event's end; null when there is none. And what is on
 * screen: marker and cluster elements, and the devices they stand for (markers + Σ `data-count`).
 */
export const FIRST_PAINT_EXPRESSION = `(() => {
  const b = window.__iocBench;
  const fcp = performance.getEntriesByName('first-contentful-paint')[0];
  const mapReady = performance.getEntriesByName('ioc:map-ready')[0];
  const nav = performance.getEntriesByType('navigation')[0];
  const clusters = [...document.querySelectorAll('.ioc-cluster')];
  const markers = document.querySelectorAll('.ioc-marker[data-device-id]').length;
  return {
    fcpMs: fcp ? Math.round(fcp.startTime) : null,
    firstMarkerMs: b.firstMarkerAt === null ? null : Math.round(b.firstMarkerAt),
    mapReadyMs: mapReady ? Math.round(mapReady.startTime) : null,
    loadMs: nav && nav.loadEventEnd > 0 ? Math.round(nav.loadEventEnd) : null,
    markers,
    clusters: clusters.length,
    devicesOnScreen: markers + clusters.reduce((a, c) => a + Number(c.dataset.count || 0), 0),
  };
})()`;

/**
 * Evaluated in the page at each sample: the long tasks noted since the last call, as
 * [epoch ms start (timeOrigin + startTime), duration ms], emptied from the page; and its counters.
 */
export const COLLECT_EXPRESSION = `(() => {
  const b = window.__iocBench;
  const tasks = b.longTasks.map(([s, d]) => [performance.timeOrigin + s, d]);
  b.longTasks = [];
  return { tasks, frames: b.frames, readingFrames: b.readingFrames, count: b.longTaskCount };
})()`;

/**
 * Evaluated in the page with `--raw-socket`: a bare `/live` subscriber written by hand in the
 * socket.io v4 / Engine.IO v4 wire format (no client library): open `ws(s)://<origin>/socket.io/?EIO=4&transport=websocket`
 * (the session cookie goes with it), answer the server's pings (`2` → `3`), connect to the
 * namespace (`40/live,`) and, once connected (`40/live,{…}`), `subscribe {scope: true}`
 * (`42/live,0["subscribe",{"scope":true}]`). It does nothing with the events: the init script's
 * counter counts them. For a page without a live client yet, and to see what the API can push to
 * one socket apart from what the console does with it. Resolves with the subscribe answer.
 */
export const RAW_SOCKET_EXPRESSION = `new Promise((resolve, reject) => {
  const url = location.origin.replace(/^http/, 'ws') + '/socket.io/?EIO=4&transport=websocket';
  const ws = new WebSocket(url);
  const timer = setTimeout(() => reject(new Error('no subscribe answer within 10 s')), 10000);
  ws.addEventListener('message', (ev) => {
    const m = String(ev.data);
    if (m === '2') ws.send('3');
    else if (m.startsWith('0{')) ws.send('40/live,');
    else if (m.startsWith('40/live,')) ws.send('42/live,0["subscribe",{"scope":true}]');
    else if (m.startsWith('44/live,')) { clearTimeout(timer); reject(new Error('refused: ' + m)); }
    else if (m.startsWith('43/live,0')) { clearTimeout(timer); resolve(m.slice('43/live,0'.length)); }
  });
  ws.addEventListener('error', () => { clearTimeout(timer); reject(new Error('websocket error')); });
  window.__iocBenchSocket = ws;
})`;

/** Every process below `rootPid` (children, grandchildren, …), from /proc. */
export function descendantPids(rootPid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const list = children.get(ppid) ?? [];
      list.push(Number(entry));
      children.set(ppid, list);
    } catch {
      // exited while we looked
    }
  }
  const out: number[] = [];
  const stack = [rootPid];
  while (stack.length > 0) {
    for (const child of children.get(stack.pop() as number) ?? []) {
      out.push(child);
      stack.push(child);
    }
  }
  return out;
}

/**
 * Chromium's processes below `rootPid`, by the `--type=` of their command line (`renderer`, `gpu-process`,
 * `utility`, `zygote`, …; `browser` for the one without). Other processes are left out.
 */
export function chromiumProcesses(rootPid: number): { pid: number; type: string }[] {
  const out: { pid: number; type: string }[] = [];
  for (const pid of descendantPids(rootPid)) {
    try {
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split(/[\0 ]/); // a renderer rewrites its title: one string
      if (!argv.some((a) => a.includes('chrom'))) continue;
      const type = argv.find((a) => a.startsWith('--type='))?.slice('--type='.length) ?? 'browser';
      out.push({ pid, type });
    } catch {
      // exited while we looked
    }
  }
  return out;
}

/**
 * CPU time of a group of processes found anew at each reading (a renderer may come and go):
 * `read()` gives CPU seconds per pid; `share(before, after, seconds)` the % of one core used over
 * the interval by the pids present at both ends.
 */
export function cpuSecondsOf(pids: readonly number[]): Map<number, number> {
  const map = new Map<number, number>();
  for (const pid of pids) {
    const s = processCpuSeconds(pid);
    if (s !== undefined) map.set(pid, s);
  }
  return map;
}

/** % of one core used between two `cpuSecondsOf` readings `seconds` apart (pids present in both). */
export function cpuShare(before: Map<number, number>, after: Map<number, number>, seconds: number): number {
  let used = 0;
  for (const [pid, s] of after) {
    const b = before.get(pid);
    if (b !== undefined) used += s - b;
  }
  return seconds > 0 ? Math.round((used / seconds) * 1000) / 10 : Number.NaN;
}

/** Main-thread tasks of the busiest renderer in a Chromium trace (`toplevel` category). */
export interface TraceTasks {
  /** Renderer process id whose main thread (`CrRendererMain`) ran the most task time. */
  pid: number | undefined;
  /** Durations (ms) of its `RunTask` / `ThreadControllerImpl::RunTask` events. */
  durations: number[];
  /** Span of the trace on that thread (ms): first task start → last task end. */
  spanMs: number;
}

/**
 * The main-thread tasks of a trace written by `browser.stopTracing()` (Trace Event Format: JSON
 * `{traceEvents: [...]}`; complete events `ph: 'X'` with `ts`/`dur` in µs; thread names in
 * `thread_name` metadata events). Chromium names a main-thread task `ThreadControllerImpl::RunTask`
 * (or `RunTask` in older versions); a nested one (a task inside a task) is not counted twice:
 * only top-level ones (not contained in an earlier one on the same thread) are kept.
 */
export function mainThreadTasks(traceJson: string): TraceTasks {
  const trace = JSON.parse(traceJson) as {
    traceEvents?: {
      name: string;
      ph: string;
      pid: number;
      tid: number;
      ts: number;
      dur?: number;
      args?: { name?: string };
    }[];
  };
  const events = trace.traceEvents ?? [];
  const mainThreads = new Set<string>();
  for (const e of events) {
    if (e.ph === 'M' && e.name === 'thread_name' && e.args?.name === 'CrRendererMain')
      mainThreads.add(`${e.pid}:${e.tid}`);
  }
  const byThread = new Map<string, { ts: number; dur: number }[]>();
  for (const e of events) {
    if (e.ph !== 'X' || e.dur === undefined) continue;
    if (e.name !== 'ThreadControllerImpl::RunTask' && e.name !== 'RunTask') continue;
    const key = `${e.pid}:${e.tid}`;
    if (!mainThreads.has(key)) continue;
    const list = byThread.get(key) ?? [];
    list.push({ ts: e.ts, dur: e.dur });
    byThread.set(key, list);
  }
  let best: { key: string; total: number; tasks: { ts: number; dur: number }[] } | undefined;
  for (const [key, list] of byThread) {
    list.sort((a, b) => a.ts - b.ts);
    const top: { ts: number; dur: number }[] = [];
    let end = -Infinity;
    for (const t of list) {
      if (t.ts < end) continue; // nested in the previous top-level task
      top.push(t);
      end = t.ts + t.dur;
    }
    const total = top.reduce((a, t) => a + t.dur, 0);
    if (!best || total > best.total) best = { key, total, tasks: top };
  }
  if (!best || best.tasks.length === 0) return { pid: undefined, durations: [], spanMs: 0 };
  const first = best.tasks[0] as { ts: number; dur: number };
  const last = best.tasks[best.tasks.length - 1] as { ts: number; dur: number };
  return {
    pid: Number(best.key.split(':')[0]),
    durations: best.tasks.map((t) => t.dur / 1000),
    spanMs: (last.ts + last.dur - first.ts) / 1000,
  };
}

/** Least-squares slope of y over x (units of y per unit of x); NaN with fewer than 2 points. */
export function slope(points: readonly { x: number; y: number }[]): number {
  const n = points.length;
  if (n < 2) return Number.NaN;
  const mx = points.reduce((a, p) => a + p.x, 0) / n;
  const my = points.reduce((a, p) => a + p.y, 0) / n;
  let num = 0;
  let den = 0;
  for (const p of points) {
    num += (p.x - mx) * (p.y - my);
    den += (p.x - mx) ** 2;
  }
  return den === 0 ? Number.NaN : num / den;
}
