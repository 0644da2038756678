#!/usr/bin/env node
// `npm start`: the whole platform on one machine with embedded defaults — MQTT broker, API and a
// device simulator feeding it — as three processes, like a small deployment. Ctrl-C stops all.
const { spawn } = require('node:child_process');
const path = require('node:path');
const readline = require('node:readline');

const root = path.join(__dirname, '..');
const register = path.join(__dirname, 'register.js');
const env = { ...process.env };
const mqttPort = env.IOC_MQTT_PORT || '1883';
const httpPort = env.IOC_HTTP_PORT || '3000';
env.IOC_BROKER_URL ||= `mqtt://127.0.0.1:${mqttPort}`;
const simDevices = env.IOC_SIM_DEVICES || '300';
const simRate = env.IOC_SIM_RATE || '100';

const children = [];
let stopping = false;

function run(name, args, readyText) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-r', register, ...args], {
      cwd: root,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
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
      else if (!stopping) {
        console.error(`[${name}] exited (${code ?? signal}); stopping the platform`);
        stop(1);
      }
    });
  });
}

function stop(code) {
  if (stopping) return;
  stopping = true;
  for (const child of children) if (child.exitCode === null) child.kill('SIGTERM');
  const deadline = setTimeout(() => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    process.exit(code);
  }, 10_000);
  Promise.all(children.map((c) => (c.exitCode !== null ? null : new Promise((r) => c.once('exit', r))))).then(
    () => {
      clearTimeout(deadline);
      process.exit(code);
    },
  );
}

process.on('SIGINT', () => stop(0));
process.on('SIGTERM', () => stop(0));

(async () => {
  await run('broker', ['apps/broker/src/main.ts'], 'broker ready');
  await run('api', ['apps/api/src/main.ts'], 'API listening');
  await run('sim', [
    'devices-sim/src/cli.ts',
    '--broker',
    env.IOC_BROKER_URL,
    '--devices',
    simDevices,
    '--rate',
    simRate,
  ]);
  const http = `http://localhost:${httpPort}`;
  console.log(
    [
      '',
      'IOC platform running (embedded defaults; Ctrl-C stops everything):',
      `  MQTT broker       mqtt://localhost:${mqttPort}   (topics ioc/v1/{domain}/{deviceId}/telemetry|event|status)`,
      `  REST API          ${http}/api/v1/devices`,
      `  OpenAPI explorer  ${http}/api/docs`,
      `  Health            ${http}/health`,
      `  Ingest counters   ${http}/api/v1/ingest/stats`,
      `  Live readings     socket.io ${http}/live  (emit "subscribe" {domain|area|device})`,
      `  Simulator         ${simDevices} devices, ${simRate} messages/s in total`,
      `  Data              ${path.resolve(root, env.IOC_DATA_DIR || 'data')}`,
      '',
    ].join('\n'),
  );
})().catch((error) => {
  console.error(error.message);
  stop(1);
});
