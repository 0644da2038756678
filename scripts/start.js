#!/usr/bin/env node
// `npm start`: the whole platform on one machine with embedded defaults — MQTT broker, API and a
// device simulator feeding it — as three processes, like a small deployment. Ctrl-C stops all, in
// order: the simulator first (its devices go offline while the broker still runs), then the API,
// then the broker once it has flushed its spool to the store. A second Ctrl-C stops at once.
const { spawn } = require('node:child_process');
const { randomBytes } = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const readline = require('node:readline');

const root = path.join(__dirname, '..');
const register = path.join(__dirname, 'register.js');
const env = { ...process.env };
const mqttPort = env.IOC_MQTT_PORT || '1883';
const httpPort = env.IOC_HTTP_PORT || '3000';
env.IOC_BROKER_URL ||= `mqtt://127.0.0.1:${mqttPort}`;
const simDevices = env.IOC_SIM_DEVICES ?? '300';
const simRate = env.IOC_SIM_RATE || '100';
// A named scenario (devices-sim --list-scenarios) run by the simulator beside its normal feed.
const simScenario = env.IOC_SIM_SCENARIO || '';
const dataDir = path.resolve(root, env.IOC_DATA_DIR || 'data');
// The demo set-up: the broker issues a secret to every active device once and keeps them in this
// file (mode 0600), which the simulator logs in with. A deployment provisions devices instead.
env.IOC_DEMO_CREDENTIALS_FILE ||= path.join(dataDir, 'demo-device-credentials.json');
// The first admin's password: IOC_ADMIN_PASSWORD if set; otherwise one generated at the first
// start and kept in this file (mode 0600) so the banner can show it on every start. The API uses
// it only while no admin account exists; after a change of password the file is stale.
const adminPasswordFile = path.join(dataDir, 'demo-admin-password');
const adminUsername = env.IOC_ADMIN_USERNAME || 'admin';
if (!env.IOC_ADMIN_PASSWORD) {
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  if (!fs.existsSync(adminPasswordFile)) {
    fs.writeFileSync(adminPasswordFile, `${randomBytes(15).toString('base64url')}\n`, { mode: 0o600 });
  }
  env.IOC_ADMIN_PASSWORD = fs.readFileSync(adminPasswordFile, 'utf8').trim();
}

// The operators' console (apps/console), served by the API at `/`: built here when its build is
// missing or older than any of its sources, unless IOC_CONSOLE_DIR names another build (or `off`).
const consoleDist = path.join(root, 'dist', 'apps', 'console');
const CONSOLE_SOURCES = ['apps/console', 'libs/contracts/src', 'libs/aqi/src'];

/** The newest modification time (ms) of any file under `dirs` (relative to the repo root). */
function newestSourceMtime(dirs) {
  let newest = 0;
  for (const dir of dirs) {
    const absolute = path.join(root, dir);
    if (!fs.existsSync(absolute)) continue;
    for (const entry of fs.readdirSync(absolute, { recursive: true, withFileTypes: true })) {
      if (!entry.isFile()) continue;
      newest = Math.max(newest, fs.statSync(path.join(entry.parentPath ?? entry.path, entry.name)).mtimeMs);
    }
  }
  return newest;
}

/** Builds the console with Vite when dist/apps/console/index.html is missing or stale; resolves when done. */
function buildConsoleIfStale() {
  if (env.IOC_CONSOLE_DIR) return Promise.resolve();
  const consoleLibs = fs
    .readdirSync(path.join(root, 'libs'))
    .filter((name) => name.startsWith('console-'))
    .map((name) => `libs/${name}/src`);
  const index = path.join(consoleDist, 'index.html');
  const built = fs.existsSync(index) ? fs.statSync(index).mtimeMs : 0;
  if (built > newestSourceMtime([...CONSOLE_SOURCES, ...consoleLibs])) return Promise.resolve();
  console.log(`[console] building the operators' console into ${consoleDist} …`);
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      [
        path.join(root, 'node_modules', 'vite', 'bin', 'vite.js'),
        'build',
        '--config',
        'apps/console/vite.config.mjs',
      ],
      {
        cwd: root,
        env: { ...env, IOC_CONSOLE_BUILD_QUIET: 'true', IOC_CONSOLE_OUT_DIR: consoleDist },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    child.on('exit', (code) => {
      if (code === 0) console.log('[console] built');
      else
        console.error(
          `[console] build failed (exit ${code}); the API serves the previous build, or answers 503 at / without one:\n${output}`,
        );
      resolve();
    });
  });
}

const children = [];
let stopping = false;

// `mayFinish`: a clean exit (code 0) of this child is its job done, not a failure of the platform.
function run(name, args, readyText, mayFinish = false) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-r', register, ...args], {
      cwd: root,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
      // Its own process group: a terminal's Ctrl-C reaches this launcher only, which then stops
      // the children in order instead of all at once.
      detached: true,
    });
    child.name = name;
    children.push(child);
    let ready = readyText === undefined;
    if (ready) resolve(child);
    for (const stream of [child.stdout, child.stderr]) {
      readline.createInterface({ input: stream }).on('line', (line) => {
        process.stdout.write(`[${name}] ${line}\n`);
        if (!ready && line.includes(readyText)) {
          ready = true;
          resolve(child);
        }
      });
    }
    child.on('exit', (code, signal) => {
      if (!ready) reject(new Error(`${name} exited (${code ?? signal}) before it was ready`));
      else if (mayFinish && code === 0) console.log(`[${name}] finished`);
      else if (!stopping) {
        console.error(
          `[${name}] exited (${code ?? signal}); stopping the platform — run npm start again on the ` +
            `same data directory (${dataDir}) to recover: nothing acknowledged is lost`,
        );
        stop(1);
      }
    });
  });
}

const exited = (child) =>
  child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve()
    : new Promise((r) => child.once('exit', r));

function stop(code) {
  if (stopping) {
    // A second Ctrl-C: stop everything now.
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    process.exit(code || 1);
  }
  stopping = true;
  const deadline = setTimeout(() => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    process.exit(code || 1);
  }, 20_000);
  // Reverse start order: simulator, API, broker; each waits for the one before to exit.
  (async () => {
    for (const child of [...children].reverse()) {
      if (child.exitCode !== null || child.signalCode !== null) continue;
      console.log(`[${child.name}] stopping`);
      child.kill('SIGTERM');
      await exited(child);
    }
    clearTimeout(deadline);
    process.exit(code);
  })();
}

// Children in their own process groups must not outlive the launcher.
process.on('exit', () => {
  for (const child of children)
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});
process.on('SIGINT', () => stop(0));
process.on('SIGTERM', () => stop(0));

(async () => {
  await buildConsoleIfStale();
  await run('broker', ['apps/broker/src/main.ts'], 'broker ready');
  await run('api', ['apps/api/src/main.ts'], 'API listening');
  const simulate = simDevices !== '0';
  if (simulate || simScenario) {
    await run(
      'sim',
      [
        'devices-sim/src/cli.ts',
        '--broker',
        env.IOC_BROKER_URL,
        // With IOC_SIM_DEVICES=0 only the scenario runs, and the simulator exits when it ends.
        ...(simulate ? ['--devices', simDevices, '--rate', simRate] : []),
        ...(simScenario ? ['--scenario', simScenario] : []),
        // The scenario alone: nothing else feeds its devices.
        ...(simScenario && !simulate ? ['--exclusive'] : []),
        '--credentials',
        env.IOC_DEMO_CREDENTIALS_FILE,
        // A device an operator revoked or retired has no secret there any more: leave it out.
        '--skip-without-credentials',
      ],
      undefined,
      !simulate,
    );
  }
  const http = `http://localhost:${httpPort}`;
  const influx = env.IOC_STORAGE === 'influxdb';
  const storage = influx
    ? `InfluxDB ${env.IOC_INFLUX_URL || 'http://127.0.0.1:8086'} (database ${env.IOC_INFLUX_DB || 'ioc'}); spool in ${env.IOC_SPOOL_DIR || path.join(dataDir, 'spool')}`
    : `embedded SQLite in ${dataDir}`;
  console.log(
    [
      '',
      `IOC platform running (${influx ? 'InfluxDB store' : 'embedded defaults'}; Ctrl-C stops everything):`,
      `  MQTT broker       mqtt://localhost:${mqttPort}   (topics ioc/v1/{domain}/{deviceId}/telemetry|event|status)`,
      ...(env.IOC_MQTT_TLS_PORT ? [`  MQTT over TLS     mqtts://localhost:${env.IOC_MQTT_TLS_PORT}`] : []),
      ...(env.IOC_MQTT_WS_PORT ? [`  MQTT over WS      ws://localhost:${env.IOC_MQTT_WS_PORT}/mqtt`] : []),
      env.IOC_CONSOLE_DIR === 'off'
        ? '  Console           off (IOC_CONSOLE_DIR=off)'
        : `  Console           ${http}/   (operators' console: log in as ${adminUsername} / ${env.IOC_ADMIN_PASSWORD})`,
      `  REST API          ${http}/api/v1/devices   (log in first: see below)`,
      `  OpenAPI explorer  ${http}/api/docs`,
      `  Device status     ${http}/api/v1/devices/status`,
      `  Health            ${http}/health`,
      `  Ingest counters   ${http}/api/v1/ingest/stats`,
      `  Alerts            ${http}/api/v1/alerts   (rules: …/rules; fire some: IOC_SIM_SCENARIO=pollution-episode; docs/alerts.md)`,
      `  Live readings     socket.io ${http}/live  (emit "subscribe" {domain|area|device})`,
      simulate
        ? `  Simulator         ${simDevices} devices, ${simRate} messages/s in total`
        : '  Simulator         off (IOC_SIM_DEVICES=0): connect your own devices',
      ...(simScenario
        ? [`  Scenario          ${simScenario} (IOC_SIM_SCENARIO; its phases are logged as [sim] lines)`]
        : []),
      `  Data              ${storage}; registry ${env.IOC_DATABASE_URL ? 'in PostgreSQL' : `in ${path.join(dataDir, 'registry.sqlite')}`}`,
      '',
      'Devices log in to MQTT with username = device id, password = its secret:',
      `  demo secrets      ${env.IOC_DEMO_CREDENTIALS_FILE}  (every seeded device; mode 0600)`,
      `  e.g.              mosquitto_pub -p ${mqttPort} -u aq-tn-001 -P "$(node -p "require('${env.IOC_DEMO_CREDENTIALS_FILE}')['aq-tn-001']")" \\`,
      `                      -t ioc/v1/env/aq-tn-001/telemetry -m "{\\"ts\\":$(date +%s000),\\"metrics\\":{\\"pm25\\":12.5}}"`,
      `  new device        POST ${http}/api/v1/devices, then POST …/devices/{id}/credentials (secret shown once)`,
      '',
      'People log in to the API (roles viewer, operator, admin: README "People, sign-in and roles"):',
      `  first admin       ${adminUsername} / ${env.IOC_ADMIN_PASSWORD}` +
        (fs.existsSync(adminPasswordFile) && !process.env.IOC_ADMIN_PASSWORD
          ? `   (generated at the first start, kept in ${adminPasswordFile}; change it: POST /api/v1/auth/password)`
          : '   (IOC_ADMIN_PASSWORD, used when the first admin was created)'),
      `  e.g.              TOKEN=$(curl -s ${http}/api/v1/auth/login -H 'content-type: application/json' \\`,
      `                      -d '{"username":"${adminUsername}","password":"${env.IOC_ADMIN_PASSWORD}"}' | node -p 'JSON.parse(require("fs").readFileSync(0)).accessToken')`,
      `                    curl -H "Authorization: Bearer $TOKEN" ${http}/api/v1/devices/status`,
      '',
    ].join('\n'),
  );
})().catch((error) => {
  console.error(error.message);
  stop(1);
});
