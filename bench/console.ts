/**
 * The operators' console in a real browser (issue 11): headless Chromium on the console served by
 * the platform, with `--devices` simulated devices in the registry and `--rate` readings/s flowing.
 * Measures time to first paint and to markers on screen, main-thread busy share and long tasks
 * while updates flow, readings reaching the page, heap and DOM nodes over `--minutes`, and the CPU
 * of the renderer and the platform. See bench/README.md, "Console in the browser (issue 11)".
 *
 *   node -r ./scripts/register.js bench/console.ts [--devices 10000] [--rate 5000] [--minutes 10]
 *       [--sample-seconds 30] [--settle-seconds 30] [--feed-seconds 10] [--trace-seconds 5]
 *       [--flat-mb-per-min 0.5] [--heap-skip-minutes 2] [--marker-timeout 120] [--console-dir DIR]
 *       [--chromium PATH] [--connections 4] [--window 2000] [--raw-socket]
 *       [--profile FILE.cpuprofile] [--profile-seconds 5]
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { Browser, CDPSession, Page } from 'playwright-core';
import {
  buildConsole,
  launchBrowser,
  type RunningPlatform,
  startPlatform,
  TEST_ADMIN_PASSWORD,
} from '@ioc/testing';
import {
  getJson,
  type IngestStatsView,
  spoolBacklog,
  machineInfo,
  onInterrupt,
  round,
  sleep,
  table,
  treeState,
} from './lib/common';
import { platformView, type PlatformStatsView } from './lib/node-stats';
import { type ConsoleFleet, writeConsoleFleet } from './lib/console-fleet';
import {
  chromiumProcesses,
  cpuSecondsOf,
  cpuShare,
  mainThreadTasks,
  COLLECT_EXPRESSION,
  FIRST_PAINT_EXPRESSION,
  PAGE_INIT_SCRIPT,
  RAW_SOCKET_EXPRESSION,
  slope,
} from './lib/console-page';
import { machineCpuTicks, processCpuSeconds } from './lib/proc-cpu';
import type { LoaderStats } from './lib/loader';
import { LoaderProcess } from './lib/targets';

const { values: args } = parseArgs({
  options: {
    devices: { type: 'string', default: '10000' },
    rate: { type: 'string', default: '5000' },
    minutes: { type: 'string', default: '10' },
    'sample-seconds': { type: 'string', default: '30' },
    'settle-seconds': { type: 'string', default: '30' },
    'feed-seconds': { type: 'string', default: '10' },
    'trace-seconds': { type: 'string', default: '5' },
    'flat-mb-per-min': { type: 'string', default: '0.5' },
    'heap-skip-minutes': { type: 'string', default: '2' },
    'marker-timeout': { type: 'string', default: '120' },
    'console-dir': { type: 'string' },
    'raw-socket': { type: 'boolean', default: false },
    chromium: { type: 'string' },
    connections: { type: 'string', default: '4' },
    window: { type: 'string', default: '2000' },
    profile: { type: 'string' },
    'profile-seconds': { type: 'string', default: '5' },
  },
});

const devices = Number(args.devices);
const rate = Number(args.rate);
const minutes = Number(args.minutes);
const sampleSeconds = Number(args['sample-seconds']);
const settleSeconds = Number(args['settle-seconds']);
const feedSeconds = Number(args['feed-seconds']);
const traceSeconds = Number(args['trace-seconds']);
const flatMbPerMin = Number(args['flat-mb-per-min']);
const heapSkipMinutes = Number(args['heap-skip-minutes']);
const markerTimeoutMs = Number(args['marker-timeout']) * 1000;
/** The bound: no main-thread task over 100 ms in steady state. */
const LONG_TASK_LIMIT_MS = 100;
/** The Long Tasks API's own threshold (W3C Long Tasks API: a task of 50 ms or more). */
const LONG_TASK_MS = 50;
const VIEWPORT = { width: 1920, height: 1080 };

/** One `--sample-seconds` window of the steady state. */
interface Sample {
  /** Seconds since the steady state began (end of the window). */
  t: number;
  wallSeconds: number;
  /** ΔTaskDuration / Δwall of the renderer's main thread (CDP Performance.getMetrics), %. */
  busyPercent: number;
  /** ΔScriptDuration / Δwall (JavaScript only), %. */
  scriptPercent: number;
  /** Long tasks (≥ 50 ms) that started in the window, forced GCs left out. */
  longTasks: number;
  over100: number;
  longestTaskMs: number;
  /** WebSocket messages carrying a `/live` `reading` event, per second (the page's own counter). */
  readingsPerSecond: number;
  /** Readings the platform accepted per second (the API's ingest stats). */
  acceptedPerSecond: number;
  /** After a forced GC (HeapProfiler.collectGarbage): Runtime.getHeapUsage usedSize, MB. */
  heapUsedMb: number;
  /** Performance.getMetrics `Nodes` (DOM nodes alive) and `JSEventListeners`. */
  nodes: number;
  listeners: number;
  cpu: Record<string, number>;
  /** Processes gone, the platform's health conditions, a spool backlog over one second of load. */
  problems: string[];
}

function metricsOf(result: { metrics: { name: string; value: number }[] }): Record<string, number> {
  return Object.fromEntries(result.metrics.map((m) => [m.name, m.value]));
}

async function ingestStats(platform: RunningPlatform): Promise<IngestStatsView | undefined> {
  const body = await getJson<PlatformStatsView>(
    `${platform.httpUrl}/api/v1/ingest/stats`,
    (await platform.admin()).headers,
  );
  // The node's own counters: the API's totals leave out the spool consumers' lags.
  return body ? platformView(body) : undefined;
}

async function acceptedTotal(platform: RunningPlatform): Promise<number | undefined> {
  return (await ingestStats(platform))?.acceptedTotal;
}

async function rejectedTotal(platform: RunningPlatform): Promise<number | undefined> {
  return (await ingestStats(platform))?.rejectedTotal;
}

/** Whether the API serves the console's page at `/` (an HTML document), or something else. */
async function apiServesConsole(httpUrl: string): Promise<boolean> {
  try {
    const response = await fetch(`${httpUrl}/`, { signal: AbortSignal.timeout(5000) });
    return response.ok && (response.headers.get('content-type') ?? '').includes('text/html');
  } catch {
    return false;
  }
}

/**
 * Logs in through the page's login form (`form[data-testid=login]`) when the page shows one
 * within `formTimeoutMs`; otherwise with the cookie `POST /api/v1/auth/login {session:'cookie'}`
 * sets, copied into the browser context. Returns how it logged in.
 */
async function logIn(page: Page, baseUrl: string, apiUrl: string, formTimeoutMs = 15_000): Promise<string> {
  await page.goto(`${baseUrl}/`, { waitUntil: 'domcontentloaded' });
  const form = page.locator('form[data-testid=login]');
  try {
    await form.waitFor({ state: 'visible', timeout: formTimeoutMs });
    await form.locator('input[name=username]').fill('admin');
    await form.locator('input[name=password]').fill(TEST_ADMIN_PASSWORD);
    await Promise.all([
      page.waitForResponse((r) => r.url().endsWith('/api/v1/auth/login') && r.status() === 200, {
        timeout: 30_000,
      }),
      form.locator('button[type=submit]').click(),
    ]);
    return 'login form';
  } catch {
    // No form (a page before the console's login view exists): the API's cookie login.
  }
  const response = await fetch(`${apiUrl}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'admin', password: TEST_ADMIN_PASSWORD, session: 'cookie' }),
  });
  if (!response.ok) throw new Error(`cookie login refused: HTTP ${response.status} ${await response.text()}`);
  const cookie = response.headers.getSetCookie().find((c) => c.startsWith('ioc_session='));
  if (!cookie) throw new Error('the login answer set no ioc_session cookie');
  const value = cookie.slice('ioc_session='.length).split(';')[0] as string;
  await page
    .context()
    .addCookies([{ name: 'ioc_session', value, url: baseUrl, httpOnly: true, sameSite: 'Strict' }]);
  return 'cookie (no login form on the page)';
}

interface FirstPaint {
  /** navigation start → first-contentful-paint (PerformanceObserver `paint`), ms. */
  fcpMs: number | null;
  /** navigation start → the first device marker (`.ioc-marker[data-device-id]`) or cluster in the document, ms. */
  firstMarkerMs: number | null;
  /** navigation start → the app's User Timing mark `ioc:map-ready`, when it sets one, ms. */
  mapReadyMs: number | null;
  /** navigation start → load event end, ms. */
  loadMs: number | null;
  markers: number;
  clusters: number;
  /** Sum of `data-count` over the cluster elements + unclustered markers: devices on screen. */
  devicesOnScreen: number;
}

async function firstPaint(page: Page): Promise<FirstPaint> {
  const deadline = Date.now() + markerTimeoutMs;
  // Polled from outside (a few evaluations a second), so the page does no extra work meanwhile.
  for (;;) {
    const found = (await page.evaluate('window.__iocBench.firstMarkerAt !== null')) as boolean;
    if (found || Date.now() > deadline) break;
    await sleep(250);
  }
  return (await page.evaluate(FIRST_PAINT_EXPRESSION)) as FirstPaint;
}

/** Long tasks collected since the last call: [epoch ms start, duration ms], and the page's counters. */
async function collectProbe(
  page: Page,
): Promise<{ tasks: [number, number][]; frames: number; readingFrames: number; count: number }> {
  return (await page.evaluate(COLLECT_EXPRESSION)) as {
    tasks: [number, number][];
    frames: number;
    readingFrames: number;
    count: number;
  };
}

async function main(): Promise<void> {
  const machine = machineInfo();
  const tree = treeState();
  console.log(
    `console benchmark: ${devices} devices, ${rate} readings/s, ${minutes} min steady state sampled every ${sampleSeconds} s; ` +
      `${machine.nproc} cores ${machine.cpuModel}, node ${machine.node}, code ${tree.commit}` +
      (tree.modified.length > 0 ? ` (+${tree.modified.length} modified files)` : ''),
  );

  // Everything started is stopped in reverse order, on success, error and Ctrl-C alike.
  const stack: (() => Promise<void>)[] = [];
  let cleaning: Promise<void> | undefined;
  const cleanup = (): Promise<void> =>
    (cleaning ??= (async () => {
      while (stack.length > 0) {
        try {
          await (stack.pop() as () => Promise<void>)();
        } catch (error) {
          console.error(`clean-up: ${(error as Error).message}`);
        }
      }
    })());
  const unregister = onInterrupt(cleanup);
  try {
    await run(stack, machine, tree);
  } finally {
    await cleanup();
    unregister();
  }
}

async function run(
  stack: (() => Promise<void>)[],
  machine: ReturnType<typeof machineInfo>,
  tree: ReturnType<typeof treeState>,
): Promise<void> {
  // 1. The fleet, the console's build, the platform.
  const fleet: ConsoleFleet = writeConsoleFleet(devices);
  stack.push(async () => fleet.remove());
  let consoleDir = args['console-dir'];
  let buildMs: number | null = null;
  if (consoleDir === undefined) {
    // A fresh production build (removed when this process exits).
    const started = Date.now();
    consoleDir = await buildConsole();
    buildMs = Date.now() - started;
    console.log(`console built in ${round(buildMs / 1000, 1)} s → ${consoleDir}`);
  }
  const platform = await startPlatform({
    storage: 'embedded',
    consoleDir,
    env: {
      // The load generator's shared connections log in as no device (as bench/latency.ts).
      IOC_MQTT_AUTH: 'off',
      IOC_ALERTS: 'off',
      IOC_SEEDS_DIR: fleet.dir,
    },
  });
  stack.push(() => platform.stop());
  console.log(`platform up: ${platform.httpUrl} (registry: ${fleet.devices.length} devices)`);

  const baseUrl = platform.httpUrl;
  if (!(await apiServesConsole(baseUrl)))
    throw new Error(`the API does not serve the console at ${baseUrl}/`);

  // 2. The load: every device of the fleet, at `rate`, until the end.
  const loader = new LoaderProcess();
  let loaderStats: LoaderStats | undefined;
  stack.push(() => loader.stop());
  const plannedSeconds =
    60 + settleSeconds + feedSeconds + traceSeconds + minutes * 60 + markerTimeoutMs / 1000;
  await loader.run(
    {
      host: '127.0.0.1',
      port: platform.mqttPort,
      connections: Number(args.connections),
      window: Number(args.window),
      rate,
      devices,
      clientIdPrefix: `bench-console-${process.pid}`,
      warmupMs: 0,
      windowMs: plannedSeconds * 1000 * 2,
      seedsDir: fleet.dir,
      variantsPerDevice: devices > 2000 ? 3 : 8,
      statsEveryMs: 1000,
    },
    (event) => {
      if (event.ev === 'stats') loaderStats = event.stats;
    },
  );
  // The load runs until stopped: its window never ends, and its exit at clean-up is no error.
  loader.waitWindowEnd().catch(() => undefined);
  loader.waitDone().catch(() => undefined);
  const rejected0 = (await rejectedTotal(platform)) ?? 0;
  // A few seconds of load first: the console opens on a live city (latest values present).
  await sleep(5000);
  const accepted5s = await acceptedTotal(platform);
  console.log(`load running: ${accepted5s ?? '?'} readings accepted so far`);

  // 3. The browser: log in, then open / afresh and time it.
  if (args.chromium !== undefined) process.env['IOC_CHROMIUM_PATH'] = args.chromium;
  // Playwright's own SIGINT/SIGTERM handlers would exit the process before the clean-up below
  // has stopped the platform: the benchmark's handler (onInterrupt) closes the browser itself.
  const browser: Browser = await launchBrowser({
    handleSIGINT: false,
    handleSIGTERM: false,
    handleSIGHUP: false,
  });
  stack.push(() => browser.close());
  const context = await browser.newContext({
    viewport: VIEWPORT,
    locale: 'vi-VN',
    timezoneId: 'Asia/Ho_Chi_Minh',
  });
  const loginPage = await context.newPage();
  const loggedInBy = await logIn(loginPage, baseUrl, platform.httpUrl);
  await loginPage.close();
  const page = await context.newPage();
  const pageErrors: string[] = [];
  page.on('pageerror', (e) => pageErrors.length < 20 && pageErrors.push(e.message));
  await page.addInitScript(PAGE_INIT_SCRIPT);
  const cdp: CDPSession = await page.context().newCDPSession(page);
  await cdp.send('Performance.enable');
  await page.goto(`${baseUrl}/`, { waitUntil: 'load' });
  const paint = await firstPaint(page);
  let rawSocket: string | null = null;
  if (args['raw-socket']) {
    rawSocket = String(await page.evaluate(RAW_SOCKET_EXPRESSION));
    console.log(`raw /live socket in the page subscribed: ${rawSocket}`);
  }
  console.log(
    `first paint: FCP ${paint.fcpMs ?? '–'} ms, first marker ${paint.firstMarkerMs ?? '– (none)'} ms, ` +
      `ioc:map-ready ${paint.mapReadyMs ?? '–'} ms, load ${paint.loadMs ?? '–'} ms; ` +
      `${paint.markers} markers + ${paint.clusters} clusters on screen (${paint.devicesOnScreen} devices); logged in by ${loggedInBy}`,
  );

  const chromiumRoot = process.pid;
  const processes = (): { renderer: number[]; chromium: number[] } => {
    const all = chromiumProcesses(chromiumRoot);
    return {
      renderer: all.filter((p) => p.type === 'renderer').map((p) => p.pid),
      chromium: all.map((p) => p.pid),
    };
  };

  // 4. Settle, then a window with CDP Network on: socket.io frames as the browser received them.
  await sleep(settleSeconds * 1000);
  await collectProbe(page); // long tasks of the start-up are not steady state
  const feed = { frames: 0, readings: 0, seconds: feedSeconds };
  if (feedSeconds > 0) {
    const onFrame = (event: { response: { payloadData: string } }): void => {
      feed.frames++;
      if (event.response.payloadData.startsWith('42/live,["reading"')) feed.readings++;
    };
    cdp.on('Network.webSocketFrameReceived', onFrame);
    await cdp.send('Network.enable');
    const started = performance.now();
    await sleep(feedSeconds * 1000);
    await cdp.send('Network.disable');
    cdp.off('Network.webSocketFrameReceived', onFrame);
    feed.seconds = (performance.now() - started) / 1000;
  }
  const feedPerSecond = feed.seconds > 0 ? Math.round(feed.readings / feed.seconds) : 0;
  if (feedSeconds > 0)
    console.log(
      `feed (CDP Network, ${round(feed.seconds, 1)} s): ${feedPerSecond} reading frames/s, ${Math.round(feed.frames / feed.seconds)} frames/s in all`,
    );

  // 5. One traced window: main-thread tasks with µs precision (Chromium's `toplevel` RunTask events).
  let trace: {
    seconds: number;
    tasks: number;
    longestMs: number;
    over50: number;
    over100: number;
    busyPercent: number;
  } | null = null;
  if (traceSeconds > 0) {
    await browser.startTracing(page, { categories: ['toplevel', '__metadata'] });
    await sleep(traceSeconds * 1000);
    const tasks = mainThreadTasks((await browser.stopTracing()).toString('utf8'));
    const total = tasks.durations.reduce((a, d) => a + d, 0);
    trace = {
      seconds: round(tasks.spanMs / 1000, 2),
      tasks: tasks.durations.length,
      longestMs: round(Math.max(0, ...tasks.durations), 1),
      over50: tasks.durations.filter((d) => d > LONG_TASK_MS).length,
      over100: tasks.durations.filter((d) => d > LONG_TASK_LIMIT_MS).length,
      busyPercent: tasks.spanMs > 0 ? round((total / tasks.spanMs) * 100, 1) : Number.NaN,
    };
    console.log(
      `trace (${trace.seconds} s, renderer ${tasks.pid ?? '?'}): ${trace.tasks} tasks, longest ${trace.longestMs} ms, ` +
        `> 50 ms ${trace.over50}, > 100 ms ${trace.over100}, busy ${trace.busyPercent} %`,
    );
    await collectProbe(page); // tracing's own overhead is not steady state either
  }

  // 5b. Optionally a CPU profile of the page under load (CDP Profiler): saved as a .cpuprofile
  // (open it in Chromium's DevTools, Performance panel) and its top self-time functions printed.
  if (args.profile !== undefined) {
    const profileSeconds = Number(args['profile-seconds']);
    await cdp.send('Profiler.enable');
    // 1 ms sampling (the default is 1 ms in Chromium; set explicitly so the figures are ms).
    await cdp.send('Profiler.setSamplingInterval', { interval: 1000 });
    await cdp.send('Profiler.start');
    await sleep(profileSeconds * 1000);
    const { profile } = (await cdp.send('Profiler.stop')) as { profile: CpuProfile };
    await cdp.send('Profiler.disable');
    writeFileSync(args.profile, JSON.stringify(profile));
    console.log(`CPU profile (${profileSeconds} s) → ${args.profile}; top self time:`);
    for (const row of topSelfTime(profile, 25)) console.log(`  ${row}`);
    await collectProbe(page); // the profiler's overhead is not steady state
  }

  // 6. Steady state: `minutes`, a sample every `sampleSeconds` (the forced GC between windows).
  const samples: Sample[] = [];
  const gcWindows: [number, number][] = [];
  const forcedGcTasks: number[] = [];
  const steadyStart = performance.now();
  const steadyEnd = steadyStart + minutes * 60_000;
  let metrics0 = metricsOf(await cdp.send('Performance.getMetrics'));
  let probe0 = await collectProbe(page);
  let accepted0 = (await acceptedTotal(platform)) ?? 0;
  let skipped0 = loaderStats?.skipped ?? 0;
  let procs = processes();
  const namedPids = (): Record<string, number | undefined> => ({
    api: platform.api.child.pid,
    broker: platform.broker.child.pid,
    loader: loader.pid,
  });
  let cpu0 = {
    renderer: cpuSecondsOf(procs.renderer),
    chromium: cpuSecondsOf(procs.chromium),
    named: Object.fromEntries(
      Object.entries(namedPids()).map(([k, p]) => [k, p === undefined ? undefined : processCpuSeconds(p)]),
    ),
    machine: machineCpuTicks(),
    at: performance.now(),
  };
  console.log('');
  const header = [
    't s',
    'busy %',
    'script %',
    'long',
    '>100',
    'longest ms',
    'readings/s page',
    'accepted/s',
    'heap MB',
    'nodes',
    'renderer %',
    'api %',
  ];
  console.log(table(header, []).split('\n').slice(0, 2).join('\n'));
  while (performance.now() < steadyEnd) {
    await sleep(Math.min(sampleSeconds * 1000, Math.max(0, steadyEnd - performance.now())));
    const metrics1 = metricsOf(await cdp.send('Performance.getMetrics'));
    const probe1 = await collectProbe(page);
    const stats1 = await ingestStats(platform);
    const accepted1 = stats1?.acceptedTotal ?? accepted0;
    // Why the load might not flow: a process gone, a backlog, a health condition of the platform.
    const problems = [
      ...(['broker', 'api'] as const)
        .filter((n) => platform[n].child.exitCode !== null || platform[n].child.signalCode !== null)
        .map((n) => `${n} exited`),
      ...(loader.hasExited() ? ['load generator exited'] : []),
      ...(loaderStats && loaderStats.closedByBroker > 0
        ? [
            `${loaderStats.closedByBroker} of ${args.connections} load connections closed by the broker so far`,
          ]
        : []),
      ...(loaderStats && loaderStats.skipped > skipped0
        ? [`${loaderStats.skipped - skipped0} readings due not sent (in-flight window full)`]
        : []),
      ...(stats1 ? stats1.healthConditions.map((c) => c.code) : ['ingest stats unanswered']),
      ...(stats1 && spoolBacklog(stats1) > rate ? [`spool backlog ${spoolBacklog(stats1)}`] : []),
    ];
    if (problems.length > 0) console.log(`  problems: ${problems.join(', ')}`);
    skipped0 = loaderStats?.skipped ?? skipped0;
    const wall = (metrics1['Timestamp'] ?? 0) - (metrics0['Timestamp'] ?? 0);
    const elapsed = (performance.now() - cpu0.at) / 1000;
    const procs1 = processes();
    const machine1 = machineCpuTicks();
    const cpu: Record<string, number> = {
      renderer: cpuShare(cpu0.renderer, cpuSecondsOf(procs1.renderer), elapsed),
      chromium: cpuShare(cpu0.chromium, cpuSecondsOf(procs1.chromium), elapsed),
    };
    for (const [name, pid] of Object.entries(namedPids())) {
      const before = cpu0.named[name];
      const now = pid === undefined ? undefined : processCpuSeconds(pid);
      if (before !== undefined && now !== undefined) cpu[name] = round(((now - before) / elapsed) * 100, 1);
    }
    const totalTicks = machine1.total - cpu0.machine.total;
    cpu['machine'] = totalTicks > 0 ? round(((machine1.busy - cpu0.machine.busy) / totalTicks) * 100, 1) : 0;
    // Forced GCs run on the main thread too: their tasks are reported apart.
    const overlapsGc = ([start, duration]: [number, number]): boolean =>
      gcWindows.some(([a, b]) => start < b + 50 && start + duration > a - 50);
    const steadyTasks = probe1.tasks.filter((t) => !overlapsGc(t));
    for (const t of probe1.tasks) if (overlapsGc(t)) forcedGcTasks.push(t[1]);

    // Heap after a full GC, between windows (not inside the busy measurement).
    const gcStart = Date.now();
    await cdp.send('HeapProfiler.collectGarbage');
    const heap = (await cdp.send('Runtime.getHeapUsage')) as { usedSize: number; totalSize: number };
    gcWindows.push([gcStart, Date.now()]);

    const sample: Sample = {
      t: round((performance.now() - steadyStart) / 1000, 0),
      wallSeconds: round(wall, 1),
      busyPercent: round(
        (((metrics1['TaskDuration'] ?? 0) - (metrics0['TaskDuration'] ?? 0)) / wall) * 100,
        1,
      ),
      scriptPercent: round(
        (((metrics1['ScriptDuration'] ?? 0) - (metrics0['ScriptDuration'] ?? 0)) / wall) * 100,
        1,
      ),
      longTasks: steadyTasks.length,
      over100: steadyTasks.filter(([, d]) => d > LONG_TASK_LIMIT_MS).length,
      longestTaskMs: round(Math.max(0, ...steadyTasks.map(([, d]) => d)), 0),
      readingsPerSecond: Math.round((probe1.readingFrames - probe0.readingFrames) / wall),
      acceptedPerSecond: Math.round((accepted1 - accepted0) / elapsed),
      heapUsedMb: round(heap.usedSize / 2 ** 20, 1),
      nodes: metrics1['Nodes'] ?? 0,
      listeners: metrics1['JSEventListeners'] ?? 0,
      cpu,
      problems,
    };
    samples.push(sample);
    console.log(
      table(header, [
        [
          sample.t,
          sample.busyPercent,
          sample.scriptPercent,
          sample.longTasks,
          sample.over100,
          sample.longestTaskMs,
          sample.readingsPerSecond,
          sample.acceptedPerSecond,
          sample.heapUsedMb,
          sample.nodes,
          cpu['renderer'] ?? Number.NaN,
          cpu['api'] ?? Number.NaN,
        ],
      ])
        .split('\n')
        .slice(2)
        .join('\n'),
    );
    // The next window starts after the GC.
    metrics0 = metricsOf(await cdp.send('Performance.getMetrics'));
    probe0 = probe1;
    accepted0 = (await acceptedTotal(platform)) ?? accepted1;
    procs = processes();
    cpu0 = {
      renderer: cpuSecondsOf(procs.renderer),
      chromium: cpuSecondsOf(procs.chromium),
      named: Object.fromEntries(
        Object.entries(namedPids()).map(([k, p]) => [k, p === undefined ? undefined : processCpuSeconds(p)]),
      ),
      machine: machineCpuTicks(),
      at: performance.now(),
    };
  }
  const rejected = ((await rejectedTotal(platform)) ?? rejected0) - rejected0;
  // The platform's warnings and errors (pino levels 40+), grouped by message: count, first time.
  const platformWarnings = (['broker', 'api'] as const).flatMap((name) => {
    const groups = new Map<string, { count: number; first: string }>();
    for (const line of platform[name].output().split('\n')) {
      // Warnings only; not the one about IOC_MQTT_AUTH=off, which this benchmark sets on purpose.
      if (!/"level":[4-6]\d/.test(line) || line.includes('IOC_MQTT_AUTH=off')) continue;
      let key = line.slice(0, 200);
      let time = '';
      try {
        const entry = JSON.parse(line) as {
          msg?: string;
          err?: unknown;
          time?: string;
          healthCondition?: string;
        };
        key = [
          entry.msg,
          entry.healthCondition,
          typeof entry.err === 'string' ? entry.err : JSON.stringify(entry.err),
        ]
          .filter((x) => x !== undefined)
          .join(': ')
          .slice(0, 200);
        time = entry.time ?? '';
      } catch {
        // not JSON: the line itself
      }
      const group = groups.get(key) ?? { count: 0, first: time };
      group.count++;
      groups.set(key, group);
    }
    return [...groups].map(([key, g]) => `${name}: ${key} (×${g.count}, first ${g.first})`);
  });

  const markersAtEnd = (await page.evaluate(
    "({ markers: document.querySelectorAll('.ioc-marker[data-device-id]').length, clusters: document.querySelectorAll('.ioc-cluster').length })",
  )) as { markers: number; clusters: number };

  // 7. Summary.
  const mean = (xs: number[]): number =>
    xs.length > 0 ? xs.reduce((a, b) => a + b, 0) / xs.length : Number.NaN;
  const heapSeries = samples.map((s) => ({ x: s.t / 60, y: s.heapUsedMb }));
  const heapAfterSkip = heapSeries.filter((p) => p.x >= heapSkipMinutes);
  const heapSlope = round(slope(heapAfterSkip), 3);
  const nodesSlope = round(
    slope(samples.filter((s) => s.t / 60 >= heapSkipMinutes).map((s) => ({ x: s.t / 60, y: s.nodes }))),
    1,
  );
  const heapVerdict =
    heapAfterSkip.length < 3
      ? `n/a (${heapAfterSkip.length} samples after ${heapSkipMinutes} min; need 3: run longer)`
      : heapSlope < flatMbPerMin
        ? `flat (slope ${heapSlope} MB/min < ${flatMbPerMin})`
        : `GROWING (slope ${heapSlope} MB/min ≥ ${flatMbPerMin})`;
  const over100 = samples.reduce((a, s) => a + s.over100, 0) + (trace?.over100 ?? 0);
  const longest = Math.max(0, ...samples.map((s) => s.longestTaskMs), trace?.longestMs ?? 0);
  const taskVerdict =
    samples.length === 0
      ? 'n/a (no sample)'
      : over100 === 0
        ? `PASS (longest ${longest} ms)`
        : `FAIL (${over100} tasks over ${LONG_TASK_LIMIT_MS} ms, longest ${longest} ms)`;
  const cpuMean = (name: string): number =>
    round(mean(samples.map((s) => s.cpu[name] ?? Number.NaN).filter(Number.isFinite)), 1);
  const busy = samples.map((s) => s.busyPercent);
  const summary = {
    bench: 'console',
    devices,
    rate,
    minutes,
    sampleSeconds,
    loggedInBy,
    rawSocket,
    viewport: VIEWPORT,
    consoleBuildMs: buildMs,
    firstPaint: paint,
    feed: { ...feed, readingsPerSecond: feedPerSecond },
    trace,
    steady: {
      samples: samples.length,
      busyPercentMean: round(mean(busy), 1),
      busyPercentMax: round(Math.max(...busy), 1),
      longTasks: samples.reduce((a, s) => a + s.longTasks, 0),
      over100,
      longestTaskMs: longest,
      forcedGcTasks: forcedGcTasks.length,
      forcedGcLongestMs: round(Math.max(0, ...forcedGcTasks), 0),
      readingsPerSecondPage: Math.round(mean(samples.map((s) => s.readingsPerSecond))),
      acceptedPerSecond: Math.round(mean(samples.map((s) => s.acceptedPerSecond))),
      rejected,
      markersAtEnd,
    },
    heap: {
      firstMb: samples[0]?.heapUsedMb ?? null,
      lastMb: samples[samples.length - 1]?.heapUsedMb ?? null,
      maxMb: samples.length > 0 ? Math.max(...samples.map((s) => s.heapUsedMb)) : null,
      slopeMbPerMin: Number.isFinite(heapSlope) ? heapSlope : null,
      thresholdMbPerMin: flatMbPerMin,
      skipMinutes: heapSkipMinutes,
      verdict: heapVerdict,
    },
    nodes: {
      first: samples[0]?.nodes ?? null,
      last: samples[samples.length - 1]?.nodes ?? null,
      slopePerMin: Number.isFinite(nodesSlope) ? nodesSlope : null,
    },
    cpu: Object.fromEntries(
      ['renderer', 'chromium', 'api', 'broker', 'loader', 'machine']
        .map((n) => [n, cpuMean(n)])
        .filter(([, v]) => Number.isFinite(v as number)),
    ),
    verdicts: { noTaskOver100ms: taskVerdict, heapFlat: heapVerdict },
    pageErrors,
    platformWarnings,
    samplesDetail: samples,
    machine,
    tree,
  };

  console.log('');
  console.log(
    table(
      ['figure', 'value'],
      [
        ['navigation → first contentful paint', paint.fcpMs === null ? '–' : `${paint.fcpMs} ms`],
        [
          'navigation → first marker/cluster',
          paint.firstMarkerMs === null ? '– (none appeared)' : `${paint.firstMarkerMs} ms`,
        ],
        ['navigation → ioc:map-ready', paint.mapReadyMs === null ? '– (no mark)' : `${paint.mapReadyMs} ms`],
        ['markers + clusters at end', `${markersAtEnd.markers} + ${markersAtEnd.clusters}`],
        [
          'main-thread busy (mean / max of windows)',
          `${summary.steady.busyPercentMean} % / ${summary.steady.busyPercentMax} %`,
        ],
        ['long tasks ≥ 50 ms / > 100 ms (steady)', `${summary.steady.longTasks} / ${over100}`],
        ['longest task (steady, trace incl.)', `${longest} ms`],
        [
          'forced-GC tasks (left out)',
          `${forcedGcTasks.length}, longest ${summary.steady.forcedGcLongestMs} ms`,
        ],
        [
          'trace window',
          trace
            ? `${trace.tasks} tasks in ${trace.seconds} s, longest ${trace.longestMs} ms, busy ${trace.busyPercent} %`
            : '–',
        ],
        [
          'readings reaching the page (CDP / page counter)',
          `${feedPerSecond} /s / ${summary.steady.readingsPerSecondPage} /s`,
        ],
        [
          'readings accepted by the platform',
          `${summary.steady.acceptedPerSecond} /s (offered ${rate}/s; rejected ${rejected})`,
        ],
        [
          'heap used after GC (first / last / max)',
          `${summary.heap.firstMb} / ${summary.heap.lastMb} / ${summary.heap.maxMb} MB`,
        ],
        [`heap slope after ${heapSkipMinutes} min`, Number.isFinite(heapSlope) ? `${heapSlope} MB/min` : '–'],
        ['DOM nodes (first / last)', `${summary.nodes.first ?? '–'} / ${summary.nodes.last ?? '–'}`],
        ['CPU renderer / all chromium (% of a core)', `${cpuMean('renderer')} / ${cpuMean('chromium')}`],
        ['CPU api / broker / loader', `${cpuMean('api')} / ${cpuMean('broker')} / ${cpuMean('loader')}`],
        ['machine busy (% of all cores)', `${cpuMean('machine')}`],
      ],
    ),
  );
  if (pageErrors.length > 0) console.log(`page errors: ${pageErrors.join(' | ')}`);
  if (platformWarnings.length > 0) console.log(`platform warnings:\n  ${platformWarnings.join('\n  ')}`);
  if (paint.firstMarkerMs === null)
    console.log(
      `NOTE: no .ioc-marker / .ioc-cluster appeared within ${markerTimeoutMs / 1000} s: the page has no map (yet?); its figures are not the console's.`,
    );
  if (summary.steady.acceptedPerSecond < rate * 0.9)
    console.log(
      `NOTE: the platform accepted ${summary.steady.acceptedPerSecond} readings/s of the ${rate}/s offered: the page got less than the load asked for (see problems / platform warnings above; a busy machine, a store that falls behind, the spool full — the broker then closes the load's connections, and the generator does not reconnect).`,
    );
  if (feedPerSecond < rate * 0.9 && feedSeconds > 0)
    console.log(`NOTE: the page received ${feedPerSecond} readings/s of the ${rate}/s offered.`);
  console.log(`verdict: no task over ${LONG_TASK_LIMIT_MS} ms in steady state → ${taskVerdict}`);
  console.log(`verdict: heap flat → ${heapVerdict}`);
  console.log(JSON.stringify(summary));
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});

/** The part of a CDP `Profiler.Profile` the summary reads (Chrome DevTools Protocol, Profiler domain). */
interface CpuProfile {
  nodes: Array<{
    id: number;
    callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  }>;
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

/**
 * The `limit` functions with the most self time in a CPU profile, as printable rows
 * (`ms  share  name  url:line:col`): each sample's time delta (µs) is charged to the node it hit.
 */
function topSelfTime(profile: CpuProfile, limit: number): string[] {
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  const byNode = new Map<number, number>();
  for (let i = 0; i < samples.length; i++) {
    // The delta before sample i+1 is the time spent in sample i (DevTools' own convention).
    const next = deltas[i + 1] ?? 0;
    byNode.set(samples[i]!, (byNode.get(samples[i]!) ?? 0) + next);
  }
  const byFunction = new Map<string, number>();
  const total = profile.endTime - profile.startTime;
  for (const node of profile.nodes) {
    const us = byNode.get(node.id);
    if (us === undefined) continue;
    const f = node.callFrame;
    const file = f.url.split('/').pop() ?? '';
    const key = `${f.functionName || '(anonymous)'}  ${file}:${f.lineNumber + 1}:${f.columnNumber + 1}`;
    byFunction.set(key, (byFunction.get(key) ?? 0) + us);
  }
  return [...byFunction.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, limit)
    .map(
      ([key, us]) =>
        `${(us / 1000).toFixed(1).padStart(8)} ms ${((us / total) * 100).toFixed(1).padStart(5)} %  ${key}`,
    );
}
