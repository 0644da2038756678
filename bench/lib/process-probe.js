// Instruments the platform's processes from outside their code. Node 20 refuses --cpu-prof in
// NODE_OPTIONS but allows --require, so a benchmark starts a service with
//   NODE_OPTIONS="--require <this file>"  BENCH_PROBE_DIR=<dir>  [BENCH_PROBE_CPU_PROFILE=1]
// and then creates <dir>/start, later <dir>/stop. Between the two, every such process
//   - measures its event-loop delay (perf_hooks.monitorEventLoopDelay, 2 ms resolution): how long
//     the loop was blocked — what a PUBACK or a live reading waits behind — written to
//     <dir>/<name>-<pid>.loop.json;
//   - with BENCH_PROBE_CPU_PROFILE=1, runs the V8 sampling profiler and writes
//     <dir>/<name>-<pid>.cpuprofile (Chrome DevTools format).
// A process that exits while probing writes its results too. (Files, not signals: NestJS's
// shutdown hooks treat SIGUSR2 as a shutdown signal.) Without BENCH_PROBE_DIR this does nothing.
'use strict';
const dir = process.env.BENCH_PROBE_DIR;
if (dir) {
  const fs = require('node:fs');
  const path = require('node:path');
  const { monitorEventLoopDelay } = require('node:perf_hooks');
  const entry = process.argv[1] || 'node';
  const match = /apps[/\\]([^/\\]+)[/\\]/.exec(entry);
  const name = match ? match[1] : path.basename(entry).replace(/\.[jt]s$/, '');
  const profileCpu = process.env.BENCH_PROBE_CPU_PROFILE === '1';
  const intervalUs = Number(process.env.BENCH_PROBE_CPU_INTERVAL_US || 500);
  const histogram = monitorEventLoopDelay({ resolution: 2 });
  let session;
  let running = false;
  let startedAt = 0;

  const start = () => {
    running = true;
    startedAt = Date.now();
    histogram.reset();
    histogram.enable();
    if (!profileCpu) return;
    const inspector = require('node:inspector');
    session = new inspector.Session();
    session.connect();
    session.post('Profiler.enable', () =>
      session.post('Profiler.setSamplingInterval', { interval: intervalUs }, () =>
        session.post('Profiler.start'),
      ),
    );
  };
  // An in-process inspector session answers synchronously, so this also works in 'exit'.
  const stop = () => {
    if (!running) return;
    running = false;
    histogram.disable();
    const ms = (ns) => Math.round(ns / 1e4) / 100;
    fs.writeFileSync(
      path.join(dir, `${name}-${process.pid}.loop.json`),
      JSON.stringify({
        name,
        pid: process.pid,
        seconds: (Date.now() - startedAt) / 1000,
        resolutionMs: 2,
        p50: ms(histogram.percentile(50)),
        p90: ms(histogram.percentile(90)),
        p99: ms(histogram.percentile(99)),
        max: ms(histogram.max),
        mean: ms(histogram.mean),
      }),
    );
    if (session) {
      session.post('Profiler.stop', (error, result) => {
        if (!error)
          fs.writeFileSync(
            path.join(dir, `${name}-${process.pid}.cpuprofile`),
            JSON.stringify(result.profile),
          );
      });
    }
  };
  let started = false;
  const poll = setInterval(() => {
    if (!started && fs.existsSync(path.join(dir, 'start'))) {
      started = true;
      start();
    } else if (started && running && fs.existsSync(path.join(dir, 'stop'))) {
      stop();
      clearInterval(poll);
    }
  }, 50);
  poll.unref();
  process.on('exit', stop);
}
